// 15-minute mode: H3 cells coloured by walking minutes to one category, or by how many of the
// six categories are within 15 minutes; district and polycentre summaries beside them.
import { execute, getJSON } from './api.js';
import { t, category, formatNumber } from './i18n.js';
import { esc, notify, cssColour } from './notice.js';
import { hbars, shareColour, MINUTE_STOPS, gradientLegend } from './charts.js';
import { attributesTable, highlight, reportHtml } from './pick.js';
import { colourExpression } from './style.js';

export const CATEGORIES = ['education', 'healthcare', 'commerce', 'culture_sport', 'parks', 'transit'];
const CELLS = 'fifteen_cells';
const CELL_LAYER = `${CELLS}-fill`;

let summaries = null;
let wasVisible = false;

function cellColour(app) {
  const cat = app.state.cat;
  if (cat && CATEGORIES.includes(cat)) {
    return ['case', ['==', ['get', `min_${cat}`], null], '#b2bec3',
      ['interpolate', ['linear'], ['get', `min_${cat}`], ...MINUTE_STOPS.flat()]];
  }
  return colourExpression(app.entries.get(CELLS));
}

export function paintCells(app) {
  if (!app.map.getLayer(CELL_LAYER)) return false;
  app.map.setPaintProperty(CELL_LAYER, 'fill-color', cellColour(app));
  return true;
}

function legend(app) {
  const cat = app.state.cat;
  if (cat) return gradientLegend(MINUTE_STOPS, ' min');
  const entry = app.entries.get(CELLS);
  return `<div class="legend">${entry.legend.map((i) => `<span class="swatch" style="background:${esc(cssColour(i.color))}"></span><span>${esc(i.label)}</span>`).join('')}</div>`;
}

function summaryHtml(list, nameKey) {
  if (!list?.length) return '<p class="muted">—</p>';
  const rows = list.map((d) => ({ label: d[nameKey] ?? d.name ?? d.district ?? d.polycentre ?? '?', value: d.share_all_six != null ? d.share_all_six * 100 : null, colour: shareColour(d.share_all_six) }));
  return hbars(rows, { max: 100, unit: '%', width: 310, labelWidth: 110, format: (v) => formatNumber(v, 0) });
}

function categoryHtml(city) {
  if (!city) return '';
  const rows = CATEGORIES.map((c) => ({ label: category(c), value: city[`share_${c}`] != null ? city[`share_${c}`] * 100 : null, colour: shareColour(city[`share_${c}`]) }));
  return hbars(rows, { max: 100, unit: '%', width: 310, labelWidth: 110, format: (v) => formatNumber(v, 0) });
}

function render(app) {
  const cat = app.state.cat;
  const buttons = [`<button type="button" data-cat="" class="${cat ? '' : 'active'}">${esc(t('fifteen.count'))}</button>`,
    ...CATEGORIES.map((c) => `<button type="button" data-cat="${c}" class="${cat === c ? 'active' : ''}">${esc(category(c))}</button>`)];
  const city = summaries?.city;
  const side = app.side();
  side.innerHTML = `
    <div class="card" data-panel="fifteen">
      <h2>${esc(t('fifteen.title'))}</h2>
      <div class="muted">${esc(t('fifteen.colour'))}</div>
      <div class="seg" id="fifteen-cats">${buttons.join('')}</div>
      <div id="fifteen-legend">${legend(app)}</div>
      <p class="muted">${esc(t('fifteen.hint'))}</p>
      ${app.map.getLayer(CELL_LAYER) ? '' : `<p class="error-text">${esc(t('fifteen.nocells'))}</p>`}
    </div>
    <div id="fifteen-cell"></div>
    <div class="card"><h2>${esc(t('ind.city'))}</h2>
      ${city ? `<p>${esc(t('fifteen.allsix'))}: <b>${esc(formatNumber((city.share_all_six ?? NaN) * 100, 1))}%</b></p>${categoryHtml(city)}` : `<p class="muted">${esc(summaries?.error ?? t('ind.loading'))}</p>`}
    </div>
    <div class="card"><h2>${esc(t('fifteen.districts'))}</h2><div class="muted">${esc(t('fifteen.allsix'))}</div>${summaryHtml(summaries?.districts, 'district')}</div>
    <div class="card"><h2>${esc(t('fifteen.polycentres'))}</h2><div class="muted">${esc(t('fifteen.allsix'))}</div>${summaryHtml(summaries?.polycentres, 'polycentre')}</div>`;
  side.querySelector('#fifteen-cats').onclick = (event) => {
    if (event.target.dataset.cat === undefined) return;
    app.state.cat = event.target.dataset.cat || null;
    paintCells(app);
    app.saveView();
    render(app);
  };
}

async function loadSummaries(app) {
  try {
    summaries = await getJSON(app.catalog.endpoints.indicators);
  } catch (error) {
    summaries = { error: t('ind.unavailable', { error: error.message }) };
  }
}

export const fifteenMode = {
  name: 'fifteen',
  async enter(app) {
    app.hint(t('fifteen.hint'));
    wasVisible = app.isVisible(CELLS);
    if (app.entries.has(CELLS) && app.map.getLayer(CELL_LAYER)) {
      app.setLayerVisible(CELLS, true);
      paintCells(app);
    } else {
      notify(t('fifteen.nocells'), 'warn', { key: 'nocells' });
    }
    render(app);
    if (!summaries || summaries.error) {
      await loadSummaries(app);
      if (app.state.mode === 'fifteen') render(app);
    }
  },
  leave(app) {
    if (!wasVisible && app.map.getLayer(CELL_LAYER)) app.setLayerVisible(CELLS, false);
    app.state.cat = null;
    paintCells(app);
    highlight(app.map, null);
  },
  async click(app, event) {
    const box = document.getElementById('fifteen-cell');
    const cells = app.map.getLayer(CELL_LAYER) ? app.map.queryRenderedFeatures(event.point, { layers: [CELL_LAYER] }) : [];
    const cell = cells[0];
    if (cell) highlight(app.map, { type: 'Feature', geometry: cell.geometry, properties: {} });
    box.innerHTML = `<div class="card" data-card="cell"><h2>${esc(cell?.properties.h3 ?? `${event.lngLat.lng.toFixed(5)}, ${event.lngLat.lat.toFixed(5)}`)}<span class="kind">H3</span></h2>
      ${cell ? attributesTable(app.entries.get(CELLS), cell.properties) : ''}<div class="report muted">${esc(t('card.loading'))}</div></div>`;
    try {
      const report = await execute('fifteen-minute-report', { lon: event.lngLat.lng, lat: event.lngLat.lat });
      const el = box.querySelector('.report');
      if (el) { el.classList.remove('muted'); el.innerHTML = reportHtml(report); }
    } catch (error) {
      const el = box.querySelector('.report');
      if (el) el.innerHTML = `<p class="error-text">${esc(error.message)}</p>`;
    }
  },
  onLayersChanged() {},
};

export function invalidateSummaries() { summaries = null; }

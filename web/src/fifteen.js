// 15-minute mode: H3 cells coloured by walking minutes to one category, or by how many of the
// six categories are within 15 minutes; district and polycentre summaries beside them.
import { getJSON } from './api.js';
import { t, category, formatNumber, lang, districtName, word } from './i18n.js';
import { esc, notify } from './notice.js';
import { hbars, shareColour } from './charts.js';
import { highlight, openCellCard } from './pick.js';
import { colourExpression, minutesExpression, minuteClasses, layerLegend } from './style.js';

export const CATEGORIES = ['education', 'healthcare', 'commerce', 'culture_sport', 'parks', 'transit'];
const CELLS = 'fifteen_cells';
const CELL_LAYER = `${CELLS}-fill`;

let summaries = null;
let wasVisible = false;

function cellColour(app) {
  const cat = app.state.cat;
  if (cat && CATEGORIES.includes(cat)) return minutesExpression(app.entries.get(CELLS), cat);
  return colourExpression(app.entries.get(CELLS));
}

export function paintCells(app) {
  if (!app.map.getLayer(CELL_LAYER)) return false;
  app.map.setPaintProperty(CELL_LAYER, 'fill-color', cellColour(app));
  return true;
}

/** The minutes map's legend: one swatch per class with its edges, grey named. */
function minutesLegend(entry) {
  const { classes, beyond, last } = minuteClasses(entry);
  const row = (colour, label) => `<span class="swatch" data-colour="${esc(colour)}" style="background:${esc(colour)}"></span><span>${esc(label)}</span>`;
  const rows = classes.map((c) => row(c.color, t('legend.minutes', { from: formatNumber(c.from, 0), to: formatNumber(c.to, 0) })));
  rows.push(row(beyond, t('legend.beyond', { m: formatNumber(last, 0) })));
  return `<div class="legend" data-legend="minutes">${rows.join('')}</div>`;
}

function legend(app) {
  const entry = app.entries.get(CELLS);
  if (!entry) return '';
  if (app.state.cat) return minutesLegend(entry);
  return layerLegend(entry, { lang: lang(), fmt: formatNumber, t });
}

function summaryHtml(list, nameKey) {
  if (!list?.length) return '<p class="muted">—</p>';
  const rows = list.map((d) => ({ label: d.district != null ? districtName(d.district) : (d.polycentre != null ? word(d.polycentre) : (d[nameKey] ?? d.name ?? '?')), value: d.share_all_six != null ? d.share_all_six * 100 : null, colour: shareColour(d.share_all_six) }));
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
    // V5: one card per cell, its figures computed where the analysis computed them (pick.js)
    const cells = app.map.getLayer(CELL_LAYER) ? app.map.queryRenderedFeatures(event.point, { layers: [CELL_LAYER] }) : [];
    await openCellCard(app, document.getElementById('fifteen-cell'), cells[0], event.lngLat);
  },
  onLayersChanged() {},
};

export function invalidateSummaries() { summaries = null; }

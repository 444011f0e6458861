// Pick: a click on any feature opens a card with its attributes; a plot opens its full report.
import { execute, item } from './api.js';
import { t, layerTitle, formatNumber, localName, category } from './i18n.js';
import { esc } from './notice.js';

const SELECTION = 'selection';

const SELECTION_LAYERS = ['selection-fill', 'selection-line', 'selection-point'];

/**
 * The highlight of the picked feature, drawn over everything. Hidden while nothing is picked: a
 * visible draped layer above the 3D buildings makes MapLibre drape a second texture per terrain
 * tile and draw the terrain twice each frame.
 */
export function addSelectionLayers(map) {
  map.addSource(SELECTION, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'selection-fill', type: 'fill', source: SELECTION, layout: { visibility: 'none' }, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#00e5ff', 'fill-opacity': 0.25 } });
  map.addLayer({ id: 'selection-line', type: 'line', source: SELECTION, layout: { visibility: 'none' }, paint: { 'line-color': '#00a8c6', 'line-width': 3 } });
  map.addLayer({ id: 'selection-point', type: 'circle', source: SELECTION, layout: { visibility: 'none' }, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 9, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#00a8c6', 'circle-stroke-width': 3 } });
}

export function highlight(map, geojson) {
  map.getSource(SELECTION)?.setData(geojson ?? { type: 'FeatureCollection', features: [] });
  const shown = geojson ? 'visible' : 'none';
  for (const id of SELECTION_LAYERS) if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', shown);
}

/** The topmost twin feature under a point, with the catalog entry it belongs to. */
export function featureAt(app, point) {
  const layers = (app.map.getStyle()?.layers ?? [])
    .filter((l) => l.metadata?.twinLayer && app.map.getLayoutProperty(l.id, 'visibility') !== 'none')
    .map((l) => l.id);
  if (!layers.length) return null;
  const box = [[point.x - 3, point.y - 3], [point.x + 3, point.y + 3]];
  const hits = app.map.queryRenderedFeatures(box, { layers });
  for (const feature of hits) {
    const entry = app.entries.get(feature.layer.metadata?.twinLayer ?? feature.sourceLayer);
    if (entry) return { feature, entry };
  }
  return null;
}

function propertyMeta(entry, name) {
  return entry.properties.find((p) => p.name === name);
}

export function attributesTable(entry, properties) {
  const rows = [];
  const known = new Set();
  for (const meta of entry?.properties ?? []) {
    known.add(meta.name);
    if (!(meta.name in properties)) continue;
    rows.push([meta.title, properties[meta.name], meta.unit]);
  }
  for (const [name, value] of Object.entries(properties)) {
    if (known.has(name) || name === 'id' || typeof value === 'object') continue;
    rows.push([name.replace(/_/g, ' '), value, null]);
  }
  if (!rows.length) return `<p class="muted">${esc(t('card.noattrs'))}</p>`;
  return `<table class="attrs">${rows.map(([label, value, unit]) => `<tr><th>${esc(label)}</th><td>${esc(formatNumber(value, 2))}${unit && value != null ? ` ${esc(unit)}` : ''}</td></tr>`).join('')}</table>`;
}

function featureName(entry, props) {
  if (entry.name === 'districts') return localName(props);
  if (entry.name === 'plots') return props.cadastral_number ?? '';
  return props.name ?? props.cadastral_number ?? props.h3 ?? props.kind ?? '';
}

function featureId(feature) {
  return feature.properties?.id ?? feature.id;
}

const SECTION_TITLES = {
  plot: 'Plot', seismic: 'Seismic', utilities: 'Utilities (distance to the nearest line)',
  fifteen_minute: '15-minute city', parks: 'Parks', walkability: 'Walkability',
};

function label(key) {
  return key.replace(/_m$/, ' (m)').replace(/_/g, ' ');
}

function plain(value) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.length ? value.map(plain).join(', ') : '—';
  if (typeof value === 'object') {
    if (value.name || value.kind) return [value.name, value.kind && value.name !== value.kind ? `(${String(value.kind).replace(/_/g, ' ')})` : ''].filter(Boolean).join(' ');
    return Object.entries(value).map(([k, v]) => `${label(k)}: ${plain(v)}`).join('; ');
  }
  if (typeof value === 'string') return value.replace(/_/g, ' ');
  return formatNumber(value, 2);
}

function pillFor(key, value) {
  if (typeof value !== 'boolean') return esc(plain(value));
  const bad = /setback|needs/.test(key) ? value : !value;
  return `<span class="pill ${bad ? 'bad' : 'good'}">${esc(plain(value))}</span>`;
}

/** Minutes and the nearest place per 15-minute category, as one table. */
function accessTable(block) {
  const rows = Object.entries(block.minutes ?? {}).map(([cat, minutes]) => {
    const near = block.nearest?.[cat];
    const ok = minutes != null && minutes <= 15;
    return `<tr><th>${esc(category(cat))}</th><td><span class="pill ${ok ? 'good' : 'bad'}">${minutes == null ? '—' : `${esc(formatNumber(minutes, 1))} min`}</span> ${esc(near ? plain(near) : '')}</td></tr>`;
  });
  const summary = block.categories_15 != null ? `<p>${esc(t('fifteen.count'))}: <b>${esc(formatNumber(block.categories_15, 0))} / 6</b>${block.missing?.length ? ` · missing: ${block.missing.map((c) => `<span class="pill bad">${esc(category(c))}</span>`).join(' ')}` : ''}</p>` : '';
  return `${summary}<table class="attrs">${rows.join('')}</table>`;
}

function section(key, value) {
  if (value === null || value === undefined) return '';
  const title = SECTION_TITLES[key] ?? label(key);
  if (value.minutes && typeof value.minutes === 'object') {
    return `<h3>${esc(title)}</h3>${accessTable(value)}`;
  }
  const rows = Object.entries(value).filter(([k]) => !['id', 'mode'].includes(k))
    .map(([k, v]) => `<tr><th>${esc(label(k))}</th><td>${pillFor(k, v)}</td></tr>`);
  return `<h3>${esc(title)}</h3><table class="attrs">${rows.join('')}</table>`;
}

/** A process report (plot-report, fifteen-minute-report) as titled sections a planner reads. */
export function reportHtml(report) {
  const body = report ?? {};
  const flat = [];
  const sections = [];
  if (body.minutes && typeof body.minutes === 'object') sections.push(section('fifteen_minute', body));
  for (const [key, value] of Object.entries(body)) {
    if (['geometry', 'type', 'links', 'minutes', 'nearest', 'within_15', 'missing', 'lon', 'lat', 'plot_id'].includes(key)) continue;
    if (value && typeof value === 'object' && !Array.isArray(value)) sections.push(section(key, value));
    else flat.push(`<tr><th>${esc(label(key))}</th><td>${pillFor(key, value)}</td></tr>`);
  }
  return `${flat.length ? `<table class="attrs">${flat.join('')}</table>` : ''}${sections.join('')}`;
}

/** Open the card for a picked feature: attributes now, full item and report as they arrive. */
export async function openCard(app, feature, entry) {
  const props = { ...feature.properties };
  const id = featureId(feature);
  const side = app.side();
  side.innerHTML = `
    <div class="card" data-card="${esc(entry.name)}">
      <h2><span>${esc(featureName(entry, props) || layerTitle(entry))}</span><span class="kind">${esc(layerTitle(entry))}</span></h2>
      <div class="attributes">${attributesTable(entry, props)}</div>
    </div>
    ${entry.name === 'plots' ? `<div class="card" data-report="plot"><h2>${esc(t('card.report'))}</h2><div class="report muted">${esc(t('card.loading'))}</div></div>` : ''}`;
  highlight(app.map, { type: 'Feature', geometry: feature.geometry, properties: {} });
  if (id == null) return;
  const tasks = [];
  tasks.push(item(entry.name, id).then((full) => {
    if (!side.querySelector(`[data-card="${CSS.escape(entry.name)}"]`)) return;
    side.querySelector('.attributes').innerHTML = attributesTable(entry, full.properties ?? {});
    if (full.geometry) highlight(app.map, full);
  }).catch((error) => {
    // The tile's attributes are still shown; say why the full record is missing.
    side.querySelector('.attributes')?.insertAdjacentHTML('beforeend', `<p class="muted">${esc(error.message)}</p>`);
  }));
  if (entry.name === 'plots') {
    app.state.plot = String(id);
    app.saveView();
    tasks.push(execute('plot-report', { plot_id: Number(id) }).then((report) => {
      const el = side.querySelector('[data-report="plot"] .report');
      if (!el) return;
      el.classList.remove('muted');
      el.innerHTML = reportHtml(report);
    }).catch((error) => {
      const el = side.querySelector('[data-report="plot"] .report');
      if (el) el.innerHTML = `<p class="error-text">${esc(error.message)}</p>`;
    }));
  }
  await Promise.all(tasks);
}

export function propertyTitle(entry, name) {
  return propertyMeta(entry, name)?.title ?? name;
}

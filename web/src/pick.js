// Pick: a click on any feature opens a card with its attributes; a plot opens its full report.
import { execute, item, items } from './api.js';
import { t, layerTitle, formatNumber, localName, category, propertyTitle as titleOf, formatValue, unitLabel } from './i18n.js';
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
    // V3: titles, enumerated values and units in the viewer's language (the catalog's words)
    rows.push([titleOf(meta), formatValue(meta, properties[meta.name]), meta.unit ? unitLabel(meta) : null]);
  }
  for (const [name, value] of Object.entries(properties)) {
    if (known.has(name) || name === 'id' || typeof value === 'object') continue;
    rows.push([name.replace(/_/g, ' '), formatValue(null, value), null]);
  }
  if (!rows.length) return `<p class="muted">${esc(t('card.noattrs'))}</p>`;
  return `<table class="attrs">${rows.map(([label, value, unit]) => `<tr><th>${esc(label)}</th><td>${esc(value)}${unit && value !== '—' ? ` ${esc(unit)}` : ''}</td></tr>`).join('')}</table>`;
}

function featureName(entry, props) {
  if (entry.name === 'districts') return localName(props);
  if (entry.name === 'plots') return props.cadastral_number ?? '';
  return props.name ?? props.cadastral_number ?? props.h3 ?? props.kind ?? '';
}

// The attribute a card's title shows: not repeated in its table.
const TITLE_PROPERTY = { plots: 'cadastral_number' };

function untitled(entry, props) {
  const key = TITLE_PROPERTY[entry.name] ?? (props.name ? 'name' : null);
  if (!key) return props;
  const { [key]: _shown, ...rest } = props;
  return rest;
}

function featureId(feature) {
  return feature.properties?.id ?? feature.id;
}

// Sections and fields of the process reports (plot-report, fifteen-minute-report) in the
// planner's words (i18n `rep.*`), each with its unit; fields the card shows elsewhere or that
// only the engine needs are left out, so a card shows every figure once.
const SECTION_KEYS = ['plot', 'seismic', 'utilities', 'fifteen_minute', 'parks', 'walkability'];
const FIELD_UNITS = {
  fault_distance_m: 'm', water_m: 'm', sewer_m: 'm', heating_m: 'm', gas_m: 'm', power_m: 'm',
  lighting_m: 'm', park_walk_m: 'm', mean_block_m: 'm', intersection_density: 'perkm2',
};
const HIDDEN_FIELDS = new Set(['id', 'mode', 'snap_m', 'slope_aware', 'lon', 'lat', 'plot_id', 'all_six']);

function sectionTitle(key) {
  return SECTION_KEYS.includes(key) ? t(`rep.section.${key}`) : label(key);
}

function label(key) {
  const text = t(`rep.${key}`);
  return text === `rep.${key}` ? key.replace(/_m$/, '').replace(/_/g, ' ') : text;
}

/** A figure with its unit: metres, minutes, out of 100, per km². */
function withUnit(key, value) {
  const unit = FIELD_UNITS[key];
  if (typeof value !== 'number' || !unit) return plain(value);
  if (unit === 'm') return `${formatNumber(value, 0)} ${t('unit.m')}`;
  return `${formatNumber(value, 1)} ${t(`unit.${unit}`)}`;
}

function plain(value) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.length ? value.map(plain).join(', ') : '—';
  if (typeof value === 'object') {
    if (value.name || value.kind) return [value.name, value.kind && value.name !== value.kind ? `(${String(value.kind).replace(/_/g, ' ')})` : ''].filter(Boolean).join(' ');
    return Object.entries(value).map(([k, v]) => `${label(k)}: ${withUnit(k, v)}`).join('; ');
  }
  if (typeof value === 'string') return value.replace(/_/g, ' ');
  return formatNumber(value, 2);
}

function pillFor(key, value) {
  if (typeof value !== 'boolean') return esc(withUnit(key, value));
  const bad = /setback|needs/.test(key) ? value : !value;
  return `<span class="pill ${bad ? 'bad' : 'good'}">${esc(plain(value))}</span>`;
}

/** Minutes and the nearest place per 15-minute category, as one table. */
function accessTable(block) {
  const rows = Object.entries(block.minutes ?? {}).map(([cat, minutes]) => {
    const near = block.nearest?.[cat];
    const ok = minutes != null && minutes <= 15;
    return `<tr><th>${esc(category(cat))}</th><td><span class="pill ${ok ? 'good' : 'bad'}">${minutes == null ? esc(t('rep.beyond')) : `${esc(formatNumber(minutes, 1))} ${esc(t('unit.min'))}`}</span> ${esc(near ? plain(near) : '')}</td></tr>`;
  });
  const summary = block.categories_15 != null ? `<p>${esc(t('fifteen.count'))}: <b>${esc(formatNumber(block.categories_15, 0))} / 6</b>${block.missing?.length ? ` · ${esc(t('rep.missing'))}: ${block.missing.map((c) => `<span class="pill bad">${esc(category(c))}</span>`).join(' ')}` : ''}</p>` : '';
  return `${summary}<table class="attrs">${rows.join('')}</table>`;
}

function section(key, value) {
  if (value === null || value === undefined) return '';
  const title = sectionTitle(key);
  if (value.minutes && typeof value.minutes === 'object') {
    return `<h3>${esc(title)}</h3>${accessTable(value)}`;
  }
  const rows = Object.entries(value).filter(([k, v]) => !HIDDEN_FIELDS.has(k) && v !== null)
    .map(([k, v]) => `<tr><th>${esc(label(k))}</th><td>${pillFor(k, v)}</td></tr>`);
  return `<h3>${esc(title)}</h3><table class="attrs">${rows.join('')}</table>`;
}

/**
 * A process report (plot-report, fifteen-minute-report) as titled sections a planner reads.
 * `skip` names sections the card already shows (a plot's attributes: its `plot` section).
 */
export function reportHtml(report, { skip = [] } = {}) {
  const body = report ?? {};
  const flat = [];
  const sections = [];
  if (body.minutes && typeof body.minutes === 'object') sections.push(section('fifteen_minute', body));
  for (const [key, value] of Object.entries(body)) {
    if (['geometry', 'type', 'links', 'minutes', 'nearest', 'within_15', 'missing', 'categories_15', ...HIDDEN_FIELDS, ...skip].includes(key)) continue;
    // the fifteen-minute report names its walkability twice (score and walkability): once here
    if (key === 'score' && 'walkability' in body) continue;
    if (value && typeof value === 'object' && !Array.isArray(value)) sections.push(section(key, value));
    else if (value !== null) flat.push(`<tr><th>${esc(label(key))}</th><td>${pillFor(key, value)}</td></tr>`);
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
      <h2><span>${esc(featureName(entry, props) || layerTitle(entry))}</span><span class="kind">${esc(layerTitle(entry))}</span>${closeButton()}</h2>
      <div class="attributes">${attributesTable(entry, untitled(entry, props))}</div>
    </div>
    ${entry.name === 'plots' ? `<div class="card" data-report="plot"><h2>${esc(t('card.report'))}</h2><div class="report muted">${esc(t('card.loading'))}</div></div>` : ''}`;
  highlight(app.map, { type: 'Feature', geometry: feature.geometry, properties: {} });
  side.querySelector('[data-card-close]').onclick = () => closeCard(app, side);
  // a SensorThings Thing (a layer of sensors carries its `thing`): its observations as a chart
  // (sensorchart.js)
  const thing = entry.properties?.find((p) => p.name === 'thing' || p.name === 'thing_id');
  const sensor = thing ? props[thing.name] ?? null : null;
  // a place of rows by hour (a key section's scooters): its values over the slider's window
  const place = entry.time?.key && entry.time.values?.length ? props[entry.time.key] : null;
  const chart = sensor == null && place == null ? null : import('./sensorchart.js').then((m) => (sensor != null
    ? m.showSensorChart(app, sensor, side) : m.showPlaceChart(app, entry, props, side)));
  if (id == null) return chart;
  const tasks = [];
  tasks.push(item(entry.name, id).then((full) => {
    if (!side.querySelector(`[data-card="${CSS.escape(entry.name)}"]`)) return;
    side.querySelector('.attributes').innerHTML = attributesTable(entry, untitled(entry, full.properties ?? {}));
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
      el.innerHTML = reportHtml(report, { skip: ['plot'] });
    }).catch((error) => {
      const el = side.querySelector('[data-report="plot"] .report');
      if (el) el.innerHTML = `<p class="error-text">${esc(error.message)}</p>`;
    }));
  }
  if (chart) tasks.push(chart);
  await Promise.all(tasks);
}

function closeButton() {
  return `<button type="button" class="card-close" data-card-close title="${esc(t('card.close'))}" aria-label="${esc(t('card.close'))}">×</button>`;
}

/** Close a card: it, its report and the highlight go; the plot leaves the URL. */
export function closeCard(app, box) {
  box.innerHTML = '';
  highlight(app.map, null);
  if (app.state.plot) {
    app.state.plot = null;
    app.saveView();
  }
  if (box === app.side() && app.state.mode === 'explore') app.modes.explore.enter?.(app);
}

/**
 * The card of a 15-minute cell: its published figures (the report computed at the cell's
 * centre, where `twin analyse` computed them, so one value per figure) with the nearest place of
 * each category. A click anywhere else in the cell gives the same card.
 */
export async function openCellCard(app, box, cell, lngLat) {
  const entry = app.entries.get('fifteen_cells');
  const props = cell?.properties ?? {};
  let at = lngLat;
  if (cell) highlight(app.map, { type: 'Feature', geometry: cell.geometry, properties: {} });
  box.innerHTML = `<div class="card" data-card="cell"><h2><span>${esc(props.h3 ?? `${at.lng.toFixed(5)}, ${at.lat.toFixed(5)}`)}</span><span class="kind">${esc(entry ? layerTitle(entry) : 'H3')}</span>${closeButton()}</h2>
    <div class="cell-about"></div><div class="report muted">${esc(t('card.loading'))}</div></div>`;
  box.querySelector('[data-card-close]').onclick = () => closeCard(app, box);
  try {
    if (props.h3) {
      // the whole hexagon (a tile holds a clipped part): its corners' mean is its centre
      const full = await items('fifteen_cells', { h3: props.h3, limit: 1 });
      const cellProps = full.features?.[0]?.properties ?? {};
      const about = ['district', 'residents'].filter((k) => cellProps[k] != null)
        .map((k) => `<tr><th>${esc(propertyTitle(entry, k))}</th><td>${esc(formatNumber(cellProps[k], 0))}</td></tr>`);
      const aboutBox = box.querySelector('.cell-about');
      if (aboutBox && about.length) aboutBox.innerHTML = `<table class="attrs">${about.join('')}</table>`;
      const ring = full.features?.[0]?.geometry?.coordinates?.[0];
      if (ring?.length > 3) {
        const corners = ring.slice(0, -1);
        at = { lng: corners.reduce((s, c) => s + c[0], 0) / corners.length, lat: corners.reduce((s, c) => s + c[1], 0) / corners.length };
      }
    }
    const report = await execute('fifteen-minute-report', { lon: at.lng, lat: at.lat });
    const el = box.querySelector('.report');
    if (el) { el.classList.remove('muted'); el.innerHTML = reportHtml(report); }
  } catch (error) {
    const el = box.querySelector('.report');
    if (el) el.innerHTML = `<p class="error-text">${esc(error.message)}</p>`;
  }
}

export function propertyTitle(entry, name) {
  const meta = propertyMeta(entry, name);
  return meta ? titleOf(meta) : name;
}

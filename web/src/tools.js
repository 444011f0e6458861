// Everyday map tools: measure a distance or an area on the map (geodesic, on the WGS 84
// ellipsoid), and filter a layer by its attributes through the API (CQL2 text on
// /collections/{id}/items), with the matches counted, listed and exportable as CSV and GeoJSON.
// Both are modes (main.js): entering one clears the results of the mode before.
import { items } from './api.js';
import { t, layerTitle, formatNumber, localName, propertyTitle, unitLabel, valueLabel } from './i18n.js';
import { esc, notify } from './notice.js';
import { highlight, openCard } from './pick.js';

// -- measuring -------------------------------------------------------------------------------

// WGS 84
const A = 6378137;
const F = 1 / 298.257223563;
const B = A * (1 - F);
// The radius of the sphere with the ellipsoid's surface area (authalic): polygon areas on it
// are within 0.1% of the ellipsoid's at Almaty's latitude.
const AUTHALIC_R = 6371007.181;

/**
 * Metres between two [lon, lat] points along the ellipsoid (Vincenty's inverse formula; falls
 * back to the great circle for the nearly antipodal points where it does not converge).
 */
export function geodesicMetres(p, q) {
  const rad = Math.PI / 180;
  const L = (q[0] - p[0]) * rad;
  const U1 = Math.atan((1 - F) * Math.tan(p[1] * rad));
  const U2 = Math.atan((1 - F) * Math.tan(q[1] * rad));
  const sinU1 = Math.sin(U1); const cosU1 = Math.cos(U1);
  const sinU2 = Math.sin(U2); const cosU2 = Math.cos(U2);
  let lambda = L;
  for (let i = 0; i < 200; i += 1) {
    const sinL = Math.sin(lambda); const cosL = Math.cos(lambda);
    const sinSigma = Math.hypot(cosU2 * sinL, cosU1 * sinU2 - sinU1 * cosU2 * cosL);
    if (sinSigma === 0) return 0;
    const cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
    const sigma = Math.atan2(sinSigma, cosSigma);
    const sinAlpha = (cosU1 * cosU2 * sinL) / sinSigma;
    const cos2Alpha = 1 - sinAlpha * sinAlpha;
    const cos2SigmaM = cos2Alpha ? cosSigma - (2 * sinU1 * sinU2) / cos2Alpha : 0;
    const C = (F / 16) * cos2Alpha * (4 + F * (4 - 3 * cos2Alpha));
    const previous = lambda;
    lambda = L + (1 - C) * F * sinAlpha
      * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM ** 2)));
    if (Math.abs(lambda - previous) < 1e-12) {
      const u2 = (cos2Alpha * (A * A - B * B)) / (B * B);
      const k = u2 / 1024;
      const bigA = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
      const bigB = k * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
      const dSigma = bigB * sinSigma * (cos2SigmaM + (bigB / 4) * (cosSigma * (-1 + 2 * cos2SigmaM ** 2)
        - (bigB / 6) * cos2SigmaM * (-3 + 4 * sinSigma ** 2) * (-3 + 4 * cos2SigmaM ** 2)));
      return B * bigA * (sigma - dSigma);
    }
  }
  const h = Math.sin(((q[1] - p[1]) * rad) / 2) ** 2
    + Math.cos(p[1] * rad) * Math.cos(q[1] * rad) * Math.sin(L / 2) ** 2;
  return 2 * AUTHALIC_R * Math.asin(Math.sqrt(h));
}

/** The length of a line of [lon, lat] points in metres. */
export function lineMetres(points) {
  let total = 0;
  for (let i = 1; i < points.length; i += 1) total += geodesicMetres(points[i - 1], points[i]);
  return total;
}

/** The area of a ring of [lon, lat] points in m² (spherical excess on the authalic sphere). */
export function ringSquareMetres(points) {
  if (points.length < 3) return 0;
  const rad = Math.PI / 180;
  let sum = 0;
  for (let i = 0; i < points.length; i += 1) {
    const p = points[i];
    const q = points[(i + 1) % points.length];
    sum += (q[0] - p[0]) * rad * (2 + Math.sin(p[1] * rad) + Math.sin(q[1] * rad));
  }
  return Math.abs((sum * AUTHALIC_R * AUTHALIC_R) / 2);
}

/** A distance as a planner writes it: metres below a kilometre, km above. */
export function formatLength(metres) {
  if (metres < 1000) return `${formatNumber(Math.round(metres), 0)} ${t('unit.m')}`;
  return `${formatNumber(metres / 1000, metres < 10000 ? 2 : 1)} ${t('unit.km')}`;
}

/** An area: m² below a hectare, ha below a km², km² above. */
export function formatArea(m2) {
  if (m2 < 10000) return `${formatNumber(Math.round(m2), 0)} ${t('unit.m2')}`;
  if (m2 < 1e6) return `${formatNumber(m2 / 10000, 2)} ${t('unit.ha')}`;
  return `${formatNumber(m2 / 1e6, 2)} ${t('unit.km2')}`;
}

const MEASURE = 'measure';
const measure = { kind: 'distance', points: [], done: false };

function ensureMeasureLayers(map) {
  if (map.getSource(MEASURE)) return;
  map.addSource(MEASURE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'measure-fill', type: 'fill', source: MEASURE, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#ff9f1c', 'fill-opacity': 0.25 } });
  map.addLayer({ id: 'measure-line', type: 'line', source: MEASURE, filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#e85d04', 'line-width': 2.5, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'measure-point', type: 'circle', source: MEASURE, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4.5, 'circle-color': '#fff', 'circle-stroke-color': '#e85d04', 'circle-stroke-width': 2 } });
}

function measureFeatures() {
  const pts = measure.points;
  const features = pts.map((p) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: p }, properties: {} }));
  if (measure.kind === 'area' && pts.length >= 3) {
    features.push({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [[...pts, pts[0]]] }, properties: {} });
  } else if (pts.length >= 2) {
    features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: pts }, properties: {} });
  }
  return { type: 'FeatureCollection', features };
}

/** What was measured: the figure in metres or m², and how it reads. */
export function measured() {
  if (measure.kind === 'area') {
    const m2 = ringSquareMetres(measure.points);
    const perimeter = measure.points.length >= 3 ? lineMetres([...measure.points, measure.points[0]]) : 0;
    return { value: m2, text: formatArea(m2), extra: perimeter ? `${t('measure.perimeter')}: ${formatLength(perimeter)}` : '' };
  }
  const metres = lineMetres(measure.points);
  return { value: metres, text: formatLength(metres), extra: '' };
}

function renderMeasure(app) {
  app.map.getSource(MEASURE)?.setData(measureFeatures());
  const result = measured();
  const needed = measure.kind === 'area' ? 3 : 2;
  const enough = measure.points.length >= needed;
  app.side().innerHTML = `
    <div class="card" data-panel="measure">
      <h2>${esc(t('measure.title'))}</h2>
      <div class="seg" id="measure-kind">
        <button type="button" data-kind="distance" class="${measure.kind === 'distance' ? 'active' : ''}">${esc(t('measure.distance'))}</button>
        <button type="button" data-kind="area" class="${measure.kind === 'area' ? 'active' : ''}">${esc(t('measure.area'))}</button>
      </div>
      <p class="muted">${esc(t(measure.kind === 'area' ? 'measure.hint.area' : 'measure.hint.distance'))}</p>
      <p class="measure-result" data-measure="${measure.kind}" data-value="${enough ? result.value.toFixed(3) : ''}" data-points="${esc(JSON.stringify(measure.points))}">
        ${enough ? `<b>${esc(result.text)}</b>${result.extra ? `<br><span class="muted">${esc(result.extra)}</span>` : ''}` : `<span class="muted">${esc(t('measure.points', { n: measure.points.length }))}</span>`}
      </p>
      <div class="row">
        <button type="button" class="secondary" data-measure-action="undo" ${measure.points.length ? '' : 'disabled'}>${esc(t('measure.undo'))}</button>
        <button type="button" class="secondary" data-measure-action="clear" ${measure.points.length ? '' : 'disabled'}>${esc(t('measure.clear'))}</button>
      </div>
      <p class="muted small">${esc(t('measure.geodesic'))}</p>
    </div>`;
  app.side().querySelector('[data-panel="measure"]').onclick = (event) => {
    const kind = event.target.dataset.kind;
    const action = event.target.dataset.measureAction;
    if (kind) { measure.kind = kind; measure.points = []; measure.done = false; }
    if (action === 'undo') { measure.points.pop(); measure.done = false; }
    if (action === 'clear') { measure.points = []; measure.done = false; }
    if (kind || action) renderMeasure(app);
  };
}

function addPoint(app, lngLat) {
  if (measure.done) { measure.points = []; measure.done = false; }
  const p = [lngLat.lng, lngLat.lat];
  const last = measure.points[measure.points.length - 1];
  // a double-click's two clicks land on one spot: one corner, not two
  if (!last || Math.abs(last[0] - p[0]) > 1e-9 || Math.abs(last[1] - p[1]) > 1e-9) measure.points.push(p);
  renderMeasure(app);
}

export const measureMode = {
  name: 'measure',
  enter(app) {
    ensureMeasureLayers(app.map);
    app.map.doubleClickZoom.disable();
    app.hint(t(measure.kind === 'area' ? 'measure.hint.area' : 'measure.hint.distance'));
    renderMeasure(app);
  },
  leave(app) {
    measure.points = [];
    measure.done = false;
    app.map.getSource(MEASURE)?.setData({ type: 'FeatureCollection', features: [] });
    app.map.doubleClickZoom.enable();
  },
  click(app, event) { addPoint(app, event.lngLat); },
  dblclick(app, event) {
    event.preventDefault?.();
    measure.done = true;
  },
};

// -- filtering by attribute ------------------------------------------------------------------

// How many matches the panel lists (the count is the API's numberMatched, over all of them);
// exports ask for up to the API's page limit.
const LIST_LIMIT = 50;
const EXPORT_LIMIT = 10000;
const OPERATORS = {
  string: ['=', '<>', 'like'],
  number: ['>', '>=', '<', '<=', '=', '<>'],
  integer: ['>', '>=', '<', '<=', '=', '<>'],
  date: ['>', '>=', '<', '<=', '='],
  boolean: ['='],
};

const filter = { layer: 'plots', rows: [], result: null, cql: '' };
let districtNames = null;

/** Layers a planner filters: those with attributes to filter on. */
function filterable(app) {
  return [...app.entries.values()].filter((e) => e.properties.some((p) => OPERATORS[p.type]));
}

function newRow(entry) {
  const prop = entry.properties.find((p) => OPERATORS[p.type]);
  return { prop: prop?.name, op: OPERATORS[prop?.type]?.[0] ?? '=', value: '', unit: '' };
}

function quote(text) { return `'${String(text).replace(/'/g, "''")}'`; }

/** One condition as CQL2 text, or null while it has no value. */
export function conditionCql(meta, row) {
  if (!meta || row.value === '' || row.value == null) return null;
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(meta.name) ? meta.name : `"${meta.name}"`;
  const op = OPERATORS[meta.type]?.includes(row.op) ? row.op : '=';
  if (meta.type === 'number' || meta.type === 'integer') {
    let value = Number(String(row.value).replace(',', '.'));
    if (!Number.isFinite(value)) return null;
    if (row.unit === 'ha') value *= 10000;
    return `${name} ${op} ${value}`;
  }
  if (meta.type === 'boolean') return `${name} = ${row.value === 'true' ? 'TRUE' : 'FALSE'}`;
  if (meta.type === 'date') return `${name} ${op} DATE(${quote(row.value)})`;
  if (op === 'like') return `${name} LIKE ${quote(`%${row.value}%`)}`;
  return `${name} ${op} ${quote(row.value)}`;
}

/** Every complete condition joined with AND. */
export function filterCql(entry, rows) {
  const parts = rows.map((row) => conditionCql(entry.properties.find((p) => p.name === row.prop), row)).filter(Boolean);
  return parts.join(' AND ');
}

function exportUrl(entry, cql, format) {
  const query = new URLSearchParams({ f: format, limit: String(EXPORT_LIMIT) });
  if (cql) { query.set('filter', cql); query.set('filter-lang', 'cql2-text'); }
  return `/collections/${encodeURIComponent(entry.name)}/items?${query}`;
}

/** A property as the catalog titles it in the page's language, with its unit (m², not m2). */
function propertyLabel(meta) {
  const unit = unitLabel(meta);
  return `${propertyTitle(meta)}${unit ? ` (${unit})` : ''}`;
}

function opLabel(op) {
  return { '=': '=', '<>': '≠', '>': '>', '>=': '≥', '<': '<', '<=': '≤', like: t('filter.contains') }[op];
}

function valueInput(meta, row, i) {
  const common = `data-row="${i}" data-field="value"`;
  if (meta.enum?.length) {
    return `<select ${common}><option value="">—</option>${meta.enum.map((v) => `<option value="${esc(v)}" ${String(row.value) === String(v) ? 'selected' : ''}>${esc(valueLabel(meta, v) ?? String(v).replace(/_/g, ' '))}</option>`).join('')}</select>`;
  }
  if (meta.type === 'boolean') {
    return `<select ${common}><option value="">—</option><option value="true" ${row.value === 'true' ? 'selected' : ''}>${esc(t('yes'))}</option><option value="false" ${row.value === 'false' ? 'selected' : ''}>${esc(t('no'))}</option></select>`;
  }
  if (meta.type === 'number' || meta.type === 'integer') {
    const unit = meta.unit === 'm2'
      ? `<select data-row="${i}" data-field="unit"><option value="" ${row.unit ? '' : 'selected'}>${esc(t('unit.m2'))}</option><option value="ha" ${row.unit === 'ha' ? 'selected' : ''}>${esc(t('unit.ha'))}</option></select>`
      : (meta.unit ? `<span class="muted">${esc(unitLabel(meta))}</span>` : '');
    return `<input type="number" step="any" ${common} value="${esc(row.value)}">${unit}`;
  }
  if (meta.type === 'date') return `<input type="date" ${common} value="${esc(row.value)}">`;
  const list = meta.name === 'district' && districtNames ? ' list="filter-districts"' : '';
  return `<input type="text" ${common} value="${esc(row.value)}"${list}>`;
}

function rowHtml(entry, row, i) {
  const usable = entry.properties.filter((p) => OPERATORS[p.type]);
  const meta = usable.find((p) => p.name === row.prop) ?? usable[0];
  return `<div class="filter-row" data-filter-row="${i}">
    <select data-row="${i}" data-field="prop" aria-label="${esc(t('filter.property'))}">${usable.map((p) => `<option value="${esc(p.name)}" ${p.name === meta.name ? 'selected' : ''}>${esc(propertyLabel(p))}</option>`).join('')}</select>
    <select data-row="${i}" data-field="op" aria-label="${esc(t('filter.operator'))}">${OPERATORS[meta.type].map((op) => `<option value="${esc(op)}" ${op === row.op ? 'selected' : ''}>${esc(opLabel(op))}</option>`).join('')}</select>
    ${valueInput(meta, row, i)}
    <button type="button" class="link" data-remove-row="${i}" title="${esc(t('filter.remove'))}" aria-label="${esc(t('filter.remove'))}">×</button>
  </div>`;
}

function featureLabel(entry, props) {
  if (entry.name === 'districts') return localName(props);
  return props.cadastral_number ?? props.name ?? props.h3 ?? props.kind ?? '';
}

/** A short line of a match: its two or three most telling attributes with units. */
function featureSummary(entry, props) {
  const wanted = entry.properties.filter((p) => !['cadastral_number', 'name', 'h3'].includes(p.name) && props[p.name] != null).slice(0, 3);
  return wanted.map((p) => {
    const word = valueLabel(p, props[p.name]);
    if (word) return word;
    const value = p.name === 'area_m2' && props[p.name] >= 10000 ? formatArea(props[p.name]) : `${formatNumber(props[p.name], 1)}${p.unit ? ` ${unitLabel(p)}` : ''}`;
    return String(props[p.name]).replace(/_/g, ' ') === value ? value.replace(/_/g, ' ') : value;
  }).join(' · ');
}

function resultHtml(entry) {
  const result = filter.result;
  if (!result) return '';
  if (result.error) return `<p class="error-text" data-error="filter">${esc(result.error)}</p>`;
  const matched = result.numberMatched ?? result.features.length;
  const rows = result.features.map((f, i) => `<li><button type="button" class="link" data-hit="${i}"><b>${esc(featureLabel(entry, f.properties ?? {}) || `#${f.id}`)}</b> <span class="muted">${esc(featureSummary(entry, f.properties ?? {}))}</span></button></li>`).join('');
  const more = matched > result.features.length ? `<p class="muted">${esc(t('filter.first', { n: result.features.length }))}</p>` : '';
  const capped = matched > EXPORT_LIMIT ? `<p class="muted">${esc(t('filter.exportcap', { n: formatNumber(EXPORT_LIMIT, 0) }))}</p>` : '';
  return `
    <p class="filter-count" data-count="${esc(matched)}"><b>${esc(t('filter.count', { n: formatNumber(matched, 0) }))}</b></p>
    ${matched ? `<div class="row">
      <a class="secondary" data-export="csv" href="${esc(exportUrl(entry, filter.cql, 'csv'))}" download="${esc(entry.name)}-filter.csv">CSV</a>
      <a class="secondary" data-export="geojson" href="${esc(exportUrl(entry, filter.cql, 'json'))}" download="${esc(entry.name)}-filter.geojson">GeoJSON</a>
    </div>${capped}` : ''}
    <ol class="filter-hits">${rows}</ol>${more}`;
}

function renderFilter(app) {
  const entry = app.entries.get(filter.layer) ?? filterable(app)[0];
  filter.layer = entry.name;
  if (!filter.rows.length) filter.rows.push(newRow(entry));
  const cql = filterCql(entry, filter.rows);
  app.side().innerHTML = `
    <div class="card" data-panel="filter">
      <h2>${esc(t('filter.title'))}</h2>
      <label class="row">${esc(t('filter.layer'))}
        <select id="filter-layer">${filterable(app).map((e) => `<option value="${esc(e.name)}" ${e.name === entry.name ? 'selected' : ''}>${esc(layerTitle(e))}</option>`).join('')}</select>
      </label>
      <div id="filter-rows">${filter.rows.map((row, i) => rowHtml(entry, row, i)).join('')}</div>
      ${districtNames ? `<datalist id="filter-districts">${districtNames.map((n) => `<option value="${esc(n)}">`).join('')}</datalist>` : ''}
      <div class="row">
        <button type="button" class="secondary" id="filter-add">${esc(t('filter.add'))}</button>
        <button type="button" class="primary" id="filter-run">${esc(t('filter.run'))}</button>
      </div>
      <p class="muted small">${esc(t('filter.example'))} <button type="button" class="link" id="filter-example">${esc(t('filter.example.text'))}</button></p>
      <code class="cql" id="filter-cql" title="CQL2">${esc(cql || t('filter.all'))}</code>
      <div id="filter-result">${resultHtml(entry)}</div>
    </div>`;
  wireFilter(app, entry);
}

function wireFilter(app, entry) {
  const card = app.side().querySelector('[data-panel="filter"]');
  card.querySelector('#filter-layer').onchange = (event) => {
    filter.layer = event.target.value;
    filter.rows = [];
    filter.result = null;
    highlight(app.map, null);
    renderFilter(app);
  };
  card.onchange = (event) => {
    const i = event.target.dataset.row;
    const field = event.target.dataset.field;
    if (i === undefined || !field) return;
    const row = filter.rows[Number(i)];
    row[field] = event.target.value;
    if (field === 'prop') {
      const meta = entry.properties.find((p) => p.name === row.prop);
      row.op = OPERATORS[meta.type][0];
      row.value = '';
      row.unit = '';
      renderFilter(app);
      return;
    }
    card.querySelector('#filter-cql').textContent = filterCql(entry, filter.rows) || t('filter.all');
  };
  card.oninput = (event) => {
    if (event.target.dataset.field !== 'value') return;
    filter.rows[Number(event.target.dataset.row)].value = event.target.value;
    card.querySelector('#filter-cql').textContent = filterCql(entry, filter.rows) || t('filter.all');
  };
  card.onclick = (event) => {
    const target = event.target.closest('button');
    if (!target) return;
    if (target.id === 'filter-add') { filter.rows.push(newRow(entry)); renderFilter(app); }
    if (target.dataset.removeRow !== undefined) {
      filter.rows.splice(Number(target.dataset.removeRow), 1);
      renderFilter(app);
    }
    if (target.id === 'filter-example') exampleFilter(app);
    if (target.id === 'filter-run') runFilter(app);
    if (target.dataset.hit !== undefined) showHit(app, entry, filter.result.features[Number(target.dataset.hit)]);
  };
  card.onkeydown = (event) => {
    if (event.key === 'Enter' && event.target.matches('input')) { event.preventDefault(); runFilter(app); }
  };
}

/** "Vacant plots over 1 ha in Nauryzbay": the question the tool was made for, one click away. */
function exampleFilter(app) {
  filter.layer = 'plots';
  filter.rows = [
    { prop: 'land_use', op: '=', value: 'vacant', unit: '' },
    { prop: 'area_m2', op: '>', value: '1', unit: 'ha' },
    { prop: 'district', op: '=', value: 'Nauryzbay', unit: '' },
  ];
  filter.result = null;
  renderFilter(app);
  return runFilter(app);
}

function bboxOf(geometry) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return box;
}

function showHit(app, entry, feature) {
  if (!feature?.geometry) return;
  const [w, s, e, n] = bboxOf(feature.geometry);
  app.map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 17, duration: 600 });
  const side = app.side();
  const box = document.createElement('div');
  side.querySelector('#filter-card')?.remove();
  box.id = 'filter-card';
  side.append(box);
  openCard({ ...app, side: () => box }, feature, entry).catch((error) => notify(error.message, 'warn'));
}

/** Ask the API for the matches: the count (numberMatched) and the first page, drawn on the map. */
export async function runFilter(app) {
  const entry = app.entries.get(filter.layer);
  const cql = filterCql(entry, filter.rows);
  filter.cql = cql;
  const params = { limit: String(LIST_LIMIT) };
  if (cql) { params.filter = cql; params['filter-lang'] = 'cql2-text'; }
  const box = app.side().querySelector('#filter-result');
  if (box) box.innerHTML = `<p class="muted">${esc(t('card.loading'))}</p>`;
  try {
    const page = await items(entry.name, params);
    filter.result = { numberMatched: page.numberMatched, features: page.features ?? [] };
    if (!app.isVisible(entry.name)) app.setLayerVisible(entry.name, true);
    highlight(app.map, filter.result.features.length ? { type: 'FeatureCollection', features: filter.result.features.filter((f) => f.geometry) } : null);
  } catch (error) {
    filter.result = { error: error.message };
  }
  if (app.state.mode === 'filter') renderFilter(app);
}

async function loadDistricts(app) {
  if (districtNames) return;
  try {
    const page = await items('districts', { limit: 100 });
    districtNames = (page.features ?? []).map((f) => f.properties?.name).filter(Boolean).sort();
    if (app.state.mode === 'filter') renderFilter(app);
  } catch {
    districtNames = [];
  }
}

export const filterMode = {
  name: 'filter',
  enter(app) {
    app.hint(t('filter.hint'));
    renderFilter(app);
    loadDistricts(app);
  },
  leave(app) {
    filter.result = null;
    highlight(app.map, null);
  },
};

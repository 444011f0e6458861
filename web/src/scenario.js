// Scenario mode: place a school, clinic, shop or park (or draw a park) and see the recomputed
// indicators beside the current ones, with the changed H3 cells on a swipe (current | scenario).
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { execute } from './api.js';
import { t, formatNumber } from './i18n.js';
import { esc, notify } from './notice.js';
import { hbars } from './charts.js';

const TOOLS = {
  school: { category: 'education', kind: 'school', colour: '#0984e3' },
  clinic: { category: 'healthcare', kind: 'clinic', colour: '#d63031' },
  shop: { category: 'commerce', kind: 'supermarket', colour: '#e17055' },
  park: { kind: 'park', colour: '#00b894' },
  drawpark: { kind: 'park', colour: '#00b894' },
};
const CELLS = 'scenario-cells';
const PLACED = 'scenario-placed';
const DRAFT = 'scenario-draft';
const CELL_COLOURS = ['#d63031', '#e17055', '#fdcb6e', '#ffeaa7', '#81ecec', '#55efc4', '#00b894'];

const state = { tool: 'school', placed: [], draft: [], markers: [], result: null, swipeX: 0.5, running: false };
let nextId = 1;

function empty() { return { type: 'FeatureCollection', features: [] }; }

function ensureLayers(map) {
  if (map.getSource(CELLS)) return;
  map.addSource(CELLS, { type: 'geojson', data: empty(), promoteId: 'cell_key' });
  map.addSource(PLACED, { type: 'geojson', data: empty() });
  map.addSource(DRAFT, { type: 'geojson', data: empty() });
  const ramp = (prop) => ['case', ['==', ['get', prop], null], '#b2bec3',
    ['interpolate', ['linear'], ['get', prop], 0, CELL_COLOURS[0], 1, CELL_COLOURS[1], 2, CELL_COLOURS[2], 3, CELL_COLOURS[3], 4, CELL_COLOURS[4], 5, CELL_COLOURS[5], 6, CELL_COLOURS[6]]];
  map.addLayer({ id: 'scenario-cells-fill', type: 'fill', source: CELLS, paint: {
    'fill-color': ['case', ['boolean', ['feature-state', 'left'], false], ramp('value_before'), ramp('value_after')],
    'fill-opacity': 0.75,
  } });
  map.addLayer({ id: 'scenario-cells-line', type: 'line', source: CELLS, paint: { 'line-color': '#17323a', 'line-width': 1 } });
  map.addLayer({ id: 'scenario-placed-fill', type: 'fill', source: PLACED, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#00b894', 'fill-opacity': 0.55 } });
  map.addLayer({ id: 'scenario-placed-line', type: 'line', source: PLACED, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': '#006b52', 'line-width': 2 } });
  map.addLayer({ id: 'scenario-draft-line', type: 'line', source: DRAFT, paint: { 'line-color': '#006b52', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'scenario-draft-point', type: 'circle', source: DRAFT, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#006b52' } });
}

/** A square park of about one hectare centred on a clicked point. */
function squarePark(lngLat, sideM = 100) {
  const dLat = sideM / 2 / 111320;
  const dLon = sideM / 2 / (111320 * Math.cos((lngLat.lat * Math.PI) / 180));
  const { lng, lat } = lngLat;
  return { type: 'Polygon', coordinates: [[[lng - dLon, lat - dLat], [lng + dLon, lat - dLat], [lng + dLon, lat + dLat], [lng - dLon, lat + dLat], [lng - dLon, lat - dLat]]] };
}

export function scenarioInputs(placed) {
  return {
    add: {
      type: 'FeatureCollection',
      features: placed.map((p) => ({ type: 'Feature', geometry: p.geometry, properties: p.properties })),
    },
  };
}

function refreshPlaced(map) {
  map.getSource(PLACED)?.setData({ type: 'FeatureCollection', features: state.placed.map((p) => ({ type: 'Feature', geometry: p.geometry, properties: p.properties })) });
  for (const m of state.markers) m.remove();
  state.markers = state.placed.filter((p) => p.geometry.type === 'Point').map((p) => {
    const el = document.createElement('div');
    el.className = 'marker-dot';
    el.style.background = TOOLS[p.tool].colour;
    el.title = p.properties.kind;
    return new maplibregl.Marker({ element: el }).setLngLat(p.geometry.coordinates).addTo(map);
  });
}

function refreshDraft(map) {
  const pts = state.draft;
  const features = pts.map((c) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: {} }));
  if (pts.length > 1) features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: [...pts, pts[0]] }, properties: {} });
  map.getSource(DRAFT)?.setData({ type: 'FeatureCollection', features });
}

function place(app, tool, geometry) {
  const spec = TOOLS[tool];
  const properties = spec.category ? { category: spec.category, kind: spec.kind, name: `New ${tool}` } : { kind: spec.kind, name: 'New park', status: 'planned' };
  state.placed.push({ id: nextId++, tool, geometry, properties });
  refreshPlaced(app.map);
  render(app);
}

function finishDraft(app) {
  if (state.draft.length < 3) {
    notify('A park needs at least three corners: click the map to add them.', 'warn', { key: 'draft' });
    return;
  }
  place(app, 'drawpark', { type: 'Polygon', coordinates: [[...state.draft, state.draft[0]]] });
  state.draft = [];
  refreshDraft(app.map);
}

// ---- results --------------------------------------------------------------------------------

const METRICS = [
  ['share_all_six', 'Residents with all six within 15 min', 'share'],
  ['share_education', 'Education within 15 min', 'share'],
  ['share_healthcare', 'Healthcare within 15 min', 'share'],
  ['share_commerce', 'Commerce within 15 min', 'share'],
  ['share_culture_sport', 'Culture and sport within 15 min', 'share'],
  ['share_parks', 'Park within 15 min', 'share'],
  ['share_transit', 'Transit within 15 min', 'share'],
  ['mean_categories', 'Mean categories within 15 min', 'number'],
  ['share_park_300', 'Park within 300 m', 'share'],
  ['share_park_500', 'Park within 500 m', 'share'],
  ['green_m2_per_resident', 'Public green per resident (m²)', 'number'],
  ['walkability', 'Walkability', 'number'],
];

/** Whatever shape the scenario process answers in, as {city:{before,after,delta}, districts, cells}. */
export function normaliseResult(result) {
  const pick = (obj) => {
    if (!obj) return null;
    if (obj.before || obj.after) {
      const before = obj.before ?? {};
      const after = obj.after ?? {};
      const delta = obj.delta ?? Object.fromEntries(Object.keys(after).filter((k) => typeof after[k] === 'number' && typeof before[k] === 'number').map((k) => [k, after[k] - before[k]]));
      return { before, after, delta };
    }
    return null;
  };
  let city = pick(result.city);
  let districts = (Array.isArray(result.districts) ? result.districts : []).map((d) => ({ name: d.district ?? d.name, ...pick(d) }));
  if (!city && result.before && result.after) {
    city = pick({ before: result.before.city, after: result.after.city, delta: result.delta?.city });
    const names = (result.after.districts ?? []).map((d) => d.district ?? d.name);
    districts = names.map((n, i) => ({ name: n, ...pick({ before: (result.before.districts ?? [])[i], after: result.after.districts[i] }) }));
  }
  const rawCells = result.changed_cells ?? result.cells ?? result.changed ?? empty();
  const cells = Array.isArray(rawCells) ? { type: 'FeatureCollection', features: rawCells } : rawCells;
  return { city, districts, cells };
}

function cellValue(props, when) {
  const candidates = [`categories_15_${when}`, `${when}_categories_15`, `categories_${when}`];
  for (const key of candidates) if (typeof props[key] === 'number') return props[key];
  let nested = props[when];
  if (typeof nested === 'string') { try { nested = JSON.parse(nested); } catch { nested = null; } }
  if (nested && typeof nested === 'object') return nested.categories_15 ?? nested.categories ?? null;
  return null;
}

function prepareCells(cells) {
  return {
    type: 'FeatureCollection',
    features: (cells.features ?? []).filter((f) => f.geometry).map((f, i) => ({
      type: 'Feature', geometry: f.geometry,
      properties: { ...f.properties, cell_key: f.properties?.h3 ?? String(i), value_before: cellValue(f.properties ?? {}, 'before'), value_after: cellValue(f.properties ?? {}, 'after') },
    })),
  };
}

function fmt(value, kind) {
  if (value == null || !Number.isFinite(value)) return '—';
  return kind === 'share' ? `${formatNumber(value * 100, 1)}%` : formatNumber(value, 2);
}

function comparisonTable(block) {
  if (!block) return `<p class="muted">—</p>`;
  const rows = METRICS.filter(([key]) => block.before[key] != null || block.after[key] != null).map(([key, label, kind]) => {
    const delta = block.delta[key] ?? (block.after[key] - block.before[key]);
    const cls = !delta ? '' : delta > 0 ? 'delta-up' : 'delta-down';
    const sign = delta > 0 ? '+' : '';
    return `<tr data-metric="${key}" data-delta="${Number.isFinite(delta) ? delta : ''}"><td>${esc(label)}</td><td>${esc(fmt(block.before[key], kind))}</td><td>${esc(fmt(block.after[key], kind))}</td><td class="${cls}">${delta ? esc(sign + fmt(delta, kind)) : '0'}</td></tr>`;
  });
  return `<table class="grid" data-compare="city"><thead><tr><th></th><th>${esc(t('scn.current'))}</th><th>${esc(t('scn.after'))}</th><th>${esc(t('scn.delta'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function districtChart(districts) {
  const changed = districts.filter((d) => d.delta && Object.values(d.delta).some((v) => typeof v === 'number' && Math.abs(v) > 1e-9));
  if (!changed.length) return '';
  const rows = changed.flatMap((d) => [
    { label: `${d.name} · ${t('scn.current')}`, value: (d.before.share_all_six ?? 0) * 100, colour: '#b2bec3' },
    { label: `${d.name} · ${t('scn.after')}`, value: (d.after.share_all_six ?? 0) * 100, colour: '#0a7f8c' },
  ]);
  return `<h3>${esc(t('fifteen.allsix'))}</h3>${hbars(rows, { max: 100, unit: '%', width: 310, labelWidth: 150, format: (v) => formatNumber(v, 1) })}`;
}

function resultHtml(result) {
  const norm = normaliseResult(result);
  const n = Number(norm.cells.features?.length) || 0;
  const anyChange = norm.city && Object.values(norm.city.delta).some((v) => typeof v === 'number' && Math.abs(v) > 1e-12);
  return `
    <h3>${esc(t('ind.city'))}</h3>
    ${comparisonTable(norm.city)}
    ${anyChange ? '' : `<p class="muted" data-empty="scenario">${esc(t('scn.nochange'))}</p>`}
    <p><span class="pill" data-cells="${n}">${esc(t('scn.cells', { n }))}</span> <span class="muted">${esc(t('scn.swipe'))}</span></p>
    ${districtChart(norm.districts)}`;
}

// ---- swipe: cells left of the line show the current state, right of it the scenario ---------

function updateSwipe(app) {
  const map = app.map;
  const source = map.getSource(CELLS);
  const line = document.getElementById('swipe');
  if (!source || !state.cellData?.features.length || app.state.mode !== 'scenario') { line.hidden = true; return; }
  line.hidden = false;
  const width = map.getContainer().clientWidth;
  const x = state.swipeX * width;
  line.style.left = `${x}px`;
  for (const f of state.cellData.features) {
    const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
    let lon = 0; let lat = 0;
    for (const [a, b] of ring) { lon += a; lat += b; }
    const p = map.project([lon / ring.length, lat / ring.length]);
    map.setFeatureState({ source: CELLS, id: f.properties.cell_key }, { left: p.x < x });
  }
}

function setupSwipe(app) {
  const line = document.getElementById('swipe');
  if (line.dataset.ready) return;
  line.dataset.ready = '1';
  const handle = line.querySelector('.handle');
  handle.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const move = (e) => {
      const rect = app.map.getContainer().getBoundingClientRect();
      state.swipeX = Math.max(0.02, Math.min(0.98, (e.clientX - rect.left) / rect.width));
      updateSwipe(app);
    };
    const up = () => { handle.removeEventListener('pointermove', move); handle.removeEventListener('pointerup', up); };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  });
  app.map.on('move', () => updateSwipe(app));
}

async function run(app) {
  if (!state.placed.length) {
    notify(t('scn.empty'), 'warn', { key: 'scenario-empty' });
    return;
  }
  state.running = true;
  render(app);
  try {
    const result = await execute('scenario', scenarioInputs(state.placed));
    state.result = result;
    state.cellData = prepareCells(normaliseResult(result).cells);
    app.map.getSource(CELLS).setData(state.cellData);
    state.error = null;
  } catch (error) {
    state.result = null;
    state.error = error.message;
  }
  state.running = false;
  if (app.state.mode === 'scenario') {
    render(app);
    app.map.once('idle', () => updateSwipe(app));
    updateSwipe(app);
  }
}

function render(app) {
  const tools = Object.keys(TOOLS).map((k) => `<button type="button" data-tool="${k}" class="${state.tool === k ? 'active' : ''}">${esc(t(`scn.${k}`))}</button>`).join('');
  const items = state.placed.map((p) => `<div class="scenario-item" data-placed="${p.id}"><span>${esc(t(`scn.${p.tool === 'drawpark' ? 'park' : p.tool}`))} · ${p.geometry.type === 'Point' ? p.geometry.coordinates.map((c) => c.toFixed(4)).join(', ') : 'polygon'}</span><button type="button" class="secondary" data-remove="${p.id}">×</button></div>`).join('');
  app.side().innerHTML = `
    <div class="card" data-panel="scenario">
      <h2>${esc(t('scn.title'))}</h2>
      <p class="muted">${esc(t('scn.hint'))}</p>
      <div class="seg" id="scn-tools">${tools}</div>
      ${state.tool === 'drawpark' ? `<div class="row"><button type="button" class="secondary" id="scn-finish">${esc(t('scn.finish'))}</button><span class="muted">${state.draft.length} pts</span></div>` : ''}
      <div id="scn-placed">${items || `<p class="muted">${esc(t('scn.empty'))}</p>`}</div>
      <div class="row">
        <button type="button" class="primary" id="scn-run" ${state.placed.length && !state.running ? '' : 'disabled'}>${esc(state.running ? t('scn.running') : t('scn.run'))}</button>
        <button type="button" class="secondary" id="scn-clear">${esc(t('scn.clear'))}</button>
      </div>
    </div>
    <div class="card" id="scn-result" ${state.result || state.error ? '' : 'hidden'}>
      ${state.error ? `<p class="error-text" data-error="scenario">${esc(state.error)}</p>` : state.result ? resultHtml(state.result) : ''}
    </div>`;
  const side = app.side();
  side.querySelector('#scn-tools').onclick = (event) => {
    if (!event.target.dataset.tool) return;
    state.tool = event.target.dataset.tool;
    state.draft = [];
    refreshDraft(app.map);
    render(app);
  };
  side.querySelector('#scn-run').onclick = () => run(app);
  side.querySelector('#scn-clear').onclick = () => {
    state.placed = []; state.draft = []; state.result = null; state.error = null; state.cellData = null;
    refreshPlaced(app.map); refreshDraft(app.map);
    app.map.getSource(CELLS)?.setData(empty());
    updateSwipe(app);
    render(app);
  };
  side.querySelector('#scn-finish')?.addEventListener('click', () => finishDraft(app));
  side.querySelector('#scn-placed').onclick = (event) => {
    const id = Number(event.target.dataset.remove);
    if (!id) return;
    state.placed = state.placed.filter((p) => p.id !== id);
    refreshPlaced(app.map);
    render(app);
  };
}

export const scenarioMode = {
  name: 'scenario',
  enter(app) {
    ensureLayers(app.map);
    setupSwipe(app);
    app.map.doubleClickZoom.disable();
    app.hint(t('scn.hint'));
    render(app);
    updateSwipe(app);
  },
  leave(app) {
    app.map.doubleClickZoom.enable();
    document.getElementById('swipe').hidden = true;
    for (const m of state.markers) m.remove();
    state.markers = [];
    state.draft = [];
    refreshDraft(app.map);
    app.map.getSource(PLACED)?.setData(empty());
    app.map.getSource(CELLS)?.setData(empty());
    state.placed = []; state.result = null; state.error = null; state.cellData = null;
  },
  click(app, event) {
    if (state.tool === 'drawpark') {
      state.draft.push([event.lngLat.lng, event.lngLat.lat]);
      refreshDraft(app.map);
      render(app);
      return;
    }
    const geometry = state.tool === 'park' ? squarePark(event.lngLat) : { type: 'Point', coordinates: [event.lngLat.lng, event.lngLat.lat] };
    place(app, state.tool, geometry);
  },
  dblclick(app, event) {
    if (state.tool !== 'drawpark') return;
    event.preventDefault();
    // The double-click's two clicks added the last corner twice.
    state.draft.pop();
    finishDraft(app);
  },
};

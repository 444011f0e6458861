// Plans mode: the planner's stored plans (GET/POST /plans, PATCH/DELETE /plans/{id}, copy,
// evaluate, compare, report). A plan is opened, its edits drawn and changed on the map, saved
// with If-Match; the server re-evaluates it and the panel shows the shares today → plan with the
// residents who gain and lose beside them, school and kindergarten places against the children,
// the polycentre standards, and the changed H3 cells (compared with today or another plan on a
// swipe, with a legend). The open plan lives in the URL (#plan=ID) and outlives mode switches.
import { ApiError } from './api.js';
import { t, lang, formatNumber, formatDate } from './i18n.js';
import { esc, notify } from './notice.js';
import {
  TOOLS, TOOL_GROUPS, ensureEditLayers, drawEdits, clearEdits, drawDraft, editAt,
  catalogFeatureAt, nextEditId, newEdit, finishShape, editForm, applyParam, editLabel,
  showHandles, clearHandles, warnDraw, routeAt,
} from './plandraw.js';

const CATEGORIES = ['education', 'healthcare', 'commerce', 'culture_sport', 'parks', 'transit'];
const KEY_STORE = 'twin.apiKey';
const USER_STORE = 'twin.planUser';
const POLL_MS = 1000;
const POLL_LIMIT_MS = 10 * 60 * 1000;
const CELLS = 'plan-cells';
// The difference in categories within 15 minutes, -3 (or fewer) … +3 (or more).
const DIFF_COLOURS = { '-3': '#b2182b', '-2': '#d6604d', '-1': '#f4a582', 0: '#dfe4ea', 1: '#92c5de', 2: '#4393c3', 3: '#2166ac' };
// The programme's standards of a polycentre (S2 §1.1): residents per hectare, block size,
// street density; a polycentre's own density target (target_density_pph) wins when it has one.
const POLY_STANDARDS = [
  ['density_pph', 'plan.poly.density', (v, target) => v >= target, 120, '≥ {x}'],
  ['mean_block_ha', 'plan.poly.block', (v) => v <= 5, 5, '≤ {x}'],
  ['street_density_km_km2', 'plan.poly.streets', (v) => v >= 10 && v <= 15, '10–15', '{x}'],
];
// The rows of the indicator table: key of the ROW, label, kind, key of the gains (if any).
const ROWS = [
  ['residents', 'plan.row.residents', 'int', null],
  ['share_all_six', 'fifteen.allsix', 'share', 'all_six'],
  ...CATEGORIES.map((c) => [`share_${c}`, `cat.${c}`, 'share', c]),
  ['mean_categories', 'fifteen.count', 'number', 'categories_15'],
  ['walkability', 'plan.row.walkability', 'number', null],
  ['share_park_300', 'plan.row.park300', 'share', null],
  ['share_park_500', 'plan.row.park500', 'share', null],
  ['green_m2_per_resident', 'plan.row.green', 'number', null],
  ['fault_residents', 'plan.row.fault', 'int', null],
];

const state = {
  key: sessionStorage.getItem(KEY_STORE) ?? '',
  user: sessionStorage.getItem(USER_STORE) ?? '',
  scope: 'all',
  list: null,
  listError: null,
  creating: false,
  plan: null,          // the plan document as the server last answered it
  etag: null,
  edits: [],           // the working copy of its edits (saved with PATCH)
  dirty: false,
  selected: null,
  tool: null,
  draft: [],
  moving: null,        // the amenity picked to move: {id, name}
  error: null,         // the last refusal: {message, edit}
  confirmDelete: false,
  share: false,
  busy: null,
  scopeArea: 'city',
  cells: [],           // the open plan's changed cells (features)
  against: null,       // compare: 'base' or a plan id; null = no comparison
  compare: null,       // {table, other, cells}
  swipeX: 0.5,
  polycentres: null,
  pollToken: 0,
};
let app = null;

// ---- talking to /plans ---------------------------------------------------------------------------

/** One request to the plans API: the key as X-API-Key; the answer's JSON and ETag. */
async function call(method, url, body, headers = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (state.key) sent['X-API-Key'] = state.key;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(t('err.network', { error: error.message }));
  }
  let json = null;
  try { json = response.status === 204 ? null : await response.json(); } catch { json = null; }
  if (!response.ok) {
    const description = json?.description ?? response.statusText ?? 'error';
    throw new ApiError(t('err.server', { status: response.status, description }), response.status, json);
  }
  return { json, etag: response.headers.get('ETag') };
}

function planUrl(id, rest = '') { return `/plans/${encodeURIComponent(id)}${rest}`; }

function writable() {
  if (!state.key || !state.plan) return false;
  // an admin's key may change any plan: the server decides (403 is shown if it refuses)
  return !state.user || state.plan.author === state.user || state.admin;
}

/** The key's user name, from the first of their plans (the list names authors, not readers). */
async function whoAmI() {
  try {
    const { json } = await call('GET', '/plans?mine=true&limit=1');
    if (json?.plans?.length) learnUser({ user: json.plans[0].author });
  } catch {
    /* a wrong key: the list's own request says so */
  }
}

function learnUser(json) {
  const user = json?.user ?? json?.reader;
  if (user && typeof user === 'string') {
    state.user = user;
    sessionStorage.setItem(USER_STORE, user);
  }
}

async function loadList() {
  const params = new URLSearchParams({ limit: '100' });
  if (state.scope === 'mine' && state.key) params.set('mine', 'true');
  try {
    const { json } = await call('GET', `/plans?${params}`);
    state.list = json?.plans ?? [];
    if (state.scope === 'mine' && state.list.length) learnUser({ user: state.list[0].author });
    if (state.key && !state.user && state.scope !== 'mine') await whoAmI();
    state.listError = null;
  } catch (error) {
    state.list = [];
    state.listError = error.message;
  }
  render();
}

/** Open a plan: its document, edits, evaluation and changed cells. */
async function openPlan(id, { keepEdits = false } = {}) {
  const token = ++state.pollToken;
  state.busy = t('plan.loading');
  render();
  try {
    const { json, etag } = await call('GET', planUrl(id));
    if (token !== state.pollToken) return;
    adopt(json, etag, keepEdits);
    app.state.plan = String(json.id);
    app.saveView();
    state.busy = null;
    render();
    await afterEvaluation(token);
  } catch (error) {
    state.busy = null;
    state.plan = null;
    app.state.plan = null;
    app.saveView();
    state.error = { message: error.message };
    render();
  }
}

function adopt(json, etag, keepEdits) {
  const switched = state.plan?.id !== json.id;
  state.plan = json;
  state.etag = etag ?? state.etag;
  if (!keepEdits || switched) {
    state.edits = structuredClone(json.edits?.features ?? []);
    state.dirty = false;
  }
  if (switched) {
    state.selected = null;
    state.against = null;
    state.compare = null;
    state.cells = [];
    state.confirmDelete = false;
    state.share = false;
    state.error = null;
    state.scopeArea = 'city';
  }
}

/** Wait for the server's evaluation (pending → evaluated | failed), then draw its cells. */
async function afterEvaluation(token) {
  const started = Date.now();
  while (state.plan?.status === 'pending' && token === state.pollToken) {
    if (Date.now() - started > POLL_LIMIT_MS) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (token !== state.pollToken) return;
    try {
      const { json, etag } = await call('GET', planUrl(state.plan.id));
      if (token !== state.pollToken) return;
      adopt(json, state.dirty ? state.etag : etag, true);
      if (!state.dirty) state.etag = etag;
    } catch (error) {
      state.error = { message: error.message };
      render();
      return;
    }
  }
  if (token !== state.pollToken) return;
  if (state.plan?.status === 'evaluated') await loadCells(token);
  render();
  if (state.against) await loadCompare(token);
}

async function pagedFeatures(url) {
  const features = [];
  if (!url) return features;
  let next = url;
  for (let page = 0; next && page < 50; page += 1) {
    const { json } = await call('GET', next);
    features.push(...(json?.features ?? []));
    next = (json?.links ?? []).find((l) => l.rel === 'next')?.href ?? null;
  }
  return features;
}

function cellsUrl(plan) {
  const href = plan.changed_cells?.items;
  if (href === null) return null;   // a private plan's cells are not published
  if (href) {
    const url = new URL(href, location.origin);
    url.searchParams.set('f', 'json');
    if (!url.searchParams.has('limit')) url.searchParams.set('limit', '10000');
    return `${url.pathname}${url.search}`;
  }
  return `/collections/plan_cells/items?${new URLSearchParams({ plan: String(plan.id), f: 'json', limit: '10000' })}`;
}

async function loadCells(token) {
  try {
    const features = await pagedFeatures(cellsUrl(state.plan));
    if (token !== state.pollToken) return;
    state.cells = features;
  } catch (error) {
    state.cells = [];
    notify(error.message, 'warn', { key: 'plan-cells' });
  }
  drawCells();
}

// ---- the changed cells, the swipe and the legend -----------------------------------------------

function cellDiff(props) {
  if (typeof props.delta === 'number') return props.delta;
  const a = props.categories_15_base;
  const b = props.categories_15_plan;
  return typeof a === 'number' && typeof b === 'number' ? b - a : 0;
}

function ensureCellLayers(map) {
  if (map.getSource(CELLS)) return;
  map.addSource(CELLS, { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, promoteId: 'cell_key' });
  const ramp = (prop) => ['step', ['coalesce', ['get', prop], 0], DIFF_COLOURS['-3'], -2, DIFF_COLOURS['-2'], -1, DIFF_COLOURS['-1'], 0, DIFF_COLOURS[0], 1, DIFF_COLOURS[1], 2, DIFF_COLOURS[2], 3, DIFF_COLOURS[3]];
  map.addLayer({ id: 'plan-cells-fill', type: 'fill', source: CELLS, paint: {
    'fill-color': ['case', ['boolean', ['feature-state', 'left'], false], ramp('value_left'), ramp('value_right')],
    'fill-opacity': 0.75,
  } });
  map.addLayer({ id: 'plan-cells-line', type: 'line', source: CELLS, paint: { 'line-color': '#17323a', 'line-width': 0.6 } });
}

/** Cells of the open plan (right) against today or the compared plan (left). */
function cellData() {
  const byCell = new Map();
  const put = (feature, side) => {
    const key = feature.properties?.h3 ?? feature.id;
    if (!feature.geometry || key == null) return;
    const row = byCell.get(key) ?? { type: 'Feature', geometry: feature.geometry, properties: { cell_key: String(key), h3: String(key), value_left: 0, value_right: 0 } };
    row.properties[side] = cellDiff(feature.properties ?? {});
    byCell.set(key, row);
  };
  for (const f of state.cells) put(f, 'value_right');
  if (state.compare?.cells) for (const f of state.compare.cells) put(f, 'value_left');
  return { type: 'FeatureCollection', features: [...byCell.values()] };
}

function drawCells() {
  if (!app?.map || app.state.mode !== 'plans') return;
  ensureCellLayers(app.map);
  state.cellData = cellData();
  app.map.getSource(CELLS)?.setData(state.cellData);
  updateSwipe();
  updateLegend();
}

/** The legend of the changed cells, on the map while they are drawn. */
function updateLegend() {
  const el = document.getElementById('plan-legend');
  if (!el) return;
  const on = app.state.mode === 'plans' && state.plan && state.cellData?.features.length;
  el.hidden = !on;
  el.innerHTML = on ? legendHtml() : '';
}

function updateSwipe() {
  const map = app.map;
  const line = document.getElementById('swipe');
  const labels = document.querySelectorAll('.compare-label[data-plan-side]');
  const on = app.state.mode === 'plans' && state.against && state.cellData?.features.length;
  line.hidden = !on;
  for (const el of labels) el.hidden = !on;
  if (!on) {
    for (const f of state.cellData?.features ?? []) map.setFeatureState({ source: CELLS, id: f.properties.cell_key }, { left: false });
    return;
  }
  const x = state.swipeX * map.getContainer().clientWidth;
  line.style.left = `${x}px`;
  for (const f of state.cellData.features) {
    const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
    let lon = 0; let lat = 0;
    for (const [a, b] of ring) { lon += a; lat += b; }
    const p = map.project([lon / ring.length, lat / ring.length]);
    map.setFeatureState({ source: CELLS, id: f.properties.cell_key }, { left: p.x < x });
  }
}

function setupSwipe() {
  const line = document.getElementById('swipe');
  if (line.dataset.plans) return;
  line.dataset.plans = '1';
  const handle = line.querySelector('.handle');
  handle.addEventListener('pointerdown', (event) => {
    if (app.state.mode !== 'plans') return;
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const move = (e) => {
      const rect = app.map.getContainer().getBoundingClientRect();
      state.swipeX = Math.max(0.02, Math.min(0.98, (e.clientX - rect.left) / rect.width));
      updateSwipe();
    };
    const up = () => { handle.removeEventListener('pointermove', move); handle.removeEventListener('pointerup', up); };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  });
  app.map.on('move', () => { if (app.state.mode === 'plans') updateSwipe(); });
  const wrap = document.getElementById('map-wrap');
  const legend = document.createElement('div');
  legend.id = 'plan-legend';
  legend.hidden = true;
  wrap.append(legend);
  for (const side of ['left', 'right']) {
    const el = document.createElement('div');
    el.className = `compare-label ${side}`;
    el.dataset.planSide = side;
    el.hidden = true;
    wrap.append(el);
  }
}

function sideName(id) {
  if (id === 'base' || id == null) return t('plan.today');
  const known = state.list?.find((p) => String(p.id) === String(id));
  return known ? known.title : `#${id}`;
}

function legendHtml() {
  const steps = ['-3', '-2', '-1', '0', '1', '2', '3'];
  const label = (s) => (s === '-3' ? '≤ −3' : s === '3' ? '≥ +3' : Number(s) > 0 ? `+${s}` : s.replace('-', '−'));
  const sides = state.against
    ? `<p class="muted" data-legend-sides>${esc(t('plan.legend.sides', { left: sideName(state.against), right: state.plan.title }))}</p>`
    : '';
  return `<div class="plan-legend" data-legend="plan-cells">
    <div class="legend-title">${esc(t('plan.legend.title'))}</div>
    <div class="plan-legend-steps">${steps.map((s) => `<span><i style="background:${DIFF_COLOURS[s]}"></i>${esc(label(s))}</span>`).join('')}</div>
    ${sides}
  </div>`;
}

// ---- compare ---------------------------------------------------------------------------------------

async function loadCompare(token = state.pollToken) {
  const against = state.against;
  if (!against || !state.plan) return;
  state.compare = { loading: true };
  render();
  try {
    const [table, cells] = await Promise.all([
      call('GET', `/plans/${encodeURIComponent(against)}/compare/${encodeURIComponent(state.plan.id)}`).then((r) => r.json),
      against === 'base' ? [] : call('GET', planUrl(against)).then((r) => pagedFeatures(cellsUrl(r.json))),
    ]);
    if (token !== state.pollToken || against !== state.against) return;
    state.compare = { table, cells };
  } catch (error) {
    state.compare = { error: error.message, cells: [] };
  }
  const [left, right] = document.querySelectorAll('.compare-label[data-plan-side]');
  if (left) left.textContent = `◀ ${sideName(against)}`;
  if (right) right.textContent = `${state.plan.title} ▶`;
  drawCells();
  render();
}

/** The comparison's city figures, a → b with the difference (GET /plans/{a}/compare/{b}). */
function compareHtml() {
  const c = state.compare;
  if (!c) return '';
  if (c.loading) return `<p class="muted">${esc(t('plan.loading'))}</p>`;
  if (c.error) return `<p class="error-text" data-error="compare">${esc(c.error)}</p>`;
  const city = c.table?.city ?? {};
  const a = city.a ?? {};
  const b = city.b ?? {};
  const rows = ROWS.filter(([key]) => a[key] != null || b[key] != null).map(([key, label, kind]) => {
    const delta = city.delta?.[key] ?? (typeof a[key] === 'number' && typeof b[key] === 'number' ? b[key] - a[key] : null);
    const cls = !delta ? '' : delta > 0 ? 'delta-up' : 'delta-down';
    return `<tr data-metric="${esc(key)}"><td>${esc(t(label))}</td><td>${esc(fmt(a[key], kind))}</td><td>${esc(fmt(b[key], kind))}</td><td class="${cls}">${esc(signed(delta, kind))}</td></tr>`;
  });
  return `<table class="grid" data-compare="plans"><thead><tr><th></th><th>${esc(sideName(state.against))}</th><th>${esc(state.plan.title)}</th><th>${esc(t('plan.change'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>${compareWalkPt(c.table)}`;
}

// ---- figures ---------------------------------------------------------------------------------------

function fmt(value, kind) {
  if (value == null || (typeof value === 'number' && !Number.isFinite(value))) return '—';
  if (kind === 'share') return `${formatNumber(value * 100, 1)}%`;
  if (kind === 'int') return formatNumber(Math.round(value), 0);
  return formatNumber(value, 2);
}

/** A change with its sign, or '0' when it rounds to nothing at the shown precision. */
function signed(delta, kind) {
  if (delta == null || !Number.isFinite(delta)) return '—';
  const text = fmt(Math.abs(delta), kind);
  if (!/[1-9]/.test(text)) return '0';
  return `${delta > 0 ? '+' : '−'}${text}`;
}

function people(n, sign) {
  return n ? `${sign}${formatNumber(n, 0)}` : '0';
}

function areaRows(evaluation) {
  const area = state.scopeArea;
  if (area === 'city') return { base: evaluation.base?.city ?? {}, plan: evaluation.indicators?.city ?? {}, gains: evaluation.gains?.city ?? {} };
  return {
    base: evaluation.base?.districts?.[area] ?? {},
    plan: evaluation.indicators?.districts?.[area] ?? {},
    gains: evaluation.gains?.districts?.[area] ?? {},
  };
}

/** Today → plan, the change, and the residents who gain and who lose (the engine's gains). */
function indicatorTable(evaluation) {
  const { base, plan, gains } = areaRows(evaluation);
  const rows = ROWS.filter(([key]) => base[key] != null || plan[key] != null).map(([key, label, kind, gainKey]) => {
    const delta = typeof plan[key] === 'number' && typeof base[key] === 'number' ? plan[key] - base[key] : null;
    const cls = !delta ? '' : delta > 0 ? 'delta-up' : 'delta-down';
    const g = gainKey ? gains[gainKey] : null;
    return `<tr data-metric="${esc(key)}" data-delta="${delta ?? ''}" data-gain="${g?.gain ?? ''}" data-lose="${g?.lose ?? ''}">
      <td>${esc(t(label))}</td><td>${esc(fmt(base[key], kind))}</td>
      <td>${esc(fmt(plan[key], kind))}${signed(delta, kind) !== '0' && delta != null ? `<br><small class="${cls}">${esc(signed(delta, kind))}</small>` : ''}</td>
      <td class="${g?.gain ? 'gain' : 'muted'}">${g ? esc(people(g.gain, '+')) : ''}</td>
      <td class="${g?.lose ? 'lose' : 'muted'}">${g ? esc(people(g.lose, '−')) : ''}</td></tr>`;
  });
  const districts = Object.keys(evaluation.indicators?.districts ?? {});
  const choice = `<select id="plan-area" aria-label="${esc(t('plan.area'))}"><option value="city">${esc(t('ind.city'))}</option>${districts.map((d) => `<option value="${esc(d)}" ${d === state.scopeArea ? 'selected' : ''}>${esc(d)}</option>`).join('')}</select>`;
  return `<div class="row"><b>${esc(t('plan.indicators'))}</b>${choice}</div>
    <table class="grid plan-table" data-indicators="${esc(state.scopeArea)}"><thead><tr><th></th><th>${esc(t('plan.today'))}</th><th>${esc(t('plan.plan'))}</th><th title="${esc(t('plan.gain.title'))}">${esc(t('plan.gain'))}</th><th title="${esc(t('plan.lose.title'))}">${esc(t('plan.lose'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>
    <p class="muted small">${esc(t('plan.gain.note'))}</p>`;
}

/** KPI 4 — all six within 15 minutes on foot or by public transport — beside the walking-only
 * share, today → plan with the change, for the city and every district (the evaluation's
 * `walk_pt`; absent without a transit feed, or when the server evaluates walk + PT only for
 * plans with transit edits). */
function walkPtTable(evaluation) {
  const w = evaluation.walk_pt;
  if (!w?.base || !w?.plan) return '';
  const names = ['city', ...Object.keys(w.plan.districts ?? {})];
  const rowOf = (side, name) => (name === 'city' ? w[side]?.city : w[side]?.districts?.[name]) ?? {};
  const gainOf = (name) => (name === 'city' ? w.gains?.city : w.gains?.districts?.[name]) ?? null;
  const rows = names.map((name) => {
    const base = rowOf('base', name);
    const plan = rowOf('plan', name);
    const g = gainOf(name);
    const cell = (key) => {
      const delta = typeof plan[key] === 'number' && typeof base[key] === 'number' ? plan[key] - base[key] : null;
      const text = signed(delta, 'share');
      const cls = text === '0' || delta == null ? 'muted' : delta > 0 ? 'delta-up' : 'delta-down';
      return `<td data-kpi="${key}" data-base="${base[key] ?? ''}" data-plan="${plan[key] ?? ''}" data-delta="${delta ?? ''}">${esc(fmt(base[key], 'share'))} → ${esc(fmt(plan[key], 'share'))}<br><small class="${cls}">${esc(text)}</small></td>`;
    };
    return `<tr data-area="${esc(name)}" class="${name === state.scopeArea ? 'active' : ''}"><td>${esc(name === 'city' ? t('ind.city') : name)}</td>${cell('share_all_six')}${cell('share_all_six_walk_pt')}
      <td class="${g?.gain ? 'gain' : 'muted'}">${g ? esc(people(g.gain, '+')) : ''}</td></tr>`;
  });
  return `<h3 data-walk-pt>${esc(t('plan.kpi4'))}</h3>
    <table class="grid" data-table="walk-pt"><thead><tr><th></th><th>${esc(t('plan.kpi4.walk'))}</th><th>${esc(t('plan.kpi4.walkpt'))}</th><th title="${esc(t('plan.kpi4.gain.title'))}">${esc(t('plan.gain'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>
    <p class="muted small">${esc(t('plan.kpi4.note', { period: w.period ?? '' }))}</p>`;
}

/** The comparison's KPI 4 on foot and by walk + PT, a → b, for the city and the districts. */
function compareWalkPt(table) {
  const w = table?.walk_pt;
  if (!w) return '';
  const rows = [['city', w.city], ...(w.districts ?? []).map((r) => [r.district, r])].map(([name, r]) => {
    const cell = (key) => {
      const delta = r?.delta?.[key];
      const cls = !delta ? '' : delta > 0 ? 'delta-up' : 'delta-down';
      return `<td data-kpi="${key}" data-delta="${delta ?? ''}">${esc(fmt(r?.a?.[key], 'share'))} → ${esc(fmt(r?.b?.[key], 'share'))}<br><small class="${cls}">${esc(signed(delta, 'share'))}</small></td>`;
    };
    return `<tr data-area="${esc(name)}"><td>${esc(name === 'city' ? t('ind.city') : name)}</td>${cell('share_all_six')}${cell('share_all_six_walk_pt')}</tr>`;
  });
  return `<table class="grid" data-compare="walk-pt"><thead><tr><th>${esc(t('plan.kpi4'))}</th><th>${esc(t('plan.kpi4.walk'))}</th><th>${esc(t('plan.kpi4.walkpt'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Residents beyond 10 minutes' drive of a fire station, today → plan, for the city and the
 * districts where it changes (the evaluation's `fire`: present when the plan adds a fire
 * station or residents). */
function fireTable(evaluation) {
  const f = evaluation.fire;
  if (!f?.base?.city || !f?.plan?.city) return '';
  const key = 'fire_beyond_10_residents';
  const row = (name, base, plan) => {
    const delta = typeof plan?.[key] === 'number' && typeof base?.[key] === 'number' ? plan[key] - base[key] : null;
    const cls = !delta ? 'muted' : delta < 0 ? 'delta-up' : 'delta-down';
    return `<tr data-area="${esc(name)}" data-fire-delta="${delta ?? ''}"><td>${esc(name === 'city' ? t('ind.city') : name)}</td><td>${esc(formatNumber(base?.[key] ?? null, 0))} → ${esc(formatNumber(plan?.[key] ?? null, 0))}<br><small class="${cls}">${esc(signed(delta, 'int'))}</small></td></tr>`;
  };
  const districts = Object.keys(f.plan.districts ?? {}).sort()
    .filter((name) => (f.plan.districts[name]?.[key] ?? 0) !== (f.base.districts?.[name]?.[key] ?? 0));
  const rows = [row('city', f.base.city, f.plan.city), ...districts.map((n) => row(n, f.base.districts?.[n], f.plan.districts[n]))];
  return `<h3 data-fire>${esc(t('plan.fire.title'))}</h3>
    <table class="grid" data-table="fire"><thead><tr><th></th><th>${esc(t('plan.fire.beyond'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** School and kindergarten places against the children of their catchments. */
function placesTable(evaluation) {
  const blocks = [['schools', 'plan.schools'], ['kindergartens', 'plan.kindergartens']]
    .filter(([k]) => evaluation[k]);
  if (!blocks.length) return '';
  const rows = blocks.map(([k, label]) => {
    const { base = {}, plan = {}, deficit_closed: closed = 0 } = evaluation[k];
    const cell = (f) => `${esc(formatNumber(plan[f] ?? null, 0))}<br><small class="muted">${esc(t('plan.today'))}: ${esc(formatNumber(base[f] ?? null, 0))}</small>`;
    return `<tr data-places="${k}" data-closed="${closed}"><td>${esc(t(label))}</td><td>${cell('children')}</td><td>${cell('places')}</td><td>${cell('deficit')}</td><td class="${closed > 0 ? 'delta-up' : closed < 0 ? 'delta-down' : ''}">${esc(formatNumber(closed, 0))}</td></tr>`;
  });
  return `<h3>${esc(t('plan.places'))}</h3><table class="grid" data-table="places"><thead><tr><th></th><th>${esc(t('plan.children'))}</th><th>${esc(t('plan.placesn'))}</th><th>${esc(t('plan.deficit'))}</th><th>${esc(t('plan.closed'))}</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The polycentres against the programme's standards, today → plan. */
function polycentreTable(evaluation) {
  const names = Object.keys(evaluation.indicators?.polycentres ?? {});
  if (!names.length) return '';
  const targets = state.polycentres ?? {};
  const rows = names.map((name) => {
    const base = evaluation.base?.polycentres?.[name] ?? {};
    const plan = evaluation.indicators.polycentres[name] ?? {};
    const cells = POLY_STANDARDS.map(([key, , ok, target]) => {
      const aim = key === 'density_pph' ? (targets[name] ?? target) : target;
      const v = plan[key];
      const good = typeof v === 'number' && ok(v, aim);
      return `<td><span class="pill ${typeof v === 'number' ? (good ? 'good' : 'bad') : ''}">${esc(fmt(v, 'number'))}</span><br><small class="muted">${esc(t('plan.today'))}: ${esc(fmt(base[key], 'number'))}</small></td>`;
    });
    return `<tr data-polycentre="${esc(name)}"><td>${esc(name)}</td>${cells.join('')}</tr>`;
  });
  const heads = POLY_STANDARDS.map(([, label, , target, form]) => `<th>${esc(t(label))}<br><small>${esc(form.replace('{x}', target))}</small></th>`).join('');
  return `<h3>${esc(t('plan.polycentres'))}</h3><table class="grid" data-table="polycentres"><thead><tr><th></th>${heads}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function housingList(evaluation) {
  const rows = evaluation.housing ?? [];
  if (!rows.length) return '';
  const items = rows.map((h) => {
    const utilities = Object.entries(h.utility_m ?? {}).map(([k, v]) => `${k} ${formatNumber(v, 0)} m`).join(', ');
    return `<li data-housing="${esc(h.edit)}"><b>${esc(formatNumber(h.residents, 0))}</b> ${esc(t('plan.unit.residents'))} · ${esc(h.district ?? '—')}${h.polycentre ? ` · ${esc(h.polycentre)}` : ''}${h.in_fault_setback ? ` <span class="pill bad">${esc(t('plan.fault'))}</span>` : ''}${utilities ? `<br><small class="muted">${esc(utilities)}</small>` : ''}</li>`;
  });
  return `<h3>${esc(t('plan.housing'))}</h3><ul class="plan-housing">${items.join('')}</ul>`;
}

function resultsHtml() {
  const plan = state.plan;
  const status = plan.status;
  const pending = status === 'pending';
  const head = `<h2>${esc(t('plan.results'))} <span class="pill ${status === 'failed' ? 'bad' : status === 'evaluated' ? 'good' : ''}" data-status="${esc(status)}">${esc(t(`plan.status.${status}`))}</span></h2>`;
  const stale = plan.stale ? `<p class="pill bad" data-stale>${esc(t('plan.stale'))}</p>` : '';
  const evaluate = state.key && (status === 'new' || status === 'failed' || plan.stale)
    ? `<button type="button" class="secondary" data-action="evaluate">${esc(t('plan.evaluate'))}</button>` : '';
  const failure = status === 'failed' && plan.failure ? `<p class="error-text">${esc(plan.failure)}</p>` : '';
  if (pending) return `${head}<p class="muted" data-pending>${esc(t('plan.evaluating'))}</p>`;
  const evaluation = plan.evaluation;
  if (!evaluation || status !== 'evaluated') return `${head}${stale}${failure}<p class="muted">${esc(t('plan.notyet'))}</p>${evaluate}`;
  const count = plan.changed_cells?.count ?? state.cells.length;
  const others = (state.list ?? []).filter((p) => p.id !== plan.id);
  const compareChoice = `<select id="plan-against" aria-label="${esc(t('plan.compare'))}">
      <option value="">${esc(t('plan.compare.none'))}</option>
      <option value="base" ${state.against === 'base' ? 'selected' : ''}>${esc(t('plan.today'))}</option>
      ${others.map((p) => `<option value="${esc(p.id)}" ${String(state.against) === String(p.id) ? 'selected' : ''}>${esc(p.title)} (#${esc(p.id)})</option>`).join('')}
    </select>`;
  return `${head}${stale}${evaluate}
    ${indicatorTable(evaluation)}
    ${walkPtTable(evaluation)}
    ${fireTable(evaluation)}
    ${placesTable(evaluation)}
    ${polycentreTable(evaluation)}
    ${housingList(evaluation)}
    <h3>${esc(t('plan.cells'))}</h3>
    <p><span class="pill" data-cells="${esc(count)}">${esc(t('plan.cells.n', { n: formatNumber(count, 0) }))}</span></p>
    ${plan.changed_cells?.items === null ? `<p class="muted small">${esc(t('plan.cells.private'))}</p>` : ''}
    <div class="row"><span>${esc(t('plan.compare'))}</span>${compareChoice}</div>
    ${compareHtml()}`;
}

// ---- the panel ---------------------------------------------------------------------------------------

function keyHtml() {
  const saved = Boolean(state.key);
  return `<details class="plan-key" ${saved ? '' : 'open'}>
    <summary>${esc(saved ? t('plan.key.set', { user: state.user || '…' }) : t('plan.key.none'))}</summary>
    ${saved ? '' : `<p class="muted" data-key-help>${esc(t('plan.key.help'))}</p>`}
    <div class="row"><input type="password" id="plan-key" autocomplete="off" placeholder="${esc(t('plan.key.placeholder'))}" value="${esc(state.key)}">
    <button type="button" class="secondary" data-action="key">${esc(t('plan.key.use'))}</button>
    ${saved ? `<button type="button" class="secondary" data-action="forget">${esc(t('plan.key.forget'))}</button>` : ''}</div>
  </details>`;
}

function listHtml() {
  const seg = ['all', 'mine'].map((s) => `<button type="button" data-scope="${s}" class="${state.scope === s ? 'active' : ''}" ${s === 'mine' && !state.key ? `disabled title="${esc(t('plan.mine.unknown'))}"` : ''}>${esc(t(`plan.scope.${s}`))}</button>`).join('');
  let items;
  if (state.listError) items = `<p class="error-text">${esc(state.listError)}</p>`;
  else if (!state.list) items = `<p class="muted">${esc(t('plan.loading'))}</p>`;
  else if (!state.list.length) items = `<p class="muted" data-empty="plans">${esc(t('plan.none'))}</p>`;
  else {
    items = state.list.map((p) => `<div class="plan-item ${String(p.id) === String(state.plan?.id) ? 'active' : ''}" data-open="${esc(p.id)}" role="button" tabindex="0">
        <span><b>${esc(p.title)}</b>${p.private ? ` <span class="pill" title="${esc(t('plan.private'))}">🔒</span>` : ''}<br><small class="muted">${esc(p.author)} · ${esc(shortDate(p.updated))}</small></span>
        <span class="pill ${p.status === 'evaluated' ? 'good' : p.status === 'failed' ? 'bad' : ''}">${esc(t(`plan.status.${p.status}`))}</span></div>`).join('');
  }
  const create = state.creating ? `<form id="plan-create" class="plan-form">
      <label class="plan-field"><span>${esc(t('plan.f.title'))}</span><input type="text" name="title" required maxlength="200"></label>
      <label class="plan-field"><span>${esc(t('plan.f.description'))}</span><textarea name="description" rows="2"></textarea></label>
      <label class="plan-field check"><input type="checkbox" name="private"><span>${esc(t('plan.private'))}</span></label>
      <div class="row"><button type="submit" class="primary">${esc(t('plan.create'))}</button><button type="button" class="secondary" data-action="cancel-create">${esc(t('plan.cancel'))}</button></div>
    </form>` : '';
  return `<div class="card" data-panel="plans">
    <h2>${esc(t('plan.title'))}</h2>
    ${keyHtml()}
    <div class="row"><div class="seg" id="plan-scope">${seg}</div>
    ${state.key && !state.creating ? `<button type="button" class="primary" data-action="new">${esc(t('plan.new'))}</button>` : ''}</div>
    ${create}
    <details class="plan-list" ${state.plan ? '' : 'open'}><summary>${esc(t('plan.list', { n: state.list?.length ?? 0 }))}</summary><div id="plan-list">${items}</div></details>
  </div>`;
}

function shortDate(value) {
  if (!value) return '';
  return formatDate(value, { time: true });   // i18n.js writes Kazakh months itself
}

function planHtml() {
  const plan = state.plan;
  const can = writable();
  const id = encodeURIComponent(plan.id);
  const reports = ['pdf', 'html', 'csv', 'gpkg'].map((f) => `<a class="secondary" data-report="${f}" href="/plans/${id}/report?f=${f}&lang=${lang()}" download>${f.toUpperCase()}</a>`).join(' ');
  const shareUrl = `${location.origin}${location.pathname}#plan=${id}`;
  return `<div class="card" data-plan-id="${esc(plan.id)}" data-version="${esc(plan.version)}">
    <h2><span>${esc(plan.title)}</span><button type="button" class="secondary" data-action="close" title="${esc(t('plan.close'))}">×</button></h2>
    <p class="muted small">${esc(t('plan.meta', { author: plan.author, updated: shortDate(plan.updated), version: plan.version }))}${plan.private ? ` · ${esc(t('plan.private'))}` : ''}</p>
    ${can ? `<form id="plan-details" class="plan-form">
      <label class="plan-field"><span>${esc(t('plan.f.title'))}</span><input type="text" name="title" value="${esc(plan.title)}" maxlength="200" required></label>
      <label class="plan-field"><span>${esc(t('plan.f.description'))}</span><textarea name="description" rows="2">${esc(plan.description ?? '')}</textarea></label>
      <label class="plan-field check"><input type="checkbox" name="private" ${plan.private ? 'checked' : ''}><span>${esc(t('plan.private'))}</span></label>
      <button type="submit" class="secondary" data-action="rename">${esc(t('plan.rename'))}</button>
    </form>` : `${plan.description ? `<p>${esc(plan.description)}</p>` : ''}${state.key ? '' : `<p class="muted" data-readonly>${esc(t('plan.readonly'))}</p>`}`}
    <div class="row wrap">
      ${state.key ? `<button type="button" class="secondary" data-action="copy">${esc(t('plan.copy'))}</button>` : ''}
      <button type="button" class="secondary" data-action="share">${esc(t('plan.share'))}</button>
      ${can ? `<button type="button" class="secondary danger" data-action="delete">${esc(t('plan.delete'))}</button>` : ''}
    </div>
    ${state.confirmDelete ? `<div class="confirm" data-confirm="delete"><span>${esc(t('plan.delete.confirm', { title: plan.title }))}</span><button type="button" class="primary danger" data-action="delete-yes">${esc(t('plan.delete.yes'))}</button><button type="button" class="secondary" data-action="delete-no">${esc(t('plan.cancel'))}</button></div>` : ''}
    ${state.share ? `<div class="row"><input type="text" id="plan-share" readonly value="${esc(shareUrl)}" aria-label="${esc(t('plan.share'))}"></div><p class="muted small">${esc(t('plan.share.hint'))}</p>` : ''}
    <div class="row wrap"><span class="muted">${esc(t('plan.report'))}</span> ${reports}</div>
  </div>`;
}

function toolsHtml() {
  const groups = TOOL_GROUPS.map(([label, tools]) => `<div class="tool-group"><span class="muted">${esc(t(label))}</span><div class="seg">${tools.map((k) => `<button type="button" data-tool="${esc(k)}" class="${state.tool === k ? 'active' : ''}" title="${esc(t(`plan.about.${TOOLS[k].edit}`))}">${esc(t(`plan.tool.${k}`))}</button>`).join('')}</div></div>`).join('');
  const spec = TOOLS[state.tool];
  let hint = '';
  if (spec?.draw === 'polygon' || spec?.draw === 'line') {
    hint = `<div class="row"><span class="muted">${esc(t('plan.draw.points', { n: state.draft.length }))}</span><button type="button" class="secondary" id="plan-finish">${esc(t('plan.draw.finish'))}</button><button type="button" class="secondary" data-action="cancel-draw">${esc(t('plan.cancel'))}</button></div>`;
  } else if (state.tool === 'amenity.move' && state.moving) {
    hint = `<p class="muted">${esc(t('plan.move.where', { name: state.moving.name }))}</p>`;
  }
  return `<div id="plan-tools">${groups}</div>${hint}`;
}

function editsHtml() {
  const can = writable();
  const errorFor = state.error?.edit;
  const items = state.edits.map((f, i) => {
    const id = String(f.id ?? `#${i + 1}`);
    const open = id === String(state.selected) || id === String(errorFor);
    const bad = id === String(errorFor);
    return `<div class="plan-edit ${open ? 'open' : ''} ${bad ? 'bad' : ''}" data-edit-id="${esc(id)}">
      <div class="plan-edit-head"><button type="button" class="link" data-select="${esc(id)}">${esc(editLabel(f))}</button>
      ${can ? `<button type="button" class="secondary" data-remove="${esc(id)}" title="${esc(t('plan.edit.delete'))}" aria-label="${esc(t('plan.edit.delete'))}">×</button>` : ''}</div>
      ${open ? `<div class="plan-edit-form" data-form="${esc(id)}">${editForm(f, can)}</div>` : ''}
      ${bad ? `<p class="error-text" data-error="edit">${esc(state.error.message)}</p>` : ''}
    </div>`;
  }).join('');
  const general = state.error && !errorFor ? `<p class="error-text" data-error="plan">${esc(state.error.message)}</p>` : '';
  return `<div class="card" data-card="edits">
    <h2>${esc(t('plan.edits', { n: state.edits.length }))}</h2>
    ${can ? toolsHtml() : ''}
    <div id="plan-edits">${items || `<p class="muted">${esc(t('plan.edits.none'))}</p>`}</div>
    ${general}
    ${can ? `<div class="row"><button type="button" class="primary" data-action="save" ${state.dirty && !state.busy ? '' : 'disabled'}>${esc(state.busy ?? t('plan.save'))}</button>
      ${state.dirty ? `<button type="button" class="secondary" data-action="revert">${esc(t('plan.revert'))}</button><span class="muted" data-dirty>${esc(t('plan.unsaved'))}</span>` : ''}</div>` : ''}
  </div>`;
}

function render() {
  if (!app || app.state.mode !== 'plans') return;
  const side = app.side();
  const scroll = side.parentElement?.scrollTop ?? 0;
  let body = listHtml();
  if (state.plan) body += planHtml() + editsHtml() + `<div class="card" data-card="results">${resultsHtml()}</div>`;
  else if (state.busy) body += `<div class="card"><p class="muted">${esc(state.busy)}</p></div>`;
  else if (state.error) body += `<div class="card"><p class="error-text" data-error="plan">${esc(state.error.message)}</p></div>`;
  side.innerHTML = body;
  if (side.parentElement) side.parentElement.scrollTop = scroll;
  if (state.plan) {
    drawEdits(app.map, state.edits, state.selected);
    const selected = state.edits.find((f) => String(f.id) === String(state.selected));
    showHandles(app.map, selected, writable() && !state.tool, () => { markDirty(); render(); });
  } else {
    clearEdits(app.map);
    clearHandles();
  }
  drawDraft(app.map, state.draft, TOOLS[state.tool]?.draw);
  updateLegend();
}

function markDirty() {
  state.dirty = true;
  state.error = null;
}

// ---- actions -----------------------------------------------------------------------------------

function problem(error) {
  const body = error.body ?? {};
  const edit = body.edit ?? body.details?.edit ?? null;
  return { message: error.message, edit: edit == null ? null : String(edit), status: error.status };
}

async function save() {
  if (!state.plan || !state.dirty) return;
  state.busy = t('plan.saving');
  render();
  const edits = { type: 'FeatureCollection', features: state.edits };
  try {
    const { json, etag } = await call('PATCH', planUrl(state.plan.id), { edits }, state.etag ? { 'If-Match': state.etag } : {});
    state.busy = null;
    state.dirty = false;
    adopt(json, etag, false);
    state.error = null;
    render();
    loadList();
    await afterEvaluation(++state.pollToken);
  } catch (error) {
    state.busy = null;
    state.error = problem(error);
    if (error.status === 412) state.error.message = `${error.message} ${t('plan.conflict')}`;
    render();
  }
}

async function rename(form) {
  const body = { title: form.title.value.trim(), description: form.description.value, private: form.private.checked };
  try {
    const { json, etag } = await call('PATCH', planUrl(state.plan.id), body, state.etag ? { 'If-Match': state.etag } : {});
    adopt(json, etag, true);
    notify(t('plan.renamed', { title: json.title }), 'info', { key: 'plan' });
    state.error = null;
    await loadList();
  } catch (error) {
    state.error = problem(error);
    render();
  }
}

async function create(form) {
  const body = {
    title: form.title.value.trim(),
    description: form.description.value,
    private: form.private.checked,
    edits: { type: 'FeatureCollection', features: [] },
  };
  try {
    const { json, etag } = await call('POST', '/plans', body);
    state.creating = false;
    learnUser({ user: json.author });
    adopt(json, etag, false);
    app.state.plan = String(json.id);
    app.saveView();
    render();
    await loadList();
  } catch (error) {
    state.error = problem(error);
    render();
  }
}

async function duplicate() {
  try {
    const { json, etag } = await call('POST', planUrl(state.plan.id, '/copy'), { title: t('plan.copy.title', { title: state.plan.title }) });
    learnUser({ user: json.author });
    state.pollToken += 1;
    adopt(json, etag, false);
    app.state.plan = String(json.id);
    app.saveView();
    notify(t('plan.copied', { title: json.title }), 'info', { key: 'plan' });
    await loadList();
    await afterEvaluation(state.pollToken);
  } catch (error) {
    state.error = problem(error);
    render();
  }
}

async function remove() {
  try {
    await call('DELETE', planUrl(state.plan.id), undefined, state.etag ? { 'If-Match': state.etag } : {});
    notify(t('plan.deleted', { title: state.plan.title }), 'info', { key: 'plan' });
    closePlan();
    await loadList();
  } catch (error) {
    state.confirmDelete = false;
    state.error = problem(error);
    render();
  }
}

async function evaluate() {
  try {
    const { json, etag } = await call('POST', planUrl(state.plan.id, '/evaluate'));
    adopt(json, etag, true);
    render();
    await afterEvaluation(++state.pollToken);
  } catch (error) {
    state.error = problem(error);
    render();
  }
}

function closePlan() {
  state.pollToken += 1;
  state.plan = null;
  state.edits = [];
  state.cells = [];
  state.against = null;
  state.compare = null;
  state.tool = null;
  state.draft = [];
  state.error = null;
  state.confirmDelete = false;
  app.state.plan = null;
  app.saveView();
  drawCells();
  render();
}

function addEdit(feature) {
  state.edits.push(feature);
  state.selected = String(feature.id);
  markDirty();
  render();
}

function finishDraw() {
  const spec = TOOLS[state.tool];
  const shape = finishShape(spec.draw, state.draft);
  if (shape.error) { warnDraw(shape.error); return; }
  addEdit(newEdit(state.tool, shape.geometry, nextEditId(state.edits)));
  state.draft = [];
  render();
}

function wire() {
  const side = app.side();
  side.onclick = (event) => {
    const target = event.target.closest('button, [data-open]');
    if (!target) return;
    const { action, scope, tool, select, remove: removeId, open } = target.dataset;
    if (open) { state.error = null; openPlan(open); return; }
    if (scope && scope !== state.scope) { state.scope = scope; loadList(); return; }
    if (tool) {
      state.tool = state.tool === tool ? null : tool;
      state.draft = [];
      state.moving = null;
      const layer = TOOLS[tool]?.layer;
      if (layer && state.tool && !app.isVisible(layer)) app.setLayerVisible(layer, true);
      app.hint(state.tool ? t(`plan.about.${TOOLS[tool].edit}`) : t('plan.hint'));
      render();
      return;
    }
    if (select) { state.selected = state.selected === select ? null : select; render(); return; }
    if (removeId) {
      state.edits = state.edits.filter((f) => String(f.id) !== removeId);
      if (state.selected === removeId) state.selected = null;
      markDirty();
      render();
      return;
    }
    if (target.id === 'plan-finish') { finishDraw(); return; }
    switch (action) {
      case 'key': {
        const value = side.querySelector('#plan-key').value.trim();
        state.key = value;
        if (value) sessionStorage.setItem(KEY_STORE, value); else sessionStorage.removeItem(KEY_STORE);
        state.user = '';
        sessionStorage.removeItem(USER_STORE);
        loadList();
        break;
      }
      case 'forget':
        state.key = ''; state.user = ''; state.scope = 'all';
        sessionStorage.removeItem(KEY_STORE); sessionStorage.removeItem(USER_STORE);
        loadList();
        break;
      case 'new': state.creating = true; state.error = null; render(); side.querySelector('#plan-create input')?.focus(); break;
      case 'cancel-create': state.creating = false; render(); break;
      case 'close': closePlan(); loadList(); break;
      case 'copy': duplicate(); break;
      case 'share':
        state.share = !state.share;
        render();
        side.querySelector('#plan-share')?.select();
        break;
      case 'delete': state.confirmDelete = true; render(); break;
      case 'delete-no': state.confirmDelete = false; render(); break;
      case 'delete-yes': remove(); break;
      case 'save': save(); break;
      case 'revert':
        state.edits = structuredClone(state.plan.edits?.features ?? []);
        state.dirty = false; state.error = null; state.selected = null;
        render();
        break;
      case 'evaluate': evaluate(); break;
      case 'cancel-draw': state.draft = []; state.tool = null; render(); break;
      default: break;
    }
  };
  side.onkeydown = (event) => {
    const item = event.target.closest?.('[data-open]');
    if (item && event.key === 'Enter') openPlan(item.dataset.open);
  };
  side.onsubmit = (event) => {
    event.preventDefault();
    if (event.target.id === 'plan-create') create(event.target);
    if (event.target.id === 'plan-details') rename(event.target);
  };
  side.onchange = (event) => {
    const input = event.target;
    if (input.id === 'plan-area') { state.scopeArea = input.value; render(); return; }
    if (input.id === 'plan-against') {
      state.against = input.value || null;
      state.compare = null;
      if (state.against) loadCompare(); else { drawCells(); render(); }
      return;
    }
    const form = input.closest('[data-form]');
    if (!form || !input.dataset.param) return;
    const feature = state.edits.find((f) => String(f.id) === form.dataset.form);
    if (!feature) return;
    applyParam(feature, input);
    state.dirty = true;
    state.error = null;
    render();
  };
}

async function polycentreTargets() {
  if (state.polycentres) return;
  try {
    const { json } = await call('GET', '/collections/polycentres/items?f=json&limit=100');
    state.polycentres = Object.fromEntries((json.features ?? []).map((f) => [f.properties.name, f.properties.target_density_pph ?? 120]));
  } catch {
    state.polycentres = {};
  }
}

export const plansMode = {
  name: 'plans',
  async enter(a) {
    app = a;
    ensureCellLayers(app.map);
    ensureEditLayers(app.map);
    setupSwipe();
    app.map.doubleClickZoom.disable();
    document.body.classList.add('plans-open');
    app.hint(t('plan.hint'));
    wire();
    render();
    polycentreTargets().then(() => render());
    const wanted = app.state.plan;
    await loadList();
    if (wanted && String(state.plan?.id) !== String(wanted)) await openPlan(wanted);
    else if (state.plan) {
      app.state.plan = String(state.plan.id);
      app.saveView();
      drawCells();
      render();
      if (state.plan.status === 'pending') afterEvaluation(state.pollToken);
    }
  },
  leave(a) {
    // The plan stays open (and its unsaved edits kept): only the map forgets it meanwhile.
    a.map.doubleClickZoom.enable();
    document.body.classList.remove('plans-open');
    clearEdits(a.map);
    clearHandles();
    a.map.getSource(CELLS)?.setData({ type: 'FeatureCollection', features: [] });
    document.getElementById('swipe').hidden = true;
    const legend = document.getElementById('plan-legend');
    if (legend) legend.hidden = true;
    for (const el of document.querySelectorAll('.compare-label[data-plan-side]')) el.hidden = true;
    a.side().onclick = null;
    a.side().onsubmit = null;
    a.side().onkeydown = null;
    a.side().onchange = null;
    state.draft = [];
  },
  onLayersChanged() {},
  click(a, event) {
    const spec = TOOLS[state.tool];
    if (!state.plan) return;
    if (!spec || !writable()) {
      const id = editAt(a.map, event.point);
      if (id != null) { state.selected = id; render(); }
      return;
    }
    const here = [event.lngLat.lng, event.lngLat.lat];
    if (spec.draw === 'point') {
      addEdit(newEdit(state.tool, { type: 'Point', coordinates: here }, nextEditId(state.edits)));
      return;
    }
    if (spec.draw === 'polygon' || spec.draw === 'line') {
      state.draft.push(here);
      render();
      return;
    }
    if (spec.draw === 'route') {
      // a new stop: on the route drawn under the click (the plan's own or the feed's)
      const hit = routeAt(a.map, event.point);
      if (!hit) { warnDraw(t('plan.pick.route')); return; }
      addEdit(newEdit('transit.stop.add', { type: 'Point', coordinates: here }, nextEditId(state.edits), { route: hit.route }));
      return;
    }
    // pick: an amenity to remove or move, a park to remove
    if (state.tool === 'amenity.move' && state.moving) {
      addEdit(newEdit('amenity.move', { type: 'Point', coordinates: here }, nextEditId(state.edits), { amenity: state.moving.id }));
      state.moving = null;
      render();
      return;
    }
    const hit = catalogFeatureAt(a.map, event.point, spec.layer);
    if (!hit || hit.id == null) { warnDraw(t('plan.pick.none', { layer: t(`plan.layer.${spec.layer}`) })); return; }
    const name = hit.properties.name ?? `#${hit.id}`;
    if (state.tool === 'amenity.move') { state.moving = { id: hit.id, name }; render(); return; }
    if (state.tool === 'amenity.remove') {
      addEdit(newEdit('amenity.remove', null, nextEditId(state.edits), { amenity: hit.id }));
      return;
    }
    addEdit(newEdit('park.remove', null, nextEditId(state.edits), { park: hit.id }));
  },
  dblclick(a, event) {
    const spec = TOOLS[state.tool];
    if (!spec || (spec.draw !== 'polygon' && spec.draw !== 'line')) return;
    event.preventDefault();
    // The double-click's two clicks added the last corner twice.
    state.draft.pop();
    finishDraw();
  },
};

// For tests and the console: what the panel holds.
export function planState() { return state; }

// A plan's edits on the map: the tools that place, draw, move and delete them, the layers that
// show them, and the small form of each edit's parameters. Each edit is a GeoJSON Feature in the
// plan's own terms (twin/plans/edits.py checks them): {"edit": KIND, ...parameters}.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { t, category, formatNumber } from './i18n.js';
import { esc, notify } from './notice.js';
import { styleLayerIds } from './panel.js';

const EDITS = 'plan-edits';
const DRAFT = 'plan-draft';

/** Amenities a planner places with one click: category and kind of the amenities catalog. */
export const AMENITY_TOOLS = {
  school: { category: 'education', kind: 'school', colour: '#0984e3' },
  kindergarten: { category: 'education', kind: 'kindergarten', colour: '#74b9ff' },
  clinic: { category: 'healthcare', kind: 'clinic', colour: '#d63031' },
  shop: { category: 'commerce', kind: 'shop', colour: '#e17055' },
  sport: { category: 'culture_sport', kind: 'sport', colour: '#6c5ce7' },
  transit_stop: { category: 'transit', kind: 'transit_stop', colour: '#2d3436' },
};

/** Kinds per category (layers/amenities.yml), for the form's choice. */
const KINDS = {
  education: ['school', 'kindergarten', 'university'],
  healthcare: ['clinic', 'hospital', 'pharmacy'],
  commerce: ['shop', 'supermarket', 'market', 'cafe'],
  culture_sport: ['sport', 'theatre', 'museum', 'library', 'cinema'],
  parks: ['park_entrance'],
  transit: ['transit_stop'],
};
/** A plan's public transport (twin/transit/plan_trips.py states the same defaults): commercial
 * speed km/h, headways at the peak (07-10, 17-20) and off-peak in minutes, stops every metres. */
export const TRANSIT_MODES = {
  bus: { speed: 18, peak: 10, offpeak: 15, spacing: 400, colour: '#636e72' },
  brt: { speed: 25, peak: 5, offpeak: 10, spacing: 400, colour: '#0984e3' },
  trolleybus: { speed: 16, peak: 10, offpeak: 15, spacing: 400, colour: '#00b894' },
  tram: { speed: 20, peak: 8, offpeak: 12, spacing: 400, colour: '#e17055' },
  metro: { speed: 40, peak: 4, offpeak: 8, spacing: 1200, colour: '#d63031' },
};
const SERVICE_HOURS = '06:00-23:00';
const ROUTE_REACH_PX = 8;   // a stop's click finds a route drawn within this many pixels
const PARK_KINDS = ['park', 'square', 'boulevard', 'embankment', 'green_zone', 'pedestrian_zone'];
const BUILDING_USES = ['residential', 'mixed', 'commercial', 'public', 'industrial'];
const HOUSING_AMOUNTS = ['residents', 'dwellings', 'density_pph'];

/** Every tool: what a click on the map does with it. */
export const TOOLS = {
  ...Object.fromEntries(Object.keys(AMENITY_TOOLS).map((k) => [k, { draw: 'point', edit: 'amenity.add' }])),
  'amenity.move': { draw: 'pick', layer: 'amenities', edit: 'amenity.move' },
  'amenity.remove': { draw: 'pick', layer: 'amenities', edit: 'amenity.remove' },
  'housing.add': { draw: 'polygon', edit: 'housing.add' },
  'housing.remove': { draw: 'polygon', edit: 'housing.remove' },
  'park.add': { draw: 'polygon', edit: 'park.add' },
  'park.remove': { draw: 'pick', layer: 'parks', edit: 'park.remove' },
  'street.link': { draw: 'line', edit: 'street.link' },
  'street.close': { draw: 'line', edit: 'street.close' },
  'street.light': { draw: 'line', edit: 'street.light' },
  'building.add': { draw: 'polygon', edit: 'building.add' },
  'transit.route.add': { draw: 'line', edit: 'transit.route.add' },
  'transit.stop.add': { draw: 'route', layer: 'transit_routes', edit: 'transit.stop.add' },
  'fire_station.add': { draw: 'point', edit: 'fire_station.add' },
};

const KIND_COLOURS = {
  'housing.add': '#e67e22', 'housing.remove': '#7f8c8d', 'park.add': '#00b894',
  'building.add': '#8e44ad', 'street.link': '#0a7f8c', 'street.close': '#c0392b',
  'street.light': '#f1c40f', 'amenity.remove': '#c0392b', 'amenity.move': '#0a7f8c',
  'transit.stop.add': '#2d3436', 'fire_station.add': '#b71c1c',
};

function empty() { return { type: 'FeatureCollection', features: [] }; }

/** The sources and layers of the plan's edits and of the shape being drawn (added once). */
export function ensureEditLayers(map) {
  if (map.getSource(EDITS)) return;
  map.addSource(EDITS, { type: 'geojson', data: empty() });
  map.addSource(DRAFT, { type: 'geojson', data: empty() });
  const colour = ['coalesce', ['get', '_colour'], '#0a7f8c'];
  const polygon = ['==', ['geometry-type'], 'Polygon'];
  map.addLayer({ id: 'plan-edits-fill', type: 'fill', source: EDITS, filter: polygon, paint: { 'fill-color': colour, 'fill-opacity': ['case', ['get', '_selected'], 0.55, 0.35] } });
  map.addLayer({ id: 'plan-edits-outline', type: 'line', source: EDITS, filter: polygon, paint: { 'line-color': colour, 'line-width': ['case', ['get', '_selected'], 3, 1.5] } });
  map.addLayer({ id: 'plan-edits-line', type: 'line', source: EDITS, filter: ['==', ['geometry-type'], 'LineString'], layout: { 'line-cap': 'round' }, paint: { 'line-color': colour, 'line-width': ['case', ['get', '_selected'], 7, 5], 'line-dasharray': ['case', ['==', ['get', 'edit'], 'street.close'], ['literal', [1, 1]], ['literal', [1, 0]]] } });
  map.addLayer({ id: 'plan-edits-point', type: 'circle', source: EDITS, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': ['case', ['==', ['get', '_stop'], true], 4.5, ['get', '_selected'], 10, 8], 'circle-color': colour, 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
  map.addLayer({ id: 'plan-draft-line', type: 'line', source: DRAFT, paint: { 'line-color': '#17323a', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'plan-draft-point', type: 'circle', source: DRAFT, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#17323a' } });
}

export const EDIT_LAYERS = ['plan-edits-fill', 'plan-edits-line', 'plan-edits-point'];

function colourOf(feature) {
  const p = feature.properties ?? {};
  if (p.edit === 'amenity.add') {
    const tool = Object.values(AMENITY_TOOLS).find((x) => x.category === p.category);
    return tool?.colour ?? '#0984e3';
  }
  if (p.edit === 'transit.route.add') return TRANSIT_MODES[p.mode]?.colour ?? TRANSIT_MODES.bus.colour;
  return KIND_COLOURS[p.edit] ?? '#0a7f8c';
}

/** Metres between two lon/lat points (haversine). */
function metres([lon1, lat1], [lon2, lat2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}

/** Where a new route's stops stand: a MultiPoint's points, or evenly along its line about
 * stop_spacing_m apart with both ends kept (as twin/transit/plan_trips.py places them). */
export function routeStops(feature) {
  const g = feature.geometry;
  const p = feature.properties ?? {};
  if (g?.type === 'MultiPoint') return g.coordinates;
  if (g?.type !== 'LineString' || g.coordinates.length < 2) return [];
  const line = g.coordinates;
  const legs = line.slice(1).map((c, i) => metres(line[i], c));
  const length = legs.reduce((a, b) => a + b, 0);
  const spacing = p.stop_spacing_m || TRANSIT_MODES[p.mode]?.spacing || TRANSIT_MODES.bus.spacing;
  const count = Math.max(1, Math.round(length / spacing));
  const stops = [];
  let leg = 0;
  let walked = 0;
  for (let k = 0; k <= count; k += 1) {
    const at = (length * k) / count;
    while (leg < legs.length - 1 && walked + legs[leg] < at) { walked += legs[leg]; leg += 1; }
    const f = legs[leg] > 0 ? Math.min(1, (at - walked) / legs[leg]) : 0;
    const [a, b] = [line[leg], line[leg + 1]];
    stops.push([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]);
  }
  return stops;
}

/** A route's length in kilometres along its line (or from stop to stop). */
export function routeLengthKm(feature) {
  const g = feature.geometry;
  const c = g?.type === 'LineString' || g?.type === 'MultiPoint' ? g.coordinates : [];
  return c.slice(1).reduce((sum, x, i) => sum + metres(c[i], x), 0) / 1000;
}

/** A copy of the edits with their colour and whether they are selected, for the map. */
export function drawEdits(map, edits, selected) {
  const features = [];
  for (const f of edits.filter((e) => e.geometry)) {
    const properties = { edit: f.properties.edit, _id: String(f.id), _colour: colourOf(f), _selected: String(f.id) === String(selected), _stop: false };
    if (f.properties.edit !== 'transit.route.add') {
      features.push({ type: 'Feature', geometry: f.geometry, properties });
      continue;
    }
    // a new route: its line (a MultiPoint's stops joined in order) and its stops
    const stops = routeStops(f);
    const line = f.geometry.type === 'LineString' ? f.geometry : { type: 'LineString', coordinates: stops };
    features.push({ type: 'Feature', geometry: line, properties: { ...properties, route: `plan-${f.id}` } });
    for (const c of stops) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: { ...properties, _stop: true } });
  }
  map.getSource(EDITS)?.setData({ type: 'FeatureCollection', features });
}

export function clearEdits(map) {
  map.getSource(EDITS)?.setData(empty());
  map.getSource(DRAFT)?.setData(empty());
}

/** The corners drawn so far, with the outline closed for a polygon. */
export function drawDraft(map, points, kind) {
  const features = points.map((c) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: {} }));
  if (points.length > 1) {
    const line = kind === 'polygon' ? [...points, points[0]] : points;
    features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: line }, properties: {} });
  }
  map.getSource(DRAFT)?.setData({ type: 'FeatureCollection', features });
}

/** The edit of the plan under a map point, if any (its id). */
export function editAt(map, point) {
  const box = [[point.x - 4, point.y - 4], [point.x + 4, point.y + 4]];
  const layers = EDIT_LAYERS.filter((id) => map.getLayer(id));
  const hit = map.queryRenderedFeatures(box, { layers })[0];
  return hit ? hit.properties._id : null;
}

/** The twin feature of a catalog layer (amenities, parks) under a map point. */
export function catalogFeatureAt(map, point, layer) {
  const layers = styleLayerIds(map, layer);
  if (!layers.length) return null;
  const box = [[point.x - 5, point.y - 5], [point.x + 5, point.y + 5]];
  const hit = map.queryRenderedFeatures(box, { layers })[0];
  if (!hit) return null;
  return { id: hit.properties?.id ?? hit.id, properties: hit.properties ?? {}, geometry: hit.geometry };
}

/** The route a stop is placed on: a route the plan adds (drawn on the map) or one of the
 * feed's transit_routes, under the map point; {route, name} or null. */
export function routeAt(map, point) {
  const r = ROUTE_REACH_PX;
  const box = [[point.x - r, point.y - r], [point.x + r, point.y + r]];
  if (map.getLayer('plan-edits-line')) {
    const own = map.queryRenderedFeatures(box, { layers: ['plan-edits-line'] })
      .find((f) => f.properties?.edit === 'transit.route.add');
    if (own) return { route: own.properties.route, name: own.properties.route };
  }
  const layers = styleLayerIds(map, 'transit_routes');
  if (!layers.length) return null;
  const hit = map.queryRenderedFeatures(box, { layers }).find((f) => f.properties?.route_id != null);
  if (!hit) return null;
  const p = hit.properties;
  return { route: String(p.route_id), name: p.short_name ?? p.long_name ?? String(p.route_id) };
}

/** The next free edit id of a plan ("e1", "e2", …), unique among its edits. */
export function nextEditId(edits) {
  let n = 0;
  for (const f of edits) {
    const m = /^e(\d+)$/.exec(String(f.id ?? ''));
    if (m) n = Math.max(n, Number(m[1]));
  }
  return `e${n + 1}`;
}

/** A new edit of `tool` with the given geometry and its parameters' defaults. */
export function newEdit(tool, geometry, id, extra = {}) {
  const spec = TOOLS[tool];
  const properties = { edit: spec.edit };
  if (spec.edit === 'amenity.add') {
    const a = AMENITY_TOOLS[tool];
    Object.assign(properties, { category: a.category, kind: a.kind, name: `${t(`plan.tool.${tool}`)} ${id}` });
  } else if (spec.edit === 'housing.add') {
    Object.assign(properties, { residents: 5000, name: `${t('plan.tool.housing.add')} ${id}` });
  } else if (spec.edit === 'park.add') {
    Object.assign(properties, { kind: 'park', name: `${t('plan.tool.park.add')} ${id}` });
  } else if (spec.edit === 'street.link') {
    Object.assign(properties, { name: `${t('plan.tool.street.link')} ${id}`, lit: true });
  } else if (spec.edit === 'building.add') {
    Object.assign(properties, { levels: 9, use: 'residential' });
  } else if (spec.edit === 'transit.route.add') {
    const mode = TRANSIT_MODES.bus;
    Object.assign(properties, { name: `${t('plan.tool.transit.route.add')} ${id}`, mode: 'bus', headway_peak_min: mode.peak, headway_offpeak_min: mode.offpeak });
  } else if (spec.edit === 'transit.stop.add') {
    Object.assign(properties, { name: `${t('plan.tool.transit.stop.add')} ${id}` });
  } else if (spec.edit === 'fire_station.add') {
    Object.assign(properties, { name: `${t('plan.tool.fire_station.add')} ${id}` });
  }
  return { type: 'Feature', id, geometry, properties: { ...properties, ...extra } };
}

/** A tool's geometry from the corners drawn, or a sentence saying what is missing. */
export function finishShape(kind, points) {
  if (kind === 'line') {
    if (points.length < 2) return { error: t('plan.draw.line') };
    return { geometry: { type: 'LineString', coordinates: points } };
  }
  if (points.length < 3) return { error: t('plan.draw.polygon') };
  return { geometry: { type: 'Polygon', coordinates: [[...points, points[0]]] } };
}

// ---- the form of one edit ---------------------------------------------------------------------

function options(values, current, label = (v) => v.replace(/_/g, ' ')) {
  return values.map((v) => `<option value="${esc(v)}" ${v === current ? 'selected' : ''}>${esc(label(v))}</option>`).join('');
}

function field(labelKey, input) {
  return `<label class="plan-field"><span>${esc(t(labelKey))}</span>${input}</label>`;
}

function text(name, value, extra = '') {
  return `<input type="text" data-param="${name}" value="${esc(value ?? '')}" ${extra}>`;
}

function number(name, value, extra = '') {
  return `<input type="number" data-param="${name}" value="${esc(value ?? '')}" ${extra}>`;
}

/** The housing amount the edit carries: residents, dwellings or people per hectare. */
function housingAmount(p) {
  return HOUSING_AMOUNTS.find((k) => p[k] != null) ?? 'residents';
}

/** The parameters' inputs of one edit (what its kind takes, in the contract's names). */
export function editForm(feature, writable) {
  const p = feature.properties;
  const off = writable ? '' : 'disabled';
  const parts = [];
  switch (p.edit) {
    case 'amenity.add':
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(field('plan.f.kind', `<select data-param="kind" ${off}>${options(KINDS[p.category] ?? [p.kind], p.kind)}</select>`));
      parts.push(field(p.category === 'healthcare' ? 'plan.f.visits' : 'plan.f.capacity', number('capacity', p.capacity, `min="0" step="1" placeholder="${esc(t('plan.f.median'))}" ${off}`)));
      break;
    case 'amenity.move':
    case 'amenity.remove':
      parts.push(`<p class="muted">${esc(t('plan.f.amenity', { id: p.amenity }))}</p>`);
      break;
    case 'park.remove':
      parts.push(`<p class="muted">${esc(t('plan.f.park', { id: p.park }))}</p>`);
      break;
    case 'park.add':
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(field('plan.f.kind', `<select data-param="kind" ${off}>${options(PARK_KINDS, p.kind)}</select>`));
      break;
    case 'housing.add': {
      const amount = housingAmount(p);
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(field('plan.f.amount', `<select data-param="_amount" ${off}>${options(HOUSING_AMOUNTS, amount, (v) => t(`plan.f.${v}`))}</select>`));
      parts.push(field(`plan.f.${amount}`, number(amount, p[amount], `min="0" step="${amount === 'density_pph' ? 'any' : '1'}" ${off}`)));
      break;
    }
    case 'street.link':
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(`<label class="plan-field check"><input type="checkbox" data-param="lit" ${p.lit !== false ? 'checked' : ''} ${off}><span>${esc(t('plan.f.lit'))}</span></label>`);
      break;
    case 'transit.route.add': {
      const mode = TRANSIT_MODES[p.mode] ?? TRANSIT_MODES.bus;
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(field('plan.f.mode', `<select data-param="mode" ${off}>${options(Object.keys(TRANSIT_MODES), p.mode ?? 'bus', (v) => t(`plan.mode.${v}`))}</select>`));
      parts.push(field('plan.f.headway_peak', number('headway_peak_min', p.headway_peak_min, `min="1" max="240" step="any" placeholder="${mode.peak}" ${off}`)));
      parts.push(field('plan.f.headway_offpeak', number('headway_offpeak_min', p.headway_offpeak_min, `min="1" max="240" step="any" placeholder="${mode.offpeak}" ${off}`)));
      parts.push(field('plan.f.speed', number('speed_kmh', p.speed_kmh, `min="1" max="100" step="any" placeholder="${mode.speed}" ${off}`)));
      if (feature.geometry?.type !== 'MultiPoint') parts.push(field('plan.f.spacing', number('stop_spacing_m', p.stop_spacing_m, `min="100" max="5000" step="any" placeholder="${mode.spacing}" ${off}`)));
      parts.push(field('plan.f.hours', text('service_hours', p.service_hours, `placeholder="${SERVICE_HOURS}" ${off}`)));
      parts.push(`<p class="muted small" data-route-facts>${esc(t('plan.route.facts', { km: formatNumber(routeLengthKm(feature), 1), stops: formatNumber(routeStops(feature).length, 0) }))}</p>`);
      parts.push(`<p class="muted small">${esc(t('plan.route.defaults'))}</p>`);
      break;
    }
    case 'transit.stop.add':
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(`<p class="muted">${esc(t('plan.f.route', { id: p.route ?? '?' }))}</p>`);
      break;
    case 'fire_station.add':
      parts.push(field('plan.f.name', text('name', p.name, off)));
      parts.push(`<p class="muted small">${esc(t('plan.about.fire_station.add'))}</p>`);
      break;
    case 'building.add':
      parts.push(field('plan.f.levels', number('levels', p.levels, `min="1" max="60" step="1" ${off}`)));
      parts.push(field('plan.f.use', `<select data-param="use" ${off}>${options(BUILDING_USES, p.use)}</select>`));
      break;
    default:
      parts.push(`<p class="muted">${esc(t(`plan.about.${p.edit}`))}</p>`);
  }
  return parts.join('');
}

/** Apply one input of an edit's form to the edit (numbers as numbers, empty as absent). */
export function applyParam(feature, input) {
  const p = feature.properties;
  const name = input.dataset.param;
  if (name === '_amount') {
    const old = housingAmount(p);
    const value = p[old];
    for (const k of HOUSING_AMOUNTS) delete p[k];
    p[input.value] = value;
    return true;   // the form changes shape: draw it again
  }
  if (name === 'mode' && p.edit === 'transit.route.add') {
    // figures left at the old mode's defaults (the server fills them in when it stores the
    // plan) follow the new mode's: headways shown; speed and spacing emptied back to defaults
    const was = TRANSIT_MODES[p.mode] ?? TRANSIT_MODES.bus;
    const now = TRANSIT_MODES[input.value] ?? TRANSIT_MODES.bus;
    if (p.headway_peak_min == null || p.headway_peak_min === was.peak) p.headway_peak_min = now.peak;
    if (p.headway_offpeak_min == null || p.headway_offpeak_min === was.offpeak) p.headway_offpeak_min = now.offpeak;
    if (p.speed_kmh === was.speed) delete p.speed_kmh;
    if (p.stop_spacing_m === was.spacing) delete p.stop_spacing_m;
    p.mode = input.value;
    return true;
  }
  if (input.type === 'checkbox') p[name] = input.checked;
  else if (input.type === 'number') {
    if (input.value === '') delete p[name];
    else p[name] = Number(input.value);
  } else if (input.value === '') delete p[name];
  else p[name] = input.value;
  return false;
}

/** One line in the edit list: what the edit is, in the planner's words. */
export function editLabel(feature) {
  const p = feature.properties ?? {};
  const kind = t(`plan.kind.${p.edit}`);
  if (p.edit === 'amenity.add') return `${kind}: ${p.name ?? p.kind} (${category(p.category)})`;
  if (p.edit === 'housing.add') {
    const amount = housingAmount(p);
    return `${kind}: ${p.name ?? ''} · ${formatNumber(p[amount] ?? null, 1)} ${t(`plan.unit.${amount}`)}`;
  }
  if (p.edit === 'building.add') return `${kind}: ${p.levels ?? '?'} × ${p.use ?? ''}`;
  if (p.edit === 'amenity.move' || p.edit === 'amenity.remove') return `${kind}: #${p.amenity}`;
  if (p.edit === 'park.remove') return `${kind}: #${p.park}`;
  if (p.edit === 'transit.route.add') {
    const mode = TRANSIT_MODES[p.mode] ?? TRANSIT_MODES.bus;
    const every = `${formatNumber(p.headway_peak_min ?? mode.peak, 1)}/${formatNumber(p.headway_offpeak_min ?? mode.offpeak, 1)} ${t('plan.unit.min')}`;
    return `${kind}: ${p.name ?? ''} · ${t(`plan.mode.${p.mode ?? 'bus'}`)} · ${every}`;
  }
  if (p.edit === 'transit.stop.add') return `${kind}: ${p.name ?? ''} (${t('plan.f.route', { id: p.route ?? '?' })})`;
  return p.name ? `${kind}: ${p.name}` : kind;
}

// ---- moving an edit's corners --------------------------------------------------------------------

let handles = [];

export function clearHandles() {
  for (const m of handles) m.remove();
  handles = [];
}

function vertices(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Point') return [geometry.coordinates];
  if (geometry.type === 'LineString') return geometry.coordinates;
  if (geometry.type === 'Polygon') return geometry.coordinates[0].slice(0, -1);
  return [];
}

/** Draggable handles on the selected edit's point or corners; `moved` after each drag. */
export function showHandles(map, feature, writable, moved) {
  clearHandles();
  if (!feature?.geometry || !writable) return;
  const g = feature.geometry;
  vertices(g).forEach((coords, i) => {
    const el = document.createElement('div');
    el.className = 'plan-handle';
    el.dataset.vertex = String(i);
    const marker = new maplibregl.Marker({ element: el, draggable: true }).setLngLat(coords).addTo(map);
    marker.on('dragend', () => {
      const { lng, lat } = marker.getLngLat();
      if (g.type === 'Point') g.coordinates = [lng, lat];
      else if (g.type === 'LineString') g.coordinates[i] = [lng, lat];
      else {
        const ring = g.coordinates[0];
        ring[i] = [lng, lat];
        if (i === 0) ring[ring.length - 1] = [lng, lat];
      }
      moved();
    });
    handles.push(marker);
  });
}

/** Which tools the panel offers, in groups. */
export const TOOL_GROUPS = [
  ['plan.group.amenities', [...Object.keys(AMENITY_TOOLS), 'amenity.move', 'amenity.remove']],
  ['plan.group.housing', ['housing.add', 'housing.remove', 'building.add']],
  ['plan.group.green', ['park.add', 'park.remove']],
  ['plan.group.streets', ['street.link', 'street.close', 'street.light']],
  ['plan.group.transit', ['transit.route.add', 'transit.stop.add']],
  ['plan.group.safety', ['fire_station.add']],
];

export function warnDraw(message) {
  notify(message, 'warn', { key: 'plan-draw' });
}

// Isochrone mode: click the map for the 5, 10 and 15-minute walking areas and what lies inside.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { execute } from './api.js';
import { t, category, formatNumber } from './i18n.js';
import { esc, own } from './notice.js';

const SOURCE = 'isochrone';
const AMENITIES = 'isochrone-amenities';
// Bands in blues (nothing else on the map is drawn in them), darker = nearer; amenity dots in
// the Okabe-Ito colours of the amenities layer.
const COLOURS = { 5: '#08519c', 10: '#3182bd', 15: '#6baed6' };
const CATEGORY_COLOURS = { education: '#0072b2', healthcare: '#d55e00', commerce: '#e69f00', culture_sport: '#cc79a7', parks: '#009e73', transit: '#2d3436' };
const CATEGORIES = Object.keys(CATEGORY_COLOURS);
// While an isochrone is shown, what would hide it (3D buildings, plots) is drawn fainter.
const DIMMED = { 'buildings-extrusion': ['fill-extrusion-opacity', 0.35], 'buildings-footprint': ['fill-opacity', 0.35], 'plots-fill': ['fill-opacity', 0.2] };
let dimmed = {};

const options = { mode: 'slope', lit_only: false, profile: 'standard', transit: false, departure: '08:00' };
const PROFILES = ['standard', 'slow', 'wheelchair', 'night'];
// The hours departures are offered for: the whole day (night buses run 23:00-05:00).
const DAY = [0, 23];
let marker = null;
let last = null;

function ensureLayers(map) {
  if (map.getSource(SOURCE)) return;
  const empty = { type: 'FeatureCollection', features: [] };
  map.addSource(SOURCE, { type: 'geojson', data: empty });
  map.addSource(AMENITIES, { type: 'geojson', data: empty });
  const colour = ['match', ['to-number', ['get', 'minutes']], 5, COLOURS[5], 10, COLOURS[10], 15, COLOURS[15], '#74b9ff'];
  map.addLayer({ id: 'isochrone-fill', type: 'fill', source: SOURCE, paint: { 'fill-color': colour, 'fill-opacity': 0.4 } });
  map.addLayer({ id: 'isochrone-casing', type: 'line', source: SOURCE, paint: { 'line-color': '#ffffff', 'line-width': 6, 'line-opacity': 0.9 } });
  map.addLayer({ id: 'isochrone-line', type: 'line', source: SOURCE, paint: { 'line-color': colour, 'line-width': 3 } });
  map.addLayer({ id: 'isochrone-amenities', type: 'circle', source: AMENITIES, paint: {
    'circle-radius': 6, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5,
    'circle-color': ['match', ['get', 'category'], ...Object.entries(CATEGORY_COLOURS).flat(), '#636e72'],
  } });
}

function dim(map, on) {
  for (const [id, [prop, value]] of Object.entries(DIMMED)) {
    if (!map.getLayer(id)) continue;
    if (on && !(id in dimmed)) {
      dimmed[id] = map.getPaintProperty(id, prop);
      map.setPaintProperty(id, prop, value);
    } else if (!on && id in dimmed) {
      map.setPaintProperty(id, prop, dimmed[id] ?? 1);
    }
  }
  if (!on) dimmed = {};
}

/** Categories with no amenity within the largest band (the process's amenity counts). */
export function missingCategories(result) {
  const bands = (result?.features ?? []).map((f) => Number(f.properties?.minutes)).filter(Number.isFinite);
  if (!bands.length) return { minutes: null, missing: [] };
  const largest = Math.max(...bands);
  const counts = result.amenity_counts?.[String(largest)] ?? null;
  const found = counts ? new Set(Object.keys(counts).filter((c) => counts[c] > 0))
    : new Set(amenityList(result).filter((a) => (a.minutes ?? 0) <= largest).map((a) => a.category));
  return { minutes: largest, missing: CATEGORIES.filter((c) => !found.has(c)) };
}

function clearLayers(map) {
  dim(map, false);
  const empty = { type: 'FeatureCollection', features: [] };
  map.getSource(SOURCE)?.setData(empty);
  map.getSource(AMENITIES)?.setData(empty);
  marker?.remove();
  marker = null;
}

/** The amenities of a result as [{name, category, kind, minutes, geometry}], whatever its shape. */
export function amenityList(result) {
  const raw = result?.amenities ?? [];
  const list = Array.isArray(raw) ? raw : raw.features ?? [];
  return list.map((a) => (a.type === 'Feature' ? { ...a.properties, geometry: a.geometry } : a));
}

function areasOf(result) {
  const features = (result?.features ?? []).filter((f) => f.geometry);
  // Largest first so the 5-minute area is drawn on top.
  return features.sort((a, b) => Number(b.properties?.minutes ?? 0) - Number(a.properties?.minutes ?? 0));
}

/** Departure times on the 24-hour clock, every half hour of the day: a select, not
 * <input type="time">, which writes the browser's clock ("08:00 AM") whatever the page's language. */
function departures() {
  const times = [];
  for (let h = DAY[0]; h <= DAY[1]; h += 1) times.push(`${String(h).padStart(2, '0')}:00`, `${String(h).padStart(2, '0')}:30`);
  return times.includes(options.departure) ? times : [...times, options.departure].sort();
}

function controls() {
  return `
    <div class="seg" id="iso-mode">
      <button type="button" data-iso-mode="slope" class="${options.mode === 'slope' ? 'active' : ''}">${esc(t('iso.slope'))}</button>
      <button type="button" data-iso-mode="flat" class="${options.mode === 'flat' ? 'active' : ''}">${esc(t('iso.flat'))}</button>
    </div>
    <label class="row"><input type="checkbox" id="iso-lit" ${options.lit_only ? 'checked' : ''}> ${esc(t('iso.lit'))}</label>
    <label class="row">${esc(t('iso.profile'))}
      <select id="iso-profile">${PROFILES.map((p) => `<option value="${p}" ${options.profile === p ? 'selected' : ''}>${esc(t(`profile.${p}`))}</option>`).join('')}</select></label>
    <label class="row"><input type="checkbox" id="iso-transit" ${options.transit ? 'checked' : ''}> ${esc(t('iso.transit'))}</label>
    <label class="row">${esc(t('iso.departure'))}
      <select id="iso-departure" ${options.transit ? '' : 'disabled'}>${departures().map((d) => `<option value="${d}" ${d === options.departure ? 'selected' : ''}>${d}</option>`).join('')}</select></label>`;
}

function resultHtml(result) {
  const areas = areasOf(result);
  if (!areas.length) return `<p class="error-text" data-empty="isochrone">${esc(t('iso.empty'))}</p>`;
  const legend = areas.slice().reverse().map((f) => `<span class="pill" style="background:${own(COLOURS, f.properties.minutes, '#74b9ff')};color:#fff">${esc(t('iso.minutes', { m: f.properties.minutes }))}${f.properties.area_km2 != null ? ` · ${esc(formatNumber(f.properties.area_km2, 2))} ${esc(t('unit.km2'))}` : ''}</span>`).join(' ');
  const amenities = amenityList(result);
  const { minutes, missing } = missingCategories(result);
  const lacks = missing.length
    ? `<p class="error-text" data-missing="${esc(missing.join(' '))}">${missing.map((c) => esc(t('iso.lacks', { cat: category(c), m: minutes }))).join('<br>')}</p>`
    : '';
  let list;
  if (!amenities.length) {
    list = `<p class="muted" data-empty="amenities">${esc(t('iso.none'))}</p>`;
  } else {
    const byCat = new Map();
    for (const a of amenities) {
      const key = a.category ?? 'other';
      if (!byCat.has(key)) byCat.set(key, []);
      byCat.get(key).push(a);
    }
    list = [...byCat.entries()].map(([cat, rows]) => `
      <h3><span class="swatch" style="display:inline-block;width:10px;height:10px;border-radius:50%;background:${own(CATEGORY_COLOURS, cat, '#636e72')}"></span> ${esc(category(cat))} (${rows.length})</h3>
      <table class="attrs">${rows.sort((a, b) => (a.minutes ?? 99) - (b.minutes ?? 99)).slice(0, 30).map((a) => `<tr><th>${esc(a.name || a.kind || '')}</th><td>${a.minutes != null ? esc(t('iso.minutes', { m: formatNumber(a.minutes, 1) })) : ''}</td></tr>`).join('')}</table>`).join('');
  }
  return `<div class="row">${legend}</div>${lacks}<h3>${esc(t('iso.amenities'))} (${amenities.length})</h3><div id="iso-amenities" data-count="${amenities.length}">${list}</div>`;
}

function render(app) {
  app.side().innerHTML = `
    <div class="card" data-panel="isochrone">
      <h2>${esc(t('iso.title'))}</h2>
      <p class="muted">${esc(t('iso.hint'))}</p>
      ${controls()}
      <div id="iso-result">${last ? resultHtml(last) : ''}</div>
    </div>`;
  app.side().querySelector('#iso-mode').onclick = (event) => {
    if (!event.target.dataset.isoMode) return;
    options.mode = event.target.dataset.isoMode;
    render(app);
    if (marker) run(app, marker.getLngLat());
  };
  app.side().querySelector('#iso-lit').onchange = (event) => {
    options.lit_only = event.target.checked;
    if (marker) run(app, marker.getLngLat());
  };
  app.side().querySelector('#iso-profile').onchange = (event) => {
    options.profile = event.target.value;
    if (marker) run(app, marker.getLngLat());
  };
  app.side().querySelector('#iso-transit').onchange = (event) => {
    options.transit = event.target.checked;
    app.side().querySelector('#iso-departure').disabled = !options.transit;
    if (marker) run(app, marker.getLngLat());
  };
  app.side().querySelector('#iso-departure').onchange = (event) => {
    options.departure = event.target.value;
    if (marker && options.transit) run(app, marker.getLngLat());
  };
}

async function run(app, lngLat) {
  ensureLayers(app.map);
  marker?.remove();
  // A pin, not a dot: transit stops and amenities are dots.
  marker = new maplibregl.Marker({ color: '#c2185b', scale: 1.1 }).setLngLat(lngLat).addTo(app.map);
  marker.getElement().classList.add('iso-origin');
  marker.getElement().title = t('iso.origin');
  const box = app.side().querySelector('#iso-result');
  if (box) box.innerHTML = `<p class="muted">${esc(t('iso.computing'))}</p>`;
  try {
    const inputs = { lon: lngLat.lng, lat: lngLat.lat, minutes: [5, 10, 15], profile: options.profile, lit_only: options.lit_only };
    // the slope/flat choice is the average adult's model; the other walkers have their own
    inputs.mode = options.profile === 'standard' ? options.mode : 'slope';
    if (options.transit) Object.assign(inputs, { modes: ['walk', 'transit'], departure: options.departure });
    const result = await execute('isochrone', inputs);
    last = result;
    app.map.getSource(SOURCE).setData({ type: 'FeatureCollection', features: areasOf(result) });
    dim(app.map, true);
    const points = amenityList(result).filter((a) => a.geometry).map((a) => ({ type: 'Feature', geometry: a.geometry, properties: { category: a.category, name: a.name } }));
    app.map.getSource(AMENITIES).setData({ type: 'FeatureCollection', features: points });
    if (app.state.mode === 'isochrone') render(app);
  } catch (error) {
    last = null;
    const el = app.side().querySelector('#iso-result');
    if (el) el.innerHTML = `<p class="error-text" data-error="isochrone">${esc(error.message)}</p>`;
  }
}

export const isochroneMode = {
  name: 'isochrone',
  enter(app) {
    ensureLayers(app.map);
    app.hint(t('iso.hint'));
    render(app);
  },
  leave(app) {
    clearLayers(app.map);
    last = null;
  },
  click(app, event) {
    return run(app, event.lngLat);
  },
};

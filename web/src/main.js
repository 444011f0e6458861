// Almaty Twin viewer: MapLibre GL JS in 3D on the twin's own tiles and terrain.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { getJSON, items } from './api.js';
import { setLang, t, lang, localName } from './i18n.js';
import { notify, esc } from './notice.js';
import { baseStyle, catalogStyleLayers, sourceFor, sourceId, DEM } from './style.js';
import { renderPanel, setLayerVisible, setLayerOpacity } from './panel.js';
import { addSelectionLayers, featureAt, openCard, highlight } from './pick.js';
import { readView, writeView } from './viewstate.js';
import { fifteenMode } from './fifteen.js';
import { isochroneMode } from './isochrone.js';
import { scenarioMode } from './scenario.js';
import { indicatorsMode } from './indicators.js';
import { setupSearch } from './search.js';

// Looking south over the city towards the Trans-Ili Alatau: terrain, buildings and sky at once.
const DEFAULT_CAMERA = { zoom: 14.2, pitch: 55, bearing: 160 };

const exploreMode = {
  name: 'explore',
  enter(app) {
    app.hint(t('explore.hint'));
    if (!app.side().innerHTML.trim()) {
      app.side().innerHTML = `<div class="card"><h2>${esc(t('explore.title'))}</h2><p>${esc(t('explore.body'))}</p></div>`;
    }
  },
  leave() {},
  async click(app, event) {
    const hit = featureAt(app, event.point);
    if (!hit) {
      highlight(app.map, null);
      return;
    }
    await openCard(app, hit.feature, hit.entry);
  },
};

const MODES = { explore: exploreMode, fifteen: fifteenMode, isochrone: isochroneMode, scenario: scenarioMode, indicators: indicatorsMode };

const app = {
  map: null,
  catalog: null,
  entries: new Map(),
  modes: MODES,
  state: { mode: 'explore', visible: new Set(), opacity: {}, cat: null, plot: null },
  status: { tiles: null, terrain: null, errors: [] },
  side() { return document.getElementById('side-body'); },
  hint(text) {
    const el = document.getElementById('mode-hint');
    el.textContent = text ?? '';
    el.hidden = !text;
  },
  saveView() {
    if (!app.map) return;
    writeView({
      camera: { zoom: app.map.getZoom(), center: app.map.getCenter().toArray(), bearing: app.map.getBearing(), pitch: app.map.getPitch() },
      layers: [...app.state.visible],
      mode: app.state.mode !== 'explore' ? app.state.mode : null,
      lang: lang() !== 'en' ? lang() : null,
      cat: app.state.cat,
      plot: app.state.plot,
    });
  },
  async setMode(name) {
    const next = MODES[name] ? name : 'explore';
    const previous = MODES[app.state.mode];
    if (previous && previous.name !== next) previous.leave?.(app);
    app.state.mode = next;
    for (const button of document.querySelectorAll('#modes button')) {
      button.classList.toggle('active', button.dataset.mode === next);
    }
    app.map.getCanvas().style.cursor = next === 'explore' ? '' : 'crosshair';
    app.hint(null);
    app.saveView();
    await MODES[next].enter?.(app);
  },
  setLayerVisible(name, visible) { setLayerVisible(app, name, visible); },
  isVisible(name) { return app.state.visible.has(name); },
};
window.twin = app;

function showFatal(message) {
  document.getElementById('map').innerHTML = `<div class="card" style="margin:40px auto;max-width:520px"><h2>${esc(t('app.title'))}</h2><p>${esc(message)}</p></div>`;
  notify(message, 'error');
}

async function probe(url) {
  try {
    return { ok: true, json: await getJSON(url) };
  } catch (error) {
    return { ok: false, error: error.message };
  }
}

async function districtLabels() {
  const markers = [];
  try {
    const page = await items('districts', { limit: 100 });
    const polys = await items('polycentres', { limit: 100 }).catch(() => ({ features: [] }));
    const place = (feature, className, text) => {
      const bounds = new maplibregl.LngLatBounds();
      const walk = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(walk));
      if (!feature.geometry) return;
      walk(feature.geometry.coordinates);
      const el = document.createElement('div');
      el.className = className;
      el.textContent = text;
      markers.push({ marker: new maplibregl.Marker({ element: el }).setLngLat(bounds.getCenter()), feature, el });
    };
    for (const f of page.features ?? []) place(f, 'district-label', localName(f.properties));
    for (const f of polys.features ?? []) place(f, 'district-label polycentre-label', lang() === 'en' ? f.properties.name : (f.properties.name_ru ?? f.properties.name));
  } catch (error) {
    notify(error.message, 'warn', { key: 'labels' });
  }
  return markers;
}

function syncLabels() {
  for (const { marker, feature, el } of app.labels ?? []) {
    const layer = el.classList.contains('polycentre-label') ? 'polycentres' : 'districts';
    if (layer === 'districts') el.textContent = localName(feature.properties);
    if (app.state.visible.has(layer)) marker.addTo(app.map); else marker.remove();
  }
}

function addCatalogLayers(map, tilejson) {
  const entries = [...app.entries.values()];
  const available = new Set((tilejson?.vector_layers ?? []).map((l) => l.id));
  const shown = entries.filter((e) => !available.size || available.has(e.name));
  for (const entry of shown) {
    map.addSource(sourceId(entry.name), { ...sourceFor(entry, location.origin), bounds: tilejson.bounds, attribution: tilejson.attribution });
  }
  for (const layer of catalogStyleLayers(shown)) {
    layer.layout.visibility = app.state.visible.has(layer.metadata.twinLayer) ? 'visible' : 'none';
    map.addLayer(layer);
  }
}

async function boot() {
  const view = readView();
  setLang(view.lang ?? (navigator.language?.startsWith('ru') ? 'ru' : 'en'));
  let catalog;
  try {
    catalog = await getJSON('/viewer/layers.json');
  } catch (error) {
    showFatal(t('err.catalog', { error: error.message }));
    return;
  }
  app.catalog = catalog;
  for (const group of catalog.groups) for (const entry of group.layers) app.entries.set(entry.name, entry);
  app.state.visible = new Set(view.layers ?? [...app.entries.values()].filter((e) => e.visible).map((e) => e.name));
  app.state.cat = view.cat ?? null;
  renderPanel(app);

  const [tiles, terrain] = await Promise.all([probe(catalog.endpoints.tiles), probe(catalog.endpoints.terrain)]);
  app.status.tiles = tiles;
  app.status.terrain = terrain;
  if (!tiles.ok) notify(t('err.tiles', { error: tiles.error }), 'error', { key: 'tiles' });
  if (!terrain.ok) notify(t('err.terrain', { error: terrain.error }), 'warn', { key: 'terrain' });

  const tj = tiles.ok ? tiles.json : null;
  let camera = view.camera;
  if (!camera) {
    const c = tj?.center ?? catalog.center;
    camera = { center: [c[0], c[1]], ...DEFAULT_CAMERA };
  }
  let map;
  try {
    map = new maplibregl.Map({
      container: 'map',
      style: baseStyle(),
      center: camera.center,
      zoom: camera.zoom,
      pitch: camera.pitch,
      bearing: camera.bearing,
      maxPitch: 80,
      fadeDuration: 0,
      hash: false,
      attributionControl: { compact: true, customAttribution: 'Almaty Twin' },
      canvasContextAttributes: { preserveDrawingBuffer: true },
    });
  } catch (error) {
    showFatal(t('err.webgl', { error: error.message }));
    return;
  }
  app.map = map;
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');

  const reported = new Set();
  map.on('error', (event) => {
    const source = event.sourceId ?? event.source?.id ?? 'map';
    const message = event.error?.message ?? String(event.error ?? 'error');
    app.status.errors.push({ source, message });
    if (reported.has(source)) return;
    reported.add(source);
    notify(`${source}: ${message}`, 'warn', { key: `map-${source}` });
  });

  map.on('load', async () => {
    if (terrain.ok) {
      const dem = terrain.json;
      map.addSource(DEM, { type: 'raster-dem', tiles: dem.tiles, minzoom: dem.minzoom ?? 0, maxzoom: dem.maxzoom ?? 14, bounds: dem.bounds, encoding: dem.encoding ?? 'terrarium', tileSize: dem.tileSize ?? dem.tile_size ?? 256, attribution: dem.attribution });
      // Hillshade from its own source over the same tiles (MapLibre draws both better apart).
      map.addSource(`${DEM}-shade`, { type: 'raster-dem', tiles: dem.tiles, minzoom: dem.minzoom ?? 0, maxzoom: dem.maxzoom ?? 14, bounds: dem.bounds, encoding: dem.encoding ?? 'terrarium', tileSize: dem.tileSize ?? dem.tile_size ?? 256 });
      map.addLayer({ id: 'hillshade', type: 'hillshade', source: `${DEM}-shade`, paint: { 'hillshade-exaggeration': 0.45, 'hillshade-shadow-color': '#5a6b5d', 'hillshade-highlight-color': '#ffffff', 'hillshade-accent-color': '#8a9a7b' } });
      map.setTerrain({ source: DEM, exaggeration: 1.0 });
    }
    if (tiles.ok) addCatalogLayers(map, tj);
    addSelectionLayers(map);
    // Ready = the first idle map (style, terrain and visible tiles drawn) and the page wired up.
    const idled = new Promise((resolve) => map.once('idle', () => { app.firstIdle = performance.now(); resolve(); }));
    for (const [name, value] of Object.entries(app.state.opacity)) setLayerOpacity(app, name, value);
    app.labels = await districtLabels();
    syncLabels();
    app.onLayersChanged = () => { syncLabels(); MODES[app.state.mode].onLayersChanged?.(app); };
    await app.setMode(view.mode ?? 'explore');
    if (view.plot && app.state.mode === 'explore') {
      getJSON(`/collections/plots/items/${encodeURIComponent(view.plot)}?f=json`)
        .then((plot) => openCard(app, plot, app.entries.get('plots')))
        .catch((error) => notify(error.message, 'warn'));
    }
    await idled;
    document.body.dataset.ready = '1';
  });
  map.on('moveend', () => app.saveView());
  map.on('click', (event) => {
    Promise.resolve(MODES[app.state.mode].click?.(app, event)).catch((error) => notify(error.message, 'error'));
  });
  map.on('dblclick', (event) => MODES[app.state.mode].dblclick?.(app, event));

  document.getElementById('modes').onclick = (event) => {
    const mode = event.target.dataset.mode;
    if (mode) app.setMode(mode);
  };
  document.getElementById('lang').onclick = (event) => {
    const code = event.target.dataset.lang;
    if (!code) return;
    setLang(code);
    renderPanel(app);
    syncLabels();
    app.saveView();
    MODES[app.state.mode].enter?.(app);
  };
  document.body.addEventListener('click', (event) => {
    if (event.target.dataset.close === 'dashboard') app.setMode('explore');
  });
  setupSearch(app);
}

boot().catch((error) => showFatal(error.message));

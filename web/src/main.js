// Almaty Twin viewer: MapLibre GL JS in 3D on the twin's own tiles and terrain.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { getJSON } from './api.js';
import { setLang, t, lang, setWords } from './i18n.js';
import { notify, esc } from './notice.js';
import { baseStyle, catalogStyleLayers, sourceFor, sourceId, openingSource, OPENING, demSource, reliefSource, hillshadeLayer, DEM, SHADE } from './style.js';
import { renderPanel, setLayerVisible, setLayerOpacity } from './panel.js';
import { addSelectionLayers, featureAt, openCard, highlight } from './pick.js';
import { readView, writeView } from './viewstate.js';
import { setupSearch } from './search.js';
import { addLabelsToStyle, loadAreaLabels, syncLabels as syncLabelLayers } from './labels.js';
import { showDataBanner } from './provenance.js';

// The tile workers compile MapLibre's worker script while the catalog is fetched, not after.
maplibregl.prewarm();

// Where the first view's data comes from (the shared contract of the tiles and the viewer).
const CATALOG = '/viewer/layers.json';
const TILEJSON = '/tiles/WebMercatorQuad/tilejson.json';
const TERRAIN_JSON = '/terrain/tilejson.json';
const RELIEF_JSON = '/terrain/hillshade/tilejson.json';
// The hillshade layer (style.js hillshadeLayer), switched by the toolbar's Relief button.
const RELIEF = 'hillshade';

// From the north of the city looking south over its centre to the Trans-Ili Alatau: terrain,
// buildings and sky at once (the catalog's `center` is the point looked at, north of the middle).
const DEFAULT_CAMERA = { zoom: 12.5, pitch: 70, bearing: 180 };

// The first view is painted once its data are in. A tile that never comes (a stalled server)
// must not keep the map blank: after this long without a new tile it paints what it has, and
// after FIRST_PAINT_LIMIT_MS in all. Tiles still arriving (a loaded machine, a cold server took
// 16 s) are waited for: a partial frame on software WebGL costs as much as the whole view.
const FIRST_PAINT_WAIT_MS = 8000;
const FIRST_PAINT_LIMIT_MS = 30000;
// Frames (script only, nothing drawn) the first paint waits for the labels' placement to settle.
const PLACEMENT_FRAMES = 3;
// Vertices per side of a terrain tile's mesh (MapLibre: 128). The terrain model's tiles stop at
// zoom 11, so where the first view looks (terrain tiles of zoom 13) 64 is already one vertex per
// model pixel: the finer mesh only costs vertices.
const TERRAIN_MESH = 64;
// WebGL drawn by the CPU (no GPU: a VM, a remote desktop, CI), where every pixel counts.
const SOFTWARE_WEBGL = /swiftshader|llvmpipe|softpipe|software/i;
// The pitch above which MapLibre filters raster layers (the relief) anisotropically: never. On
// terrain a raster is drawn into the drapes seen from straight above, where anisotropic
// filtering changes no pixel but SwiftShader still pays for it (~14 % of a frame that re-drapes
// the view); the drapes themselves keep theirs. Flat (2D) the map is never tilted.
const RASTER_ANISOTROPY_PITCH = 90;

const exploreMode = {
  name: 'explore',
  enter(app) {
    app.hint(t('explore.hint'));
    // V5: setMode empties the panel of the mode before; a language switch re-enters the mode
    // and rewrites the introduction (a feature card stays)
    if (!app.side().innerHTML.trim() || app.side().querySelector('[data-intro="explore"]')) {
      app.side().innerHTML = `<div class="card" data-intro="explore"><h2>${esc(t('explore.title'))}</h2><p>${esc(t('explore.body'))}</p></div>`;
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

// The other modes (and their charts) load on first use, or in the background once the map is
// idle, so the first view parses only what it draws.
const MODE_LOADERS = {
  fifteen: () => import('./fifteen.js').then((m) => m.fifteenMode),
  isochrone: () => import('./isochrone.js').then((m) => m.isochroneMode),
  plans: () => import('./plans.js').then((m) => m.plansMode),
  indicators: () => import('./indicators.js').then((m) => m.indicatorsMode),
  // V5: everyday tools (tools.js), started from the map's toolbar
  measure: () => import('./tools.js').then((m) => m.measureMode),
  filter: () => import('./tools.js').then((m) => m.filterMode),
};
const MODES = { explore: exploreMode };

async function loadMode(name) {
  if (!MODES[name]) MODES[name] = await MODE_LOADERS[name]();
  return MODES[name];
}

const app = {
  map: null,
  catalog: null,
  entries: new Map(),
  modes: MODES,
  state: { mode: 'explore', visible: new Set(), opacity: {}, cat: null, plot: null, plan: null },
  status: { tiles: null, terrain: null, errors: [] },
  // The WebGL renderer, whether it is software, and whether the first paint is still held back.
  render: { name: '', software: false, waiting: false },
  // Milliseconds from navigation start to each step of the first view (read by `twin bench viewer`).
  timings: {},
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
      plan: app.state.plan,
      dim: app.state.flat ? '2d' : null,   // V6: the flat map survives a reload
      relief: app.state.relief === false ? 'off' : null,
      time: app.time?.isOpen ? app.time.hash() : null,   // the time slider (timeslider.js)
    });
  },
  async setMode(name) {
    // the what-if mode of old views (#mode=scenario) is the Plans panel now
    const wanted = name === 'scenario' ? 'plans' : name;
    let next = wanted === 'explore' || MODE_LOADERS[wanted] ? wanted : 'explore';
    try {
      await loadMode(next);
    } catch (error) {
      notify(t('err.network', { error: error.message }), 'error', { key: 'mode' });
      next = 'explore';
    }
    const previous = MODES[app.state.mode];
    if (previous && previous.name !== next) {
      previous.leave?.(app);
      // V5: nothing of the mode before lingers: its panel, cards and highlight go with it
      app.side().innerHTML = '';
      highlight(app.map, null);
      if (app.state.plot) app.state.plot = null;
    }
    app.state.mode = next;
    for (const button of document.querySelectorAll('#modes button, #map-tools button[data-mode]')) {
      button.classList.toggle('active', button.dataset.mode === next);
    }
    app.map.getCanvas().style.cursor = next === 'explore' ? '' : 'crosshair';
    app.hint(null);
    app.saveView();
    await MODES[next].enter?.(app);
  },
  setLayerVisible(name, visible) { setLayerVisible(app, name, visible); },
  /** The shaded relief under the map (the hillshade of the twin's terrain), on or off. */
  setRelief(on) {
    app.state.relief = on;
    const button = document.getElementById('relief');
    button.classList.toggle('active', on);
    button.setAttribute('aria-pressed', String(on));
    if (app.map?.getLayer(RELIEF)) app.map.setLayoutProperty(RELIEF, 'visibility', on ? 'visible' : 'none');
    app.saveView();
  },
  isVisible(name) { return app.state.visible.has(name); },
};
window.twin = app;

function mark(step) {
  if (!(step in app.timings)) app.timings[step] = Math.round(performance.now());
}

/** Timestamps of the first view: style, first vector tile, first terrain tile, first frame, idle. */
function watchFirstView(map) {
  map.once('style.load', () => mark('style'));
  map.once('load', () => mark('loaded'));
  let frames = 0;
  const onTile = (event) => {
    if (!event.tile) return;
    mark(event.sourceId?.startsWith(DEM) ? 'first_terrain_tile' : 'first_vector_tile');
    app.timings.last_tile = Math.round(performance.now());
  };
  const onRender = () => {
    if (app.render.waiting) return;   // nothing was drawn (see paintOnceLoaded)
    frames += 1;
    mark('first_frame');
  };
  map.on('sourcedata', onTile);
  map.on('render', onRender);
  map.once('idle', () => {
    mark('idle');
    app.timings.frames = frames;
    map.off('sourcedata', onTile);
    map.off('render', onRender);
    // `idle` fires once the last frame's commands are issued; the browser has drawn them when
    // the animation frame after the next one begins.
    requestAnimationFrame(() => requestAnimationFrame(() => mark('painted')));
  });
}

/**
 * What the browser draws with: software WebGL draws each pixel on the CPU, so there the layers
 * draped over the terrain are drawn at 1x (512 px per terrain tile) instead of MapLibre's 2x.
 */
function renderer(map) {
  const gl = map.painter.context.gl;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  return { name, software: SOFTWARE_WEBGL.test(name) };
}

/** The terrain's cost: a mesh no finer than the terrain model, drapes at 1x on software WebGL. */
function tuneTerrain(map) {
  const terrain = map.terrain;
  const drape = map.painter.renderToTexture;
  if (!terrain || !drape) return;
  terrain.meshSize = TERRAIN_MESH;
  if (app.render.software) drape.rttSize = terrain.tileManager.tileSize;
}

/**
 * Paint the first view once, when the style, the terrain and every visible tile are in, rather
 * than once per arriving tile: on terrain each partial frame costs about as much as the whole
 * view (0.3-2 s each in software WebGL, where 8-12 of them came before the map was complete),
 * and the planner sees the whole city at once. Later frames (panning, toggling a layer) paint as
 * their tiles arrive. After FIRST_PAINT_WAIT_MS without a new tile (or FIRST_PAINT_LIMIT_MS in
 * all) it paints whatever has arrived.
 */
function paintOnceLoaded(map) {
  const painter = map.painter;
  const paint = painter.render.bind(painter);
  const loading = document.getElementById('map-loading');
  let quiet = null;
  const onTile = (event) => {
    if (!event.tile) return;
    clearTimeout(quiet);
    quiet = setTimeout(() => release('timeout'), FIRST_PAINT_WAIT_MS);
  };
  const release = (why) => {
    if (!app.render.waiting) return;
    app.render.waiting = false;
    clearTimeout(quiet);
    map.off('sourcedata', onTile);
    app.timings.first_paint_on = why;
    painter.render = paint;
    if (loading) loading.hidden = true;
    mark('first_paint');
    if (why === 'timeout') map.triggerRepaint();   // otherwise this very frame paints
  };
  app.render.waiting = true;
  let placements = 0;
  painter.render = (...args) => {
    if (app.render.waiting && !map.loaded()) return;
    // The frame that brings the last symbol tiles marks the label placement stale, and MapLibre
    // draws the whole view again (0.5-1 s on software WebGL) once it is redone: let the
    // placement settle first (a few ms of script), then draw the view once.
    if (app.render.waiting && map._placementDirty && placements < PLACEMENT_FRAMES) {
      placements += 1;
      return;
    }
    release('loaded');
    paint(...args);
  };
  map.on('sourcedata', onTile);
  quiet = setTimeout(() => release('timeout'), FIRST_PAINT_WAIT_MS);
  setTimeout(() => release('timeout'), FIRST_PAINT_LIMIT_MS);
}

function showFatal(message) {
  document.getElementById('map-loading').hidden = true;
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

/** Labels follow their layers and the language (web/src/labels.js: MapLibre symbol layers). */
function syncLabels() {
  syncLabelLayers(app);
}

/**
 * The whole first view as one style: terrain (a raster-dem source for the 3D surface), the
 * shaded relief (the twin's ready-drawn hillshade tiles: MapLibre's own hillshade layer needs a
 * second DEM source and a render pass per tile, about a quarter of the first idle on software
 * WebGL), every catalog layer (hidden ones cost nothing: MapLibre requests tiles
 * only for sources with a visible layer) and the sky. One style, parsed once, lets the tiles
 * start loading with the map instead of after its `load` event.
 */
function firstViewStyle(tilejson, dem, shade) {
  const style = baseStyle();
  if (dem) {
    // the twin's own attribution (the terrain's TileJSON has the same) in the page's language
    const terrain = { ...dem, attribution: dem.attribution ? t('map.attribution') : undefined };
    style.sources[DEM] = demSource(terrain);
    if (shade) {
      style.sources[SHADE] = reliefSource({ ...shade, attribution: terrain.attribution });
      const relief = hillshadeLayer();
      if (app.state.relief === false) relief.layout = { visibility: 'none' };
      style.layers.push(relief);
    }
    style.terrain = { source: DEM, exaggeration: 1.0 };
  }
  if (tilejson) {
    const available = new Set((tilejson.vector_layers ?? []).map((l) => l.id));
    const shown = [...app.entries.values()].filter((e) => !available.size || available.has(e.name));
    // the twin's own attribution (twin.tiles.metadata.ATTRIBUTION) in the page's language
    const common = { bounds: tilejson.bounds, attribution: tilejson.attribution ? t('map.attribution') : undefined };
    for (const entry of shown) {
      style.sources[sourceId(entry.name)] = { ...sourceFor(entry, location.origin), ...common };
    }
    const opening = shown.filter((e) => app.state.visible.has(e.name));
    if (opening.length) style.sources[OPENING] = { ...openingSource(opening, location.origin), ...common };
    for (const layer of catalogStyleLayers(shown)) {
      const name = layer.metadata.twinLayer;
      layer.layout.visibility = app.state.visible.has(name) ? 'visible' : 'none';
      if (app.state.visible.has(name)) layer.source = OPENING;
      style.layers.push(layer);
    }
  }
  addLabelsToStyle(style, app.state.visible, location.origin);
  return style;
}

async function boot() {
  mark('modules');
  const view = readView();
  setLang(view.lang ?? (navigator.language?.startsWith('ru') ? 'ru' : 'en'));
  // Catalog, vector tileset and terrain at once (index.html started these requests already);
  // labels come later, off the map's path.
  const labels = loadAreaLabels();
  const [catalogProbe, tiles, terrain, relief] = await Promise.all(
    [probe(CATALOG), probe(TILEJSON), probe(TERRAIN_JSON), probe(RELIEF_JSON)]);
  if (!catalogProbe.ok) {
    showFatal(t('err.catalog', { error: catalogProbe.error }));
    return;
  }
  const catalog = catalogProbe.json;
  app.catalog = catalog;
  // the catalog's words for values (a street's class, a plot's use) wherever they are shown
  setWords(catalog);
  mark('catalog');
  for (const group of catalog.groups) for (const entry of group.layers) app.entries.set(entry.name, entry);
  app.state.visible = new Set(view.layers ?? [...app.entries.values()].filter((e) => e.visible).map((e) => e.name));
  app.state.cat = view.cat ?? null;
  app.state.plan = view.plan ?? null;
  // the shaded relief is on unless the view says off (#relief=off)
  app.state.relief = view.relief !== 'off';
  renderPanel(app);
  showDataBanner(app);

  app.status.tiles = tiles;
  app.status.terrain = terrain;
  if (!tiles.ok) notify(t('err.tiles', { error: tiles.error }), 'error', { key: 'tiles' });
  if (!terrain.ok) notify(t('err.terrain', { error: terrain.error }), 'warn', { key: 'terrain' });

  app.setRelief(app.state.relief);
  document.getElementById('relief').hidden = !terrain.ok;
  const camera = view.camera ?? { center: catalog.center, ...DEFAULT_CAMERA };
  let map;
  try {
    map = new maplibregl.Map({
      container: 'map',
      style: firstViewStyle(tiles.ok ? tiles.json : null, terrain.ok ? terrain.json : null,
        relief.ok ? relief.json : null),
      center: camera.center,
      zoom: camera.zoom,
      pitch: camera.pitch,
      bearing: camera.bearing,
      // The ground's height under the centre, known before the terrain tiles arrive: the camera
      // does not jump (and ask for a second set of tiles) when they do.
      elevation: terrain.ok ? (catalog.center_elevation ?? 0) : 0,
      maxPitch: 80,
      anisotropicFilterPitch: RASTER_ANISOTROPY_PITCH,
      fadeDuration: 0,
      // Tiles carry `max-age=30`; MapLibre would re-request every visible tile each 30 s (and a
      // slow machine would never see an idle map). The data changes only by edits: a reload shows them.
      refreshExpiredTiles: false,
      hash: false,
      attributionControl: { compact: true, customAttribution: t('app.title') },
      canvasContextAttributes: { preserveDrawingBuffer: true },
    });
  } catch (error) {
    showFatal(t('err.webgl', { error: error.message }));
    return;
  }
  app.map = map;
  mark('map_created');
  app.render = { ...renderer(map), waiting: false };
  paintOnceLoaded(map);
  tuneTerrain(map);
  map.on('terrain', () => tuneTerrain(map));
  watchFirstView(map);
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

  // Ready = the first idle map (style, terrain and visible tiles drawn) and the page wired up.
  const idled = new Promise((resolve) => map.once('idle', () => { app.firstIdle = performance.now(); resolve(); }));
  // Wired up as soon as the style is parsed (MapLibre's `load` waits for every tile).
  map.once('style.load', async () => {
    addSelectionLayers(map);
    // V6: a view saved flat (#dim=2d) opens flat
    if (view.dim === '2d') await import('./scene.js').then(({ setDimension }) => setDimension(app, '2d'));
    for (const [name, value] of Object.entries(app.state.opacity)) setLayerOpacity(app, name, value);
    await labels(app);
    app.onLayersChanged = () => { syncLabels(); app.time?.refresh(); MODES[app.state.mode].onLayersChanged?.(app); };
    // a view saved with the time slider (#time=year/2022/5) opens at that time
    if (view.time) await import('./timeslider.js').then((m) => m.openTime(app, view.time));
    // a shared plan (#plan=ID) opens in the Plans panel
    await app.setMode(view.mode ?? (view.plan ? 'plans' : 'explore'));
    if (view.plot && app.state.mode === 'explore') {
      getJSON(`/collections/plots/items/${encodeURIComponent(view.plot)}?f=json`)
        .then((plot) => openCard(app, plot, app.entries.get('plots')))
        .catch((error) => notify(error.message, 'warn'));
    }
    await idled;
    document.body.dataset.ready = '1';
    // Exports (view as PNG/PDF, dashboard, tables, plot report; its button beside "3D scene")
    // and the other modes load now, in the background, off the first view's path.
    import('./export.js').then((m) => m.setupExports(app)).catch((error) => notify(error.message, 'warn', { key: 'export' }));
    for (const name of Object.keys(MODE_LOADERS)) loadMode(name).catch(() => {});
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
    showDataBanner(app);
    syncLabels();
    app.time?.refresh(true);
    app.saveView();
    MODES[app.state.mode].enter?.(app);
  };
  document.body.addEventListener('click', (event) => {
    if (event.target.dataset.close === 'dashboard') app.setMode('explore');
  });
  const sceneButton = document.getElementById('download-scene');
  sceneButton.onclick = () => import('./scene.js')
    .then(({ downloadScene }) => downloadScene(app, sceneButton))
    .catch((error) => notify(t('err.network', { error: error.message }), 'error', { key: 'scene' }));
  setupSearch(app);
  // V5: the map's toolbar: 2D/3D (scene.js) and the tools, which are modes
  document.getElementById('map-tools').onclick = (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    if (button.id === 'relief') app.setRelief(!app.state.relief);
    if (button.dataset.time !== undefined) {
      import('./timeslider.js').then(({ toggleTime }) => toggleTime(app))
        .catch((error) => notify(t('err.network', { error: error.message }), 'error', { key: 'time' }));
    }
    if (button.dataset.mode) app.setMode(app.state.mode === button.dataset.mode ? 'explore' : button.dataset.mode);
    if (button.dataset.dim) {
      import('./scene.js').then(({ setDimension }) => setDimension(app, button.dataset.dim))
        .catch((error) => notify(t('err.network', { error: error.message }), 'error', { key: 'scene' }));
    }
  };
}

boot().catch((error) => showFatal(error.message));

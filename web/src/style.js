// The map style, built from the catalog's style hints (layers/*.yml `style:`), no external tiles.

export const SOURCE = 'twin';
export const DEM = 'terrain-dem';

/**
 * One vector source per catalog layer (OGC API Tiles of that collection): MapLibre fetches
 * tiles only for sources with a visible layer, so hidden layers cost nothing on the wire.
 */
export function sourceId(name) { return `${SOURCE}-${name}`; }

export function sourceFor(entry, origin) {
  return {
    type: 'vector',
    tiles: [`${origin}/collections/${encodeURIComponent(entry.name)}/tiles/WebMercatorQuad/{z}/{y}/{x}`],
    minzoom: entry.minzoom ?? 0,
    maxzoom: Math.min(entry.maxzoom ?? 16, 16),
  };
}

/** The property a layer is coloured by now: a choropleth's chosen indicator, else `style.by`. */
export function colourBy(entry) {
  return entry.colourBy && entry.classes?.[entry.colourBy] ? entry.colourBy : entry.style.by;
}

/**
 * The layer's MapLibre colour: a choropleth's classes for the chosen property, else the palette
 * of its `by` values. Assembled by the twin from the catalog (twin/styles.py, the one source of
 * the symbology, also served as OGC API Styles at /styles) and sent in /viewer/layers.json.
 */
export function colourExpression(entry) {
  const colours = entry.colours ?? {};
  return structuredClone(colours[colourBy(entry)] ?? colours['']);
}

// The classes of the maps where the catalog is not at hand (the dashboard's bars, charts.js),
// the same as layers/fifteen_cells.yml `style.minutes` and the share classes (`style.classes`
// share_all_six with `style.ramp`, ColorBrewer YlGnBu) of district_indicators.yml: colour-blind
// safe, each step told apart (tests/test_viewer_tools.py compares them with the catalog).
export const MINUTES = { edges: [5, 10, 15, 20, 30], colors: ['#fde725', '#5ec962', '#21918c', '#3b528b', '#440154'], beyond: '#bdbdbd' };
export const SHARE_CLASSES = { edges: [0.2, 0.4, 0.6, 0.8], colors: ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'], nodata: '#bdbdbd' };

/** The colour of a value in classes ({edges, colors, nodata}): below the first edge the first
 * colour, and so on, as MapLibre's `step` draws it; no value is the no-data grey. */
export function classColour(value, classes) {
  if (value == null || !Number.isFinite(value)) return classes.nodata ?? classes.beyond;
  const i = classes.edges.findIndex((edge) => value < edge);
  return classes.colors[i === -1 ? classes.edges.length : i];
}

/** Minutes classes of the 15-minute map (`style.minutes` of fifteen_cells): [{from, to, color}]
 * and the grey of "no data / beyond the last edge". */
export function minuteClasses(entry) {
  const m = entry?.style?.minutes ?? MINUTES;
  const classes = m.colors.map((color, i) => ({ from: i ? m.edges[i - 1] : 0, to: m.edges[i], color }));
  return { classes, beyond: m.beyond, last: m.edges[m.edges.length - 1] };
}

/** Walking minutes to `cat`, in classes; no value (nothing within the last edge) is grey. */
export function minutesExpression(entry, cat) {
  const { classes, beyond, last } = minuteClasses(entry);
  const prop = `min_${cat}`;
  const steps = [classes[0].color];
  classes.slice(1).forEach((c) => steps.push(c.from, c.color));
  steps.push(last, beyond);
  return ['case', ['==', ['typeof', ['get', prop]], 'number'], ['step', ['get', prop], ...steps], beyond];
}

/**
 * A legend row per class or value, in the current language: `swatch` is the CSS class of the
 * swatch, `fmt` formats a number. Each row carries its colour in `data-colour` so a test can
 * compare what is drawn with the style.
 */
function legendRow(swatch, colour, label) {
  const safe = /^#[0-9a-f]{3,8}$/i.test(colour ?? '') ? colour : '#888888';
  return `<span class="${swatch}" data-colour="${safe}" style="background:${safe}"></span><span>${escapeHtml(label)}</span>`;
}

function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function classLabel(from, to, fmt, unit) {
  if (from == null) return `< ${fmt(to)}${unit}`;
  if (to == null) return `≥ ${fmt(from)}${unit}`;
  return `${fmt(from)}–${fmt(to)}${unit}`;
}

/** The legend of a choropleth: the selector of what it colours by, then its classes. */
function classesLegend(entry, swatch, { lang, fmt, t }) {
  const by = colourBy(entry);
  const classes = entry.classes[by];
  const share = (entry.properties ?? []).find((p) => p.name === by)?.unit === 'share';
  const f = share ? (v) => fmt(v * 100, 0) : (v) => fmt(v, 1);
  const unit = share ? ' %' : '';
  const propTitle = (name) => {
    const p = (entry.properties ?? []).find((q) => q.name === name);
    return p?.titles?.[lang] ?? p?.title ?? entry.classes[name].title ?? name;
  };
  const options = Object.keys(entry.classes).map((name) => `<option value="${escapeHtml(name)}" ${name === by ? 'selected' : ''}>${escapeHtml(propTitle(name))}</option>`).join('');
  const rows = classes.colors.map((colour, i) => legendRow(swatch, colour, classLabel(i ? classes.edges[i - 1] : null, classes.edges[i] ?? null, f, unit)));
  rows.push(legendRow(swatch, entry.style.nodata ?? entry.style.color ?? '#888888', t('legend.nodata')));
  return `<label class="legend-by"><span class="muted">${escapeHtml(t('legend.colourby'))}</span>
    <select data-legend-by="${escapeHtml(entry.name)}">${options}</select></label>
    <div class="legend" data-legend="${escapeHtml(entry.name)}" data-by="${escapeHtml(by)}">${rows.join('')}</div>`;
}

/** A layer's legend for the panel ('' when one swatch says it all). */
export function layerLegend(entry, { lang = 'en', fmt = (v) => String(v), t = (k) => k } = {}) {
  const swatch = entry.kind === 'line' ? 'swatch line' : entry.kind === 'circle' ? 'swatch circle' : 'swatch';
  if (entry.classes && Object.keys(entry.classes).length) return classesLegend(entry, swatch, { lang, fmt, t });
  if ((entry.legend?.length ?? 0) <= 1) return '';
  const rows = entry.legend.map((item) => legendRow(swatch, item.color, item.labels?.[lang] ?? (item.nodata ? t('legend.nodata') : item.label)));
  return `<div class="legend" data-legend="${escapeHtml(entry.name)}">${rows.join('')}</div>`;
}

/** Show a choropleth by another of its properties: the map's colour and the legend follow. */
export function setColourBy(map, entry, prop) {
  if (!entry.classes?.[prop]) return false;
  entry.colourBy = prop;
  const colour = colourExpression(entry);
  for (const layer of map.getStyle()?.layers ?? []) {
    if (layer.metadata?.twinLayer !== entry.name) continue;
    if (layer.type === 'fill') map.setPaintProperty(layer.id, 'fill-color', colour);
  }
  return true;
}

/**
 * Style layers for one catalog layer: assembled by the twin (twin/styles.py `style_layers`,
 * in /viewer/layers.json), each with `metadata.twinLayer`.
 */
export function styleLayersFor(entry) {
  return structuredClone(entry.style_layers ?? []);
}

/**
 * One source for the layers shown when the page opens: the dataset's tiles with only those
 * collections (OGC API Tiles collections selection), so each address is one request and one
 * tile to decode instead of one per layer. The other layers keep their own sources.
 */
export const OPENING = `${SOURCE}-opening`;

export function openingSource(entries, origin) {
  const names = entries.map((e) => e.name).sort();
  return {
    type: 'vector',
    tiles: [`${origin}/tiles/WebMercatorQuad/{z}/{y}/{x}?collections=${names.map(encodeURIComponent).join(',')}`],
    minzoom: Math.min(...entries.map((e) => e.minzoom ?? 0)),
    maxzoom: Math.min(Math.max(...entries.map((e) => e.maxzoom ?? 16)), 16),
  };
}

/** Every catalog layer's style layers, in draw order (areas, lines, 3D buildings, points). */
export function catalogStyleLayers(entries) {
  const sorted = [...entries].sort((a, b) => (a.draw_order ?? 0) - (b.draw_order ?? 0));
  return sorted.flatMap(styleLayersFor);
}

/** The terrain's raster-dem source from its TileJSON (Terrarium-encoded PNG tiles). */
export function demSource(dem) {
  return {
    type: 'raster-dem', tiles: dem.tiles, minzoom: dem.minzoom ?? 0, maxzoom: dem.maxzoom ?? 14,
    bounds: dem.bounds, encoding: dem.encoding ?? 'terrarium', tileSize: dem.tileSize ?? dem.tile_size ?? 256,
    attribution: dem.attribution,
  };
}

/**
 * The shaded relief: the twin's hillshade tiles (drawn once on the server from the terrain
 * model and cached: /terrain/hillshade/tilejson.json), a translucent raster over the ground.
 */
export const SHADE = `${DEM}-shade`;

export function reliefSource(shade) {
  return {
    type: 'raster', tiles: shade.tiles, minzoom: shade.minzoom ?? 0, maxzoom: shade.maxzoom ?? 14,
    bounds: shade.bounds, tileSize: shade.tileSize ?? 256, attribution: shade.attribution,
  };
}

export function hillshadeLayer() {
  return { id: 'hillshade', type: 'raster', source: SHADE, paint: { 'raster-fade-duration': 0 } };
}

export function baseStyle() {
  return {
    version: 8,
    name: 'Almaty Twin',
    sources: {},
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef0e6' } },
    ],
    sky: {
      'sky-color': '#8fc4ea',
      'horizon-color': '#e6eef2',
      'fog-color': '#eef0e6',
      'sky-horizon-blend': 0.6,
      'horizon-fog-blend': 0.5,
      'fog-ground-blend': 0.7,
      'atmosphere-blend': 0.6,
    },
  };
}

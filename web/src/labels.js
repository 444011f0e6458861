// Labels on the map: district and polycentre names, street names and place names, from the
// twin's own layers, in the viewer's language. MapLibre symbol layers place them (no two labels
// overlap); the glyphs come from the twin (/viewer/fonts/..., twin/glyphs.py), never a CDN.
import { items } from './api.js';
import { lang, t, setDistrictNames } from './i18n.js';

/** The style's `glyphs` URL: ranges of 256 code points, built by the twin from DejaVu Sans. */
export function glyphsUrl(origin) { return `${origin}/viewer/fonts/{fontstack}/{range}.pbf`; }

// The fontstacks the twin serves (twin/glyphs.py FONTSTACKS).
const REGULAR = ['DejaVu Sans Book'];
const BOLD = ['DejaVu Sans Bold'];
const ITALIC = ['DejaVu Sans Oblique'];

// District and polycentre names: one point per area, placed inside it (a GeoJSON source the
// viewer fills from the items of both layers, off the first view's path).
export const AREA_SOURCE = 'labels-areas';
const AREA_LABELS = [
  { id: 'label-polycentres', layer: 'polycentres', kind: 'polycentre' },
  { id: 'label-districts', layer: 'districts', kind: 'district' },
];

// Names on a layer's own vector tiles: the tiles carry every property from zoom 14 on.
const TILE_LABELS = [
  { id: 'label-amenities', layer: 'amenities', minzoom: 16.5 },
  { id: 'label-parks', layer: 'parks', minzoom: 15 },
  { id: 'label-transit', layer: 'transit_stops', minzoom: 14, metro: 15 },
  { id: 'label-streets', layer: 'streets', minzoom: 14 },
];

const HALO = { 'text-halo-color': 'rgba(255,255,255,0.92)', 'text-halo-width': 1.6, 'text-halo-blur': 0.3 };

/** A name in the current language where the feature has one (name_ru, name_kk), else `name`. */
function nameExpression() {
  return ['coalesce', ['get', `name_${lang()}`], ['get', 'name'], ''];
}

function tileLabelLayer(spec, base) {
  const common = {
    id: spec.id, type: 'symbol', source: base.source, 'source-layer': base['source-layer'],
    minzoom: spec.minzoom, metadata: { twinLabel: spec.layer },
    filter: ['has', 'name'],
  };
  const text = { 'text-field': nameExpression(), 'text-font': REGULAR };
  switch (spec.layer) {
    case 'streets':
      return {
        ...common,
        layout: {
          ...text, 'symbol-placement': 'line', 'symbol-spacing': 320, 'text-max-angle': 30,
          'text-size': ['interpolate', ['linear'], ['zoom'], 14, 10.5, 17, 13.5],
          // the big streets first when labels compete for room
          'symbol-sort-key': ['match', ['get', 'highway'], ['motorway', 'arterial', 'primary'], 0, ['secondary', 'tertiary'], 1, 2],
        },
        paint: { 'text-color': '#3d3d3d', ...HALO },
      };
    case 'transit_stops':
      // metro stations from zoom 14, every stop from 15
      return {
        ...common,
        filter: ['all', ['has', 'name'], ['any', ['==', ['get', 'mode'], 'metro'], ['>=', ['zoom'], spec.metro]]],
        layout: {
          ...text, 'text-size': 11, 'text-anchor': 'top', 'text-offset': [0, 0.7], 'text-optional': true,
          'text-max-width': 9,
        },
        paint: { 'text-color': '#2d3436', ...HALO },
      };
    case 'parks':
      return {
        ...common,
        layout: { ...text, 'text-font': ITALIC, 'text-size': 11, 'text-max-width': 8 },
        paint: { 'text-color': '#0b6e4f', ...HALO },
      };
    default:
      return {
        ...common,
        layout: {
          ...text, 'text-size': 10.5, 'text-anchor': 'top', 'text-offset': [0, 0.6], 'text-optional': true,
          'text-max-width': 8,
        },
        paint: { 'text-color': '#555555', ...HALO },
      };
  }
}

function areaLabelLayer(spec) {
  const district = spec.kind === 'district';
  return {
    id: spec.id, type: 'symbol', source: AREA_SOURCE, metadata: { twinLabel: spec.layer },
    filter: ['==', ['get', 'kind'], spec.kind],
    layout: {
      'text-field': ['get', 'label'],
      'text-font': district ? BOLD : ITALIC,
      'text-size': district
        ? ['interpolate', ['linear'], ['zoom'], 10, 12, 14, 15, 17, 18]
        : ['interpolate', ['linear'], ['zoom'], 10, 11, 14, 13.5, 17, 16],
      'text-max-width': 10,
      'text-letter-spacing': district ? 0.04 : 0,
      'symbol-sort-key': district ? 0 : 1,
    },
    paint: {
      'text-color': district ? '#2c2c6c' : '#b9472a',
      'text-halo-color': 'rgba(255,255,255,0.95)', 'text-halo-width': 2, 'text-halo-blur': 0.4,
    },
  };
}

/**
 * Put the labels into the first view's style: the glyphs URL, the area labels' source (empty
 * until loadAreaLabels fills it) and a symbol layer per labelled layer, on top of the map and
 * on the same source as the layer it names. Hidden unless that layer is shown.
 */
export function addLabelsToStyle(style, visible, origin) {
  style.glyphs = glyphsUrl(origin);
  style.sources[AREA_SOURCE] = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } };
  for (const spec of TILE_LABELS) {
    const base = style.layers.find((l) => l.metadata?.twinLayer === spec.layer && l['source-layer']);
    if (!base) continue;
    const layer = tileLabelLayer(spec, base);
    layer.layout.visibility = visible.has(spec.layer) ? 'visible' : 'none';
    style.layers.push(layer);
  }
  for (const spec of AREA_LABELS) {
    const layer = areaLabelLayer(spec);
    layer.layout.visibility = visible.has(spec.layer) ? 'visible' : 'none';
    style.layers.push(layer);
  }
}

// ---- a point inside each area -----------------------------------------------------------

function ringArea(ring) {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return sum / 2;
}

function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function inPolygon(point, rings) {
  return inRing(point, rings[0]) && !rings.slice(1).some((hole) => inRing(point, hole));
}

/** The middle of the widest stretch of the polygon along a line of latitude. */
function widestAt(y, rings) {
  const xs = [];
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y)) xs.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
    }
  }
  xs.sort((a, b) => a - b);
  let best = null;
  for (let i = 0; i + 1 < xs.length; i += 2) {
    if (!best || xs[i + 1] - xs[i] > best[1] - best[0]) best = [xs[i], xs[i + 1]];
  }
  return best ? [(best[0] + best[1]) / 2, y] : null;
}

/**
 * Where an area's name goes: the centroid of its largest part when that lies inside it, else
 * the middle of the widest stretch across it (a crescent's centroid is outside).
 */
export function labelPoint(geometry) {
  if (!geometry) return null;
  const parts = geometry.type === 'Polygon' ? [geometry.coordinates]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  let rings = null;
  let area = -1;
  for (const part of parts) {
    const a = Math.abs(ringArea(part[0] ?? []));
    if (a > area) { area = a; rings = part; }
  }
  if (!rings || !rings[0]?.length) return null;
  const outer = rings[0];
  let cx = 0;
  let cy = 0;
  let twice = 0;
  for (let i = 0, j = outer.length - 1; i < outer.length; j = i++) {
    const f = outer[j][0] * outer[i][1] - outer[i][0] * outer[j][1];
    cx += (outer[j][0] + outer[i][0]) * f;
    cy += (outer[j][1] + outer[i][1]) * f;
    twice += f;
  }
  const centroid = twice ? [cx / (3 * twice), cy / (3 * twice)] : outer[0];
  if (inPolygon(centroid, rings)) return centroid;
  const ys = outer.map((c) => c[1]);
  const [minY, maxY] = [Math.min(...ys), Math.max(...ys)];
  for (const f of [0.5, 0.4, 0.6, 0.3, 0.7]) {
    const point = widestAt(minY + (maxY - minY) * f + 1e-9, rings);
    if (point) return point;
  }
  return outer[0];
}

// ---- names in the viewer's language -----------------------------------------------------

/** A district's or a polycentre's name in the current language. */
function areaName(kind, props) {
  const code = lang();
  if (kind === 'district') return props[`name_${code}`] ?? props.name_en ?? props.name ?? '';
  // polycentres: English names in `name`, Russian in `name_ru`, Kazakh from the viewer's strings
  if (code === 'en') return props.name ?? '';
  if (props[`name_${code}`]) return props[`name_${code}`];
  const key = `label.polycentre.${props.name}`;
  const text = t(key);
  return text === key ? (props.name_ru ?? props.name ?? '') : text;
}

/**
 * Fill the area labels' source from the districts' and polycentres' items (fetched when called,
 * so the boot starts the requests before the map exists). Returns a function that applies the
 * names once the map's style is in.
 */
export function loadAreaLabels() {
  const none = () => ({ features: [] });   // no names is better than no map
  const districts = items('districts', { properties: 'name_en,name_ru,name_kk', limit: 100 }).catch(none);
  const polycentres = items('polycentres', { properties: 'name,name_ru', limit: 100 }).catch(none);
  return async (app) => {
    const [d, p] = await Promise.all([districts, polycentres]);
    // rows keyed by a district's English name (GET /indicators) read in the page's language
    setDistrictNames(d.features);
    const points = [];
    for (const [kind, page] of [['district', d], ['polycentre', p]]) {
      for (const feature of page.features ?? []) {
        const at = labelPoint(feature.geometry);
        if (at) points.push({ kind, at, props: feature.properties ?? {} });
      }
    }
    app.areaLabels = points;
    syncLabels(app);
    if (app.timings && !('area_labels' in app.timings)) app.timings.area_labels = Math.round(performance.now());
  };
}

/**
 * Labels follow their layer's visibility and the viewer's language: called after a layer is
 * switched and after the language changes.
 */
export function syncLabels(app) {
  const map = app.map;
  if (!map?.getStyle()) return;
  for (const layer of map.getStyle().layers) {
    const name = layer.metadata?.twinLabel;
    if (!name) continue;
    map.setLayoutProperty(layer.id, 'visibility', app.state.visible.has(name) ? 'visible' : 'none');
    if (layer.source !== AREA_SOURCE) map.setLayoutProperty(layer.id, 'text-field', nameExpression());
  }
  const source = map.getSource(AREA_SOURCE);
  if (source && app.areaLabels) {
    source.setData({
      type: 'FeatureCollection',
      features: app.areaLabels.map(({ kind, at, props }, i) => ({
        type: 'Feature', id: i, geometry: { type: 'Point', coordinates: at },
        properties: { kind, label: areaName(kind, props), layer: kind === 'district' ? 'districts' : 'polycentres' },
      })),
    });
  }
}

/** The labels drawn now: [{layer, text}] (the tests and `twin bench viewer` read it). */
export function renderedLabels(map) {
  const ids = map.getStyle().layers.filter((l) => l.metadata?.twinLabel).map((l) => l.id);
  return map.queryRenderedFeatures({ layers: ids }).map((f) => ({
    layer: f.layer.id,
    text: f.source === AREA_SOURCE ? f.properties.label : (f.properties[`name_${lang()}`] ?? f.properties.name),
  }));
}

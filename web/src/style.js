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

// Draw order: areas under lines under 3D buildings under points; overlays on top.
const ORDER = { fill: 0, line: 1, extrusion: 2, circle: 3 };

/** A MapLibre colour expression for the `by` property with the layer's palette. */
export function colourExpression(entry) {
  const style = entry.style;
  const base = style.color ?? '#888888';
  if (!style.by || !entry.legend?.length) return base;
  const pairs = [];
  for (const item of entry.legend) {
    if (item.value === null) continue;
    pairs.push(item.value, item.color);
  }
  if (!pairs.length) return base;
  return ['match', ['to-string', ['get', style.by]], ...pairs, base];
}

function darker(hex, factor = 0.65) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex ?? '');
  if (!m) return '#555555';
  const n = parseInt(m[1], 16);
  const c = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => Math.round(v * factor));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function lineWidth(entry) {
  const w = entry.style.width;
  if (entry.name === 'streets') {
    return ['interpolate', ['linear'], ['zoom'], 12,
      ['match', ['get', 'highway'], ['motorway', 'arterial', 'primary'], 2, ['secondary', 'tertiary'], 1.2, 0.6],
      16, ['match', ['get', 'highway'], ['motorway', 'arterial', 'primary'], 9, ['secondary', 'tertiary'], 6, ['footway', 'path', 'pedestrian'], 1.5, 3]];
  }
  if (entry.name === 'districts') return ['interpolate', ['linear'], ['zoom'], 10, 1.5, 15, 3];
  if (entry.name === 'polycentres') return 2.5;
  return ['interpolate', ['linear'], ['zoom'], 11, (w ?? 1.5) * 0.7, 16, (w ?? 1.5) * 2];
}

/**
 * Style layers for one catalog layer: [{id, type, role, ...}]. `role` says which opacity
 * property the panel's slider drives.
 */
export function styleLayersFor(entry) {
  const colour = colourExpression(entry);
  const base = { source: sourceId(entry.name), 'source-layer': entry.name, minzoom: entry.minzoom, metadata: { twinLayer: entry.name } };
  const visibility = entry.visible ? 'visible' : 'none';
  const opacity = entry.style.opacity ?? null;
  switch (entry.kind) {
    case 'extrusion': {
      const height = entry.style.height ?? 'height_m';
      return [{
        ...base, id: `${entry.name}-extrusion`, type: 'fill-extrusion', layout: { visibility },
        paint: {
          'fill-extrusion-color': colour,
          'fill-extrusion-height': ['coalesce', ['get', height], ['*', ['coalesce', ['get', 'levels'], 2], 3.2]],
          'fill-extrusion-base': 0,
          // Opaque by default: MapLibre draws opaque extrusions in one pass, translucent ones in two.
          'fill-extrusion-opacity': opacity ?? 1,
          'fill-extrusion-vertical-gradient': true,
        },
      }];
    }
    case 'line': {
      const layers = [{
        ...base, id: `${entry.name}-line`, type: 'line', layout: { visibility, 'line-join': 'round', 'line-cap': 'round' },
        paint: { 'line-color': colour, 'line-width': lineWidth(entry), 'line-opacity': opacity ?? 0.9 },
      }];
      if (entry.name === 'seismic_faults') layers[0].paint['line-dasharray'] = [3, 1.5];
      if (entry.name === 'polycentres') layers[0].paint['line-dasharray'] = [2, 1];
      return layers;
    }
    case 'circle':
      return [{
        ...base, id: `${entry.name}-circle`, type: 'circle', layout: { visibility },
        paint: {
          'circle-color': colour,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 11, 2.5, 16, 7],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.2,
          'circle-opacity': opacity ?? 0.95, 'circle-stroke-opacity': opacity ?? 0.95,
        },
      }];
    default: {
      const outline = entry.style.outline ?? darker(entry.style.color);
      return [
        {
          ...base, id: `${entry.name}-fill`, type: 'fill', layout: { visibility },
          paint: { 'fill-color': colour, 'fill-opacity': opacity ?? 0.6 },
        },
        {
          ...base, id: `${entry.name}-outline`, type: 'line', layout: { visibility },
          minzoom: Math.max(entry.minzoom, entry.name === 'plots' ? 14 : 0),
          paint: { 'line-color': outline, 'line-width': 0.6, 'line-opacity': Math.min(1, (opacity ?? 0.6) + 0.2) },
        },
      ];
    }
  }
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

/** Every catalog layer's style layers, in draw order. */
export function catalogStyleLayers(entries) {
  const sorted = [...entries].sort((a, b) => (ORDER[a.kind] ?? 0) - (ORDER[b.kind] ?? 0));
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
 * Hillshade from its own source over the same tiles: MapLibre doubles the tile size of a
 * terrain source, and a hillshade drawn from it was slower to settle (first idle 34 s against
 * 20 s with two sources, measured side by side under load) besides looking coarser.
 */
export const SHADE = `${DEM}-shade`;

export function hillshadeLayer() {
  return {
    id: 'hillshade', type: 'hillshade', source: SHADE,
    paint: { 'hillshade-exaggeration': 0.45, 'hillshade-shadow-color': '#5a6b5d', 'hillshade-highlight-color': '#ffffff', 'hillshade-accent-color': '#8a9a7b' },
  };
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

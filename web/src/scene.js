// "Download 3D scene": the buildings and terrain of the current view as binary glTF (GLB) from
// GET /collections/buildings/scene.glb?bbox=W,S,E,N, for Blender, QGIS 3D or a Cesium twin.
import { items } from './api.js';
import { t, formatNumber } from './i18n.js';
import { notify, dismiss } from './notice.js';

// The box asked for: the view, cut to at most this many metres a side around the centre (a
// pitched view reaches the horizon; a scene that large takes minutes and is not what was meant).
export const MAX_SIDE_M = 3000;

/** The current view as W,S,E,N, clamped to MAX_SIDE_M around the map's centre. */
export function sceneBox(map) {
  const bounds = map.getBounds();
  const { lng, lat } = map.getCenter();
  const halfLat = MAX_SIDE_M / 2 / 111320;
  const halfLon = MAX_SIDE_M / 2 / (111320 * Math.cos((lat * Math.PI) / 180));
  const box = [
    Math.max(bounds.getWest(), lng - halfLon), Math.max(bounds.getSouth(), lat - halfLat),
    Math.min(bounds.getEast(), lng + halfLon), Math.min(bounds.getNorth(), lat + halfLat),
  ].map((v) => Number(v.toFixed(5)));
  const clamped = bounds.getWest() < lng - halfLon || bounds.getEast() > lng + halfLon
    || bounds.getSouth() < lat - halfLat || bounds.getNorth() > lat + halfLat;
  return { box, clamped };
}

async function readRefusal(response) {
  try {
    const body = await response.json();
    return body.description ?? body.detail ?? JSON.stringify(body);
  } catch {
    return response.statusText || String(response.status);
  }
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Build the scene of the current view on the server and hand it to the browser as a download. */
export async function downloadScene(app, button) {
  const { box, clamped } = sceneBox(app.map);
  const bbox = box.join(',');
  button.disabled = true;
  button.dataset.state = 'building';
  notify(t('scene.building'), 'info', { key: 'scene', timeout: 0 });
  try {
    const inside = await items('buildings', { bbox, limit: 1 });
    if (!inside.features?.length) {
      dismiss('scene');
      notify(t('scene.empty'), 'warn', { key: 'scene' });
      button.dataset.state = 'empty';
      return;
    }
    let response;
    try {
      response = await fetch(`/collections/buildings/scene.glb?bbox=${bbox}`, { headers: { Accept: 'model/gltf-binary' } });
    } catch (error) {
      throw new Error(t('err.network', { error: error.message }));
    }
    if (!response.ok) {
      const description = await readRefusal(response);
      button.dataset.state = response.status === 400 ? 'refused' : 'failed';
      dismiss('scene');
      notify(t('scene.refused', { status: response.status, description }), 'error', { key: 'scene' });
      return;
    }
    const blob = await response.blob();
    const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'almaty-scene.glb';
    save(blob, name);
    button.dataset.state = 'done';
    dismiss('scene');
    const side = (box[2] - box[0]) * 111320 * Math.cos((((box[1] + box[3]) / 2) * Math.PI) / 180);
    notify(t(clamped ? 'scene.done.clamped' : 'scene.done', { name, mb: formatNumber(blob.size / 1e6, 1), km: formatNumber(MAX_SIDE_M / 1000, 1), w: formatNumber(side / 1000, 1) }), 'info', { key: 'scene', timeout: 8000 });
  } catch (error) {
    button.dataset.state = 'failed';
    dismiss('scene');
    notify(error.message, 'error', { key: 'scene' });
  } finally {
    button.disabled = false;
  }
}

// -- 2D / 3D ------------------------------------------------------------------------------------

// The 3D view's camera when coming back from 2D: looking south over the city to the mountains.
const THREE_D = { pitch: 60, bearing: 180 };
const saved = { terrain: null, heights: new Map() };

function extrusionLayers(map) {
  return (map.getStyle()?.layers ?? []).filter((l) => l.type === 'fill-extrusion' && l.metadata?.twinLayer);
}

/**
 * The flat map (no terrain, north up, no tilt, buildings as footprints) or the 3D view (terrain,
 * buildings by height, tilted toward the mountains). The buttons show which one is on.
 */
export function setDimension(app, dim) {
  const map = app.map;
  const flat = dim === '2d';
  if (flat === Boolean(app.state.flat)) return;
  app.state.flat = flat;
  if (flat) {
    saved.terrain = map.getTerrain() ?? saved.terrain;
    map.setTerrain(null);
    for (const layer of extrusionLayers(map)) {
      saved.heights.set(layer.id, map.getPaintProperty(layer.id, 'fill-extrusion-height'));
      map.setPaintProperty(layer.id, 'fill-extrusion-height', 0);
    }
    map.dragRotate.disable();
    map.touchZoomRotate.disableRotation();
    map.jumpTo({ pitch: 0, bearing: 0 });
    map.setMaxPitch(0);
  } else {
    map.setMaxPitch(80);
    map.dragRotate.enable();
    map.touchZoomRotate.enableRotation();
    if (saved.terrain) map.setTerrain(saved.terrain);
    for (const layer of extrusionLayers(map)) {
      if (saved.heights.has(layer.id)) map.setPaintProperty(layer.id, 'fill-extrusion-height', saved.heights.get(layer.id));
    }
    map.jumpTo(THREE_D);
  }
  for (const button of document.querySelectorAll('#map-tools [data-dim]')) {
    const on = button.dataset.dim === (flat ? '2d' : '3d');
    button.classList.toggle('active', on);
    button.setAttribute('aria-pressed', String(on));
  }
  app.saveView();
}

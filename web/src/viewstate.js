// The view in the URL (#map=zoom/lat/lon/bearing/pitch&layers=a,b&mode=…&lang=…&plan=ID&dim=2d),
// for sharing: #plan=ID alone opens that plan in the Plans panel; dim=2d is the flat map;
// time=day/144 or time=year/2022/5 is the time slider's range and step (timeslider.js).

export function readView() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const view = {};
  const map = params.get('map');
  if (map) {
    const [zoom, lat, lon, bearing = 0, pitch = 0] = map.split('/').map(Number);
    if ([zoom, lat, lon, bearing, pitch].every(Number.isFinite)) {
      view.camera = { zoom, center: [lon, lat], bearing, pitch };
    }
  }
  const layers = (params.get('layers') ?? '').split(',').filter(Boolean);
  if (layers.length) view.layers = layers;
  for (const key of ['mode', 'lang', 'cat', 'plot', 'plan', 'dim', 'relief', 'time']) if (params.get(key)) view[key] = params.get(key);
  return view;
}

let pending = null;

/** Write the view into the URL without adding history entries (debounced). */
export function writeView(view) {
  clearTimeout(pending);
  pending = setTimeout(() => {
    const params = new URLSearchParams();
    if (view.camera) {
      const { zoom, center, bearing, pitch } = view.camera;
      params.set('map', [zoom.toFixed(2), center[1].toFixed(5), center[0].toFixed(5),
        Math.round(bearing), Math.round(pitch)].join('/'));
    }
    if (view.layers) params.set('layers', view.layers.join(','));
    for (const key of ['mode', 'lang', 'cat', 'plot', 'plan', 'dim', 'relief', 'time']) if (view[key]) params.set(key, view[key]);
    const hash = `#${params.toString().replace(/%2F/g, '/').replace(/%2C/g, ',')}`;
    if (hash !== location.hash) history.replaceState(null, '', hash);
  }, 250);
}

// The first thing the page runs (a classic script, before the modules): it starts the first
// view's JSON requests while the modules load, and says so if the modules cannot start at all.
// It lives in a file, not inline, so the page's policy can be `script-src 'self'`.
window.twinPrefetch = {};
for (const url of ['/viewer/layers.json', '/tiles/WebMercatorQuad/tilejson.json', '/terrain/tilejson.json',
  '/terrain/hillshade/tilejson.json']) {
  const response = fetch(url, { headers: { Accept: 'application/json' } });
  response.catch(() => {});  // a failure is reported by the viewer when it reads the answer
  window.twinPrefetch[url] = response;
}

// If the viewer's modules cannot load at all, say so instead of leaving a blank page.
window.addEventListener('error', (event) => {
  if (window.twin) return;
  const box = document.getElementById('notices');
  if (!box) return;
  const note = document.createElement('div');
  note.className = 'notice error';
  note.setAttribute('role', 'alert');
  note.textContent = `The viewer could not start: ${event.message || 'a script failed to load'}. Is \`npm ci\` done in web/?`;
  box.append(note);
}, true);

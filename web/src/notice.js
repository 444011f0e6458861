// Readable messages at the bottom of the map: errors stay until closed, the rest fade.
const shown = new Map();

export function notify(text, kind = 'info', { key = text, timeout } = {}) {
  const box = document.getElementById('notices');
  if (shown.has(key)) shown.get(key).remove();
  const el = document.createElement('div');
  el.className = `notice ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.dataset.kind = kind;
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.setAttribute('aria-label', 'Close');
  close.onclick = () => { el.remove(); shown.delete(key); };
  el.append(span, close);
  box.append(el);
  shown.set(key, el);
  const ms = timeout ?? (kind === 'error' ? 0 : kind === 'warn' ? 12000 : 4000);
  if (ms) setTimeout(() => { el.remove(); if (shown.get(key) === el) shown.delete(key); }, ms);
  return el;
}

export function dismiss(key) {
  shown.get(key)?.remove();
  shown.delete(key);
}

/** Escape text for HTML built with template strings. */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

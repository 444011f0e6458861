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

/**
 * Escape text for HTML built with template strings: every value from the server (names,
 * addresses, report fields, error descriptions, even numbers, which may arrive as strings) goes
 * through this, in element text and in quoted attributes alike.
 */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const COLOUR = /^(#[0-9a-f]{3,8}|[a-z]{3,20}|(rgb|hsl)a?\([0-9.,%\s]+\))$/i;

/** A colour for a `style` attribute, or `fallback`: a value is a colour, never more CSS. */
export function cssColour(value, fallback = '#888888') {
  const text = String(value ?? '').trim();
  return COLOUR.test(text) ? text : fallback;
}

/** `table[key]` only if the table itself has it: a value from the server such as
 * `constructor` or `__proto__` must not pick up what every object inherits. */
export function own(table, key, fallback) {
  return Object.hasOwn(table, String(key)) ? table[key] : fallback;
}

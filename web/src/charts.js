// Small bar charts (SVG bars, HTML labels): a picture where it reads faster than a table, no chart library.
import { esc } from './notice.js';
import { formatNumber } from './i18n.js';
import { SHARE_CLASSES, classColour, minuteClasses } from './style.js';

/**
 * Horizontal bars, one per row: {label, value, target?, targets?: [{value, label}], colour?}.
 * Targets are drawn as ticks across the bar so "how far from 13.4 m2" is seen at a glance.
 * The labels are the page's text in a table column, not SVG text: they wrap and widen to their
 * words in every language ("Дене шынықтыру және спорт" was cut to "ет және спорт" in a fixed
 * SVG margin); each row's bar is its own small SVG, so a wrapped label keeps its bar beside it.
 */
export function hbars(rows, { max, unit = '', width = 300, labelWidth = 110, format = (v) => formatNumber(v, 1) } = {}) {
  const rowHeight = 20;
  const valid = rows.filter((r) => r.value != null && Number.isFinite(r.value));
  const top = max ?? Math.max(1e-9, ...valid.map((r) => r.value), ...rows.flatMap((r) => (r.targets ?? []).map((t) => t.value)));
  const barWidth = width - labelWidth;
  const barSpace = barWidth - 58;
  const scale = (v) => Math.max(0, Math.min(1, v / top)) * barSpace;
  const line = (row) => {
    const value = row.value;
    const parts = [`<rect x="0" y="4" width="${barSpace}" height="12" rx="2" fill="#eef1f4"/>`];
    if (value != null && Number.isFinite(value)) {
      parts.push(`<rect x="0" y="4" width="${scale(value).toFixed(1)}" height="12" rx="2" fill="${esc(row.colour ?? '#0a7f8c')}" stroke="#1e272e55" stroke-width="0.6"><title>${esc(row.label)}: ${esc(format(value))}${esc(unit)}</title></rect>`);
      parts.push(`<text x="${barSpace + 4}" y="14">${esc(format(value))}${esc(unit)}</text>`);
    } else {
      parts.push(`<text x="${barSpace + 4}" y="14" fill="#6b7780">—</text>`);
    }
    for (const target of row.targets ?? []) {
      if (target.value == null) continue;
      const x = Math.max(1, scale(target.value));
      parts.push(`<line x1="${x}" x2="${x}" y1="1" y2="19" stroke="${esc(target.colour ?? '#1e272e')}" stroke-width="2"><title>${esc(target.label)}: ${esc(format(target.value))}${esc(unit)}</title></line>`);
    }
    return `<svg class="bar" overflow="visible" width="${barWidth}" height="${rowHeight}" viewBox="0 0 ${barWidth} ${rowHeight}">${parts.join('')}</svg>`;
  };
  const body = rows.map((row) => `<tr><th scope="row" class="bar-label" style="min-width:${labelWidth - 6}px">${esc(row.label)}</th><td>${line(row)}</td></tr>`).join('');
  return `<table class="bars"><tbody>${body}</tbody></table>`;
}

/** A colour for a 0..1 share: the share classes of the indicator maps (style.js), so a bar
 * and a district on the map in the same class look the same. */
export function shareColour(share, classes = SHARE_CLASSES) {
  return classColour(share, classes);
}

/** Minutes ramp for 15-minute charts: [minutes, colour] from the minutes map's classes
 * (style.js), ending with the grey of "beyond the last class". */
export const MINUTE_STOPS = (() => {
  const { classes, beyond, last } = minuteClasses(null);
  return [...classes.map((c) => [c.from, c.color]), [last, beyond]];
})();

export function gradientLegend(stops, unit = '') {
  const css = stops.map(([v, c], i) => `${c} ${(i / (stops.length - 1)) * 100}%`).join(', ');
  return `<div class="legend gradient"><div class="gradient-bar" style="background:linear-gradient(90deg, ${css})"></div><div class="gradient-labels">${stops.map(([v]) => `<span>${esc(v)}${esc(unit)}</span>`).join('')}</div></div>`;
}

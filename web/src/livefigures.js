// The dashboard's time: the figures that change by the minute (GET /indicators `live`: PM2.5
// now, lit share now, parking disorder now...) each with its time, and each KPI's trend since
// the programme's 2022 baseline where the twin has history (GET /indicators/trend), drawn as a
// sparkline with the baseline and the target, in the page's number format.
import { getJSON } from './api.js';
import { t, lang, formatNumber } from './i18n.js';
import { esc } from './notice.js';
import { almatyParts, almatyTime } from './timeslider.js';

// The KPIs GET /indicators/trend answers (twin/changes/feeds.py KPIS), in the dashboard's order.
const SPARK = { width: 180, height: 44, pad: 4 };

/** A value in its unit as the page writes it: a share in per cent, m² and ha in words. */
export function withUnit(value, unit) {
  if (value == null || !Number.isFinite(Number(value))) return '—';
  if (unit === 'share') return `${formatNumber(Number(value) * 100, 1)} %`;
  const words = { m2: t('unit.m2'), ha: t('unit.ha'), km: t('unit.km') };
  const shown = words[unit] ?? (unit && !/^(count|schools|n)$/.test(unit) ? unit : '');
  return `${formatNumber(Number(value), 1)}${shown ? ` ${shown}` : ''}`;
}

/** The live figures as a list, whether the block is a list or an object by name. */
export function liveFigures(live) {
  if (!live) return [];
  const list = Array.isArray(live) ? live : Array.isArray(live.figures) ? live.figures
    : Object.entries(live).filter(([, v]) => v && typeof v === 'object' && 'value' in v).map(([id, v]) => ({ ...v, id: v.id ?? id }));
  return list.filter((f) => f && 'value' in f);
}

/** A live figure's title in the page's language: the server's `titles`, else the viewer's
 * words for the figure (`live.kpi.<id>`), else its title or name as given. */
function title(figure) {
  const named = figure.titles ?? (typeof figure.title === 'object' ? figure.title : null);
  const key = `live.kpi.${figure.id}`;
  const own = t(`live.kpi.${figure.id}`);
  return named?.[lang()] ?? (own !== key ? own : null) ?? named?.en
    ?? (typeof figure.title === 'string' ? figure.title : null) ?? figure.id ?? figure.name ?? '';
}

/** A figure's unit: as given, or a share when its name says so (lit_share_now: 0.79). */
function unitOf(figure) {
  return figure.unit ?? (/share/.test(figure.id ?? '') ? 'share' : '');
}

/** "PM2.5 now 41 µg/m³ · 14:20": each live figure with the time it was true. */
export function liveHtml(live) {
  const figures = liveFigures(live);
  if (!figures.length) return '';
  const card = (f) => {
    const when = f.time ? new Date(f.time) : null;
    const clock = when && !Number.isNaN(when.getTime()) ? almatyTime(when) : null;
    const { hour, minute } = clock ? almatyParts(when) : {};
    const hhmm = clock ? `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}` : '';
    return `<div class="live-figure" data-live="${esc(f.id ?? f.name ?? '')}">
      <div class="label">${esc(title(f))}</div>
      <div class="value">${esc(withUnit(f.value, unitOf(f)))}${hhmm ? ` <small>· ${esc(hhmm)}</small>` : ''}</div>
      ${clock ? `<div class="when" title="${esc(clock)}">${esc(t('live.at', { time: clock }))}</div>` : ''}</div>`;
  };
  return `<h3 id="live">${esc(t('live.title'))}</h3><div class="live-figures">${figures.map(card).join('')}</div>`;
}

/**
 * A KPI's months as a sparkline: the line of its values, the baseline dashed grey and the
 * target dashed green (when they are in the same unit), `data-months` the months drawn.
 */
export function sparkline(series, { baseline = null, target = null } = {}) {
  const points = (series ?? []).filter((p) => p.value != null && Number.isFinite(Number(p.value)));
  const { width, height, pad } = SPARK;
  const levels = [baseline?.value, target?.value].filter((v) => v != null && Number.isFinite(Number(v))).map(Number);
  const values = points.map((p) => Number(p.value));
  let lo = Math.min(...values, ...levels);
  let hi = Math.max(...values, ...levels);
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (i) => pad + (points.length > 1 ? (i / (points.length - 1)) * (width - 2 * pad) : (width - 2 * pad) / 2);
  const y = (v) => pad + (1 - (v - lo) / (hi - lo)) * (height - 2 * pad);
  const parts = [];
  const level = (value, colour, kind) => {
    if (value?.value == null) return;
    const ly = y(Number(value.value)).toFixed(1);
    parts.push(`<line x1="${pad}" x2="${width - pad}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-dasharray="3 2" data-${kind}="${esc(value.value)}"/>`);
  };
  level(baseline, '#6b7780', 'baseline');
  level(target, '#1e8449', 'target');
  if (points.length) {
    parts.push(`<polyline fill="none" stroke="#0a7f8c" stroke-width="1.6" points="${points.map((p, i) => `${x(i).toFixed(1)},${y(Number(p.value)).toFixed(1)}`).join(' ')}"/>`);
    const last = points.length - 1;
    parts.push(`<circle cx="${x(last).toFixed(1)}" cy="${y(values[last]).toFixed(1)}" r="2.5" fill="#0a7f8c"/>`);
  }
  return `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-months="${points.length}" role="img">${parts.join('')}</svg>`;
}

/** One KPI's trend row: its title, the sparkline, now / baseline / target in words. */
function trendHtml(kpi, doc) {
  const series = doc.trend ?? [];
  const points = series.filter((p) => p.value != null);
  if (!points.length) return '';
  const baseline = doc.baseline?.value != null ? doc.baseline : null;
  const target = doc.target?.value != null ? doc.target : null;
  const now = points[points.length - 1];
  const words = [t('trend.now', { v: withUnit(now.value, doc.unit) })];
  if (baseline) words.push(t('trend.baseline', { v: withUnit(baseline.value, doc.unit), year: baseline.year }));
  if (target) words.push(t('trend.target', { v: withUnit(target.value, doc.unit), year: target.year }));
  const label = t(`trend.kpi.${kpi}`) === `trend.kpi.${kpi}` ? doc.title : t(`trend.kpi.${kpi}`);
  return `<div class="kpi" data-trend="${esc(kpi)}"><div class="label">${esc(label)}</div>
    <div class="trend">${sparkline(series, { baseline, target })}</div>
    <div class="target">${esc(words.join(' · '))} <span class="muted">(${esc(points.length > 1 ? `${points[0].month} – ${now.month}` : now.month)})</span></div></div>`;
}

/**
 * The dashboard's time parts: "the city now" at its top (from the /indicators answer already
 * read) and the KPI trends after the city's KPIs; a trend the server cannot give is left out.
 */
export async function appendTime(app, body, data) {
  const live = liveHtml(data?.live);
  const kpis = body.querySelector('#city-kpis');
  if (live && kpis) kpis.insertAdjacentHTML('beforebegin', live);
  const listed = await getJSON('/indicators/trend?f=json').then((doc) => doc.kpis.map((k) => k.kpi)).catch(() => []);  // the server says which KPIs have a trend
  const docs = await Promise.all(listed.map((kpi) => getJSON(`/indicators/trend?kpi=${encodeURIComponent(kpi)}&f=json`)
    .then((doc) => [kpi, doc]).catch(() => [kpi, null])));
  const rows = docs.filter(([, doc]) => doc).map(([kpi, doc]) => trendHtml(kpi, doc)).filter(Boolean);
  if (!rows.length || !body.isConnected) return;
  const year = docs.map(([, d]) => d?.baseline?.year).find(Boolean) ?? 2022;
  const anchor = body.querySelector('[data-chart="green"]')?.previousElementSibling ?? kpis;
  anchor?.insertAdjacentHTML(anchor === kpis ? 'afterend' : 'beforebegin',
    `<h3 id="trends">${esc(t('trend.title', { year }))}</h3><div class="kpis" id="trend-kpis">${rows.join('')}</div>`);
}

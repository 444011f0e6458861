// A sensor's chart: click a sensor on the map (a layer whose features carry their SensorThings
// `thing`, web/src/pick.js), read its Datastreams from the twin's SensorThings
// API (/sta/v1.1) and draw each one's observations of the time slider's window (when the slider
// is closed: the card's own day, week, month or year back from now) as a small SVG line, or a
// step for on/off, no chart library. Windows longer than two days draw a number stream's
// down-sampled series (/sensors/datastreams/{id}/series: hourly or daily means with their
// min–max band, from the hourly aggregates) instead of paging its raw observations.
import { getJSON } from './api.js';
import { t, lang, formatNumber } from './i18n.js';
import { esc } from './notice.js';
import { almatyParts, almatyTime, isoInstant } from './timeslider.js';

const STA = '/sta/v1.1';
const PAGE = 1000;          // observations per request ($top)
const MAX_POINTS = 10000;   // a chart never reads more (a day at 10-s steps)
const MAX_STREAMS = 6;
const DAY = 24 * 3600e3;
const SIZE = { width: 300, height: 120, left: 40, right: 8, top: 8, bottom: 18 };
const SERIES_AFTER = 2 * DAY; // longer windows read the series, not the raw observations
const SPANS = { day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY };
const STEP = { minute: 60e3, hour: 3600e3, day: DAY };
let span = 'day'; // the card's own window (the slider closed), chosen by its buttons

/** The window a chart shows: the slider's (its range, its instant marked), else the card's span back from now. */
export function chartWindow(app) {
  if (app.time?.isOpen) return app.time.window();
  const end = new Date();
  return { start: new Date(end.getTime() - SPANS[span]), end, instant: end, range: span };
}

/** Every page of a SensorThings collection (following @iot.nextLink), up to `limit` rows. */
async function readAll(url, limit = MAX_POINTS) {
  const rows = [];
  let next = url;
  while (next && rows.length < limit) {
    const page = await getJSON(next);
    rows.push(...(page.value ?? []));
    next = page['@iot.nextLink'] ?? null;
  }
  return rows.slice(0, limit);
}

// Observations already read, by stream and window: the slider's steps within one window only
// move the chart's marker, they read nothing again.
const READ = new Map();

/** A Datastream's observations in [start, end], oldest first: [{time: Date, value}]. */
export async function observations(streamId, start, end) {
  const key = `${streamId}|${start.getTime()}|${end.getTime()}`;
  if (!READ.has(key)) {
    if (READ.size > 50) READ.clear();
    READ.set(key, readObservations(streamId, start, end));
    READ.get(key).catch(() => READ.delete(key));
  }
  return READ.get(key);
}

async function readObservations(streamId, start, end) {
  const query = [
    `$filter=${encodeURIComponent(`phenomenonTime ge ${isoInstant(start)} and phenomenonTime le ${isoInstant(end)}`)}`,
    `$orderby=${encodeURIComponent('phenomenonTime asc')}`,
    `$top=${PAGE}`,
    `$select=${encodeURIComponent('phenomenonTime,result')}`,
  ].join('&');
  const rows = await readAll(`${STA}/Datastreams(${encodeURIComponent(streamId)})/Observations?${query}`);
  return rows.map((o) => ({ time: new Date(String(o.phenomenonTime).split('/').pop()), value: o.result }));
}

/** A number Datastream's series in [start, end] (the resolution `auto` picks: at most 2,000
 * bins): [{time: the bin's middle, value: its mean, min, max, n}], `resolution` on the array. */
export async function series(streamId, start, end) {
  const key = `series|${streamId}|${start.getTime()}|${end.getTime()}`;
  if (!READ.has(key)) {
    if (READ.size > 50) READ.clear();
    READ.set(key, readSeries(streamId, start, end));
    READ.get(key).catch(() => READ.delete(key));
  }
  return READ.get(key);
}

async function readSeries(streamId, start, end) {
  const params = new URLSearchParams({ start: isoInstant(start), end: isoInstant(end), resolution: 'auto' });
  const doc = await getJSON(`/sensors/datastreams/${encodeURIComponent(streamId)}/series?${params}`);
  const half = (STEP[doc.resolution] ?? 0) / 2;
  const points = (doc.points ?? []).map((p) => ({
    time: new Date(new Date(p.time).getTime() + half), value: p.mean, min: p.min, max: p.max, n: p.n,
  }));
  points.resolution = doc.resolution;
  return points;
}

/** The Thing's Datastreams with their ObservedProperty (name, unit). */
async function datastreams(id) {
  const expand = encodeURIComponent('ObservedProperty');
  return readAll(`${STA}/Things(${encodeURIComponent(id)})/Datastreams?$expand=${expand}&$top=${MAX_STREAMS}`, MAX_STREAMS);
}

/** Is the stream PM2.5 (its observed property or its name says so)? */
function isPm25(stream) {
  const words = [stream.name, stream.ObservedProperty?.name, stream.ObservedProperty?.definition].join(' ');
  return /pm\s*2[.,_]?5/i.test(words);
}

/** The programme's PM2.5 baseline from the catalog (layers/_targets.yml `pm25_ugm3`). */
function pm25Baseline(app) {
  return app.catalog?.targets?.indicators?.pm25_ugm3?.figures?.baseline_2022 ?? null;
}

function hhmm(instant) {
  const { hour, minute } = almatyParts(instant);
  return `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
}

/** "14:20" within a day, "12.06" across longer windows, on Almaty's clock. */
function tickLabel(instant, span) {
  if (span <= DAY * 1.01) return hhmm(instant);
  const { day, month } = almatyParts(instant);
  return `${String(day).padStart(2, '0')}.${String(month + 1).padStart(2, '0')}`;
}

/**
 * The chart of one stream: a polyline of numbers (or a step of on/off), the baseline dashed,
 * the slider's instant as a vertical line; `data-points` says how many observations it drew.
 */
export function chartSvg(points, { start, end, instant, kind, baseline = null, unit = '' }) {
  const { width, height, left, right, top, bottom } = SIZE;
  const span = Math.max(1, end - start);
  const x = (time) => left + ((time - start) / span) * (width - left - right);
  const values = points.map((p) => (kind === 'boolean' ? (p.value ? 1 : 0) : Number(p.value)));
  const banded = kind !== 'boolean' && points.length > 0 && points.every((p) => p.min != null && p.max != null);
  const lows = banded ? points.map((p) => Number(p.min)) : values;
  const highs = banded ? points.map((p) => Number(p.max)) : values;
  let lo = kind === 'boolean' ? 0 : Math.min(...lows, baseline?.value ?? Infinity);
  let hi = kind === 'boolean' ? 1 : Math.max(...highs, baseline?.value ?? -Infinity);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi === lo) { hi += 1; lo -= kind === 'boolean' ? 0 : 1; }
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const parts = [`<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="#f7f9fa" stroke="#dfe4ea"/>`];
  if (banded) { // the bins' min–max band under their means
    const upper = points.map((p, i) => `${x(p.time).toFixed(1)},${y(highs[i]).toFixed(1)}`);
    const lower = points.map((p, i) => `${x(p.time).toFixed(1)},${y(lows[i]).toFixed(1)}`).reverse();
    parts.push(`<path d="M${upper.join('L')}L${lower.join('L')}Z" fill="#0a7f8c" fill-opacity="0.18" stroke="none" data-band/>`);
  }
  if (points.length) {
    let d = '';
    points.forEach((p, i) => {
      const px = x(p.time).toFixed(1);
      const py = y(values[i]).toFixed(1);
      if (i === 0) d = `M${px},${py}`;
      else d += kind === 'boolean' ? `H${px}V${py}` : `L${px},${py}`;
    });
    if (kind === 'boolean') d += `H${x(Math.min(end, Date.now())).toFixed(1)}`;
    parts.push(`<path d="${d}" fill="none" stroke="#0a7f8c" stroke-width="1.6" data-series/>`);
  }
  if (baseline?.value != null) {
    const by = y(baseline.value).toFixed(1);
    const label = t('chart.baseline', { v: `${formatNumber(baseline.value)} ${unit}`.trim(), year: baseline.year ?? '' });
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${by}" y2="${by}" stroke="#c0392b" stroke-dasharray="4 3" data-baseline="${esc(baseline.value)}"><title>${esc(label)}</title></line>`);
    parts.push(`<text x="${width - right - 2}" y="${Number(by) - 3}" text-anchor="end" font-size="9" fill="#c0392b">${esc(label)}</text>`);
  }
  if (instant && instant >= start && instant <= end) {
    const ix = x(instant).toFixed(1);
    parts.push(`<line x1="${ix}" x2="${ix}" y1="${top}" y2="${height - bottom}" stroke="#1e272e" stroke-width="1" data-instant/>`);
  }
  const yLabel = (v) => (kind === 'boolean' ? t(v ? 'chart.on' : 'chart.off') : formatNumber(v));
  parts.push(`<text x="${left - 4}" y="${top + 8}" text-anchor="end" font-size="9" fill="#6b7780">${esc(yLabel(hi))}</text>`);
  parts.push(`<text x="${left - 4}" y="${height - bottom}" text-anchor="end" font-size="9" fill="#6b7780">${esc(yLabel(lo))}</text>`);
  parts.push(`<text x="${left}" y="${height - 4}" font-size="9" fill="#6b7780">${esc(tickLabel(start, span))}</text>`);
  parts.push(`<text x="${width - right}" y="${height - 4}" text-anchor="end" font-size="9" fill="#6b7780">${esc(tickLabel(end, span))}</text>`);
  const resolution = points.resolution ? ` data-resolution="${esc(points.resolution)}"` : '';
  return `<svg viewBox="0 0 ${width} ${height}" role="img" data-points="${points.length}" data-kind="${esc(kind)}"${resolution}>${parts.join('')}</svg>`;
}

/** min / max / latest (with its time) of a stream's points, in the page's number format. */
function figuresHtml(points, kind, unit) {
  if (!points.length) return `<p class="muted" data-chart-empty>${esc(t('chart.none'))}</p>`;
  const last = points[points.length - 1];
  const show = (v) => (kind === 'boolean' ? t(v ? 'chart.on' : 'chart.off') : `${formatNumber(Number(v))} ${unit}`.trim());
  const rows = [];
  if (kind !== 'boolean') {
    const lows = points.map((p) => Number(p.min ?? p.value));
    const highs = points.map((p) => Number(p.max ?? p.value));
    rows.push([t('chart.min'), show(Math.min(...lows))], [t('chart.max'), show(Math.max(...highs))]);
  }
  rows.push([t('chart.latest'), `${show(last.value)} · ${hhmm(last.time)}`]);
  const count = points.resolution
    ? t('chart.bins', { n: formatNumber(points.length), res: t(`chart.res.${points.resolution}`), count: formatNumber(points.reduce((sum, p) => sum + (p.n ?? 0), 0)) })
    : t('chart.points', { n: formatNumber(points.length) });
  return `<div class="figures">${rows.map(([k, v]) => `<span>${esc(k)} <b>${esc(v)}</b></span>`).join('')}<span>${esc(count)}</span></div>`;
}

/** One stream's block: its name and unit, the chart, the figures. */
async function streamHtml(app, stream, win) {
  const unit = stream.unitOfMeasurement?.symbol ?? '';
  const kind = /boolean|truth/i.test(stream.observationType ?? '') || stream.unitOfMeasurement?.symbol === 'on/off' ? 'boolean' : 'number';
  const long = win.end - win.start > SERIES_AFTER && kind === 'number';
  const points = await (long ? series : observations)(stream['@iot.id'], win.start, win.end);
  const boolean = kind === 'boolean' || (points.length > 0 && points.every((p) => typeof p.value === 'boolean'));
  const shownKind = boolean ? 'boolean' : 'number';
  const baseline = shownKind === 'number' && isPm25(stream) ? pm25Baseline(app) : null;
  const title = stream.ObservedProperty?.name ?? stream.name ?? '';
  return `<div class="stream" data-stream="${esc(stream['@iot.id'])}">
    <h3>${esc(title)}${unit && shownKind === 'number' ? ` <span class="muted">(${esc(unit)})</span>` : ''}</h3>
    ${chartSvg(points, { ...win, kind: shownKind, baseline, unit })}
    ${figuresHtml(points, shownKind, unit)}</div>`;
}

/**
 * The sensor's card below its attributes: every Datastream's chart for the window. Drawn
 * again when the slider moves to another window (its marker follows the instant).
 */
export async function showSensorChart(app, id, side) {
  let card = side.querySelector('[data-sensor-chart]');
  if (!card) {
    const spans = Object.keys(SPANS).map((name) => `<button type="button" data-chart-span="${name}" aria-pressed="false">${esc(t(`chart.span.${name}`))}</button>`).join('');
    side.insertAdjacentHTML('beforeend', `<div class="card sensor-chart" data-sensor-chart="${esc(id)}"><h2>${esc(t('chart.title'))}</h2><div class="chart-spans" role="group">${spans}</div><p class="muted" data-chart-window></p><div class="streams"><p class="muted">${esc(t('chart.loading'))}</p></div></div>`);
    card = side.querySelector('[data-sensor-chart]');
    card.querySelector('.chart-spans').addEventListener('click', (event) => {
      const chosen = event.target.closest('[data-chart-span]')?.dataset.chartSpan;
      if (!chosen || chosen === span) return;
      span = chosen;
      card.dataset.ready = '';
      showSensorChart(app, id, side);
    });
  }
  const win = chartWindow(app);
  const spans = card.querySelector('.chart-spans');
  spans.hidden = Boolean(app.time?.isOpen); // the slider's window rules while it is open
  for (const button of spans.querySelectorAll('[data-chart-span]')) button.ariaPressed = String(button.dataset.chartSpan === span);
  card.dataset.start = isoInstant(win.start);
  card.dataset.end = isoInstant(win.end);
  card.querySelector('[data-chart-window]').textContent = t('chart.window', { from: almatyTime(win.start), to: almatyTime(win.end) });
  try {
    const streams = await datastreams(id);
    const blocks = await Promise.all(streams.map((s) => streamHtml(app, s, win)));
    card.querySelector('.streams').innerHTML = blocks.join('') || `<p class="muted">${esc(t('chart.nostreams'))}</p>`;
    card.dataset.ready = '1';
  } catch (error) {
    card.querySelector('.streams').innerHTML = `<p class="error-text">${esc(t('chart.unavailable', { error: error.message }))}</p>`;
    card.dataset.ready = 'error';
  }
  // the chart follows the slider while its card is open
  if (!card.dataset.follows) {
    card.dataset.follows = '1';
    const follow = () => {
      if (!document.body.contains(card)) { document.removeEventListener('twin:time', follow); return; }
      showSensorChart(app, id, side);
    };
    document.addEventListener('twin:time', follow);
  }
}

// -- a place's rows over time: a layer of rows per place and hour (the key sections' scooters,
// parking disorder per district, trips per H3 cell) charts the clicked place's values over the
// slider's window; the catalog names the place (`time.key`) and the values (`time.values`).

/** The rows of the place `value` of `entry.time.key` in the window, oldest first. */
async function placeRows(entry, value, win) {
  const fact = entry.time;
  const params = new URLSearchParams({
    f: 'json', limit: '1000', [fact.key]: String(value), sortby: fact.property,
    datetime: `${isoInstant(win.start)}/${isoInstant(win.end)}`,
    properties: [fact.property, ...fact.values].join(','), skipGeometry: 'true',
  });
  const doc = await getJSON(`/collections/${encodeURIComponent(entry.name)}/items?${params}`);
  return doc.features ?? [];
}

/**
 * The card of a place's values over the window (the day by hour of a key section): one chart
 * per value, a point per row at the end of its period, the slider's instant marked.
 */
export async function showPlaceChart(app, entry, props, side) {
  const fact = entry.time;
  const value = props?.[fact.key];
  if (value == null) return;
  let card = side.querySelector('[data-place-chart]');
  if (!card) {
    side.insertAdjacentHTML('beforeend', `<div class="card sensor-chart" data-place-chart="${esc(value)}"><h2>${esc(t('chart.overtime'))}</h2><p class="muted" data-chart-window></p><div class="streams"><p class="muted">${esc(t('chart.loading'))}</p></div></div>`);
    card = side.querySelector('[data-place-chart]');
  }
  const win = chartWindow(app);
  card.dataset.start = isoInstant(win.start);
  card.dataset.end = isoInstant(win.end);
  card.querySelector('[data-chart-window]').textContent = t('chart.window', { from: almatyTime(win.start), to: almatyTime(win.end) });
  try {
    const rows = await placeRows(entry, value, win);
    const step = periodMs(fact.period);
    const blocks = fact.values.map((name) => {
      const meta = (entry.properties ?? []).find((p) => p.name === name) ?? { name };
      const points = rows.map((f) => ({ time: new Date(new Date(f.properties[fact.property]).getTime() + step), value: f.properties[name] }))
        .filter((p) => p.value != null && !Number.isNaN(p.time.getTime()));
      const unit = meta.units?.[lang()] ?? meta.unit ?? '';
      return `<div class="stream" data-series="${esc(name)}"><h3>${esc(meta.titles?.[lang()] ?? meta.title ?? name)}</h3>
        ${chartSvg(points, { ...win, kind: 'number', unit })}${figuresHtml(points, 'number', unit)}</div>`;
    });
    card.querySelector('.streams').innerHTML = blocks.join('');
    card.dataset.ready = '1';
  } catch (error) {
    card.querySelector('.streams').innerHTML = `<p class="error-text">${esc(t('chart.unavailable', { error: error.message }))}</p>`;
    card.dataset.ready = 'error';
  }
  if (!card.dataset.follows) {
    card.dataset.follows = '1';
    const follow = () => {
      if (!document.body.contains(card)) { document.removeEventListener('twin:time', follow); return; }
      showPlaceChart(app, entry, props, side);
    };
    document.addEventListener('twin:time', follow);
  }
}

/** A period's length in milliseconds (PT1H, PT10M, P1D; a month as 30 days). */
function periodMs(period) {
  const match = /^P(?:(\d+)([DM])|T(\d+)([HM]))$/.exec(period ?? '');
  if (!match) return 0;
  const unit = { D: 24 * 3600e3, M: match[2] === 'M' ? 30 * 24 * 3600e3 : 60e3, H: 3600e3 }[match[2] ?? match[4]];
  return Number(match[1] ?? match[3]) * unit;
}

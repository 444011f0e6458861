// Nothing stays on the screen: the view as a PNG (composed here, in the browser) or a PDF print
// layout (A4/A3, rendered by the twin: POST /exports/print), the dashboard and each table as
// PDF and CSV, the plot report as PDF and as text to paste into a memo. Every export carries a
// title, the date, the data's source and, for maps, the legend, a scale bar and a north arrow.
import { getJSON } from './api.js';
import { t, lang, layerTitle, formatNumber, formatDate } from './i18n.js';
import { notify, dismiss, esc } from './notice.js';

const PRINT = '/exports/print';
const PAD = 16;
const HEADER = 64;
const FOOTER = 44;
const LEGEND_W = 250;
const MAX_LEGEND_ROWS = 14;
const BAR_MAX_PX = 140;   // the scale bar's longest length on screen (CSS px)
const IDLE_WAIT_MS = 10000;

// -- what a reader needs beside the map --------------------------------------------------------

/** The legend of the layers on the map: [{title, kind, items: [{label, color}]}]. */
export function legendOf(app) {
  const layers = [];
  for (const entry of app.entries.values()) {
    if (!app.state.visible.has(entry.name)) continue;
    const items = (entry.legend ?? []).map((item) => ({ label: String(item.label ?? item.value ?? ''), color: String(item.color ?? '#888888') }));
    layers.push({ title: layerTitle(entry), kind: ['line', 'circle'].includes(entry.kind) ? entry.kind : 'fill', items: items.length ? items : [{ label: layerTitle(entry), color: entry.style?.color ?? '#888888' }] });
  }
  return layers;
}

function niceLength(metres) {
  const power = 10 ** Math.floor(Math.log10(metres));
  const steps = [5, 2, 1].map((s) => s * power);
  return steps.find((s) => s <= metres) ?? power;
}

/** A scale bar for the map's lower edge: {metres, px (CSS), label}. Tilted views shrink with
 * distance, so the bar holds where it is drawn, at the bottom. */
export function scaleBar(map) {
  const canvas = map.getCanvas();
  const width = canvas.clientWidth;
  const y = canvas.clientHeight - 30;
  const a = map.unproject([width / 2 - 50, y]);
  const b = map.unproject([width / 2 + 50, y]);
  const perPx = a.distanceTo(b) / 100;
  if (!Number.isFinite(perPx) || perPx <= 0) return null;
  const metres = niceLength(perPx * BAR_MAX_PX);
  const label = metres >= 1000 ? `${formatNumber(metres / 1000, 1)} ${t('export.km')}` : `${formatNumber(metres, 0)} ${t('export.m')}`;
  return { metres, px: metres / perPx, label, fraction: metres / perPx / width };
}

let provenance = null;

/** Where the visible layers' data come from (the collections' provenance), once per visit. */
async function sourceLine(app) {
  provenance ??= new Map();
  const wanted = [...app.state.visible].filter((name) => !provenance.has(name));
  await Promise.all(wanted.map((name) => getJSON(`/collections/${encodeURIComponent(name)}?f=json`)
    .then((doc) => provenance.set(name, doc.provenance ?? null)).catch(() => provenance.set(name, null))));
  const sources = new Set();
  let synthetic = false;
  let loaded = '';
  for (const name of app.state.visible) {
    const p = provenance.get(name);
    if (!p) continue;
    if (p.source) sources.add(p.licence ? `${p.source} (${p.licence})` : p.source);
    synthetic ||= Boolean(p.synthetic);
    if (p.loaded_at && p.loaded_at > loaded) loaded = p.loaded_at;
  }
  const parts = [`${t('export.source')}: ${sources.size ? [...sources].join('; ') : (app.status.tiles?.json?.attribution ? t('map.attribution') : t('app.title'))}`];
  if (loaded) parts.push(t('export.loaded', { date: localDate(new Date(loaded)) }));
  if (synthetic) parts.push(t('export.demo'));
  return parts.join(' · ');
}

function localDate(date = new Date()) {
  return formatDate(date, { utc: false });
}

function dateLine() {
  return `${t('export.date')}: ${localDate()}`;
}

/** The view's default title: the twin and what the map shows. */
export function defaultTitle(app) {
  const shown = [...app.state.visible].map((name) => app.entries.get(name)).filter(Boolean).map(layerTitle);
  const mode = app.state.mode !== 'explore' ? t(`mode.${app.state.mode}`) : '';
  const what = mode || shown.slice(0, 3).join(', ');
  return what ? `${t('app.title')} — ${what}` : t('app.title');
}

// -- the map as a picture ----------------------------------------------------------------------

function settled(map) {
  return new Promise((resolve) => {
    if (map.loaded() && !map.isMoving() && map.areTilesLoaded()) { resolve(); return; }
    const timer = setTimeout(resolve, IDLE_WAIT_MS);
    map.once('idle', () => { clearTimeout(timer); resolve(); });
  });
}

/** The map's canvas with the HTML labels on it (markers are DOM, not WebGL), at device pixels. */
export async function mapPicture(app) {
  const map = app.map;
  await settled(map);
  map.triggerRepaint();
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const source = map.getCanvas();
  const canvas = document.createElement('canvas');
  canvas.width = source.width;
  canvas.height = source.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(source, 0, 0);
  const ratio = source.width / source.clientWidth;
  const box = source.getBoundingClientRect();
  ctx.font = `600 ${12 * ratio}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.lineJoin = 'round';
  for (const marker of document.querySelectorAll('#map .maplibregl-marker')) {
    const text = marker.textContent.trim();
    if (!text || marker.hidden) continue;
    const r = marker.getBoundingClientRect();
    const x = (r.left + r.width / 2 - box.left) * ratio;
    const y = (r.top + r.height / 2 - box.top) * ratio;
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.lineWidth = 4 * ratio;
    ctx.strokeText(text, x, y);
    ctx.fillStyle = '#1d1d1f';
    ctx.fillText(text, x, y);
  }
  return { canvas, ratio };
}

function drawNorth(ctx, x, y, r, bearing) {
  ctx.save();
  ctx.translate(x, y);
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.strokeStyle = '#333';
  ctx.lineWidth = r / 14;
  ctx.beginPath();
  ctx.arc(0, 0, r, 0, 2 * Math.PI);
  ctx.fill();
  ctx.stroke();
  ctx.rotate((-bearing * Math.PI) / 180);
  ctx.fillStyle = '#222';
  ctx.beginPath();
  ctx.moveTo(0, -r * 0.8);
  ctx.lineTo(r * 0.35, r * 0.35);
  ctx.lineTo(0, r * 0.12);
  ctx.lineTo(-r * 0.35, r * 0.35);
  ctx.closePath();
  ctx.fill();
  ctx.font = `bold ${r * 0.55}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(t('export.north'), 0, -r * 0.8);
  ctx.restore();
}

function drawScale(ctx, bar, x, y, k) {
  const w = bar.px * k;
  ctx.fillStyle = 'rgba(255,255,255,0.8)';
  ctx.fillRect(x - 4 * k, y - 22 * k, w + 8 * k, 28 * k);
  ctx.strokeStyle = '#111';
  ctx.lineWidth = 2 * k;
  ctx.beginPath();
  ctx.moveTo(x, y - 6 * k);
  ctx.lineTo(x, y);
  ctx.lineTo(x + w, y);
  ctx.lineTo(x + w, y - 6 * k);
  ctx.stroke();
  ctx.fillStyle = '#111';
  ctx.font = `bold ${12 * k}px system-ui, sans-serif`;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.fillText(bar.label, x, y - 8 * k);
}

function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}

function drawLegend(ctx, legend, x, y, width, bottom, k) {
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#1d1d1f';
  ctx.font = `bold ${14 * k}px system-ui, sans-serif`;
  ctx.fillText(t('export.legend'), x, y + 8 * k);
  let top = y + 30 * k;
  for (const layer of legend) {
    if (top > bottom - 20 * k) break;
    const single = layer.items.length <= 1;
    ctx.font = `600 ${12 * k}px system-ui, sans-serif`;
    if (single) swatch(ctx, layer.kind, layer.items[0]?.color, x, top, k);
    ctx.fillStyle = '#1d1d1f';
    ctx.fillText(fitText(ctx, layer.title, width - (single ? 20 * k : 0)), x + (single ? 20 * k : 0), top);
    top += 18 * k;
    if (single) continue;
    ctx.font = `${11 * k}px system-ui, sans-serif`;
    const rows = layer.items.slice(0, MAX_LEGEND_ROWS);
    for (const item of rows) {
      if (top > bottom - 10 * k) break;
      swatch(ctx, layer.kind, item.color, x + 6 * k, top, k);
      ctx.fillStyle = '#333';
      ctx.fillText(fitText(ctx, item.label, width - 30 * k), x + 26 * k, top);
      top += 16 * k;
    }
    if (layer.items.length > rows.length) {
      ctx.fillText(`+ ${layer.items.length - rows.length}…`, x + 26 * k, top);
      top += 16 * k;
    }
    top += 6 * k;
  }
}

function swatch(ctx, kind, color, x, y, k) {
  ctx.fillStyle = color ?? '#888888';
  ctx.strokeStyle = 'rgba(0,0,0,0.35)';
  ctx.lineWidth = k;
  ctx.beginPath();
  if (kind === 'circle') ctx.arc(x + 6 * k, y, 6 * k, 0, 2 * Math.PI);
  else if (kind === 'line') ctx.rect(x, y - 2 * k, 14 * k, 4 * k);
  else ctx.rect(x, y - 6 * k, 14 * k, 12 * k);
  ctx.fill();
  ctx.stroke();
}

/** The view as one PNG: title and date above, the map with its scale bar and north arrow, the
 * legend beside it, the data's source below. Resolves to {blob, width, height}. */
export async function viewPng(app, title = defaultTitle(app)) {
  const { canvas: picture, ratio: k } = await mapPicture(app);
  const legend = legendOf(app);
  const source = await sourceLine(app);
  const bar = scaleBar(app.map);
  const legendW = legend.length ? LEGEND_W * k : 0;
  const out = document.createElement('canvas');
  out.width = Math.round(picture.width + legendW + 2 * PAD * k + (legend.length ? PAD * k : 0));
  out.height = Math.round(picture.height + (HEADER + FOOTER) * k);
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  // header: title, what it shows, the date
  ctx.fillStyle = '#1d1d1f';
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  ctx.font = `bold ${22 * k}px system-ui, sans-serif`;
  ctx.fillText(fitText(ctx, title, out.width * 0.7), PAD * k, 36 * k);
  ctx.font = `${13 * k}px system-ui, sans-serif`;
  ctx.fillStyle = '#444';
  ctx.textAlign = 'right';
  ctx.fillText(dateLine(), out.width - PAD * k, 36 * k);
  ctx.fillStyle = '#0a7f8c';
  ctx.fillRect(PAD * k, 48 * k, out.width - 2 * PAD * k, 2 * k);
  // the map, its north arrow and scale bar
  const top = HEADER * k;
  ctx.drawImage(picture, PAD * k, top);
  ctx.strokeStyle = '#777';
  ctx.lineWidth = k;
  ctx.strokeRect(PAD * k, top, picture.width, picture.height);
  drawNorth(ctx, PAD * k + picture.width - 34 * k, top + 34 * k, 20 * k, app.map.getBearing());
  if (bar) drawScale(ctx, bar, PAD * k + 16 * k, top + picture.height - 16 * k, k);
  if (legend.length) drawLegend(ctx, legend, PAD * k * 2 + picture.width, top, legendW, top + picture.height, k);
  // footer: the data's source, a tilted view's caveat
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillStyle = '#444';
  ctx.font = `${11 * k}px system-ui, sans-serif`;
  ctx.fillText(fitText(ctx, source, out.width - 2 * PAD * k), PAD * k, top + picture.height + 20 * k);
  if (app.map.getPitch() > 5) {
    ctx.fillText(fitText(ctx, t('export.tilted'), out.width - 2 * PAD * k), PAD * k, top + picture.height + 36 * k);
  }
  const blob = await new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  return { blob, width: out.width, height: out.height };
}

// -- prints rendered by the twin ---------------------------------------------------------------

async function print(body) {
  let response;
  try {
    response = await fetch(PRINT, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/pdf' }, body: JSON.stringify({ lang: lang(), date: dateLine(), ...body }) });
  } catch (error) {
    throw new Error(t('err.network', { error: error.message }));
  }
  if (!response.ok) {
    let description = response.statusText;
    try { description = (await response.json()).description ?? description; } catch { /* not JSON */ }
    throw new Error(t('export.failed', { status: response.status, description }));
  }
  return response.blob();
}

/** The view as a print layout (A4 or A3, landscape): map, legend, scale, north, source. */
export async function viewPdf(app, paper = 'A4', title = defaultTitle(app)) {
  const { canvas } = await mapPicture(app);
  const bar = scaleBar(app.map);
  const body = {
    title, paper, orientation: 'landscape',
    source: await sourceLine(app),
    note: app.map.getPitch() > 5 ? t('export.tilted') : '',
    map: {
      image: canvas.toDataURL('image/png'),
      legend: legendOf(app), legend_title: t('export.legend'),
      scale: bar ? { label: bar.label, fraction: Math.min(1, bar.fraction) } : {},
      bearing: app.map.getBearing(), north: t('export.north'),
    },
  };
  return print(body);
}

/** A piece of the page (a panel, a table) as a PDF, without its export buttons. */
export async function piecePdf(app, element, title, orientation = 'portrait') {
  const copy = element.cloneNode(true);
  for (const el of copy.querySelectorAll('.export-bar, button, input, select')) el.remove();
  return print({ title, paper: 'A4', orientation, html: copy.outerHTML, source: await sourceLine(app) });
}

// -- tables and text ---------------------------------------------------------------------------

function csvCell(value) {
  const text = String(value ?? '');
  return /[",;\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV (UTF-8 with a BOM, so Excel reads Cyrillic) of rows of cells. */
export function csv(rows) {
  return `\ufeff${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/** A table as CSV rows: the figures as the API gives them (data-value) where the table has
 * them, its text otherwise; a column's API name beside its title. */
export function tableRows(table) {
  return [...table.querySelectorAll('tr')].map((tr) => [...tr.children].map((cell) => {
    if (cell.dataset.key) return `${cell.textContent.trim()} [${cell.dataset.key}]`;
    return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  }));
}

/** Every figure of /indicators (city, districts, polycentres) as long CSV rows. */
export function indicatorRows(data) {
  const rows = [['area_type', 'area', 'indicator', 'value']];
  const add = (type, area, row) => {
    for (const [key, value] of Object.entries(row ?? {})) {
      if (['district', 'polycentre', 'name'].includes(key) || value === null || typeof value === 'object') continue;
      rows.push([type, area, key, value]);
    }
  };
  add('city', 'Almaty', data.city);
  for (const d of data.districts ?? []) add('district', d.district ?? d.name, d);
  for (const p of data.polycentres ?? []) add('polycentre', p.polycentre ?? p.name, p);
  return rows;
}

/** A card (the plot's, its report) as plain text: heading, then "label: value" per row. */
export function cardText(root) {
  const lines = [];
  const walk = (node) => {
    for (const el of node.children) {
      if (el.classList.contains('export-bar') || el.tagName === 'BUTTON') continue;
      if (el.tagName === 'H2') {
        const parts = [...el.children].length ? [...el.children].filter((c) => c.tagName !== 'BUTTON').map((c) => c.textContent.trim()) : [el.textContent.trim()];
        lines.push(parts.filter(Boolean).join(' — '));
      } else if (el.tagName === 'H3') {
        lines.push('', el.textContent.trim());
      } else if (el.tagName === 'TR') {
        lines.push([...el.children].map((c) => c.textContent.trim().replace(/\s+/g, ' ')).join(': '));
      } else if (el.tagName === 'P') {
        lines.push(el.textContent.trim().replace(/\s+/g, ' '));
      } else {
        walk(el);
      }
    }
  };
  walk(root);
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement('textarea');
    area.value = text;
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
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

function fileName(title, ext) {
  const slug = title.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '').slice(0, 60) || 'almaty';
  return `${slug}-${new Date().toISOString().slice(0, 10)}.${ext}`;
}

/** Run one export from a button: busy while it runs, a notice when it fails. */
async function run(button, work) {
  button.disabled = true;
  button.dataset.state = 'working';
  notify(t('export.working'), 'info', { key: 'export', timeout: 0 });
  const started = performance.now();
  try {
    await work();
    button.dataset.state = 'done';
    dismiss('export');
    app().exports.last = { ms: Math.round(performance.now() - started), at: Date.now() };
  } catch (error) {
    button.dataset.state = 'failed';
    dismiss('export');
    notify(error.message, 'error', { key: 'export' });
  } finally {
    button.disabled = false;
  }
}

const app = () => window.twin;

// -- the buttons -------------------------------------------------------------------------------

function barHtml(kind, buttons) {
  return `<div class="export-bar" data-export="${esc(kind)}">${buttons.map(([action, key]) => `<button type="button" data-export-action="${esc(action)}">${esc(t(key))}</button>`).join('')}</div>`;
}

function sectionTitle(table) {
  let el = table.previousElementSibling;
  while (el && !/^H[23]$/.test(el.tagName)) el = el.previousElementSibling;
  return el?.textContent.trim() || t('export.table');
}

/** Bars on the dashboard, its tables and the plot report as they appear (the panels are built
 * by their own modules; this one adds its buttons without them knowing). */
function decorate() {
  const dashboard = document.getElementById('dashboard-body');
  if (dashboard?.querySelector('#city-kpis') && !dashboard.querySelector('[data-export="dashboard"]')) {
    dashboard.insertAdjacentHTML('afterbegin', barHtml('dashboard', [['dashboard-pdf', 'export.pdf'], ['dashboard-csv', 'export.csv']]));
  }
  for (const root of [dashboard, document.getElementById('side-body')]) {
    for (const table of root?.querySelectorAll('table.grid') ?? []) {
      if (table.previousElementSibling?.dataset.export === 'table') continue;
      table.insertAdjacentHTML('beforebegin', barHtml('table', [['table-csv', 'export.csv'], ['table-pdf', 'export.pdf']]));
    }
  }
  const side = document.getElementById('side-body');
  const plot = side?.querySelector('[data-card="plots"]');
  if (plot && !side.querySelector('[data-export="plot"]')) {
    side.insertAdjacentHTML('beforeend', barHtml('plot', [['plot-pdf', 'export.pdf'], ['plot-copy', 'export.copy']]));
  }
}

function plotTitle(side) {
  const name = side.querySelector('[data-card="plots"] h2 span')?.textContent.trim() ?? '';
  return `${t('export.plot')} ${name}`.trim();
}

async function onAction(button) {
  const action = button.dataset.exportAction;
  const a = app();
  if (action === 'dashboard-pdf') {
    const body = document.getElementById('dashboard-body');
    await run(button, async () => save(await piecePdf(a, body, t('ind.title')), fileName(t('ind.title'), 'pdf')));
  } else if (action === 'dashboard-csv') {
    await run(button, async () => {
      const data = await getJSON(a.catalog.endpoints.indicators);
      save(new Blob([csv(indicatorRows(data))], { type: 'text/csv;charset=utf-8' }), fileName(t('ind.title'), 'csv'));
    });
  } else if (action === 'table-csv' || action === 'table-pdf') {
    const table = button.closest('.export-bar').nextElementSibling;
    const title = sectionTitle(button.closest('.export-bar'));
    if (action === 'table-csv') {
      await run(button, async () => save(new Blob([csv(tableRows(table))], { type: 'text/csv;charset=utf-8' }), fileName(title, 'csv')));
    } else {
      await run(button, async () => save(await piecePdf(a, table, `${t('app.title')} — ${title}`, 'landscape'), fileName(title, 'pdf')));
    }
  } else if (action === 'plot-pdf') {
    const side = document.getElementById('side-body');
    await run(button, async () => save(await piecePdf(a, side, plotTitle(side)), fileName(plotTitle(side), 'pdf')));
  } else if (action === 'plot-copy') {
    const side = document.getElementById('side-body');
    await run(button, async () => {
      const text = `${plotTitle(side)}\n${dateLine()}\n\n${cardText(side)}`;
      a.exports.copied = text;
      const ok = await copyText(text);
      notify(t(ok ? 'export.copied' : 'export.copyfailed'), ok ? 'info' : 'warn', { key: 'export-copy' });
    });
  } else if (action === 'view-png') {
    const title = document.getElementById('export-title').value.trim() || defaultTitle(a);
    await run(button, async () => save((await viewPng(a, title)).blob, fileName(title, 'png')));
  } else if (action === 'view-a4' || action === 'view-a3') {
    const title = document.getElementById('export-title').value.trim() || defaultTitle(a);
    const paper = action === 'view-a3' ? 'A3' : 'A4';
    await run(button, async () => save(await viewPdf(a, paper, title), fileName(title, 'pdf')));
  }
}

function menuHtml(a) {
  return `
    <label>${esc(t('export.titlelabel'))}<input id="export-title" type="text" maxlength="200" value="${esc(defaultTitle(a))}"></label>
    <div class="export-actions">
      <button type="button" data-export-action="view-png">${esc(t('export.png'))}</button>
      <button type="button" data-export-action="view-a4">${esc(t('export.a4'))}</button>
      <button type="button" data-export-action="view-a3">${esc(t('export.a3'))}</button>
    </div>
    <p class="muted">${esc(t('export.hint'))}</p>`;
}

/** The "Export" button beside "3D scene", its menu, and the bars on panels and tables. */
export function setupExports(a) {
  a.exports = { copied: null, last: null };
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'export-view';
  button.dataset.i18n = 'export.button';
  button.textContent = t('export.button');
  button.setAttribute('aria-haspopup', 'dialog');
  const menu = document.createElement('div');
  menu.id = 'export-menu';
  menu.hidden = true;
  menu.setAttribute('role', 'dialog');
  const anchor = document.getElementById('download-scene');
  anchor.after(button);
  document.body.append(menu);
  button.onclick = () => {
    menu.hidden = !menu.hidden;
    if (menu.hidden) return;
    menu.innerHTML = menuHtml(a);
    const r = button.getBoundingClientRect();
    menu.style.top = `${r.bottom + 6}px`;
    menu.style.left = `${Math.max(8, r.right - 300)}px`;
  };
  document.addEventListener('click', (event) => {
    // a person's click elsewhere closes it (the download link's synthetic click does not)
    if (event.isTrusted && !menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) menu.hidden = true;
  }, true);
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') menu.hidden = true; });
  document.body.addEventListener('click', (event) => {
    const target = event.target.closest?.('[data-export-action]');
    if (target) onAction(target).catch((error) => notify(error.message, 'error', { key: 'export' }));
  });
  const observer = new MutationObserver(() => decorate());
  for (const id of ['dashboard-body', 'side-body']) {
    const el = document.getElementById(id);
    if (el) observer.observe(el, { childList: true, subtree: true });
  }
  decorate();
}

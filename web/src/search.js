// Search by cadastral number, street or district, through OGC API Features items queries.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { items } from './api.js';
import { t, localName } from './i18n.js';
import { esc } from './notice.js';
import { highlight, openCard } from './pick.js';

let districtsCache = null;

function cql(text) {
  return text.replace(/'/g, "''").replace(/[%_\\]/g, '');
}

/** Items matching a CQL2 LIKE filter; servers without CQL2 get the exact property query. */
async function like(collection, property, text, limit) {
  const pattern = `%${cql(text)}%`;
  try {
    return await items(collection, { filter: `${property} LIKE '${pattern}'`, 'filter-lang': 'cql2-text', limit });
  } catch (error) {
    if (error.status && error.status < 500) return items(collection, { [property]: text, limit });
    throw error;
  }
}

function contains(value, text) {
  return String(value ?? '').toLowerCase().includes(text.toLowerCase());
}

function bboxOf(geometry) {
  const bounds = new maplibregl.LngLatBounds();
  const walk = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(walk));
  if (geometry) walk(geometry.coordinates);
  return bounds;
}

export async function search(text) {
  const q = text.trim();
  if (!q) return [];
  const hits = [];
  const looksCadastral = /^[0-9:\-]+$/.test(q);
  const tasks = [
    like('plots', 'cadastral_number', q, looksCadastral ? 8 : 4).then((page) => {
      for (const f of page.features ?? []) {
        if (contains(f.properties.cadastral_number, q)) hits.push({ kind: 'plot', title: f.properties.cadastral_number, sub: [f.properties.land_use, f.properties.district].filter(Boolean).join(' · '), feature: f, layer: 'plots' });
      }
    }),
  ];
  if (!looksCadastral) {
    tasks.push(like('streets', 'name', q, 50).then((page) => {
      const byName = new Map();
      for (const f of page.features ?? []) {
        if (!contains(f.properties.name, q)) continue;
        const entry = byName.get(f.properties.name) ?? { kind: 'street', title: f.properties.name, sub: f.properties.highway, features: [], layer: 'streets' };
        entry.features.push(f);
        byName.set(f.properties.name, entry);
      }
      hits.push(...[...byName.values()].slice(0, 6));
    }));
    tasks.push((async () => {
      districtsCache ??= await items('districts', { limit: 100 });
      for (const f of districtsCache.features ?? []) {
        const p = f.properties;
        if ([p.name_en, p.name_ru, p.name_kk].some((n) => contains(n, q))) hits.unshift({ kind: 'district', title: localName(p), sub: p.population ? `${p.population.toLocaleString()} residents` : '', feature: f, layer: 'districts' });
      }
    })());
  }
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed && !hits.length) throw failed.reason;
  return hits;
}

export function setupSearch(app) {
  const form = document.getElementById('search');
  const input = document.getElementById('search-input');
  const box = document.getElementById('search-results');
  let timer = null;
  let seq = 0;

  const show = (html) => { box.innerHTML = html; box.hidden = false; };

  const go = (hit) => {
    box.hidden = true;
    const geometry = hit.feature?.geometry ?? { type: 'MultiLineString', coordinates: hit.features.map((f) => f.geometry.coordinates) };
    const bounds = bboxOf(geometry);
    if (!bounds.isEmpty()) app.map.fitBounds(bounds, { padding: 80, maxZoom: 17, pitch: app.map.getPitch(), duration: 900 });
    const feature = hit.feature ?? { type: 'Feature', geometry, properties: { name: hit.title } };
    highlight(app.map, feature);
    if (app.state.mode !== 'explore') app.setMode('explore');
    if (hit.feature) openCard(app, hit.feature, app.entries.get(hit.layer));
  };

  const run = async () => {
    const q = input.value.trim();
    if (q.length < 2) { box.hidden = true; return; }
    const mine = ++seq;
    show(`<div class="empty">${esc(t('search.searching'))}</div>`);
    try {
      const hits = await search(q);
      if (mine !== seq) return;
      if (!hits.length) { show(`<div class="empty" data-empty="search">${esc(t('search.none', { q }))}</div>`); return; }
      box.innerHTML = '';
      hits.forEach((hit) => {
        const div = document.createElement('div');
        div.className = 'hit';
        div.dataset.kind = hit.kind;
        div.innerHTML = `${esc(hit.title)} <small>${esc(t(`search.${hit.kind}`))}${hit.sub ? ` · ${esc(hit.sub)}` : ''}</small>`;
        div.onclick = () => go(hit);
        box.append(div);
      });
      box.hidden = false;
      box.firstChild.classList.add('active');
      form.onsubmit = (event) => { event.preventDefault(); go(hits[0]); };
    } catch (error) {
      if (mine === seq) show(`<div class="empty" data-error="search">${esc(t('search.failed', { error: error.message }))}</div>`);
    }
  };

  form.onsubmit = (event) => { event.preventDefault(); clearTimeout(timer); run(); };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 300); });
  input.addEventListener('keydown', (event) => { if (event.key === 'Escape') box.hidden = true; });
  document.addEventListener('click', (event) => { if (!form.contains(event.target)) box.hidden = true; });
}

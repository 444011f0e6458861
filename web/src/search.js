// Search by cadastral number, street or district, through OGC API Features items queries.
// Streets are found by any of their names (name, name_ru, name_kk: CQL2 CASEI ... LIKE, folded
// for every script by the server) and listed in the page's language.
import * as maplibregl from '../vendor/maplibre-gl/maplibre-gl.mjs';
import { items } from './api.js';
import { t, lang, localName, word, districtName, setDistrictNames, formatNumber } from './i18n.js';
import { esc } from './notice.js';
import { highlight, openCard } from './pick.js';

let districtsCache = null;
// Streets listed per search, and the segments asked for at a time.
const STREETS_LISTED = 6;
const STREET_PAGE = 50;

// The names a street carries: the data's own and the Russian and Kazakh street signs.
const STREET_NAMES = ['name', 'name_ru', 'name_kk'];
// A street-sign word as a person types it, cut to what the signs write (просп. Абая, ул. Гоголя):
// "проспект", "пр-т" and "улица" find the abbreviated names; Kazakh signs write the words out.
const SIGN_WORDS = [
  [/^(проспект|просп|пр-т|пр)$/, 'просп'], [/^(улица|ул)$/, 'ул'],
  [/^(avenue|ave)$/, 'ave'], [/^(street|st)$/, 'st'],
];

function cql(text) {
  return text.replace(/'/g, "''").replace(/[%_\\]/g, '');
}

/** The query's words, lower case, each as the street signs write it. */
export function queryWords(text) {
  return text.toLowerCase().split(/[\s,]+/).map((w) => w.replace(/[%_\\]/g, '').replace(/\.+$/, ''))
    .filter(Boolean).map((w) => SIGN_WORDS.find(([re]) => re.test(w))?.[1] ?? w);
}

/** CQL2 text: every word in one of the street's names, whatever the case or script. */
export function streetFilter(words) {
  return words.map((w) => `(${STREET_NAMES.map((n) => `CASEI(${n}) LIKE CASEI('%${cql(w)}%')`).join(' OR ')})`).join(' AND ');
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

/** Streets with every word of the query in one of their names, `skip` (names) left out. */
async function streets(q, limit, skip = []) {
  const words = queryWords(q);
  if (!words.length) return { features: [] };
  const others = skip.length ? ` AND NOT (name IN (${skip.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ')}))` : '';
  try {
    return await items('streets', { filter: streetFilter(words) + others, 'filter-lang': 'cql2-text', limit });
  } catch (error) {
    if (error.status && error.status < 500 && !skip.length) return like('streets', 'name', q, limit);
    throw error;
  }
}

function contains(value, text) {
  return String(value ?? '').toLowerCase().includes(text.toLowerCase());
}

/** The street's name in the page's language (an imported street without one: its `name`). */
export function streetName(props) {
  return props[`name_${lang()}`] || props.name || props.name_ru || props.name_kk || '';
}

function bboxOf(geometry) {
  const bounds = new maplibregl.LngLatBounds();
  const walk = (c) => (typeof c[0] === 'number' ? bounds.extend(c) : c.forEach(walk));
  if (geometry) walk(geometry.coordinates);
  return bounds;
}

async function districts() {
  districtsCache ??= await items('districts', { limit: 100 });
  setDistrictNames(districtsCache.features);
  return districtsCache.features ?? [];
}

export async function search(text) {
  const q = text.trim();
  if (!q) return [];
  const hits = [];
  const looksCadastral = /^[0-9:\-]+$/.test(q);
  // the plots' districts are named in English; their names in the page's language come first
  const named = districts().catch(() => []);
  const tasks = [
    like('plots', 'cadastral_number', q, looksCadastral ? 8 : 4).then(async (page) => {
      await named;
      for (const f of page.features ?? []) {
        const p = f.properties;
        if (contains(p.cadastral_number, q)) hits.push({ kind: 'plot', title: p.cadastral_number, sub: [p.land_use && word(p.land_use), p.district && districtName(p.district)].filter(Boolean).join(' · '), feature: f, layer: 'plots' });
      }
    }),
  ];
  if (!looksCadastral) {
    const words = queryWords(q);
    tasks.push((async () => {
      // a street is many segments: ask again without the streets found until six are listed
      const byName = new Map();
      // (each round finds at least one street more, so six rounds at most)
      for (let round = 0; round < STREETS_LISTED && byName.size < STREETS_LISTED; round += 1) {
        const skip = [...new Set([...byName.values()].flatMap((e) => e.features.map((f) => f.properties.name)).filter(Boolean))];
        const page = await streets(q, STREET_PAGE, skip);
        for (const f of page.features ?? []) {
          const p = f.properties;
          if (!words.every((w) => STREET_NAMES.some((n) => contains(p[n], w)))) continue;
          const title = streetName(p);
          const entry = byName.get(title) ?? { kind: 'street', title, sub: p.highway ? word(p.highway) : '', features: [], layer: 'streets' };
          entry.features.push(f);
          byName.set(title, entry);
        }
        if ((page.features ?? []).length < STREET_PAGE) break;
      }
      hits.push(...[...byName.values()].slice(0, STREETS_LISTED));
    })());
    tasks.push((async () => {
      for (const f of await districts()) {
        const p = f.properties;
        if ([p.name_en, p.name_ru, p.name_kk].some((n) => contains(n, q))) hits.unshift({ kind: 'district', title: localName(p), sub: p.population ? t('search.residents', { n: formatNumber(p.population) }) : '', feature: f, layer: 'districts' });
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

// The time slider: the map as it was at an instant of the last 24 hours (sensors, scooters) or of
// a year by month (changes, crashes). Which layers follow it, and how, is a fact of the catalog
// (the `time` of each layer entry, twin/layer_entries.py): the viewer names no layer here.
import { t, lang, locale, formatDate } from './i18n.js';
import { esc } from './notice.js';
import { sourceId, sourceFor, OPENING } from './style.js';

const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
// Almaty keeps UTC+5 all year (since March 2024): times are read on that clock, whatever the
// browser's own zone.
export const ALMATY_OFFSET_MS = 5 * HOUR;
// The first year of the programme's figures (its 2022 baseline): the year range goes back to it.
const FIRST_YEAR = 2022;

/**
 * The slider's ranges, a registry: a layer joins a range by its catalog fact `time.range`.
 * `instants(end)` lists the instants a range steps through (oldest first), the last one `end`
 * or the end of the chosen year; `label` writes one for a reader; `playMs` is the least time a
 * step stays on screen while playing (the next waits for the map's tiles too).
 */
export const RANGES = {
  day: {
    title: 'time.range.day',
    playMs: 600,
    // the last 24 h, or a chosen day (YYYY-MM-DD: the demo's day of scooters) from 00:00 to 24:00
    instants(end, day) {
      const chosen = /^\d{4}-\d{2}-\d{2}$/.test(day ?? '') ? Date.parse(`${day}T00:00:00Z`) + 24 * HOUR - ALMATY_OFFSET_MS : null;
      const last = chosen ?? Math.floor(end / (10 * MINUTE)) * 10 * MINUTE;
      return Array.from({ length: 145 }, (_, i) => new Date(last - (144 - i) * 10 * MINUTE));
    },
    label: (instant) => almatyTime(instant, { clock: true }),
  },
  year: {
    title: 'time.range.year',
    playMs: 800,
    // each month's instant is its last second on Almaty's clock (the current month: now)
    instants(end, year) {
      const now = almatyParts(new Date(end));
      const lastYear = year ?? now.year;
      const lastMonth = year == null || year === now.year ? now.month : 11;
      return Array.from({ length: 12 }, (_, i) => {
        const month = lastMonth - 11 + i;
        const next = Date.UTC(lastYear, month + 1, 1) - ALMATY_OFFSET_MS - 1000;
        return new Date(Math.min(next, end));
      });
    },
    label: (instant) => almatyMonth(instant),
  },
};

/** Add a range (a name, and an object like those of RANGES) for layers to join by their fact. */
export function registerRange(name, range) {
  RANGES[name] = range;
}

/** An instant's calendar on Almaty's clock: {year, month (0-11), day, hour, minute}. */
export function almatyParts(instant) {
  const d = new Date(instant.getTime() + ALMATY_OFFSET_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
}

/** "6 December 2026, 14:20 (UTC+5)" in the page's language, on Almaty's clock. */
export function almatyTime(instant, { clock = true } = {}) {
  const shifted = new Date(instant.getTime() + ALMATY_OFFSET_MS);
  const { hour, minute } = almatyParts(instant);
  const hhmm = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  const day = formatDate(shifted, { utc: true });
  return clock ? t('time.at', { day, time: hhmm }) : day;
}

/** "June 2022" (июнь 2022 г., 2022 ж. маусым) for a month's instant on Almaty's clock. */
export function almatyMonth(instant) {
  const shifted = new Date(instant.getTime() + ALMATY_OFFSET_MS);
  if (lang() === 'kk') return formatDate(shifted, { utc: true }).replace(/ \d+ /, ' ');
  return shifted.toLocaleDateString(locale('date'), { year: 'numeric', month: 'long', timeZone: 'UTC' });
}

/** An instant as the API reads it: ISO 8601 in UTC, to the second. */
export function isoInstant(instant) {
  return instant.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The start of `period` (PT10M, PT1H, P1D; P1M: the calendar month) ending at `instant`. */
export function periodStart(instant, period) {
  const match = /^P(?:(\d+)([DM])|T(\d+)([HM]))$/.exec(period ?? '');
  if (!match) return instant;
  if (match[2] === 'M') {
    // calendar months on Almaty's clock: P1M is the month the instant is in (its last second,
    // or now in the current month) from its first instant
    const { year, month } = almatyParts(instant);
    return new Date(Date.UTC(year, month - Number(match[1]) + 1, 1) - ALMATY_OFFSET_MS);
  }
  const unit = { D: 24 * HOUR, H: HOUR, M: MINUTE }[match[2] ?? match[4]];
  return new Date(instant.getTime() - Number(match[1] ?? match[3]) * unit);
}

/**
 * The `datetime` a layer's tiles take at `instant` (the same meaning as on its items): as it
 * was then (`asof`), what existed by then (`until`: the open interval ending then) or what
 * happened in the `period` before it (`during`).
 */
export function datetimeFor(fact, instant) {
  if (fact.show === 'until') return `../${isoInstant(instant)}`;
  if (fact.show === 'during') return `${isoInstant(periodStart(instant, fact.period))}/${isoInstant(instant)}`;
  return isoInstant(instant);
}

/** The catalog's layers that follow the slider on `range`. */
export function timeLayers(app, range) {
  return [...app.entries.values()].filter((e) => e.time && e.time.range === range);
}

/** The style layers of a catalog layer, as the map has them now (paint changes included). */
function styleLayers(map, name) {
  return (map.getStyle()?.layers ?? []).filter((l) => l.metadata?.twinLayer === name);
}

/**
 * Give a layer its own source: the layers shown when the page opened share one tile source
 * (style.js OPENING, the dataset's tiles), which cannot take one layer's `datetime`. Its style
 * layers are added again, in place, on the layer's own source.
 */
function ownSource(map, entry) {
  const id = sourceId(entry.name);
  if (!map.getSource(id)) map.addSource(id, sourceFor(entry, location.origin));
  const order = (map.getStyle()?.layers ?? []).map((l) => l.id);
  for (const layer of styleLayers(map, entry.name)) {
    if (layer.source !== OPENING) continue;
    const before = order[order.indexOf(layer.id) + 1];
    map.removeLayer(layer.id);
    map.addLayer({ ...layer, source: id }, before && map.getLayer(before) ? before : undefined);
  }
  return map.getSource(id);
}

/**
 * Point a layer's tiles at an instant (`datetime` null: now). MapLibre's setTiles keeps the
 * tiles it has on screen (reloaded as "expired") until the new ones arrive: no blank frame.
 */
function setLayerTime(app, entry, datetime) {
  const base = sourceFor(entry, location.origin).tiles[0];
  const url = datetime ? `${base}?datetime=${encodeURIComponent(datetime)}` : base;
  const source = datetime ? ownSource(app.map, entry) : app.map.getSource(sourceId(entry.name));
  if (!source || source.tiles?.[0] === url) return false;
  source.setTiles([url]);
  return true;
}

/** The slider's state and its bar under the map (one per page: `app.time`). */
class TimeSlider {
  constructor(app) {
    this.app = app;
    this.range = 'day';
    this.year = null;        // the year range's year (null: the last 12 months)
    this.day = null;         // the day range's day, YYYY-MM-DD on Almaty's clock (null: the last 24 h)
    this.index = null;       // the step shown (null: the last, "now")
    this.playing = false;
    this.timer = null;
    this.dated = new Set();  // layers whose tiles carry a datetime now
    this.now = null;         // the clock the instants are counted back from (set by apply)
    this.bar = null;
  }

  /** The range's instants as of `this.now` (read again at each step: bar, tiles and legend
   * of one step share one "now"). */
  get instants() {
    return RANGES[this.range].instants(this.now ?? Date.now(), this.range === 'year' ? this.year : this.day);
  }

  get instant() {
    const all = this.instants;
    return all[Math.min(this.index ?? all.length - 1, all.length - 1)];
  }

  /** The window the slider spans: {start, end, instant} (a sensor's chart draws it). */
  window() {
    const all = this.instants;
    return { start: all[0], end: all[all.length - 1], instant: this.instant, range: this.range };
  }

  /** The view's `time=` (viewstate.js): day/INDEX or year/YEAR|last/INDEX. */
  hash() {
    const index = this.index ?? this.instants.length - 1;
    if (this.range === 'year') return `year/${this.year ?? 'last'}/${index}`;
    return this.range === 'day' && this.day ? `day/${this.day}/${index}` : `${this.range}/${index}`;
  }

  restore(text) {
    const [range, ...rest] = String(text ?? '').split('/');
    if (!RANGES[range]) return;
    this.range = range;
    if (range === 'year') {
      const year = Number(rest.shift());
      this.year = Number.isInteger(year) && year >= FIRST_YEAR ? year : null;
    }
    if (range === 'day' && rest.length > 1) {
      const day = rest.shift();
      this.day = /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(day)) ? day : null;
    }
    const index = Number(rest[0]);
    this.index = Number.isInteger(index) && index >= 0 ? index : null;
  }

  open() {
    if (!this.bar) this.render();
    this.bar.hidden = false;
    this.apply();
    this.toggleButton(true);
  }

  close() {
    this.pause();
    if (this.bar) this.bar.hidden = true;
    for (const name of this.dated) {
      const entry = this.app.entries.get(name);
      if (entry) setLayerTime(this.app, entry, null);
    }
    this.dated.clear();
    this.legends();
    this.toggleButton(false);
    this.app.saveView();
    // an open chart goes back to the last 24 h
    document.dispatchEvent(new CustomEvent('twin:time', { detail: null }));
  }

  get isOpen() {
    return Boolean(this.bar && !this.bar.hidden);
  }

  toggleButton(on) {
    const button = document.getElementById('time-toggle');
    if (!button) return;
    button.classList.toggle('active', on);
    button.setAttribute('aria-pressed', String(on));
  }

  /** Every time-aware layer of the range at the instant; the others back to now. */
  apply() {
    this.now = Date.now();
    const instant = this.instant;
    const joined = new Set(timeLayers(this.app, this.range).map((e) => e.name));
    let changed = 0;
    for (const entry of this.app.entries.values()) {
      if (joined.has(entry.name)) {
        if (setLayerTime(this.app, entry, datetimeFor(entry.time, instant))) changed += 1;
        this.dated.add(entry.name);
      } else if (this.dated.has(entry.name)) {
        setLayerTime(this.app, entry, null);
        this.dated.delete(entry.name);
      }
    }
    this.sync();
    this.legends();
    this.app.saveView();
    document.dispatchEvent(new CustomEvent('twin:time', { detail: this.window() }));
    return changed;
  }

  /** The bar's controls and words follow the state (and the page's language). */
  sync() {
    const bar = this.bar;
    if (!bar) return;
    const all = this.instants;
    const index = Math.min(this.index ?? all.length - 1, all.length - 1);
    const range = bar.querySelector('[data-time-slider]');
    range.max = String(all.length - 1);
    range.value = String(index);
    const label = RANGES[this.range].label(all[index]);
    range.setAttribute('aria-valuetext', label);
    bar.querySelector('[data-time-label]').textContent = label;
    bar.querySelector('[data-time-range]').value = this.range;
    const years = bar.querySelector('[data-time-year]');
    years.hidden = this.range !== 'year';
    years.value = this.year == null ? '' : String(this.year);
    const day = bar.querySelector('[data-time-day]');
    day.hidden = this.range !== 'day';
    day.value = this.day ?? '';
    const play = bar.querySelector('[data-time-play]');
    play.textContent = this.playing ? '❚❚' : '▶';
    play.setAttribute('aria-pressed', String(this.playing));
    play.setAttribute('aria-label', t(this.playing ? 'time.pause' : 'time.play'));
    play.title = t(this.playing ? 'time.pause' : 'time.play');
    const names = timeLayers(this.app, this.range).filter((e) => this.app.isVisible(e.name));
    const layers = bar.querySelector('[data-time-layers]');
    layers.textContent = names.length ? t('time.layers', { n: names.length }) : t('time.nolayers');
    layers.title = layers.textContent;
    bar.dataset.instant = isoInstant(all[index]);
    bar.dataset.range = this.range;
  }

  /** Each dated layer's legend says the time it shows. */
  legends() {
    for (const el of document.querySelectorAll('[data-time-shown]')) el.remove();
    if (!this.isOpen) return;
    const instant = this.instant;
    for (const name of this.dated) {
      const entry = this.app.entries.get(name);
      const more = document.querySelector(`.layer[data-layer="${CSS.escape(name)}"] .more`);
      if (!entry || !more) continue;
      const when = RANGES[this.range].label(instant);
      const text = entry.time.show === 'during'
        ? t('time.shown.during', { period: t(`time.period.${entry.time.period}`), time: when })
        : t(`time.shown.${entry.time.show}`, { time: when });
      more.insertAdjacentHTML('afterbegin', `<p class="time-shown" data-time-shown="${esc(name)}">${esc(text)}</p>`);
    }
  }

  step(by) {
    const all = this.instants;
    const index = Math.min(this.index ?? all.length - 1, all.length - 1);
    this.index = Math.max(0, Math.min(all.length - 1, index + by));
    this.apply();
  }

  /** Play from the start (or from where it stands), a step once the map has its tiles. */
  play() {
    if (this.playing) return;
    const all = this.instants;
    if ((this.index ?? all.length - 1) >= all.length - 1) this.index = 0;
    this.playing = true;
    this.apply();
    const tick = () => {
      if (!this.playing) return;
      const map = this.app.map;
      if (!map.areTilesLoaded()) {
        this.timer = setTimeout(tick, 100);
        return;
      }
      if (this.index >= this.instants.length - 1) {
        this.pause();
        return;
      }
      this.step(1);
      this.timer = setTimeout(tick, RANGES[this.range].playMs);
    };
    this.timer = setTimeout(tick, RANGES[this.range].playMs);
  }

  pause() {
    this.playing = false;
    clearTimeout(this.timer);
    this.sync();
  }

  render() {
    const bar = document.createElement('div');
    bar.id = 'time-bar';
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', t('time.title'));
    document.getElementById('map-wrap').append(bar);
    this.bar = bar;
    this.words();
    bar.addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button) return;
      if (button.dataset.timeStep) { this.pause(); this.step(Number(button.dataset.timeStep)); }
      if (button.dataset.timePlay !== undefined) (this.playing ? this.pause() : this.play());
      if (button.dataset.timeClose !== undefined) this.close();
    });
    bar.addEventListener('input', (event) => {
      if (event.target.dataset.timeSlider === undefined) return;
      const index = Number(event.target.value);   // read before pause() draws the bar again
      this.pause();
      this.index = index;
      this.apply();
    });
    bar.addEventListener('change', (event) => {
      if (event.target.dataset.timeRange !== undefined) {
        const range = event.target.value;
        this.pause();
        this.range = range;
        this.index = null;
        this.apply();
      }
      if (event.target.dataset.timeDay !== undefined) {
        const day = event.target.value || null;
        this.pause();
        this.day = day;
        this.index = null;
        this.apply();
      }
      if (event.target.dataset.timeYear !== undefined) {
        const year = event.target.value ? Number(event.target.value) : null;
        this.pause();
        this.year = year;
        this.index = null;
        this.apply();
      }
    });
    // space or k plays and pauses, as in a video player, wherever the focus is in the bar
    bar.addEventListener('keydown', (event) => {
      if (event.target.tagName === 'SELECT' || event.target.tagName === 'BUTTON') return;
      if (event.key === ' ' || event.key === 'k') {
        event.preventDefault();
        if (this.playing) this.pause(); else this.play();
      }
    });
  }

  /** The bar's words in the page's language (built again on a language switch). */
  words() {
    const bar = this.bar;
    if (!bar) return;
    const thisYear = almatyParts(new Date()).year;
    const years = [];
    for (let y = thisYear; y >= FIRST_YEAR; y -= 1) years.push(y);
    const button = (attrs, key, text) => `<button type="button" ${attrs} aria-label="${esc(t(key))}" title="${esc(t(key))}">${text}</button>`;
    bar.innerHTML = `
      <div class="time-row">
        <span class="time-title">${esc(t('time.title'))}</span>
        <select data-time-range aria-label="${esc(t('time.range'))}">${Object.entries(RANGES).map(([name, r]) => `<option value="${esc(name)}">${esc(t(r.title))}</option>`).join('')}</select>
        <select data-time-year aria-label="${esc(t('time.year'))}"><option value="">${esc(t('time.year.last'))}</option>${years.map((y) => `<option value="${y}">${y}</option>`).join('')}</select>
        <input type="date" data-time-day min="${FIRST_YEAR}-01-01" aria-label="${esc(t('time.day'))}" title="${esc(t('time.day.tooltip'))}">
        <span class="muted" data-time-layers></span>
        ${button('data-time-close class="close"', 'time.close', '×')}
      </div>
      <div class="time-row">
        ${button('data-time-step="-1"', 'time.back', '◀')}
        ${button('data-time-play aria-pressed="false"', 'time.play', '▶')}
        ${button('data-time-step="1"', 'time.forward', '▶▏')}
        <input type="range" min="0" max="1" step="1" data-time-slider aria-label="${esc(t('time.instant'))}">
        <output data-time-label aria-live="polite"></output>
      </div>`;
    this.sync();
  }

  /** After a layer was shown or hidden (the count, the legends) or, with `words`, after a
   * language switch (the whole bar in the new language). */
  refresh(words = false) {
    if (!this.bar) return;
    if (words) this.words(); else this.sync();
    this.legends();
  }
}

/** The page's slider (made on first use). */
export function timeSlider(app) {
  if (!app.time) app.time = new TimeSlider(app);
  return app.time;
}

/** Open or close the slider (the toolbar's Time button). */
export function toggleTime(app) {
  const slider = timeSlider(app);
  if (slider.isOpen) slider.close(); else slider.open();
}

/** Open the slider as a view in the URL had it (`#time=day/144`, `#time=year/2022/5`). */
export function openTime(app, text) {
  const slider = timeSlider(app);
  slider.restore(text);
  slider.open();
}

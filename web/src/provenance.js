// Where the data come from, said on screen: a banner over the map when the twin holds the
// synthetic demo city (figures are illustrative), and a line with the data's source, licence
// and load date for the dashboard. Read from /viewer/layers.json (`data`: twin_layers).
import { t, formatDate } from './i18n.js';
import { esc } from './notice.js';

function date(iso) {
  if (!iso) return '—';
  return formatDate(iso, { utc: false });
}

/** One line: "Data: <sources> (<licences>), loaded <date>"; '' when the server did not say. */
export function dataLine(catalog) {
  const data = catalog?.data;
  if (!data) return '';
  return t('data.source', {
    source: (data.sources ?? []).join(', ') || '—',
    licence: (data.licences ?? []).join(', ') || '—',
    date: date(data.loaded_at),
  });
}

/** The dashboard's footer: the banner's words when the data are the demo, then the source. */
export function dataHtml(catalog) {
  const data = catalog?.data;
  if (!data) return '';
  const demo = data.synthetic ? `<b>${esc(t('data.demo'))}</b> ` : '';
  return `<p class="data-provenance" data-synthetic="${data.synthetic ? '1' : '0'}">${demo}${esc(dataLine(catalog))}</p>`;
}

/** The banner over the map (shown again in each language; hidden by its button until reload). */
export function showDataBanner(app) {
  const wrap = document.getElementById('map-wrap');
  if (!wrap) return;
  let banner = document.getElementById('data-banner');
  if (!app.catalog?.data?.synthetic) {
    banner?.remove();
    keepAboveBanner(wrap, null);
    return;
  }
  if (banner?.dataset.closed === '1') return;
  if (!banner) {
    banner = document.createElement('div');
    banner.id = 'data-banner';
    banner.setAttribute('role', 'note');
    wrap.append(banner);
    banner.addEventListener('click', (event) => {
      if (event.target.dataset.hide === undefined) return;
      banner.dataset.closed = '1';
      banner.hidden = true;
      keepAboveBanner(wrap, null);
    });
    // the banner wraps onto more lines in a narrow map or a longer language: what sits above
    // it (the time slider) rises with it instead of covering it
    new ResizeObserver(() => keepAboveBanner(wrap, banner.hidden ? null : banner)).observe(banner);
  }
  const data = app.catalog.data;
  const short = `${(data.licences ?? []).join(', ')} · ${t('data.loaded', { date: date(data.loaded_at) })}`;
  banner.title = dataLine(app.catalog);
  banner.innerHTML = `<b>${esc(t('data.demo'))}</b> <span>${esc(short)}</span>
    <button type="button" data-hide aria-label="${esc(t('data.close'))}" title="${esc(t('data.close'))}">×</button>`;
}

/** `--above-banner` on the map: the height (from the map's bottom) above the banner, 0 without one. */
function keepAboveBanner(wrap, banner) {
  const above = banner ? parseFloat(getComputedStyle(banner).bottom) + banner.offsetHeight + 6 : 0;
  wrap.style.setProperty('--above-banner', `${Math.ceil(above)}px`);
}

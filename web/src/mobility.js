// Mobility and safety in the dashboard: bike lanes, lighting, cameras, police posts and
// gathering points per district beside the programme's targets (GET /indicators/mobility-safety
// gives the values; the catalog, /viewer/layers.json `targets.mobility`, their years).
import { getJSON } from './api.js';
import { districtName, formatNumber, t } from './i18n.js';
import { esc } from './notice.js';
import { hbars, shareColour } from './charts.js';
import { table, raw } from './indicators.js';

const pct = (share) => (share == null || !Number.isFinite(share) ? null : share * 100);
const f0 = (v) => formatNumber(v, 0);
const f1 = (v) => formatNumber(v, 1);
const p0 = (v) => `${f0(pct(v))}%`;

/** The district table's columns; the distances and walks are the analysis' own (targets). */
function columns(tg) {
  return [
    ['residents', t('col.residents'), f0],
    ['share_near_bike', t('mob.col.bike', { m: raw(tg.bike_catchment_m) }), p0],
    ['lane_km_built', t('mob.col.lanes'), f1],
    ['lane_km_planned_2025', `+2025 ${t('unit.km')}`, f1],
    ['lane_km_planned_2030', `+2030 ${t('unit.km')}`, f1],
    ['share_lit', t('mob.col.lit'), p0],
    ['unlit_streets', t('mob.col.unlit'), f0],
    ['camera_density_km2', t('mob.col.cameras'), f1],
    ['camera_integrated_share', t('mob.col.integrated'), p0],
    ['sites_without_camera', t('mob.col.nocamera'), f0],
    ['share_beyond_police_15', t('mob.col.police', { m: raw(tg.police_walk_minutes) }), p0],
    ['share_beyond_police_15_night', t('mob.col.police.night', { m: raw(tg.police_walk_minutes) }), p0],
    ['share_beyond_gathering_10', t('mob.col.gathering', { m: raw(tg.gathering_walk_minutes) }), p0],
    ['share_all_six_night', t('mob.col.night'), p0],
  ];
}

function card(id, label, value, unit, target) {
  return `<div class="kpi" data-kpi="${esc(id)}"><div class="label">${esc(label)}</div>
    <div class="value">${value == null ? '—' : esc(formatNumber(value, 1))}<small>${esc(unit)}</small></div>
    <div class="target">${esc(target)}</div></div>`;
}

/** `data`: the document of /indicators/mobility-safety; `programme`: the catalog's figures. */
export function mobilityHtml(data, programme) {
  const c = data.city ?? {};
  const tg = data.targets ?? {};
  const year = (key) => programme?.mobility?.[key]?.year ?? '';
  const districts = data.districts ?? [];
  const litTarget = { value: pct(tg.lit_share_2025), label: String(year('lit_share_2025')) };
  const camTargets = [{ value: tg.camera_density_km2_2025, label: String(year('camera_density_km2_2025')) },
    { value: tg.camera_density_km2_2030, label: String(year('camera_density_km2_2030')), colour: '#0a7f8c' }];
  const lit = hbars(districts.map((d) => ({ label: districtName(d.district), value: pct(d.share_lit), colour: shareColour(d.share_lit),
    targets: [litTarget] })), { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  const cams = hbars(districts.map((d) => ({ label: districtName(d.district), value: d.camera_density_km2,
    colour: (d.camera_density_km2 ?? 0) >= tg.camera_density_km2_2025 ? '#00b894' : '#e17055',
    targets: camTargets })),
  { max: Math.max(110, ...districts.map((d) => (d.camera_density_km2 ?? 0) * 1.05)), unit: t('unit.perkm2'), width: 500, labelWidth: 130, format: f1 });
  const unlit = (data.unlit_streets ?? []).slice(0, 15).map((u) => `<li>${esc(u.name)} (${esc(districtName(u.district))}): ${esc(f0(u.unlit_m))} ${esc(t('unit.m'))}</li>`).join('');
  const litText = t('mob.lit.by', { v: raw(litTarget.value), year: litTarget.label });
  const camText = camTargets.map((tick) => `${raw(tick.value)} (${tick.label})`).join(' · ');
  return `
    <h3 id="mobility-safety">${esc(t('mob.title'))}</h3>
    <div class="kpis" id="mobility-kpis">
      ${card('lane_km', t('mob.lanes'), c.lane_km_built, ` ${t('unit.km')}`, t('mob.lanes.target', { p25: f0(c.lane_km_planned_2025), k25: f1(c.lane_km_2025), p30: f0(c.lane_km_planned_2030), k30: f1(c.lane_km_2030), b: raw(tg.bike_lane_km_built_2022), a25: raw(tg.bike_lane_km_added_2025), a30: raw(tg.bike_lane_km_added_2030) }))}
      ${card('share_near_bike', t('mob.bike', { m: raw(tg.bike_catchment_m) }), pct(c.share_near_bike), '%', t('mob.bike.target', { n: f0(c.bikeshare_stations), p: raw(tg.bikeshare_stations_2022) }))}
      ${card('share_lit', t('mob.lit'), pct(c.share_lit), '%', t('mob.lit.target', { lit: litText, n: f0(c.unlit_streets) }))}
      ${card('camera_density', t('mob.cameras'), c.camera_density_km2, '', t('mob.cameras.target', { ticks: camText, share: f1(pct(c.camera_integrated_share)), base: raw(pct(tg.camera_integrated_share_baseline)) }))}
      ${card('sites_without_camera', t('mob.nocamera', { m: raw(tg.camera_watch_radius_m) }), c.sites_without_camera, '', t('mob.nocamera.target', { n: f0(c.watched_sites) }))}
      ${card('beyond_police', t('mob.police', { m: raw(tg.police_walk_minutes) }), pct(c.share_beyond_police_15), '%', t('mob.police.target', { night: f0(pct(c.share_beyond_police_15_night)), centres: f0(c.service_centres), posts: f0(c.police_posts) }))}
      ${card('beyond_gathering', t('mob.gathering', { m: raw(tg.gathering_walk_minutes) }), pct(c.share_beyond_gathering_10), '%', t('mob.gathering.target', { points: f0(c.gathering_points), eew: f0(c.eew_stations), now: raw(tg.eew_stations_existing), then: raw(tg.eew_stations_2025), year: year('eew_stations_2025') }))}
      ${card('night_fifteen', t('mob.night'), pct(c.share_all_six_night), '%', t('mob.night.target', { v: f0(pct(c.share_all_six_day)) }))}
    </div>
    <div class="chart-title">${esc(t('mob.chart.lit', { lit: litText }))}</div>
    <div data-chart="lit">${lit}</div>
    <div class="chart-title">${esc(t('mob.chart.cameras', { ticks: camTargets.map((tick) => t('mob.tick', { v: raw(tick.value), year: tick.label })).join(', ') }))}</div>
    <div data-chart="cameras">${cams}</div>
    ${table(districts, columns(tg), t('search.district'))}
    <div class="chart-title">${esc(t('mob.unlitlist'))}</div>
    <ul data-list="unlit">${unlit}</ul>`;
}

/** Appends the section to the dashboard body; a failure is said in place, the rest stays. */
export async function appendMobility(app, body) {
  const holder = document.createElement('div');
  holder.id = 'mobility-dashboard';
  body.append(holder);
  try {
    const data = await getJSON(`${app.catalog.endpoints.indicators}/mobility-safety`);
    holder.innerHTML = mobilityHtml(data, app.catalog.targets);
  } catch (error) {
    holder.innerHTML = `<p class="error-text" data-error="mobility">${esc(t('mob.unavailable', { error: error.message }))}</p>`;
  }
}

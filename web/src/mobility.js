// Mobility and safety in the dashboard: bike lanes, lighting, cameras, police posts and
// gathering points per district beside the programme's targets (GET /indicators/mobility-safety
// gives the values; the catalog, /viewer/layers.json `targets.mobility`, their years).
import { getJSON } from './api.js';
import { formatNumber } from './i18n.js';
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
    ['residents', 'Residents', f0],
    ['share_near_bike', `Bike ≤${raw(tg.bike_catchment_m)} m`, p0],
    ['lane_km_built', 'Lanes km', f1],
    ['lane_km_planned_2025', '+2025 km', f1],
    ['lane_km_planned_2030', '+2030 km', f1],
    ['share_lit', 'Streets lit', p0],
    ['unlit_streets', 'Unlit streets', f0],
    ['camera_density_km2', 'Cameras/km²', f1],
    ['camera_integrated_share', 'Integrated', p0],
    ['sites_without_camera', 'Sites w/o camera', f0],
    ['share_beyond_police_15', `Post >${raw(tg.police_walk_minutes)} min`, p0],
    ['share_beyond_police_15_night', `Post >${raw(tg.police_walk_minutes)} min (night)`, p0],
    ['share_beyond_gathering_10', `Gathering >${raw(tg.gathering_walk_minutes)} min`, p0],
    ['share_all_six_night', 'All six ≤15 min (night)', p0],
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
  const lit = hbars(districts.map((d) => ({ label: d.district, value: pct(d.share_lit), colour: shareColour(d.share_lit),
    targets: [litTarget] })), { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  const cams = hbars(districts.map((d) => ({ label: d.district, value: d.camera_density_km2,
    colour: (d.camera_density_km2 ?? 0) >= tg.camera_density_km2_2025 ? '#00b894' : '#e17055',
    targets: camTargets })),
  { max: Math.max(110, ...districts.map((d) => (d.camera_density_km2 ?? 0) * 1.05)), unit: '/km²', width: 500, labelWidth: 130, format: f1 });
  const unlit = (data.unlit_streets ?? []).slice(0, 15).map((u) => `<li>${esc(u.name)} (${esc(u.district)}): ${esc(f0(u.unlit_m))} m</li>`).join('');
  const litText = `${raw(litTarget.value)}% by ${litTarget.label}`;
  const camText = camTargets.map((tick) => `${raw(tick.value)} (${tick.label})`).join(' · ');
  return `
    <h3 id="mobility-safety">Mobility and safety</h3>
    <div class="kpis" id="mobility-kpis">
      ${card('lane_km', 'Bike lanes built', c.lane_km_built, ' km', `+${f0(c.lane_km_planned_2025)} km planned 2025 → ${f1(c.lane_km_2025)} km · +${f0(c.lane_km_planned_2030)} km 2030 → ${f1(c.lane_km_2030)} km (programme ${raw(tg.bike_lane_km_built_2022)} +${raw(tg.bike_lane_km_added_2025)} +${raw(tg.bike_lane_km_added_2030)})`)}
      ${card('share_near_bike', `Residents ≤${raw(tg.bike_catchment_m)} m of a bike lane or station`, pct(c.share_near_bike), '%', `${f0(c.bikeshare_stations)} bike-share stations (programme ${raw(tg.bikeshare_stations_2022)})`)}
      ${card('share_lit', 'Street length lit', pct(c.share_lit), '%', `target ${litText} · ${f0(c.unlit_streets)} unlit streets`)}
      ${card('camera_density', 'Cameras per km²', c.camera_density_km2, '', `${camText} · integrated ${f1(pct(c.camera_integrated_share))}% (baseline ${raw(pct(tg.camera_integrated_share_baseline))}%)`)}
      ${card('sites_without_camera', `Schools, clinics, hubs without a camera ≤${raw(tg.camera_watch_radius_m)} m`, c.sites_without_camera, '', `of ${f0(c.watched_sites)} sites`)}
      ${card('beyond_police', `Residents >${raw(tg.police_walk_minutes)} min walk from a police post`, pct(c.share_beyond_police_15), '%', `night (lit streets only): ${f0(pct(c.share_beyond_police_15_night))}% · ${f0(c.service_centres)} centres + ${f0(c.police_posts)} posts`)}
      ${card('beyond_gathering', `Residents >${raw(tg.gathering_walk_minutes)} min walk from a gathering point`, pct(c.share_beyond_gathering_10), '%', `${f0(c.gathering_points)} points · ${f0(c.eew_stations)} early-warning stations (${raw(tg.eew_stations_existing)} → ${raw(tg.eew_stations_2025)} by ${year('eew_stations_2025')})`)}
      ${card('night_fifteen', 'All six ≤15 min at night (lit streets)', pct(c.share_all_six_night), '%', `by day ${f0(pct(c.share_all_six_day))}%`)}
    </div>
    <div class="chart-title">Share of street length lit, by district (tick: ${esc(litText)})</div>
    <div data-chart="lit">${lit}</div>
    <div class="chart-title">Cameras per km², by district (ticks: ${esc(camTargets.map((tick) => `${raw(tick.value)} in ${tick.label}`).join(', '))})</div>
    <div data-chart="cameras">${cams}</div>
    ${table(districts, columns(tg), 'District')}
    <div class="chart-title">Longest unlit streets</div>
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
    holder.innerHTML = `<p class="error-text" data-error="mobility">Mobility and safety indicators unavailable: ${esc(error.message)}</p>`;
  }
}

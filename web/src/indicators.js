// Indicators: the programme's targets beside the twin's figures, per district and for the city.
import { getJSON, items } from './api.js';
import { t, formatNumber, category, setWords, word, districtName, districtNamesLoaded, setDistrictNames } from './i18n.js';
import { esc } from './notice.js';
import { hbars, shareColour } from './charts.js';
import { CATEGORIES } from './fifteen.js';
import { appendMobility } from './mobility.js';
import { dataHtml } from './provenance.js';
import { appendTime } from './livefigures.js';

const pct = (share) => (share == null || !Number.isFinite(share) ? null : share * 100);
const f0 = (v) => formatNumber(v, 0);
const f1 = (v) => formatNumber(v, 1);
/** A programme figure with every digit the programme gives (11.2, 23.9), written as the
 * page's language writes numbers (11,2 and 1 500 in ru/kk); years are not passed here. */
export function raw(v) {
  return v == null || !Number.isFinite(Number(v)) ? '—' : formatNumber(Number(Number(v).toPrecision(10)), 10);
}

/** The programme's figure `name` of `indicator`: {kind, value, year, source} from the catalog
 * (layers/_targets.yml via /viewer/layers.json `targets`); the viewer writes no figure itself. */
export function programmeFigure(programme, indicator, name) {
  return programme?.indicators?.[indicator]?.figures?.[name] ?? { value: null, year: null };
}

/** The networks with a 2030 wear target, in the catalog's order. */
function wearNetworks(programme) {
  return Object.entries(programme?.indicators ?? {})
    .filter(([key, ind]) => /^wear_\w+_pct$/.test(key) && ind.figures?.target_2030)
    .map(([key]) => key.slice(5, -4));
}

function name(row) {
  if (row.district != null) return districtName(row.district);
  return (row.polycentre != null ? word(row.polycentre) : null) ?? row.name ?? '?';
}

/** The green norm and targets as chart ticks and as a sentence. */
function greenFigures(programme) {
  const fig = (n) => programmeFigure(programme, 'green_m2_per_resident', n);
  const norm = fig('norm');
  const dated = [fig('target_2025'), fig('target_2030')];
  const last = (i) => (i === dated.length - 1 ? '#0a7f8c' : undefined);
  return {
    norm,
    ticks: [{ value: norm.value, label: t('dash.norm') },
      ...dated.map((f, i) => ({ value: f.value, label: String(f.year), colour: last(i) }))],
    chartTicks: [{ value: norm.value, label: t('dash.norm.v', { v: raw(norm.value) }) },
      ...dated.map((f, i) => ({ value: f.value, label: `${f.year}: ${raw(f.value)}`, colour: last(i) }))],
    text: [t('dash.norm.v', { v: raw(norm.value) }), ...dated.map((f) => `${f.year} ${raw(f.value)}`)].join(', '),
    target: [t('dash.v.norm', { v: raw(norm.value) }), ...dated.map((f) => `${raw(f.value)} (${f.year})`)].join(' · '),
  };
}

/** The headline KPIs: [{id, label, value, unit, target, note, chart}]. */
export function kpis(city, programme) {
  const c = city ?? {};
  const fig = (indicator, n) => programmeFigure(programme, indicator, n);
  const allSix = fig('share_all_six', 'target');
  const wear = (net) => fig(`wear_${net}_pct`, 'target_2030');
  const green = greenFigures(programme);
  const wearRows = wearNetworks(programme).map((net) => ({
    label: t(`net.${net}`), value: c[`wear_${net}_pct`] ?? null,
    colour: (c[`wear_${net}_pct`] ?? 0) > wear(net).value ? '#e17055' : '#00b894',
    targets: [{ value: wear(net).value, label: String(wear(net).year) }],
  }));
  const greenValue = c.green_m2_per_resident;
  const greenBase = fig('green_m2_per_resident', 'baseline_2022');
  const inventory = fig('park_inventory_ha', 'baseline_2022');
  const noPark = fig('no_park_share', 'baseline_2022');
  const setback = fig('plots_in_setback', 'target');
  const strengthened = fig('buildings_needing_strengthening', 'strengthened_2022');
  const needing = fig('buildings_needing_strengthening', 'baseline');
  const wearYear = wear(wearNetworks(programme)[0]).year;
  return [
    { id: 'share_all_six', label: t('fifteen.allsix'), value: pct(c.share_all_six), unit: '%', target: `${raw(pct(allSix.value))}% (${allSix.year})`,
      chart: hbars([{ label: t('dash.allsix.short'), value: pct(c.share_all_six), colour: shareColour(c.share_all_six), targets: [{ value: pct(allSix.value), label: String(allSix.year) }] },
        ...CATEGORIES.map((cat) => ({ label: category(cat), value: pct(c[`share_${cat}`]), colour: shareColour(c[`share_${cat}`]) }))], { max: 100, unit: '%', width: 240, labelWidth: 90, format: f0 }) },
    { id: 'green_m2_per_resident', label: t('dash.green'), value: greenValue, unit: ` ${t('unit.m2')}`,
      target: t('dash.green.target', { targets: green.target, year: greenBase.year, value: raw(greenBase.value), source: greenBase.source, ha: formatNumber((c.public_green_m2 ?? 0) / 1e4, 2) }),
      chart: hbars([{ label: t('dash.twin'), value: greenValue, colour: greenValue >= green.norm.value ? '#00b894' : '#e17055',
        targets: green.ticks }],
      { max: Math.max(16, (greenValue ?? 0) * 1.1), unit: ` ${t('unit.m2')}`, width: 240, labelWidth: 40, format: f1 }) },
    { id: 'park_inventory_ha', label: t('dash.parks'), value: c.park_inventory_ha, unit: ` ${t('unit.ha')}`,
      target: t('dash.programme', { year: inventory.year, value: raw(inventory.value), unit: t('unit.ha'), source: inventory.source }) },
    { id: 'share_park_500', label: t('dash.park500'), value: pct(c.share_park_500), unit: '%',
      target: t('dash.park500.target', { p300: f0(pct(c.share_park_300)), nopark: f0(pct(c.no_park_share)), base: raw(pct(noPark.value)), source: noPark.source }) },
    { id: 'plots_in_setback', label: t('dash.setback'), value: c.plots_in_setback, unit: '', target: t('dash.setback.target', { v: raw(setback.value), n: f0(c.buildings_in_setback) }) },
    { id: 'buildings_needing_strengthening', label: t('dash.strengthen'), value: c.buildings_needing_strengthening, unit: '',
      target: t('dash.strengthen.target', { needing: f0(needing.value), done: f0(strengthened.value), year: strengthened.year, source: needing.source, attested: f0(c.attested_buildings), strengthened: f0(c.buildings_strengthened) }) },
    { id: 'private_houses_pre2001', label: t('dash.houses'), value: c.private_houses_pre2001, unit: '',
      target: t('dash.houses.target') },
    { id: 'wear', label: t('dash.wear', { year: wearYear }), value: c.wear_water_pct, unit: t('dash.wear.unit'),
      target: t('dash.wear.target', { year: wearYear, list: wearNetworks(programme).map((net) => `${t(`net.${net}`)} ${raw(wear(net).value)}%`).join(' · ') }),
      chart: hbars(wearRows, { max: 100, unit: '%', width: 260, labelWidth: 90, format: f1 }) },
  ];
}

// Column titles are i18n keys (V3), read when the table is drawn, in the viewer's language.
const DISTRICT_COLUMNS = [
  ['residents', 'col.residents', f0],
  ['share_all_six', 'col.allsix', (v) => `${f0(pct(v))}%`],
  ['green_m2_per_resident', 'col.green', f1],
  ['share_park_500', 'col.park500', (v) => `${f0(pct(v))}%`],
  ['plots_in_setback', 'col.setback', f0],
  ['buildings_needing_strengthening', 'col.strengthen', f0],
  ['private_houses_pre2001', 'col.houses', f0],
  ['wear_water_pct', ['col.wear', { net: 'water' }], f1],
  ['wear_sewer_pct', ['col.wear', { net: 'sewer' }], f1],
  ['wear_heating_pct', ['col.wear', { net: 'heating' }], f1],
];
const POLYCENTRE_COLUMNS = [
  ['residents', 'col.residents', f0],
  ['share_all_six', 'col.allsix', (v) => `${f0(pct(v))}%`],
  ['walkability', 'col.walkability', f0],
  ['green_m2_per_resident', 'col.green.short', f1],
  ['density_pph', 'col.density', f0],
  ['target_density_pph', 'col.target_density', f0],
  ['plots_in_setback', 'col.setback', f0],
];

/** A column's title in the viewer's language: an i18n key, or [key, vars] whose `net` is a
 * network read in the language too; any other text (already translated) stays as it is. */
export function columnTitle(title) {
  if (Array.isArray(title)) {
    const [key, vars] = title;
    return t(key, { ...vars, net: vars.net ? t(`net.${vars.net}`) : undefined });
  }
  return /^[a-z]+(\.[a-z_0-9]+)+$/.test(title) ? t(title) : title;
}

export function table(rows, columns, firstTitle) {
  if (!rows?.length) return '<p class="muted">—</p>';
  const head = `<tr><th>${esc(firstTitle)}</th>${columns.map(([key, title]) => `<th data-key="${esc(key)}">${esc(columnTitle(title))}</th>`).join('')}</tr>`;
  const body = rows.map((row) => `<tr><td>${esc(name(row))}</td>${columns.map(([key, , fmt]) => `<td data-value="${esc(row[key] ?? '')}">${row[key] == null ? '—' : esc(fmt(row[key]))}</td>`).join('')}</tr>`).join('');
  // a wide table (the mobility one has 15 columns; ru and kk titles are long) scrolls inside
  // its own box instead of pushing the dashboard wider than the screen
  return `<div class="grid-wrap"><table class="grid"><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

export function kpiCards(city, programme) {
  return kpis(city, programme).map((k) => `
    <div class="kpi" data-kpi="${esc(k.id)}">
      <div class="label">${esc(k.label)}</div>
      <div class="value">${k.value == null ? '—' : esc(formatNumber(k.value, 1))}<small>${esc(k.unit)}</small></div>
      <div class="target">${esc(t('ind.target'))}: ${esc(k.target)}</div>
      ${k.chart ?? ''}
    </div>`).join('');
}

const HAZARD_COLUMNS = [
  ['mudflow_residents', 'haz.col.mudflow', f0],
  ['mudflow_protected', 'haz.col.protected', f0],
  ['share_protected', 'haz.col.share', (v) => `${f0(pct(v))}%`],
  ['mudflow_buildings', 'haz.col.buildings', f0],
  ['mudflow_buildings_protected', 'haz.col.buildings.protected', f0],
  ['mudflow_schools', 'haz.col.schools', f0],
  ['mudflow_hospitals', 'haz.col.hospitals', f0],
  ['mudflow_gathering_points', 'haz.col.gathering', f0],
  ['avalanche_residents', 'haz.col.avalanche', f0],
  ['avalanche_buildings', 'haz.col.avalanche.buildings', f0],
  ['fire_beyond_10_residents', 'haz.col.fire', f0],
  ['fire_beyond_10_with_depots', 'haz.col.fire.depots', f0],
];

/** Mudflow, avalanche and fire-station reach (GET /indicators `hazards`, twin/hazards): the
 * share of exposed residents protected beside the flood and meltwater targets (the catalog's
 * `share_protected`), and the residents beyond 10 drive minutes with and without the depots. */
export function hazardsHtml(hazards, programme) {
  if (!hazards?.city) return '';
  const c = hazards.city;
  const dated = ['target_2025', 'target_2030'].map((n) => programmeFigure(programme, 'share_protected', n));
  const ticks = dated.map((f, i) => ({ value: pct(f.value), label: String(f.year), colour: i ? '#0a7f8c' : undefined }));
  const colour = (share) => ((share ?? 0) >= (dated[0].value ?? 1) ? '#00b894' : '#e17055');
  const rows = (hazards.districts ?? []).filter((d) => d.mudflow_residents > 0);
  const chart = hbars([{ label: t('dash.twin'), value: pct(c.share_protected), colour: colour(c.share_protected), targets: ticks },
    ...rows.map((d) => ({ label: name(d), value: pct(d.share_protected), colour: colour(d.share_protected), targets: ticks }))],
  { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  const card = (id, label, value, unit, target) => `<div class="kpi" data-kpi="${esc(id)}"><div class="label">${esc(label)}</div>
    <div class="value">${value == null ? '—' : esc(formatNumber(value, 1))}<small>${esc(unit)}</small></div>
    <div class="target">${esc(target)}</div></div>`;
  const targets = dated.map((f) => `${raw(pct(f.value))}% (${f.year})`).join(' · ');
  return `
    <h3 id="hazards">${esc(t('haz.title'))}</h3>
    <div class="kpis" id="hazard-kpis">
      ${card('mudflow_residents', t('haz.mudflow'), c.mudflow_residents, '', t('haz.mudflow.target', { n: f0(c.mudflow_protected), schools: f0(c.mudflow_schools), hospitals: f0(c.mudflow_hospitals), points: f0(c.mudflow_gathering_points) }))}
      ${card('mudflow_buildings', t('haz.buildings'), c.mudflow_buildings, '', t('haz.buildings.target', { n: f0(c.mudflow_buildings_protected), share: f0(c.mudflow_buildings ? (100 * c.mudflow_buildings_protected) / c.mudflow_buildings : null), avalanche: f0(c.avalanche_buildings) }))}
      ${card('share_protected', t('haz.protected'), pct(c.share_protected), '%', `${t('ind.target')}: ${targets}`)}
      ${card('avalanche_residents', t('haz.avalanche'), c.avalanche_residents, '', t('haz.avalanche.target', { n: f0(c.avalanche_buildings) }))}
      ${card('fire_beyond_10', t('haz.fire'), c.fire_beyond_10_residents, '', t('haz.fire.target', { n: f0(c.fire_beyond_10_with_depots), depots: f0(c.fire_depots_planned), stations: f0(c.fire_stations_working) }))}
    </div>
    <div class="chart-title">${esc(t('haz.chart', { targets }))}</div>
    <div data-chart="protected">${chart}</div>
    ${table(hazards.districts, HAZARD_COLUMNS, t('search.district'))}`;
}

/** Scooter injury reports by place (GET /indicators `scooter_injuries`, twin/scooters): the
 * year's reports, the share serious or fatal, and the cells where they fall in a crash hotspot
 * of the latest hotspot year up to it, beside the mobility and safety section. */
export function injuriesHtml(injuries) {
  if (!injuries) return '';
  const i = injuries;
  const card = (id, label, value, unit, target) => `<div class="kpi" data-kpi="${esc(id)}"><div class="label">${esc(label)}</div>
    <div class="value">${value == null ? '—' : esc(formatNumber(value, 1))}<small>${esc(unit)}</small></div>
    <div class="target">${esc(target)}</div></div>`;
  const title = `<h3 id="scooter-injuries">${esc(t('inj.title'))}</h3>`;
  if (!i.reports) return `${title}<p class="muted" data-empty="injuries">${esc(t('inj.empty'))}</p>`;
  const cells = (i.top_hotspot_cells ?? []).map((c) => `<li data-h3="${esc(c.h3)}" data-reports="${esc(c.reports)}">${esc(t('inj.cell', {
    street: c.street ?? c.h3, district: c.district ? districtName(c.district) : '—', n: f0(c.reports), rank: f0(c.hotspot_rank), crashes: f0(c.hotspot_crashes),
  }))}</li>`).join('');
  return `${title}
    <div class="kpis" id="injury-kpis">
      ${card('injury_reports', t('inj.reports', { year: i.year }), i.reports, '', t('inj.reports.target', { cells: f0(i.cells) }))}
      ${card('injury_serious', t('inj.serious'), pct(i.serious_share), '%', t('inj.serious.target', { n: f0(i.serious), fatal: f0(i.fatal) }))}
      ${card('injury_hotspots', t('inj.hotspots'), i.in_crash_hotspots, '', t('inj.hotspots.target', { year: i.hotspot_year ?? '—' }))}
    </div>
    <div class="chart-title">${esc(t('inj.top', { year: i.hotspot_year ?? '—' }))}</div>
    ${cells ? `<ul data-list="injury-hotspots">${cells}</ul>` : `<p class="muted" data-empty="injury-hotspots">${esc(t('inj.none'))}</p>`}`;
}

export function dashboardHtml(data, programme) {
  const districts = data.districts ?? [];
  const green = greenFigures(programme);
  const allSix = programmeFigure(programme, 'share_all_six', 'target');
  const greenChart = hbars(districts.map((d) => ({
    label: name(d), value: d.green_m2_per_resident, colour: (d.green_m2_per_resident ?? 0) >= green.norm.value ? '#00b894' : '#e17055',
    targets: green.chartTicks,
  })), { max: Math.max(16, ...districts.map((d) => (d.green_m2_per_resident ?? 0) * 1.05)), unit: ` ${t('unit.m2')}`, width: 500, labelWidth: 130, format: f1 });
  const sixChart = hbars(districts.map((d) => ({ label: name(d), value: pct(d.share_all_six), colour: shareColour(d.share_all_six), targets: [{ value: pct(allSix.value), label: String(allSix.year) }] })),
    { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  return `
    <h2>${esc(t('ind.title'))}</h2>
    <h3>${esc(t('ind.city'))}</h3>
    <div class="kpis" id="city-kpis">${kpiCards(data.city, programme)}</div>
    <div class="chart-title">${esc(t('dash.chart.green', { ticks: green.text }))}</div>
    <div data-chart="green">${greenChart}</div>
    <div class="chart-title">${esc(t('dash.chart.allsix'))}</div>
    <div data-chart="allsix">${sixChart}</div>
    <h3>${esc(t('ind.districts'))}</h3>
    ${table(districts, DISTRICT_COLUMNS, t('search.district'))}
    <h3>${esc(t('ind.polycentres'))}</h3>
    ${table(data.polycentres, POLYCENTRE_COLUMNS, t('fifteen.polycentres'))}
    ${hazardsHtml(data.hazards, programme)}`;
}

export const indicatorsMode = {
  name: 'indicators',
  async enter(app) {
    const dash = document.getElementById('dashboard');
    const body = document.getElementById('dashboard-body');
    dash.hidden = false;
    body.innerHTML = `<p class="muted">${esc(t('ind.loading'))}</p>`;
    try {
      const data = await getJSON(app.catalog.endpoints.indicators);
      if (app.state.mode !== 'indicators') return;
      if (!data.city && !(data.districts ?? []).length) {
        body.innerHTML = `<p class="error-text" data-empty="indicators">${esc(t('ind.unavailable', { error: 'no figures yet — run `twin analyse`' }))}</p>`;
        return;
      }
      setWords(app.catalog);
      if (!districtNamesLoaded()) {
        const names = await items('districts', { properties: 'name_en,name_ru,name_kk', skipGeometry: 'true', limit: '100' });
        setDistrictNames(names.features);
        if (app.state.mode !== 'indicators') return;
      }
      body.innerHTML = dashboardHtml(data, app.catalog.targets);
      body.insertAdjacentHTML('afterbegin', dataHtml(app.catalog));
      await appendMobility(app, body);
      // scooter injury reports by place, in the mobility and safety section (GET /indicators)
      (document.getElementById('mobility-dashboard') ?? body).insertAdjacentHTML('beforeend', injuriesHtml(data.scooter_injuries));
      // the city now and the KPIs' trends since the 2022 baseline (livefigures.js)
      await appendTime(app, body, data);
    } catch (error) {
      body.innerHTML = `<p class="error-text" data-error="indicators">${esc(t('ind.unavailable', { error: error.message }))}</p>`;
    }
  },
  leave() {
    document.getElementById('dashboard').hidden = true;
  },
};

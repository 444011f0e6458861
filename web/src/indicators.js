// Indicators: the programme's targets beside the twin's figures, per district and for the city.
import { getJSON } from './api.js';
import { t, formatNumber, category } from './i18n.js';
import { esc } from './notice.js';
import { hbars, shareColour } from './charts.js';
import { CATEGORIES } from './fifteen.js';
import { appendMobility } from './mobility.js';

// The programme's figures (almaty-facts.md §4), used when the server does not send its own.
export const PROGRAMME = {
  all_six: 100,
  green_norm: 10, green_2025: 11.2, green_2030: 13.4,
  no_park_baseline: 70,
  wear: { water: 39.6, sewer: 39.5, heating: 44 },
  wear_baseline: { water: 55.8, sewer: 57.5, heating: 60 },
  strengthening_baseline: '239 of ~7,000 (2%)',
};

const pct = (share) => (share == null || !Number.isFinite(share) ? null : share * 100);
const f0 = (v) => formatNumber(v, 0);
const f1 = (v) => formatNumber(v, 1);

function name(row) {
  return row.district ?? row.polycentre ?? row.name ?? '?';
}

/** The headline KPIs: [{id, label, value, unit, target, note, chart}]. */
export function kpis(city) {
  const c = city ?? {};
  const tg = c.targets ?? {};
  const wearTarget = (net) => tg[`wear_${net}_pct`]?.target_2030 ?? c[`wear_${net}_target_2030`] ?? PROGRAMME.wear[net];
  const greenT = tg.green_m2_per_resident ?? {};
  const wearRows = ['water', 'sewer', 'heating'].map((net) => ({
    label: net, value: c[`wear_${net}_pct`] ?? null,
    colour: (c[`wear_${net}_pct`] ?? 0) > wearTarget(net) ? '#e17055' : '#00b894',
    targets: [{ value: wearTarget(net), label: '2030' }],
  }));
  const green = c.green_m2_per_resident;
  return [
    { id: 'share_all_six', label: t('fifteen.allsix'), value: pct(c.share_all_six), unit: '%', target: `100% (2030)`,
      chart: hbars([{ label: 'all six', value: pct(c.share_all_six), colour: shareColour(c.share_all_six), targets: [{ value: 100, label: '2030' }] },
        ...CATEGORIES.map((cat) => ({ label: category(cat), value: pct(c[`share_${cat}`]), colour: shareColour(c[`share_${cat}`]) }))], { max: 100, unit: '%', width: 240, labelWidth: 90, format: f0 }) },
    { id: 'green_m2_per_resident', label: 'Public green per resident', value: green, unit: ' m²',
      target: `${PROGRAMME.green_norm} norm · ${greenT.target_2025 ?? c.green_target_2025_m2 ?? PROGRAMME.green_2025} (2025) · ${greenT.target_2030 ?? c.green_target_2030_m2 ?? PROGRAMME.green_2030} (2030)`,
      chart: hbars([{ label: 'twin', value: green, colour: green >= PROGRAMME.green_norm ? '#00b894' : '#e17055',
        targets: [{ value: greenT.norm ?? c.green_norm_m2 ?? PROGRAMME.green_norm, label: 'norm' }, { value: greenT.target_2025 ?? c.green_target_2025_m2 ?? PROGRAMME.green_2025, label: '2025' }, { value: greenT.target_2030 ?? c.green_target_2030_m2 ?? PROGRAMME.green_2030, label: '2030', colour: '#0a7f8c' }] }],
      { max: Math.max(16, (green ?? 0) * 1.1), unit: ' m²', width: 240, labelWidth: 40, format: f1 }) },
    { id: 'share_park_500', label: 'Residents within a 500 m walk of a park', value: pct(c.share_park_500), unit: '%',
      target: `300 m: ${f0(pct(c.share_park_300))}% · territory without a park: ${f0(pct(c.no_park_share))}% (baseline ~${PROGRAMME.no_park_baseline}%)` },
    { id: 'plots_in_setback', label: 'Plots in fault setbacks', value: c.plots_in_setback, unit: '', target: `0: nothing built on active faults · buildings in setbacks: ${f0(c.buildings_in_setback)}` },
    { id: 'buildings_needing_strengthening', label: 'Buildings needing seismic strengthening', value: c.buildings_needing_strengthening, unit: '',
      target: `no % set by the programme; ${PROGRAMME.strengthening_baseline} strengthened so far · twin: of ${f0(c.buildings)} buildings` },
    { id: 'wear', label: 'Utility network wear vs 2030 targets', value: c.wear_water_pct, unit: '% water',
      target: `targets 2030: water ${wearTarget('water')}% · sewer ${wearTarget('sewer')}% · heating ${wearTarget('heating')}%`,
      chart: hbars(wearRows, { max: 100, unit: '%', width: 240, labelWidth: 60, format: f1 }) },
  ];
}

const DISTRICT_COLUMNS = [
  ['residents', 'Residents', f0],
  ['share_all_six', 'All six ≤15 min', (v) => `${f0(pct(v))}%`],
  ['green_m2_per_resident', 'Green m²/res.', f1],
  ['share_park_500', 'Park ≤500 m', (v) => `${f0(pct(v))}%`],
  ['plots_in_setback', 'Plots in setback', f0],
  ['buildings_needing_strengthening', 'Need strengthening', f0],
  ['wear_water_pct', 'Wear water %', f1],
  ['wear_sewer_pct', 'Wear sewer %', f1],
  ['wear_heating_pct', 'Wear heating %', f1],
];
const POLYCENTRE_COLUMNS = [
  ['residents', 'Residents', f0],
  ['share_all_six', 'All six ≤15 min', (v) => `${f0(pct(v))}%`],
  ['walkability', 'Walkability', f0],
  ['green_m2_per_resident', 'Green m²/res.', f1],
  ['density_pph', 'Residents/ha', f0],
  ['target_density_pph', 'Target/ha', f0],
  ['plots_in_setback', 'Plots in setback', f0],
];

export function table(rows, columns, firstTitle) {
  if (!rows?.length) return '<p class="muted">—</p>';
  const head = `<tr><th>${esc(firstTitle)}</th>${columns.map(([, title]) => `<th>${esc(title)}</th>`).join('')}</tr>`;
  const body = rows.map((row) => `<tr><td>${esc(name(row))}</td>${columns.map(([key, , fmt]) => `<td>${row[key] == null ? '—' : esc(fmt(row[key]))}</td>`).join('')}</tr>`).join('');
  return `<table class="grid"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

export function kpiCards(city) {
  return kpis(city).map((k) => `
    <div class="kpi" data-kpi="${esc(k.id)}">
      <div class="label">${esc(k.label)}</div>
      <div class="value">${k.value == null ? '—' : esc(formatNumber(k.value, 1))}<small>${esc(k.unit)}</small></div>
      <div class="target">${esc(t('ind.target'))}: ${esc(k.target)}</div>
      ${k.chart ?? ''}
    </div>`).join('');
}

export function dashboardHtml(data) {
  const districts = data.districts ?? [];
  const greenChart = hbars(districts.map((d) => ({
    label: name(d), value: d.green_m2_per_resident, colour: (d.green_m2_per_resident ?? 0) >= PROGRAMME.green_norm ? '#00b894' : '#e17055',
    targets: [{ value: PROGRAMME.green_norm, label: 'norm 10' }, { value: PROGRAMME.green_2025, label: '2025: 11.2' }, { value: PROGRAMME.green_2030, label: '2030: 13.4', colour: '#0a7f8c' }],
  })), { max: Math.max(16, ...districts.map((d) => (d.green_m2_per_resident ?? 0) * 1.05)), unit: ' m²', width: 500, labelWidth: 130, format: f1 });
  const sixChart = hbars(districts.map((d) => ({ label: name(d), value: pct(d.share_all_six), colour: shareColour(d.share_all_six), targets: [{ value: 100, label: '2030' }] })),
    { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  return `
    <h2>${esc(t('ind.title'))}</h2>
    <h3>${esc(t('ind.city'))}</h3>
    <div class="kpis" id="city-kpis">${kpiCards(data.city)}</div>
    <div class="chart-title">Public green per resident by district (ticks: norm 10, 2025 11.2, 2030 13.4 m²)</div>
    <div data-chart="green">${greenChart}</div>
    <div class="chart-title">Residents with all six categories within 15 minutes, by district</div>
    <div data-chart="allsix">${sixChart}</div>
    <h3>${esc(t('ind.districts'))}</h3>
    ${table(districts, DISTRICT_COLUMNS, t('search.district'))}
    <h3>${esc(t('ind.polycentres'))}</h3>
    ${table(data.polycentres, POLYCENTRE_COLUMNS, t('fifteen.polycentres'))}`;
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
      body.innerHTML = dashboardHtml(data);
      await appendMobility(app, body);
    } catch (error) {
      body.innerHTML = `<p class="error-text" data-error="indicators">${esc(t('ind.unavailable', { error: error.message }))}</p>`;
    }
  },
  leave() {
    document.getElementById('dashboard').hidden = true;
  },
};

// Indicators: the programme's targets beside the twin's figures, per district and for the city.
import { getJSON } from './api.js';
import { t, formatNumber, category } from './i18n.js';
import { esc } from './notice.js';
import { hbars, shareColour } from './charts.js';
import { CATEGORIES } from './fifteen.js';
import { appendMobility } from './mobility.js';

const pct = (share) => (share == null || !Number.isFinite(share) ? null : share * 100);
const f0 = (v) => formatNumber(v, 0);
const f1 = (v) => formatNumber(v, 1);
/** A programme figure as the programme writes it (11.2, 23.9), in every language. */
export function raw(v) {
  return v == null || !Number.isFinite(Number(v)) ? '—' : String(Number(Number(v).toPrecision(10)));
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
  return row.district ?? row.polycentre ?? row.name ?? '?';
}

/** The green norm and targets as chart ticks and as a sentence. */
function greenFigures(programme) {
  const fig = (n) => programmeFigure(programme, 'green_m2_per_resident', n);
  const norm = fig('norm');
  const dated = [fig('target_2025'), fig('target_2030')];
  const last = (i) => (i === dated.length - 1 ? '#0a7f8c' : undefined);
  return {
    norm,
    ticks: [{ value: norm.value, label: 'norm' },
      ...dated.map((f, i) => ({ value: f.value, label: String(f.year), colour: last(i) }))],
    chartTicks: [{ value: norm.value, label: `norm ${raw(norm.value)}` },
      ...dated.map((f, i) => ({ value: f.value, label: `${f.year}: ${raw(f.value)}`, colour: last(i) }))],
    text: [`norm ${raw(norm.value)}`, ...dated.map((f) => `${f.year} ${raw(f.value)}`)].join(', '),
    target: [`${raw(norm.value)} norm`, ...dated.map((f) => `${raw(f.value)} (${f.year})`)].join(' · '),
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
    label: net, value: c[`wear_${net}_pct`] ?? null,
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
      chart: hbars([{ label: 'all six', value: pct(c.share_all_six), colour: shareColour(c.share_all_six), targets: [{ value: pct(allSix.value), label: String(allSix.year) }] },
        ...CATEGORIES.map((cat) => ({ label: category(cat), value: pct(c[`share_${cat}`]), colour: shareColour(c[`share_${cat}`]) }))], { max: 100, unit: '%', width: 240, labelWidth: 90, format: f0 }) },
    { id: 'green_m2_per_resident', label: 'Public-use green per resident', value: greenValue, unit: ' m²',
      target: `${green.target} · programme ${greenBase.year}: ${raw(greenBase.value)} m² (${greenBase.source}) · twin: ${formatNumber((c.public_green_m2 ?? 0) / 1e4, 2)} ha`,
      chart: hbars([{ label: 'twin', value: greenValue, colour: greenValue >= green.norm.value ? '#00b894' : '#e17055',
        targets: green.ticks }],
      { max: Math.max(16, (greenValue ?? 0) * 1.1), unit: ' m²', width: 240, labelWidth: 40, format: f1 }) },
    { id: 'park_inventory_ha', label: 'Parks (inventory)', value: c.park_inventory_ha, unit: ' ha',
      target: `programme ${inventory.year}: ${raw(inventory.value)} ha (${inventory.source})` },
    { id: 'share_park_500', label: 'Residents within a 500 m walk of a park', value: pct(c.share_park_500), unit: '%',
      target: `300 m: ${f0(pct(c.share_park_300))}% · built-up territory without a park: ${f0(pct(c.no_park_share))}% (baseline ~${raw(pct(noPark.value))}%, ${noPark.source})` },
    { id: 'plots_in_setback', label: 'Plots in fault setbacks', value: c.plots_in_setback, unit: '', target: `${raw(setback.value)}: nothing built on active faults · buildings in setbacks: ${f0(c.buildings_in_setback)}` },
    { id: 'buildings_needing_strengthening', label: 'Attested pre-2001 buildings needing strengthening', value: c.buildings_needing_strengthening, unit: '',
      target: `programme: ~${f0(needing.value)} of >10,000, ${f0(strengthened.value)} strengthened by ${strengthened.year}; no % target (${needing.source}) · twin: of ${f0(c.attested_buildings)} attested apartment and public buildings, ${f0(c.buildings_strengthened)} strengthened` },
    { id: 'private_houses_pre2001', label: 'Private houses built before 2001 (not attested)', value: c.private_houses_pre2001, unit: '',
      target: 'not in the programme\'s attested stock (S2 l.5071); carried separately' },
    { id: 'wear', label: `Utility network wear vs ${wearYear} targets`, value: c.wear_water_pct, unit: '% water',
      target: `targets ${wearYear}: ${wearNetworks(programme).map((net) => `${net} ${raw(wear(net).value)}%`).join(' · ')}`,
      chart: hbars(wearRows, { max: 100, unit: '%', width: 240, labelWidth: 60, format: f1 }) },
  ];
}

const DISTRICT_COLUMNS = [
  ['residents', 'Residents', f0],
  ['share_all_six', 'All six ≤15 min', (v) => `${f0(pct(v))}%`],
  ['green_m2_per_resident', 'Public-use green m²/res.', f1],
  ['share_park_500', 'Park ≤500 m', (v) => `${f0(pct(v))}%`],
  ['plots_in_setback', 'Plots in setback', f0],
  ['buildings_needing_strengthening', 'Attested, need strengthening', f0],
  ['private_houses_pre2001', 'Private houses <2001', f0],
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

export function kpiCards(city, programme) {
  return kpis(city, programme).map((k) => `
    <div class="kpi" data-kpi="${esc(k.id)}">
      <div class="label">${esc(k.label)}</div>
      <div class="value">${k.value == null ? '—' : esc(formatNumber(k.value, 1))}<small>${esc(k.unit)}</small></div>
      <div class="target">${esc(t('ind.target'))}: ${esc(k.target)}</div>
      ${k.chart ?? ''}
    </div>`).join('');
}

export function dashboardHtml(data, programme) {
  const districts = data.districts ?? [];
  const green = greenFigures(programme);
  const allSix = programmeFigure(programme, 'share_all_six', 'target');
  const greenChart = hbars(districts.map((d) => ({
    label: name(d), value: d.green_m2_per_resident, colour: (d.green_m2_per_resident ?? 0) >= green.norm.value ? '#00b894' : '#e17055',
    targets: green.chartTicks,
  })), { max: Math.max(16, ...districts.map((d) => (d.green_m2_per_resident ?? 0) * 1.05)), unit: ' m²', width: 500, labelWidth: 130, format: f1 });
  const sixChart = hbars(districts.map((d) => ({ label: name(d), value: pct(d.share_all_six), colour: shareColour(d.share_all_six), targets: [{ value: pct(allSix.value), label: String(allSix.year) }] })),
    { max: 100, unit: '%', width: 500, labelWidth: 130, format: f0 });
  return `
    <h2>${esc(t('ind.title'))}</h2>
    <h3>${esc(t('ind.city'))}</h3>
    <div class="kpis" id="city-kpis">${kpiCards(data.city, programme)}</div>
    <div class="chart-title">Public green per resident by district (ticks: ${esc(green.text)} m²)</div>
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
      body.innerHTML = dashboardHtml(data, app.catalog.targets);
      await appendMobility(app, body);
    } catch (error) {
      body.innerHTML = `<p class="error-text" data-error="indicators">${esc(t('ind.unavailable', { error: error.message }))}</p>`;
    }
  },
  leave() {
    document.getElementById('dashboard').hidden = true;
  },
};

// The layer panel: groups from the catalog (their order, titles and whether they start closed),
// each layer with its title in the current language, a toggle, opacity and its legend.
import { t, layerTitle, groupTitle, lang, formatNumber } from './i18n.js';
import { esc, cssColour } from './notice.js';
import { layerLegend, setColourBy, colourExpression } from './style.js';

const OPACITY_PROPERTY = {
  fill: 'fill-opacity', line: 'line-opacity', circle: 'circle-opacity',
  'fill-extrusion': 'fill-extrusion-opacity',
};

export function styleLayerIds(map, name) {
  return (map.getStyle()?.layers ?? []).filter((l) => l.metadata?.twinLayer === name).map((l) => l.id);
}

export function setLayerVisible(app, name, visible) {
  for (const id of styleLayerIds(app.map, name)) {
    app.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
  }
  if (visible) app.state.visible.add(name); else app.state.visible.delete(name);
  const box = document.querySelector(`input[data-layer-toggle="${CSS.escape(name)}"]`);
  if (box) {
    box.checked = visible;
    const more = box.closest('.layer')?.querySelector('.more');
    if (more) more.hidden = !visible;
  }
  app.onLayersChanged?.(name, visible);
  app.saveView();
}

export function setLayerOpacity(app, name, value) {
  for (const id of styleLayerIds(app.map, name)) {
    const layer = app.map.getLayer(id);
    const prop = OPACITY_PROPERTY[layer.type];
    if (!prop) continue;
    // Outlines of areas stay a little stronger than their fill.
    const v = layer.type === 'line' && id.endsWith('-outline') ? Math.min(1, value + 0.2) : value;
    app.map.setPaintProperty(id, prop, v);
    if (layer.type === 'circle') app.map.setPaintProperty(id, 'circle-stroke-opacity', v);
  }
  app.state.opacity[name] = value;
}

function swatchClass(entry) {
  if (entry.kind === 'line') return 'swatch line';
  if (entry.kind === 'circle') return 'swatch circle';
  return 'swatch';
}

// V1: legends (classes, value labels per language, choropleth selector) come from style.js
function legendHtml(entry) {
  return layerLegend(entry, { lang: lang(), fmt: formatNumber, t });
}

// -- V5/V6: buildings coloured by use, height, year built or seismic status --------------------
// The schemes and their colours come from the catalog (layers/buildings.yml `style.schemes`,
// served in /viewer/layers.json); `style.by` (seismic status) is the layer's own legend.
const BUILDINGS = 'buildings';

/** What a scheme colours by: the extrusion's height (levels x 3.2 m where it is unknown, as
 * drawn) for the height property, else the property itself. */
function schemeValue(entry, by) {
  const height = entry.style.height ?? 'height_m';
  if (by === height) return ['coalesce', ['get', height], ['*', ['coalesce', ['get', 'levels'], 2], 3.2]];
  return ['get', by];
}

/** The MapLibre colour of the buildings for one scheme (the catalog's `by` is the default). */
export function buildingColour(entry, by) {
  const scheme = entry.schemes?.[by];
  if (!scheme) return colourExpression(entry);
  if (scheme.values) {
    return ['match', ['to-string', ['get', by]], ...scheme.values.flatMap((v) => [v.value, v.color]), scheme.nodata];
  }
  const value = schemeValue(entry, by);
  const steps = [scheme.colors[0]];
  scheme.edges.forEach((edge, i) => steps.push(edge, scheme.colors[i + 1]));
  return ['case', ['==', ['typeof', value], 'number'], ['step', value, ...steps], scheme.nodata];
}

function buildingLegend(entry, by) {
  const scheme = entry.schemes?.[by];
  if (!scheme) return legendHtml(entry);
  const here = lang();
  const row = (colour, label) => `<span class="swatch" data-colour="${esc(colour)}" style="background:${esc(colour)}"></span><span>${esc(label)}</span>`;
  let rows;
  if (scheme.values) {
    rows = scheme.values.map((v) => row(v.color, v.labels?.[here] ?? v.value));
  } else {
    const f = (v) => (scheme.year ? String(v) : formatNumber(v, 0));
    const unit = scheme.units?.[here] ? ` ${scheme.units[here]}` : '';
    rows = scheme.colors.map((colour, i) => {
      const from = scheme.edges[i - 1];
      const to = scheme.edges[i];
      const text = from == null ? `< ${f(to)}${unit}` : to == null ? `≥ ${f(from)}${unit}` : `${f(from)}–${f(to)}${unit}`;
      return row(colour, text);
    });
  }
  rows.push(row(scheme.nodata, t('bcol.nodata')));
  return `<div class="legend" data-legend="${esc(entry.name)}" data-by="${esc(by)}">${rows.join('')}</div>`;
}

function schemeTitle(entry, name) {
  const here = lang();
  const prop = (entry.properties ?? []).find((p) => p.name === name);
  return entry.schemes?.[name]?.titles?.[here] ?? prop?.titles?.[here] ?? prop?.title ?? name;
}

function buildingColourHtml(app, entry) {
  const by = app.state.buildingColour ?? entry.style.by;
  const options = [entry.style.by, ...Object.keys(entry.schemes ?? {})].filter((v, i, all) => v && all.indexOf(v) === i);
  return `<label class="legend-by"><span class="muted">${esc(t('bcol.label'))}</span>
    <select data-building-colour aria-label="${esc(t('bcol.label'))}">${options.map((o) => `<option value="${esc(o)}" ${o === by ? 'selected' : ''}>${esc(schemeTitle(entry, o))}</option>`).join('')}</select></label>
    ${buildingLegend(entry, by)}`;
}

/** Colour the buildings (footprints and 3D) by another property; the legend follows. */
export function colourBuildings(app, by) {
  const entry = app.entries.get(BUILDINGS);
  if (!entry) return;
  app.state.buildingColour = by;
  for (const id of styleLayerIds(app.map, BUILDINGS)) {
    const type = app.map.getLayer(id)?.type;
    if (type === 'fill-extrusion') app.map.setPaintProperty(id, 'fill-extrusion-color', buildingColour(entry, by));
    if (type === 'fill') app.map.setPaintProperty(id, 'fill-color', buildingColour(entry, by));
  }
  const box = document.querySelector(`.layer[data-layer="${BUILDINGS}"] .legend`);
  if (box) box.outerHTML = buildingLegend(entry, by);
}

function defaultOpacity(entry) {
  if (entry.style.opacity != null) return entry.style.opacity;
  return { extrusion: 1, line: 0.9, circle: 0.95 }[entry.kind] ?? 0.6;
}

export function renderPanel(app) {
  const root = document.getElementById('layer-groups');
  root.innerHTML = '';
  for (const group of app.catalog.groups) {
    if (!group.layers.length) continue;
    const details = document.createElement('details');
    details.className = 'group';
    details.open = !group.collapsed || group.layers.some((l) => app.state.visible.has(l.name));
    details.dataset.group = group.name;
    details.innerHTML = `<summary>${esc(groupTitle(group))}</summary>`;
    for (const entry of group.layers) {
      const div = document.createElement('div');
      div.className = 'layer';
      div.dataset.layer = entry.name;
      const opacity = app.state.opacity[entry.name] ?? defaultOpacity(entry);
      const colour = entry.legend[0]?.color ?? entry.style.color ?? '#888';
      div.innerHTML = `
        <label class="toggle" title="${esc(entry.description)}">
          <input type="checkbox" data-layer-toggle="${esc(entry.name)}" ${app.state.visible.has(entry.name) ? 'checked' : ''}>
          <span class="${swatchClass(entry)}" style="background:${esc(cssColour(colour))}"></span>
          <span>${esc(layerTitle(entry))}</span>
        </label>
        <div class="more" ${app.state.visible.has(entry.name) ? '' : 'hidden'}>
        <div class="controls">
          <span class="muted">${esc(t('panel.opacity'))}</span>
          <input type="range" min="0" max="1" step="0.05" value="${esc(Number(opacity))}" data-layer-opacity="${esc(entry.name)}" aria-label="${esc(t('panel.opacity'))}">
        </div>
        ${entry.minzoom > 10 ? `<div class="zoomhint">${esc(t('panel.zoomin', { z: entry.minzoom }))}</div>` : ''}
        ${entry.name === BUILDINGS ? buildingColourHtml(app, entry) : legendHtml(entry)}
        </div>`;
      details.append(div);
    }
    root.append(details);
  }
  root.onchange = (event) => {
    const name = event.target.dataset.layerToggle;
    if (name) setLayerVisible(app, name, event.target.checked);
    if (event.target.dataset.buildingColour !== undefined) colourBuildings(app, event.target.value);
    const chosen = event.target.dataset.legendBy;
    if (chosen && setColourBy(app.map, app.entries.get(chosen), event.target.value)) renderPanel(app);
  };
  root.oninput = (event) => {
    const name = event.target.dataset.layerOpacity;
    if (name) setLayerOpacity(app, name, Number(event.target.value));
  };
}

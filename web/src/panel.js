// The layer panel: groups from the catalog (their order, titles and whether they start closed),
// each layer with its title in the current language, a toggle, opacity and its legend.
import { t, layerTitle, groupTitle } from './i18n.js';
import { esc, cssColour } from './notice.js';

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

function legendHtml(entry) {
  if (entry.legend.length <= 1) return '';
  const rows = entry.legend.map((item) => `<span class="${swatchClass(entry)}" style="background:${esc(cssColour(item.color))}"></span><span>${esc(item.label)}</span>`);
  return `<div class="legend" data-legend="${esc(entry.name)}">${rows.join('')}</div>`;
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
        ${legendHtml(entry)}
        </div>`;
      details.append(div);
    }
    root.append(details);
  }
  root.onchange = (event) => {
    const name = event.target.dataset.layerToggle;
    if (name) setLayerVisible(app, name, event.target.checked);
  };
  root.oninput = (event) => {
    const name = event.target.dataset.layerOpacity;
    if (name) setLayerOpacity(app, name, Number(event.target.value));
  };
}

"""What the viewer, the published styles and the pick card know of each layer: one entry per
catalog layer (kind, zooms, style hints, legend and choropleth classes with their words in en,
ru and kk, colour schemes, properties). twin.viewer serves the entries at /viewer/layers.json;
twin.styles turns them into MapLibre style layers. Both read them from here, so neither imports
the other.
"""

from __future__ import annotations

from typing import Any

from twin.catalog import LANGUAGES, Layer, unit_titles, value_titles

DEFAULT_COLOUR = "#888888"


def _value_labels(layer: Layer) -> dict[str, dict[str, str]]:
    """What each value of the `by` property means, per language (`style.labels`), so a legend
    never reads "true" / "false"; English stands in for a missing language."""
    labels: dict[str, dict[str, str]] = {}
    for value, titles in (layer.style.get("labels") or {}).items():
        if isinstance(titles, str):
            titles = {"en": titles}
        english = titles.get("en") or str(value)
        labels[str(value)] = {lang: titles.get(lang) or english for lang in LANGUAGES}
    return labels


def _legend(layer: Layer) -> list[dict[str, Any]]:
    """Legend entries from the style hints: one per value of the `by` property, else one;
    `style.nodata` adds the colour of features without a value (grey), named in the legend."""
    style = layer.style
    base = style.get("color", DEFAULT_COLOUR)
    by = style.get("by")
    palette = {str(key): value for key, value in (style.get("palette") or {}).items()}
    labels = _value_labels(layer)
    if not by or (not palette and by in (style.get("classes") or {})):
        if not by:
            return [{"value": None, "label": layer.title, "color": base}]
        return []  # a choropleth: its classes (entry["classes"]) are the legend
    prop = layer.properties.get(by)
    values = [str(v) for v in prop.enum] if prop is not None and prop.enum else []
    if prop is not None and prop.type == "boolean" and not values:
        values = ["true", "false"]
    values += [value for value in palette if value not in values]
    entries = [
        {
            "value": value,
            "label": labels.get(value, {}).get("en", value.replace("_", " ")),
            "labels": labels.get(value),
            "color": palette.get(value, base),
        }
        for value in values
    ]
    if style.get("nodata"):
        entries.append(
            {
                "value": None,
                "nodata": True,
                "label": labels.get("null", {}).get("en", "no data"),
                "labels": labels.get("null"),
                "color": style["nodata"],
            }
        )
    return entries


def _classes(layer: Layer) -> dict[str, dict[str, Any]]:
    """The choropleth classes of the layer's numeric properties (`style.classes`: property ->
    class edges, one colour more than edges from `style.ramp`), with each property's titles and
    unit so the viewer's selector and legend need no list of their own."""
    ramp = list(layer.style.get("ramp") or [])
    found: dict[str, dict[str, Any]] = {}
    for name, edges in (layer.style.get("classes") or {}).items():
        prop = layer.properties.get(name)
        if prop is None or len(ramp) < len(edges) + 1:
            continue
        colours = ramp[: len(edges) + 1]
        if name in (layer.style.get("reverse") or []):
            colours = colours[::-1]
        found[name] = {
            "edges": [float(e) for e in edges],
            "colors": colours,
            "title": prop.title or name,
            "unit": prop.unit,
        }
    return found


# -- V3: every word of a legend in en, ru and kk ------------------------------------------------


def _in_languages(layer: Layer, legend: Any) -> Any:
    """The legend entries (a list) or choropleth classes (a dict by property) with their words
    in every language from the catalog (`values:` / `units:` of _catalog.yml, property and layer
    titles), so the viewer's legends never stay English; `labels` the style gives are kept."""
    if isinstance(legend, dict):
        for name, spec in legend.items():
            prop = layer.properties.get(name)
            if prop is not None:
                spec.setdefault("titles", {lang: prop.title_in(lang) for lang in LANGUAGES})
                spec.setdefault("units", unit_titles(prop.unit))
        return legend
    for item in legend:
        if item.get("labels"):
            continue
        if item.get("value") is None and not item.get("nodata"):
            item["labels"] = {lang: layer.title_in(lang) for lang in LANGUAGES}
        elif item.get("value") is not None:
            item["labels"] = value_titles(item["value"])
    return legend


# -- V6: the other colour schemes of a layer (buildings: by use, height, year built) ----------


def _schemes(layer: Layer) -> dict[str, dict[str, Any]]:
    """The colour schemes the viewer offers besides `style.by` (`style.schemes`: property ->
    a `palette` of its values, or class `edges` with one colour more), with the property's
    titles, unit and value labels in every language, so the viewer keeps no colours of its own.
    A scheme of an unknown property, or with colours that do not fit its edges, is left out."""
    found: dict[str, dict[str, Any]] = {}
    for name, spec in (layer.style.get("schemes") or {}).items():
        prop = layer.properties.get(name)
        if prop is None:
            continue
        scheme: dict[str, Any] = {
            "titles": {lang: prop.title_in(lang) for lang in LANGUAGES},
            "units": unit_titles(prop.unit),
            "nodata": spec.get("nodata", DEFAULT_COLOUR),
            "year": bool(spec.get("year")),
        }
        if spec.get("palette"):
            scheme["values"] = [
                {"value": str(value), "color": colour, "labels": value_titles(value)}
                for value, colour in spec["palette"].items()
            ]
        else:
            edges, colours = list(spec.get("edges") or []), list(spec.get("colors") or [])
            if not edges or len(colours) != len(edges) + 1:
                continue
            scheme["edges"] = [float(e) for e in edges]
            scheme["colors"] = colours
        found[str(name)] = scheme
    return found


def _kind(layer: Layer) -> str:
    kind = layer.style.get("kind")
    if kind:
        return str(kind)
    if layer.geometry.endswith("Point"):
        return "circle"
    if layer.geometry.endswith("LineString"):
        return "line"
    return "fill"


def _time(layer: Layer) -> dict[str, Any] | None:
    """How the viewer's time slider shows the layer, or None when its tiles do not take
    `?datetime=`: the yml's `time:` over what its facts imply. A layer drawn as of an instant by
    its own SQL (`tile_at`: the sensors) is a day's; one with a `temporal:` date (parks opened,
    plots registered) shows what existed by then, a `temporal:` date-time what happened in the
    month before; a versioned (editable) layer as it was, from its history."""
    tile_at = getattr(layer, "tile_at", None)
    if not (layer.time or layer.temporal or layer.editable or tile_at):
        return None
    if tile_at:
        fact = {"range": "day", "show": "asof"}
    elif layer.temporal and layer.properties[layer.temporal].type == "date":
        fact = {"range": "year", "show": "until"}
    elif layer.temporal:
        fact = {"range": "year", "show": "during"}
    else:
        fact = {"range": "year", "show": "asof"}
    fact.update(layer.time)
    if fact["show"] == "during" and "period" not in fact:
        fact["period"] = "P1M" if fact["range"] == "year" else "PT1H"
    return {**fact, "property": layer.temporal}


def layer_entry(layer: Layer) -> dict[str, Any]:
    """What the panel, the map style and the pick card need to know about one layer."""
    style = dict(layer.style)
    by = style.get("by")
    by_type = layer.properties[by].type if by in layer.properties else None
    return {
        "name": layer.name,
        "title": layer.title,
        "titles": {lang: layer.title_in(lang) for lang in LANGUAGES},
        "description": layer.description,
        "geometry": layer.geometry,
        "kind": _kind(layer),
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "style": style,
        "by_type": by_type,
        "legend": _in_languages(layer, _legend(layer)),
        "classes": _in_languages(layer, _classes(layer)),
        "schemes": _schemes(layer),
        "analysis": layer.analysis,
        "editable": layer.editable,
        "feeds": list(layer.feeds),
        "visible": layer.visible,
        "time": _time(layer),
        "items": f"/collections/{layer.name}/items",
        "properties": [
            {
                "name": p.name,
                "title": p.title or p.name,
                "titles": {lang: p.title_in(lang) for lang in LANGUAGES},
                "type": p.type,
                "unit": p.unit,
                "units": unit_titles(p.unit),
                "enum": list(p.enum) if p.enum else None,
                "labels": {str(v): value_titles(v) for v in p.enum} if p.enum else None,
            }
            for p in layer.properties.values()
        ],
    }

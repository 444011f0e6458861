"""The twin's map styles, published as OGC API Styles, and the one place they are assembled.

The symbology lives in layers/*.yml (`style:` of each layer). This module turns a layer's
viewer entry (twin.layer_entries.layer_entry: kind, zooms, style hints, legend, classes) into
MapLibre style layers. It is the single source of the catalog layers' symbology: the viewer
receives the same layers and colour expressions in /viewer/layers.json (`style_layers`,
`colours`) and web/src/style.js only reads them, and the styles below (`/styles/twin?f=mapbox`,
one per collection) are built from them with absolute URLs, for MapLibre, QGIS or any other
client. Where the styles are (their URLs and link relations) is twin.style_links, which the
tilesets and the collection documents link with.

What stays in the viewer: its 3D and runtime parts (terrain, hillshade, sky, labels in the
chosen language, the 15-minute map's per-category colours, the opening tile source).
"""

from __future__ import annotations

import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from twin.errors import InvalidParameter, NotFound
from twin.extent import Bbox, current_extent_async
from twin.style_links import (
    COLLECTION_STYLE,
    DATASET_STYLE,
    JSON,
    MAPBOX_STYLE,
    _root,
)

SOURCE = "twin"
STYLE_SPEC = "https://maplibre.org/maplibre-style-spec/"
BACKGROUND = "#eef0e6"  # the viewer's ground colour under every layer
MAX_SOURCE_ZOOM = 16  # the viewer's sources stop at 16; MapLibre overzooms past it
# Draw order: areas under lines under 3D buildings under points.
ORDER = {"fill": 0, "line": 1, "extrusion": 2, "circle": 3}
NO_OUTLINE = "#555555"
FALLBACK_COLOUR = "#888888"
# f= values of a stylesheet and of the JSON documents (lists, metadata)
STYLESHEET_F = {"mapbox", MAPBOX_STYLE, "json"}
DOCUMENT_F = {"json", JSON}
CORS = {"Access-Control-Allow-Origin": "*"}

CONFORMANCE_ADDED = [
    "http://www.opengis.net/spec/ogcapi-styles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-styles-1/1.0/conf/mapbox-styles",
    "http://www.opengis.net/spec/ogcapi-styles-1/1.0/conf/style-info",
]


def _first(*values: Any) -> Any:
    """The first value that is not None (JavaScript's `??`)."""
    return next((v for v in values if v is not None), None)


def source_id(name: str) -> str:
    """The vector source of one catalog layer (the viewer's `twin-<layer>`)."""
    return f"{SOURCE}-{name}"


def _step(prop: str, edges: list[Any], colours: list[str], nodata: str) -> list[Any]:
    """Classes as a `step` over `prop`: below the first edge the first colour, and so on;
    features without a number take `nodata`."""
    steps: list[Any] = [colours[0]]
    for i, edge in enumerate(edges):
        steps += [edge, colours[i + 1]]
    return [
        "case",
        ["==", ["typeof", ["get", prop]], "number"],
        ["step", ["get", prop], *steps],
        nodata,
    ]


def colour_expression(entry: dict[str, Any], by: str | None) -> Any:
    """The layer's colour when coloured by `by`: its classes (choropleth), else the palette of
    the legend's values; no value draws the base colour."""
    style = entry["style"]
    base = _first(style.get("nodata"), style.get("color"), FALLBACK_COLOUR)
    classes = (entry.get("classes") or {}).get(by) if by else None
    if classes:
        return _step(by, classes["edges"], classes["colors"], base)  # type: ignore[arg-type]
    if not by or not entry.get("legend"):
        return _first(style.get("color"), base)
    pairs: list[Any] = []
    for item in entry["legend"]:
        if item.get("value") is None:
            continue
        pairs += [item["value"], item["color"]]
    if not pairs:
        return base
    return ["match", ["to-string", ["get", by]], *pairs, base]


def colour_expressions(entry: dict[str, Any]) -> dict[str, Any]:
    """Every colour the viewer can give the layer: one per choropleth property (the panel's
    "colour by"), and the default under "" (the property of `style.by`)."""
    colours = {name: colour_expression(entry, name) for name in entry.get("classes") or {}}
    colours[""] = colour_expression(entry, entry["style"].get("by"))
    return colours


def _zoom_filter(entry: dict[str, Any]) -> list[Any] | None:
    """Points shown from a zoom that depends on a property (`style.zooms`), else None."""
    zooms = entry["style"].get("zooms") or {}
    if not zooms.get("by") or not zooms.get("values"):
        return None
    pairs: list[Any] = []
    for value, zoom in zooms["values"].items():
        pairs += [str(value), _number(zoom)]
    by = ["to-string", ["get", zooms["by"]]]
    return [">=", ["zoom"], ["match", by, *pairs, _number(_first(zooms.get("default"), 0))]]


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _darker(colour: Any, factor: float = 0.65) -> str:
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})", colour or "")
    if not match:
        return NO_OUTLINE
    n = int(match.group(1), 16)
    channels = [math.floor(((n >> shift) & 255) * factor + 0.5) for shift in (16, 8, 0)]
    return "#" + "".join(f"{c:02x}" for c in channels)


def _line_width(entry: dict[str, Any]) -> Any:
    width = entry["style"].get("width")
    if entry["name"] == "streets":
        big, middle = ["motorway", "arterial", "primary"], ["secondary", "tertiary"]
        walks = ["footway", "path", "pedestrian"]
        return [
            "interpolate",
            ["linear"],
            ["zoom"],
            12,
            ["match", ["get", "highway"], big, 2, middle, 1.2, 0.6],
            16,
            ["match", ["get", "highway"], big, 9, middle, 6, walks, 1.5, 3],
        ]
    if entry["name"] == "districts":
        return ["interpolate", ["linear"], ["zoom"], 10, 1.5, 15, 3]
    if entry["name"] == "polycentres":
        return 2.5
    w = _first(width, 1.5)
    return ["interpolate", ["linear"], ["zoom"], 11, w * 0.7, 16, w * 2]


def style_layers(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """MapLibre style layers of one catalog layer, each with `metadata.twinLayer` (the panel's
    visibility and opacity controls find them by it)."""
    name, style = entry["name"], entry["style"]
    colour = colour_expression(entry, style.get("by"))
    minzoom = entry.get("minzoom")
    base = {
        "source": source_id(name),
        "source-layer": name,
        "minzoom": minzoom,
        "metadata": {"twinLayer": name},
    }
    layout = {"visibility": "visible" if entry.get("visible") else "none"}
    opacity = style.get("opacity")
    kind = entry.get("kind")
    if kind == "extrusion":
        height = _first(style.get("height"), "height_m")
        # Footprints on the ground at every zoom, extruded from `style.extrude_from` on: the
        # city's first view draws its ~8k buildings flat (docs/viewer.md, performance). The
        # footprints have no maxzoom: a pitched view's near tiles are of a higher zoom than the
        # map's, and a layer's zoom range also decides what those tiles carry.
        start = max(_first(minzoom, 0), _number(_first(style.get("extrude_from"), 0)))
        footprint = []
        if start > _first(minzoom, 0):
            footprint = [
                {
                    **base,
                    "id": f"{name}-footprint",
                    "type": "fill",
                    "layout": dict(layout),
                    "paint": {
                        "fill-color": colour,
                        "fill-opacity": _first(opacity, 1),
                        "fill-outline-color": _darker(style.get("color"), 0.8),
                    },
                }
            ]
        levels = ["*", ["coalesce", ["get", "levels"], 2], 3.2]
        return [
            *footprint,
            {
                **base,
                "id": f"{name}-extrusion",
                "type": "fill-extrusion",
                "layout": dict(layout),
                "minzoom": start,
                "paint": {
                    "fill-extrusion-color": colour,
                    "fill-extrusion-height": ["coalesce", ["get", height], levels],
                    "fill-extrusion-base": 0,
                    # opaque by default: MapLibre draws opaque extrusions in one pass
                    "fill-extrusion-opacity": _first(opacity, 1),
                    "fill-extrusion-vertical-gradient": True,
                },
            },
        ]
    if kind == "line":
        paint: dict[str, Any] = {
            "line-color": colour,
            "line-width": _line_width(entry),
            "line-opacity": _first(opacity, 0.9),
        }
        if name == "seismic_faults":
            paint["line-dasharray"] = [3, 1.5]
        if name == "polycentres":
            paint["line-dasharray"] = [2, 1]
        line_layout = {**layout, "line-join": "round", "line-cap": "round"}
        return [
            {**base, "id": f"{name}-line", "type": "line", "layout": line_layout, "paint": paint}
        ]
    if kind == "circle":
        zoom_filter = _zoom_filter(entry)
        return [
            {
                **base,
                "id": f"{name}-circle",
                "type": "circle",
                "layout": dict(layout),
                **({"filter": zoom_filter} if zoom_filter else {}),
                "paint": {
                    "circle-color": colour,
                    "circle-radius": ["interpolate", ["linear"], ["zoom"], 11, 2.5, 16, 7],
                    "circle-stroke-color": "#ffffff",
                    "circle-stroke-width": 1.2,
                    "circle-opacity": _first(opacity, 0.95),
                    "circle-stroke-opacity": _first(opacity, 0.95),
                },
            }
        ]
    outline = _first(style.get("outline"), _darker(style.get("color")))
    return [
        {
            **base,
            "id": f"{name}-fill",
            "type": "fill",
            "layout": dict(layout),
            "paint": {"fill-color": colour, "fill-opacity": _first(opacity, 0.6)},
        },
        {
            **base,
            "id": f"{name}-outline",
            "type": "line",
            "layout": dict(layout),
            # plots' outlines only from z14: below it they would be a grey wash
            "minzoom": max(minzoom, 14 if name == "plots" else 0),
            "paint": {
                "line-color": outline,
                "line-width": 0.6,
                "line-opacity": min(1, _first(opacity, 0.6) + 0.2),
            },
        },
    ]


def with_style(entry: dict[str, Any]) -> dict[str, Any]:
    """A viewer entry with its style layers, colours and draw order (what web/src/style.js
    draws)."""
    return {
        **entry,
        "style_layers": style_layers(entry),
        "colours": colour_expressions(entry),
        "draw_order": ORDER.get(entry.get("kind") or "", 0),
    }


# ---- the published styles ---------------------------------------------------------------------


def _entries(names: list[str] | None = None) -> list[dict[str, Any]]:
    from twin.catalog import load_catalog
    from twin.layer_entries import layer_entry

    catalog = load_catalog()
    return [layer_entry(catalog[name]) for name in (names or list(catalog))]


def _source(entry: dict[str, Any], base: str, extent: Bbox) -> dict[str, Any]:
    from twin.tiles.metadata import ATTRIBUTION

    name = entry["name"]
    return {
        "type": "vector",
        "tiles": [f"{base}/collections/{name}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"],
        "minzoom": _first(entry.get("minzoom"), 0),
        "maxzoom": min(_first(entry.get("maxzoom"), MAX_SOURCE_ZOOM), MAX_SOURCE_ZOOM),
        "bounds": list(extent),  # MapLibre asks no tile outside: the city's extent
        "attribution": ATTRIBUTION,
    }


def stylesheet(base: str, collection: str | None = None, *, extent: Bbox) -> dict[str, Any]:
    """A MapLibre style (version 8) with absolute URLs: every catalog layer in the viewer's
    draw order with its first-view visibility, on the viewer's ground colour; or, for a
    collection, that layer alone and always visible (to lay over other maps); its sources'
    bounds and centre are the city's `extent` (twin.extent)."""
    entries = _entries([collection] if collection else None)
    if collection:
        entries = [{**entry, "visible": True} for entry in entries]
    ordered = sorted(entries, key=lambda e: ORDER.get(e.get("kind") or "", 0))
    layers = [layer for entry in ordered for layer in style_layers(entry)]
    if not collection:
        background = {"id": "background", "type": "background"}
        layers.insert(0, {**background, "paint": {"background-color": BACKGROUND}})
    minx, miny, maxx, maxy = extent
    return {
        "version": 8,
        "name": f"Almaty Twin: {entries[0]['title']}" if collection else "Almaty Twin",
        "metadata": {"twin:style": COLLECTION_STYLE if collection else DATASET_STYLE},
        "center": [round((minx + maxx) / 2, 5), round((miny + maxy) / 2, 5)],
        "zoom": 12,
        "sources": {source_id(e["name"]): _source(e, base, extent) for e in entries},
        "glyphs": f"{base}/viewer/fonts/{{fontstack}}/{{range}}.pbf",
        "layers": layers,
    }


def _style_entry(base: str, collection: str | None) -> dict[str, Any]:
    style_id = COLLECTION_STYLE if collection else DATASET_STYLE
    root = f"{base}{_root(collection)}/{style_id}"
    return {
        "id": style_id,
        "title": "The viewer's symbology (layers/*.yml)",
        "links": [
            {
                "rel": "stylesheet",
                "type": MAPBOX_STYLE,
                "title": "MapLibre style",
                "href": f"{root}?f=mapbox",
            },
            {
                "rel": "describedby",
                "type": JSON,
                "title": "Style metadata",
                "href": f"{root}/metadata",
            },
        ],
    }


def style_list(base: str, collection: str | None = None) -> dict[str, Any]:
    """OGC API Styles: the styles of the dataset (/styles) or of a collection."""
    root = f"{base}{_root(collection)}"
    return {
        "default": COLLECTION_STYLE if collection else DATASET_STYLE,
        "styles": [_style_entry(base, collection)],
        "links": [{"rel": "self", "type": JSON, "title": "Styles", "href": f"{root}?f=json"}],
    }


def _geometry_type(entry: dict[str, Any]) -> str:
    geometry = entry.get("geometry") or ""
    return "point" if "Point" in geometry else "line" if "Line" in geometry else "polygon"


def style_metadata(base: str, collection: str | None = None) -> dict[str, Any]:
    """OGC API Styles style metadata: what the style is, its stylesheet, the layers it draws
    with their attributes and sample data."""
    style_id = COLLECTION_STYLE if collection else DATASET_STYLE
    root = f"{base}{_root(collection)}/{style_id}"
    entries = _entries([collection] if collection else None)
    return {
        "id": style_id,
        "title": f"Almaty Twin: {entries[0]['title']}" if collection else "Almaty Twin",
        "description": "The symbology of the twin's viewer, from the catalog (layers/*.yml)",
        "keywords": ["Almaty", "digital twin"],
        "scope": "style",
        "version": "1",
        "stylesheets": [
            {
                "title": "MapLibre style",
                "version": "8",
                "specification": STYLE_SPEC,
                "native": True,
                "link": {"rel": "stylesheet", "type": MAPBOX_STYLE, "href": f"{root}?f=mapbox"},
            }
        ],
        "layers": [
            {
                "id": entry["name"],
                "type": _geometry_type(entry),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {p["name"]: {"title": p["title"]} for p in entry["properties"]},
                },
                "sampleData": {
                    "rel": "start",
                    "type": "application/geo+json",
                    "href": f"{base}/collections/{entry['name']}/items",
                },
            }
            for entry in entries
        ],
        "links": [
            {"rel": "self", "type": JSON, "title": "Style metadata", "href": f"{root}/metadata"},
            {
                "rel": "stylesheet",
                "type": MAPBOX_STYLE,
                "title": "MapLibre style",
                "href": f"{root}?f=mapbox",
            },
        ],
    }


# ---- HTTP (rows in twin.http.routes) ------------------------------------------------------


def _base(request: Request) -> str:
    from twin.tiles.metadata import server_url

    return server_url(str(request.base_url))


def _check_f(request: Request, allowed: set[str], what: str) -> None:
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in allowed:
        known = "f=mapbox (a MapLibre style)" if "mapbox" in allowed else "f=json"
        raise InvalidParameter(f"unknown format f={requested!r}: {what} is served as {known}")


def _collection(request: Request) -> str:
    from twin.catalog import load_catalog

    name = request.path_params["layer"]
    catalog = load_catalog()
    if name not in catalog:
        raise NotFound(f"unknown collection {name!r}: styles exist for {', '.join(catalog)}")
    return name


def _check_style(request: Request, collection: str | None) -> None:
    known = COLLECTION_STYLE if collection else DATASET_STYLE
    style_id = request.path_params["style"]
    if style_id != known:
        where = f"collection {collection!r}" if collection else "the dataset"
        raise NotFound(f"unknown style {style_id!r}: the styles of {where} are {known!r}")


def _answer(document: dict[str, Any], media_type: str = JSON) -> Response:
    return JSONResponse(
        document, media_type=media_type, headers={"Cache-Control": "no-cache", **CORS}
    )


async def styles(request: Request) -> Response:
    """GET /styles."""
    _check_f(request, DOCUMENT_F, "the list of styles")
    return _answer(style_list(_base(request)))


async def style(request: Request) -> Response:
    """GET /styles/{style}: the MapLibre stylesheet."""
    _check_style(request, None)
    _check_f(request, STYLESHEET_F, "a stylesheet")
    return _answer(stylesheet(_base(request), extent=await current_extent_async()), MAPBOX_STYLE)


async def style_info(request: Request) -> Response:
    """GET /styles/{style}/metadata."""
    _check_style(request, None)
    _check_f(request, DOCUMENT_F, "style metadata")
    return _answer(style_metadata(_base(request)))


async def collection_styles(request: Request) -> Response:
    """GET /collections/{layer}/styles."""
    name = _collection(request)
    _check_f(request, DOCUMENT_F, "the list of styles")
    return _answer(style_list(_base(request), name))


async def collection_style(request: Request) -> Response:
    """GET /collections/{layer}/styles/{style}: the layer's MapLibre stylesheet."""
    name = _collection(request)
    _check_style(request, name)
    _check_f(request, STYLESHEET_F, "a stylesheet")
    extent = await current_extent_async()
    return _answer(stylesheet(_base(request), name, extent=extent), MAPBOX_STYLE)


async def collection_style_info(request: Request) -> Response:
    """GET /collections/{layer}/styles/{style}/metadata."""
    name = _collection(request)
    _check_style(request, name)
    _check_f(request, DOCUMENT_F, "style metadata")
    return _answer(style_metadata(_base(request), name))

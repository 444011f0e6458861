"""The MapLibre style the map tiles are drawn with: the one twin.styles publishes.

twin.styles assembles the viewer's symbology from the catalog (layers/*.yml `style:`) and
serves it as OGC API Styles; the viewer draws it in the browser and MapLibre Native draws the
same document here, so a map tile and the viewer show one symbology from one source. Only the
URLs differ: the renderer reads vector tiles through the `twin://` scheme (twin.maps.render),
in-process, never over HTTP.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import Any

from twin.catalog import load_catalog
from twin.styles import source_id, stylesheet

SCHEME = "twin"
BASE = f"{SCHEME}://map"  # what the style's URLs start with: answered by twin.maps.render


def map_style(
    collections: list[str] | None, transparent: bool, extent: tuple[float, float, float, float]
) -> tuple[str, str]:
    """(style id, style JSON) for the dataset (None: its first-view layers) or the given
    collections (all drawn, in the viewer's order). The id is a digest of the JSON, so any
    change of symbology is a new id, and it keys the map tile cache. Built once per catalog
    state (the catalog object is re-made when layers/*.yml change) and city extent (the
    sources' bounds: twin.extent)."""
    names = None if collections is None else tuple(collections)
    return _map_style(names, transparent, id(load_catalog()), extent)


@functools.lru_cache(maxsize=256)
def _map_style(
    collections: tuple[str, ...] | None,
    transparent: bool,
    catalog: int,
    extent: tuple[float, float, float, float],
) -> tuple[str, str]:
    if collections is not None and len(collections) == 1:
        style = stylesheet(BASE, collections[0], extent=extent)
    else:
        style = stylesheet(BASE, extent=extent)
        if collections is not None:
            style = _only(style, list(collections))
    if transparent:
        style["layers"] = [layer for layer in style["layers"] if layer["type"] != "background"]
    elif not any(layer["type"] == "background" for layer in style["layers"]):
        ground = stylesheet(BASE, extent=extent)["layers"][0]
        style["layers"].insert(0, ground)
    style = _drawn_only(style)
    text = json.dumps(style, sort_keys=True)
    return "style-" + hashlib.sha256(text.encode()).hexdigest()[:16], text


def _only(style: dict[str, Any], collections: list[str]) -> dict[str, Any]:
    """The dataset style with the given collections' layers only, each shown."""
    sources = {source_id(name) for name in collections}
    layers = []
    for layer in style["layers"]:
        if layer.get("source") is None:
            layers.append(layer)
        elif layer["source"] in sources:
            layout = {**layer.get("layout", {}), "visibility": "visible"}
            layers.append({**layer, "layout": layout})
    return {
        **style,
        "sources": {k: v for k, v in style["sources"].items() if k in sources},
        "layers": layers,
    }


def _drawn_only(style: dict[str, Any]) -> dict[str, Any]:
    """The style without its hidden layers and the sources no drawn layer reads: a map is
    never toggled, and every render thread parses the style once per style id (4 ids per
    zoom: at_zoom), so the viewer's ~75 layers, ~50 sources cost each new renderer time for
    nothing."""
    layers = [
        layer
        for layer in style["layers"]
        if layer.get("layout", {}).get("visibility", "visible") != "none"
    ]
    used = {layer["source"] for layer in layers if "source" in layer}
    sources = {name: source for name, source in style["sources"].items() if name in used}
    return {**style, "layers": layers, "sources": sources}


def at_version(style_id: str, style_json: str, key: str) -> tuple[str, str]:
    """The style with its tile URLs under the data version key: MapLibre Native keeps the
    tiles it loaded per style and URL, so an edit must reach it as new URLs."""
    return f"{style_id}-{key}", style_json.replace(f"{BASE}/", f"{BASE}/v{key}/")


def at_zoom(
    style_id: str, style_json: str, zoom: float, quarter: tuple[int, int] | None = None
) -> tuple[str, str]:
    """The style for a render at MapLibre `zoom`: each vector source's minzoom raised to the
    tile level that zoom draws from. MapLibre Native prefetches a coarser "placeholder" tile
    (up to 4 levels up, down to the source's minzoom) for every render, which a still image
    never shows: for a city z14 map tile that was a second, larger vector tile per layer
    drawn from PostGIS (z12 beside z13) and waited for. A fractional zoom is rounded down a
    hair low, so a source is never cut above the level the render draws from.

    `quarter` (column, row: 0 or 1): the render shows only that quarter of each vector tile it
    reads (a 256 px map tile at zoom z is drawn at MapLibre zoom z-1, from one z-1 tile per
    source), so the sources drawn at that level ask for the quarter alone (`q01/` in the URL:
    twin.maps.render answers it). MapLibre Native keeps tiles per URL, so each quarter is a
    style of its own."""
    level = int(zoom) if float(zoom).is_integer() else math.floor(zoom - 1e-6)
    level = max(0, level)
    return _at_zoom(style_id, style_json, level, quarter)


@functools.lru_cache(maxsize=256)
def _at_zoom(
    style_id: str, style_json: str, level: int, quarter: tuple[int, int] | None
) -> tuple[str, str]:
    style = json.loads(style_json)
    for source in style["sources"].values():
        if source.get("type") == "vector":
            top = source.get("maxzoom", 22)
            source["minzoom"] = max(source.get("minzoom", 0), min(level, top))
            if quarter is not None and source["minzoom"] <= level <= top:
                mark = f"/q{quarter[0]}{quarter[1]}/collections/"
                source["tiles"] = [url.replace("/collections/", mark) for url in source["tiles"]]
    suffix = "" if quarter is None else f"-q{quarter[0]}{quarter[1]}"
    return f"{style_id}-z{level}{suffix}", json.dumps(style, sort_keys=True)

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


def map_style(collections: list[str] | None, transparent: bool) -> tuple[str, str]:
    """(style id, style JSON) for the dataset (None: its first-view layers) or the given
    collections (all drawn, in the viewer's order). The id is a digest of the JSON, so any
    change of symbology is a new id, and it keys the map tile cache. Built once per catalog
    state (the catalog object is re-made when layers/*.yml change)."""
    names = None if collections is None else tuple(collections)
    return _map_style(names, transparent, id(load_catalog()))


@functools.lru_cache(maxsize=256)
def _map_style(
    collections: tuple[str, ...] | None, transparent: bool, catalog: int
) -> tuple[str, str]:
    if collections is not None and len(collections) == 1:
        style = stylesheet(BASE, collections[0])
    else:
        style = stylesheet(BASE)
        if collections is not None:
            style = _only(style, list(collections))
    if transparent:
        style["layers"] = [layer for layer in style["layers"] if layer["type"] != "background"]
    elif not any(layer["type"] == "background" for layer in style["layers"]):
        ground = stylesheet(BASE)["layers"][0]
        style["layers"].insert(0, ground)
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


def at_version(style_id: str, style_json: str, key: str) -> tuple[str, str]:
    """The style with its tile URLs under the data version key: MapLibre Native keeps the
    tiles it loaded per style and URL, so an edit must reach it as new URLs."""
    return f"{style_id}-{key}", style_json.replace(f"{BASE}/", f"{BASE}/v{key}/")


def at_zoom(style_id: str, style_json: str, zoom: float) -> tuple[str, str]:
    """The style for a render at MapLibre `zoom`: each vector source's minzoom raised to the
    tile level that zoom draws from. MapLibre Native prefetches a coarser "placeholder" tile
    (up to 4 levels up, down to the source's minzoom) for every render, which a still image
    never shows: for a city z14 map tile that was a second, larger vector tile per layer
    drawn from PostGIS (z12 beside z13) and waited for. A fractional zoom is rounded down a
    hair low, so a source is never cut above the level the render draws from."""
    level = int(zoom) if float(zoom).is_integer() else math.floor(zoom - 1e-6)
    level = max(0, level)
    return _at_zoom(style_id, style_json, level)


@functools.lru_cache(maxsize=256)
def _at_zoom(style_id: str, style_json: str, level: int) -> tuple[str, str]:
    style = json.loads(style_json)
    for source in style["sources"].values():
        if source.get("type") == "vector":
            top = source.get("maxzoom", 22)
            source["minzoom"] = max(source.get("minzoom", 0), min(level, top))
    return f"{style_id}-z{level}", json.dumps(style, sort_keys=True)

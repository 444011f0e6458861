"""Links to the map and map tiles of a collection (its pygeoapi document carries them)."""

from __future__ import annotations

from typing import Any

PNG = "image/png"
REL_MAP = "http://www.opengis.net/def/rel/ogc/1.0/map"
REL_TILESETS_MAP = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"


def map_links(base: str, collection: str) -> list[dict[str, Any]]:
    """OGC API Maps `map` and OGC API Tiles `tilesets-map` links of a collection: what GDAL's
    OGCAPI driver (and so ArcGIS-style clients) follow to the PNGs."""
    return [
        {
            "rel": REL_MAP,
            "type": PNG,
            "title": "The collection as a map (PNG, OGC API Maps)",
            "href": f"{base}/collections/{collection}/map",
        },
        {
            "rel": REL_TILESETS_MAP,
            "type": "application/json",
            "title": "Map tiles (PNG) of the collection",
            "href": f"{base}/collections/{collection}/map/tiles",
        },
    ]

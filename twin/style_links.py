"""Where the twin's map styles are (OGC API Styles): their ids, media types, link relation and
the links a collection document or a tileset carries to them. twin.styles serves the styles;
the tilesets (twin.tiles.metadata) and the collection documents (twin.pygeoapi_config) link
to them from here, without importing the styles' assembly.
"""

from __future__ import annotations

from typing import Any

DATASET_STYLE = "twin"
COLLECTION_STYLE = "default"
MAPBOX_STYLE = "application/vnd.mapbox.style+json"
JSON = "application/json"
REL_STYLES = "http://www.opengis.net/def/rel/ogc/1.0/styles"


def _root(collection: str | None) -> str:
    return f"/collections/{collection}/styles" if collection else "/styles"


def style_links(base: str, collection: str | None = None) -> list[dict[str, Any]]:
    """Links to the styles of the dataset or of a collection: for collection documents and
    tilesets (OGC API Styles `styles`, and the default stylesheet itself)."""
    root = f"{base}{_root(collection)}"
    default = COLLECTION_STYLE if collection else DATASET_STYLE
    return [
        {"rel": REL_STYLES, "type": JSON, "title": "Styles", "href": f"{root}?f=json"},
        {
            "rel": "stylesheet",
            "type": MAPBOX_STYLE,
            "title": "Default style (MapLibre)",
            "href": f"{root}/{default}?f=mapbox",
        },
    ]

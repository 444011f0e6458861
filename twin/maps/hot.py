"""Where a map tile sits in the hot-tile memory and in the disk cache: one naming for both.

A served map tile goes into the same per-process LRU as the vector tiles (`HotTiles`,
twin/tiles/service.py), so the tile fast path (twin/tiles/fastpath.py) answers a repeated map
tile before any middleware, as it answers vector tiles. Its memory address is made of the
vector tileset it is drawn from (a layer, a `collections=` selection, or the first-view
layers), that tileset's cache key under the current data versions, the variant (ground or
transparent, size, image format) and the tile. The style is not in the address: it is built
from the catalog, read once per process, so within a process a tileset's key decides it; the
ETag kept with the entry names the style too (twin/maps/routes.py).

Light on purpose: the fast path imports it at start.
"""

from __future__ import annotations

import re

from twin.tiles.service import ALL_LAYERS, SHOWN_LAYERS

DEFAULT_SIZE = 256


def folder(tileset: str, transparent: bool) -> str:
    """The disk cache folder of a map tileset variant (beside the vector tilesets)."""
    return f"map~{tileset}~{'clear' if transparent else 'ground'}"


def memory_address(
    tileset: str, key: str, z: int, x: int, y: int, size: int, extension: str, transparent: bool
) -> tuple:
    """The hot-tile memory address of a map tile (never equal to a vector tile's)."""
    return (folder(tileset, transparent), key, z, x, y, f"{size}.{extension}")


def map_tileset(match: re.Match[str], tileset: str) -> str:
    """The vector tileset a fast-path map URL is drawn from: the dataset's map without
    `collections=` shows the first-view layers, not every layer."""
    return SHOWN_LAYERS if tileset == ALL_LAYERS else tileset


def fast_address(match: re.Match[str], tileset: str, key: str) -> tuple:
    """The memory address of a map tile URL the fast path may answer: no query string (or
    `collections=` alone on the dataset's), so 256 px, the row's default transparency (a
    layer's PNG transparent around its features, the dataset's on the ground colour)."""
    extension = match.group("image") or "png"
    transparent = extension == "png" and match.groupdict().get("layer") is not None
    z, x, y = int(match.group("z")), int(match.group("x")), int(match.group("y"))
    return memory_address(tileset, key, z, x, y, DEFAULT_SIZE, extension, transparent)

"""Tile matrix sets the twin serves (WebMercatorQuad) and the checks on a tile address.

Definitions come from morecantile (the OGC 2.0 JSON encoding); every address problem is a
TileRequestError carrying the HTTP status and a message that names the problem.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import morecantile

from twin.errors import NotFound
from twin.settings import get_settings

WEB_MERCATOR_QUAD = "WebMercatorQuad"
TILE_MATRIX_SETS = (WEB_MERCATOR_QUAD,)
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
EARTH_CIRCUMFERENCE_M = 2 * math.pi * 6378137.0


class TileRequestError(NotFound):
    """A tile address or format the twin cannot answer: 404 NotFound (not there), or 400
    InvalidParameterValue (malformed) when the raiser says so."""

    def __init__(self, message: str, status: int = 404, code: str = "NotFound") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class TileAddress:
    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.z}/{self.y}/{self.x}"

    @property
    def centre_latitude(self) -> float:
        """Latitude of the tile's centre row (for ground-size thresholds)."""
        n = math.pi - 2 * math.pi * (self.y + 0.5) / 2**self.z
        return math.degrees(math.atan(math.sinh(n)))

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        b = tms().bounds(self.x, self.y, self.z)
        return (b.left, b.bottom, b.right, b.top)

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        b = tms().xy_bounds(self.x, self.y, self.z)
        return (b.left, b.bottom, b.right, b.top)


@lru_cache(maxsize=1)
def tms() -> morecantile.TileMatrixSet:
    return morecantile.tms.get(WEB_MERCATOR_QUAD)


@lru_cache(maxsize=1)
def tile_matrix_set_document() -> dict[str, Any]:
    """The WebMercatorQuad definition served to clients: tiles/tileMatrixSets/WebMercatorQuad.json,
    OGC Two Dimensional Tile Matrix Set 2.0 JSON (morecantile's) with the 1.0 names beside the
    2.0 ones (identifier, supportedCRS, boundingBox, topLeftCorner), which GDAL before 3.7 (and
    the QGIS built on it) reads. tests/test_tiles.py checks it against morecantile's matrices."""
    path = get_settings().tiles_dir / "tileMatrixSets" / f"{WEB_MERCATOR_QUAD}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def check_matrix_set(name: str) -> str:
    if name not in TILE_MATRIX_SETS:
        raise TileRequestError(
            f"unknown tile matrix set {name!r}; this server offers {', '.join(TILE_MATRIX_SETS)}"
        )
    return name


# A tile address in its one spelling: ASCII digits, no sign, spaces, underscores or leading
# zeros (int() would also take " 14", "+14", "0014", "1_4" and "١٤", each a second URL of the
# same tile: a second cache entry, an ETag mismatch, a way around the fast path's regex).
CANONICAL_INTEGER = re.compile(r"0|[1-9][0-9]*")


def _integer(value: str, what: str) -> int:
    if not CANONICAL_INTEGER.fullmatch(value):
        raise TileRequestError(
            f"{what} must be a non-negative integer written in plain digits, got {value!r}",
            status=400,
            code="InvalidParameterValue",
        )
    return int(value)


def parse_address(z: str, y: str, x: str) -> TileAddress:
    """Check tileMatrix/tileRow/tileCol against WebMercatorQuad (404 when outside the matrix)."""
    zoom = _integer(z, "tileMatrix (z)")
    row = _integer(y, "tileRow (y)")
    col = _integer(x, "tileCol (x)")
    if zoom > tms().maxzoom:
        raise TileRequestError(
            f"tile matrix {zoom} is not in {WEB_MERCATOR_QUAD} (tile matrices 0-{tms().maxzoom})"
        )
    size = 2**zoom
    if row >= size or col >= size:
        raise TileRequestError(
            f"tile {zoom}/{row}/{col} is outside tile matrix {zoom} of "
            f"{WEB_MERCATOR_QUAD}: tileRow and tileCol must be 0-{size - 1}"
        )
    return TileAddress(zoom, col, row)


def split_extension(x: str, allowed: tuple[str, ...]) -> tuple[str, str | None]:
    """'123.pbf' -> ('123', 'pbf'); the extension must be one of `allowed`."""
    if "." not in x:
        return x, None
    col, extension = x.split(".", 1)
    if extension.lower() not in allowed:
        raise TileRequestError(
            f"unknown tile format {extension!r}; this tileset offers {', '.join(allowed)}",
            status=400,
            code="InvalidParameterValue",
        )
    return col, extension.lower()


def tile_ranges(bbox: tuple[float, float, float, float], zoom: int) -> list[TileAddress]:
    """Every tile of `zoom` that touches a lon/lat bbox (for seeding and limits)."""
    return [TileAddress(t.z, t.x, t.y) for t in tms().tiles(*bbox, zooms=[zoom])]


def matrix_limits(
    bbox: tuple[float, float, float, float], minzoom: int, maxzoom: int
) -> list[dict[str, Any]]:
    """tileMatrixSetLimits of a tileset: the rows and columns touching bbox at each zoom."""
    limits = []
    for zoom in range(minzoom, maxzoom + 1):
        upper_left = tms().tile(bbox[0], bbox[3], zoom)
        lower_right = tms().tile(bbox[2], bbox[1], zoom)
        limits.append(
            {
                "tileMatrix": str(zoom),
                "minTileRow": upper_left.y,
                "maxTileRow": lower_right.y,
                "minTileCol": upper_left.x,
                "maxTileCol": lower_right.x,
            }
        )
    return limits

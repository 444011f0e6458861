"""The CRSs features are served in (Features Part 2), by URI.

EPSG:4326 is latitude/longitude in that order, so its coordinates are flipped from storage;
CRS84 (the default) is longitude/latitude. Metric CRSs get millimetre precision.

Each CRS is defined over an area of use (EPSG's, through pyproj); a projected coordinate far
outside it cannot be carried back to longitude/latitude (PostGIS: "Point outside of projection
domain"), so a bbox or a filter geometry in such a CRS is checked against those bounds before
any SQL runs, and refused with the bounds named.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from twin.features.errors import FeatureQueryError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@dataclass(frozen=True)
class OutputCrs:
    uri: str
    srid: int
    lat_lon: bool  # axis order latitude first (EPSG:4326)
    decimals: int  # GeoJSON coordinate precision

    @property
    def geographic(self) -> bool:
        """Longitude/latitude degrees (CRS84, EPSG:4326), whatever the axis order."""
        return self.srid == 4326

    def valid_bounds(self) -> tuple[float, float, float, float]:
        """The CRS's area of use in its own coordinates, in this CRS's axis order."""
        minx, miny, maxx, maxy = _bounds(self.srid)
        return (miny, minx, maxy, maxx) if self.lat_lon else (minx, miny, maxx, maxy)


SUPPORTED: dict[str, OutputCrs] = {
    CRS84: OutputCrs(CRS84, 4326, False, 7),
    f"{EPSG}4326": OutputCrs(f"{EPSG}4326", 4326, True, 7),
    f"{EPSG}3857": OutputCrs(f"{EPSG}3857", 3857, False, 3),
    f"{EPSG}32643": OutputCrs(f"{EPSG}32643", 32643, False, 3),
}
SUPPORTED_URIS = list(SUPPORTED)


def crs_by_uri(uri: str | None, parameter: str = "crs") -> OutputCrs:
    """The CRS a `crs`, `bbox-crs` or `filter-crs` parameter names (CRS84 when absent)."""
    if uri is None or uri == "":
        return SUPPORTED[CRS84]
    found = SUPPORTED.get(uri.strip())
    if found is None:
        raise FeatureQueryError(
            f"{parameter} {uri!r} is not supported; use one of: {', '.join(SUPPORTED_URIS)}"
        )
    return found


@functools.cache
def _bounds(srid: int) -> tuple[float, float, float, float]:
    """EPSG's area of use of `srid`, projected into it (x/east first): worked out once."""
    from pyproj import CRS, Transformer

    crs = CRS.from_epsg(srid)
    area = crs.area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -90.0, 180.0, 90.0)
    if crs.is_geographic:
        return west, south, east, north
    to_crs = Transformer.from_crs(4326, srid, always_xy=True)
    return tuple(to_crs.transform_bounds(west, south, east, north, densify_pts=21))


def _number(value: float) -> str:
    return f"{value:.10g}" if abs(value) < 1e6 else f"{value:.0f}"


def check_in_domain(
    crs: OutputCrs, bounds: tuple[float, float, float, float], what: str, parameter: str
) -> None:
    """Refuse coordinates (minx, miny, maxx, maxy, in `crs`'s axis order) outside the area
    `crs` is defined for, naming them, the CRS and its bounds; a 400 instead of PostGIS
    failing the transform halfway through the statement."""
    valid = crs.valid_bounds()
    slack = 1e-9 * max(abs(v) for v in valid)  # rounding in the bounds' own transform
    minx, miny, maxx, maxy = bounds
    if (
        minx >= valid[0] - slack
        and miny >= valid[1] - slack
        and maxx <= valid[2] + slack
        and maxy <= valid[3] + slack
    ):
        return
    raise FeatureQueryError(
        f"{what} ({', '.join(_number(v) for v in bounds)}) lies outside the area "
        f"{parameter} {crs.uri} is defined for: its coordinates must be within "
        f"{', '.join(_number(v) for v in valid)} (minx, miny, maxx, maxy)"
    )


def clamp_to_world(
    crs: OutputCrs, bounds: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """A longitude/latitude bbox cut to the world: beyond it there is nothing to select, so
    -200,-100,200,100 means the whole world (clients zoomed out send such boxes)."""
    valid = crs.valid_bounds()
    minx, miny, maxx, maxy = bounds
    return (
        min(max(minx, valid[0]), valid[2]),
        min(max(miny, valid[1]), valid[3]),
        max(min(maxx, valid[2]), valid[0]),
        max(min(maxy, valid[3]), valid[1]),
    )

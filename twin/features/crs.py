"""The CRSs features are served in (Features Part 2), by URI.

EPSG:4326 is latitude/longitude in that order, so its coordinates are flipped from storage;
CRS84 (the default) is longitude/latitude. Metric CRSs get millimetre precision.
"""

from __future__ import annotations

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
            f"{parameter} {uri!r} is not supported; use one of: {', '.join(SUPPORTED_URIS)}")
    return found

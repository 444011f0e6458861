"""Guards of an import before anything is written: a file whose features mostly lie outside
the city is refused (a wrong CRS label, swapped axes or another city's data would otherwise
overwrite Almaty's layers with nonsense), and rejected features are written to a GeoJSON file
the planner can open, each with its reason.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry import mapping

from twin.errors import ImportFailed
from twin.extent import current_extent
from twin.settings import get_settings

CITY_NAME = "Almaty"
EXTENT_MARGIN_KM = 20.0
SAMPLE = 500
# CRSs a file about Almaty is often really in when its label says otherwise
LIKELY_CRS = ("EPSG:32643", "EPSG:32642", "EPSG:32644", "EPSG:3857", "EPSG:4326")


def city_extent(margin_km: float = EXTENT_MARGIN_KM) -> tuple[float, float, float, float]:
    """The city's lon/lat extent (the loaded districts', twin.extent) widened by `margin_km`
    on every side."""
    west, south, east, north = current_extent()
    dlat = margin_km / 111.32
    dlon = margin_km / (111.32 * math.cos(math.radians((south + north) / 2)))
    return west - dlon, south - dlat, east + dlon, north + dlat


def outside_city(geometries: np.ndarray) -> np.ndarray:
    """True for each lon/lat geometry that does not reach the widened city extent (and for a
    missing, empty or non-finite one)."""
    west, south, east, north = city_extent()
    bounds = shapely.bounds(np.asarray(geometries, dtype=object))
    with np.errstate(invalid="ignore"):
        inside = (
            (bounds[:, 0] <= east)
            & (bounds[:, 2] >= west)
            & (bounds[:, 1] <= north)
            & (bounds[:, 3] >= south)
        )
    return ~inside


def _sample(geometries: np.ndarray) -> np.ndarray:
    geometries = np.asarray(geometries, dtype=object)
    present = geometries[~shapely.is_missing(geometries) & ~shapely.is_empty(geometries)]
    if len(present) > SAMPLE:
        present = present[np.linspace(0, len(present) - 1, SAMPLE).astype(int)]
    return present


def _share_inside(geometries: np.ndarray, crs: Any) -> float:
    """Share of the geometries inside the city when read in `crs`."""
    if len(geometries) == 0:
        return 0.0
    try:
        lonlat = gpd.GeoSeries(geometries, crs=crs).to_crs(4326).values
    except (ProjError, ValueError):  # pyproj refuses some coordinates outright: none fit
        return 0.0
    return float((~outside_city(lonlat)).mean())


def _looks_like_metres(geometries: np.ndarray) -> bool:
    coordinates = shapely.get_coordinates(geometries)
    coordinates = coordinates[np.isfinite(coordinates).all(axis=1)]
    if len(coordinates) == 0:
        return False
    return bool(((np.abs(coordinates[:, 0]) > 180) | (np.abs(coordinates[:, 1]) > 90)).mean() > 0.5)


def _epsg(crs: Any) -> str:
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        return str(crs)
    code = parsed.to_epsg()
    return f"EPSG:{code}" if code else parsed.name


def likely_cause(labelled: gpd.GeoSeries) -> str:
    """Why a file's features are not where the city is: the CRS label, swapped axes, or another
    place; with the --crs that puts them in the city when one does."""
    sample = _sample(labelled.values)
    label = _epsg(labelled.crs) if labelled.crs is not None else "nothing"
    geographic = labelled.crs is not None and CRS.from_user_input(labelled.crs).is_geographic
    if geographic and _looks_like_metres(sample):
        cause = (
            f"the file's CRS label may be wrong (it says {label}, but its coordinates "
            "look like metres)"
        )
    elif not geographic and not _looks_like_metres(sample) and len(sample):
        cause = (
            f"the file's CRS label may be wrong (it says {label}, but its coordinates "
            "look like longitude/latitude degrees)"
        )
    else:
        cause = ""
    for candidate in LIKELY_CRS:
        if candidate != label and _share_inside(sample, candidate) > 0.5:
            name = CRS.from_user_input(candidate).name
            return (
                f"{cause or f'the file says {label}, but its coordinates fit another CRS'}"
                f"; read as {candidate} ({name}) they lie in {CITY_NAME}: pass --crs "
                f"{candidate}"
            )
    if len(sample) and labelled.crs is not None:
        try:
            lonlat = gpd.GeoSeries(sample, crs=labelled.crs).to_crs(4326).values
        except (ProjError, ValueError):  # coordinates pyproj cannot transform at all
            return cause or "its coordinates are not where the city is"
        swapped = shapely.transform(lonlat, lambda xy: xy[:, ::-1])
        if float((~outside_city(swapped)).mean()) > 0.5:
            return "longitude and latitude look swapped (x holds the latitude)"
        points = shapely.centroid(lonlat)
        xy = shapely.get_coordinates(points)
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy) and abs(np.median(xy[:, 1])) <= 90:
            where = (
                f"its features centre on {np.median(xy[:, 1]):.2f} N, {np.median(xy[:, 0]):.2f} E"
            )
            return (
                f"{cause}; {where}" if cause else f"it looks like data of another place ({where})"
            )
    return cause or "its coordinates are not where the city is"


def check_extent(
    lonlat: np.ndarray,
    labelled: gpd.GeoSeries | None,
    what: str,
    override: str,
    force: bool,
    notes: list[str],
) -> None:
    """Refuse (ImportFailed) when more than half of the features lie outside the city extent
    widened by 20 km; with --force, import anyway and say so in a note."""
    present = ~shapely.is_missing(lonlat)
    total = int(present.sum())
    if total == 0:
        return
    outside = int((outside_city(lonlat) & present).sum())
    if outside * 2 <= total:
        return
    west, south, east, north = current_extent()
    where = (
        f"{outside} of {total} features of {what} lie outside {CITY_NAME}'s extent "
        f"({west}-{east} E, {south}-{north} N, with {EXTENT_MARGIN_KM:g} km around)"
    )
    cause = (
        likely_cause(labelled)
        if labelled is not None
        else likely_cause(gpd.GeoSeries(lonlat, crs=4326))
    )
    if force:
        notes.append(f"--force: imported although {where}: {cause}")
        return
    raise ImportFailed(f"{where}: {cause}; {override}; nothing was changed")


def rejected_path(source: Path, layer: str) -> Path:
    """Where the rejected features of an import go by default: TWIN_HOME/rejected/."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = get_settings().home / "rejected"
    return folder / f"{source.name.split('.')[0]}-{layer}-rejected-{stamp}.geojson"


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def write_rejected(report: Any, frame: gpd.GeoDataFrame, path: Path) -> Path | None:
    """The rejected features of `frame` (the source rows, in lon/lat) as GeoJSON, each with its
    `reason`; None when nothing was rejected."""
    if not report.rejected_rows:
        return None
    geometry = frame.geometry.name
    fields = [c for c in frame.columns if c != geometry]
    lonlat = frame.geometry
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        lonlat = frame.geometry.to_crs(4326)
    features = []
    for index, reason in report.rejected_rows:
        shape = lonlat.iloc[index]
        finite = (
            shape is not None
            and not shape.is_empty
            and bool(np.isfinite(shapely.get_coordinates(shape)).all())
        )
        properties = {name: _json_value(frame[name].iloc[index]) for name in fields}
        properties["reason"] = reason
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": mapping(shape) if finite else None,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False, default=str
        ),
        encoding="utf-8",
    )
    report.rejected_file = str(path)
    return path

"""Scooter trips in bulk: MDS Provider trips in, hourly H3 aggregates and key-section flows out.

The city's single operator and its partners report up to 100 thousand trips a day (S1). A
file or request of trips (MDS 2.0 `trips`: JSON, NDJSON or CSV) is checked row by row before
anything is written: a trip outside the city, faster than the 25 km/h scooter limit allows
(with a tolerance for GPS noise), ending before it starts, or already known (twice in the file
or stored) is refused with its reason. By default one bad row refuses the whole batch and
nothing is written (the report lists the reasons and the first rows); `accept_valid` writes
the good rows and still lists the refused ones. Good rows are streamed with COPY into a day
partition of `scooter_trips` (migration 0015); the batch's own counts by H3 cell and hour
(layer trip_cells), made on arrays from the cells the COPY writes, are added to the stored
rows in the same transaction (the stored trips are not recounted: a batch costs its own cells).
Trips removed later (the demo's day reloaded) need refresh_trip_cells, which recounts hours.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import h3
import numpy as np
import orjson
import pandas as pd
import psycopg
import shapely
from h3.api import basic_int as h3int
from psycopg.copy import QueuedLibpqWriter

from twin.errors import Conflict, ImportFailed, InvalidParameter
from twin.extent import current_extent
from twin.sqlfiles import query
from twin.store import Provenance, record_provenance, write_layer

LOG = logging.getLogger("twin.scooters.trips")

H3_RESOLUTION = 9  # ~0.1 km² cells, as micromobility_cells
SPEED_LIMIT_KMH = 25.0  # the scooters' speed limit in Kazakhstan (rules of the road, 2023)
SPEED_TOLERANCE = 1.2  # GPS noise and rounding: above 30 km/h a trip is not a scooter trip
SHOWN_REJECTED = 20  # refused rows listed in a report (all are counted)
MAX_ROUTE_POINTS = 2_000
MAX_TEXT = 200  # ids and names
COPY_CHUNK = 5_000
DAY = timedelta(days=1)  # a trip id is looked for among the trips started a day either side
CSV_COLUMNS = (
    "trip_id, provider_id, provider_name, device_id, start_time, end_time, start_lat, "
    "start_lon, end_lat, end_lon, distance (m), duration (s) [, route: lon lat;lon lat;...]"
)
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass
class TripReport:
    """What an ingest received, wrote and refused (with reasons)."""

    received: int = 0
    written: int = 0
    refused: int = 0
    reasons: Counter = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the first refused rows
    hours: int = 0  # hours of trip_cells recomputed
    cells: int = 0  # rows of trip_cells written
    injuries: int = 0  # injury reports kept (layer scooter_injuries)
    injuries_without_place: int = 0  # reported without a location: counted, not kept

    def refuse(self, row: int, trip_id: Any, reasons: list[str]) -> None:
        self.refused += 1
        self.reasons.update(reasons)
        if len(self.rows) < SHOWN_REJECTED:
            self.rows.append({"row": row, "trip_id": trip_id, "reasons": reasons})

    def document(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "written": self.written,
            "refused": self.refused,
            "reasons": dict(self.reasons.most_common()),
            "refused_rows": self.rows,
            "trip_cells": {"hours": self.hours, "rows": self.cells},
            "injuries": {"kept": self.injuries, "without_place": self.injuries_without_place},
        }


class TripsRefused(ImportFailed):
    """A batch with refused rows, written not at all: the report says which and why."""

    def __init__(self, report: TripReport) -> None:
        top = ", ".join(f"{reason} ({n})" for reason, n in report.reasons.most_common(3))
        super().__init__(
            f"{report.refused} of {report.received} trips refused, nothing written: {top}"
        )
        self.report = report

    def details(self) -> dict[str, object]:
        return {"report": self.report.document()}


@dataclass(frozen=True)
class Trip:
    """One checked trip, ready to be written."""

    trip_id: str
    provider_id: str
    provider_name: str
    device_id: str
    start: datetime
    end: datetime
    origin: tuple[float, float]  # lon, lat
    destination: tuple[float, float]
    path: list[tuple[float, float]]  # lon, lat: the route, or its two ends
    has_route: bool
    distance_m: float
    duration_s: float


# ---- reading ------------------------------------------------------------------------------


def read_trips(data: bytes, name: str = "") -> list[dict[str, Any]]:
    """The trips of a JSON (MDS `{"trips": [...]}`, `{"data": {"trips": ...}}` or a list),
    NDJSON or CSV document, as raw rows: the format by `name`'s suffix, else by the content."""
    suffix = Path(name).suffix.lower()
    first = data.lstrip()[:1]
    if suffix == ".csv" or (suffix not in {".json", ".ndjson", ".jsonl"} and first not in b"{["):
        return _read_csv(data)
    if suffix in {".ndjson", ".jsonl"}:
        return _read_ndjson(data)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if first == b"{" and suffix != ".json":
            return _read_ndjson(data)
        raise InvalidParameter(f"the trips are not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        inner = doc.get("data")
        doc = doc.get("trips", inner.get("trips") if isinstance(inner, dict) else None)
    if not isinstance(doc, list):
        raise InvalidParameter(
            'send MDS trips: {"version": "2.0", "trips": [...]}, a list of trips, NDJSON '
            f"(one trip a line) or CSV ({CSV_COLUMNS})"
        )
    return doc


def _read_ndjson(data: bytes) -> list[Any]:
    """One trip a line: parsed as one JSON array (one call for a day of trips); when that
    fails, line by line to name the line that is not JSON."""
    body = data.strip()
    try:
        rows = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        pass
    else:
        if len(rows) == body.count(b"\n") + 1:  # a line holding "1, 2" would read as two
            return rows
    rows = []
    for number, line in enumerate(data.splitlines(), 1):
        if line.strip():
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise InvalidParameter(f"line {number} is not JSON: {exc}") from None
    return rows


def _read_csv(data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(f"the CSV is not UTF-8: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = {"trip_id", "start_time", "end_time", "start_lat", "start_lon", "end_lat", "end_lon"}
    missing = needed - set(reader.fieldnames or ())
    if missing:
        raise InvalidParameter(
            f"the CSV lacks the columns {', '.join(sorted(missing))}; columns: {CSV_COLUMNS}"
        )
    rows = []
    for row in reader:
        route = row.get("route") or ""
        rows.append(
            {
                **row,
                "start_location": {"lat": row.get("start_lat"), "lng": row.get("start_lon")},
                "end_location": {"lat": row.get("end_lat"), "lng": row.get("end_lon")},
                "route": [p.split() for p in route.split(";") if p.strip()] or None,
            }
        )
    return rows


def _time(value: Any) -> datetime | None:
    """MDS times are milliseconds since the epoch; ISO 8601 text is taken too."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.lstrip("-").isdigit():
                return datetime.fromtimestamp(int(text) / 1000, UTC)
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _location(value: Any) -> tuple[float, float] | None:
    """(lon, lat) of an MDS location {lat, lng}, a GeoJSON Point or [lon, lat]."""
    if isinstance(value, dict):
        if value.get("type") == "Point":
            value = value.get("coordinates")
        elif "geometry" in value:
            return _location(value["geometry"])
        else:
            lon, lat = _number(value.get("lng", value.get("lon"))), _number(value.get("lat"))
            return (lon, lat) if lon is not None and lat is not None else None
    if isinstance(value, (list, tuple)) and len(value) >= 2:
        lon, lat = _number(value[0]), _number(value[1])
        return (lon, lat) if lon is not None and lat is not None else None
    return None


def _route(value: Any) -> list[tuple[float, float]] | str | None:
    """The route's points (lon, lat): a GeoJSON FeatureCollection of Points (MDS 1.x), a
    LineString or a list of [lon, lat]; a string names what is wrong with it."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("type") == "FeatureCollection":
            value = [f.get("geometry") for f in value.get("features") or [] if isinstance(f, dict)]
        elif value.get("type") == "LineString":
            value = value.get("coordinates")
    if not isinstance(value, list) or len(value) > MAX_ROUTE_POINTS:
        return f"route is not a list of at most {MAX_ROUTE_POINTS} points"
    points = [_location(p) for p in value]
    if any(p is None for p in points):
        return "route has a point without coordinates"
    return points or None  # type: ignore[return-value]


def _inside(point: tuple[float, float]) -> bool:
    minx, miny, maxx, maxy = current_extent()  # the loaded districts' (twin.extent)
    return minx <= point[0] <= maxx and miny <= point[1] <= maxy


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def check_trip(raw: Any) -> Trip | list[str]:
    """The trip, or the reasons it is refused (outside the city, impossible speed, ...)."""
    if not isinstance(raw, dict):
        return ["not a trip object"]
    reasons = []
    trip_id = raw.get("trip_id")
    if not isinstance(trip_id, (str, int)) or not str(trip_id).strip():
        reasons.append("missing trip_id")
    for name in ("trip_id", "provider_id", "provider_name", "device_id"):
        value = raw.get(name)
        if isinstance(value, str) and (len(value) > MAX_TEXT or "\x00" in value):
            reasons.append(f"{name} is not a text of at most {MAX_TEXT} characters")
    start, end = _time(raw.get("start_time")), _time(raw.get("end_time"))
    if start is None:
        reasons.append("start_time is not a time")
    if end is None:
        reasons.append("end_time is not a time")
    origin, destination = _location(raw.get("start_location")), _location(raw.get("end_location"))
    if origin is None:
        reasons.append("start_location has no coordinates")
    if destination is None:
        reasons.append("end_location has no coordinates")
    route = _route(raw.get("route"))
    if isinstance(route, str):
        reasons.append(route)
        route = None
    if reasons:
        return reasons
    assert start and end and origin and destination
    if end <= start:
        reasons.append("ends before it starts")
    path = route if route and len(route) >= 2 else [origin, destination]
    if not _inside(origin) or not _inside(destination):
        reasons.append("outside the city")
    elif not all(_inside(p) for p in path):
        reasons.append("route leaves the city")
    distance = _number(raw.get("distance", raw.get("trip_distance")))
    if distance is None:  # not reported: the length of the route (or the straight line)
        distance = sum(_metres(a, b) for a, b in itertools.pairwise(path))
    distance = max(distance, 0.0)
    seconds = (end - start).total_seconds()
    if seconds > 0:
        kmh = max(distance, _metres(origin, destination)) / seconds * 3.6
        if kmh > SPEED_LIMIT_KMH * SPEED_TOLERANCE:
            reasons.append(f"impossible speed (over {SPEED_LIMIT_KMH * SPEED_TOLERANCE:.0f} km/h)")
    if reasons:
        return reasons
    return Trip(
        trip_id=str(trip_id).strip(),
        provider_id=str(raw.get("provider_id") or raw.get("provider_name") or "unknown"),
        provider_name=str(raw.get("provider_name") or ""),
        device_id=str(raw.get("device_id") or ""),
        start=start,
        end=end,
        origin=origin,
        destination=destination,
        path=path,
        has_route=path is route,
        distance_m=distance,
        duration_s=seconds,
    )


# ---- injury reports -----------------------------------------------------------------------

INJURY_SEVERITIES = ("fatal", "serious", "slight", "unknown")
INJURY_WINDOW = timedelta(hours=1)  # a report's time: within the trip, give or take an hour


@dataclass(frozen=True)
class Injury:
    """An injury or incident reported with a trip (its `injury` object), where it happened."""

    occurred_at: datetime
    severity: str
    location: tuple[float, float] | None  # lon, lat; None: reported without a place


def check_injury(raw: Any, start: Any, end: Any) -> Injury | list[str]:
    """A trip's `injury` ({severity, location, time}; MDS has no such field, so the twin
    names it): the report, or the reasons its trip is refused. Without a time it is the trip's
    end; without a location it is counted, not kept."""
    if not isinstance(raw, dict):
        return ["injury is not an object {severity, location, time}"]
    reasons = []
    severity = raw.get("severity", "unknown")
    if severity not in INJURY_SEVERITIES:
        reasons.append(f"injury severity is one of {', '.join(INJURY_SEVERITIES)}")
    location = None
    if raw.get("location") is not None:
        location = _location(raw.get("location"))
        if location is None:
            reasons.append("injury location has no coordinates")
        elif not _inside(location):
            reasons.append("injury location is outside the city")
    began, ended = _time(start), _time(end)
    when = _time(raw["time"]) if raw.get("time") is not None else ended
    if raw.get("time") is not None and when is None:
        reasons.append("injury time is not a time")
    elif when and began and ended and not (began - INJURY_WINDOW <= when <= ended + INJURY_WINDOW):
        reasons.append("injury time is not within its trip")
    if reasons or when is None:
        return reasons
    return Injury(occurred_at=when, severity=severity, location=location)


def _write_injuries(
    conn: psycopg.Connection,
    injuries: list[tuple[str, str, Injury]],
    synthetic: bool,
    source: str,
) -> int:
    """Keep the placed injury reports (trip id, operator, report) in scooter_injuries."""
    placed = [(t, o, i) for t, o, i in injuries if i.location is not None]
    if not placed:
        return 0
    frame = gpd.GeoDataFrame(
        {
            "occurred_at": [i.occurred_at for _, _, i in placed],
            "severity": [i.severity for _, _, i in placed],
            "operator": [o for _, o, _ in placed],
            "trip_id": [t for t, _, _ in placed],
            "h3": [
                h3int.int_to_str(h3int.latlng_to_cell(i.location[1], i.location[0], H3_RESOLUTION))
                for _, _, i in placed
                if i.location  # always: placed
            ],
        },
        geometry=shapely.points([i.location for _, _, i in placed]),
        crs=4326,
    )
    return write_layer(
        conn,
        "scooter_injuries",
        frame,
        Provenance(
            source=f"{source}, injury reports",
            licence="CC0-1.0" if synthetic else "as licensed by the operators",
            synthetic=synthetic,
            details={"reports": len(placed)},
        ),
        mode="append",
    )


def injury_cells(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The injury reports by H3 cell and month, each with the crash hotspot of the same cell
    and year where there is one (its rank and crashes): where scooter injuries and road
    crashes gather together."""
    columns = (
        "h3", "month", "reports", "fatal", "serious", "slight", "unknown", "operators",
        "hotspot_rank", "hotspot_crashes",
    )  # fmt: skip
    rows = conn.execute(query("trips/injury_cells")).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


# ---- checking a batch ---------------------------------------------------------------------

_NUMBER = {int, float}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS_RANGE = (-6.0e13, 2.5e14)  # years 68 to 9892: datetime's range, with a margin
_EARTH_M = 6_371_008.8


@dataclass
class TripBatch:
    """Checked trips as columns, one entry per trip, ready for COPY: the checks and the
    formatting of 100 thousand trips run on arrays, not on one object per trip."""

    trip_id: list[str]
    provider_id: list[str]
    provider_name: list[str]
    device_id: list[str]
    start_us: np.ndarray  # int64 microseconds since the epoch (UTC)
    end_us: np.ndarray
    ends: np.ndarray  # (n, 4) origin lon, lat, destination lon, lat
    points: np.ndarray  # (m, 2) lon, lat: every trip's path (its route or its two ends)
    offsets: np.ndarray  # (n + 1) trip i's path is points[offsets[i]:offsets[i + 1]]
    has_route: np.ndarray  # (n) bool
    distance_m: np.ndarray

    def __len__(self) -> int:
        return len(self.trip_id)

    def take(self, keep: np.ndarray) -> TripBatch:
        """The trips at the indices `keep`, in that order."""
        lengths = np.diff(self.offsets)[keep]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        index = np.repeat(self.offsets[:-1][keep] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return TripBatch(
            trip_id=[self.trip_id[i] for i in keep],
            provider_id=[self.provider_id[i] for i in keep],
            provider_name=[self.provider_name[i] for i in keep],
            device_id=[self.device_id[i] for i in keep],
            start_us=self.start_us[keep],
            end_us=self.end_us[keep],
            ends=self.ends[keep],
            points=self.points[index],
            offsets=offsets,
            has_route=self.has_route[keep],
            distance_m=self.distance_m[keep],
        )


def _path_metres(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each path's length: great-circle (haversine) metres between its vertices, summed."""
    if len(points) < 2:
        return np.zeros(len(offsets) - 1)
    lon, lat = np.radians(points[:, 0]), np.radians(points[:, 1])
    h = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    step = 2 * _EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    step = np.append(step, 0.0)
    step[offsets[1:-1] - 1] = 0.0  # no step from one trip's last vertex to the next's first
    total = np.concatenate([[0.0], np.cumsum(step)])
    return total[offsets[1:] - 1] - total[offsets[:-1]]


def _metres_between(ends: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = np.radians(ends.T)
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _none_per_path(flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per path (points[offsets[i]:offsets[i + 1]]): True when none of its points is flagged."""
    counted = np.concatenate([[0], np.cumsum(flags)])
    return counted[offsets[1:]] == counted[offsets[:-1]]


def _route_points(routes: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The routes' points as one (m, 2) array, or None when they are not all [lon, lat]
    lists of numbers alike (then each trip is read on its own)."""
    flat = [p for route in routes for p in route]
    try:
        points = np.array(flat, dtype=float) if flat else np.zeros((0, 2))
    except (ValueError, TypeError):
        return None
    if points.ndim != 2 or points.shape[1] < 2:
        return None
    lengths = np.fromiter(map(len, routes), dtype=np.int64, count=len(routes))
    return points[:, :2], lengths


def check_trips(rows: list[Any]) -> tuple[TripBatch, dict[int, list[str]]]:
    """Check a batch: the trips that pass (in row order) and the reasons of those refused (by
    row index). Rows in MDS's plain shape (text ids, times in ms, {lat, lng} ends, routes of
    [lon, lat]) are checked on arrays; any other row, and any row an array check refuses, is
    read by check_trip, which names the reasons: one rule, two speeds."""
    n = len(rows)
    plain: list[int] = []
    texts: list[tuple[str, str, str, str]] = []
    numbers: list[tuple[float, ...]] = []
    routes: list[Any] = []
    for i, raw in enumerate(rows):
        try:
            tid, s, e = raw["trip_id"], raw["start_time"], raw["end_time"]
            a, b = raw["start_location"], raw["end_location"]
            ax, ay, bx, by = a["lng"], a["lat"], b["lng"], b["lat"]
        except (KeyError, TypeError, IndexError):
            continue
        get = raw.get
        pid, name, device = get("provider_id"), get("provider_name"), get("device_id")
        route = get("route")
        distance = get("distance", get("trip_distance"))
        if (
            type(tid) is not str
            or type(s) not in _NUMBER
            or type(e) not in _NUMBER
            or type(ax) not in _NUMBER
            or type(ay) not in _NUMBER
            or type(bx) not in _NUMBER
            or type(by) not in _NUMBER
            or not (distance is None or type(distance) in _NUMBER)
            or not (pid is None or type(pid) is str)
            or not (name is None or type(name) is str)
            or not (device is None or type(device) is str)
            or not (route is None or (type(route) is list and len(route) <= MAX_ROUTE_POINTS))
        ):
            continue
        plain.append(i)
        texts.append((tid, pid or "", name or "", device or ""))
        numbers.append((s, e, ax, ay, bx, by, math.nan if distance is None else distance))
        routes.append(route or ())
    index = np.array(plain, dtype=np.int64)
    values = np.array(numbers, dtype=float).reshape(-1, 7)
    good = np.isfinite(values[:, :6]).all(axis=1)
    good &= (values[:, :2] > _MS_RANGE[0]).all(axis=1) & (values[:, :2] < _MS_RANGE[1]).all(axis=1)
    good &= np.fromiter((t[0].strip() != "" for t in texts), dtype=bool, count=len(texts))
    for column in range(4):
        length = np.fromiter((len(t[column]) for t in texts), dtype=np.int64, count=len(texts))
        good &= length <= MAX_TEXT
    if any("\x00" in "".join(t) for t in texts):
        good &= np.array(["\x00" not in "".join(t) for t in texts], dtype=bool)
    read = _route_points(routes)
    if read is None:  # some route is unusual: each is read alone, the odd ones by check_trip
        alone = [_route_points([r]) for r in routes]
        good &= np.array([a is not None for a in alone], dtype=bool)
        parts = [a[0] if a is not None else np.zeros((0, 2)) for a in alone]
        read = (
            np.concatenate(parts) if parts else np.zeros((0, 2)),
            np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)),
        )
    route_points, route_len = read
    route_start = np.concatenate([[0], np.cumsum(route_len)]).astype(np.int64)
    good &= _none_per_path(~np.isfinite(route_points).all(axis=1), route_start)
    # paths: the route where it has two points or more, else the two ends
    has_route = route_len >= 2
    ends = values[:, 2:6]
    lengths = np.where(has_route, route_len, 2)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    points = np.empty((int(offsets[-1]), 2))
    routed = np.repeat(has_route, route_len)
    at = np.repeat(offsets[:-1] - route_start[:-1], route_len) + np.arange(len(route_points))
    points[at[routed]] = route_points[routed]
    plain_ends = offsets[:-1][~has_route]
    points[plain_ends] = ends[~has_route, :2]
    points[plain_ends + 1] = ends[~has_route, 2:]
    minx, miny, maxx, maxy = current_extent()  # the loaded districts' (twin.extent)
    inside = (
        (points[:, 0] >= minx) & (points[:, 0] <= maxx)
        & (points[:, 1] >= miny) & (points[:, 1] <= maxy)
    )  # fmt: skip
    inside[~np.isfinite(points).all(axis=1)] = False
    good &= _none_per_path(~inside, offsets)
    for column in (0, 2):
        x, y = ends[:, column], ends[:, column + 1]
        good &= (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    start_us = np.round(np.clip(np.nan_to_num(values[:, 0]), *_MS_RANGE) * 1000)
    end_us = np.round(np.clip(np.nan_to_num(values[:, 1]), *_MS_RANGE) * 1000)
    good &= end_us > start_us
    distance = values[:, 6]
    unreported = ~np.isfinite(distance)
    with np.errstate(invalid="ignore", over="ignore"):
        distance = np.where(unreported, _path_metres(points, offsets), distance)
        distance = np.maximum(distance, 0.0)
        seconds = (end_us - start_us) / 1e6
        kmh = np.maximum(distance, _metres_between(ends)) / np.where(seconds > 0, seconds, 1) * 3.6
    good &= kmh <= SPEED_LIMIT_KMH * SPEED_TOLERANCE
    batch = TripBatch(
        trip_id=[t[0].strip() for t in texts],
        provider_id=[t[1] or t[2] or "unknown" for t in texts],
        provider_name=[t[2] for t in texts],
        device_id=[t[3] for t in texts],
        start_us=start_us.astype(np.int64),
        end_us=end_us.astype(np.int64),
        ends=ends,
        points=points,
        offsets=offsets,
        has_route=has_route,
        distance_m=distance,
    )
    passed = np.flatnonzero(good)
    batch = batch.take(passed)
    fast_rows = index[passed]
    # every other row: check_trip names its reasons (or takes it, when only its shape differs)
    refused: dict[int, list[str]] = {}
    others = np.setdiff1d(np.arange(n), fast_rows, assume_unique=True)
    taken = []
    for i in others.tolist():
        checked = check_trip(rows[i])
        if isinstance(checked, list):
            refused[i] = checked
        else:
            taken.append((i, checked))
    if taken:
        batch = _joined(batch, fast_rows, taken)
    return batch, refused


def _joined(batch: TripBatch, rows: np.ndarray, taken: list[tuple[int, Trip]]) -> TripBatch:
    """The batch with the trips check_trip took, all in row order."""
    lengths = np.array([len(t.path) for _, t in taken], dtype=np.int64)
    extra = TripBatch(
        trip_id=[t.trip_id for _, t in taken],
        provider_id=[t.provider_id for _, t in taken],
        provider_name=[t.provider_name for _, t in taken],
        device_id=[t.device_id for _, t in taken],
        start_us=np.array([(t.start - _EPOCH) // timedelta(microseconds=1) for _, t in taken]),
        end_us=np.array([(t.end - _EPOCH) // timedelta(microseconds=1) for _, t in taken]),
        ends=np.array([(*t.origin, *t.destination) for _, t in taken], dtype=float),
        points=np.array([p for _, t in taken for p in t.path], dtype=float).reshape(-1, 2),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        has_route=np.array([t.has_route for _, t in taken], dtype=bool),
        distance_m=np.array([t.distance_m for _, t in taken], dtype=float),
    )
    both = TripBatch(
        trip_id=batch.trip_id + extra.trip_id,
        provider_id=batch.provider_id + extra.provider_id,
        provider_name=batch.provider_name + extra.provider_name,
        device_id=batch.device_id + extra.device_id,
        start_us=np.concatenate([batch.start_us, extra.start_us]).astype(np.int64),
        end_us=np.concatenate([batch.end_us, extra.end_us]).astype(np.int64),
        ends=np.concatenate([batch.ends.reshape(-1, 4), extra.ends]),
        points=np.concatenate([batch.points.reshape(-1, 2), extra.points]),
        offsets=np.concatenate([batch.offsets[:-1], extra.offsets + batch.offsets[-1]]),
        has_route=np.concatenate([batch.has_route, extra.has_route]),
        distance_m=np.concatenate([batch.distance_m, extra.distance_m]),
    )
    order = np.argsort(np.concatenate([rows, [i for i, _ in taken]]), kind="stable")
    return both.take(order)


# ---- writing ------------------------------------------------------------------------------


def route_cells(path: list[tuple[float, float]]) -> list[int]:
    """The H3 cells (resolution 9) a path passes, in order, gaps between vertices filled."""
    ends = [h3int.latlng_to_cell(lat, lon, H3_RESOLUTION) for lon, lat in path]
    return _filled(ends)


def _filled(
    vertices: list[int], paths: dict[tuple[int, int], list[int]] | None = None
) -> list[int]:
    """The cells of a path's vertices with the cells between them, each once. `paths` keeps
    the cells between two cells met before (trips of a day share their streets' steps)."""
    paths = {} if paths is None else paths
    cells = [vertices[0]]
    for step in itertools.pairwise(vertices):
        a, b = step
        if a == b:
            continue
        between = paths.get(step)
        if between is None:
            try:
                between = h3int.grid_path_cells(a, b)[1:]
            except h3.H3BaseException:  # across a pentagon: the vertex alone
                between = [b]
            paths[step] = between
        cells.extend(between)
    return list(dict.fromkeys(cells))


def _cells_of(lon: np.ndarray, lat: np.ndarray) -> list[int]:
    to_cell = h3int.latlng_to_cell
    return [to_cell(y, x, H3_RESOLUTION) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]


_POINT_EWKB = "0101000020E6100000"  # little-endian, Point with SRID, 4326
_LINE_EWKB = "0102000020E6100000"


def _point_ewkb(coords: np.ndarray) -> list[str]:
    """Points (n, 2) as hex EWKB, the doubles' bytes written once for all of them."""
    text = coords.astype("<f8").tobytes().hex().upper()
    return [_POINT_EWKB + text[i : i + 32] for i in range(0, len(text), 32)]


def _line_ewkb(points: np.ndarray, offsets: np.ndarray) -> list[str]:
    """The paths points[offsets[i]:offsets[i + 1]] as hex EWKB LineStrings."""
    text = points.astype("<f8").tobytes().hex().upper()
    counts = np.diff(offsets).astype("<u4").tobytes().hex().upper()
    bounds = (offsets * 32).tolist()
    return [
        _LINE_EWKB + counts[8 * i : 8 * i + 8] + text[bounds[i] : bounds[i + 1]]
        for i in range(len(bounds) - 1)
    ]


def _times(us: np.ndarray) -> list[str]:
    return np.datetime_as_string(us.astype("datetime64[us]"), unit="us", timezone="UTC").tolist()


def _escaped(texts: list[str]) -> list[str]:
    """Texts for COPY: backslashes, tabs and line ends escaped (looked for once in all)."""
    joined = "".join(texts)
    if not any(c in joined for c in "\\\t\n\r"):
        return texts
    return [t.translate(_ESCAPES) for t in texts]


@dataclass
class TripCells:
    """The H3 cells of a batch's trips: where each starts and ends, and the cells its route
    passes (gaps filled, each once), in trip order."""

    starts: np.ndarray  # int64
    ends: np.ndarray
    routes: list[list[int]]

    @classmethod
    def of(
        cls, batch: TripBatch, paths: dict[tuple[int, int], list[int]] | None = None
    ) -> TripCells:
        """The batch's cells; `paths` (see _filled) shared by the chunks of one batch."""
        paths = {} if paths is None else paths
        vertices = _cells_of(batch.points[:, 0], batch.points[:, 1])
        bounds = batch.offsets.tolist()
        at = np.array(vertices, dtype=np.int64)
        return cls(
            starts=cls._end_cells(batch, at, batch.offsets[:-1], 0),
            ends=cls._end_cells(batch, at, batch.offsets[1:] - 1, 2),
            routes=[_filled(vertices[a:b], paths) for a, b in itertools.pairwise(bounds)],
        )

    @staticmethod
    def _end_cells(
        batch: TripBatch, vertices: np.ndarray, which: np.ndarray, column: int
    ) -> np.ndarray:
        """The cells of the trips' origins (column 0) or destinations (2): the cell of the
        path's first or last vertex where that is the same point (mostly), else its own."""
        cells = vertices[which]
        point = batch.ends[:, column : column + 2]
        other = np.flatnonzero((batch.points[which] != point).any(axis=1))
        if len(other):
            cells[other] = _cells_of(point[other, 0], point[other, 1])
        return cells


def copy_lines(batch: TripBatch, synthetic: bool, cells: TripCells | None = None) -> list[str]:
    """The batch as lines of COPY text for scooter_trips (trips/copy_trips): geometries as
    hex EWKB and H3 cells computed on arrays, the route's cells with the gaps filled."""
    n = len(batch)
    if not n:
        return []
    cells = cells or TripCells.of(batch)
    route_h3 = ["{" + ",".join(map(str, route)) + "}" for route in cells.routes]
    origins = _point_ewkb(batch.ends[:, :2])
    destinations = _point_ewkb(batch.ends[:, 2:])
    routes = ["\\N"] * n
    routed = np.flatnonzero(batch.has_route)
    if len(routed):
        part = batch.take(routed)
        for i, line in zip(routed.tolist(), _line_ewkb(part.points, part.offsets), strict=True):
            routes[i] = line
    durations = ((batch.end_us - batch.start_us) / 1e6).tolist()
    fake = "t" if synthetic else "f"
    return [
        "\t".join(row)
        for row in zip(
            _escaped(batch.trip_id),
            _escaped(batch.provider_id),
            _escaped(batch.provider_name),
            _escaped(batch.device_id),
            _times(batch.start_us),
            _times(batch.end_us),
            origins,
            destinations,
            routes,
            map(repr, batch.distance_m.tolist()),
            map(repr, durations),
            map(str, cells.starts.tolist()),
            map(str, cells.ends.tolist()),
            route_h3,
            itertools.repeat(fake, n),
            strict=False,
        )
    ]


HOUR_US = 3_600_000_000


@dataclass
class HourlyCells:
    """A batch's trips counted by H3 cell and hour, as trip_cells counts them: started there
    (by the start hour), ended there (by the end hour), passed through (by the start hour)."""

    cell: np.ndarray  # int64 H3 cells
    hour: np.ndarray  # int64 hours since the epoch (UTC)
    counts: np.ndarray  # (n, 3) origins, destinations, routes

    def __len__(self) -> int:
        return len(self.cell)

    @classmethod
    def count(cls, start_us: np.ndarray, end_us: np.ndarray, cells: TripCells) -> HourlyCells:
        start_hour, end_hour = start_us // HOUR_US, end_us // HOUR_US
        lengths = np.fromiter(map(len, cells.routes), dtype=np.int64, count=len(cells.routes))
        route = np.fromiter(
            itertools.chain.from_iterable(cells.routes), dtype=np.int64, count=int(lengths.sum())
        )
        cell = np.concatenate([cells.starts, cells.ends, route])
        if not len(cell):
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64))
        hour = np.concatenate([start_hour, end_hour, np.repeat(start_hour, lengths)])
        kind = np.repeat([0, 1, 2], [len(start_hour), len(end_hour), len(route)])
        which, distinct = pd.factorize(cell)  # hashed, not sorted: one pass over the cells
        first = int(hour.min())
        span = int(hour.max()) - first + 1
        at, keys = pd.factorize(which * span + (hour - first))
        counts = np.bincount(at * 3 + kind, minlength=3 * len(keys)).reshape(-1, 3)
        return cls(distinct[keys // span], keys % span + first, counts)


def ingest_trips(
    conn: psycopg.Connection,
    rows: Iterable[Any],
    *,
    accept_valid: bool = False,
    synthetic: bool = False,
    source: str = "MDS Provider trips",
) -> TripReport:
    """Check and write trips in one transaction; TripsRefused (nothing written) when a row is
    refused and not `accept_valid`. Recomputes trip_cells for the hours the trips touch."""
    rows = rows if isinstance(rows, list) else list(rows)
    report = TripReport(received=len(rows))
    if not rows:
        raise InvalidParameter("no trips in the input")
    batch, refused = check_trips(rows)
    trips_refused = set(refused)  # the others are in the batch, in row order
    injuries: dict[int, Injury] = {}
    for i, raw in enumerate(rows):
        if isinstance(raw, dict) and raw.get("injury") is not None:
            injury = check_injury(raw["injury"], raw.get("start_time"), raw.get("end_time"))
            if isinstance(injury, list):
                refused[i] = [*refused.get(i, []), *injury]
            else:
                injuries[i] = injury
    keep: list[int] = []
    seen: dict[str, int] = {}
    reported: dict[int, Injury] = {}  # by index in the batch
    passed = iter(range(len(batch)))
    for number, raw in enumerate(rows, 1):
        if number - 1 in refused and number - 1 not in trips_refused:
            next(passed)  # a good trip with a bad injury report: refused with its report
        reasons = refused.get(number - 1)
        if reasons is not None:
            report.refused += 1  # the report's refuse(), inlined: one call a row is too many
            report.reasons.update(reasons)
            if len(report.rows) < SHOWN_REJECTED:
                trip_id = raw.get("trip_id") if isinstance(raw, dict) else None
                report.rows.append({"row": number, "trip_id": trip_id, "reasons": reasons})
            continue
        at = next(passed)
        trip_id = batch.trip_id[at]
        if trip_id in seen:
            report.refuse(number, trip_id, [f"duplicate trip_id (row {seen[trip_id]})"])
            continue
        seen[trip_id] = number
        if number - 1 in injuries:
            reported[len(keep)] = injuries[number - 1]
        keep.append(at)
    if report.refused and not accept_valid:
        raise TripsRefused(report)
    if len(keep) < len(batch):
        batch = batch.take(np.array(keep, dtype=np.int64))
    try:
        _write(conn, report, batch, seen, accept_valid, synthetic, source, reported)
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            "another batch stored some of these trips meanwhile; nothing was written: send "
            "the batch again (the stored ones are then listed)"
        ) from None
    LOG.info(
        "trips ingested",
        extra={"fields": {"written": report.written, "refused": report.refused}},
    )
    return report


def _moment(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _write(
    conn: psycopg.Connection,
    report: TripReport,
    batch: TripBatch,
    seen: dict[str, int],
    accept_valid: bool,
    synthetic: bool,
    source: str,
    injuries: dict[int, Injury],
) -> None:
    """The checked trips not stored yet, written with their cells and injury reports (one
    transaction)."""
    with conn.transaction():
        if len(batch):
            first_us, last_us = int(batch.start_us.min()), int(batch.start_us.max())
            spans = {
                "from": _moment(first_us) - DAY,
                "to": _moment(last_us) + DAY,
                "ids": orjson.dumps(list(seen)).decode(),
            }
            stored = {r[0] for r in conn.execute(query("trips/stored_ids"), spans)}
            if stored:
                for trip_id in batch.trip_id:
                    if trip_id in stored:
                        report.refuse(seen[trip_id], trip_id, ["trip_id already stored"])
                if not accept_valid:
                    raise TripsRefused(report)  # the transaction rolls back: nothing written
                fresh = [i for i, t in enumerate(batch.trip_id) if t not in stored]
                batch = batch.take(np.array(fresh, dtype=np.int64))
                injuries = {new: injuries[old] for new, old in enumerate(fresh) if old in injuries}
        if len(batch):
            days = np.unique(batch.start_us // 86_400_000_000).tolist()
            dates = [(_EPOCH + timedelta(days=d)).date() for d in days]
            conn.execute(query("trips/make_partitions"), {"days": dates}).fetchall()
            cursor = conn.cursor()
            routes: list[list[int]] = []
            paths: dict[tuple[int, int], list[int]] = {}  # steps met before
            starts: list[np.ndarray] = []
            ends: list[np.ndarray] = []
            # a thread sends each chunk: the server stores it while the next is formatted
            with cursor.copy(query("trips/copy_trips"), writer=QueuedLibpqWriter(cursor)) as copy:
                for start in range(0, len(batch), COPY_CHUNK):
                    chunk = batch.take(np.arange(start, min(start + COPY_CHUNK, len(batch))))
                    cells = TripCells.of(chunk, paths)
                    copy.write("\n".join(copy_lines(chunk, synthetic, cells)) + "\n")
                    starts.append(cells.starts)
                    ends.append(cells.ends)
                    routes += cells.routes
                # counted while the server stores the last chunks
                hourly = HourlyCells.count(
                    batch.start_us,
                    batch.end_us,
                    TripCells(np.concatenate(starts), np.concatenate(ends), routes),
                )
            report.cells = add_trip_cells(conn, hourly, synthetic=synthetic, source=source)
            first, last = int(batch.start_us.min()), int(batch.end_us.max())
            report.hours = int(last // HOUR_US - first // HOUR_US + 1)
            kept = [(batch.trip_id[i], batch.provider_name[i], j) for i, j in injuries.items()]
            report.injuries = _write_injuries(conn, kept, synthetic, source)
            report.injuries_without_place = sum(1 for j in injuries.values() if not j.location)
        report.written = len(batch)


def cell_polygons(cells: Iterable[int]) -> dict[int, str]:
    """Each H3 cell's hexagon as hex EWKB (SRID 4326)."""
    cells = list(cells)
    rings = [[(lng, lat) for lat, lng in h3int.cell_to_boundary(c)] for c in cells]
    polygons = shapely.set_srid(shapely.polygons(rings), 4326) if rings else []
    return dict(zip(cells, shapely.to_wkb(polygons, hex=True, include_srid=True)))


def add_trip_cells(
    conn: psycopg.Connection,
    hourly: HourlyCells,
    *,
    synthetic: bool = False,
    source: str = "MDS Provider trips",
) -> int:
    """Add a batch's counts to trip_cells: a (cell, hour) stored already gets them added, a new
    one is written with its hexagon. The stored trips are not recounted, so a batch costs its
    own cells, not its hours'. Returns the rows added to or written."""
    if not len(hourly):
        return 0
    conn.execute(query("trips/lock_cells"))  # two batches adding to one (cell, hour) wait
    bounds = {
        "from": _moment(int(hourly.hour.min()) * HOUR_US),
        "to": _moment((int(hourly.hour.max()) + 1) * HOUR_US),
    }
    stored = {
        (h3int.str_to_int(h3), int(hour.timestamp()) // 3600): id_
        for id_, h3, hour in conn.execute(query("trips/stored_cells"), bounds)
    }
    cells, hours = hourly.cell.tolist(), hourly.hour.tolist()
    ids = [stored.get(key) for key in zip(cells, hours, strict=True)] if stored else []
    old = np.array([i is not None for i in ids], dtype=bool) if stored else np.zeros(0, bool)
    if old.any():
        counts = hourly.counts[old].T.tolist()
        conn.execute(
            query("trips/add_to_cells"),
            {
                "ids": [i for i in ids if i is not None],
                "origins": counts[0],
                "destinations": counts[1],
                "routes": counts[2],
                "synthetic": synthetic,
            },
        )
    new = np.flatnonzero(~old) if old.any() else np.arange(len(hourly))
    if len(new):
        names = {c: h3int.int_to_str(c) for c in set(hourly.cell[new].tolist())}
        shapes = cell_polygons(names)
        times = _times(hourly.hour[new] * HOUR_US)
        fake = "t" if synthetic else "f"
        lines = [
            f"{names[c]}\t{t}\t{o}\t{d}\t{r}\t{fake}\t{shapes[c]}"
            for c, t, (o, d, r) in zip(
                hourly.cell[new].tolist(), times, hourly.counts[new].tolist(), strict=True
            )
        ]
        with conn.cursor().copy(query("trips/copy_cells")) as copy:
            copy.write("\n".join(lines) + "\n")
    _record_cells(conn, synthetic, source)
    return len(hourly)


def _record_cells(conn: psycopg.Connection, synthetic: bool, source: str) -> None:
    record_provenance(
        conn,
        "trip_cells",
        Provenance(
            source=f"{source}, aggregated by twin/scooters/trips.py",
            licence="CC0-1.0" if synthetic else "as licensed by the operators",
            synthetic=synthetic,
            details={"h3_resolution": H3_RESOLUTION},
        ),
    )


def refresh_trip_cells(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    synthetic: bool = False,
    source: str = "MDS Provider trips",
) -> tuple[int, int]:
    """Recount trip_cells for the hours in [start, end) from the stored trips (after trips are
    removed: the ingest only adds); returns (hours, rows written)."""
    bounds = {"from": start, "to": end}
    conn.execute(query("trips/lock_cells"))  # no batch adds to these hours meanwhile
    rows = conn.execute(query("trips/hourly_cells"), bounds).fetchall()
    shapes = cell_polygons({r[0] for r in rows})
    conn.execute(query("trips/forget_cells"), bounds)
    with conn.cursor().copy(query("trips/copy_cells")) as copy:
        for cell, hour, origins, destinations, routes, fake in rows:
            copy.write_row(
                (h3int.int_to_str(cell), hour, origins, destinations, routes, fake, shapes[cell])
            )
    _record_cells(conn, synthetic, source)
    return int((end - start).total_seconds() // 3600), len(rows)


# ---- reading the day ----------------------------------------------------------------------


def day_bounds(day: str | None) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day given as YYYY-MM-DD (today when None)."""
    try:
        first = (
            datetime.fromisoformat(day).replace(tzinfo=UTC)
            if day
            else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        )
    except ValueError:
        raise InvalidParameter(f"date must be YYYY-MM-DD, not {day[:40]!r}") from None
    first = first.replace(hour=0, minute=0, second=0, microsecond=0)
    return first, first + timedelta(days=1)


def day_summary(conn: psycopg.Connection, day: str | None) -> dict[str, Any]:
    """A day's trips by hour and operator, and the 15 key sections' flows by hour."""
    start, end = day_bounds(day)
    bounds = {"from": start, "to": end}
    hours: dict[str, dict[str, Any]] = {}
    synthetic = False
    for hour, operator, n, distance, duration, fake in conn.execute(
        query("trips/day_summary"), bounds
    ):
        entry = hours.setdefault(hour.isoformat(), {"hour": hour.isoformat(), "trips": 0})
        entry["trips"] += n
        entry.setdefault("operators", {})[operator or "unknown"] = {
            "trips": n,
            "mean_km": round(distance / 1000, 2),
            "mean_min": round(duration / 60, 1),
        }
        synthetic = synthetic or fake
    total = sum(h["trips"] for h in hours.values())
    return {
        "date": start.date().isoformat(),
        "trips": total,
        "synthetic": synthetic,
        "hours": list(hours.values()),
        "key_sections": key_section_flows(conn, start, end),
    }


def key_section_flows(
    conn: psycopg.Connection, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Each key section (scooter_zones kind key_section) with its trips by hour (started,
    ended and passing through) and, where polled, the scooters standing in it."""
    sections = {
        zid: {"id": zid, "name": name, "district": district, "hours": []}
        for zid, name, district in conn.execute(query("trips/key_sections"))
    }
    hours: dict[tuple[int, str], dict[str, Any]] = {}
    for zid, _, _, hour, starts, ends, through in conn.execute(
        query("trips/key_section_flows"), {"from": start, "to": end}
    ):
        hours[(zid, hour.isoformat())] = {"starts": starts, "ends": ends, "through": through}
    for zid, hour, vehicles, outside in conn.execute(
        query("trips/key_section_occupancy"), {"from": start, "to": end}
    ):
        if zid in sections:  # H7's occupancy of the hour beside its trips
            entry = hours.setdefault(
                (zid, hour.isoformat()), {"starts": 0, "ends": 0, "through": 0}
            )
            entry["standing"] = round(vehicles, 1) if vehicles is not None else None
            entry["outside_parking"] = round(outside, 1) if outside is not None else None
    for (zid, hour), entry in sorted(hours.items()):
        sections[zid]["hours"].append({"hour": hour, **entry})
    for section in sections.values():
        section["trips"] = sum(h["through"] for h in section["hours"])
    return list(sections.values())


# ---- the command --------------------------------------------------------------------------


@click.command("import-trips")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--accept-valid",
    is_flag=True,
    help="Write the good trips and list the refused ones (default: one bad row refuses all).",
)
def import_trips_command(path: Path, accept_valid: bool) -> None:
    """Import MDS Provider trips (JSON, NDJSON or CSV) into scooter_trips and trip_cells."""
    from twin.db.pool import connect

    rows = read_trips(path.read_bytes(), path.name)
    with connect() as conn:
        try:
            report = ingest_trips(conn, rows, accept_valid=accept_valid, source=path.name)
        except TripsRefused as exc:
            _echo_refused(exc.report)
            raise
        conn.commit()
    _echo_refused(report)
    click.echo(
        f"imported {report.written:,} trips from {path.name} "
        f"({report.refused:,} refused); trip_cells: {report.cells:,} rows in "
        f"{report.hours} hours"
    )


def _echo_refused(report: TripReport) -> None:
    if not report.refused:
        return
    click.echo(f"refused {report.refused:,} of {report.received:,} trips:", err=True)
    for reason, n in report.reasons.most_common():
        click.echo(f"  {n:>7,}  {reason}", err=True)
    for row in report.rows:
        click.echo(f"  row {row['row']} ({row['trip_id']}): {'; '.join(row['reasons'])}", err=True)

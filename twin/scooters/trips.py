"""Scooter trips in bulk: MDS Provider trips in, hourly H3 aggregates and key-section flows out.

The city's single operator and its partners report up to 100 thousand trips a day (S1). A
file or request of trips (MDS 2.0 `trips`: JSON, NDJSON or CSV) is checked row by row before
anything is written: a trip outside the city, faster than the 25 km/h scooter limit allows
(with a tolerance for GPS noise), ending before it starts, or already known (twice in the file
or stored) is refused with its reason. By default one bad row refuses the whole batch and
nothing is written (the report lists the reasons and the first rows); `accept_valid` writes
the good rows and still lists the refused ones. Good rows are streamed with COPY into a day
partition of `scooter_trips` (migration 0015), and the hourly H3 cells (layer trip_cells) of
the hours they touch are recomputed in the same transaction.
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
import h3
import orjson
import psycopg
import shapely
from h3.api import basic_int as h3int

from twin.catalog import CITY_BBOX
from twin.errors import Conflict, ImportFailed, InvalidParameter
from twin.sqlfiles import query
from twin.store import Provenance, record_provenance

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
    minx, miny, maxx, maxy = CITY_BBOX
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


# ---- writing ------------------------------------------------------------------------------


def route_cells(path: list[tuple[float, float]]) -> list[int]:
    """The H3 cells (resolution 9) a path passes, in order, gaps between vertices filled."""
    ends = [h3int.latlng_to_cell(lat, lon, H3_RESOLUTION) for lon, lat in path]
    cells = [ends[0]]
    for a, b in itertools.pairwise(ends):
        if a == b:
            continue
        try:
            cells.extend(h3int.grid_path_cells(a, b)[1:])
        except h3.H3BaseException:  # across a pentagon: the vertex alone
            cells.append(b)
    return list(dict.fromkeys(cells))


def _point(p: tuple[float, float]) -> str:
    return f"SRID=4326;POINT({p[0]!r} {p[1]!r})"


def _copy_line(trip: Trip, synthetic: bool) -> str:
    cells = route_cells(trip.path)
    route = (
        "SRID=4326;LINESTRING(" + ",".join(f"{x!r} {y!r}" for x, y in trip.path) + ")"
        if trip.has_route
        else "\\N"
    )
    return "\t".join(
        (
            trip.trip_id.translate(_ESCAPES),
            trip.provider_id.translate(_ESCAPES),
            trip.provider_name.translate(_ESCAPES),
            trip.device_id.translate(_ESCAPES),
            trip.start.isoformat(),
            trip.end.isoformat(),
            _point(trip.origin),
            _point(trip.destination),
            route,
            repr(trip.distance_m),
            repr(trip.duration_s),
            str(h3int.latlng_to_cell(trip.origin[1], trip.origin[0], H3_RESOLUTION)),
            str(h3int.latlng_to_cell(trip.destination[1], trip.destination[0], H3_RESOLUTION)),
            "{" + ",".join(map(str, cells)) + "}",
            "t" if synthetic else "f",
        )
    )


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
    report = TripReport()
    good: list[Trip] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, 1):
        report.received += 1
        checked = check_trip(raw)
        if isinstance(checked, list):
            report.refuse(number, raw.get("trip_id") if isinstance(raw, dict) else None, checked)
            continue
        if checked.trip_id in seen:
            report.refuse(
                number, checked.trip_id, [f"duplicate trip_id (row {seen[checked.trip_id]})"]
            )
            continue
        seen[checked.trip_id] = number
        good.append(checked)
    if report.received == 0:
        raise InvalidParameter("no trips in the input")
    if report.refused and not accept_valid:
        raise TripsRefused(report)
    try:
        _write(conn, report, good, seen, accept_valid, synthetic, source)
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


def _write(
    conn: psycopg.Connection,
    report: TripReport,
    good: list[Trip],
    seen: dict[str, int],
    accept_valid: bool,
    synthetic: bool,
    source: str,
) -> None:
    """The checked trips not stored yet, written with their cells (one transaction)."""
    with conn.transaction():
        if good:
            starts = [t.start for t in good]
            spans = {"from": min(starts) - DAY, "to": max(starts) + DAY, "ids": list(seen)}
            found = conn.execute(query("trips/stored_ids"), spans)
            stored = {r[0] for r in found}
            for trip in good:
                if trip.trip_id in stored:
                    report.refuse(seen[trip.trip_id], trip.trip_id, ["trip_id already stored"])
            if stored and not accept_valid:
                raise TripsRefused(report)  # the transaction rolls back: nothing written
            good = [t for t in good if t.trip_id not in stored]
        if good:
            days = sorted({t.start.astimezone(UTC).date() for t in good})
            conn.execute(query("trips/make_partitions"), {"days": days}).fetchall()
            with conn.cursor().copy(query("trips/copy_trips")) as copy:
                for start in range(0, len(good), COPY_CHUNK):  # the server stores a chunk
                    chunk = good[start : start + COPY_CHUNK]  # while the next is formatted
                    copy.write("\n".join(_copy_line(t, synthetic) for t in chunk) + "\n")
            first = min(t.start for t in good).replace(minute=0, second=0, microsecond=0)
            last = max(t.end for t in good).replace(minute=0, second=0, microsecond=0)
            report.hours, report.cells = refresh_trip_cells(
                conn, first, last + timedelta(hours=1), synthetic=synthetic, source=source
            )
        report.written = len(good)


def cell_polygons(cells: Iterable[int]) -> dict[int, str]:
    """Each H3 cell's hexagon as hex EWKB (SRID 4326)."""
    cells = list(cells)
    rings = [[(lng, lat) for lat, lng in h3int.cell_to_boundary(c)] for c in cells]
    polygons = shapely.set_srid(shapely.polygons(rings), 4326) if rings else []
    return dict(zip(cells, shapely.to_wkb(polygons, hex=True, include_srid=True)))


def refresh_trip_cells(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    *,
    synthetic: bool = False,
    source: str = "MDS Provider trips",
) -> tuple[int, int]:
    """Recompute trip_cells for the hours in [start, end); returns (hours, rows written)."""
    bounds = {"from": start, "to": end}
    rows = conn.execute(query("trips/hourly_cells"), bounds).fetchall()
    shapes = cell_polygons({r[0] for r in rows})
    conn.execute(query("trips/forget_cells"), bounds)
    with conn.cursor().copy(query("trips/copy_cells")) as copy:
        for cell, hour, origins, destinations, routes, fake in rows:
            copy.write_row(
                (h3int.int_to_str(cell), hour, origins, destinations, routes, fake, shapes[cell])
            )
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

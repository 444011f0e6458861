"""One poll of an operator's GBFS feeds into the twin: checked, placed, stored in one transaction.

A poll's documents (fetched by twin.scooters.poller, or made by the demo simulator) are read
and checked first (twin.scooters.gbfs); a refused poll writes only its outcome row, with the
reason and the problems listed. An accepted one, in one transaction:
- its vehicles are placed: the scooter parking spot within PARKING_RADIUS_M (else "left
  outside parking"), the scooter zone and the district each stands in;
- they are COPied, with the H3 cell each stands in, into the day's partition of
  scooter_positions (kept TWIN_SCOOTERS_RAW_DAYS, twin.scooters.retention), and become the
  operator's rows of scooter_latest;
- the operator's vehicle types, station status and own geofencing zones replace its previous;
- the hour's sums (scooter_hourly) grow by the poll's counts, and the hour's rows of the layers
  parking_disorder and key_section_occupancy are written again from them;
- the outcome row says "stored" with the vehicle count.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3.api.basic_int as h3int
import numpy as np
import orjson
import psycopg
import shapely
from scipy.spatial import cKDTree

from twin.errors import NotFound
from twin.scooters.gbfs import (
    FeedRejected,
    Vehicles,
    read_document,
    read_station_status,
    read_stations,
    read_vehicle_types,
    read_vehicles,
    read_zones,
)
from twin.scooters.trips import H3_RESOLUTION  # the trips' cells: ~0.1 km²
from twin.sqlfiles import query

LOG = logging.getLogger("twin.scooters.ingest")

PARKING_RADIUS_M = 25.0  # a scooter within 25 m of a parking spot stands at it (our choice)
CITY_MARGIN_DEG = 0.02  # positions up to ~2 km beyond the districts' extent are the city's
METRES_PER_DEG_LAT = 110_574.0
METRES_PER_DEG_LON = 111_320.0


@dataclass
class CityFrame:
    """What positions are placed against, read once per poll (a few hundred rows)."""

    extent: tuple[float, float, float, float]
    parking_ids: np.ndarray
    parking_tree: cKDTree | None
    cos_lat: float
    zone_ids: np.ndarray
    zone_tree: shapely.STRtree
    district_names: list[str]
    district_tree: shapely.STRtree

    def metres(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        return np.column_stack((lon * METRES_PER_DEG_LON * self.cos_lat, lat * METRES_PER_DEG_LAT))


def city_frame(conn: psycopg.Connection) -> CityFrame:
    """The parking spots, zones and districts of the twin now."""
    rows = conn.execute(query("scooters/reference")).fetchall()
    districts = [(r[1], shapely.from_wkb(r[4]), r[5]) for r in rows if r[0] == "district"]
    if not districts:
        raise NotFound("no districts: load the city (e.g. `twin load demo`) before scooters")
    shapes = [d[1] for d in districts]
    west, south, east, north = shapely.total_bounds(shapes)
    cos_lat = float(np.cos(np.radians((south + north) / 2)))
    parking = [(r[1], r[2], r[3]) for r in rows if r[0] == "parking"]
    zones = [(r[1], shapely.from_wkb(r[4])) for r in rows if r[0] == "zone"]
    frame = CityFrame(
        extent=(
            west - CITY_MARGIN_DEG,
            south - CITY_MARGIN_DEG,
            east + CITY_MARGIN_DEG,
            north + CITY_MARGIN_DEG,
        ),
        parking_ids=np.array([p[0] for p in parking], dtype=np.int64),
        parking_tree=None,
        cos_lat=cos_lat,
        zone_ids=np.array([z[0] for z in zones], dtype=np.int64),
        zone_tree=shapely.STRtree([z[1] for z in zones]),
        district_names=[d[2] for d in districts],
        district_tree=shapely.STRtree(shapes),
    )
    if parking:
        xy = frame.metres(np.array([p[1] for p in parking]), np.array([p[2] for p in parking]))
        frame.parking_tree = cKDTree(xy)
    return frame


@dataclass
class Placed:
    """Where each vehicle stands: parking spot id (0: outside), zone id (0: none), district."""

    parking: np.ndarray
    zone: np.ndarray
    district: list[str | None]


def place(city: CityFrame, vehicles: Vehicles) -> Placed:
    n = len(vehicles)
    parking = np.zeros(n, dtype=np.int64)
    if city.parking_tree is not None and n:
        distance, nearest = city.parking_tree.query(
            city.metres(vehicles.lon, vehicles.lat), distance_upper_bound=PARKING_RADIUS_M
        )
        near = np.isfinite(distance)
        parking[near] = city.parking_ids[nearest[near]]
    points = shapely.points(vehicles.lon, vehicles.lat)
    zone = np.zeros(n, dtype=np.int64)
    inside, which = city.zone_tree.query(points, predicate="within")
    zone[inside] = city.zone_ids[which]  # overlapping zones: the last listed wins
    district: list[str | None] = [None] * n
    inside, which = city.district_tree.query(points, predicate="within")
    for i, d in zip(inside.tolist(), which.tolist(), strict=True):
        district[i] = city.district_names[d]
    return Placed(parking, zone, district)


def _copy_text(operator: str, polled_at: datetime, vehicles: Vehicles, placed: Placed) -> bytes:
    """The poll's rows as COPY text (geometry as hex EWKB, made for all rows at once)."""
    points = shapely.set_srid(shapely.points(vehicles.lon, vehicles.lat), 4326)
    wkb = shapely.to_wkb(points, hex=True, include_srid=True)
    when = polled_at.isoformat()
    cells = [
        h3int.latlng_to_cell(y, x, H3_RESOLUTION)
        for x, y in zip(vehicles.lon.tolist(), vehicles.lat.tolist(), strict=True)
    ]
    out = io.StringIO()

    def text(value: str | None) -> str:
        if value is None:
            return "\\N"
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    op = text(operator)
    for i in range(len(vehicles)):
        out.write(
            "\t".join(
                (
                    op,
                    text(vehicles.ids[i]),
                    when,
                    wkb[i],
                    text(vehicles.vehicle_type[i]),
                    "t" if vehicles.is_reserved[i] else "f",
                    "t" if vehicles.is_disabled[i] else "f",
                    text(vehicles.station_id[i]),
                    str(placed.parking[i]) if placed.parking[i] else "\\N",
                    str(placed.zone[i]) if placed.zone[i] else "\\N",
                    text(placed.district[i]),
                    str(cells[i]),
                )
            )
        )
        out.write("\n")
    return out.getvalue().encode()


@dataclass
class PollOutcome:
    """What became of one poll (the row of scooter_polls)."""

    operator: str
    polled_at: datetime
    outcome: str  # stored, rejected, unreachable
    reason: str | None = None
    problems: list[str] | None = None
    count: int = 0  # how many problems (the list keeps the first ones)
    vehicles: int = 0
    stations: int = 0
    duration_ms: float = 0.0
    ttl: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "polled_at": self.polled_at.isoformat(),
            "outcome": self.outcome,
            "reason": self.reason,
            "problems": self.problems or [],
            "problem_count": self.count,
            "vehicles": self.vehicles,
            "stations": self.stations,
            "duration_ms": round(self.duration_ms, 1),
        }


def record(conn: psycopg.Connection, outcome: PollOutcome) -> None:
    details = {"problems": outcome.problems or [], "count": outcome.count}
    conn.execute(
        query("scooters/record_poll"),
        {
            "operator": outcome.operator,
            "polled_at": outcome.polled_at,
            "outcome": outcome.outcome,
            "reason": outcome.reason,
            "details": orjson.dumps(details).decode(),
            "vehicles": outcome.vehicles,
            "stations": outcome.stations,
            "duration_ms": outcome.duration_ms,
        },
    )


@dataclass
class Checked:
    """A poll's documents, read and checked: ready to be written."""

    vehicles: Vehicles
    ttl: int
    types: list[dict[str, Any]] | None
    stations: list[dict[str, Any]] | None
    zones: list[dict[str, Any]] | None


def check(raw: dict[str, bytes], now: datetime, city: CityFrame) -> Checked:
    """Every document of the poll read and checked (FeedRejected on the first problem)."""
    docs = {feed: read_document(body, feed, now) for feed, body in raw.items()}
    if "vehicle_status" not in docs:
        raise FeedRejected("schema_invalid", ["the poll has no vehicle_status"])
    stations = read_stations(docs["station_information"]) if "station_information" in docs else {}
    vehicles = read_vehicles(docs["vehicle_status"], stations, city.extent)
    return Checked(
        vehicles=vehicles,
        ttl=int(docs["vehicle_status"]["ttl"]),
        types=read_vehicle_types(docs["vehicle_types"]) if "vehicle_types" in docs else None,
        stations=read_station_status(docs["station_status"]) if "station_status" in docs else None,
        zones=read_zones(docs["geofencing_zones"]) if "geofencing_zones" in docs else None,
    )


def _replace(
    conn: psycopg.Connection, name: str, operator: str, rows: list[dict[str, Any]], **extra: Any
) -> None:
    conn.execute(query(f"scooters/replace_{name}"), {"operator": operator})
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                query(f"scooters/insert_{name[:-1]}"),
                [{"operator": operator, **extra, **row} for row in rows],
            )


def ingest(
    conn: psycopg.Connection,
    operator: str,
    raw: dict[str, bytes],
    polled_at: datetime,
    city: CityFrame | None = None,
) -> PollOutcome:
    """Check and store one poll of `operator` (raw documents by feed name, "gbfs" included or
    not); the outcome is recorded either way and returned. `polled_at` is the poll's time."""
    started = time.perf_counter()
    city = city or city_frame(conn)
    try:
        checked = check(raw, polled_at, city)
    except FeedRejected as refused:
        outcome = PollOutcome(
            operator,
            polled_at,
            "rejected",
            refused.reason,
            refused.problems,
            refused.count,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        record(conn, outcome)
        LOG.warning(
            "scooter feed refused",
            extra={"fields": {"operator": operator, "reason": refused.reason}},
        )
        return outcome
    placed = place(city, checked.vehicles)
    args = {"operator": operator, "polled_at": polled_at}
    with conn.transaction():
        conn.execute(query("scooters/partition"), {"day": polled_at.date()})
        rows = _copy_text(operator, polled_at, checked.vehicles, placed)
        with conn.cursor().copy(query("scooters/copy_positions")) as copy:
            copy.write(rows)
        conn.execute(query("scooters/forget_latest"), args)
        with conn.cursor().copy(query("scooters/copy_latest")) as copy:
            copy.write(rows)
        if checked.types is not None:
            _replace(conn, "types", operator, checked.types)
        if checked.stations is not None:
            _replace(conn, "stations", operator, checked.stations, polled_at=polled_at)
        if checked.zones is not None:
            _replace(conn, "zones", operator, checked.zones)
        conn.execute(query("scooters/add_hourly"), args)
        conn.execute(query("scooters/publish_hour"), args)
        outcome = PollOutcome(
            operator,
            polled_at,
            "stored",
            vehicles=len(checked.vehicles),
            stations=len(checked.stations or []),
            duration_ms=(time.perf_counter() - started) * 1000,
            ttl=checked.ttl,
        )
        record(conn, outcome)
    return outcome

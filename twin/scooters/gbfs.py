"""Reading an operator's GBFS v3.0 documents: what the twin accepts, and why it refuses the rest.

Every document is checked before anything is written (docs/scooters.md lists the rules):
- it parses as JSON (else `broken_json`) and is no larger than MAX_DOCUMENT_BYTES (`too_large`);
- its envelope is GBFS 3.0's: `last_updated` an RFC 3339 time, `ttl` a non-negative integer,
  `version` "3.0", `data` an object (else `schema_invalid`);
- it is fresh: `last_updated` no older than ttl x STALE_FACTOR (at least STALE_FLOOR_S) before
  the poll (else `stale`), and not in the future beyond FUTURE_TOLERANCE_S;
- vehicle_status: every vehicle has a string `vehicle_id`, booleans `is_reserved` and
  `is_disabled`, and either numbers `lat`/`lon` or a `station_id` (`schema_invalid`); no
  vehicle id twice (`duplicate_vehicle`); every position inside the city's extent with a
  margin (`outside_city`).
These are the fields of the published JSON schemas (/work/shared/specs/gbfs-3.0) the twin reads,
checked by hand rather than by a JSON-schema validator: a validator takes about a second per
15,000 vehicles, the checks here a few milliseconds, and the tests validate the simulator's and
the twin's own documents against the schemas themselves. A problem of any kind refuses the
whole poll: nothing of it is written, and the outcome lists the problems (`FeedRejected`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

VERSION = "3.0"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
STALE_FACTOR = 3.0  # a document older than ttl x 3 before the poll is stale
STALE_FLOOR_S = 60.0  # ... and never stale within its first minute (ttl 0: always refresh)
FUTURE_TOLERANCE_S = 300.0  # operators' clocks drift: last_updated may lead ours by 5 min
MAX_LISTED = 10  # problems listed per refusal (the count says how many there were)
# The feeds the twin reads from an operator's gbfs.json, in the order it fetches them.
READ_FEEDS = (
    "system_information",
    "vehicle_types",
    "station_information",
    "station_status",
    "vehicle_status",
    "geofencing_zones",
)


@dataclass
class FeedRejected(Exception):
    """A poll refused: one reason (broken_json, schema_invalid, stale, outside_city,
    duplicate_vehicle, too_large, unreachable) and the problems found, listed."""

    reason: str
    problems: list[str] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self.count = self.count or len(self.problems)
        self.problems = self.problems[:MAX_LISTED]
        super().__init__(f"{self.reason}: {'; '.join(self.problems)}")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def read_document(raw: bytes, feed: str, now: datetime) -> dict[str, Any]:
    """One GBFS document, parsed and its envelope checked (fresh, version 3.0)."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise FeedRejected("too_large", [f"{feed}: {len(raw)} bytes"])
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FeedRejected("broken_json", [f"{feed}: {exc}"]) from None
    if not isinstance(document, dict):
        raise FeedRejected("schema_invalid", [f"{feed}: not a JSON object"])
    problems = []
    updated = _time(document.get("last_updated"))
    ttl = document.get("ttl")
    if updated is None:
        problems.append(f"{feed}.last_updated: not an RFC 3339 time with offset")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        problems.append(f"{feed}.ttl: not a non-negative integer")
    if document.get("version") != VERSION:
        problems.append(f"{feed}.version: {document.get('version')!r}, not {VERSION!r}")
    if not isinstance(document.get("data"), dict):
        problems.append(f"{feed}.data: not an object")
    if problems:
        raise FeedRejected("schema_invalid", problems)
    age = (now - updated).total_seconds()
    if age > max(ttl * STALE_FACTOR, STALE_FLOOR_S):
        raise FeedRejected(
            "stale",
            [f"{feed}: last_updated {updated.isoformat()} is {age:.0f} s old (ttl {ttl} s)"],
        )
    if age < -FUTURE_TOLERANCE_S:
        raise FeedRejected(
            "stale", [f"{feed}: last_updated {updated.isoformat()} is {-age:.0f} s ahead"]
        )
    return document


def feed_urls(discovery: dict[str, Any]) -> dict[str, str]:
    """The feeds a gbfs.json lists, by name (it must list vehicle_status or station_status)."""
    feeds = discovery["data"].get("feeds")
    if not isinstance(feeds, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("url"), str)
        for f in feeds
    ):
        raise FeedRejected("schema_invalid", ["gbfs.data.feeds: not a list of {name, url}"])
    urls = {f["name"]: f["url"] for f in feeds}
    if "vehicle_status" not in urls and "station_status" not in urls:
        raise FeedRejected("schema_invalid", ["gbfs: lists neither vehicle_status nor stations"])
    return urls


@dataclass
class Vehicles:
    """The vehicles of one vehicle_status, as columns."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    vehicle_type: list[str | None]
    is_reserved: np.ndarray
    is_disabled: np.ndarray
    station_id: list[str | None]

    def __len__(self) -> int:
        return len(self.ids)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_vehicles(
    document: dict[str, Any],
    stations: dict[str, tuple[float, float]],
    extent: tuple[float, float, float, float],
) -> Vehicles:
    """The vehicles of a vehicle_status document, checked; a vehicle given only by its station
    stands at the station (station_information). A vehicle_id means something within this one
    document only: GBFS v3 rotates it after every trip, and the twin keys nothing on it."""
    vehicles = document["data"].get("vehicles")
    if not isinstance(vehicles, list):
        raise FeedRejected("schema_invalid", ["vehicle_status.data.vehicles: not a list"])
    n = len(vehicles)
    ids: list[str] = [""] * n
    lon = np.empty(n)
    lat = np.empty(n)
    types: list[str | None] = [None] * n
    reserved = np.zeros(n, bool)
    disabled = np.zeros(n, bool)
    station: list[str | None] = [None] * n
    problems: list[str] = []
    for i, v in enumerate(vehicles):
        where = f"vehicle_status.vehicles[{i}]"
        if not isinstance(v, dict):
            problems.append(f"{where}: not an object")
            continue
        vid, r, d = v.get("vehicle_id"), v.get("is_reserved"), v.get("is_disabled")
        if not isinstance(vid, str) or not isinstance(r, bool) or not isinstance(d, bool):
            problems.append(f"{where}: vehicle_id, is_reserved or is_disabled missing or mistyped")
            continue
        ids[i], reserved[i], disabled[i] = vid, r, d
        x, y, sid = v.get("lon"), v.get("lat"), v.get("station_id")
        if _number(x) and _number(y) and -180 <= x <= 180 and -90 <= y <= 90:
            lon[i], lat[i] = x, y
        elif isinstance(sid, str) and "lat" not in v and "lon" not in v and sid in stations:
            lon[i], lat[i] = stations[sid]
        else:
            problems.append(f"{where} ({vid}): no valid lat/lon nor a known station_id")
            continue
        kind = v.get("vehicle_type_id")
        types[i] = kind if isinstance(kind, str) else None
        station[i] = sid if isinstance(sid, str) else None
    if problems:
        raise FeedRejected("schema_invalid", problems, len(problems))
    seen: set[str] = set()
    twice = [vid for vid in ids if vid in seen or seen.add(vid)]
    if twice:
        listed = sorted(set(twice))
        raise FeedRejected(
            "duplicate_vehicle", [f"vehicle_id {vid} listed twice" for vid in listed], len(listed)
        )
    west, south, east, north = extent
    outside = np.flatnonzero((lon < west) | (lon > east) | (lat < south) | (lat > north))
    if len(outside):
        raise FeedRejected(
            "outside_city",
            [f"{ids[i]} at {lon[i]:.5f}, {lat[i]:.5f}" for i in outside],
            len(outside),
        )
    return Vehicles(ids, lon, lat, types, reserved, disabled, station)


def read_stations(document: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """station_id -> (lon, lat) of a station_information document."""
    stations = document["data"].get("stations")
    if not isinstance(stations, list):
        raise FeedRejected("schema_invalid", ["station_information.data.stations: not a list"])
    found = {}
    for i, s in enumerate(stations):
        if not (
            isinstance(s, dict)
            and isinstance(s.get("station_id"), str)
            and _number(s.get("lat"))
            and _number(s.get("lon"))
        ):
            raise FeedRejected(
                "schema_invalid", [f"station_information.stations[{i}]: station_id, lat, lon"]
            )
        found[s["station_id"]] = (float(s["lon"]), float(s["lat"]))
    return found


def read_station_status(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The stations of a station_status document with the fields the twin keeps."""
    stations = document["data"].get("stations")
    if not isinstance(stations, list):
        raise FeedRejected("schema_invalid", ["station_status.data.stations: not a list"])
    rows = []
    for i, s in enumerate(stations):
        ok = (
            isinstance(s, dict)
            and isinstance(s.get("station_id"), str)
            and isinstance(s.get("num_vehicles_available"), int)
            and all(isinstance(s.get(k), bool) for k in ("is_installed", "is_renting"))
            and isinstance(s.get("is_returning"), bool)
        )
        if not ok:
            raise FeedRejected("schema_invalid", [f"station_status.stations[{i}]: required fields"])
        disabled = s.get("num_vehicles_disabled")
        rows.append(
            {
                "station_id": s["station_id"],
                "available": s["num_vehicles_available"],
                "disabled": disabled if isinstance(disabled, int) else None,
                "renting": s["is_renting"],
                "returning": s["is_returning"],
            }
        )
    return rows


def read_vehicle_types(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The vehicle types of a vehicle_types document (id, form factor, propulsion, range)."""
    kinds = document["data"].get("vehicle_types")
    if not isinstance(kinds, list):
        raise FeedRejected("schema_invalid", ["vehicle_types.data.vehicle_types: not a list"])
    rows = []
    for i, k in enumerate(kinds):
        if not (
            isinstance(k, dict)
            and all(
                isinstance(k.get(f), str)
                for f in ("vehicle_type_id", "form_factor", "propulsion_type")
            )
        ):
            raise FeedRejected("schema_invalid", [f"vehicle_types[{i}]: required fields"])
        reach = k.get("max_range_meters")
        rows.append(
            {
                "id": k["vehicle_type_id"],
                "form_factor": k["form_factor"],
                "propulsion": k["propulsion_type"],
                "range": float(reach) if _number(reach) else None,
                "document": orjson.dumps(k).decode(),
            }
        )
    return rows


def read_zones(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The zones of a geofencing_zones document (name, rules, MultiPolygon as GeoJSON)."""
    zones = document["data"].get("geofencing_zones")
    features = zones.get("features") if isinstance(zones, dict) else None
    if not isinstance(features, list):
        raise FeedRejected("schema_invalid", ["geofencing_zones.features: not a list"])
    rows = []
    for i, f in enumerate(features):
        geometry = f.get("geometry") if isinstance(f, dict) else None
        props = f.get("properties") if isinstance(f, dict) else None
        if not (
            isinstance(geometry, dict)
            and geometry.get("type") == "MultiPolygon"
            and isinstance(props, dict)
        ):
            raise FeedRejected("schema_invalid", [f"geofencing_zones.features[{i}]"])
        names = props.get("name") if isinstance(props.get("name"), list) else []
        name = next((n.get("text") for n in names if isinstance(n, dict)), None)
        rows.append(
            {
                "position": i,
                "name": name,
                "rules": orjson.dumps(props.get("rules", [])).decode(),
                "geometry": orjson.dumps(geometry).decode(),
            }
        )
    return rows


def utc_now() -> datetime:
    return datetime.now(UTC)

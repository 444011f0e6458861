"""The demo's scooter operators: three partners of the single operator serving GBFS v3.0 feeds.

SYNTHETIC. Since 1 June 2025 Almaty has a single micromobility operator with partners Jet,
Yandex Go and Whoosh (S1); the city has about 15 thousand e-scooters, concentrated in the centre,
trips up to 5 km (S2 l.1047-1057). The simulator splits the fleet (the scooter parking spots'
capacity, 15,000 in the demo, or TWIN_SCOOTERS_DEMO_FLEET) between the three (40/35/25%: our
choice, no figure is published) and places each scooter, every STEP_S, near a parking spot
chosen by capacity (spots are denser in the centre; those in the 15 key sections, the most
loaded zones, draw KEY_SECTION_BOOST times their share) - or, for a share that follows the hour,
left 40-250 m away from it. The share of the fleet out on a ride (not in vehicle_status, as
GBFS v3 asks) and the share left outside parking follow the hour of the day in Almaty (our
curves, RIDING and LEFT_OUTSIDE). Everything is a pure function of (operator, time, seed): the
same request gives the same feed, and `?at=` asks for another moment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from twin.errors import NotFound
from twin.scooters.publish import discovery, geofencing_zones, system_information
from twin.settings import get_settings
from twin.sqlfiles import query

STEP_S = 900  # positions change every 15 minutes
TTL_S = 60
SEED = 2025
ALMATY_UTC_OFFSET_H = 5
DEGREES_PER_M = 1 / 111_320.0


@dataclass(frozen=True)
class DemoOperator:
    key: str
    name: str
    share: float  # of the fleet


OPERATORS = {
    o.key: o
    for o in (
        DemoOperator("jet", "Jet", 0.40),
        DemoOperator("yandex-go", "Yandex Go", 0.35),
        DemoOperator("whoosh", "Whoosh", 0.25),
    )
}
# Share of the fleet on a ride, by hour of the day in Almaty (our curve: peaks at 8-9 and 17-20).
RIDING = (
    np.array([2, 1, 1, 1, 1, 2, 4, 8, 14, 12, 9, 9, 10, 10, 10, 11, 13, 17, 20, 18, 14, 10, 6, 4])
    / 100
)
# Share of the standing scooters left outside parking, by hour (our curve: worst after the
# evening peak, before the night's rebalancing).
LEFT_OUTSIDE = (
    np.array(
        [
            24,
            24,
            22,
            18,
            14,
            10,
            8,
            10,
            14,
            16,
            16,
            16,
            17,
            17,
            18,
            19,
            21,
            24,
            27,
            29,
            30,
            29,
            27,
            25,
        ]
    )
    / 100
)
DISABLED = 0.03
KEY_SECTION_BOOST = 4.0  # a spot in a key section draws 4x its capacity's share (our choice)
RESERVED = 0.02
FEEDS = ["system_information", "vehicle_types", "vehicle_status", "geofencing_zones"]


@dataclass(frozen=True)
class Spots:
    """The parking spots the simulator places scooters around."""

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray  # capacity share
    fleet: int


_cache: dict[str, tuple[float, Spots]] = {}
_lock = threading.Lock()


def spots(conn: psycopg.Connection, max_age_s: float = 60.0) -> Spots:
    """The parking spots (read at most once a minute per process)."""
    with _lock:
        hit = _cache.get("spots")
        if hit and time.monotonic() - hit[0] < max_age_s:
            return hit[1]
    rows = conn.execute(query("scooters/demo_spots")).fetchall()
    if not rows:
        raise NotFound("no scooter parking: the demo operators need `twin load demo`")
    capacity = np.array([r[2] for r in rows], dtype=float)
    weight = capacity * np.where([r[3] for r in rows], KEY_SECTION_BOOST, 1.0)
    fleet = get_settings().scooters.demo_fleet or int(capacity.sum())
    found = Spots(
        lon=np.array([r[0] for r in rows]),
        lat=np.array([r[1] for r in rows]),
        weight=weight / weight.sum(),
        fleet=fleet,
    )
    with _lock:
        _cache["spots"] = (time.monotonic(), found)
    return found


def operator(key: str) -> DemoOperator:
    if key not in OPERATORS:
        raise NotFound(f"no demo operator {key!r}: use one of {', '.join(OPERATORS)}")
    return OPERATORS[key]


def local_hour(at: datetime) -> int:
    return (at.astimezone(UTC).hour + ALMATY_UTC_OFFSET_H) % 24


def fleet_size(where: Spots, op: DemoOperator) -> int:
    return int(round(where.fleet * op.share))


def vehicles(where: Spots, op: DemoOperator, at: datetime) -> dict[str, np.ndarray]:
    """The operator's scooters at `at`: ids, lon, lat, reserved, disabled (those standing)."""
    n = fleet_size(where, op)
    step = int(at.timestamp()) // STEP_S
    index = list(OPERATORS).index(op.key)
    rng = np.random.default_rng([SEED, index, step])
    hour = local_hour(at)
    standing = rng.random(n) >= RIDING[hour]
    spot = rng.choice(len(where.lon), size=n, p=where.weight)
    outside = rng.random(n) < LEFT_OUTSIDE[hour]
    distance = np.where(outside, rng.uniform(40, 250, n), rng.uniform(0, 10, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    cos_lat = np.cos(np.radians(where.lat[spot]))
    lon = where.lon[spot] + distance * np.cos(angle) * DEGREES_PER_M / cos_lat
    lat = where.lat[spot] + distance * np.sin(angle) * DEGREES_PER_M
    disabled = rng.random(n) < DISABLED
    reserved = ~disabled & (rng.random(n) < RESERVED)
    keep = np.flatnonzero(standing)
    return {
        "ids": np.array([f"{op.key}-{i:05d}" for i in keep]),
        "lon": lon[keep],
        "lat": lat[keep],
        "reserved": reserved[keep],
        "disabled": disabled[keep],
        "outside": outside[keep],
    }


def _envelope(data: dict[str, Any], at: datetime, ttl: int = TTL_S) -> dict[str, Any]:
    moment = datetime.fromtimestamp(int(at.timestamp()) // 60 * 60, UTC)
    return {"last_updated": moment.isoformat(), "ttl": ttl, "version": "3.0", "data": data}


def vehicle_types(op: DemoOperator, at: datetime) -> dict[str, Any]:
    return _envelope(
        {
            "vehicle_types": [
                {
                    "vehicle_type_id": f"{op.key}-scooter",
                    "form_factor": "scooter_standing",
                    "propulsion_type": "electric",
                    "max_range_meters": 40_000,
                    "max_permitted_speed": 25,
                    "name": [{"text": f"{op.name} e-scooter", "language": "en"}],
                }
            ]
        },
        at,
        ttl=3600,
    )


def vehicle_status(where: Spots, op: DemoOperator, at: datetime) -> dict[str, Any]:
    fleet = vehicles(where, op, at)
    kind = f"{op.key}-scooter"
    reported = datetime.fromtimestamp(int(at.timestamp()), UTC).isoformat()
    rows = [
        {
            "vehicle_id": vid,
            "lat": round(float(y), 6),
            "lon": round(float(x), 6),
            "is_reserved": bool(r),
            "is_disabled": bool(d),
            "vehicle_type_id": kind,
            "last_reported": reported,
        }
        for vid, x, y, r, d in zip(
            fleet["ids"].tolist(),
            fleet["lon"],
            fleet["lat"],
            fleet["reserved"],
            fleet["disabled"],
            strict=True,
        )
    ]
    return _envelope({"vehicles": rows}, at)


def document(
    conn: psycopg.Connection, key: str, feed: str, at: datetime, base: str, suffix: str = ""
) -> dict[str, Any]:
    """One feed of a demo operator at `at` (`base`: the operator's URL, for gbfs.json)."""
    op = operator(key)
    if feed == "gbfs":
        found = discovery(base, FEEDS, suffix)
        found["last_updated"] = _envelope({}, at)["last_updated"]
        return found
    if feed == "system_information":
        found = system_information(
            f"almaty-demo-{op.key}",
            {
                "en": f"{op.name} (synthetic demo)",
                "ru": f"{op.name} (демо, синтетика)",
                "kk": f"{op.name} (демо, синтетикалық)",
            },
            {"en": f"{op.name}, partner of the single micromobility operator (synthetic)"},
        )
        found["last_updated"] = _envelope({}, at)["last_updated"]
        return found
    if feed == "vehicle_types":
        return vehicle_types(op, at)
    if feed == "vehicle_status":
        return vehicle_status(spots(conn), op, at)
    if feed == "geofencing_zones":
        found = geofencing_zones(conn)
        found["last_updated"] = _envelope({}, at)["last_updated"]
        return found
    raise NotFound(f"the demo operators serve {', '.join(['gbfs', *FEEDS])}, not {feed!r}")


def hours_of(day: datetime) -> list[datetime]:
    """The 24 hours of a day, each at its half hour (one poll a simulated hour)."""
    start = day.astimezone(UTC).replace(minute=30, second=0, microsecond=0)
    return [start + timedelta(hours=h) for h in range(24)]

"""The demo's scooter operators: three partners of the single operator serving GBFS v3.0 feeds.

SYNTHETIC. Since 1 June 2025 Almaty has a single micromobility operator with partners Jet,
Yandex Go and Whoosh (S1); the city has about 15 thousand e-scooters, concentrated in the centre,
trips up to 5 km (S2 l.1047-1057). The simulator splits the fleet (the scooter parking spots'
capacity, 15,000 in the demo, or TWIN_SCOOTERS_DEMO_FLEET) between the three (40/35/25%: our
choice, no figure is published). Time goes in steps of STEP_S: in each step a share of the
fleet that follows the hour in Almaty (our curve, RIDING) takes a trip - gone from
vehicle_status meanwhile, as GBFS v3 asks - and is left, at the step's end, near a parking spot
chosen by capacity (spots are denser in the centre; those in the 15 key sections, the most
loaded zones, draw KEY_SECTION_BOOST times their share): within 10 m, or, for a share of the
trips that follows the hour they end in (LEFT_OUTSIDE), 40-250 m away. A scooter stands where
its last trip left it, under a new random vehicle_id (GBFS v3: rotated after every trip, for
the riders' privacy), until its next trip; at 04:00 in Almaty the operators' crews rebalance
the fleet to the parking spots (a trip too: new ids). Everything is a pure function of
(operator, time, seed): the
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
# Share of the trips ending outside parking, by the hour they end (our curve: worst after the
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
STEPS_PER_DAY = 86_400 // STEP_S
REBALANCE_STEP = 23 * 3600 // STEP_S  # 23:00 UTC, 04:00 in Almaty: the night's rebalancing
PLACEMENT_TYPES = {"lon": float, "lat": float, "outside": bool, "disabled": bool, "ids": np.int64}
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


def _placements(where: Spots, op: DemoOperator, step: int, n: int) -> dict[str, np.ndarray]:
    """Where the operator's scooters are left at the end of a trip taken in `step` (every
    scooter's draw; each uses its own): spot, offset, left outside, disabled, and the random
    public id it gets for the time it stands there. At the daily rebalancing the crews leave
    every scooter at a parking spot."""
    rng = np.random.default_rng([SEED, list(OPERATORS).index(op.key), step, 1])
    rebalancing = step % STEPS_PER_DAY == REBALANCE_STEP
    spot = np.minimum(np.searchsorted(np.cumsum(where.weight), rng.random(n)), len(where.lon) - 1)
    outside = rng.random(n) < (0.0 if rebalancing else LEFT_OUTSIDE[local_hour_of(step)])
    distance = np.where(outside, rng.uniform(40, 250, n), rng.uniform(0, 10, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    cos_lat = np.cos(np.radians(where.lat[spot]))
    return {
        "lon": where.lon[spot] + distance * np.cos(angle) * DEGREES_PER_M / cos_lat,
        "lat": where.lat[spot] + distance * np.sin(angle) * DEGREES_PER_M,
        "outside": outside,
        "disabled": rng.random(n) < DISABLED,
        "ids": rng.integers(0, 2**63, n, dtype=np.int64),
    }


def _riding(op: DemoOperator, step: int, n: int) -> np.ndarray:
    """Which scooters take a trip during `step` (gone from vehicle_status meanwhile)."""
    rng = np.random.default_rng([SEED, list(OPERATORS).index(op.key), step, 0])
    return rng.random(n) < RIDING[local_hour_of(step)]


def local_hour_of(step: int) -> int:
    return local_hour(datetime.fromtimestamp(step * STEP_S, UTC))


def vehicles(where: Spots, op: DemoOperator, at: datetime) -> dict[str, np.ndarray]:
    """The operator's scooters standing at `at`: public ids, lon, lat, reserved, disabled,
    outside, and `fleet` (the simulator's own index of each scooter, never published).

    A scooter stands where its last trip ended (or where the daily rebalancing left it) under
    the id it got then: GBFS v3 asks for a new random vehicle_id after every trip, so an id
    never survives a trip, and a scooter that does not move keeps its id."""
    n = fleet_size(where, op)
    step = int(at.timestamp()) // STEP_S
    rebalanced = step - 1 - (step - 1 - REBALANCE_STEP) % STEPS_PER_DAY  # the last one before
    placed_at = np.full(n, rebalanced)
    for s in range(rebalanced + 1, step):
        placed_at[_riding(op, s, n)] = s
    standing = ~_riding(op, step, n)
    columns = {k: np.empty(n, dtype=v) for k, v in PLACEMENT_TYPES.items()}
    for s in np.unique(placed_at[standing]).tolist():
        chosen = standing & (placed_at == s)
        for k, v in _placements(where, op, s, n).items():
            columns[k][chosen] = v[chosen]
    reserved = ~columns["disabled"] & (
        np.random.default_rng([SEED, list(OPERATORS).index(op.key), step, 2]).random(n) < RESERVED
    )
    keep = np.flatnonzero(standing)
    return {
        "ids": np.array([f"{v:016x}" for v in columns["ids"][keep].tolist()]),
        "lon": columns["lon"][keep],
        "lat": columns["lat"][keep],
        "reserved": reserved[keep],
        "disabled": columns["disabled"][keep],
        "outside": columns["outside"][keep],
        "fleet": keep,
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

"""The demo city's sensors: smart lamps, air sensors and utility meters as SensorThings, linked
to the twin's layers, with the last 24 hours of their history.

What the programme gives (docs/sensors.md, "The city's sensors"): 44 thousand smart LED lamps
with per-lamp monitoring (S2 l.1384), 45 air sensors of AirKZ (S2 l.4247), IoT on the meters of
Almaty Su, ATVS and AlmatyEnergoSnab (S2 l.4710). The demo places them on its own city:

- lamps every 30 m along lighting lines of utility_lines (layer utility_lines, the line's id;
  the nearest street in properties), lines taken in a seeded order until 44,000 lamps in the
  city-scale demo, 4,400 in the small one (a tenth: the small demo loads in seconds);
- 45 air sensors in the districts (layer districts), apportioned by residents, at least 3 each;
- one flow meter per water, heating and power facility (layer utility_facilities).

Every Datastream carries `properties.simulation` (kind, fixed parameters), which twin.sensors.model
reads to give its values; the history goes in through twin.sensors.ingest (the one write path).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import psycopg
from psycopg.types.json import Jsonb

from twin.demo.figures import apportion
from twin.sensors import model
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.demo")

LAMPS = {"small": 4_400, "city": 44_000, "metro": 44_000}  # S2 l.1384: 44 thousand (city)
LAMP_SPACING_M = 30.0  # our choice: one lamp per 30 m of lighting line
AIR_SENSORS = 45  # S2 l.4247
AIR_MIN_PER_DISTRICT = 3
HISTORY = timedelta(hours=24)
AIR_STEP_S = 600  # 10 minutes
METER_STEP_S = 900  # 15 minutes
BATCH = 50_000

PROVIDERS = {
    "lighting": ("Almaty lighting", "Street lighting of Almaty: SMART control of LED lamps"),
    "air": ("AirKZ", "Air-quality sensors of AirKZ (45 sensors feeding 49 LED screens)"),
    "water": ("Almaty Su", "Water supply and sewerage of Almaty"),
    "heating": ("ATVS", "Almaty heating networks"),
    "power": ("AlmatyEnergoSnab", "Electricity supply of Almaty"),
}
SENSORS = {
    "lamp": ("Smart LED lamp controller", "Per-lamp node: reports on/off at each switch"),
    "air": ("PM2.5 optical particle counter", "Low-cost laser particle sensor, 10-minute means"),
    "water": ("Electromagnetic flow meter", "Flow on the facility's outgoing main"),
    "heating": ("Heat meter flow sensor", "Network water flow at the facility"),
    "power": ("Smart power meter", "Active power through the facility"),
}
PROPERTIES = {
    "lamp": (
        "Lamp state",
        "http://www.opengis.net/def/property/twin/lamp-state",
        "Whether the lamp is lit (true) or off (false)",
    ),
    "air": (
        "PM2.5",
        "http://vocab.nerc.ac.uk/collection/P01/current/PMSD2500/",
        "Mass concentration of particulate matter up to 2.5 µm in air",
    ),
    "water": (
        "Water flow",
        "http://www.opengis.net/def/property/twin/water-flow",
        "Volume of water through the facility per hour",
    ),
    "heating": (
        "Heating network flow",
        "http://www.opengis.net/def/property/twin/heating-flow",
        "Volume of network water through the facility per hour",
    ),
    "power": (
        "Active power",
        "http://www.opengis.net/def/property/twin/active-power",
        "Active power through the facility",
    ),
}
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
TRUTH = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation"
UNITS = {
    "lamp": {"name": "state", "symbol": "", "definition": "boolean: true is lit"},
    "air": {
        "name": "microgram per cubic metre",
        "symbol": "µg/m³",
        "definition": "http://qudt.org/vocab/unit/MicroGM-PER-M3",
    },
    "water": {
        "name": "cubic metre per hour",
        "symbol": "m³/h",
        "definition": "http://qudt.org/vocab/unit/M3-PER-HR",
    },
    "power": {"name": "kilowatt", "symbol": "kW", "definition": "http://qudt.org/vocab/unit/KiloW"},
}
UNITS["heating"] = UNITS["water"]
# a meter's mean flow from its facility's capacity (our choice, docs/sensors.md)
BASE_FLOW = {
    ("water", "pump_station"): lambda c: 0.5 * c,  # m³/h
    ("water", "treatment_plant"): lambda c: 0.6 * c / 24,  # capacity m³/day
    ("heating", "boiler_house"): lambda c: 12.0 * c,  # ~12 m³/h per MW at a 70 K drop
    ("heating", "chp_plant"): lambda c: 12.0 * c,
    ("power", "substation"): lambda c: 400.0 * c,  # kW: 40% of the rating (MVA)
}


@dataclass
class _Thing:
    kind: str
    name: str
    description: str
    properties: dict[str, Any]
    layer: str
    feature_id: str
    district: str | None
    lon: float
    lat: float
    simulation: dict[str, Any]


def install_sensors(
    conn: psycopg.Connection, scale: str, seed: int, now: datetime | None = None
) -> dict[str, int]:
    """Replace the demo's sensors with new ones on the loaded city and write their last 24 h;
    returns counts (lamps, air sensors, meters, observations)."""
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    _clear(conn)
    providers = {
        kind: conn.execute(
            query("sensors_city/demo_provider"), {"name": n, "description": d}
        ).fetchone()[0]
        for kind, (n, d) in PROVIDERS.items()
    }
    things = _lamps(conn, LAMPS[scale], seed) + _air(conn, seed) + _meters(conn, seed)
    streams = _write_things(conn, things, providers)
    observations = write_history(conn, streams, now, seed)
    counts = {kind: sum(1 for t in things if t.kind == kind) for kind in model.KINDS}
    LOG.info(
        "demo sensors installed",
        extra={"fields": {**counts, "s": round(time.perf_counter() - started, 2)}},
    )
    return {
        "lamps": counts["lamp"],
        "air sensors": counts["air"],
        "meters": counts["water"] + counts["heating"] + counts["power"],
        "observations": observations,
    }


def _clear(conn: psycopg.Connection) -> None:
    conn.execute(
        query("sensors_city/demo_clear"), {"providers": [n for n, _ in PROVIDERS.values()]}
    )
    conn.execute(
        query("sensors_city/demo_clear_kinds"),
        {
            "sensors": [n for n, _ in SENSORS.values()],
            "definitions": [d for _, d, _ in PROPERTIES.values()],
        },
    )


def _lamps(conn: psycopg.Connection, count: int, seed: int) -> list[_Thing]:
    rows = conn.execute(
        query("sensors_city/demo_lamps"),
        {"count": count, "spacing": LAMP_SPACING_M, "seed": seed},
    ).fetchall()
    out = []
    for number, (line, k, district, lon, lat, street_id, street) in enumerate(rows, 1):
        key = f"lamp:{line}:{k}"
        out.append(
            _Thing(
                kind="lamp",
                name=f"Lamp {number:05d}",
                description=f"Smart LED lamp on lighting line {line}"
                + (f", {street}" if street else ""),
                properties={"street_id": int(street_id), "street": street, "lamp": int(k)},
                layer="utility_lines",
                feature_id=str(line),
                district=district,
                lon=float(lon),
                lat=float(lat),
                simulation={
                    "kind": "lamp",
                    "key": key,
                    # the photocell's own offsets from sunset and sunrise (minutes)
                    "on_min": round(2 + 10 * model.unit_hash(seed, key, "on"), 1),
                    "off_min": round(-6 + 10 * model.unit_hash(seed, key, "off"), 1),
                    "fails": model.unit_hash(seed, key, "fails") < model.LAMP_FAILURE_SHARE,
                },
            )
        )
    return out


def _air(conn: psycopg.Connection, seed: int) -> list[_Thing]:
    districts = conn.execute(query("sensors_city/demo_districts")).fetchall()
    if not districts:
        return []
    names = [n for n, _ in districts]
    spare = AIR_SENSORS - AIR_MIN_PER_DISTRICT * len(names)
    counts = AIR_MIN_PER_DISTRICT + apportion(
        max(spare, 0), np.array([p for _, p in districts], dtype=float)
    )
    rows = conn.execute(
        query("sensors_city/demo_air_points"),
        {"districts": names, "counts": [int(c) for c in counts], "seed": seed},
    ).fetchall()
    lon = np.array([r[2] for r in rows])
    lat = np.array([r[3] for r in rows])
    # higher in the north (lower ground, coal-heated private housing) and near the centre
    north = (lat - lat.mean()) / max(float(np.ptp(lat)) / 2, 1e-9)
    centre_km = np.hypot((lon - 76.945) * 81.0, (lat - 43.255) * 111.0)
    raw = (1 + 0.3 * north + 0.5 * np.exp(-centre_km / 5.0)).clip(0.4)
    level = raw / raw.mean()
    out = []
    for i, (district_id, district, x, y) in enumerate(rows):
        out.append(
            _Thing(
                kind="air",
                name=f"AirKZ {i + 1:02d} {district}",
                description=f"PM2.5 sensor of AirKZ in {district}",
                properties={"network": "AirKZ"},
                layer="districts",
                feature_id=str(district_id),
                district=district,
                lon=float(x),
                lat=float(y),
                simulation={"kind": "air", "key": f"air:{i}", "level": round(float(level[i]), 3)},
            )
        )
    return out


def _meters(conn: psycopg.Connection, seed: int) -> list[_Thing]:
    rows = conn.execute(query("sensors_city/demo_meters")).fetchall()
    water = [r for r in rows if r[2] == "water" and r[3] == "pump_station"]
    leaking = min(water, key=lambda r: model.unit_hash(seed, "leak", r[0]))[0] if water else None
    out = []
    for facility, name, network, kind, capacity, district, lon, lat in rows:
        key = f"meter:{facility}"
        base = BASE_FLOW.get((network, kind), lambda c: 100.0)(float(capacity) or 100.0)
        base *= 0.8 + 0.4 * model.unit_hash(seed, key, "base")
        out.append(
            _Thing(
                kind=network,
                name=f"Meter {name}",
                description=f"{PROPERTIES[network][0]} meter at {name}",
                properties={"facility": name, "facility_kind": kind},
                layer="utility_facilities",
                feature_id=str(facility),
                district=district,
                lon=float(lon),
                lat=float(lat),
                simulation={
                    "kind": network,
                    "key": key,
                    "base": round(base, 1),
                    "leak": facility == leaking,
                },
            )
        )
    return out


def _write_things(
    conn: psycopg.Connection, things: list[_Thing], providers: dict[str, int]
) -> list[model.DemoStream]:
    sensor_ids, property_ids = {}, {}
    for kind in model.KINDS:
        name, description = SENSORS[kind]
        sensor_ids[kind] = conn.execute(
            query("sensors_city/demo_sensor"),
            {
                "name": name,
                "description": description,
                "metadata": "",
                "properties": Jsonb({"demo": True}),
            },
        ).fetchone()[0]
        pname, definition, pdesc = PROPERTIES[kind]
        property_ids[kind] = conn.execute(
            query("sensors_city/demo_observed_property"),
            {"name": pname, "definition": definition, "description": pdesc},
        ).fetchone()[0]
    provider_of = {"lamp": "lighting", "air": "air"}
    conn.execute(query("sensors_city/demo_things_table"))
    with conn.cursor().copy(query("sensors_city/demo_things_copy")) as copy:
        for n, t in enumerate(things):
            lamp = t.kind == "lamp"
            copy.write_row(
                (
                    n,
                    t.name,
                    t.description,
                    orjson.dumps(t.properties).decode(),
                    providers[provider_of.get(t.kind, t.kind)],
                    t.layer,
                    t.feature_id,
                    t.district,
                    t.lon,
                    t.lat,
                    sensor_ids[t.kind],
                    property_ids[t.kind],
                    PROPERTIES[t.kind][0],
                    TRUTH if lamp else MEASUREMENT,
                    "boolean" if lamp else "number",
                    orjson.dumps(UNITS[t.kind]).decode(),
                    orjson.dumps({"simulation": t.simulation}).decode(),
                )
            )
    ids = conn.execute(query("sensors_city/demo_things_write")).fetchall()
    conn.execute("DROP TABLE demo_things")
    return [
        model.DemoStream(int(ds), 0, t.kind, t.lon, t.lat, t.district, t.simulation)
        for (_, ds), t in zip(ids, things, strict=True)
    ]


def history(streams: list[model.DemoStream], end: datetime, seed: int) -> list[dict[str, Any]]:
    """The streams' Observations (SensorThings JSON) before `end`: 24 hours of air every 10
    minutes and of lamps (their state at the start, then each switch), meters every 15
    minutes since the UTC midnight before the last (24 to 48 hours)."""
    start = end - HISTORY
    # meters from the UTC midnight before the last (05:00 in Almaty): the minimum night flow
    # rule judges the last night against the whole day before it
    midnight = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    meters_since = midnight - timedelta(days=1)
    items: list[dict[str, Any]] = []

    def add(ds: int, moment: datetime, result: float | bool) -> None:
        items.append(
            {
                "Datastream": {"@iot.id": ds},
                "phenomenonTime": moment.isoformat().replace("+00:00", "Z"),
                "result": result,
            }
        )

    air = [s for s in streams if s.kind == "air"]
    meters = [s for s in streams if s.kind in ("water", "heating", "power")]
    for group, step, since in (
        (air, AIR_STEP_S, start),
        (meters, METER_STEP_S, meters_since),
    ):
        for ds, moment, value in model.readings(group, since, end, step_s=step, seed=seed):
            add(ds, moment, value)
    for stream in streams:
        if stream.kind == "lamp":
            for moment, state in model.lamp_switches(stream, start, end):
                add(stream.id, moment, state)
    return items


def write_history(
    conn: psycopg.Connection,
    streams: list[model.DemoStream],
    end: datetime,
    seed: int,
) -> int:
    """Write the streams' history through the ingest (checked like any sensor's); returns the
    number of Observations written."""
    from twin.sensors.ingest import ingest_observations

    items = history(streams, end, seed)
    written = 0
    for first in range(0, len(items), BATCH):
        report = ingest_observations(conn, items[first : first + BATCH], caller=None)
        if not report.ok:
            raise report.error()
        written += report.created
    LOG.debug("history", extra={"fields": {"n": written, "batches": math.ceil(written / BATCH)}})
    return written

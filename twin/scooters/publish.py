"""The city's own micromobility rules, published as GBFS v3.0 and MDS 2.0 documents.

GBFS (served at /gbfs/v3/, a valid system: gbfs.json, system_information, station_information,
station_status, geofencing_zones): the zones in the order GBFS gives them precedence (the first
zone a point falls in rules), from the twin's layers:
- no-ride: existing pedestrian zones (parks of kind pedestrian_zone) - no start, end or ride
  through;
- sidewalk speed, 6 km/h: pedestrian streets (streets, highway pedestrian, 6 m each side) - the
  law's cap for e-scooters among walkers (road-traffic law amendments of 29 June 2023);
- slow, 10 km/h: existing parks, boulevards, embankments and squares (our choice);
- the 15 key sections: 15 km/h (our choice) and parking only at the parking spots
  (station_parking); the planned duty zones: parking only at the parking spots;
- everywhere else (global_rules): riding allowed, 25 km/h (the law's cap).
The scooter parking spots are virtual stations (a 25 m circle each, the radius within which
the twin counts a scooter as parked), their status the scooters standing there at the latest
polls.

MDS (2.0, /mds/geographies and /mds/policies): the same zones as Geographies (stable UUIDs
from the layer and feature id) and one Policy whose rules say the same: a count rule of 0
devices on trip in the no-ride zones, speed rules in kph, a user rule (message in en, ru, kk)
for parking at the marked spots in the key sections and duty zones, and the 25 km/h speed rule
over the city.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from twin.scooters.ingest import PARKING_RADIUS_M
from twin.sqlfiles import query

GBFS_VERSION = "3.0"
MDS_VERSION = "2.0.0"
SYSTEM_ID = "almaty-twin-city-rules"
TIMEZONE = "Asia/Almaty"
CITY_MAX_KPH = 25  # Kazakh road-traffic law (2023): e-scooters at most 25 km/h
STREET_HALF_WIDTH_M = 6.0
# Single micromobility operator since 1 June 2025 (S1): the policy's start.
POLICY_START = datetime(2025, 6, 1, tzinfo=UTC)
POLICY_PUBLISHED = datetime(2025, 5, 25, tzinfo=UTC)
NAMESPACE = uuid.UUID("5f0c4a52-8d0e-4c8f-9a4e-7b1f3c2d9e10")  # the twin's UUIDs of zones
# GBFS rule per zone kind (city_zones.sql), and its title in the three languages.
ALLOW = {"ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True}
RULES: dict[str, dict[str, Any]] = {
    "no_ride": {
        "ride_start_allowed": False,
        "ride_end_allowed": False,
        "ride_through_allowed": False,
    },
    "sidewalk": {**ALLOW, "maximum_speed_kph": 6},
    "slow": {**ALLOW, "maximum_speed_kph": 10},
    "key_section": {**ALLOW, "maximum_speed_kph": 15, "station_parking": True},
    "duty_zone": {**ALLOW, "station_parking": True},
}
PARKING_MESSAGE = {
    "en": "Park only at the marked scooter parking spots here.",
    "ru": "Здесь парковка самокатов только на отмеченных местах.",
    "kk": "Мұнда самокатты тек белгіленген тұрақтарға қойыңыз.",
}


def _stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).replace(microsecond=0).isoformat()


def _envelope(data: dict[str, Any], ttl: int) -> dict[str, Any]:
    return {"last_updated": _stamp(), "ttl": ttl, "version": GBFS_VERSION, "data": data}


def _text(text: str, language: str = "en") -> list[dict[str, str]]:
    return [{"text": text, "language": language}]


def discovery(base: str, feeds: list[str], suffix: str = "") -> dict[str, Any]:
    """gbfs.json listing `feeds` under `base` (`suffix`: a query string each URL keeps)."""
    return _envelope(
        {"feeds": [{"name": name, "url": f"{base}/{name}.json{suffix}"} for name in feeds]},
        ttl=3600,
    )


CITY_FEEDS = [
    "system_information",
    "station_information",
    "station_status",
    "geofencing_zones",
]


def system_information(
    system_id: str = SYSTEM_ID,
    names: dict[str, str] | None = None,
    operator: dict[str, str] | None = None,
) -> dict[str, Any]:
    """system_information (the city's by default; the demo operators' with their names)."""
    names = names or {
        "en": "Almaty micromobility rules (digital twin)",
        "ru": "Правила микромобильности Алматы (цифровой двойник)",
        "kk": "Алматы микромобильділік ережелері (цифрлық егіз)",
    }
    data: dict[str, Any] = {
        "system_id": system_id,
        "languages": ["en", "ru", "kk"],
        "name": [{"text": t, "language": lang} for lang, t in names.items()],
        "opening_hours": "24/7",
        "feed_contact_email": "twin@almaty.example",
        "timezone": TIMEZONE,
    }
    if operator:
        data["operator"] = [{"text": t, "language": lang} for lang, t in operator.items()]
    return _envelope(data, ttl=3600)


def zone_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """(rank, rule, layer, id, name, district, geojson) of every zone, in precedence order."""
    return conn.execute(
        query("scooters/city_zones"), {"street_half_width_m": STREET_HALF_WIDTH_M}
    ).fetchall()


def geofencing_zones(conn: psycopg.Connection) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "geometry": orjson.loads(geojson),
            "properties": {"name": _text(name), "rules": [RULES[rule]]},
        }
        for _rank, rule, _layer, _id, name, _district, geojson in zone_rows(conn)
    ]
    return _envelope(
        {
            "geofencing_zones": {"type": "FeatureCollection", "features": features},
            "global_rules": [{**ALLOW, "maximum_speed_kph": CITY_MAX_KPH}],
        },
        ttl=300,
    )


def _stations(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        query("scooters/parking_stations"), {"radius_m": PARKING_RADIUS_M}
    ).fetchall()


def station_information(conn: psycopg.Connection) -> dict[str, Any]:
    stations = [
        {
            "station_id": str(sid),
            "name": _text(name),
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "is_virtual_station": True,
            "station_area": orjson.loads(area),
            "capacity": int(capacity),
        }
        for sid, name, lon, lat, capacity, _district, area, *_ in _stations(conn)
    ]
    return _envelope({"stations": stations}, ttl=3600)


def station_status(conn: psycopg.Connection) -> dict[str, Any]:
    now = _stamp()
    stations = [
        {
            "station_id": str(sid),
            "num_vehicles_available": int(available),
            "num_vehicles_disabled": int(disabled),
            "is_installed": True,
            "is_renting": True,
            "is_returning": True,
            "last_reported": _stamp(reported) if reported else now,
        }
        for sid, _n, _x, _y, _c, _d, _a, available, disabled, reported in _stations(conn)
    ]
    return _envelope({"stations": stations}, ttl=60)


CITY_DOCUMENTS = {
    "system_information": lambda conn: system_information(),
    "station_information": station_information,
    "station_status": station_status,
    "geofencing_zones": geofencing_zones,
}


# -- MDS 2.0 -----------------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _zone_uuid(layer: str, fid: int, rule: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{layer}/{fid}/{rule}"))


def mds_geographies(conn: psycopg.Connection) -> dict[str, Any]:
    """Every zone, and the city, as an MDS Geography (geography_json a FeatureCollection)."""
    geographies = []
    for _rank, rule, layer, fid, name, district, geojson in zone_rows(conn):
        geographies.append(_geography(_zone_uuid(layer, fid, rule), name, rule, geojson, district))
    (city,) = conn.execute(query("scooters/city_area")).fetchone()
    geographies.append(_geography(_zone_uuid("districts", 0, "city"), "Almaty", "city", city))
    return {
        "version": MDS_VERSION,
        "updated": _ms(datetime.now(UTC)),
        "data": {"geographies": geographies},
    }


def _geography(
    gid: str, name: str, rule: str, geojson: str, district: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "geography_id": gid,
        "geography_type": rule,
        "description": f"{rule.replace('_', ' ')} zone" + (f", {district}" if district else ""),
        "published_date": _ms(POLICY_PUBLISHED),
        "effective_date": _ms(POLICY_START),
        "geography_json": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"name": name}, "geometry": orjson.loads(geojson)}
            ],
        },
    }


def mds_policies(conn: psycopg.Connection) -> dict[str, Any]:
    """One Policy with the zones' rules (first rule most specific, as MDS orders them)."""
    by_rule: dict[str, list[str]] = {}
    for _rank, rule, layer, fid, *_ in zone_rows(conn):
        by_rule.setdefault(rule, []).append(_zone_uuid(layer, fid, rule))
    city = _zone_uuid("districts", 0, "city")
    rules: list[dict[str, Any]] = []

    def add(name: str, rule_type: str, geographies: list[str], **fields: Any) -> None:
        if geographies:
            rules.append(
                {
                    "name": name,
                    "rule_id": str(uuid.uuid5(NAMESPACE, f"rule/{name}")),
                    "rule_type": rule_type,
                    "geographies": geographies,
                    "states": {"on_trip": []},
                    "vehicle_types": ["scooter_standing"],
                    **fields,
                }
            )

    add(
        "No riding in pedestrian zones",
        "count",
        by_rule.get("no_ride", []),
        rule_units="devices",
        maximum=0,
    )
    for rule in ("sidewalk", "slow", "key_section"):
        kph = RULES[rule]["maximum_speed_kph"]
        add(
            f"{kph} km/h in {rule.replace('_', ' ')} zones",
            "speed",
            by_rule.get(rule, []),
            rule_units="kph",
            maximum=kph,
        )
    parking = by_rule.get("key_section", []) + by_rule.get("duty_zone", [])
    if parking:
        add(
            "Parking at marked spots in key sections and duty zones",
            "user",
            parking,
            messages=PARKING_MESSAGE,
        )
        rules[-1]["states"] = {"available": [], "non_operational": []}
    add(f"{CITY_MAX_KPH} km/h in the city", "speed", [city], rule_units="kph", maximum=CITY_MAX_KPH)
    policy = {
        "name": "Almaty micromobility zones",
        "mode_id": "micromobility",
        "policy_id": str(uuid.uuid5(NAMESPACE, "policy/almaty-zones")),
        "description": "The city's no-ride, slow and parking rules for e-scooters, from the "
        "digital twin's layers (docs/scooters.md)",
        "start_date": _ms(POLICY_START),
        "published_date": _ms(POLICY_PUBLISHED),
        "rules": rules,
    }
    return {
        "version": MDS_VERSION,
        "updated": _ms(datetime.now(UTC)),
        "data": {"policies": [policy]},
    }

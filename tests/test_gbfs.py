"""GBFS in and out: every document the twin publishes, and those its demo operators serve,
validate against the published GBFS v3.0 JSON schemas (read from ../shared/specs/gbfs-3.0,
never copied here); the MDS 2.0 Policy and Geographies hold together; and a bad feed of each
kind is refused with its reason listed, leaving nothing of the poll behind."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.scooters.demo import demo_documents
from twin.scooters.gbfs import FeedRejected, read_vehicles
from twin.scooters.ingest import city_frame, ingest
from twin.scooters.safety_demo import demo_trip_rows
from twin.scooters.simulator import OPERATORS as DEMO_OPERATORS
from twin.scooters.simulator import spots, vehicles
from twin.sqlfiles import query

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs" / "gbfs-3.0"
OPERATORS = ("jet", "yandex-go", "whoosh")
MINE = ("bad-none", "docked")  # the operators these stories invent


@pytest.fixture(scope="module", autouse=True)
def invented_operators_leave(database_url: str):
    """The stories' own operators leave no latest positions behind: later stories read the
    city's scooters as its operators left them."""
    yield
    with psycopg.connect(database_url, autocommit=True) as conn:
        for operator in MINE:
            conn.execute(query("scooters/forget_latest"), {"operator": operator})
            conn.execute("DELETE FROM scooter_station_status WHERE operator = %s", (operator,))


def schema(feed: str) -> jsonschema.Draft7Validator:
    path = SPECS / f"{feed}.json"
    if not path.exists():
        pytest.skip(f"the GBFS 3.0 schemas are not beside the project ({SPECS})")
    return jsonschema.Draft7Validator(
        json.loads(path.read_text()), format_checker=jsonschema.FormatChecker()
    )


def assert_valid(feed: str, document: dict[str, Any]) -> None:
    errors = sorted(schema(feed).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{feed}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5]
    )


def test_the_demo_operators_serve_valid_gbfs(demo_city: str, server: Any) -> None:
    """Each partner of the single operator serves a GBFS v3.0 system whose every listed feed
    validates; the fleet adds up to the city's 15 thousand scooters less those out riding."""
    standing = 0
    for key in OPERATORS:
        discovery = server.get(f"/demo/operators/{key}/gbfs.json").json()
        assert_valid("gbfs", discovery)
        for feed in discovery["data"]["feeds"]:
            answer = server.get(feed["url"].removeprefix(server.url))
            assert answer.status_code == 200, answer.text
            document = answer.json()
            if feed["name"] == "vehicle_status":
                standing += len(document["data"]["vehicles"])
                if key != "whoosh":  # the same generator: one whole fleet, a sample of others
                    document["data"]["vehicles"] = document["data"]["vehicles"][:500]
            assert_valid(feed["name"], document)
            if feed["name"] == "system_information":
                assert "synthetic" in answer.json()["data"]["name"][0]["text"]
    assert 15_000 * 0.75 < standing < 15_000


def test_the_city_publishes_its_zones_as_valid_gbfs(demo_city: str, server: Any) -> None:
    """/gbfs/v3/gbfs.json lists a valid system: the no-ride pedestrian zones first, slow parks,
    the 15 key sections with parking at the marked spots only, and the 600 parking spots as
    virtual stations."""
    discovery = server.get("/gbfs/v3/gbfs.json").json()
    assert_valid("gbfs", discovery)
    documents = {}
    for feed in discovery["data"]["feeds"]:
        documents[feed["name"]] = server.get(feed["url"].removeprefix(server.url)).json()
        assert_valid(feed["name"], documents[feed["name"]])
    zones = documents["geofencing_zones"]["data"]
    rules = [f["properties"]["rules"][0] for f in zones["geofencing_zones"]["features"]]
    assert rules[0]["ride_through_allowed"] is False  # no-ride first: it takes precedence
    parking_only = [r for r in rules if r.get("station_parking")]
    assert len([r for r in parking_only if r.get("maximum_speed_kph") == 15]) == 15
    assert {r.get("maximum_speed_kph") for r in rules} >= {6, 10, 15}
    assert zones["global_rules"][0]["maximum_speed_kph"] == 25
    stations = documents["station_information"]["data"]["stations"]
    assert len(stations) == 600 and all(s["is_virtual_station"] for s in stations)
    assert server.get("/gbfs/v3/vehicle_status.json").status_code == 404


def test_a_vehicle_id_never_survives_a_trip(
    demo_city: str, server: Any, db: psycopg.Connection
) -> None:
    """GBFS v3: a vehicle_id is rotated to a random string after every trip. Three evening
    hours of one demo operator's vehicle_status, every 15 minutes: an id always stands where it
    first stood, an id gone (its scooter rode off) never comes back, new ids appear as trips end
    - and a scooter that did not ride keeps its id (the simulator's own fleet index says which
    scooter is which; the feed never does)."""
    start = datetime(2026, 2, 5, 12, 0, tzinfo=UTC)  # 17:00 in Almaty
    where, seen, gone = spots(db), {}, set()
    previous: dict[int, str] = {}
    seen_before: set[str] = set()
    for k in range(13):
        at = start + timedelta(minutes=15 * k)
        answer = server.get("/demo/operators/whoosh/vehicle_status.json", params={"at": at})
        listed = {v["vehicle_id"]: (v["lon"], v["lat"]) for v in answer.json()["data"]["vehicles"]}
        if k == 0:
            assert_valid("vehicle_status", answer.json())
        assert not gone & set(listed), "an id came back after its scooter rode off"
        for vid, place in listed.items():
            assert seen.setdefault(vid, place) == place, f"{vid} moved under the same id"
        fleet = vehicles(where, DEMO_OPERATORS["whoosh"], at)
        assert sorted(fleet["ids"].tolist()) == sorted(listed)
        now = dict(zip(fleet["fleet"].tolist(), fleet["ids"].tolist(), strict=True))
        if previous:
            stayed = set(previous) & set(now)
            assert all(previous[i] == now[i] for i in stayed), "an id rotated without a trip"
            returned = set(now) - set(previous)  # rode during the last step, stand again now
            assert returned and all(now[i] not in seen_before for i in returned)
            assert len(stayed) > 0.7 * len(now)
        gone |= set(previous.values()) - set(listed)
        seen_before = set(seen)
        previous = now
    assert len(seen) > 1.1 * len(listed)  # three evening hours: many trips, many new ids


# MDS 2.0 Policy and Geography, their field tables as JSON schema (required fields, types,
# enums), transcribed from the published MDS 2.0 models (policy, policy rule, geography and
# their data types): no package on PyPI, npm or Debian ships the MDS JSON schemas (tried:
# PyPI mds-provider - no such distribution; npm @mds-core/mds-schema-validators,
# @mds-core/mds-types, @openmobilityfoundation/mds, mobility-data-specification, mds-schemas -
# 404; PyPI cob-mds, atd-mds-client, mds-core ship no MDS 2.0 schema). docs/scooters.md.
MDS_UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}
MDS_STRING = {"type": "string", "maxLength": 255}
MDS_TIMESTAMP = {"type": "integer", "minimum": 1514764800000}
MDS_ENVELOPE = {
    "type": "object",
    "required": ["version", "updated", "data"],
    "properties": {
        "version": {"type": "string", "pattern": r"^2\.(\d|[1-9]\d+)\.(\d|[1-9]\d+)$"},
        "updated": MDS_TIMESTAMP,
    },
}
MDS_GEOGRAPHY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "geography_id", "geography_json", "published_date"],
    "properties": {
        "name": MDS_STRING,
        "description": MDS_STRING,
        "geography_type": {"type": "string"},
        "geography_id": MDS_UUID,
        "geography_json": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"const": "FeatureCollection"},
                "features": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "geometry", "properties"],
                        "properties": {"type": {"const": "Feature"}},
                    },
                },
            },
        },
        "effective_date": MDS_TIMESTAMP,
        "published_date": MDS_TIMESTAMP,
        "retire_date": MDS_TIMESTAMP,
        "prev_geographies": {"type": "array", "items": MDS_UUID, "uniqueItems": True},
    },
}
VEHICLE_STATES = [
    "removed",
    "available",
    "non_operational",
    "reserved",
    "on_trip",
    "stopped",
    "non_contactable",
    "missing",
    "elsewhere",
]
MDS_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "rule_id", "rule_type", "geographies", "states"],
    "properties": {
        "name": MDS_STRING,
        "rule_id": MDS_UUID,
        "rule_type": {"enum": ["count", "time", "speed", "user"]},
        "geographies": {"type": "array", "items": MDS_UUID, "minItems": 1},
        "states": {
            "type": "object",
            "propertyNames": {"enum": VEHICLE_STATES},
            "additionalProperties": {
                "type": "array",
                "uniqueItems": True,
                "items": {"type": "string"},
            },
        },
        "rule_units": {
            "enum": ["seconds", "minutes", "hours", "days", "mph", "kph", "devices", None]
        },
        "vehicle_types": {
            "type": "array",
            "items": {
                "enum": [
                    "bicycle",
                    "bus",
                    "cargo_bicycle",
                    "car",
                    "delivery_robot",
                    "moped",
                    "motorcycle",
                    "scooter_standing",
                    "scooter_seated",
                    "truck",
                    "other",
                ]
            },
        },
        "propulsion_types": {"type": "array", "items": {"type": "string"}},
        "minimum": {"type": ["integer", "null"]},
        "maximum": {"type": ["integer", "null"]},
        "inclusive_minimum": {"type": ["boolean", "null"]},
        "inclusive_maximum": {"type": ["boolean", "null"]},
        "rate_amount": {"type": ["integer", "null"]},
        "rate_recurrence": {"type": ["string", "null"]},
        "rate_applies_when": {"enum": ["in_bounds", "out_of_bounds", None]},
        "start_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]$"},
        "end_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]$"},
        "days": {
            "type": "array",
            "items": {"enum": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]},
        },
        "messages": {
            "type": ["object", "null"],
            "propertyNames": {"pattern": "^[a-z]{2,3}(-[A-Za-z0-9]+)*$"},
            "additionalProperties": {"type": "string"},
        },
        "value_url": {"type": ["string", "null"]},
    },
    "oneOf": [
        {
            "required": ["rule_units"],
            "properties": {"rule_type": {"const": "count"}, "rule_units": {"const": "devices"}},
        },
        {
            "required": ["rule_units"],
            "properties": {"rule_type": {"const": "speed"}, "rule_units": {"enum": ["mph", "kph"]}},
        },
        {
            "required": ["rule_units"],
            "properties": {
                "rule_type": {"const": "time"},
                "rule_units": {"enum": ["seconds", "minutes", "hours", "days"]},
            },
        },
        {"properties": {"rule_type": {"const": "user"}, "rule_units": {"type": "null"}}},
    ],
}
MDS_POLICY = {
    "type": "object",
    "required": [
        "name",
        "mode_id",
        "policy_id",
        "description",
        "start_date",
        "published_date",
        "rules",
    ],
    "properties": {
        "name": MDS_STRING,
        "mode_id": {
            "enum": ["micromobility", "passenger-services", "car-share", "delivery-robots"]
        },
        "policy_id": MDS_UUID,
        "provider_ids": {"type": "array", "items": MDS_UUID},
        "description": MDS_STRING,
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "start_date": MDS_TIMESTAMP,
        "end_date": MDS_TIMESTAMP,
        "published_date": MDS_TIMESTAMP,
        "prev_policies": {"type": "array", "items": MDS_UUID},
        "rules": {"type": "array", "minItems": 1, "items": MDS_RULE},
    },
}


MDS_GPS = {
    "type": "object",
    "required": ["lat", "lng"],
    "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lng": {"type": "number", "minimum": -180, "maximum": 180},
    },
}
MDS_TRIP = {  # MDS 2.0 trip (the base table; the micromobility mode adds only optional fields)
    "type": "object",
    "required": [
        "provider_id",
        "device_id",
        "trip_id",
        "start_time",
        "end_time",
        "start_location",
        "end_location",
        "duration",
        "distance",
    ],
    "properties": {
        "provider_id": MDS_UUID,
        "data_provider_id": MDS_UUID,
        "device_id": MDS_UUID,
        "trip_id": MDS_UUID,
        "trip_type": {"enum": ["rider", "rebalance", "maintenance"]},
        "start_time": MDS_TIMESTAMP,
        "end_time": MDS_TIMESTAMP,
        "start_location": MDS_GPS,
        "end_location": MDS_GPS,
        "duration": {"type": "integer", "minimum": 0},
        "distance": {"type": "integer", "minimum": 0},
        "publication_time": MDS_TIMESTAMP,
        "parking_category": {"enum": ["corral", "curb", "rack", "other_valid", "invalid"]},
    },
}


def mds_errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, e.path))}: {e.message[:160]}" for e in validator.iter_errors(document)
    ]


def test_the_city_publishes_mds_policy_and_geographies(demo_city: str, server: Any) -> None:
    """MDS 2.0 Policy and Geography, checked against the standard's field tables (required
    fields, types, enums; above): every rule names geographies that exist, with the units its
    type requires, and the policy starts at least 20 minutes after it is published."""
    geographies = server.get("/mds/geographies").json()
    policies = server.get("/mds/policies").json()
    for document, key, item in (
        (geographies, "geographies", MDS_GEOGRAPHY),
        (policies, "policies", MDS_POLICY),
    ):
        envelope = {
            **MDS_ENVELOPE,
            "properties": {
                **MDS_ENVELOPE["properties"],
                "data": {
                    "type": "object",
                    "required": [key],
                    "properties": {key: {"type": "array", "items": item}},
                },
            },
        }
        assert not mds_errors(envelope, document), mds_errors(envelope, document)[:5]
    # the tables are not blind: the field names the twin once got wrong are refused
    geography = geographies["data"]["geographies"][0]
    renamed = {**geography, "publish_date": geography["published_date"]}
    del renamed["published_date"]
    assert len(mds_errors(MDS_GEOGRAPHY, renamed)) == 2  # unknown field, required one missing
    rule = policies["data"]["policies"][0]["rules"][0]
    assert mds_errors(MDS_RULE, {**rule, "rule_type": "count", "rule_units": "kph"})
    for geography in geographies["data"]["geographies"]:
        assert geography["effective_date"] >= geography["published_date"]
    for document in (geographies, policies):
        assert document["version"] == "2.0.0" and isinstance(document["updated"], int)
    known = {}
    for geography in geographies["data"]["geographies"]:
        uuid.UUID(geography["geography_id"])
        assert geography["geography_json"]["type"] == "FeatureCollection"
        assert geography["geography_json"]["features"][0]["geometry"]["type"] == "MultiPolygon"
        known[geography["geography_id"]] = geography
    (policy,) = policies["data"]["policies"]
    assert {"name", "policy_id", "description", "start_date", "published_date", "rules"} <= set(
        policy
    )
    assert policy["start_date"] - policy["published_date"] >= 20 * 60 * 1000
    units = {"count": "devices", "speed": "kph", "user": None}
    for rule in policy["rules"]:
        uuid.UUID(rule["rule_id"])
        assert rule["geographies"] and set(rule["geographies"]) <= set(known)
        assert rule.get("rule_units") == units[rule["rule_type"]], rule
        assert set(rule["states"]) <= {"available", "non_operational", "on_trip", "reserved"}
    speeds = sorted(r["maximum"] for r in policy["rules"] if r["rule_type"] == "speed")
    assert speeds == [6, 10, 15, 25]


def _positions(conn: psycopg.Connection, operator: str) -> int:
    return conn.execute(
        "SELECT (SELECT count(*) FROM scooter_positions WHERE operator = %(o)s)"
        " + (SELECT count(*) FROM scooter_latest WHERE operator = %(o)s)",
        {"o": operator},
    ).fetchone()[0]


def _bad(raw: dict[str, bytes], feed: str, change: Any) -> dict[str, bytes]:
    document = orjson.loads(raw[feed])
    change(document)
    return {**raw, feed: orjson.dumps(document)}


def test_bad_feeds_are_refused_with_their_reasons_and_nothing_written(
    demo_city: str, db: psycopg.Connection
) -> None:
    """A poll with broken JSON, a schema-invalid vehicle, a stale last_updated, a scooter
    outside the city or a vehicle id twice is refused as a whole: the outcome names the
    reason and lists the problem, and no position of it is stored."""
    at = datetime(2026, 2, 3, 9, 30, tzinfo=UTC)
    good = demo_documents(db, "whoosh", at)
    city = city_frame(db)

    def vehicles(document: dict[str, Any]) -> list[dict[str, Any]]:
        return document["data"]["vehicles"]

    def stale(document: dict[str, Any]) -> None:
        document["last_updated"] = (at - timedelta(hours=1)).isoformat()

    def invalid(document: dict[str, Any]) -> None:
        del vehicles(document)[7]["is_reserved"]

    def outside(document: dict[str, Any]) -> None:
        vehicles(document)[3].update(lat=51.17, lon=71.45)  # Astana

    def twice(document: dict[str, Any]) -> None:
        vehicles(document)[5]["vehicle_id"] = vehicles(document)[4]["vehicle_id"]

    cases = {
        "broken_json": {**good, "vehicle_status": good["vehicle_status"][:-40]},
        "schema_invalid": _bad(good, "vehicle_status", invalid),
        "stale": _bad(good, "vehicle_status", stale),
        "outside_city": _bad(good, "vehicle_status", outside),
        "duplicate_vehicle": _bad(good, "vehicle_status", twice),
    }
    # the hand checks agree with the published schema where the schema can tell
    assert not schema("vehicle_status").is_valid(
        orjson.loads(cases["schema_invalid"]["vehicle_status"])
    )
    assert schema("vehicle_status").is_valid(orjson.loads(good["vehicle_status"]))
    for reason, raw in cases.items():
        operator = f"bad-{reason}"
        outcome = ingest(db, operator, raw, at, city)
        assert (outcome.outcome, outcome.reason) == ("rejected", reason)
        assert outcome.problems and outcome.count >= 1
        assert _positions(db, operator) == 0
        details = db.execute(
            "SELECT reason, details FROM scooter_polls WHERE operator = %s", (operator,)
        ).fetchone()
        assert details[0] == reason and details[1]["problems"] == outcome.problems
    listed = {
        "schema_invalid": "vehicles[7]",
        "outside_city": "51.17000",
        "duplicate_vehicle": "listed twice",
        "stale": "3600 s old",
    }
    for reason, text in listed.items():
        (problems,) = db.execute(
            "SELECT details->'problems' FROM scooter_polls WHERE operator = %s",
            (f"bad-{reason}",),
        ).fetchone()
        assert any(text in p for p in problems), (reason, problems)
    stored = ingest(db, "bad-none", good, at, city)  # the same feed unharmed is stored
    assert stored.outcome == "stored" and _positions(db, "bad-none") == 2 * stored.vehicles


def _envelope(data: dict[str, Any], at: datetime) -> bytes:
    return orjson.dumps({"last_updated": at.isoformat(), "ttl": 60, "version": "3.0", "data": data})


def test_a_docked_fleet_stands_at_its_stations(demo_city: str, db: psycopg.Connection) -> None:
    """A hand-made operator with two stations: a vehicle given only by its station_id stands at
    the station (station_information), the station's status is kept, and one standing within
    25 m of a parking spot counts as parked."""
    at = datetime(2026, 2, 4, 7, 0, tzinfo=UTC)
    spot_id, lon, lat = db.execute(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM scooter_parking ORDER BY id LIMIT 1"
    ).fetchone()
    stations = [
        {
            "station_id": "s1",
            "name": [{"text": "At the spot", "language": "en"}],
            "lat": lat,
            "lon": lon,
        },
        {
            "station_id": "s2",
            "name": [{"text": "Far", "language": "en"}],
            "lat": lat + 0.01,
            "lon": lon + 0.01,
        },
    ]
    status = [
        {
            "station_id": s,
            "num_vehicles_available": n,
            "is_installed": True,
            "is_renting": True,
            "is_returning": True,
            "last_reported": at.isoformat(),
        }
        for s, n in (("s1", 1), ("s2", 1))
    ]
    vehicles = [
        {"vehicle_id": "v1", "station_id": "s1", "is_reserved": False, "is_disabled": False},
        {"vehicle_id": "v2", "station_id": "s2", "is_reserved": False, "is_disabled": False},
    ]
    raw = {
        "station_information": _envelope({"stations": stations}, at),
        "station_status": _envelope({"stations": status}, at),
        "vehicle_status": _envelope({"vehicles": vehicles}, at),
    }
    for feed in raw:
        assert_valid(feed, orjson.loads(raw[feed]))
    outcome = ingest(db, "docked", raw, at)
    assert (outcome.outcome, outcome.vehicles, outcome.stations) == ("stored", 2, 2)
    placed = dict(
        db.execute(
            "SELECT vehicle_id, parking_id FROM scooter_latest WHERE operator = 'docked'"
        ).fetchall()
    )
    assert placed == {"v1": spot_id, "v2": None}
    (kept,) = db.execute(
        "SELECT count(*) FROM scooter_station_status WHERE operator = 'docked'"
    ).fetchone()
    assert kept == 2


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
VEHICLE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "vehicle_id": st.text(max_size=6) | JSON_VALUES,
        "lat": st.floats(allow_nan=True) | JSON_VALUES,
        "lon": st.floats(allow_nan=True) | JSON_VALUES,
        "is_reserved": st.booleans() | JSON_VALUES,
        "is_disabled": st.booleans() | JSON_VALUES,
        "station_id": st.text(max_size=4) | JSON_VALUES,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(VEHICLE_FIELDS | JSON_VALUES, max_size=6))
def test_any_vehicle_list_is_read_or_refused_with_a_reason(vehicles: list[Any]) -> None:
    """Whatever an operator puts in `vehicles`, the reader returns checked columns or refuses
    with one of its reasons - never another error."""
    document = {"data": {"vehicles": vehicles}}
    try:
        found = read_vehicles(document, {"s": (76.9, 43.2)}, (76.7, 43.0, 77.2, 43.4))
    except FeedRejected as refused:
        assert refused.reason in {"schema_invalid", "duplicate_vehicle", "outside_city"}
        assert refused.problems
    else:
        assert len(found) == len(vehicles) and len(set(found.ids)) == len(found.ids)


def test_the_demo_trips_are_mds_trips(demo_city: str, db: psycopg.Connection) -> None:
    """The demo's day of trips (what `twin load demo` imports) are MDS 2.0 trips by the field
    table: UUIDs for provider, device and trip, times in ms, {lat, lng} ends, whole metres and
    seconds."""
    trips = demo_trip_rows(db, "small", 1)
    errors = [f"trip {i}: {e}" for i, t in enumerate(trips) for e in mds_errors(MDS_TRIP, t)]
    assert not errors, errors[:5]
    assert all(t["end_time"] >= t["start_time"] for t in trips)
    assert mds_errors(MDS_TRIP, {**trips[0], "device_id": "jet-00001"})  # the table can refuse

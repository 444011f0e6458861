"""Story: the road police post their crash records over HTTP (CSV or GeoJSON) with an admin's
key; a row without a place refuses the batch with its row and reason and nothing is written;
where the streets carry a signed speed limit the hotspot says so, elsewhere it says the limit
is assumed by class. Also: the trips' array checks agree with the row-by-row check.

The crash stories use the year 2034, which the demo (2017-2021) and the other stories never
reach, and remove their rows and the speed limits they set after.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator

import numpy as np
import orjson
import psycopg
import pytest

from test_crashes import JUNCTION
from twin.editing.users import add_user
from twin.importers.osm import _maxspeed
from twin.scooters.hotspots import SPEED_LIMIT_KMH, publish_hotspots
from twin.scooters.trips import check_trip, check_trips

CSV_HEADER = "occurred_at,severity,killed,injured,pedestrian,vehicle_types,lat,lon,address\n"


@pytest.fixture()
def police(demo_city: str, db: psycopg.Connection) -> Iterator[tuple[psycopg.Connection, str]]:
    """The session's database and an admin's key; the year 2034 and speed limits undone."""
    key = add_user(db, f"police-{uuid.uuid4().hex[:6]}", "admin", [])
    yield db, key
    db.execute("DELETE FROM crashes WHERE year = 2034")
    db.execute("UPDATE streets SET max_speed_kmh = NULL WHERE max_speed_kmh IS NOT NULL")
    publish_hotspots(db)


def year_count(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM crashes WHERE year = 2034").fetchone()[0]


def test_crashes_posted_as_csv_are_all_or_nothing_with_rows_and_reasons(server, police):
    db, key = police
    a, b, x, y = db.execute(JUNCTION).fetchone()
    body = (
        CSV_HEADER
        + f"2034-04-01T08:00:00,slight,0,1,false,car,{y},{x},\n"
        + f"2034-04-02T09:00:00,serious,0,2,true,car,,,{a} / {b}\n"
        + "2034-04-03T10:00:00,slight,0,1,false,car,,,\n"  # no place
        + "2034-04-04T11:00:00,fatal,0,1,true,car,43.25,76.95,\n"  # fatal without a death
    )
    editor = add_user(db, f"crash-editor-{uuid.uuid4().hex[:6]}", "editor", ["plots"])
    headers = {"Content-Type": "text/csv"}
    refused = server.post("/crashes", content=body, headers={**headers, "X-API-Key": editor})
    assert refused.status_code == 403
    answer = server.post(
        "/crashes", content=body, headers={**headers, "X-API-Key": key}, params={"source": "gai"}
    )
    assert answer.status_code == 400, answer.text
    report = answer.json()["report"]
    assert (report["received"], report["refused"], report["written"]) == (4, 2, 0)
    assert report["refused_rows"] == [
        {"row": 4, "reasons": ["no place: neither lat/lon nor an address"]},
        {"row": 5, "reasons": ["severity fatal goes with killed > 0, and only with it"]},
    ]
    assert year_count(db) == 0, "a refused batch writes nothing"

    answer = server.post(
        "/crashes",
        content=body,
        headers={**headers, "X-API-Key": key},
        params={"source": "gai", "accept_valid": "true"},
    )
    assert answer.status_code == 201, answer.text
    document = answer.json()
    assert (document["written"], document["placed_by_address"], document["source"]) == (2, 1, "gai")
    assert year_count(db) == 2

    bad = server.post(
        "/crashes", content=b"{", headers={"Content-Type": "application/geo+json", "X-API-Key": key}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["description"]
    odd = server.post(
        "/crashes", content=body, headers={"Content-Type": "text/xml", "X-API-Key": key}
    )
    assert odd.status_code == 400 and "text/csv" in odd.json()["description"]


def test_geojson_crashes_make_a_hotspot_whose_speed_limit_is_signed_or_assumed(server, police):
    db, key = police
    a, b, x, y = db.execute(JUNCTION).fetchone()
    rng = np.random.default_rng(11)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x + dx, y + dy]},
            "properties": {
                "occurred_at": f"2034-02-{day:02d}T18:30:00",
                "severity": "serious",
                "injured": 1,
                "pedestrian": day % 2 == 0,
                "vehicle_types": ["car", "e-scooter"],
            },
        }
        for day, (dx, dy) in enumerate(rng.normal(0, 0.00003, (10, 2)).tolist(), 1)
    ]
    line = {"type": "LineString", "coordinates": [[76.9, 43.2], [76.91, 43.21]]}
    collection = {
        "type": "FeatureCollection",
        "features": [*features, {**features[0], "geometry": line}],
    }
    headers = {"Content-Type": "application/geo+json", "X-API-Key": key}
    answer = server.post("/crashes", content=orjson.dumps(collection), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["report"]["refused_rows"] == [
        {"row": 11, "reasons": ["the geometry is not a Point [lon, lat]"]}  # features from 1
    ]
    collection["features"] = features
    answer = server.post("/crashes", content=orjson.dumps(collection), headers=headers)
    assert answer.status_code == 201 and answer.json()["written"] == 10

    def top() -> tuple:
        return db.execute(
            "SELECT crashes, street, street_class, speed_limit_kmh, speed_limit_source "
            "FROM crash_hotspots WHERE year = 2034 ORDER BY rank LIMIT 1"
        ).fetchone()

    crashes, street, street_class, limit, source = top()
    assert crashes == 10 and street in {a, b}
    assert (limit, source) == (SPEED_LIMIT_KMH[street_class], "assumed")
    # the streets the crashes were snapped to carry a signed 40 km/h: the hotspot says attested
    db.execute(
        "UPDATE streets SET max_speed_kmh = 40 WHERE id IN "
        "(SELECT street_id FROM crashes WHERE year = 2034)"
    )
    publish_hotspots(db)
    assert top()[3:] == (40, "attested")


def test_maxspeed_tags_read_in_km_per_hour():
    assert [_maxspeed(v) for v in ("60", "40 mph", "KZ:urban", "RU:living_street")] == [
        60, 64, 60, 20,
    ]  # fmt: skip
    assert [_maxspeed(v) for v in ("none", "signals", None, "0")] == [None] * 4


def test_the_array_checks_agree_with_the_row_by_row_check():
    base = {
        "provider_id": "p",
        "provider_name": "Jet",
        "device_id": "jet-1",
        "trip_id": "t",
        "start_time": 1_900_000_000_000,
        "end_time": 1_900_000_600_000,  # ten minutes
        "start_location": {"lat": 43.25, "lng": 76.945},
        "end_location": {"lat": 43.256, "lng": 76.955},
    }
    odd = [
        {},
        {"route": [[76.945, 43.25], [76.955, 43.25], [76.955, 43.256]]},
        {"route": [[76.945, 43.25, 800.0], [76.955, 43.256, 810.0]]},  # with altitude
        {"route": [{"lat": 43.25, "lng": 76.945}, [76.955, 43.256]]},  # mixed points
        {"route": [[76.945, float("nan")], [76.955, 43.256]]},
        {"route": [[76.945, 43.25], [78.0, 43.256]]},  # leaves the city
        {"route": [[76.945]]},
        {"route": "along Abai"},
        {"route": []},
        {"start_time": True},
        {"start_time": "2030-03-17T09:00:00+00:00", "end_time": "2030-03-17T09:10:00+00:00"},
        {"end_time": 1_900_000_000_000},  # ends as it starts
        {"end_time": 1_900_000_030_000},  # 1.2 km in 30 s
        {"distance": 1e9},
        {"distance": None},
        {"trip_id": "  "},
        {"trip_id": 42},
        {"device_id": "x" * 300},
        {"provider_name": "J\x00et"},
        {"provider_id": None, "provider_name": None},
        {"start_location": {"type": "Point", "coordinates": [76.945, 43.25]}},
        {"end_location": {"lat": 51.13, "lng": 71.43}},  # Astana
        {"start_time": 1e20},
    ]
    rows = []
    for n, change in enumerate(odd):
        trip = copy.deepcopy(base)
        trip.update(change, trip_id=change.get("trip_id", f"t{n}"))
        rows.append(trip)
    rows.append("not a trip")
    batch, refused = check_trips(rows)
    taken = 0
    for i, raw in enumerate(rows):
        expected = check_trip(raw)
        if isinstance(expected, list):
            assert refused[i] == expected, (i, odd[i] if i < len(odd) else raw)
            continue
        assert i not in refused, (i, refused[i])
        path = batch.points[batch.offsets[taken] : batch.offsets[taken + 1]]
        assert np.allclose(path, expected.path) and batch.has_route[taken] == expected.has_route
        assert batch.trip_id[taken] == expected.trip_id
        assert batch.provider_id[taken] == expected.provider_id
        assert batch.distance_m[taken] == pytest.approx(expected.distance_m)
        taken += 1
    assert taken == len(batch) >= 8 and len(refused) >= 12

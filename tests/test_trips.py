"""Story: an operator sends a day of MDS trips; bad rows are refused with reasons and nothing
is half-written; the H3 x hour cells and the key sections' flows count what was sent.

The trips fall on 2024-03-01 (UTC), a day no other story uses; the module removes them after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import orjson
import psycopg
import pytest
from h3.api import basic_int as h3int

from conftest import run_twin
from twin.editing.users import add_user
from twin.scooters.trips import (
    H3_RESOLUTION,
    TripsRefused,
    ingest_trips,
    read_trips,
    refresh_trip_cells,
    route_cells,
)

DAY = "2024-03-01"
A = (76.9450, 43.2500)  # lon, lat in the centre
B = (76.9550, 43.2560)
C = (76.9300, 43.2420)


def ms(hhmm: str) -> int:
    """Milliseconds since the epoch of a time of DAY (MDS times)."""
    return int(datetime.fromisoformat(f"{DAY}T{hhmm}:00+00:00").timestamp() * 1000)


def trip(trip_id: str, start: str, end: str, a: tuple, b: tuple, **extra: object) -> dict:
    return {
        "provider_id": "7d6f1d5e-0000-4000-8000-000000000001",
        "provider_name": "Jet",
        "device_id": "jet-00001",
        "trip_id": trip_id,
        "start_time": ms(start),
        "end_time": ms(end),
        "start_location": {"lat": a[1], "lng": a[0]},
        "end_location": {"lat": b[1], "lng": b[0]},
        **extra,
    }


def cell(point: tuple) -> int:
    return h3int.latlng_to_cell(point[1], point[0], H3_RESOLUTION)


@pytest.fixture()
def clean_day(demo_city: str, db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    yield db
    db.execute(
        "DELETE FROM scooter_trips WHERE start_time >= %s AND start_time < %s::date + 1", (DAY, DAY)
    )
    db.execute("DELETE FROM trip_cells WHERE hour >= %s AND hour < %s::date + 1", (DAY, DAY))


def day_counts(db: psycopg.Connection) -> tuple[int, int]:
    trips = db.execute(
        "SELECT count(*) FROM scooter_trips WHERE start_time >= %s AND start_time < %s::date + 1",
        (DAY, DAY),
    ).fetchone()[0]
    cells = db.execute(
        "SELECT count(*) FROM trip_cells WHERE hour >= %s AND hour < %s::date + 1", (DAY, DAY)
    ).fetchone()[0]
    return trips, cells


def test_bad_rows_are_listed_with_reasons_and_nothing_is_written(clean_day):
    db = clean_day
    lines = [
        trip("good-1", "08:00", "08:10", A, B),
        trip("far-away", "08:00", "23:00", A, (77.5, 43.6)),  # Kapchagay road: outside
        trip("rocket", "08:00", "08:02", A, (76.99, 43.28)),  # ~4 km in 2 minutes
        trip("backwards", "09:00", "08:50", A, B),
        trip("good-1", "10:00", "10:10", B, A),  # the same trip id twice
        {"trip_id": "nowhere", "start_time": ms("08:00"), "end_time": ms("08:10")},
        trip("good-2", "08:30", "08:45", B, C),
    ]
    rows = read_trips(b"\n".join(orjson.dumps(r) for r in lines), "day.ndjson")
    with pytest.raises(TripsRefused) as refused:
        ingest_trips(db, rows)
    report = refused.value.report.document()
    assert (report["received"], report["refused"], report["written"]) == (7, 5, 0)
    assert report["reasons"] == {
        "outside the city": 1,
        "impossible speed (over 30 km/h)": 1,
        "ends before it starts": 1,
        "duplicate trip_id (row 1)": 1,
        "start_location has no coordinates": 1,
        "end_location has no coordinates": 1,
    }
    assert [r["trip_id"] for r in report["refused_rows"]] == [
        "far-away", "rocket", "backwards", "good-1", "nowhere",
    ]  # fmt: skip
    assert day_counts(db) == (0, 0), "a refused batch writes nothing"

    written = ingest_trips(db, rows, accept_valid=True).document()
    assert (written["written"], written["refused"]) == (2, 5)
    assert day_counts(db)[0] == 2

    # sent again: both are already stored, so the batch is refused and nothing changes
    before = day_counts(db)
    with pytest.raises(TripsRefused) as again:
        ingest_trips(db, [lines[0], lines[-1]])
    assert again.value.report.reasons == {"trip_id already stored": 2}
    assert day_counts(db) == before


def test_h3_hour_cells_equal_a_hand_count(clean_day):
    db = clean_day
    zone, inside = db.execute(
        "SELECT name, ST_AsGeoJSON(ST_PointOnSurface(geom))::json FROM scooter_zones "
        "WHERE kind = 'key_section' AND NOT ST_Intersects(geom, ST_GeomFromText(%s, 4326)) "
        "ORDER BY name LIMIT 1",
        (f"MULTIPOINT({A[0]} {A[1]}, {B[0]} {B[1]}, {C[0]} {C[1]})",),
    ).fetchone()
    K = tuple(inside["coordinates"])
    ingest_trips(
        db,
        [
            trip("t1", "08:10", "08:20", A, B),
            trip("t2", "08:40", "09:05", A, C),  # ends in the next hour
            trip("t3", "09:15", "09:25", B, A, route=[list(B), [A[0], B[1]], list(A)]),
            trip("t4", "17:05", "17:20", K, A),  # from a key section
        ],
    )
    rows = db.execute(
        "SELECT h3, extract(hour FROM hour AT TIME ZONE 'UTC')::int, origins, destinations, "
        "routes FROM trip_cells WHERE hour >= %s AND hour < %s::date + 1",
        (DAY, DAY),
    ).fetchall()
    got = {(h, hour): (o, d, r) for h, hour, o, d, r in rows}

    def at(point: tuple, hour: int) -> tuple[int, int, int]:
        return got.get((h3int.int_to_str(cell(point)), hour), (0, 0, 0))

    assert at(A, 8)[0] == 2  # t1 and t2 start at A between 08:00 and 09:00
    assert at(B, 8)[1] == 1 and at(C, 9)[1] == 1 and at(A, 9)[1] == 1  # ends, by end hour
    assert at(B, 9)[0] == 1 and at(K, 17)[0] == 1
    assert at(A, 8)[2] == 2  # both 08:00 trips pass A (their start cell)
    # t3's route (B, corner, A) passes these cells at 09:00, each once
    for c in route_cells([B, (A[0], B[1]), A]):
        assert got[(h3int.int_to_str(c), 9)][2] == 1
    assert sum(o for o, _, _ in got.values()) == 4
    assert sum(d for _, d, _ in got.values()) == 4
    # the key sections' flows of the day: t4 starts in one of them at 17:00
    from twin.scooters.trips import day_summary

    summary = day_summary(db, DAY)
    assert summary["trips"] == 4 and len(summary["key_sections"]) == 15
    section = next(s for s in summary["key_sections"] if s["name"] == zone)
    assert {"hour": f"{DAY}T17:00:00+00:00", "starts": 1, "ends": 0, "through": 1} in section[
        "hours"
    ]


def test_import_trips_command_refuses_a_csv_with_reasons(demo_city, tmp_path):
    path = tmp_path / "trips.csv"
    path.write_text(
        "trip_id,provider_name,device_id,start_time,end_time,start_lat,start_lon,end_lat,end_lon\n"
        f"c1,Jet,j1,{DAY}T07:00:00Z,{DAY}T07:10:00Z,{A[1]},{A[0]},{B[1]},{B[0]}\n"
        f"c2,Jet,j1,{DAY}T07:00:00Z,{DAY}T07:10:00Z,{A[1]},{A[0]},40.0,70.0\n"
    )
    result = run_twin("import-trips", str(path), check=False)
    assert result.returncode != 0
    assert "1 of 2 trips refused, nothing written" in result.stderr
    assert "row 2 (c2): outside the city" in result.stderr


def test_only_an_admin_key_posts_trips(demo_city, server, db):
    body = orjson.dumps({"version": "2.0", "trips": [trip("http-1", "11:00", "11:12", A, B)]})
    tag = uuid.uuid4().hex[:6]
    editor = add_user(db, f"trips-editor-{tag}", "editor", ["plots"])
    answer = server.post(
        "/scooters/trips",
        content=body,
        headers={"X-API-Key": editor, "Content-Type": "application/json"},
    )
    assert answer.status_code == 403
    admin = add_user(db, f"trips-operator-{tag}", "admin", [])
    try:
        answer = server.post(
            "/scooters/trips",
            content=body,
            headers={"X-API-Key": admin, "Content-Type": "application/vnd.mds+json"},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["written"] == 1
        again = server.post(
            "/scooters/trips",
            content=body,
            headers={"X-API-Key": admin, "Content-Type": "application/json"},
        )
        assert again.status_code == 400
        assert again.json()["report"]["reasons"] == {"trip_id already stored": 1}
        day = server.get("/scooters/trips", params={"date": DAY}).json()
        assert day["trips"] == 1 and day["hours"][0]["operators"]["Jet"]["trips"] == 1
    finally:
        db.execute("DELETE FROM scooter_trips WHERE trip_id = 'http-1'")
        db.execute("DELETE FROM trip_cells WHERE hour >= %s AND hour < %s::date + 1", (DAY, DAY))


def test_injury_reports_are_kept_where_given_and_set_beside_the_crash_hotspots(clean_day, server):
    db = clean_day
    P = (76.9500, 43.2530)  # on the way from A to B
    serious = {"severity": "serious", "location": {"lat": P[1], "lng": P[0]}, "time": ms("08:05")}
    lines = [
        trip("hurt-1", "08:00", "08:10", A, B, injury=serious),
        trip("hurt-2", "09:00", "09:10", B, A, injury={"severity": "slight"}),  # no place
        trip("hurt-3", "10:00", "10:10", A, C, injury={"severity": "bad", "time": ms("13:00")}),
    ]
    with pytest.raises(TripsRefused) as refused:
        ingest_trips(db, lines)
    assert refused.value.report.rows == [
        {
            "row": 3,
            "trip_id": "hurt-3",
            "reasons": [
                "injury severity is one of fatal, serious, slight, unknown",
                "injury time is not within its trip",
            ],
        }
    ]
    mine = "SELECT count(*) FROM scooter_injuries WHERE trip_id LIKE 'hurt-%'"
    assert db.execute(mine).fetchone()[0] == 0, "a refused batch keeps no report"
    report = ingest_trips(db, lines, accept_valid=True).document()
    assert (report["written"], report["injuries"]) == (2, {"kept": 1, "without_place": 1})
    kept = db.execute(
        "SELECT h3, severity, operator, trip_id, occurred_at = %s::timestamptz, "
        "ST_X(geom), ST_Y(geom) FROM scooter_injuries WHERE trip_id LIKE 'hurt-%%'",
        (f"{DAY}T08:05:00Z",),
    ).fetchall()
    place = h3int.int_to_str(cell(P))
    assert kept == [(place, "serious", "Jet", "hurt-1", True, *P)]
    # a crash hotspot of 2024 in the same cell: the report is set beside it
    db.execute(
        "INSERT INTO crash_hotspots (year, h3, rank, crashes, geom) "
        "VALUES (2024, %s, 3, 7, ST_Buffer(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 0.001))",
        (place, *P),
    )
    try:
        answer = server.get("/scooters/injuries")
        assert answer.status_code == 200
        assert [c for c in answer.json()["cells"] if c["month"] == "2024-03"] == [
            {
                "h3": place,
                "month": "2024-03",
                "reports": 1,
                "fatal": 0,
                "serious": 1,
                "slight": 0,
                "unknown": 0,
                "operators": ["Jet"],
                "hotspot_rank": 3,
                "hotspot_crashes": 7,
            }
        ]
    finally:
        db.execute("DELETE FROM crash_hotspots WHERE year = 2024")
        db.execute("DELETE FROM scooter_injuries WHERE trip_id LIKE 'hurt-%'")


def test_a_second_batch_adds_to_the_hours_cells_as_a_recount_would(clean_day):
    """An operator sends the morning, then the rest of the day: the second batch adds to the
    (cell, hour) rows the first wrote, and the day's cells equal a recount of its trips."""
    db = clean_day
    ingest_trips(
        db,
        [
            trip("am-1", "08:10", "08:20", A, B),
            trip("am-2", "08:40", "09:05", A, C, route=[list(A), [C[0], A[1]], list(C)]),
        ],
        synthetic=True,
    )
    report = ingest_trips(
        db,
        [
            trip("pm-1", "08:50", "09:10", A, B),  # the same cells and hours as the morning's
            trip("pm-2", "09:15", "09:25", C, A, route=[list(C), [C[0], A[1]], list(A)]),
            trip("pm-3", "17:05", "17:20", B, C),
        ],
    ).document()
    cells_of_day = (
        "SELECT h3, hour, origins, destinations, routes, synthetic, ST_AsText(geom) "
        "FROM trip_cells "
        "WHERE hour >= %s AND hour < %s::date + 1 ORDER BY h3, hour"
    )
    added = db.execute(cells_of_day, (DAY, DAY)).fetchall()
    assert report["trip_cells"]["hours"] == 10  # 08:00 to 17:00
    assert 0 < report["trip_cells"]["rows"] < len(added), "the morning's cells were kept"
    a8 = next(r for r in added if r[0] == h3int.int_to_str(cell(A)) and r[1].hour == 8)
    assert a8[2:6] == (3, 0, 3, True)  # two morning starts and one more; synthetic stays
    start = datetime.fromisoformat(f"{DAY}T00:00:00+00:00")
    by_day = refresh_trip_cells(db, start, start + timedelta(days=1))  # from the stored trips
    assert by_day[1] == len(added)
    recounted = db.execute(cells_of_day, (DAY, DAY)).fetchall()
    assert added == recounted

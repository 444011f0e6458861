"""Story: the road police send a crash CSV; rows without a place are refused with reasons;
crashes gathered at one junction make that junction's cell the year's first hotspot, with its
street parameters beside it.

The stories use the years 2031 and 2032, which the demo's crashes (2017-2021) never reach, and
remove their rows after.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from h3.api import basic_int as h3int

from twin.scooters.crashes import CrashesRefused, import_crashes
from twin.scooters.hotspots import SPEED_LIMIT_KMH, empirical_bayes, publish_hotspots

HEADER = ["occurred_at", "severity", "killed", "injured", "pedestrian", "vehicle_types"]

# two drivable streets that meet at exactly one node, a junction of three or more segments
JUNCTION = """
WITH ends AS (
    SELECT name, highway, source_node AS node, ST_StartPoint(geom) AS pt FROM streets
    UNION ALL
    SELECT name, highway, target_node, ST_EndPoint(geom) FROM streets
), meets AS (
    SELECT a.name AS a, b.name AS b, min(a.node) AS node, count(DISTINCT a.node) AS places
    FROM ends a JOIN ends b ON a.node = b.node AND a.name < b.name
    WHERE a.highway IN ('primary', 'secondary', 'tertiary')
      AND b.highway IN ('primary', 'secondary', 'tertiary')
    GROUP BY a.name, b.name
)
SELECT m.a, m.b, ST_X(min(e.pt)), ST_Y(min(e.pt))
FROM meets m JOIN ends e ON e.node = m.node
WHERE m.places = 1
GROUP BY m.a, m.b, m.node
HAVING count(*) >= 3
ORDER BY m.node
LIMIT 1
"""


def row(when: str, **place: object) -> dict[str, str]:
    values = {
        "occurred_at": when,
        "severity": "slight",
        "killed": "0",
        "injured": "1",
        "pedestrian": "false",
        "vehicle_types": "car",
    }
    return {**values, **{k: str(v) for k, v in place.items()}}


@pytest.fixture()
def crash_db(demo_city: str, db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    yield db
    db.execute("DELETE FROM crashes WHERE year >= 2031")
    publish_hotspots(db)


def crash_count(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM crashes").fetchone()[0]


def test_rows_without_a_place_are_refused_with_reasons(crash_db):
    db = crash_db
    a, b, x, y = db.execute(JUNCTION).fetchone()
    rows = [
        row("2032-05-01T08:30:00", lat=43.2501, lon=76.9452),
        row("2032-05-01T09:00:00", address=f"{a} / {b}"),
        row("2032-05-01T10:00:00"),  # no place at all
        row("2032-05-01T11:00:00", address="Nowhere St. / Abai Ave."),
        row("2032-05-01T12:00:00", lat=51.13, lon=71.43),  # Astana
        row("yesterday", lat=43.25, lon=76.95),
    ]
    before = crash_count(db)
    with pytest.raises(CrashesRefused) as refused:
        import_crashes(db, rows, "police-2032.csv")
    report = refused.value.report.document()
    assert (report["received"], report["refused"], report["written"]) == (6, 4, 0)
    assert report["reasons"] == {
        "no place: neither lat/lon nor an address": 1,
        "no place: no street named 'Nowhere St.'": 1,
        "outside the city": 1,
        "occurred_at is not a date and time (ISO 8601)": 1,
    }
    assert [r["row"] for r in report["refused_rows"]] == [4, 5, 6, 7]  # CSV lines (header 1)
    assert crash_count(db) == before, "a refused file writes nothing"

    written = import_crashes(db, rows, "police-2032.csv", accept_valid=True).document()
    assert (written["written"], written["placed_by_address"], written["refused"]) == (2, 1, 4)
    placed = db.execute(
        "SELECT street, placed_by, ST_Distance(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), district "
        "FROM crashes WHERE source = 'police-2032.csv' AND placed_by = 'address'",
        (x, y),
    ).fetchone()
    assert placed[0] in {a, b} and placed[2] < 1.0 and placed[3]  # at the junction
    # the same file again replaces its rows, it does not add them twice
    import_crashes(db, rows, "police-2032.csv", accept_valid=True)
    assert crash_count(db) == before + 2


def test_crashes_gathered_at_a_junction_make_the_first_hotspot(crash_db):
    db = crash_db
    a, b, x, y = db.execute(JUNCTION).fetchone()
    rng = np.random.default_rng(7)
    rows = [
        row(
            f"2031-03-{day:02d}T18:00:00",
            lat=y + dy,
            lon=x + dx,
            pedestrian="true" if day < 5 else "false",
        )
        for day, (dx, dy) in enumerate(rng.normal(0, 0.00004, (12, 2)), 1)
    ]
    # one crash each on 40 streets elsewhere: the year's rates per street class
    others = db.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) AS p, id "
        "FROM streets WHERE highway IN ('residential', 'secondary', 'arterial') "
        "AND id % 97 = 0 ORDER BY id LIMIT 40) s"
    ).fetchall()
    rows += [
        row(f"2031-06-01T{h % 24:02d}:00:00", lon=lx, lat=ly) for h, (lx, ly) in enumerate(others)
    ]
    import_crashes(db, rows, "police-2031.csv")

    top = db.execute(
        "SELECT h3, crashes, pedestrian_crashes, expected, eb_estimate, excess, street, "
        "street_class, speed_limit_kmh, crossings, cameras_50m, stops_150m, lit_share "
        "FROM crash_hotspots WHERE year = 2031 ORDER BY rank LIMIT 1"
    ).fetchone()
    cell = h3int.int_to_str(h3int.latlng_to_cell(y, x, 9))
    h3, crashes, pedestrians, expected, eb, excess, street, cls, speed, crossings = top[:10]
    assert (h3, crashes, pedestrians) == (cell, 12, 4)
    assert expected < eb < crashes and excess == pytest.approx(eb - expected, abs=0.01)
    assert street in {a, b}
    classes = db.execute(
        "SELECT array_agg(DISTINCT highway) FROM streets WHERE name = %s", (street,)
    )
    assert cls in classes.fetchone()[0]
    assert speed == SPEED_LIMIT_KMH[cls]
    assert crossings >= 1  # the junction itself (three segments, a tertiary or greater street)
    boundary = (
        "POLYGON(("
        + ",".join(
            f"{lng} {lat}"
            for lat, lng in [
                *h3int.cell_to_boundary(h3int.str_to_int(cell)),
                h3int.cell_to_boundary(h3int.str_to_int(cell))[0],
            ]
        )
        + "))"
    )
    cameras, stops = db.execute(
        "SELECT (SELECT count(*) FROM cameras WHERE ST_DWithin(geom::geography, g::geography, 50)),"
        " (SELECT count(*) FROM transit_stops WHERE ST_DWithin(geom::geography, g::geography, 150))"
        " FROM ST_GeomFromText(%s, 4326) AS g",
        (boundary,),
    ).fetchone()
    assert top[10:12] == (cameras, stops)
    assert 0 <= top[12] <= 1


def test_empirical_bayes_by_hand():
    # two cells expecting 1 crash each, one with 0 and one with 10: k = (1 + 81 - 10) / 2 = 36,
    # w = 1/37, so the second cell's estimate is 1/37 + 36/37 * 10
    eb, k = empirical_bayes(np.array([0.0, 10.0]), np.array([1.0, 1.0]))
    assert k == pytest.approx(36.0)
    assert eb[1] == pytest.approx(1 / 37 + 36 / 37 * 10)
    assert eb[0] == pytest.approx(36 / 37 * 0 + 1 / 37)

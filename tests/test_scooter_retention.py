"""Story: scooter positions are kept over time, then let go. An operator's hand-made day, long
past, is stored; retention sums its hours per H3 cell (the scooters standing, those left
outside parking) and drops the day's raw positions in one go, while the hourly layers the time
slider reads keep the day; a recent day is kept whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3int
import orjson
import psycopg
import pytest
from click.testing import CliRunner

from twin.scooters.cli import scooters
from twin.scooters.ingest import ingest
from twin.scooters.retention import retain
from twin.scooters.trips import H3_RESOLUTION
from twin.sqlfiles import query

OPERATOR = "retained-hand"
DEGREES_PER_M = 1 / 111_320.0


def _feed(vehicles: list[dict[str, Any]], at: datetime) -> dict[str, bytes]:
    document = {"last_updated": at.isoformat(), "ttl": 60, "version": "3.0"}
    return {"vehicle_status": orjson.dumps({**document, "data": {"vehicles": vehicles}})}


def _vehicle(vid: str, lon: float, lat: float, reserved: bool = False) -> dict[str, Any]:
    return {
        "vehicle_id": vid,
        "lon": lon,
        "lat": lat,
        "is_reserved": reserved,
        "is_disabled": False,
    }


@pytest.fixture()
def hand_operator(demo_city: str, database_url: str) -> Iterator[list[datetime]]:
    """The hand-made operator leaves nothing behind: its rows go, and the hours it polled in
    (the list the story fills) are published again without it."""
    polled: list[datetime] = []
    yield polled
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("scooter_latest", "scooter_polls", "scooter_hourly", "scooter_hourly_polls"):
            conn.execute(f"DELETE FROM {table} WHERE operator = %s", (OPERATOR,))
        conn.execute("DELETE FROM scooter_cells_hourly WHERE operator = %s", (OPERATOR,))
        conn.execute("DELETE FROM scooter_positions WHERE operator = %s", (OPERATOR,))
        for at in polled:
            conn.execute(query("scooters/publish_hour"), {"polled_at": at})
            conn.execute(  # an hour no operator polled in: no key-section rows of zeros
                "DELETE FROM key_section_occupancy WHERE hour = date_trunc('hour', %s::timestamptz)"
                " AND polls IS NULL",
                (at,),
            )


def _partition(conn: psycopg.Connection, day: datetime) -> bool:
    name = f"scooter_positions_{day:%Y%m%d}"
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def test_an_old_day_is_summed_per_cell_and_its_positions_dropped(
    hand_operator: list[datetime], db: psycopg.Connection
) -> None:
    """Forty days ago, two polls at 10:10 and 10:40 UTC: a scooter at a parking spot, one left
    400 m east of it, one reserved at the spot. Retention (raw positions kept 7 days) sums the
    hour - per H3 cell, over the hour's two polls: 2 standing and 0 outside at the spot's
    cell, 2 standing and 2 outside at the other - and drops the day's positions; the district's
    parking_disorder hour stays. Yesterday's poll is kept."""
    now = datetime.now(UTC)
    old = (now - timedelta(days=40)).replace(hour=10, minute=10, second=0, microsecond=0)
    recent = (now - timedelta(days=1)).replace(hour=10, minute=10, second=0, microsecond=0)
    east_deg = 400 * DEGREES_PER_M / 0.73  # 400 m east (cos 43.2° ~ 0.73): another H3 cell
    spot, lon, lat = db.execute(  # a spot with no other spot near the point 400 m east of it
        "SELECT p.id, ST_X(p.geom), ST_Y(p.geom) FROM scooter_parking p "
        "JOIN districts d ON ST_Within(ST_Translate(p.geom, %(dx)s, 0), d.geom) "
        "WHERE ST_Within(p.geom, d.geom) AND NOT EXISTS (SELECT 1 FROM scooter_parking q "
        "  WHERE ST_DWithin(q.geom::geography, ST_Translate(p.geom, %(dx)s, 0)::geography, 60))"
        "ORDER BY p.id LIMIT 1",
        {"dx": east_deg},
    ).fetchone()
    east = lon + east_deg
    fleet = [
        _vehicle("a", lon, lat),
        _vehicle("b", east, lat),
        _vehicle("c", lon, lat, reserved=True),
    ]
    for at in (old, old + timedelta(minutes=30), recent):
        hand_operator.append(at)
        outcome = ingest(db, OPERATOR, _feed(fleet, at), at)
        assert outcome.outcome == "stored", outcome.as_json()
    placed = dict(
        db.execute(
            "SELECT vehicle_id, parking_id FROM scooter_latest WHERE operator = %s", (OPERATOR,)
        ).fetchall()
    )
    assert placed == {"a": spot, "b": None, "c": spot}  # b: 400 m away, left outside parking
    assert _partition(db, old) and _partition(db, recent)

    report = retain(db, now)

    assert f"scooter_positions_{old:%Y%m%d}" in report.dropped or not _partition(db, old)
    assert not _partition(db, old) and _partition(db, recent)
    hour = old.replace(minute=0)
    cells = {
        cell: (standing, outside)
        for cell, standing, outside in db.execute(
            "SELECT h3_cell, standing, outside FROM scooter_cells_hourly "
            "WHERE operator = %s AND hour = %s",
            (OPERATOR, hour),
        ).fetchall()
    }
    at_spot = h3int.latlng_to_cell(lat, lon, H3_RESOLUTION)
    away = h3int.latlng_to_cell(lat, east, H3_RESOLUTION)
    assert at_spot != away
    assert cells == {at_spot: (2, 0), away: (2, 2)}
    (kept,) = db.execute(
        "SELECT count(*) FROM scooter_positions WHERE operator = %s", (OPERATOR,)
    ).fetchone()
    assert kept == 3  # yesterday's poll, whole
    vehicles, outside = db.execute(
        "SELECT sum(vehicles), sum(outside_parking) FROM parking_disorder WHERE hour = %s",
        (hour,),
    ).fetchone()
    assert (vehicles, outside) == (2, 1)  # the hour's mean over its two polls, still there
    again = retain(db, now)  # nothing old is left; summing the same hours again changes nothing
    assert not again.dropped
    assert db.execute(
        "SELECT count(*) FROM scooter_cells_hourly WHERE operator = %s AND hour = %s",
        (OPERATOR, hour),
    ).fetchone()[0] == len(cells)


def test_the_retain_command_says_what_it_did(demo_city: str) -> None:
    """`twin scooters retain` runs the same retention and says what it summed and dropped
    (in process: the `twin scooters` group itself)."""
    result = CliRunner().invoke(scooters, ["retain"])
    assert result.exit_code == 0, result.output
    assert "cell rows" in result.output and "raw day partitions dropped" in result.output

"""Late Observations reach the hourly aggregates (issue #20). A PM2.5 station's gateway was
offline: after retention has aggregated its hour (two days back, beyond the day the next run
aggregates again anyway), its backlog arrives through the ingest. The ingest notes the hour;
the next retention run aggregates it again from the raw rows, and the station's chart
(GET /sensors/datastreams/{id}/series) shows the corrected mean. A reading for a day whose raw
partition retention has already dropped is added to that hour's aggregate, never put in its
place.

Hand-computed: 10 and 20 µg/m³ in the hour → n 2, mean 15; the late 60 → n 3, mean 30,
min 10, max 60. The dropped day: 4 and 8 → mean 6; a late 12 added → n 3, mean 8, max 12.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conftest import Server, pm25_station
from twin.sensors.ingest import ingest_observations
from twin.sensors.retention import retain

UTC = dt.UTC
SERIES = "/sensors/datastreams/{}/series"


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def send(conn: psycopg.Connection, stream: int, readings: list[tuple[dt.datetime, float]]) -> None:
    """The gateway's batch, through the ingest as HTTP and MQTT deliver it."""
    items = [
        {"phenomenonTime": iso(moment), "result": value, "Datastream": {"@iot.id": stream}}
        for moment, value in readings
    ]
    report = ingest_observations(conn, items, caller=None)
    assert report.ok, report.refused


@pytest.fixture(scope="module")
def station(database_url: str) -> Iterator[int]:
    """A PM2.5 Datastream of its own (a Thing, Sensor and ObservedProperty of the story)."""
    with pm25_station(database_url, "Late") as stream:
        yield stream


def hour_of(server: Server, stream: int, hour: dt.datetime) -> dict[str, Any]:
    """The station's chart for one hour (read from the hourly aggregates: a closed hour)."""
    window = {"start": iso(hour), "end": iso(hour + dt.timedelta(hours=1)), "resolution": "hour"}
    answer = server.get(SERIES.format(stream), params=window)
    assert answer.status_code == 200, answer.text
    points = answer.json()["points"]
    assert len(points) == 1 and points[0]["time"] == iso(hour)
    return points[0]


def notes(conn: psycopg.Connection, stream: int) -> list[dt.datetime]:
    rows = conn.execute(
        "SELECT hour FROM sta_late_hours WHERE datastream_id = %s ORDER BY hour", (stream,)
    ).fetchall()
    return [hour for (hour,) in rows]


def test_a_backlog_two_days_late_corrects_the_hourly_mean_at_the_next_retention(
    server: Server, db: psycopg.Connection, station: int, database_url: str
) -> None:
    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    back = now - dt.timedelta(hours=50)  # two days back: outside the next run's day again
    send(
        db,
        station,
        [(back + dt.timedelta(minutes=5), 10.0), (back + dt.timedelta(minutes=15), 20.0)],
    )
    retain(db, now=now)
    assert notes(db, station) == []  # aggregated: nothing waits
    first = hour_of(server, station, back)
    assert (first["n"], first["mean"], first["min"], first["max"]) == (2, 15.0, 10.0, 20.0)

    # the backlog: one reading of that hour, and one of the hour now open
    send(db, station, [(back + dt.timedelta(minutes=45), 60.0), (now, 1.0)])
    assert notes(db, station) == [back]  # only the hour below the mark is noted
    assert hour_of(server, station, back)["n"] == 2  # the aggregate, until retention runs

    with psycopg.connect(database_url) as cron:  # as `twin sensors retain` runs, from cron
        report = retain(cron, now=now)
        assert not cron.autocommit  # each step committed on its own, the connection as it was
    assert report.late_hours >= 1 and notes(db, station) == []
    late = hour_of(server, station, back)
    assert (late["n"], late["min"], late["max"]) == (3, 10.0, 60.0)
    assert late["mean"] == pytest.approx(30.0)


def test_a_reading_for_a_dropped_day_is_added_to_its_hour(
    server: Server, db: psycopg.Connection, station: int
) -> None:
    day = dt.datetime(2001, 2, 10, tzinfo=UTC)  # before anything else the session writes
    hour = day + dt.timedelta(hours=7)
    later = dt.datetime(2001, 4, 1, tzinfo=UTC)  # its raw period (30 days) is over
    send(
        db, station, [(hour + dt.timedelta(minutes=1), 4.0), (hour + dt.timedelta(minutes=2), 8.0)]
    )
    assert "sta_observations_20010210" in retain(db, now=later).dropped
    kept = hour_of(server, station, hour)
    assert (kept["n"], kept["mean"]) == (2, 6.0)

    send(db, station, [(hour + dt.timedelta(minutes=3), 12.0)])  # its partition made again
    assert notes(db, station) == [hour]
    assert "sta_observations_20010210" in retain(db, now=later).dropped
    assert notes(db, station) == []
    added = hour_of(server, station, hour)
    assert (added["n"], added["min"], added["max"]) == (3, 4.0, 12.0)
    assert added["mean"] == pytest.approx(8.0)
    raw = db.execute(
        "SELECT count(*) FROM sta_observations WHERE datastream_id = %s AND phenomenon_time < %s",
        (station, later),
    ).fetchone()
    assert raw == (0,)

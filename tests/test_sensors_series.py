"""A sensor's long chart reads the hourly aggregates (issue #20): a PM2.5 station's March 2005,
one reading every 10 minutes whose value is known by hand (the hour of the day plus the
minute's tens: 08:00 → 8, 08:50 → 13), goes through retention (aggregated, its raw days
dropped), and its month and year are read back from /sensors/datastreams/{id}/series by the
hour and by the day. Then the last two hours: the closed one from its aggregate, the open
one from the raw rows, and a late reading counted once retention runs again.

Hand-computed: an hour h has n 6, mean h + 2.5, min h, max h + 5; a day n 144, mean 14
(the mean of 2.5 … 25.5), min 0, max 28.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conftest import Server, pm25_station
from twin.sensors.retention import retain

UTC = dt.UTC
MARCH = dt.datetime(2005, 3, 1, tzinfo=UTC)
APRIL = dt.datetime(2005, 4, 1, tzinfo=UTC)
SERIES = "/sensors/datastreams/{}/series"


def reading(moment: dt.datetime) -> float:
    return moment.hour + moment.minute // 10


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(conn: psycopg.Connection, stream: int, rows: list[tuple[dt.datetime, float]]) -> None:
    """Observations as the ingest stores them (the day partitions made first)."""
    for day in sorted({moment.date() for moment, _ in rows}):
        conn.execute("SELECT sta_observation_partition(%s::date)", (day,))
    with conn.cursor().copy(
        "COPY sta_observations (datastream_id, phenomenon_time, result_number) FROM STDIN"
    ) as copy:
        for moment, value in rows:
            copy.write_row((stream, moment, value))


@pytest.fixture(scope="module")
def station(database_url: str) -> Iterator[int]:
    """A PM2.5 Datastream of its own (a Thing, Sensor and ObservedProperty of the story)."""
    with pm25_station(database_url, "Series") as stream:
        yield stream


def series(server: Server, stream: int, **params: str) -> dict[str, Any]:
    answer = server.get(SERIES.format(stream), params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_month_after_retention_reads_by_the_hour_and_by_the_day(
    server: Server, db: psycopg.Connection, station: int
) -> None:
    month = [MARCH + dt.timedelta(minutes=m) for m in range(0, 31 * 24 * 60, 10)]
    write(db, station, [(moment, reading(moment)) for moment in month])
    report = retain(db, now=dt.datetime(2005, 6, 1, tzinfo=UTC))
    assert {"sta_observations_20050301", "sta_observations_20050331"} <= set(report.dropped)
    raw = db.execute(
        "SELECT count(*) FROM sta_observations WHERE datastream_id = %s", (station,)
    ).fetchone()
    assert raw == (0,)  # what follows comes from the aggregates alone

    by_hour = series(server, station, start=iso(MARCH), end=iso(APRIL))  # auto: 744 hours
    assert by_hour["resolution"] == "hour" and by_hour["unit"] == "µg/m³"
    assert len(by_hour["points"]) == 31 * 24
    first, evening = by_hour["points"][0], by_hour["points"][24 * 9 + 20]
    assert first == {"time": "2005-03-01T00:00:00Z", "mean": 2.5, "min": 0, "max": 5, "n": 6}
    assert evening == {"time": "2005-03-10T20:00:00Z", "mean": 22.5, "min": 20, "max": 25, "n": 6}

    by_day = series(server, station, start=iso(MARCH), end=iso(APRIL), resolution="day")
    assert [p["time"][:10] for p in by_day["points"]] == [f"2005-03-{d:02d}" for d in range(1, 32)]
    assert [(p["n"], p["mean"], p["min"], p["max"]) for p in by_day["points"]] == [
        (144, pytest.approx(14.0), 0, 28)
    ] * 31
    # a year picks days (8,760 hours would pass the 2,000 points); a window starting mid-hour
    # covers whole bins
    year = series(server, station, start="2005-01-01T00:00:00Z", end="2006-01-01T00:00:00Z")
    assert year["resolution"] == "day" and len(year["points"]) == 31
    late = series(
        server,
        station,
        start="2005-03-10T20:30:00+05:00",
        end="2005-03-10T17:00Z",
        resolution="hour",
    )
    assert late["start"] == "2005-03-10T15:00:00Z" and late["end"] == "2005-03-10T17:00:00Z"
    assert [p["mean"] for p in late["points"]] == [17.5, 18.5]
    # minutes come from raw observations only: the dropped days have none
    assert (
        series(server, station, start=iso(MARCH), end="2005-03-01T12:00Z", resolution="minute")[
            "points"
        ]
        == []
    )


def test_the_open_hour_is_read_raw_and_late_readings_count_at_the_next_retention(
    server: Server, db: psycopg.Connection, station: int
) -> None:
    hour = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    before = hour - dt.timedelta(hours=1)
    write(db, station, [(before + dt.timedelta(minutes=10), 2.0), (before, 4.0), (hour, 10.0)])
    retain(db, now=hour)  # the closed hour aggregated, the mark at this hour
    window = {"start": iso(before), "end": iso(hour + dt.timedelta(hours=1)), "resolution": "hour"}
    points = series(server, station, **window)["points"]
    assert [(p["time"], p["n"], p["mean"], p["min"], p["max"]) for p in points] == [
        (iso(before), 2, 3.0, 2.0, 4.0),
        (iso(hour), 1, 10.0, 10.0, 10.0),
    ]
    # a reading of the closed hour arriving late: the series has the hour's aggregate until
    # retention runs again (it aggregates again from a day before its mark)
    write(db, station, [(before + dt.timedelta(minutes=30), 30.0)])
    assert series(server, station, **window)["points"][0]["n"] == 2
    retain(db, now=hour)
    assert series(server, station, **window)["points"][0]["mean"] == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "start is required"),
        ({"start": "2005-03-01T00:00Z"}, "end is required"),
        ({"start": "2005-03-01", "end": "2005-03-02T00:00Z"}, "time zone"),
        ({"start": "yesterday", "end": "2005-03-02T00:00Z"}, "not a date-time"),
        ({"start": "2005-03-02T00:00Z", "end": "2005-03-01T00:00Z"}, "after start"),
        ({"start": "1000-03-01T00:00Z", "end": "2005-03-01T00:00Z"}, "from 1900 to 2999"),
        ({"start": "2005-03-01T00:00Z", "end": "2005-04-01T00:00Z", "resolution": "week"}, "auto"),
        (
            {"start": "2005-01-01T00:00Z", "end": "2006-01-01T00:00Z", "resolution": "hour"},
            "at most 2000 points; 8760 hours",
        ),
        ({"start": "1990-01-01T00:00Z", "end": "2000-01-01T00:00Z"}, "at most 2000 points"),
        ({"start": "2005-03-01T00:00Z", "end": "2005-03-02T00:00Z", "step": "1"}, "unknown"),
    ],
)
def test_bad_windows_are_refused_naming_the_problem(
    server: Server, station: int, params: dict[str, str], problem: str
) -> None:
    answer = server.get(SERIES.format(station), params=params)
    assert answer.status_code == 400, answer.text
    assert problem in answer.json()["description"], answer.text


def test_a_missing_datastream_is_404(server: Server) -> None:
    for stream in ("999999999", "0", "01", "abc"):
        answer = server.get(
            SERIES.format(stream),
            params={"start": "2005-03-01T00:00Z", "end": "2005-03-02T00:00Z"},
        )
        assert answer.status_code == 404, (stream, answer.text)
        assert answer.json()["code"]

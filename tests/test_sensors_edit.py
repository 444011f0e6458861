"""Changed and deleted Observations keep the hourly aggregates and the latest value true (#20).

A PM2.5 station's operator (its sensor key, over HTTP) finds readings of two days ago that
were wrong after retention had already aggregated their hours into the chart's hourly figures
(GET /sensors/datastreams/{id}/series reads closed hours from sta_observations_hourly). It
corrects one (PATCH), deletes others (DELETE), among them the station's latest reading: the
chart's hours and the Datastream's latest value follow at once, in the edit's transaction. The
edited hours are also noted for the next retention run, which aggregates them again from the
raw rows and leaves the same figures. Another provider's key may not touch these readings.
An admin deleting a FeatureOfInterest deletes its Observations: the figures follow too.

Hand-computed, hour H (two days back) and the two after it:
  H     10, 20, 30 -> n 3, mean 20;  30 -> 90: mean 40, max 90;  10 deleted: n 2, mean 55, min 20
  H+1h  40 alone   -> n 1, mean 40;  deleted: no point, no aggregate
  H+2h  50, 60     -> n 2, mean 55;  60 (the latest) deleted: n 1, mean 50, latest 50;
        50 -> 45:  mean 45, latest 45
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from conftest import Server, pm25_station
from twin.editing.users import add_user
from twin.sensors.keys import add_key
from twin.sensors.retention import retain

UTC = dt.UTC
STA = "/sta/v1.1"
NOW = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
H = NOW - dt.timedelta(hours=50)  # two days back: beyond what the next run aggregates anyway


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(hours: int, minutes: int) -> dt.datetime:
    return H + dt.timedelta(hours=hours, minutes=minutes)


@pytest.fixture(scope="module")
def station(database_url: str) -> Iterator[dict[str, Any]]:
    """The station's Datastream, its operator's key (a key of its Thing) and a rival
    provider's key."""
    with pm25_station(database_url, "Edit") as stream, psycopg.connect(database_url) as conn:
        conn.autocommit = True
        (thing,) = conn.execute(
            "SELECT thing_id FROM sta_datastreams WHERE id = %s", (stream,)
        ).fetchone()
        yield {
            "stream": stream,
            "key": add_key(conn, thing_id=thing),
            "rival": add_key(conn, provider=f"rival-{uuid.uuid4().hex[:6]}"),
            "admin": add_user(conn, f"sensor-admin-{uuid.uuid4().hex[:6]}", "admin", []),
        }


@pytest.fixture(scope="module")
def sta(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def chart(sta: httpx.Client, stream: int) -> dict[dt.datetime, tuple[Any, ...]]:
    """The station's hourly chart over H..H+3h: hour -> (n, mean, min, max)."""
    window = {"start": iso(H), "end": iso(at(3, 0)), "resolution": "hour"}
    answer = sta.get(f"/sensors/datastreams/{stream}/series", params=window)
    assert answer.status_code == 200, answer.text
    return {
        dt.datetime.fromisoformat(p["time"]): (p["n"], p["mean"], p["min"], p["max"])
        for p in answer.json()["points"]
    }


def hourly(db: psycopg.Connection, stream: int) -> dict[dt.datetime, tuple[Any, ...]]:
    rows = db.execute(
        "SELECT hour, n, mean, min, max FROM sta_observations_hourly "
        "WHERE datastream_id = %s AND hour >= %s AND hour < %s",
        (stream, H, at(3, 0)),
    ).fetchall()
    return {hour: tuple(rest) for hour, *rest in rows}


def latest(db: psycopg.Connection, stream: int) -> tuple[Any, ...]:
    return db.execute(
        "SELECT latest_id, latest_time, latest_number FROM sta_datastreams WHERE id = %s",
        (stream,),
    ).fetchone()


def notes(db: psycopg.Connection, stream: int) -> list[dt.datetime]:
    rows = db.execute(
        "SELECT hour FROM sta_late_hours WHERE datastream_id = %s ORDER BY hour", (stream,)
    ).fetchall()
    return [hour for (hour,) in rows]


def test_corrections_and_deletions_keep_the_chart_and_the_latest_value_true(
    sta: httpx.Client, db: psycopg.Connection, station: dict[str, Any], database_url: str
) -> None:
    stream, key = station["stream"], {"X-API-Key": station["key"]}
    readings = [
        (at(0, 5), 10.0),
        (at(0, 15), 20.0),
        (at(0, 25), 30.0),
        (at(1, 10), 40.0),
        (at(2, 0), 50.0),
        (at(2, 30), 60.0),
    ]
    batch = [
        {
            "Datastream": {"@iot.id": stream},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[iso(moment), value] for moment, value in readings],
        }
    ]
    posted = sta.post(f"{STA}/CreateObservations", json=batch, headers=key)
    assert posted.status_code == 201, posted.text
    ten, _twenty, thirty, forty, fifty, sixty = (
        int(link.rsplit("(", 1)[1].rstrip(")")) for link in posted.json()
    )
    retain(db, now=NOW)  # the hours aggregated; the chart reads them from the aggregates
    assert chart(sta, stream) == {
        H: (3, 20.0, 10.0, 30.0),
        at(1, 0): (1, 40.0, 40.0, 40.0),
        at(2, 0): (2, 55.0, 50.0, 60.0),
    }
    assert latest(db, stream) == (sixty, at(2, 30), 60.0)

    # another provider's key touches nothing; bad input is named
    rival = {"X-API-Key": station["rival"]}
    refused = sta.patch(f"{STA}/Observations({thirty})", json={"result": 1.0}, headers=rival)
    assert refused.status_code == 403 and "not one of its own" in refused.json()["description"]
    assert sta.delete(f"{STA}/Observations({thirty})", headers=rival).status_code == 403
    wrong = sta.patch(f"{STA}/Observations({thirty})", json={"result": "high"}, headers=key)
    assert wrong.status_code == 400 and "a number" in wrong.json()["description"]
    assert sta.delete(f"{STA}/Observations(987654321987)", headers=key).status_code == 404
    assert sta.patch(f"{STA}/Things(1)", json={"name": "x"}, headers=key).status_code == 403
    assert chart(sta, stream)[H] == (3, 20.0, 10.0, 30.0)

    # the operator's corrections: the chart follows at once
    fixed = sta.patch(f"{STA}/Observations({thirty})", json={"result": 90.0}, headers=key)
    assert fixed.status_code == 200, fixed.text
    assert chart(sta, stream)[H] == (3, 40.0, 10.0, 90.0)
    assert sta.delete(f"{STA}/Observations({ten})", headers=key).status_code == 200
    assert sta.delete(f"{STA}/Observations({forty})", headers=key).status_code == 200
    assert chart(sta, stream) == {
        H: (2, 55.0, 20.0, 90.0),
        at(2, 0): (2, 55.0, 50.0, 60.0),
    }
    assert at(1, 0) not in hourly(db, stream)

    # the latest reading deleted: the latest value falls back to the one before; corrected
    assert sta.delete(f"{STA}/Observations({sixty})", headers=key).status_code == 200
    assert latest(db, stream) == (fifty, at(2, 0), 50.0)
    assert chart(sta, stream)[at(2, 0)] == (1, 50.0, 50.0, 50.0)
    admin = {"X-API-Key": station["admin"]}  # an admin may correct every Datastream
    assert sta.patch(
        f"{STA}/Observations({fifty})", json={"result": 45.0}, headers=admin
    ).is_success
    assert latest(db, stream) == (fifty, at(2, 0), 45.0)
    newest = sta.get(
        f"{STA}/Datastreams({stream})/Observations",
        params={"$top": "1", "$orderby": "phenomenonTime desc"},
    )
    assert [o["result"] for o in newest.json()["value"]] == [45.0]

    # the edited hours wait for retention too, which leaves the same figures
    assert notes(db, stream) == [H, at(1, 0), at(2, 0)]
    with psycopg.connect(database_url) as cron:
        retain(cron, now=NOW)
    assert notes(db, stream) == []
    assert hourly(db, stream) == {H: (2, 55.0, 20.0, 90.0), at(2, 0): (1, 45.0, 45.0, 45.0)}
    assert chart(sta, stream) == {H: (2, 55.0, 20.0, 90.0), at(2, 0): (1, 45.0, 45.0, 45.0)}


def test_deleting_a_feature_of_interest_takes_its_readings_out_of_the_figures(
    sta: httpx.Client, db: psycopg.Connection, station: dict[str, Any]
) -> None:
    stream, admin = station["stream"], {"X-API-Key": station["admin"]}
    made = sta.post(
        f"{STA}/FeaturesOfInterest",
        json={
            "name": "a misplaced sampling point",
            "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [76.95, 43.25]},
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    misplaced = made.json()["@iot.id"]
    before = latest(db, stream)
    hour = at(-3, 0)  # an hour of its own, below the mark
    readings = [
        {
            "phenomenonTime": iso(hour + dt.timedelta(minutes=minute)),
            "result": value,
            "FeatureOfInterest": {"@iot.id": misplaced} if misplaced_point else None,
        }
        for minute, value, misplaced_point in ((1, 8.0, False), (2, 100.0, True))
    ] + [{"phenomenonTime": iso(NOW), "result": 3.0, "FeatureOfInterest": {"@iot.id": misplaced}}]
    for reading in readings:
        body = {k: v for k, v in reading.items() if v is not None}
        answer = sta.post(f"{STA}/Datastreams({stream})/Observations", json=body, headers=admin)
        assert answer.status_code == 201, answer.text
    # 8 and 100 in a closed hour: noted late, aggregated at the next run
    retain(db, now=NOW)
    assert hourly_of(db, stream, hour) == (2, 54.0, 8.0, 100.0)
    assert latest(db, stream)[1:] == (NOW, 3.0)

    assert sta.delete(f"{STA}/FeaturesOfInterest({misplaced})", headers=admin).status_code == 200
    assert hourly_of(db, stream, hour) == (1, 8.0, 8.0, 8.0)
    assert latest(db, stream) == before


def hourly_of(db: psycopg.Connection, stream: int, hour: dt.datetime) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT n, mean, min, max FROM sta_observations_hourly "
        "WHERE datastream_id = %s AND hour = %s",
        (stream, hour),
    ).fetchone()

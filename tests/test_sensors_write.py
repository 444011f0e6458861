"""SensorThings writes, as a data provider and the city's admin live them: an admin registers an
air sensor (a Thing with its Location and Datastreams in one deep insert), the provider posts
Observations with its sensor key (one at a time and in dataArray batches), bad input is
refused by name with nothing written, keys are checked (401, 403), and retention turns old raw
days into hourly aggregates and drops them.

Real PostGIS and the real server (the session's `server`); the ingest's own bounds (the batch
cap, the stored duplicate) are also called in process on the session's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from conftest import Server, run_twin
from twin.editing.users import add_user
from twin.sensors.ingest import ingest_observations
from twin.sensors.keys import add_key, revoke_key

STA = "/sta/v1.1"
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"


@pytest.fixture(scope="module")
def admin(database_url: str) -> str:
    """The city's sensor admin (a twin_users admin key, made in process: the CLI's own story
    is tests/test_editing.py)."""
    with psycopg.connect(database_url) as conn:
        return add_user(conn, f"sensor-admin-{uuid.uuid4().hex[:6]}", "admin", [])


@pytest.fixture(scope="module")
def sta(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + STA, timeout=60) as client:
        yield client


def post(client: httpx.Client, path: str, body: Any, key: str | None) -> httpx.Response:
    return client.post(path, json=body, headers={"X-API-Key": key} if key else {})


def air_sensor(provider: str) -> dict[str, Any]:
    """An air-quality station of the provider, as a deep insert."""
    return {
        "name": f"AQ station {provider}",
        "description": "PM2.5 and a status word",
        "properties": {"provider": provider, "district": "Almaly"},
        "Locations": [
            {
                "name": "Abay/Dostyk corner",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [76.9573, 43.2389]},
            }
        ],
        "Datastreams": [
            {
                "name": "PM2.5",
                "observationType": OM + "OM_Measurement",
                "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "µg/m³"},
                "Sensor": {"name": "SDS011", "encodingType": "text/html", "metadata": "-"},
                "ObservedProperty": {"name": "PM2.5", "definition": "urn:pm25"},
            },
            {
                "name": "status",
                "observationType": "OM_CategoryObservation",
                "unitOfMeasurement": {},
                "Sensor": {"name": "controller"},
                "ObservedProperty": {"name": "status", "definition": "urn:status"},
            },
        ],
    }


@pytest.fixture(scope="module")
def station(sta: httpx.Client, admin: str, database_url: str) -> dict[str, Any]:
    """A provider, its key (made with the CLI, as an operator would) and its station."""
    provider = f"airkaz-{uuid.uuid4().hex[:6]}"
    key = run_twin("sensors", "keys", "add", "--provider", provider).stdout.strip()
    answer = post(sta, "/Things", air_sensor(provider), admin)
    assert answer.status_code == 201, answer.text
    thing = answer.json()["@iot.id"]
    assert answer.headers["Location"].endswith(f"{STA}/Things({thing})")
    with psycopg.connect(database_url) as db:
        found = db.execute("SELECT name, id FROM sta_datastreams WHERE thing_id = %s", (thing,))
        streams = dict(found.fetchall())
    return {"provider": provider, "key": key, "thing": thing, **streams}


def count(db: psycopg.Connection, datastream: int) -> int:
    return db.execute(
        "SELECT count(*) FROM sta_observations WHERE datastream_id = %s", (datastream,)
    ).fetchone()[0]


def latest(db: psycopg.Connection, datastream: int) -> tuple[Any, ...]:
    return db.execute(
        "SELECT latest_time, latest_number, latest_json FROM sta_datastreams WHERE id = %s",
        (datastream,),
    ).fetchone()


def test_a_provider_posts_single_observations_and_a_data_array(
    sta: httpx.Client, station: dict[str, Any], db: psycopg.Connection
) -> None:
    pm, key = station["PM2.5"], station["key"]
    # the deep insert made the Location (linked, with its HistoricalLocation) and both streams
    assert db.execute(
        "SELECT count(*) FROM sta_thing_locations tl JOIN sta_historical_locations h "
        "USING (thing_id) WHERE thing_id = %s",
        (station["thing"],),
    ).fetchone() == (1,)
    assert db.execute(
        "SELECT result_kind FROM sta_datastreams WHERE id = %s", (station["status"],)
    ).fetchone() == ("text",)

    one = post(
        sta,
        f"/Datastreams({pm})/Observations",
        {"phenomenonTime": "2026-01-05T09:00:00+05:00", "result": 41.5},
        key,
    )
    assert one.status_code == 201, one.text
    assert one.headers["Location"].endswith(f"/Observations({one.json()['@iot.id']})")
    text = post(
        sta,
        "/Observations",
        {
            "phenomenonTime": "2026-01-05T04:00:00Z",
            "result": 'ok\t"fine"\\ \u00e9',  # a tab, quotes, a backslash: stored as sent
            "Datastream": {"@iot.id": station["status"]},
        },
        key,
    )
    assert text.status_code == 201, text.text
    assert db.execute(
        "SELECT result_json FROM sta_observations WHERE datastream_id = %s", (station["status"],)
    ).fetchone() == ('ok\t"fine"\\ \u00e9',)

    start = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # 10:00 in Almaty, the next morning rows
    rows = [[(start + timedelta(minutes=i)).isoformat(), 30 + i % 7] for i in range(2000)]
    batch = post(
        sta,
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": pm},
                "components": ["phenomenonTime", "result"],
                "dataArray": rows,
            }
        ],
        key,
    )
    assert batch.status_code == 201, batch.text
    links = batch.json()
    assert len(links) == 2000 and all("/Observations(" in link for link in links)
    assert count(db, pm) == 2001
    # no FeatureOfInterest given: each is about the station's Location, made into one once
    features = db.execute(
        "SELECT DISTINCT f.name, ST_AsText(f.feature) FROM sta_observations o "
        "JOIN sta_features_of_interest f ON f.id = o.feature_of_interest_id "
        "WHERE o.datastream_id = %s",
        (pm,),
    ).fetchall()
    assert features == [("Abay/Dostyk corner", "POINT(76.9573 43.2389)")]
    newest = start + timedelta(minutes=1999)
    assert latest(db, pm)[:2] == (newest, 30 + 1999 % 7)

    # out of order (a gateway's backlog): stored, but the latest value stays the newest one
    late = post(
        sta,
        f"/Datastreams({pm})/Observations",
        {"phenomenonTime": "2026-01-04T00:00:00Z", "result": 99},
        key,
    )
    assert late.status_code == 201, late.text
    assert count(db, pm) == 2002 and latest(db, pm)[:2] == (newest, 30 + 1999 % 7)
    span = db.execute(
        "SELECT phenomenon_start, phenomenon_end FROM sta_datastreams WHERE id = %s", (pm,)
    ).fetchone()
    assert span == (datetime(2026, 1, 4, tzinfo=UTC), newest)


BAD = [
    ({"result": 1}, "phenomenonTime is missing"),
    ({"phenomenonTime": "yesterday", "result": 1}, "is not an ISO 8601 time"),
    ({"phenomenonTime": "2026-01-09T10:00:00", "result": 1}, "needs a time zone"),
    ({"phenomenonTime": "2026-01-09T10:00:00Z", "result": "41"}, "its results are a number"),
    ({"phenomenonTime": "2026-01-09T10:00:00Z"}, "result is missing"),
    ({"phenomenonTime": "2026-01-09T11:00:00Z/2026-01-09T10:00:00Z", "result": 1}, "ends before"),
    ({"phenomenonTime": "2026-01-09T10:00:00Z", "result": 1, "reslt": 2}, "unknown member 'reslt'"),
]


def test_bad_observations_are_refused_by_name_and_nothing_is_written(
    sta: httpx.Client, station: dict[str, Any], db: psycopg.Connection
) -> None:
    pm, key = station["PM2.5"], station["key"]
    good = {"phenomenonTime": "2026-01-09T09:00:00Z", "result": 35.0}
    before = count(db, pm)
    for bad, reason in BAD:
        # one bad item in a batch of good ones: the whole batch is refused, naming its index
        answer = post(sta, "/Observations", {**bad, "Datastream": {"@iot.id": pm}}, key)
        assert answer.status_code == 400 and reason in answer.json()["description"], answer.text
    assert count(db, pm) == before

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    unknown = post(sta, "/Observations", {**good, "Datastream": {"@iot.id": 987654321}}, key)
    assert unknown.status_code == 400 and "no Datastream 987654321" in unknown.text
    nowhere = post(
        sta,
        f"/Datastreams({pm})/Observations",
        {**good, "FeatureOfInterest": {"@iot.id": 987654321}},
        key,
    )
    assert nowhere.status_code == 400 and "no FeatureOfInterest 987654321" in nowhere.text

    rows = [["2026-01-09T09:00:00Z", 35.0], [future, 36.0], ["2026-01-09T09:00:00Z", 37.0]]
    batch = post(
        sta,
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": pm},
                "components": ["phenomenonTime", "result"],
                "dataArray": rows,
            }
        ],
        key,
    )
    assert batch.status_code == 400
    refused = {r["index"]: r["reason"] for r in batch.json()["refused"]}
    assert set(refused) == {1, 2}
    assert "in the future" in refused[1] and "twice in this batch (items 0 and 2)" in refused[2]
    assert count(db, pm) == before

    # a time already stored is a conflict; the rest of the batch is not written either
    stored = db.execute(
        "SELECT phenomenon_time FROM sta_observations WHERE datastream_id = %s LIMIT 1", (pm,)
    ).fetchone()[0]
    again = post(
        sta,
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": pm},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-01-09T12:00:00Z", 1.0], [stored.isoformat(), 2.0]],
            }
        ],
        key,
    )
    assert again.status_code == 409 and again.json()["refused"][0]["index"] == 1, again.text
    assert count(db, pm) == before
    shapes = [
        ({"components": ["phenomenonTime"], "dataArray": []}, "components must include result"),
        ({"components": ["phenomenonTime", "result", "colour"]}, "unknown component 'colour'"),
    ]
    for shape, reason in shapes:
        answer = post(sta, "/CreateObservations", [{"Datastream": {"@iot.id": pm}, **shape}], key)
        assert answer.status_code == 400 and reason in answer.text
    assert count(db, pm) == before


def test_the_batch_cap_holds_in_process(
    station: dict[str, Any], db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twin.errors import PayloadTooLarge

    monkeypatch.setenv("TWIN_STA_MAX_BATCH", "3")
    items = [
        {
            "phenomenonTime": f"2026-01-07T00:0{i}:00Z",
            "result": i,
            "Datastream": {"@iot.id": station["PM2.5"]},
        }
        for i in range(4)
    ]
    with pytest.raises(PayloadTooLarge, match="at most 3"):
        ingest_observations(db, items, caller=None)
    report = ingest_observations(db, items[:3], caller=None)
    assert report.ok and report.created == 3


def test_keys_decide_who_writes_what(
    sta: httpx.Client, station: dict[str, Any], admin: str, db: psycopg.Connection
) -> None:
    pm = station["PM2.5"]
    obs = {"phenomenonTime": "2026-01-08T00:00:00Z", "result": 12.0}
    before = count(db, pm)
    assert post(sta, f"/Datastreams({pm})/Observations", obs, None).status_code == 401
    forged = station["key"][:-4] + "AAAA"
    assert post(sta, f"/Datastreams({pm})/Observations", obs, forged).status_code == 401
    rival = f"kazhydromet-{uuid.uuid4().hex[:6]}"
    other = add_key(db, provider=rival)
    refused = post(sta, f"/Datastreams({pm})/Observations", obs, other)
    assert refused.status_code == 403 and "may not write" in refused.json()["description"]
    # a sensor key posts Observations only; entities are the admin's
    assert post(sta, "/Sensors", {"name": "x"}, station["key"]).status_code == 403
    thing_key = add_key(db, thing_id=station["thing"])
    assert post(sta, f"/Datastreams({pm})/Observations", obs, thing_key).status_code == 201
    revoke_key(db, thing_key)
    obs["phenomenonTime"] = "2026-01-08T00:01:00Z"
    assert post(sta, f"/Datastreams({pm})/Observations", obs, thing_key).status_code == 401
    assert count(db, pm) == before + 1

    # the admin changes and deletes; the latest value follows a changed newest Observation
    newest = db.execute(
        "SELECT id FROM sta_observations WHERE datastream_id = %s "
        "ORDER BY phenomenon_time DESC LIMIT 1",
        (pm,),
    ).fetchone()[0]
    key = {"X-API-Key": admin}
    changed = sta.patch(f"/Observations({newest})", json={"result": 77.0}, headers=key)
    assert changed.status_code == 200 and latest(db, pm)[1] == 77.0
    wrong = sta.patch(f"/Observations({newest})", json={"result": "high"}, headers=key)
    assert wrong.status_code == 400 and "its results are a number" in wrong.text
    assert (
        sta.patch(f"/Things({station['thing']})", json={"name": "AQ 1"}, headers=key).status_code
        == 200
    )
    assert sta.patch("/Things(987654321)", json={"name": "x"}, headers=key).status_code == 404
    assert sta.delete(f"/Datastreams({station['status']})", headers=key).status_code == 200
    assert count(db, station["status"]) == 0

    # the station passes to the other provider: its key writes now, the first one no longer
    moved = {"properties": {"provider": rival, "district": "Almaly"}}
    assert sta.patch(f"/Things({station['thing']})", json=moved, headers=key).status_code == 200
    obs["phenomenonTime"] = "2026-01-08T00:02:00Z"
    assert post(sta, f"/Datastreams({pm})/Observations", obs, other).status_code == 201
    obs["phenomenonTime"] = "2026-01-08T00:03:00Z"
    assert post(sta, f"/Datastreams({pm})/Observations", obs, station["key"]).status_code == 403


def test_read_only_servers_refuse_every_sensor_write() -> None:
    from twin.http.read_only import refusals
    from twin.http.routes import twin_rows

    refused = {route.path for route in refusals(twin_rows())}
    for path in ("/CreateObservations", "/{entity_set}", "/{entity_set}({entity_id})"):
        assert STA + path in refused


def test_retention_aggregates_old_hours_and_drops_their_day(
    station: dict[str, Any], db: psycopg.Connection
) -> None:
    from twin.sensors.retention import retain

    pm = station["PM2.5"]
    day = datetime(2003, 1, 5, tzinfo=UTC)  # long before anything else the session writes
    values = [10.0, 20.0, 60.0, 5.0, 7.0]  # 08:00-08:40, then 09:10 and 09:50
    times = [day + timedelta(hours=8, minutes=10 * i) for i in range(3)] + [
        day + timedelta(hours=9, minutes=10),
        day + timedelta(hours=9, minutes=50),
    ]
    items = [
        {"phenomenonTime": t.isoformat(), "result": v, "Datastream": {"@iot.id": pm}}
        for t, v in zip(times, values, strict=True)
    ]
    assert ingest_observations(db, items, caller=None).ok
    assert db.execute("SELECT to_regclass('sta_observations_20030105')").fetchone()[0]

    report = retain(db, now=datetime(2003, 3, 1, tzinfo=UTC))
    assert "sta_observations_20030105" in report.dropped
    assert db.execute("SELECT to_regclass('sta_observations_20030105')").fetchone() == (None,)
    hours = db.execute(
        "SELECT hour, n, mean, min, max FROM sta_observations_hourly "
        "WHERE datastream_id = %s AND hour < '2003-02-01' ORDER BY hour",
        (pm,),
    ).fetchall()
    assert hours == [
        (day + timedelta(hours=8), 3, pytest.approx(30.0), 10.0, 60.0),
        (day + timedelta(hours=9), 2, pytest.approx(6.0), 5.0, 7.0),
    ]
    # the recent days stay raw
    assert count(db, pm) > 2000


def test_two_gateways_opening_the_same_new_days_both_store_everything(
    station: dict[str, Any], database_url: str
) -> None:
    """Two batches at once, each the first of twenty new days: the day partitions are made
    once, neither batch fails on the other's, and every Observation is stored."""
    import threading

    pm = station["PM2.5"]
    first = datetime(2004, 2, 1, tzinfo=UTC)
    barrier = threading.Barrier(2)
    reports = []

    def gateway(second: int) -> None:
        items = [
            {
                "phenomenonTime": (first + timedelta(days=d, seconds=second)).isoformat(),
                "result": float(d),
                "Datastream": {"@iot.id": pm},
            }
            for d in range(20)
        ]
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            reports.append(ingest_observations(conn, items, caller=None))

    threads = [threading.Thread(target=gateway, args=(s,)) for s in (0, 1)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert [r.created for r in reports] == [20, 20]
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM sta_observations WHERE datastream_id = %s "
            "AND phenomenon_time >= %s AND phenomenon_time < %s",
            (pm, first, first + timedelta(days=20)),
        ).fetchone()[0]
    assert stored == 40

"""Observations by MQTT, through a real mosquitto and a real server (twin/sensors/mqtt.py).

An air-quality provider's gateway logs in to the twin's broker with its sensor key and
publishes PM2.5 readings, read back over HTTP; without a key, with a wrong one, or once the key
is revoked the broker refuses it, and it cannot write another provider's Datastream; a
dashboard subscribed to a Datastream's topic hears an Observation another client
created over HTTP; a misbehaving client's messages are refused and counted by reason while
nothing of them is stored; and the broker going away and coming back stops nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest

from conftest import Server, bridged_server, mqtt_login, wait_for
from twin.sensors.broker import OWN_ACCOUNT, start_broker, stop_broker, twin_secret
from twin.sensors.keys import add_key, provider_id, revoke_key


class Client:
    """A plain MQTT client (paho), as a gateway or a dashboard would use."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self.heard: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.paho.username_pw_set(username, password)
        self.paho.on_message = self._heard
        self.paho.connect(host, port)
        self.paho.loop_start()

    def _heard(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.heard.append((message.topic, message.payload))

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.paho.on_subscribe = lambda *args: done.set()
        self.paho.subscribe(topic)
        assert done.wait(5), "the broker did not confirm the subscription"

    def publish(self, topic: str, payload: object) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.paho.publish(topic, body, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def key_login(key: str) -> tuple[str, str]:
    """A sensor key as MQTT credentials: user name its key id, password the whole key."""
    return key.split("_")[1], key


@pytest.fixture(scope="module")
def station(database_url: str) -> Iterator[dict[str, Any]]:
    """An AirKZ-like provider's station with a PM2.5 Datastream (numbers) and a lamp with its
    state (booleans), made by hand, and the provider's sensor key."""
    with psycopg.connect(database_url, autocommit=True) as db:
        yield _station(db)


def _station(db: psycopg.Connection) -> dict[str, Any]:
    provider = f"AirKZ test {uuid.uuid4().hex[:6]}"
    pid = provider_id(db, provider, create=True)
    thing = db.execute(
        "INSERT INTO sta_things (name, provider_id, district) VALUES (%s, %s, 'Medeu') "
        "RETURNING id",
        ("MQTT test station", pid),
    ).fetchone()[0]
    sensor = db.execute("INSERT INTO sta_sensors (name) VALUES ('test') RETURNING id").fetchone()[0]
    prop = db.execute(
        "INSERT INTO sta_observed_properties (name, definition) "
        "VALUES ('PM2.5', 'http://example.org/pm25') RETURNING id"
    ).fetchone()[0]
    streams = {}
    for name, kind in (("pm25", "number"), ("lamp", "boolean")):
        streams[name] = db.execute(
            "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, "
            "sensor_id, observed_property_id) VALUES (%s, 'OM_Measurement', %s, %s, %s, %s) "
            "RETURNING id",
            (f"test {name}", kind, thing, sensor, prop),
        ).fetchone()[0]
    return {**streams, "key": add_key(db, provider=provider)}


@pytest.fixture(scope="module")
def live(broker: Any, station: dict[str, Any]) -> Iterator[Server]:
    """The twin's server with its MQTT bridge on the session's broker."""
    srv = bridged_server(broker)
    yield srv
    srv.stop()


@pytest.fixture()
def client(broker: Any, station: dict[str, Any]) -> Iterator[Client]:
    """The provider's gateway, logged in with its sensor key."""
    each = Client(broker.host, broker.port, *key_login(station["key"]))
    yield each
    each.close()


@pytest.fixture()
def twin_client(broker: Any) -> Iterator[Client]:
    """A client of the twin's own account (as the simulator): every SensorThings topic."""
    each = Client(broker.host, broker.port, OWN_ACCOUNT, twin_secret(broker.directory))
    yield each
    each.close()


def stored(db: psycopg.Connection, datastream: int) -> int:
    return db.execute(
        "SELECT count(*) FROM sta_observations WHERE datastream_id = %s", (datastream,)
    ).fetchone()[0]


def at(minutes_ago: float) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return moment.isoformat().replace("+00:00", "Z")


def test_a_gateway_publishes_readings_by_mqtt_and_reads_them_over_http(
    live: Server, client: Client, twin_client: Client, station: dict[str, Any]
) -> None:
    pm25 = station["pm25"]
    readings = [(at(30), 41.5), (at(20), 44.0), (at(10), 38.25)]
    for when, value in readings[:2]:
        client.publish(
            f"v1.1/Datastreams({pm25})/Observations", {"phenomenonTime": when, "result": value}
        )
    # the other topic of the extension, the Datastream named in the payload: the twin's own
    # account's (a broker cannot check a payload, so keys publish to their Datastreams' topics)
    when, value = readings[2]
    twin_client.publish(
        "v1.1/Observations",
        {"phenomenonTime": when, "result": value, "Datastream": {"@iot.id": pm25}},
    )

    def listed() -> list[Any]:
        page = live.get(f"/sta/v1.1/Datastreams({pm25})/Observations?$orderby=phenomenonTime")
        values = page.json()["value"]
        return values if len(values) == 3 else []

    values = wait_for(listed, 10, "three observations over HTTP")
    assert [v["result"] for v in values] == [41.5, 44.0, 38.25]
    latest = live.get(
        f"/sta/v1.1/Datastreams({pm25})/Observations?$top=1&$orderby=phenomenonTime desc"
    )
    assert latest.json()["value"][0]["result"] == 38.25


def test_an_observation_created_over_http_reaches_mqtt_subscribers(
    live: Server, client: Client, station: dict[str, Any]
) -> None:
    lamp = station["lamp"]
    client.subscribe(f"v1.1/Datastreams({lamp})/Observations")
    answer = live.post(
        f"/sta/v1.1/Datastreams({lamp})/Observations",
        json={"phenomenonTime": at(5), "result": False},
        headers={"X-API-Key": station["key"]},
    )
    assert answer.status_code == 201, answer.text
    topic, payload = wait_for(lambda: client.heard[:1], 10, "the created entity published")[0]
    entity = json.loads(payload)
    assert topic == f"v1.1/Datastreams({lamp})/Observations"
    assert entity["result"] is False
    assert answer.headers["Location"].endswith(f"Observations({entity['@iot.id']})")
    # what subscribers hear is the entity the HTTP API shows
    assert entity == live.get(f"/sta/v1.1/Observations({entity['@iot.id']})").json()
    # the entity heard is not taken for a new Observation (no echo loop): still one stored
    time.sleep(0.3)
    assert len(live.get(f"/sta/v1.1/Datastreams({lamp})/Observations").json()["value"]) == 1


def test_malformed_messages_are_counted_by_reason_and_nothing_of_them_is_written(
    live: Server, twin_client: Client, station: dict[str, Any], db: psycopg.Connection
) -> None:
    client = twin_client  # may publish to any Datastream's topic, unknown ones too
    pm25, lamp = station["pm25"], station["lamp"]

    def refusals() -> dict[str, int]:
        rows = live.get("/sta/v1.1/mqtt-status").json()["refusals"]
        return {row["reason"]: row["n"] for row in rows}

    before, pm25_before, lamp_before = refusals(), stored(db, pm25), stored(db, lamp)
    topic = f"v1.1/Datastreams({pm25})/Observations"
    bad = [
        (topic, b"{not json", "bad_json"),
        (topic, b'{"result": "' + b"x" * 70_000 + b'"}', "oversize"),
        (
            "v1.1/Datastreams(987654321)/Observations",
            {"phenomenonTime": at(1), "result": 1},
            "unknown_datastream",
        ),
        (topic, {"phenomenonTime": at(1), "result": "very high"}, "wrong_type"),
        (
            f"v1.1/Datastreams({lamp})/Observations",
            {"phenomenonTime": at(1), "result": 3},
            "wrong_type",
        ),
        (topic, {"phenomenonTime": at(-120), "result": 12.0}, "future_time"),
        (topic, {"phenomenonTime": "yesterday", "result": 12.0}, "bad_observation"),
        (
            topic,
            {"phenomenonTime": at(2), "result": 1.0, "Datastream": {"@iot.id": lamp}},
            "datastream_mismatch",
        ),
    ]
    for where, payload, _ in bad:
        client.publish(where, payload)
    # a good reading among the bad ones is stored: messages are independent
    client.publish(topic, {"phenomenonTime": at(3), "result": 40.0})
    expected = dict(before)
    for _, _, reason in bad:
        expected[reason] = expected.get(reason, 0) + 1
    wait_for(lambda: refusals() == expected, 10, f"refusals {expected}")
    assert stored(db, pm25) == pm25_before + 1
    assert stored(db, lamp) == lamp_before
    status = live.get("/sta/v1.1/mqtt-status").json()
    assert status["enabled"] and status["broker"].startswith("mqtt://127.0.0.1:")
    detail = {row["reason"]: row["last_detail"] for row in status["refusals"]}
    assert "no Datastream 987654321" in detail["unknown_datastream"]
    assert "future" in detail["future_time"]


def test_the_broker_going_away_stops_neither_the_server_nor_the_bridge(
    live: Server, broker: Any, station: dict[str, Any], db: psycopg.Connection
) -> None:
    pm25 = station["pm25"]
    stop_broker(directory=broker.directory)
    try:
        assert live.get("/healthz").status_code == 200
        wait_for(
            lambda: not live.get("/sta/v1.1/mqtt-status").json()["bridge"]["connected"],
            5,
            "the bridge notices the broker is gone",
        )
        assert live.get(f"/sta/v1.1/Datastreams({pm25})").status_code == 200
    finally:
        start_broker(broker.port, directory=broker.directory)
    wait_for(
        lambda: live.get("/sta/v1.1/mqtt-status").json()["bridge"]["connected"],
        15,
        "the bridge reconnects",
    )
    before = stored(db, pm25)
    again = Client(broker.host, broker.port, *key_login(station["key"]))
    try:
        again.publish(
            f"v1.1/Datastreams({pm25})/Observations", {"phenomenonTime": at(0.5), "result": 33.0}
        )
        wait_for(lambda: stored(db, pm25) == before + 1, 10, "messages flow again")
    finally:
        again.close()
    assert live.get("/sta/v1.1/mqtt-status").json()["bridge"]["reconnects"] >= 1


def test_the_broker_lets_in_sensor_keys_only_and_each_to_its_own_datastreams(
    live: Server, broker: Any, station: dict[str, Any], db: psycopg.Connection
) -> None:
    user, key = key_login(station["key"])
    assert mqtt_login(broker, None, None).is_failure, "anonymous clients are refused"
    assert mqtt_login(broker, user, key[:-1] + ("x" if key[-1] != "x" else "y")).is_failure
    assert mqtt_login(broker, "twin", "not the twin's password").is_failure
    assert not mqtt_login(broker, user, key).is_failure

    # a second provider with a key of its own: it cannot write the first provider's stream
    other = _station(db)
    pm25, before = station["pm25"], stored(db, station["pm25"])
    intruder = Client(broker.host, broker.port, *key_login(other["key"]))
    gateway = Client(broker.host, broker.port, user, key)
    try:
        topic = f"v1.1/Datastreams({pm25})/Observations"
        intruder.publish(topic, {"phenomenonTime": at(7), "result": 999.0})
        intruder.publish(
            "v1.1/Observations",
            {"phenomenonTime": at(6), "result": 998.0, "Datastream": {"@iot.id": pm25}},
        )
        intruder.publish(
            f"v1.1/Datastreams({other['pm25']})/Observations",
            {"phenomenonTime": at(6), "result": 12.0},
        )
        gateway.publish(topic, {"phenomenonTime": at(4), "result": 21.0})
        wait_for(lambda: stored(db, pm25) == before + 1, 10, "the gateway's reading stored")
        wait_for(lambda: stored(db, other["pm25"]) == 1, 10, "the intruder's own reading")
        results = db.execute(
            "SELECT result_number FROM sta_observations WHERE datastream_id = %s "
            "AND phenomenon_time > now() - interval '8 minutes'",
            (pm25,),
        ).fetchall()
        assert 999.0 not in {r for (r,) in results} and 998.0 not in {r for (r,) in results}
    finally:
        intruder.close()
        gateway.close()

    # the key revoked: the broker reloads its accounts and refuses it
    revoke_key(db, key)
    wait_for(lambda: mqtt_login(broker, user, key).is_failure, 5, "the revoked key refused")
    station["key"] = add_key(db, provider=_provider_of(db, pm25))  # later stories still log in
    assert not mqtt_login(broker, *key_login(station["key"])).is_failure


def _provider_of(db: psycopg.Connection, datastream: int) -> str:
    return db.execute(
        "SELECT p.name FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id "
        "JOIN sta_providers p ON p.id = t.provider_id WHERE d.id = %s",
        (datastream,),
    ).fetchone()[0]

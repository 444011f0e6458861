"""A sensor key issued before MQTT passwords existed gets its own when it is next used (#20).

AirKZ's gateway has had its sensor key since before migration 0019: the row keeps the key's
salted hash but no MQTT password, and the twin cannot derive one from a hash, so the twin's
broker (the real mosquitto) refuses the gateway's MQTT login. The gateway posts a reading over
HTTP as it always has; the twin sees the key in plain, keeps its MQTT hash and rewrites the
broker's password file and ACL (SIGHUP), as adding a key does. The gateway then logs in by MQTT
with the same key and publishes to its Datastream's topic, which a dashboard (the twin's own
account) hears; another Datastream's topic stays closed to it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest

from conftest import Server, mqtt_login, wait_for
from twin.sensors.broker import OWN_ACCOUNT, reload_accounts, twin_secret
from twin.sensors.keys import add_key, provider_id


class Client:
    """A plain paho client, connected, as a gateway or a dashboard uses one."""

    def __init__(self, broker: Any, username: str, password: str) -> None:
        self.heard: list[tuple[str, bytes]] = []
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.paho.username_pw_set(username, password)
        self.paho.on_message = lambda c, u, message: self.heard.append(
            (message.topic, message.payload)
        )
        self.paho.connect(broker.host, broker.port)
        self.paho.loop_start()
        wait_for(self.paho.is_connected, 5, f"{username} connected")

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.paho.on_subscribe = lambda *args: done.set()
        self.paho.subscribe(topic, qos=1)
        assert done.wait(5), "the broker did not confirm the subscription"

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def now_text(seconds_ago: int) -> str:
    """A reading's time, seconds before now: each reading of the story its own second (a
    Datastream refuses two Observations at one phenomenonTime)."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds_ago)
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture()
def gateway(db: psycopg.Connection) -> Iterator[dict[str, Any]]:
    """AirKZ's station (a PM2.5 Datastream), another provider's, and AirKZ's key as a row made
    before 0019 looks: no MQTT hash."""
    provider = f"AirKZ old key {uuid.uuid4().hex[:6]}"
    sensor = db.execute("INSERT INTO sta_sensors (name) VALUES ('SDS011') RETURNING id").fetchone()
    prop = db.execute(
        "INSERT INTO sta_observed_properties (name, definition) "
        "VALUES ('PM2.5', 'urn:pm25-old-key') RETURNING id"
    ).fetchone()
    things, streams = [], []
    for owner in (provider, f"Kazhydromet {uuid.uuid4().hex[:6]}"):
        thing = db.execute(
            "INSERT INTO sta_things (name, provider_id) VALUES (%s, %s) RETURNING id",
            (f"{owner} station", provider_id(db, owner, create=True)),
        ).fetchone()[0]
        stream = db.execute(
            "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, "
            "sensor_id, observed_property_id) VALUES ('PM2.5', 'OM_Measurement', 'number', "
            "%s, %s, %s) RETURNING id",
            (thing, sensor[0], prop[0]),
        ).fetchone()[0]
        things.append(thing)
        streams.append(stream)
    key = add_key(db, provider=provider)
    key_id = key.split("_")[1]
    db.execute("UPDATE sta_keys SET mqtt_hash = NULL WHERE key_id = %s", (key_id,))
    reload_accounts(db)  # the broker's files as the twin writes them from such a database
    yield {"key": key, "key_id": key_id, "stream": streams[0], "other": streams[1]}
    db.execute("DELETE FROM sta_observations WHERE datastream_id = ANY(%s)", (streams,))
    db.execute("DELETE FROM sta_things WHERE id = ANY(%s)", (things,))


def test_an_old_key_used_over_http_becomes_an_mqtt_account(
    broker: Any, server: Server, db: psycopg.Connection, gateway: dict[str, Any]
) -> None:
    key, key_id, stream = gateway["key"], gateway["key_id"], gateway["stream"]
    assert mqtt_login(broker, key_id, key).is_failure, "no MQTT account for a key made before 0019"
    assert key_id not in (broker.directory / "passwd").read_text()

    posted = httpx.post(
        f"{server.url}/sta/v1.1/Datastreams({stream})/Observations",
        json={"phenomenonTime": now_text(30), "result": 14.0},
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    (hashed,) = db.execute("SELECT mqtt_hash FROM sta_keys WHERE key_id = %s", (key_id,)).fetchone()
    assert hashed is not None and hashed.startswith("$7$")
    assert f"{key_id}:{hashed}" in (broker.directory / "passwd").read_text().splitlines()
    # the Datastreams it may publish to: the broker's ACL plugin's grants (twin/sensors/broker.py)
    grants = (broker.directory / "datastreams").read_text().splitlines()
    assert f"{key_id} {stream}" in grants

    # mosquitto has reloaded (SIGHUP): the same key now logs in and publishes its readings
    wait_for(
        lambda: not mqtt_login(broker, key_id, key).is_failure, 5, "the old key logs in by MQTT"
    )
    dashboard = Client(broker, OWN_ACCOUNT, twin_secret(broker.directory))
    device = Client(broker, key_id, key)
    try:
        dashboard.subscribe(f"v1.1/Datastreams({stream})/Observations")
        dashboard.subscribe(f"v1.1/Datastreams({gateway['other']})/Observations")
        for target, value in ((gateway["other"], 99.0), (stream, 15.0)):
            body = json.dumps({"phenomenonTime": now_text(20), "result": value}).encode()
            device.paho.publish(
                f"v1.1/Datastreams({target})/Observations", body, qos=1
            ).wait_for_publish(5)
        wait_for(lambda: dashboard.heard, 5, "the dashboard hears the gateway's reading")
        time.sleep(0.5)
        heard = {(topic, json.loads(payload)["result"]) for topic, payload in dashboard.heard}
        # its own Datastream only (another provider's topic is closed to it by the ACL)
        assert heard == {(f"v1.1/Datastreams({stream})/Observations", 15.0)}
    finally:
        device.close()
        dashboard.close()

    # used again over HTTP: its MQTT password is kept as it is (given once)
    again = httpx.post(
        f"{server.url}/sta/v1.1/Datastreams({stream})/Observations",
        json={"phenomenonTime": now_text(10), "result": 16.0},
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert again.status_code == 201, again.text
    kept = db.execute("SELECT mqtt_hash FROM sta_keys WHERE key_id = %s", (key_id,)).fetchone()
    assert kept == (hashed,)

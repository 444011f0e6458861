"""A revoked sensor key loses its open MQTT connection (issue #20), on the real mosquitto.

An air-quality provider's gateway is connected to the twin's broker with its sensor key and
publishing; a dashboard (the twin's own account, as the bridge) hears its readings. The key is
revoked: the twin rewrites the broker's accounts and signals it (SIGHUP), and mosquitto (2.0)
checks the clients already connected against the reloaded password file, so it cuts the
gateway's session at once; the gateway's next reading reaches nobody (paho's reconnects are
refused), so the bridge has nothing of that key to store or to count.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from conftest import wait_for
from twin.sensors.broker import OWN_ACCOUNT, twin_secret
from twin.sensors.keys import add_key, provider_id, revoke_key


class Client:
    """A plain paho client, as a gateway or a dashboard uses one (reconnecting by itself)."""

    def __init__(self, broker: Any, username: str, password: str) -> None:
        self.heard: list[bytes] = []
        self.cut = threading.Event()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.paho.username_pw_set(username, password)
        self.paho.on_message = lambda client, userdata, message: self.heard.append(message.payload)
        self.paho.on_disconnect = lambda *args: self.cut.set()
        self.paho.connect(broker.host, broker.port)
        self.paho.loop_start()
        wait_for(self.paho.is_connected, 5, f"{username} connected")

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def reading(value: float) -> bytes:
    moment = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return json.dumps({"phenomenonTime": moment, "result": value}).encode()


def test_revoking_a_key_cuts_its_open_mqtt_connection(broker: Any, db: psycopg.Connection) -> None:
    provider = f"AirKZ revoke {uuid.uuid4().hex[:6]}"
    thing = db.execute(
        "INSERT INTO sta_things (name, provider_id, district) VALUES ('Revoke station', %s, "
        "'Almaly') RETURNING id",
        (provider_id(db, provider, create=True),),
    ).fetchone()[0]
    sensor = db.execute("INSERT INTO sta_sensors (name) VALUES ('test') RETURNING id").fetchone()[0]
    prop = db.execute(
        "INSERT INTO sta_observed_properties (name, definition) "
        "VALUES ('PM2.5', 'http://example.org/pm25') RETURNING id"
    ).fetchone()[0]
    stream = db.execute(
        "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, sensor_id, "
        "observed_property_id) VALUES ('revoke pm25', 'OM_Measurement', 'number', %s, %s, %s) "
        "RETURNING id",
        (thing, sensor, prop),
    ).fetchone()[0]
    key = add_key(db, provider=provider)
    topic = f"v1.1/Datastreams({stream})/Observations"

    dashboard = Client(broker, OWN_ACCOUNT, twin_secret(broker.directory))
    gateway = Client(broker, key.split("_")[1], key)
    try:
        done = threading.Event()
        dashboard.paho.on_subscribe = lambda *args: done.set()
        dashboard.paho.subscribe(topic, qos=1)
        assert done.wait(5)
        gateway.paho.publish(topic, reading(11.0), qos=1).wait_for_publish(5)
        wait_for(lambda: len(dashboard.heard) >= 1, 5, "the dashboard hears the reading")

        revoke_key(db, key)
        assert gateway.cut.wait(5), "the broker cut the revoked key's open connection"
        gateway.paho.publish(topic, reading(99.0), qos=1)  # queued: paho tries to reconnect
        time.sleep(1.5)
        assert not gateway.paho.is_connected()
        # the gateway's 11 (and, when a bridge runs on this broker, the created Observation it
        # publishes back on the same topic); never the revoked key's 99
        assert {json.loads(each)["result"] for each in dashboard.heard} == {11.0}
    finally:
        gateway.close()
        dashboard.close()
        db.execute("DELETE FROM sta_things WHERE id = %s", (thing,))

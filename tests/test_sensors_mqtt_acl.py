"""A sensor key with many Datastreams publishes by MQTT only to its own (issue #20).

The city's lighting provider feeds one Datastream per lamp: 1,500 in this story (44,000 in the
city demo), more than an ACL file can list (mosquitto reads one in quadratic time), which used
to let such a key publish to every Datastream's topic. Its gateway logs in to the twin's real
mosquitto with the provider's sensor key (MQTT 5, QoS 1, so the broker answers each publish):
readings for its first and last lamps are accepted and stored by the twin; a reading for an
air-quality provider's PM2.5 Datastream is refused by the broker ("not authorized") and never
stored. A lamp added later becomes publishable once the broker reloads its accounts (the bridge
does so when Datastreams change), and /sta/v1.1/mqtt-status says the broker checks each
Datastream.
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

from conftest import Server, bridged_server, wait_for
from twin.sensors.broker import reload_accounts
from twin.sensors.keys import add_key, provider_id

LAMPS = 1500
NOT_AUTHORIZED = 135  # MQTT 5 reason code of a PUBACK the broker's ACL refused


class Gateway:
    """A provider's gateway: an MQTT 5 paho client that keeps the broker's answer to each
    QoS 1 publish."""

    def __init__(self, broker: Any, key: str) -> None:
        self.answers: dict[int, int] = {}
        self.answered = threading.Condition()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.paho.username_pw_set(key.split("_")[1], key)
        self.paho.on_publish = self._answer
        self.paho.connect(broker.host, broker.port)
        self.paho.loop_start()
        wait_for(self.paho.is_connected, 5, "the gateway connected")

    def _answer(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self.answered:
            self.answers[mid] = reason.value
            self.answered.notify_all()

    def publish(self, datastream: int, minutes_ago: float, result: float) -> int:
        """Publish one reading; the broker's reason code (0 or 16: accepted)."""
        moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
        body = {"phenomenonTime": moment.isoformat().replace("+00:00", "Z"), "result": result}
        topic = f"v1.1/Datastreams({datastream})/Observations"
        sent = self.paho.publish(topic, json.dumps(body).encode(), qos=1)
        with self.answered:
            assert self.answered.wait_for(lambda: sent.mid in self.answers, 5), "no PUBACK"
            return self.answers[sent.mid]

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def make_streams(db: psycopg.Connection, provider: str, count: int, kind: str) -> list[int]:
    """`count` Things of a provider with one Datastream each (a lamp, a station)."""
    owner = provider_id(db, provider, create=True)
    sensor = db.execute("INSERT INTO sta_sensors (name) VALUES ('test') RETURNING id").fetchone()[0]
    prop = db.execute(
        "INSERT INTO sta_observed_properties (name, definition) "
        "VALUES (%s, 'http://example.org/acl') RETURNING id",
        (kind,),
    ).fetchone()[0]
    rows = db.execute(
        "WITH things AS (INSERT INTO sta_things (name, provider_id, district) "
        "  SELECT %(kind)s || ' ' || n, %(owner)s, 'Almaly' FROM generate_series(1, %(count)s) n "
        "  RETURNING id) "
        "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, sensor_id, "
        "  observed_property_id) "
        "SELECT %(kind)s || ' ' || id, 'OM_Measurement', 'number', id, %(sensor)s, %(prop)s "
        "  FROM things RETURNING id",
        {"kind": kind, "owner": owner, "count": count, "sensor": sensor, "prop": prop},
    ).fetchall()
    return sorted(id_ for (id_,) in rows)


def stored(db: psycopg.Connection, datastream: int) -> int:
    return db.execute(
        "SELECT count(*) FROM sta_observations WHERE datastream_id = %s", (datastream,)
    ).fetchone()[0]


@pytest.fixture(scope="module")
def live(broker: Any) -> Iterator[Server]:
    """The twin's server with its MQTT bridge on the session's broker."""
    srv = bridged_server(broker)
    yield srv
    srv.stop()


def test_a_key_with_many_datastreams_publishes_only_to_its_own(
    live: Server, broker: Any, db: psycopg.Connection
) -> None:
    tag = uuid.uuid4().hex[:6]
    lighting = f"Almaty Lighting {tag}"
    lamps = make_streams(db, lighting, LAMPS, "lamp")
    (pm25,) = make_streams(db, f"AirKZ {tag}", 1, "pm25")
    key = add_key(db, provider=lighting)  # an MQTT account: the broker reloads its accounts

    status = live.get("/sta/v1.1/mqtt-status").json()
    assert status["publishCheck"]["perDatastream"] is True, status["publishCheck"]

    gateway = Gateway(broker, key)
    try:
        assert gateway.publish(pm25, 5, 999.0) == NOT_AUTHORIZED, "another provider's stream"
        assert gateway.publish(lamps[0], 4, 1.0) < 128, "its first lamp"
        assert gateway.publish(lamps[-1], 4, 0.0) < 128, "its last lamp"
        wait_for(
            lambda: stored(db, lamps[0]) == 1 and stored(db, lamps[-1]) == 1,
            15,
            "the lamps' readings stored",
        )
        time.sleep(1.0)  # the refused reading was published first: it had its chance
        assert stored(db, pm25) == 0

        # a new lamp: not the key's until the broker reloads the accounts, then it is
        (new_lamp,) = db.execute(
            "INSERT INTO sta_datastreams (name, observation_type, result_kind, thing_id, "
            "sensor_id, observed_property_id) SELECT 'lamp new', observation_type, result_kind, "
            "thing_id, sensor_id, observed_property_id FROM sta_datastreams WHERE id = %s "
            "RETURNING id",
            (lamps[0],),
        ).fetchone()
        assert gateway.publish(new_lamp, 3, 1.0) == NOT_AUTHORIZED
        reload_accounts(db, broker.directory)  # as the bridge does when Datastreams change
        wait_for(lambda: gateway.publish(new_lamp, 2, 1.0) < 128, 5, "the new lamp accepted")
        wait_for(lambda: stored(db, new_lamp) >= 1, 15, "the new lamp's reading stored")
        assert stored(db, pm25) == 0
    finally:
        gateway.close()
        db.execute(
            "DELETE FROM sta_things WHERE provider_id IN (SELECT id FROM sta_providers "
            "WHERE name IN (%s, %s))",
            (lighting, f"AirKZ {tag}"),
        )

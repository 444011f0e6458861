"""The MQTT bridge: SensorThings Observations in and out through a broker (STA MQTT extension).

In: a client PUBLISHes a new Observation (JSON) to `v1.1/Datastreams(<id>)/Observations`, or
to `v1.1/Observations` with its "Datastream": {"@iot.id": n}. The bridge gathers messages in
small time-bounded batches (up to BATCH_MAX or BATCH_WAIT_S) and hands them to
twin.sensors.ingest.ingest_observations, the one checked write every path uses. A message is
independent of its neighbours: when the ingest refuses some items of a batch (and so writes
none of it), the bridge counts each refused message with its reason and stores the rest.

Refused messages (bad JSON, larger than MAX_PAYLOAD_BYTES, a topic that is not an Observations
topic, an unknown Datastream, a result of the wrong type, a time in the future, a duplicate
time, ...) are logged (structured, at most once per reason every LOG_EVERY_S) and counted by
reason in sta_mqtt_refusals, readable at GET /sta/v1.1/mqtt-status and `twin sensors stats`.

Out: every created Observation (HTTP or MQTT: the INSERT's notice, migration 0016) is published
as its entity JSON to `v1.1/Datastreams(<id>)/Observations` and `v1.1/Observations`. No echo
loop: the bridge subscribes with MQTT 5's No Local on the one connection it also publishes on
(twin/sensors/mqtt_wire.py), so it does not hear itself, and a message that carries an @iot.id
is a published entity, never a new Observation. Every 30 s, beside the ingest (never in its
way), the bridge refreshes the layers derived from the sensors (lamp faults, air quality,
meters) and the broker's accounts.

One bridge per database: a process beside the server's workers (like the analysis refresher),
working while it holds an advisory "leader" lock; others wait to take over. The broker going
away stops neither the server nor the bridge: it reconnects with back-off (0.5 s doubling to
10 s) and messages flow again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from twin.sensors.broker import MqttEndpoint, mqtt_endpoint, publish_check
from twin.sensors.mqtt_wire import MqttConnection, MqttWireError
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.mqtt")

BRIDGE_NAME = "twin mqtt bridge"
LOCK_SPACE = 0x7473  # advisory locks of the sensors ("ts")
LEADER_LOCK = 1  # held by the one bridge that works
SUBSCRIPTION = "v1.1/#"
OBSERVATIONS_TOPIC = "v1.1/Observations"
DATASTREAM_TOPIC = re.compile(r"^v1\.1/Datastreams\((\d+)\)/Observations$")
MAX_PAYLOAD_BYTES = 64 * 1024
BATCH_MAX = 5000  # messages per ingest
INGESTERS = 2  # batches in flight at once: one is parsed while the other's rows are written
BATCH_WAIT_S = 0.05  # the longest a message waits for its batch
LOG_EVERY_S = 10.0  # a reason is logged at most this often (its count is always whole)
STATE_EVERY_S = 1.0
DERIVE_EVERY_S = 30.0  # the derived layers (lamp faults, air quality) after MQTT batches
RETAIN_EVERY_S = 3600.0  # hourly aggregates of closed hours, old raw days dropped (retention)
BACKOFF_S = (0.5, 10.0)
# the conformance class of the MQTT extension's Observation creation (the /sta root lists it
# when the bridge is on)
MQTT_CREATE_CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/"
    "observations-creation"
)
MQTT_RECEIVE_CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
)

# ingest's reasons (free text) as the counters' reason codes
REASON_CODES = (
    ("no Datastream", "unknown_datastream"),
    ("does not fit", "wrong_type"),
    ("in the future", "future_time"),
    ("twice in this batch", "duplicate_time"),
    ("already has an Observation", "duplicate_time"),
    ("differs from", "datastream_mismatch"),
    ("may not write", "forbidden"),
)


def reason_code(reason: str) -> str:
    """The counter a refusal of the ingest adds to (bad_observation when none fits)."""
    for words, code in REASON_CODES:
        if words in reason:
            return code
    return "bad_observation"


def _iso(moment: datetime) -> str:
    """An instant as the HTTP API writes it: UTC with Z."""
    text = moment.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _instant(moment: datetime | None) -> datetime | str | None:
    """An instant for orjson (OPT_UTC_Z): a UTC one as it is (orjson writes what _iso writes,
    without its cost per published entity), any other through _iso."""
    if moment is None or not moment.utcoffset():
        return moment
    return _iso(moment)


@dataclass(slots=True)
class Inbound:
    """A message taken from the broker, parsed (item) or refused (reason, detail)."""

    topic: str
    item: dict[str, Any] | None = None
    reason: str = ""
    detail: str = ""


def parse_message(topic: str, payload: bytes) -> Inbound | None:
    """A message as an Observation to ingest, a refusal, or None (a published entity: the
    echo of a created Observation, not a new one)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Inbound(topic, reason="oversize", detail=f"{len(payload)} bytes > 64 KB")
    match = DATASTREAM_TOPIC.match(topic)
    if match is None and topic != OBSERVATIONS_TOPIC:
        if topic.startswith("v1.1/") and not topic.endswith("/Observations"):
            return None  # another entity's topic (subscribers' business), not ours to create
        return Inbound(topic, reason="unknown_topic", detail="not an Observations topic")
    try:
        item = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Inbound(topic, reason="bad_json", detail=str(exc)[:200])
    if not isinstance(item, dict):
        return Inbound(topic, reason="bad_json", detail="an Observation is a JSON object")
    if "@iot.id" in item:
        return None
    if match is not None:
        stream = int(match.group(1))
        named = item.get("Datastream")
        if named is not None and (not isinstance(named, dict) or named.get("@iot.id") != stream):
            return Inbound(
                topic,
                reason="datastream_mismatch",
                detail=f"the payload's Datastream differs from the topic's {stream}",
            )
        item["Datastream"] = {"@iot.id": stream}
    return Inbound(topic, item=item)


@dataclass
class Counters:
    """What the bridge did since its last state write (deltas), and refusals by reason."""

    received: int = 0
    ingested: int = 0
    refused: int = 0
    published: int = 0
    reconnects: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[str, str]] = field(default_factory=dict)

    def refuse(self, reason: str, topic: str, detail: str) -> None:
        self.refused += 1
        self.reasons[reason] += 1
        self.examples[reason] = (topic, detail[:500])


class Bridge:
    """The leader's work: the MQTT session, the batched ingest, the publisher, the state."""

    def __init__(self, endpoint: MqttEndpoint, database_url: str, base_url: str) -> None:
        self.endpoint = endpoint
        self.database_url = database_url
        self.base_url = base_url.rstrip("/")
        self.counts = Counters()
        self.connected = False
        self.since: datetime | None = None
        self.client: MqttConnection | None = None
        self.pending: list[Inbound] = []  # taken by the next batch
        self.arrived = asyncio.Event()
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()  # the counters, shared with the ingest's thread
        self._ingest_conns: dict[int, psycopg.Connection] = {}

    # -- the MQTT session, reconnecting -----------------------------------------------------

    async def mqtt_session(self) -> None:
        """One connection that subscribes (QoS 1, No Local) and publishes; it comes back with
        back-off whenever the broker goes away."""
        delay = BACKOFF_S[0]
        first = True
        while True:
            client = MqttConnection()
            try:
                await client.connect(
                    self.endpoint.host,
                    self.endpoint.port,
                    f"twin-bridge-{os.getpid()}",
                    username=self.endpoint.username,
                    password=self.endpoint.password,
                )
                await client.subscribe(SUBSCRIPTION, qos=1, no_local=True)
                self.client, self.connected, self.since = client, True, datetime.now(UTC)
                if not first:
                    with self._lock:
                        self.counts.reconnects += 1
                LOG.info("mqtt bridge connected", extra={"fields": {"broker": self.endpoint.url}})
                first, delay = False, BACKOFF_S[0]
                async for chunk in client.messages():
                    for topic, payload in chunk:
                        self.receive(topic, payload)
            except (MqttWireError, OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                self._log_once(
                    "broker_away",
                    "mqtt broker unreachable; retrying",
                    {"broker": self.endpoint.url, "error": str(exc)[:200], "retry_s": delay},
                )
            finally:
                self.client, self.connected = None, False
                await client.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_S[1])

    def receive(self, topic: str, payload: bytes) -> None:
        """One message from the broker: counted, then queued for the next batch."""
        inbound = parse_message(topic, payload)
        if inbound is None:
            return  # a published entity (another server's): not an Observation sent to us
        self.counts.received += 1
        if inbound.item is None:
            self._refuse(inbound.reason, topic, inbound.detail)
            return
        self.pending.append(inbound)
        self.arrived.set()

    # -- batched ingest -------------------------------------------------------------------------

    async def ingest_batches(self, worker: int) -> None:
        """Up to BATCH_MAX messages, or what came within BATCH_WAIT_S of the first, a batch.
        INGESTERS of these run, each with its own connection: while one batch waits on the
        database the next is parsed and checked (the ingest locks a batch's Datastreams in
        id order, so two batches never deadlock, and latest_* only moves forward in time)."""
        while True:
            await self.arrived.wait()
            waited = time.monotonic()
            while len(self.pending) < BATCH_MAX and time.monotonic() - waited < BATCH_WAIT_S:
                await asyncio.sleep(0.005)
            if not self.pending:
                continue  # the other ingester took them
            batch, self.pending = self.pending[:BATCH_MAX], self.pending[BATCH_MAX:]
            if not self.pending:
                self.arrived.clear()
            try:
                await asyncio.to_thread(self.ingest, batch, worker)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise  # the database went away: start over (serve_bridge)
            except Exception as exc:  # a bug must not stop the bridge: count and go on
                LOG.exception("mqtt ingest failed")
                for each in batch:
                    self._refuse("server_error", each.topic, f"{type(exc).__name__}: {exc}")

    def ingest(self, batch: list[Inbound], worker: int = 0) -> None:
        """Store a batch through the ingest; refused messages are counted and the rest stored
        (the ingest writes all of a batch or nothing, so it is asked again without them)."""
        from twin.sensors.ingest import ingest_observations

        conn = self._connection(worker)
        for _ in range(3):
            if not batch:
                return
            report = ingest_observations(conn, [each.item for each in batch], caller=None)
            if report.ok:
                with self._lock:
                    self.counts.ingested += report.created
                return
            refused = {r.index: r.reason for r in report.refused}
            for index, reason in refused.items():
                self._refuse(reason_code(reason), batch[index].topic, reason)
            batch = [each for index, each in enumerate(batch) if index not in refused]
        for each in batch:  # refused three times over: a storm of conflicting writers
            self._refuse("conflict", each.topic, "the batch kept conflicting with other writes")

    def _derive(self, conn: psycopg.Connection) -> None:
        """The layers derived from the sensors follow (at most every DERIVE_EVERY_S)."""
        from twin.sensors.derived import refresh_if_due

        try:
            refresh_if_due(conn, DERIVE_EVERY_S)
        except psycopg.Error:
            LOG.exception("refreshing the sensors' derived layers failed")

    async def housekeeping(self) -> None:
        """What no request asks for: the derived layers follow Observations that came over
        HTTP too (every DERIVE_EVERY_S), and once an hour the closed hours are aggregated and
        raw days past TWIN_STA_RAW_DAYS dropped (twin.sensors.retention, docs/sensors.md)."""
        from twin.sensors.broker import reload_accounts
        from twin.sensors.retention import retain

        def work(retaining: bool) -> None:
            with psycopg.connect(
                self.database_url, autocommit=True, application_name=f"{BRIDGE_NAME}: keep"
            ) as conn:
                self._derive(conn)
                reload_accounts(conn)  # new Datastreams reach their keys' ACL on the broker
                if retaining:
                    report = retain(conn)
                    fields = {k: str(v) for k, v in vars(report).items()}
                    LOG.info("sensor retention", extra={"fields": fields})

        retained = 0.0
        while True:
            await asyncio.sleep(DERIVE_EVERY_S)
            retaining = time.monotonic() - retained >= RETAIN_EVERY_S
            try:
                await asyncio.to_thread(work, retaining)
                if retaining:
                    retained = time.monotonic()
            except psycopg.Error:
                LOG.exception("sensor housekeeping failed; tried again later")

    def _connection(self, worker: int) -> psycopg.Connection:
        conn = self._ingest_conns.get(worker)
        if conn is None or conn.closed:
            conn = self._ingest_conns[worker] = psycopg.connect(
                self.database_url, autocommit=True, application_name=BRIDGE_NAME
            )
        return conn

    # -- publishing what was created --------------------------------------------------------

    async def publish_created(self) -> None:
        connect = psycopg.AsyncConnection.connect
        name = f"{BRIDGE_NAME}: listen"
        # two connections: a connection iterating its notices cannot run a query meanwhile
        async with (
            await connect(self.database_url, autocommit=True, application_name=name) as listen,
            await connect(self.database_url, autocommit=True, application_name=name) as conn,
        ):
            await listen.execute(query("sensors_mqtt/listen"))
            async for notice in listen.notifies():
                created = orjson.loads(notice.payload)
                if self.client is None:
                    continue  # broker away: subscribers would not hear it anyway
                rows = await conn.execute(query("sensors_mqtt/created_range"), created)
                client, published = self.client, 0
                try:
                    for row in await rows.fetchall():
                        entity = self.entity(row)
                        client.publish(f"v1.1/Datastreams({row[0]})/Observations", entity)
                        client.publish(OBSERVATIONS_TOPIC, entity)
                        published += 1
                        if published % 1000 == 0:
                            await client.drain()  # the socket keeps up, memory stays flat
                    await client.drain()
                except (MqttWireError, OSError):
                    pass  # the broker went away mid-batch: the session reconnects
                with self._lock:
                    self.counts.published += published

    def entity(self, row: tuple[Any, ...]) -> bytes:
        """An Observation as the HTTP API shows it (GET /sta/v1.1/Observations(id))."""
        _, oid, start, end, result_time, result, quality, valid_start, valid_end, params = row
        link = f"{self.base_url}/sta/v1.1/Observations({oid})"
        return orjson.dumps(
            {
                "@iot.selfLink": link,
                "@iot.id": oid,
                "phenomenonTime": f"{_iso(start)}/{_iso(end)}" if end else _instant(start),
                "resultTime": _instant(result_time),
                "result": result,
                "resultQuality": quality,
                "validTime": (
                    _iso(valid_start) + (f"/{_iso(valid_end)}" if valid_end else "")
                    if valid_start
                    else None
                ),
                "parameters": params,
                "Datastream@iot.navigationLink": f"{link}/Datastream",
                "FeatureOfInterest@iot.navigationLink": f"{link}/FeatureOfInterest",
            },
            option=orjson.OPT_UTC_Z,
        )

    # -- state and refusals ---------------------------------------------------------------------

    def _refuse(self, reason: str, topic: str, detail: str) -> None:
        with self._lock:
            self.counts.refuse(reason, topic, detail)
        self._log_once(
            f"refused:{reason}",
            "mqtt message refused",
            {"reason": reason, "topic": topic[:200], "detail": detail[:200]},
        )

    def _log_once(self, key: str, message: str, fields: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._logged.get(key, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._logged[key] = now
            LOG.warning(message, extra={"fields": fields})

    async def write_state(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True, application_name=f"{BRIDGE_NAME}: state"
        ) as conn:
            while True:
                await self.flush(conn)
                await asyncio.sleep(STATE_EVERY_S)

    async def flush(self, conn: psycopg.AsyncConnection) -> None:
        with self._lock:
            counts, self.counts = self.counts, Counters()
        async with conn.transaction():
            await conn.execute(
                query("sensors_mqtt/bridge_state"),
                {
                    "broker": self.endpoint.url,
                    "connected": self.connected,
                    "since": self.since,
                    "received": counts.received,
                    "ingested": counts.ingested,
                    "refused": counts.refused,
                    "published": counts.published,
                    "reconnects": counts.reconnects,
                },
            )
            for reason, n in counts.reasons.items():
                topic, detail = counts.examples[reason]
                await conn.execute(
                    query("sensors_mqtt/refusals_add"),
                    {"reason": reason, "n": n, "topic": topic, "detail": detail},
                )

    async def run(self) -> None:
        """Until the database goes away (raised: the caller starts over, lock included)."""
        import twin.sensors.ingest  # noqa: F401  loaded now, not in the first batch's time

        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.mqtt_session())
                tasks.create_task(self.write_state())
                for worker in range(INGESTERS):
                    tasks.create_task(self.ingest_batches(worker))
                tasks.create_task(self.publish_created())
                tasks.create_task(self.housekeeping())
        finally:
            for conn in self._ingest_conns.values():
                conn.close()


# -- one bridge per database -------------------------------------------------------------------


async def serve_bridge(endpoint: MqttEndpoint, database_url: str, base_url: str) -> None:
    """Take the leader lock (waiting while another bridge holds it), then bridge; start over
    when the database goes away."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True, application_name=f"{BRIDGE_NAME}: leader"
            ) as lock:
                while not (
                    await (
                        await lock.execute(
                            query("analysis/refresh_try_lock"),
                            {"space": LOCK_SPACE, "key": LEADER_LOCK},
                        )
                    ).fetchone()
                )[0]:
                    await asyncio.sleep(2.0)
                await Bridge(endpoint, database_url, base_url).run()
        except* (psycopg.OperationalError, psycopg.InterfaceError) as group:
            LOG.warning(
                "mqtt bridge lost the database; retrying",
                extra={"fields": {"error": str(group.exceptions[0]).splitlines()[0][:200]}},
            )
            await asyncio.sleep(2.0)
        except* Exception:  # a bug: said, and the bridge starts over after a pause
            LOG.exception("mqtt bridge failed; starting over")
            await asyncio.sleep(5.0)


def _bridge_main(parent: int, log_level: int, endpoint: MqttEndpoint, base_url: str) -> None:
    """The bridge process: gone when the server that started it is."""
    from twin import logs
    from twin.db.cluster import session_database_url

    logs.setup()
    logging.getLogger().setLevel(log_level)

    def orphaned() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=orphaned, daemon=True, name="twin-bridge-parent").start()
    asyncio.run(serve_bridge(endpoint, session_database_url(), base_url))


_announced = False


def start_bridge_process(base_url: str) -> multiprocessing.process.BaseProcess | None:
    """Start the server's MQTT bridge when a broker is configured (TWIN_MQTT_URL, or the
    twin's own broker running); otherwise say once that MQTT is off and start nothing."""
    global _announced
    endpoint = mqtt_endpoint()
    if endpoint is None:
        if not _announced:
            _announced = True
            LOG.info(
                "mqtt is off: no broker configured (TWIN_MQTT_URL) and the twin's own broker "
                "does not run (`twin sensors broker start`)"
            )
        return None
    process = multiprocessing.get_context("spawn").Process(
        target=_bridge_main,
        args=(os.getpid(), logging.getLogger().level, endpoint, base_url),
        daemon=True,
        name="twin-mqtt-bridge",
    )
    process.start()
    return process


# -- what the bridge says: /sta/v1.1/mqtt-status, `twin sensors stats`, the /sta root ------------


def bridge_status(conn: psycopg.Connection) -> dict[str, Any]:
    """The broker in use, the leading bridge's counts, and refusals by reason."""
    endpoint = mqtt_endpoint()
    bridge, refusals = conn.execute(query("sensors_mqtt/status")).fetchone()
    return {
        "enabled": endpoint is not None,
        "broker": endpoint.url if endpoint else None,
        "topics": {
            "create": ["v1.1/Datastreams(<id>)/Observations", OBSERVATIONS_TOPIC],
            "subscribe": ["v1.1/Datastreams(<id>)/Observations", OBSERVATIONS_TOPIC],
        },
        "maxPayloadBytes": MAX_PAYLOAD_BYTES,
        # which Datastreams a sensor key may publish to: checked per Datastream by the twin's
        # broker (its ACL plugin), or not when it could not be built (twin/sensors/broker.py)
        "publishCheck": publish_check(conn, endpoint),
        "bridge": bridge,
        "refusals": refusals,
    }


def server_settings() -> dict[str, Any]:
    """The MQTT part of the /sta root's serverSettings: when on, the extension's conformance
    classes and, under each, the broker's endpoint (as SensorThings 1.1 writes it); always a
    `twinMqtt` member saying whether MQTT is on and where its counts are."""
    endpoint = mqtt_endpoint()
    if endpoint is None:
        return {
            "conformance": [],
            "twinMqtt": {
                "enabled": False,
                "reason": "no broker configured (TWIN_MQTT_URL) and the twin's own broker "
                "does not run",
            },
        }
    classes = [MQTT_CREATE_CONFORMANCE, MQTT_RECEIVE_CONFORMANCE]
    return {
        "conformance": classes,
        **{uri: {"endpoints": [endpoint.url]} for uri in classes},
        "twinMqtt": {"enabled": True, "status": "/sta/v1.1/mqtt-status"},
    }


async def mqtt_status(request: Any) -> Any:
    """GET /sta/v1.1/mqtt-status: is MQTT on, what the bridge received, stored, refused (by
    reason, with the latest example) and published."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    from twin.db.pool import connection

    def work() -> dict[str, Any]:
        with connection(timeout=5) as conn:
            return bridge_status(conn)

    return JSONResponse(orjson.loads(orjson.dumps(await run_in_threadpool(work))))


__all__ = [
    "Bridge",
    "Inbound",
    "bridge_status",
    "mqtt_status",
    "parse_message",
    "reason_code",
    "server_settings",
    "start_bridge_process",
]

"""`twin simulate sensors`: the demo's sensors reporting live, through HTTP and/or MQTT.

The values come from the value model (twin.sensors.model: lamps by sunset and sunrise in
Almaty, diurnal PM2.5, meter flows with a leak); this module is the transport. It sends N
observations a second, taking the demo's Datastreams in turn (with 44,000 lamps at 50/s each
reports about every 15 minutes), stamping each with its own instant of simulated time so that
no Datastream ever gets one time twice:

- http: POST /sta/v1.1/CreateObservations (the dataArray extension), one batch per data
  provider and tick, with that provider's sensor key (`--key`, else a key per provider made
  for the run and revoked at its end);
- mqtt: one message per observation to v1.1/Datastreams(<id>)/Observations (the bridge
  ingests them);
- both: every other observation each way.

--speed X runs simulated time X times faster than the clock; the run then starts in the past
(duration × (X - 1) before now) so that it ends now: observations from the future are refused.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx
import orjson
import psycopg

from twin.errors import InvalidParameter, TwinError
from twin.sensors.broker import MqttEndpoint, mqtt_endpoint
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.simulate")
TICK_S = 0.2  # the simulator sends what is due every tick
VIAS = ("http", "mqtt", "both")


@dataclass
class SimulationReport:
    """What a run sent, and what the server accepted (HTTP answers; MQTT is fire and forget:
    GET /sta/v1.1/mqtt-status counts what the bridge stored)."""

    via: str
    sent_http: int = 0
    sent_mqtt: int = 0
    accepted_http: int = 0
    refused_http: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    warned: float = -1e9

    @property
    def sent(self) -> int:
        return self.sent_http + self.sent_mqtt

    def as_json(self) -> dict[str, Any]:
        return {
            "via": self.via,
            "sent": self.sent,
            "sent_http": self.sent_http,
            "sent_mqtt": self.sent_mqtt,
            "accepted_http": self.accepted_http,
            "refused_http": self.refused_http,
            "seconds": round(self.seconds, 2),
            "rate": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
            "errors": self.errors[:5],
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class HttpSender:
    """Batches to POST /sta/v1.1/CreateObservations, one per provider, with its key."""

    def __init__(self, base_url: str, keys: dict[str | None, str]) -> None:
        self.url = base_url.rstrip("/") + "/sta/v1.1/CreateObservations"
        self.keys = keys
        self.client = httpx.Client(timeout=60)

    def send(
        self, rows: Sequence[tuple[int, datetime, Any]], providers: dict[int, str | None]
    ) -> tuple[int, int, list[str]]:
        """(accepted, refused, errors) of one tick's rows."""
        by_provider: dict[str | None, dict[int, list[list[Any]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for stream, moment, result in rows:
            by_provider[providers.get(stream)][stream].append([_iso(moment), result])
        accepted = refused = 0
        errors: list[str] = []
        for provider, streams in by_provider.items():
            key = self.keys.get(provider) or self.keys.get(None)
            body = [
                {
                    "Datastream": {"@iot.id": stream},
                    "components": ["phenomenonTime", "result"],
                    "dataArray@iot.count": len(values),
                    "dataArray": values,
                }
                for stream, values in streams.items()
            ]
            n = sum(len(values) for values in streams.values())
            try:
                answer = self.client.post(
                    self.url,
                    content=orjson.dumps(body),
                    headers={"Content-Type": "application/json", "X-API-Key": key or ""},
                )
            except httpx.HTTPError as exc:
                refused += n
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if answer.status_code in (200, 201):
                links = answer.json()
                bad = sum(1 for each in links if isinstance(each, str) and "error" in each)
                accepted += n - bad
                refused += bad
            else:
                refused += n
                errors.append(f"{answer.status_code}: {answer.text[:200]}")
        return accepted, refused, errors

    def close(self) -> None:
        self.client.close()


class MqttSender:
    """One message per observation to v1.1/Datastreams(<id>)/Observations (paho, QoS 0)."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"twin-simulator-{os.getpid()}"
        )
        if endpoint.username:
            self.client.username_pw_set(endpoint.username, endpoint.password)
        self.client.max_queued_messages_set(0)
        self.client.connect(endpoint.host, endpoint.port, keepalive=30)
        self.client.loop_start()
        self.last: Any = None

    def send(self, rows: Sequence[tuple[int, datetime, Any]]) -> None:
        for stream, moment, result in rows:
            self.last = self.client.publish(
                f"v1.1/Datastreams({stream})/Observations",
                orjson.dumps({"phenomenonTime": _iso(moment), "result": result}),
            )

    def close(self) -> None:
        if self.last is not None:  # what is queued leaves before the connection closes
            with contextlib.suppress(RuntimeError, ValueError):
                self.last.wait_for_publish(10)
        self.client.disconnect()
        self.client.loop_stop()


def _providers(conn: psycopg.Connection, ids: Sequence[int]) -> dict[int, str | None]:
    rows = conn.execute(query("sensors_mqtt/stream_providers"), {"ids": list(ids)}).fetchall()
    return dict(rows)


def simulated_rows(
    streams: Sequence[Any], rate: float, start: datetime, speed: float, seed: int
) -> Iterator[list[tuple[int, datetime, Any]]]:
    """Per tick, the observations due: the next streams in turn, each at its own instant
    (reading k at start + k × speed / rate, so a Datastream's times only grow)."""
    from twin.sensors.model import readings

    began = time.monotonic()
    sent = 0
    spacing = speed / rate
    while True:
        due = int((time.monotonic() - began) * rate) + 1 - sent
        if due <= 0:
            time.sleep(max(0.001, min(TICK_S, (sent + 1) / rate - (time.monotonic() - began))))
            continue
        chunk = [streams[(sent + i) % len(streams)] for i in range(due)]
        instant = start + timedelta(seconds=sent * spacing)
        second = instant.replace(microsecond=0)
        unique = list({s.id: s for s in chunk}.values())
        values = {
            stream: value
            for stream, _, value in readings(
                unique, second, second + timedelta(seconds=1), step_s=1.0, seed=seed
            )
        }
        rows = [
            (s.id, start + timedelta(seconds=(sent + i) * spacing), values[s.id])
            for i, s in enumerate(chunk)
        ]
        sent += due
        yield rows
        time.sleep(TICK_S)


def simulate(
    database_url: str,
    *,
    rate: float,
    via: str = "mqtt",
    duration: float | None = None,
    speed: float = 1.0,
    server_url: str = "http://127.0.0.1:5000",
    key: str | None = None,
    seed: int = 1,
    stop: threading.Event | None = None,
) -> SimulationReport:
    """Send the demo's readings at `rate` observations/s until `duration` s have passed (or
    `stop` is set); returns what was sent and accepted."""
    from twin.sensors.keys import add_key, revoke_key
    from twin.sensors.model import demo_streams

    if via not in VIAS:
        raise InvalidParameter(f"--via must be one of {', '.join(VIAS)}, not {via!r}")
    if rate <= 0:
        raise InvalidParameter("--rate must be a positive number of observations a second")
    if speed < 1:
        raise InvalidParameter("--speed must be 1 or more (simulated time never runs ahead)")
    if speed > 1 and duration is None:
        raise InvalidParameter("--speed above 1 needs a --duration (the run ends now)")
    report = SimulationReport(via)
    made: list[str] = []
    http = mqtt = None
    with psycopg.connect(database_url, autocommit=True) as conn:
        streams = demo_streams(conn)
        if not streams:
            raise TwinError("no demo sensors to simulate: `twin load demo` installs them")
        providers = _providers(conn, [s.id for s in streams])
        if via in ("http", "both"):
            keys: dict[str | None, str] = {}
            if key:
                keys[None] = key
            else:
                for name in sorted({p for p in providers.values() if p}):
                    keys[name] = add_key(conn, provider=name, label="simulator")
                    made.append(keys[name])
            http = HttpSender(server_url, keys)
        if via in ("mqtt", "both"):
            endpoint = mqtt_endpoint()
            if endpoint is None:
                raise TwinError(
                    "MQTT is off: start the broker (`twin sensors broker start`) or set "
                    "TWIN_MQTT_URL"
                )
            mqtt = MqttSender(endpoint)
        start = datetime.now(UTC)
        if speed > 1 and duration:
            start -= timedelta(seconds=duration * (speed - 1) + 1)
        began = time.monotonic()
        last_log = began
        try:
            for rows in simulated_rows(streams, rate, start, speed, seed):
                if via == "both":
                    _send(report, http, mqtt, rows[0::2], rows[1::2], providers)
                elif via == "http":
                    _send(report, http, None, rows, [], providers)
                else:
                    _send(report, None, mqtt, [], rows, providers)
                now = time.monotonic()
                if now - last_log >= 10:
                    last_log = now
                    LOG.info("simulating", extra={"fields": report.as_json()})
                if (duration is not None and now - began >= duration) or (
                    stop is not None and stop.is_set()
                ):
                    break
        finally:
            report.seconds = time.monotonic() - began
            for each in (http, mqtt):
                if each is not None:
                    each.close()
            for made_key in made:
                with contextlib.suppress(TwinError):
                    revoke_key(conn, made_key)
    return report


def _send(
    report: SimulationReport,
    http: HttpSender | None,
    mqtt: MqttSender | None,
    http_rows: Sequence[tuple[int, datetime, Any]],
    mqtt_rows: Sequence[tuple[int, datetime, Any]],
    providers: dict[int, str | None],
) -> None:
    if http is not None and http_rows:
        accepted, refused, errors = http.send(http_rows, providers)
        report.sent_http += len(http_rows)
        report.accepted_http += accepted
        report.refused_http += refused
        report.errors.extend(errors)
        if errors and time.monotonic() - report.warned >= 10:  # at most one line in 10 s
            report.warned = time.monotonic()
            LOG.warning(
                "simulator batch refused",
                extra={"fields": {"error": errors[0], "refused_so_far": report.refused_http}},
            )
    if mqtt is not None and mqtt_rows:
        mqtt.send(mqtt_rows)
        report.sent_mqtt += len(mqtt_rows)


# -- `twin up`'s gentle simulator --------------------------------------------------------------


def _background_main(parent: int, database_url: str, rate: float, via: str, url: str) -> None:
    from twin import logs

    logs.setup()
    stop = threading.Event()

    def orphaned() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    if via == "http":  # the server starts beside us: wait until it answers
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if stop.wait(0.5):
                return
    try:
        simulate(database_url, rate=rate, via=via, server_url=url, stop=stop)
    except TwinError as exc:
        LOG.warning("simulator stopped", extra={"fields": {"error": str(exc)}})


def start_background_simulator(
    database_url: str, rate: float, server_url: str
) -> multiprocessing.process.BaseProcess | None:
    """`twin up` on the small demo: the sensors move (by MQTT when a broker runs, else HTTP)."""
    if rate <= 0:
        return None
    via = "mqtt" if mqtt_endpoint() is not None else "http"
    process = multiprocessing.get_context("spawn").Process(
        target=_background_main,
        args=(os.getpid(), database_url, rate, via, server_url),
        daemon=True,
        name="twin-sensor-simulator",
    )
    process.start()
    LOG.info("sensor simulator started", extra={"fields": {"rate": rate, "via": via}})
    return process


# -- the command -----------------------------------------------------------------------------


@click.group("simulate")
def simulate_group() -> None:
    """Simulators of the demo city's live data."""


@simulate_group.command("sensors")
@click.option("--rate", type=float, default=50, show_default=True, help="Observations a second.")
@click.option("--via", type=click.Choice(VIAS), default="mqtt", show_default=True)
@click.option("--duration", type=float, help="Seconds to run (default: until interrupted).")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Simulated time x.")
@click.option(
    "--server",
    "server_url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="The twin's server (for --via http).",
)
@click.option("--key", help="A sensor key for HTTP (default: a key per provider for the run).")
@click.option("--seed", type=int, default=1, show_default=True)
def simulate_sensors(
    rate: float,
    via: str,
    duration: float | None,
    speed: float,
    server_url: str,
    key: str | None,
    seed: int,
) -> None:
    """Publish the demo sensors' readings (lamps, air, meters) at RATE observations/s."""
    from twin.db.cluster import database_url

    try:
        report = simulate(
            database_url(),
            rate=rate,
            via=via,
            duration=duration,
            speed=speed,
            server_url=server_url,
            key=key,
            seed=seed,
        )
    except KeyboardInterrupt:
        return
    click.echo(orjson.dumps(report.as_json()).decode())
    if report.refused_http and not report.accepted_http:
        raise TwinError(f"the server refused every batch: {report.errors[:1]}")


__all__ = [
    "SimulationReport",
    "simulate",
    "simulate_group",
    "simulated_rows",
    "start_background_simulator",
]

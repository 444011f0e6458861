"""`twin bench sensors`: SensorThings ingest and reads on the city demo (issue #20's figures).

Starts the twin's own broker (a private directory and port) and `twin serve --workers 2` with
its MQTT bridge on the database (the city demo, with its demo sensors: 44,000 lamps), then:

- http_ingest: POST /sta/v1.1/CreateObservations batches (dataArray) from a few client threads
  for --seconds, bodies encoded beforehand; rate = stored / elapsed, counted end to end (the
  observations found in the database equal those the server accepted: no loss). Peer: raw SQL
  (psycopg COPY of the same rows straight into sta_observations, no checks). Target ≥ 20,000/s.
- mqtt_ingest: --messages messages published to v1.1/Datastreams(<id>)/Observations by one
  gateway (paho, logged in with the bench provider's sensor key) as fast as it goes, at QoS 0
  as the twin's simulator publishes; rate = messages / (first publish → last one stored), and
  sent = stored (no loss, counted). Target ≥ 5,000/s (Hamburg's FROST peaks at about 5,000/s:
  context, not a run here). Beside it, mqtt_ingest_qos1: a quarter as many at QoS 1 from one
  gateway, where paho's own PUBACK handling (one packet per loop turn) is the limit: context.
- latest_lamps: the latest value of every demo lamp through the fast path, every page
  (Datastreams?$filter=ObservedProperty/name eq 'Lamp state'&$select=id&$expand=Observations(
  $select=phenomenonTime,result;$top=1;$orderby=phenomenonTime desc)&$top=10000: the id, time
  and value, as the peer reads them), following @iot.nextLink ($skiptoken: keyset pages),
  parsing each page (orjson). Peer: raw SQL on latest_* (id, time, value), one run of each
  in turn (interleaved). Target ≤ 200 ms. Beside it, latest_lamps_all_members: the same with
  every member of the Observation.
- series_year: a Datastream's year from its hourly aggregates (the bench writes 8,760 hourly
  rows of its own Datastream), /sensors/datastreams/{id}/series?resolution=auto: 365 daily
  bins (a year by the hour would be 8,760 points, past the 2,000 a series answers). Peer: raw
  SQL reading the year's 8,760 aggregate rows. Target ≤ 50 ms (a day at 1-minute's budget).
- datastream_day: one Datastream's day at 1-minute resolution (1,440 observations the bench
  wrote), Observations?$filter=phenomenonTime ge … and lt …&$top=1440. Peer: raw SQL.
  Target ≤ 50 ms.
- sensors_tile: a tile of the `sensors` layer with ?datetime= (a new instant each time: never
  cached). Target ≤ 100 ms.

`--reads-only` skips the two ingest figures (a quicker run of the reads). The bench writes
only its own rows: Things and Datastreams of the provider "twin bench" (made once) and their
observations. A piece the twin does not have yet prints as "missing".
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from twin.db.pool import connect
from twin.server_process import ServerProcess, free_port
from twin.sqlfiles import query

PROVIDER = "twin bench"
TARGETS = {
    "http_ingest_per_s": 20000,
    "mqtt_ingest_per_s": 5000,
    "latest_lamps_p50_ms": 200,
    "datastream_day_p50_ms": 50,
    "series_year_p50_ms": 50,
    "sensors_tile_p50_ms": 100,
}
FROST_PEAK_PER_S = 5000  # Hamburg's FROST server, as the issue quotes it: context only
MISSING = "missing"


def stats(latencies_s: list[float]) -> dict[str, float]:
    values = np.asarray(latencies_s) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "n": int(values.size),
    }


def timed(call: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return times, result


def bench_streams(conn: Any, count: int) -> list[int]:
    """The bench provider's number Datastreams (made when fewer than `count` exist)."""
    from twin.sensors.keys import provider_id

    ids = [i for (i,) in conn.execute(query("sensors_mqtt/bench_streams"), {"provider": PROVIDER})]
    if len(ids) < count:
        pid = provider_id(conn, PROVIDER, create=True)
        conn.execute(
            query("sensors_mqtt/bench_add_streams"), {"provider": pid, "n": count - len(ids)}
        )
        conn.commit()
        ids = [
            i for (i,) in conn.execute(query("sensors_mqtt/bench_streams"), {"provider": PROVIDER})
        ]
    return ids[:count]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class TimeBase:
    """Unique instants for this run: base + k ms, k counting up (never one time twice)."""

    def __init__(self, base: datetime) -> None:
        self.base = base
        self.k = 0
        self.lock = threading.Lock()

    def take(self, n: int) -> int:
        with self.lock:
            first = self.k
            self.k += n
            return first


def http_bodies(streams: list[int], times: TimeBase, batches: int, size: int) -> list[bytes]:
    """dataArray bodies, `size` observations each spread over the streams."""
    per = max(1, size // len(streams))
    bodies = []
    for _ in range(batches):
        first = times.take(per)
        body = [
            {
                "Datastream": {"@iot.id": stream},
                "components": ["phenomenonTime", "result"],
                "dataArray@iot.count": per,
                "dataArray": [
                    [iso(times.base + timedelta(milliseconds=first + j)), float(j % 97)]
                    for j in range(per)
                ],
            }
            for stream in streams
        ]
        bodies.append(orjson.dumps(body))
    return bodies


def http_ingest(
    url: str, key: str, bodies: list[bytes], per_body: int, seconds: float, senders: int
) -> dict[str, Any]:
    accepted = [0] * senders
    failures: list[str] = []
    index = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def sender(me: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while time.perf_counter() < stop_at:
                with lock:
                    if index[0] >= len(bodies):
                        return
                    body = bodies[index[0]]
                    index[0] += 1
                answer = client.post(
                    "/sta/v1.1/CreateObservations",
                    content=body,
                    headers={"Content-Type": "application/json", "X-API-Key": key},
                )
                if answer.status_code == 201:
                    accepted[me] += per_body
                else:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    return

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    started = time.perf_counter()
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    elapsed = time.perf_counter() - started
    return {"accepted": sum(accepted), "seconds": elapsed, "failures": failures[:3]}


def stored(conn: Any, streams: list[int], start: datetime, end: datetime) -> int:
    return conn.execute(
        query("sensors_mqtt/bench_count"), {"ids": streams, "from": start, "to": end}
    ).fetchone()[0]


def raw_copy(conn: Any, streams: list[int], times: TimeBase, n: int) -> float:
    """The raw SQL peer: COPY n rows straight into sta_observations (no checks, no latest)."""
    per = max(1, n // len(streams))
    first = times.take(per)
    moments = [times.base + timedelta(milliseconds=first + j) for j in range(per)]
    conn.execute("SELECT sta_observation_partition(%s::date)", (times.base.date(),))
    conn.commit()
    started = time.perf_counter()
    ids = [
        i
        for (i,) in conn.execute(
            "SELECT nextval('sta_observations_id') FROM generate_series(1, %s)",
            (per * len(streams),),
        )
    ]
    with conn.cursor() as cur, cur.copy(query("sensors/copy_observations")) as copy:
        k = 0
        for stream in streams:
            for j, moment in enumerate(moments):
                copy.write_row(
                    (
                        ids[k],
                        stream,
                        moment,
                        None,
                        None,
                        float(j),
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                    )
                )
                k += 1
    conn.commit()
    return per * len(streams) / (time.perf_counter() - started)


def mqtt_ingest(
    endpoint: Any,
    conn: Any,
    streams: list[int],
    times: TimeBase,
    messages: int,
    key: str,
    qos: int = 1,
) -> dict[str, Any]:
    """The provider publishes with its sensor key (the broker's account: key id, key)."""
    import paho.mqtt.client as mqtt

    per = max(1, messages // len(streams))
    first = times.take(per)
    payloads = [
        (
            f"v1.1/Datastreams({stream})/Observations",
            orjson.dumps(
                {
                    "phenomenonTime": iso(times.base + timedelta(milliseconds=first + j)),
                    "result": float(j % 89),
                }
            ),
        )
        for j in range(per)
        for stream in streams
    ]
    start = times.base + timedelta(milliseconds=first)
    end = start + timedelta(milliseconds=per)
    before = stored(conn, streams, start, end)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="twin-bench-sensors")
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)  # paho's 20 would make the publisher the limit
    client.username_pw_set(key.split("_")[1], key)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    began = time.perf_counter()
    info = None
    for topic, payload in payloads:
        info = client.publish(topic, payload, qos=qos)
    published = time.perf_counter() - began
    info.wait_for_publish(60)
    acked = time.perf_counter() - began  # the broker has every message (PUBACK)
    now = before
    deadline = time.perf_counter() + 120
    last_change, last_count = time.perf_counter(), before
    while time.perf_counter() < deadline:
        now = stored(conn, streams, start, end)
        conn.commit()
        if now != last_count:
            last_change, last_count = time.perf_counter(), now
        if now - before >= len(payloads) or time.perf_counter() - last_change > 10:
            break
        time.sleep(0.02)
    elapsed = last_change - began
    client.disconnect()
    client.loop_stop()
    return {
        "sent": len(payloads),
        "stored": now - before,
        "seconds": round(elapsed, 3),
        "publish_seconds": round(published, 3),
        "broker_acked_seconds": round(acked, 3),
        "per_s": round((now - before) / elapsed) if elapsed > 0 else 0,
        "qos": qos,
    }


def published_backlog(client: httpx.Client, limit_s: float = 300) -> float:
    """Seconds until the bridge's published count stops moving (2 s without a change)."""
    started = time.perf_counter()
    last, since = None, time.perf_counter()
    while time.perf_counter() - started < limit_s:
        now = (client.get("/sta/v1.1/mqtt-status").json()["bridge"] or {}).get("published")
        if now != last:
            last, since = now, time.perf_counter()
        elif time.perf_counter() - since >= 2:
            break
        time.sleep(0.25)
    return round(since - started, 1)


def write_day(conn: Any, stream: int, day: datetime) -> None:
    """1,440 observations (one a minute) of one Datastream on `day`, through the ingest."""
    from twin.sensors.ingest import ingest_observations

    end = day + timedelta(days=1)
    if stored(conn, [stream], day, end) >= 1440:
        return
    items = [
        {"phenomenonTime": iso(day + timedelta(minutes=m)), "result": float(m % 60)}
        for m in range(1440)
    ]
    report = ingest_observations(conn, items, caller=None, datastream_id=stream)
    conn.commit()
    if not report.ok:
        raise SystemExit(f"could not write the bench day: {report.refused[:1]}")


LATEST_SLIM = "$select=phenomenonTime,result;"  # what a client wanting the values asks


def latest_lamps(client: httpx.Client, members: str = LATEST_SLIM) -> int:
    """Every lamp's latest value, page by page (each page parsed, as a client does)."""
    path = (
        "/sta/v1.1/Datastreams?$filter=ObservedProperty/name eq 'Lamp state'&$select=id"
        f"&$expand=Observations({members}$top=1;$orderby=phenomenonTime desc)&$top=10000"
    )
    n = 0
    while path:
        answer = client.get(path)
        answer.raise_for_status()
        page = orjson.loads(answer.content)
        n += len(page["value"])
        path = page.get("@iot.nextLink")
    return n


def series_year(client: httpx.Client, conn: Any, stream: int, day: datetime, repeat: int) -> Any:
    """A Datastream's year from its hourly aggregates (8,760 rows of the bench's own)."""
    start, end = day - timedelta(days=365), day
    window = {"id": stream, "start": start, "end": end}
    conn.execute(query("sensors_series/bench_year"), window)
    conn.commit()
    path = f"/sensors/datastreams/{stream}/series"
    params = {"start": iso(start), "end": iso(end), "resolution": "auto"}
    first = client.get(path, params=params)
    if first.status_code != 200:
        return f"{MISSING}: {first.status_code} {first.text[:200]}"
    latencies, _ = timed(lambda: client.get(path, params=params).raise_for_status(), repeat)
    peer, rows = timed(
        lambda: conn.execute(query("sensors_series/bench_year_peer"), window).fetchall(), repeat
    )
    body = first.json()
    return {
        **stats(latencies),
        "points": len(body["points"]),
        "resolution": body["resolution"],
        "hourly_rows": len(rows),
        "raw_sql": stats(peer),
        "ratio_vs_raw_sql": round(np.median(latencies) / np.median(peer), 1),
        "target_ms": TARGETS["series_year_p50_ms"],
        "met": float(np.median(latencies)) * 1000 <= TARGETS["series_year_p50_ms"],
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench sensors")
    parser.add_argument("--seconds", type=float, default=5.0, help="HTTP ingest time")
    parser.add_argument("--batch", type=int, default=5000, help="observations per HTTP batch")
    parser.add_argument("--senders", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--streams", type=int, default=250, help="bench Datastreams")
    parser.add_argument("--messages", type=int, default=50000, help="MQTT messages")
    parser.add_argument("--repeat", type=int, default=20, help="requests per read figure")
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="skip the HTTP and MQTT ingest (a quicker run of the read figures)",
    )
    args = parser.parse_args(argv)

    from twin.sensors.broker import start_broker, stop_broker
    from twin.sensors.keys import add_key, revoke_key

    conn = connect()
    if conn.execute("SELECT to_regclass('sta_mqtt_bridge')").fetchone()[0] is None:
        raise SystemExit("the database lacks the sensors' tables: run `twin migrate` first")
    streams = bench_streams(conn, args.streams)
    key = add_key(conn, provider=PROVIDER, label="twin bench sensors")
    conn.commit()
    # this run's instants: a fresh stretch of the last day, one ms apart
    now = datetime.now(UTC)
    times = TimeBase(
        now.replace(microsecond=0)
        - timedelta(hours=23)
        + timedelta(milliseconds=int(now.timestamp() * 1000) % 3_600_000)
    )
    day = (now - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        write_day(conn, streams[0], day)
        day_error = ""
    except Exception as exc:  # the ingest cannot write here (e.g. a schema behind the code)
        conn.rollback()
        day_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    result: dict[str, Any] = {"benchmark": "sensors", "targets": TARGETS}
    directory = Path(tempfile.mkdtemp(prefix="twin-bench-mqtt-"))
    endpoint = start_broker(free_port(), directory=directory)
    try:
        env = {
            "TWIN_QUIET": "1",
            "TWIN_MQTT_URL": endpoint.login_url,
            "TWIN_ANALYSIS_REFRESH": "off",
        }
        with (
            ServerProcess.twin("--workers", "2", env=env) as server,
            httpx.Client(base_url=server.url, timeout=120) as client,
        ):
            deadline = time.monotonic() + 30
            while not (client.get("/sta/v1.1/mqtt-status").json()["bridge"] or {}).get("connected"):
                if time.monotonic() > deadline:
                    raise SystemExit("the MQTT bridge did not connect")
                time.sleep(0.2)
            if not args.reads_only:
                ingest(args, server.url, key, conn, endpoint, client, streams, times, result)
            # latest of the demo's lamps
            lamps = len(conn.execute(query("sensors_mqtt/bench_latest")).fetchall())
            if lamps:
                result["latest_lamps"] = latest_figure(client, conn, lamps, args.repeat)
                every, _ = timed(lambda: latest_lamps(client, ""), max(3, args.repeat // 4))
                result["latest_lamps_all_members"] = stats(every)
            else:
                result["latest_lamps"] = MISSING + ": no demo lamps (twin load demo installs them)"
            # a Datastream's day
            path = (
                f"/sta/v1.1/Datastreams({streams[0]})/Observations?$filter=phenomenonTime ge "
                f"{iso(day)} and phenomenonTime lt {iso(day + timedelta(days=1))}"
                "&$orderby=phenomenonTime&$top=1440"
            )
            first = client.get(path)
            if day_error:
                result["datastream_day"] = f"{MISSING}: the bench's day not written: {day_error}"
            elif first.status_code == 200 and len(first.json()["value"]) == 1440:
                latencies, _ = timed(lambda: client.get(path), args.repeat)
                peer, _ = timed(
                    lambda: conn.execute(
                        query("sensors_mqtt/bench_day"),
                        {"id": streams[0], "from": day, "to": day + timedelta(days=1)},
                    ).fetchall(),
                    args.repeat,
                )
                result["datastream_day"] = {
                    **stats(latencies),
                    "raw_sql": stats(peer),
                    "ratio_vs_raw_sql": round(np.median(latencies) / np.median(peer), 1),
                }
            else:
                result["datastream_day"] = f"{MISSING}: {first.status_code} {first.text[:200]}"
            result["series_year"] = series_year(client, conn, streams[0], day, args.repeat)
            result["sensors_tile"] = sensors_tile(client, conn, args.repeat)
    finally:
        stop_broker(directory=directory)
        shutil.rmtree(directory, ignore_errors=True)
        revoke_key(conn, key)
        conn.commit()
        conn.close()
    result["load_average_1m"] = round(os.getloadavg()[0], 1)  # other work on the machine
    print(json.dumps(result))


def latest_figure(client: httpx.Client, conn: Any, lamps: int, repeat: int) -> dict[str, Any]:
    """Every lamp's latest value through the API against the raw SQL peer, one run of each in
    turn (interleaved: a machine shared with other work slows both alike)."""
    n = latest_lamps(client)  # warm: the server's connections and plans
    # what this process holds by now (the twin's modules, numpy, paho: a bench client is
    # heavier than a client script) is frozen out of the collector, so a gen-2 collection
    # while a page of 10,000 lamps is parsed does not rescan it; both figures alike
    gc.collect()
    gc.freeze()
    latencies, peer = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        n = latest_lamps(client)
        latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        conn.execute(query("sensors_mqtt/bench_latest")).fetchall()
        peer.append(time.perf_counter() - started)
    gc.unfreeze()
    return {
        "lamps": lamps,
        "answered": n,
        **stats(latencies),
        "raw_sql": stats(peer),
        "ratio_vs_raw_sql": round(np.median(latencies) / np.median(peer), 1),
        "target_ms": TARGETS["latest_lamps_p50_ms"],
        "met": float(np.median(latencies)) * 1000 <= TARGETS["latest_lamps_p50_ms"],
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def ingest(
    args: argparse.Namespace,
    url: str,
    key: str,
    conn: Any,
    endpoint: Any,
    client: httpx.Client,
    streams: list[int],
    times: TimeBase,
    result: dict[str, Any],
) -> None:
    """The HTTP ingest against COPY, then MQTT at QoS 0 and 1 (figures into `result`)."""
    # HTTP ingest, warmed by one batch
    warm = http_bodies(streams, times, 1, args.batch)
    http_ingest(url, key, warm, args.batch, 60, 1)
    per_body = max(1, args.batch // len(streams)) * len(streams)
    planned = int(args.seconds * 60000 / per_body) + args.senders
    bodies = http_bodies(streams, times, planned, args.batch)
    first_k = times.k - planned * (per_body // len(streams))
    span = (
        times.base + timedelta(milliseconds=first_k),
        times.base + timedelta(milliseconds=times.k),
    )
    before = stored(conn, streams, *span)
    sent = http_ingest(url, key, bodies, per_body, args.seconds, args.senders)
    conn.commit()
    found = stored(conn, streams, *span) - before
    http_rate = found / sent["seconds"]
    peer_rate = raw_copy(conn, streams, times, min(200_000, sent["accepted"] or 50_000))
    result["http_ingest"] = {
        "sent": sent["accepted"],
        "stored": found,
        "no_loss": found == sent["accepted"],
        "per_s": round(http_rate),
        "batch": per_body,
        "senders": args.senders,
        "failures": sent["failures"],
        "raw_sql_copy_per_s": round(peer_rate),
        "ratio_vs_raw_sql": round(http_rate / peer_rate, 3),
        "ratio_vs_frost_peak": round(http_rate / FROST_PEAK_PER_S, 2),
    }
    # the bridge tells MQTT subscribers of every Observation just created (HTTP and
    # COPY): the MQTT figure starts once that backlog is out, not in its middle
    result["http_ingest"]["published_backlog_s"] = published_backlog(client)
    for name, qos, n in (
        ("mqtt_ingest", 0, args.messages),
        ("mqtt_ingest_qos1", 1, max(1000, args.messages // 4)),
    ):
        mqtt = mqtt_ingest(endpoint, conn, streams, times, n, key, qos=qos)
        mqtt["no_loss"] = mqtt["stored"] == mqtt["sent"]
        mqtt["ratio_vs_frost_peak"] = round(mqtt["per_s"] / FROST_PEAK_PER_S, 2)
        mqtt["load_average_1m"] = round(os.getloadavg()[0], 1)
        if name == "mqtt_ingest":
            target = TARGETS["mqtt_ingest_per_s"]
            mqtt["target_per_s"] = target
            mqtt["met"] = mqtt["no_loss"] and mqtt["per_s"] >= target
        result[name] = mqtt


def sensors_tile(client: httpx.Client, conn: Any, repeat: int) -> Any:
    """A zoom-14 tile of the sensors layer where the demo's lamps are, at a new instant each
    time (never cached)."""
    lon, lat = conn.execute(query("sensors_mqtt/bench_lamp_point")).fetchone()
    if lon is None:
        return f"{MISSING}: no demo lamps"
    z = 14
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    base = f"/collections/sensors/tiles/WebMercatorQuad/{z}/{y}/{x}"
    moment = datetime.now(UTC).replace(microsecond=0)
    probe = client.get(base, params={"datetime": iso(moment - timedelta(hours=1))})
    if probe.status_code != 200:
        return f"{MISSING}: {probe.status_code} {probe.text[:200]}"
    latencies = []
    for i in range(repeat):
        at = iso(moment - timedelta(minutes=7 * i + 3, seconds=i))
        started = time.perf_counter()
        answer = client.get(base, params={"datetime": at})
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 200:
            return f"{MISSING}: {answer.status_code} {answer.text[:200]}"
    return {**stats(latencies), "tile": f"{z}/{y}/{x}", "bytes": len(answer.content)}


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

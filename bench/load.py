"""`twin bench load`: many concurrent clients on loopback against a multi-worker server.

Starts `twin serve --workers N` on 127.0.0.1 over the twin's database (or drives --url), finds
which endpoints exist (tiles, items with filters, item by id, history, processes), and runs a
realistic mix of them from --clients concurrent clients for --duration seconds, in up to three
runs printed together as one JSON line:

- `saturation`: closed loop, zero think time (each client sends its next request the moment
  the last answer arrives). Its throughput is the server's capacity on this machine and its
  latency is mostly queueing (Little's law: clients / throughput).
- `users`: the same clients as map users with think time between requests (exponential,
  mean --think-ms), the way a planner pans, reads and queries; `think_time_ms` says which.
- `overload`: --overload-clients (default 200) clients with zero think time, to show
  back-pressure: requests beyond the server's in-flight limit get 503 + Retry-After at once
  (the client honours it, as a browser or GIS client would), never timeouts or resets.

The client is a minimal asyncio HTTP/1.1 keep-alive client (one connection per client, no
per-request allocation beyond the bytes), so it takes as little of the shared CPU as it can;
each run reports its CPU seconds beside the server's and the database's, and the machine's
load average, because on loopback the clients share the cores with the server they measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np

from twin.server_process import ServerProcess

CITY_CENTRE = (76.93, 43.25)
TARGET_P95_MS = 500.0
REQUEST_TIMEOUT_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2**zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


class Call(NamedTuple):
    """One prepared request: the bytes are built once, before the clock starts."""

    kind: str
    head: bytes  # request line and headers, up to the blank line
    body: bytes


def prepare(kind: str, method: str, path: str, params: dict[str, Any] | None, host: str) -> Call:
    if method == "POST":
        body = json.dumps(params or {}).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return Call(kind, head, body)
    target = f"{path}?{urlencode(params)}" if params else path
    return Call(kind, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), b"")


def _probe(client: httpx.Client, path: str) -> httpx.Response:
    """GET that honours a 503's Retry-After a few times: a cold tile on a busy machine may
    hit the tile statement timeout once; the endpoint still exists."""
    for _ in range(5):
        response = client.get(path)
        if response.status_code != 503:
            return response
        time.sleep(float(response.headers.get("Retry-After", 2)))
    return response


def discover(url: str) -> tuple[list[tuple[str, float, list[tuple[str, str, dict]]]], list[str]]:
    """The request mix (kind, weight, [(method, path, params or JSON body)]) built from what
    the server offers."""
    client = httpx.Client(base_url=url, timeout=60)
    mix: list[tuple[str, float, list[tuple[str, str, dict]]]] = []
    skipped: list[str] = []
    collections = {
        c["id"]
        for c in client.get("/collections", params={"f": "json"}).json().get("collections", [])
    }
    ids: dict[str, list[int]] = {}
    for layer in ("plots", "buildings", "amenities", "parks"):
        if layer not in collections:
            skipped.append(f"items:{layer}")
            continue
        page = client.get(f"/collections/{layer}/items", params={"f": "json", "limit": 200})
        ids[layer] = [f["id"] for f in page.json().get("features", [])] if page.is_success else []
        if not ids[layer]:
            skipped.append(f"items:{layer} (empty)")
    lon, lat = CITY_CENTRE
    boxes = [
        f"{lon + dx:.4f},{lat + dy:.4f},{lon + dx + 0.01:.4f},{lat + dy + 0.01:.4f}"
        for dx in (-0.04, -0.02, 0.0, 0.02)
        for dy in (-0.03, -0.01, 0.01)
    ]
    if ids.get("plots"):
        mix.append(
            (
                "items_bbox_filter",
                15,
                [
                    (
                        "GET",
                        "/collections/plots/items",
                        {"f": "json", "bbox": box, "land_use": use, "limit": 100},
                    )
                    for box in boxes
                    for use in ("residential", "mixed", "commercial")
                ],
            )
        )
        mix.append(
            (
                "items_page",
                5,
                [("GET", "/collections/plots/items", {"f": "json", "limit": 500, "offset": 0})],
            )
        )
    if ids.get("amenities"):
        mix.append(
            (
                "items_cql2",
                5,
                [
                    (
                        "GET",
                        "/collections/amenities/items",
                        {
                            "f": "json",
                            "filter-lang": "cql2-text",
                            "filter": f"category = '{c}'",
                            "bbox": box,
                        },
                    )
                    for c in ("education", "healthcare", "commerce")
                    for box in boxes
                ],
            )
        )
    item_paths = [
        ("GET", f"/collections/{layer}/items/{fid}", {"f": "json"})
        for layer, found in ids.items()
        for fid in found[:50]
    ]
    if item_paths:
        mix.append(("item", 15, item_paths))
        mix.append(
            (
                "history",
                3,
                [
                    ("GET", f"{path}/history", {})
                    for _, path, _ in item_paths[:40]
                    if path.startswith("/collections/plots")
                ]
                or item_paths[:1],
            )
        )
    tiles = []
    for zoom in (13, 14, 15):
        cx, cy = tile_of(lon, lat, zoom)
        spread = 2 ** (zoom - 12)
        tiles += [
            (zoom, cx + dx, cy + dy)
            for dx in range(-spread, spread + 1)
            for dy in range(-spread, spread + 1)
        ]
    probe = _probe(client, f"/tiles/WebMercatorQuad/{tiles[0][0]}/{tiles[0][2]}/{tiles[0][1]}")
    if probe.status_code in (200, 204):
        mix.append(
            (
                "tiles_all_layers",
                30,
                [("GET", f"/tiles/WebMercatorQuad/{z}/{y}/{x}", {}) for z, x, y in tiles],
            )
        )
    else:
        skipped.append(
            f"tiles (/tiles/WebMercatorQuad answered {probe.status_code}: {probe.text[:200]})"
        )
    probe = _probe(
        client, f"/collections/plots/tiles/WebMercatorQuad/14/{tiles[0][2]}/{tiles[0][1]}"
    )
    if probe.status_code in (200, 204):
        mix.append(
            (
                "tiles_layer",
                10,
                [
                    ("GET", f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}", {})
                    for layer in ("plots", "buildings")
                    for z, x, y in tiles
                    if z >= 14
                ],
            )
        )
    else:
        skipped.append(f"collection tiles (answered {probe.status_code}: {probe.text[:200]})")
    processes = client.get("/processes", params={"f": "json"})
    known = (
        {p["id"] for p in processes.json().get("processes", [])} if processes.is_success else set()
    )
    if "isochrone" in known:
        mix.append(
            (
                "process_isochrone",
                2,
                [
                    (
                        "POST",
                        "/processes/isochrone/execution",
                        {"inputs": {"lon": lon + dx, "lat": lat + dy, "minutes": [5, 10, 15]}},
                    )
                    for dx in (-0.02, 0.0, 0.02)
                    for dy in (-0.01, 0.01)
                ],
            )
        )
    else:
        skipped.append("process isochrone (not offered)")
    if "fifteen-minute-report" in known:
        mix.append(
            (
                "process_fifteen",
                2,
                [
                    (
                        "POST",
                        "/processes/fifteen-minute-report/execution",
                        {"inputs": {"lon": lon + d, "lat": lat}},
                    )
                    for d in (-0.02, 0.0, 0.02)
                ],
            )
        )
    else:
        skipped.append("process fifteen-minute-report (not offered)")
    mix.append(
        (
            "metadata",
            3,
            [
                ("GET", "/collections", {"f": "json"}),
                ("GET", "/collections/plots/queryables", {"f": "json"}),
                ("GET", "/conformance", {"f": "json"}),
            ],
        )
    )
    client.close()
    return mix, skipped


class ConnectionLost(Exception):
    pass


class KeepAliveConnection:
    """A minimal HTTP/1.1 client connection: keep-alive, Content-Length or chunked bodies.

    httpx costs the shared CPU several times more per request than the bytes need; this
    reads the status, the few headers the bench needs and the body, and nothing else."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, call: Call) -> tuple[int, float | None, bytes]:
        """(status, Retry-After seconds or None, the body of an error; other bodies are read
        and dropped)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        writer.write(call.head + call.body if call.body else call.head)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            self.close()
            raise ConnectionLost("connection closed before the answer") from exc
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked = close = False
        retry_after = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
            elif name == b"retry-after":
                retry_after = float(value)
        body = b""
        try:
            if chunked:
                while True:
                    chunk = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    data = await reader.readexactly(chunk + 2)
                    if status >= 400:
                        body += data[:-2]
                    if chunk == 0:
                        break
            elif length >= 0:
                body = await reader.readexactly(length) if length else b""
            else:
                body = await reader.read()
                close = True
        except asyncio.IncompleteReadError as exc:
            self.close()
            raise ConnectionLost("connection closed mid-body") from exc
        if close:
            self.close()
        return status, retry_after, body if status >= 400 else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants."""
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def _postmaster_pid() -> int | None:
    """The embedded cluster's postmaster (None with an external DATABASE_URL)."""
    try:
        from twin.db.cluster import embedded_cluster
        from twin.settings import get_settings

        if get_settings().database_url:
            return None
        return int((embedded_cluster().data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds of the bench client, the server's processes, PostgreSQL and the machine."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.database_pid = _postmaster_pid()

    def sample(self) -> dict[str, float | None]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "client": own.ru_utime + own.ru_stime,
            "server": _process_tree_cpu(self.server_pid) if self.server_pid else None,
            "database": _process_tree_cpu(self.database_pid) if self.database_pid else None,
            "machine": _machine_busy_s(),
            "wall": time.monotonic(),
        }

    @staticmethod
    def report(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
        wall = after["wall"] - before["wall"]
        used = {
            key: None
            if before[key] is None or after[key] is None
            else round(after[key] - before[key], 1)
            for key in ("client", "server", "database", "machine")
        }
        cores = os.cpu_count() or 1
        return {
            "cpu_s": used,
            "cores": cores,
            "client_cpu_share": round(used["client"] / used["machine"], 3)
            if used["machine"]
            else None,
            "machine_busy": round(used["machine"] / (wall * cores), 3) if wall else None,
        }


def _error_code(body: bytes) -> str:
    """The `code` of the twin's JSON error body (ServerBusy, DatabaseUnavailable, ...)."""
    try:
        return str(json.loads(body).get("code", "?"))
    except (ValueError, AttributeError):
        return "?"


def _percentile(values: list[float] | np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if len(values) else 0.0


async def run_load(
    url: str,
    mix: list[tuple[str, float, list[tuple[str, str, dict]]]],
    clients: int,
    duration: float,
    seed: int,
    think_ms: float = 0.0,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """`clients` closed-loop clients for `duration` seconds; think time exponential with mean
    `think_ms` (0: none). A 503/429 with Retry-After is counted and honoured."""
    split = urlsplit(url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    hostport = f"{host}:{port}"
    rng = random.Random(seed)
    kinds = [kind for kind, _, _ in mix]
    cumulative = list(np.cumsum([weight for _, weight, _ in mix]))
    calls = {
        kind: [prepare(kind, method, path, params, hostport) for method, path, params in requests]
        for kind, _, requests in mix
    }
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    errors: Counter = Counter()
    rejected: Counter = Counter()
    retry_after: list[float] = []
    rejected_ms: list[float] = []
    deadline = time.monotonic() + duration

    async def one_client(index: int) -> None:
        local = random.Random(rng.random() + index)
        connection = KeepAliveConnection(host, port)
        if think_ms:  # users do not all arrive in the same millisecond
            await asyncio.sleep(local.random() * think_ms / 1000)
        try:
            while time.monotonic() < deadline:
                kind = local.choices(kinds, cum_weights=cumulative)[0]
                call = local.choice(calls[kind])
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT_S):
                        status, retry, body = await connection.request(call)
                except (OSError, ConnectionLost, TimeoutError, ValueError) as exc:
                    connection.close()
                    errors[f"{kind}:{type(exc).__name__}"] += 1
                    continue
                elapsed_ms = (time.perf_counter() - started) * 1000
                statuses[status] += 1
                if status in (429, 503) and retry is not None:
                    # back-pressure: refused at once with a time to come back, as designed
                    rejected[f"{kind}:{status}:{_error_code(body)}"] += 1
                    rejected_ms.append(elapsed_ms)
                    retry_after.append(retry)
                    await asyncio.sleep(retry)
                    continue
                latencies[kind].append(elapsed_ms)
                if status >= 400:
                    errors[f"{kind}:{status}:{_error_code(body)}"] += 1
                if think_ms:
                    await asyncio.sleep(local.expovariate(1000 / think_ms))
        finally:
            connection.close()

    before = meter.sample() if meter else None
    load_before = os.getloadavg()
    started = time.monotonic()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    cpu = CpuMeter.report(before, meter.sample()) if meter else {}
    every = np.array([v for values in latencies.values() for v in values])
    answered = len(every)
    refused = sum(rejected.values())
    return {
        "clients": clients,
        "think_time_ms": think_ms,
        "elapsed_s": round(elapsed, 1),
        "requests": answered
        + refused
        + sum(n for key, n in errors.items() if not key.split(":")[1].isdigit()),
        "answered": answered,
        "throughput_rps": round(answered / elapsed, 1),
        "p50_ms": _percentile(every, 50),
        "p95_ms": _percentile(every, 95),
        "p99_ms": _percentile(every, 99),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "rejected_with_retry_after": refused,
        "rejected_kinds": dict(rejected),
        "rejected_p95_ms": _percentile(rejected_ms, 95),
        "retry_after_s": sorted(set(retry_after)),
        "status": {str(k): v for k, v in sorted(statuses.items())},
        "load_average": {
            "start": [round(v, 2) for v in load_before],
            "end": [round(v, 2) for v in load_after],
        },
        **cpu,
        "by_kind": {
            kind: {
                "n": len(values),
                "p50_ms": _percentile(values, 50),
                "p95_ms": _percentile(values, 95),
            }
            for kind, values in sorted(latencies.items())
            if values
        },
    }


async def cost_per_kind(
    url: str,
    mix: list[tuple[str, float, list[tuple[str, str, dict]]]],
    meter: CpuMeter,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Where the CPU goes: each kind alone from one client, with the server's and the
    database's CPU per answered request (needs a server this bench started)."""
    costs: dict[str, Any] = {}
    for kind, weight, requests in mix:
        run = await run_load(url, [(kind, weight, requests)], 1, seconds, seed, 0.0, meter)
        n = max(run["answered"], 1)
        used = run["cpu_s"]
        costs[kind] = {
            "n": run["answered"],
            "p50_ms": run["p50_ms"],
            "server_cpu_ms": round(1000 * used["server"] / n, 2)
            if used["server"] is not None
            else None,
            "database_cpu_ms": round(1000 * used["database"] / n, 2)
            if used["database"] is not None
            else None,
            "client_cpu_ms": round(1000 * used["client"] / n, 2),
        }
    return costs


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="twin bench load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(2, os.cpu_count() or 2),
        help="server workers (default: one per core, at least 2)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=1000.0,
        help="mean think time of a map user in the `users` run",
    )
    parser.add_argument("--overload-clients", type=int, default=200)
    parser.add_argument("--overload-duration", type=float, default=30.0)
    parser.add_argument(
        "--runs",
        default="cost,saturation,users,overload",
        help="which runs, comma-separated: cost (CPU per request of each "
        "kind, one client), saturation, users, overload",
    )
    parser.add_argument(
        "--cost-seconds", type=float, default=4.0, help="seconds per kind in the cost run"
    )
    parser.add_argument("--url", help="drive a running server instead of starting one")
    parser.add_argument(
        "--server-pid", type=int, help="with --url: the server's pid, to count its CPU seconds"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = set(runs) - {"cost", "saturation", "users", "overload"}
    if unknown:
        raise SystemExit(f"unknown run(s): {', '.join(sorted(unknown))}")
    server = None
    url = args.url
    if not url:
        server = ServerProcess.twin("--host", "127.0.0.1", "--workers", str(args.workers))
        url = server.url
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("twin bench load drives loopback servers only (127.0.0.1)")
    meter = CpuMeter(server.process.pid if server else args.server_pid)
    results: dict[str, Any] = {}
    try:
        mix, skipped = discover(url)
        # warm every worker's caches (walking graph, tile cache) before measuring
        asyncio.run(
            run_load(url, mix, min(args.clients, 8), min(5.0, args.duration / 4), args.seed + 1)
        )
        plan = {
            "saturation": (args.clients, args.duration, 0.0),
            "users": (args.clients, args.duration, args.think_ms),
            "overload": (args.overload_clients, args.overload_duration, 0.0),
        }
        for name in runs:
            if name == "cost":
                results["cost_per_kind"] = asyncio.run(
                    cost_per_kind(url, mix, meter, args.cost_seconds, args.seed)
                )
                continue
            clients, duration, think = plan[name]
            results[name] = asyncio.run(
                run_load(url, mix, clients, duration, args.seed, think, meter)
            )
    finally:
        if server is not None:
            server.stop(20)
    target = {
        "p95_ms": TARGET_P95_MS,
        "errors": 0,
        "clients": args.clients,
        "duration_s": args.duration,
    }
    for name in ("saturation", "users"):
        if name in results:
            run = results[name]
            target[f"met_{name}"] = (
                run["errors"] == 0
                and run["rejected_with_retry_after"] == 0
                and run["p95_ms"] < TARGET_P95_MS
            )
    if "overload" in results:
        run = results["overload"]
        # back-pressure holds when nothing times out, resets or fails: only answers and 503s
        target["overload_clean"] = run["errors"] == 0
    print(
        json.dumps(
            {
                "bench": "load",
                "workers": None if args.url else args.workers,
                "duration_s": args.duration,
                **results,
                "mix": {kind: weight for kind, weight, _ in mix},
                "skipped": skipped,
                "target": target,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])

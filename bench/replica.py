"""`twin bench replica`: reads from a streaming replica and through PgBouncer, against the primary.

On the twin's database (the embedded cluster; load a demo first), starts a replica under
TWIN_HOME/replica (`twin db replica`, copied once and kept) and PgBouncer in transaction mode
(`twin db pooler`), and three servers: on the primary, `--read-only` on the replica, and on
the primary through PgBouncer. The same requests go to the three in turn (round robin, so load
from elsewhere on the machine falls on all alike): item pages over random bounding boxes and
tiles at z13-z15 never asked before (each server its own empty tile cache: every tile is
rendered from the database). Prints ONE JSON line: p50/p95 per server and kind, and the
ratios replica/primary (target within 1.2, issue #19) and PgBouncer/direct.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from twin.db.cluster import database_url
from twin.db.pooler import pooler
from twin.db.replica import shown_address, start_replica, stop_replica
from twin.server_process import ServerProcess

TARGET_RATIO = 1.2
CENTRE = (76.92, 43.25)  # Almaty's centre; the demo's plots lie around it


def _tile(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    n = 2**zoom
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return zoom, row, col


def requests(count: int, seed: int) -> list[tuple[str, str]]:
    """(kind, path) pairs: items over random 1 km boxes, and distinct tiles near the centre."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    seen: set[tuple[int, int, int]] = set()
    while len(seen) < count:
        lon, lat = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.07, 0.07)
        if sum(kind == "items" for kind, _ in out) < count:
            box = f"{lon:.4f},{lat:.4f},{lon + 0.012:.4f},{lat + 0.009:.4f}"
            out.append(("items", f"/collections/plots/items?bbox={box}&limit=100"))
        address = _tile(lon, lat, rng.choice((13, 14, 15)))
        if address in seen:
            continue
        seen.add(address)
        z, row, col = address
        out.append(("tiles", f"/collections/plots/tiles/WebMercatorQuad/{z}/{row}/{col}?f=mvt"))
    return out


def stats(values_s: list[float]) -> dict[str, float]:
    ms = np.asarray(values_s) * 1000
    return {
        "p50_ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "n": int(ms.size),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench replica")
    parser.add_argument("--requests", type=int, default=150, help="per kind and server")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="leave replica and PgBouncer up")
    args = parser.parse_args(argv)

    primary = database_url()
    started = time.perf_counter()
    replica = start_replica(primary)
    replica_s = time.perf_counter() - started
    bouncer = pooler()
    pooled = bouncer.start(primary)
    caches = Path(tempfile.mkdtemp(prefix="twin-bench-replica-"))
    setups = {
        "primary": {"DATABASE_URL": primary},
        "replica": {
            "DATABASE_URL": replica,
            "TWIN_READ_ONLY": "1",
            "TWIN_PRIMARY_URL": primary,
        },
        "pgbouncer": {"DATABASE_URL": pooled, "TWIN_DB_SESSION_URL": primary},
    }
    servers: dict[str, ServerProcess] = {}
    try:
        for name, env in setups.items():
            env |= {"TWIN_QUIET": "1", "TWIN_ANALYSIS_REFRESH": "off"}
            env["TWIN_TILE_CACHE"] = str(caches / name)
            servers[name] = ServerProcess.twin(env=env)
        timings: dict[str, dict[str, list[float]]] = {
            name: {"items": [], "tiles": []} for name in servers
        }
        with httpx.Client(timeout=60) as client:
            for server in servers.values():  # warm: pools open, catalog read
                for _, path in requests(3, args.seed + 1):
                    client.get(server.url + path)
            for kind, path in requests(args.requests, args.seed):
                for name, server in servers.items():
                    began = time.perf_counter()
                    answer = client.get(server.url + path)
                    elapsed = time.perf_counter() - began
                    if answer.status_code not in (200, 204):
                        raise SystemExit(f"{name} {path}: {answer.status_code} {answer.text}")
                    timings[name][kind].append(elapsed)
    finally:
        for server in servers.values():
            server.stop()
        if not args.keep:
            bouncer.stop()
            stop_replica()
    figures = {
        name: {kind: stats(v) for kind, v in kinds.items()} for name, kinds in timings.items()
    }

    def ratio(a: str, b: str, kind: str) -> float:
        return round(figures[a][kind]["p50_ms"] / figures[b][kind]["p50_ms"], 3)

    replica_ratio = {kind: ratio("replica", "primary", kind) for kind in ("items", "tiles")}
    print(
        json.dumps(
            {
                "bench": "replica",
                "primary": shown_address(primary),
                "replica_start_s": round(replica_s, 1),
                "figures": figures,
                "replica_over_primary_p50": replica_ratio,
                "pgbouncer_over_direct_p50": {
                    kind: ratio("pgbouncer", "primary", kind) for kind in ("items", "tiles")
                },
                "target": {
                    "replica_within": TARGET_RATIO,
                    "met": all(value <= TARGET_RATIO for value in replica_ratio.values()),
                },
            }
        )
    )

"""`twin bench load`: many concurrent clients on loopback against a multi-worker server.

Starts `twin serve --workers N` on 127.0.0.1 over the twin's database (or drives --url), finds
which endpoints exist (tiles, items with filters, item by id, history, processes), and runs a
realistic mix from --clients concurrent clients for --duration seconds. Prints one JSON line:
throughput, p50/p95/p99 latency overall and per kind, status and error counts, the endpoints it
skipped because they do not exist, and whether the target (zero errors, p95 < 500 ms) was met.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np

CITY_CENTRE = (76.93, 43.25)
TARGET_P95_MS = 500.0


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    n = 2 ** zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    twin = str(Path(sys.executable).parent / "twin")
    process = subprocess.Popen([twin, "serve", "--host", "127.0.0.1", "--port", "0",
                                "--workers", str(workers)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    match = re.search(r"serving at (http://\S+?)/?\s", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line}")
    url = match.group(1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not become healthy within 120 s")


def discover(url: str) -> tuple[list[tuple[str, float, dict[str, Any]]], list[str]]:
    """The request mix (kind, weight, request) built from what the server offers."""
    client = httpx.Client(base_url=url, timeout=60)
    mix: list[tuple[str, float, dict[str, Any]]] = []
    skipped: list[str] = []
    collections = {c["id"] for c in client.get("/collections", params={"f": "json"})
                   .json().get("collections", [])}
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
    boxes = [f"{lon + dx:.4f},{lat + dy:.4f},{lon + dx + 0.01:.4f},{lat + dy + 0.01:.4f}"
             for dx in (-0.04, -0.02, 0.0, 0.02) for dy in (-0.03, -0.01, 0.01)]
    if ids.get("plots"):
        mix.append(("items_bbox_filter", 15, {"method": "GET", "paths": [
            ("/collections/plots/items", {"f": "json", "bbox": box, "land_use": use, "limit": 100})
            for box in boxes for use in ("residential", "mixed", "commercial")]}))
        mix.append(("items_page", 5, {"method": "GET", "paths": [
            ("/collections/plots/items", {"f": "json", "limit": 500, "offset": 0})]}))
    if ids.get("amenities"):
        mix.append(("items_cql2", 5, {"method": "GET", "paths": [
            ("/collections/amenities/items", {"f": "json", "filter-lang": "cql2-text",
                                              "filter": f"category = '{c}'", "bbox": box})
            for c in ("education", "healthcare", "commerce") for box in boxes]}))
    item_paths = [(f"/collections/{layer}/items/{fid}", {"f": "json"})
                  for layer, found in ids.items() for fid in found[:50]]
    if item_paths:
        mix.append(("item", 15, {"method": "GET", "paths": item_paths}))
        mix.append(("history", 3, {"method": "GET", "paths": [
            (f"{path}/history", {}) for path, _ in item_paths[:40]
            if path.startswith("/collections/plots")] or item_paths[:1]}))
    tiles = []
    for zoom in (13, 14, 15):
        cx, cy = tile_of(lon, lat, zoom)
        spread = 2 ** (zoom - 12)
        tiles += [(zoom, cx + dx, cy + dy) for dx in range(-spread, spread + 1)
                  for dy in range(-spread, spread + 1)]
    probe = client.get(f"/tiles/WebMercatorQuad/{tiles[0][0]}/{tiles[0][2]}/{tiles[0][1]}")
    if probe.status_code in (200, 204):
        mix.append(("tiles_all_layers", 30, {"method": "GET", "paths": [
            (f"/tiles/WebMercatorQuad/{z}/{y}/{x}", {}) for z, x, y in tiles]}))
    else:
        skipped.append(f"tiles (/tiles/WebMercatorQuad answered {probe.status_code})")
    probe = client.get(f"/collections/plots/tiles/WebMercatorQuad/14/{tiles[0][2]}/{tiles[0][1]}")
    if probe.status_code in (200, 204):
        mix.append(("tiles_layer", 10, {"method": "GET", "paths": [
            (f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}", {})
            for layer in ("plots", "buildings") for z, x, y in tiles if z >= 14]}))
    else:
        skipped.append(f"collection tiles (answered {probe.status_code})")
    processes = client.get("/processes", params={"f": "json"})
    known = {p["id"] for p in processes.json().get("processes", [])} if processes.is_success else set()
    if "isochrone" in known:
        mix.append(("process_isochrone", 2, {"method": "POST", "paths": [
            ("/processes/isochrone/execution", {"inputs": {
                "lon": lon + dx, "lat": lat + dy, "minutes": [5, 10, 15]}})
            for dx in (-0.02, 0.0, 0.02) for dy in (-0.01, 0.01)]}))
    else:
        skipped.append("process isochrone (not offered)")
    if "fifteen-minute-report" in known:
        mix.append(("process_fifteen", 2, {"method": "POST", "paths": [
            ("/processes/fifteen-minute-report/execution", {"inputs": {"lon": lon + d, "lat": lat}})
            for d in (-0.02, 0.0, 0.02)]}))
    else:
        skipped.append("process fifteen-minute-report (not offered)")
    mix.append(("metadata", 3, {"method": "GET", "paths": [
        ("/collections", {"f": "json"}), ("/collections/plots/queryables", {"f": "json"}),
        ("/conformance", {"f": "json"})]}))
    client.close()
    return mix, skipped


async def run_load(url: str, mix: list[tuple[str, float, dict[str, Any]]], clients: int,
                   duration: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    kinds = [kind for kind, _, _ in mix]
    weights = [weight for _, weight, _ in mix]
    spec = {kind: request for kind, _, request in mix}
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    errors: Counter = Counter()
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def one_client(index: int) -> None:
            local = random.Random(rng.random() + index)
            while time.monotonic() < deadline:
                kind = local.choices(kinds, weights)[0]
                request = spec[kind]
                path, payload = local.choice(request["paths"])
                started = time.perf_counter()
                try:
                    if request["method"] == "POST":
                        response = await client.post(path, json=payload)
                    else:
                        response = await client.get(path, params=payload)
                    await response.aread()
                except httpx.HTTPError as exc:
                    errors[f"{kind}:{type(exc).__name__}"] += 1
                    continue
                latencies[kind].append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
                if response.status_code >= 400:
                    errors[f"{kind}:{response.status_code}"] += 1

        started = time.monotonic()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.monotonic() - started
    every = np.array([v for values in latencies.values() for v in values]) if latencies else \
        np.array([0.0])
    total = sum(len(v) for v in latencies.values()) + sum(
        n for key, n in errors.items() if not key.rsplit(":", 1)[1].isdigit())
    return {
        "requests": total, "elapsed_s": round(elapsed, 1),
        "throughput_rps": round(total / elapsed, 1),
        "p50_ms": round(float(np.percentile(every, 50)), 1),
        "p95_ms": round(float(np.percentile(every, 95)), 1),
        "p99_ms": round(float(np.percentile(every, 99)), 1),
        "errors": sum(errors.values()), "error_kinds": dict(errors),
        "status": {str(k): v for k, v in sorted(statuses.items())},
        "by_kind": {kind: {"n": len(values), "p50_ms": round(float(np.percentile(values, 50)), 1),
                           "p95_ms": round(float(np.percentile(values, 95)), 1)}
                    for kind, values in sorted(latencies.items()) if values},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench load", description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--workers", type=int, default=min(4, max(2, os.cpu_count() or 2)))
    parser.add_argument("--url", help="drive a running server instead of starting one")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    process = None
    url = args.url
    if not url:
        process, url = start_server(args.workers)
    if not url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise SystemExit("twin bench load drives loopback servers only (127.0.0.1)")
    try:
        mix, skipped = discover(url)
        # warm every worker's caches (walking graph, tile cache) before measuring
        asyncio.run(run_load(url, mix, min(args.clients, 8), min(5.0, args.duration / 4),
                             args.seed + 1))
        result = asyncio.run(run_load(url, mix, args.clients, args.duration, args.seed))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    result = {"bench": "load", "clients": args.clients, "duration_s": args.duration,
              "workers": None if args.url else args.workers, **result,
              "mix": {kind: weight for kind, weight, _ in mix}, "skipped": skipped,
              "target": {"p95_ms": TARGET_P95_MS, "errors": 0,
                         "met": result["errors"] == 0 and result["p95_ms"] < TARGET_P95_MS}}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

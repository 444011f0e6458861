"""`twin bench isochrone`: walking isochrones over HTTP on the city network.

Starts `twin serve --port 0` on the database (load the `city` demo first), warms the worker (the
first request: reported as cold_first_request_s, with `reach_kept`: whether the arrays an
isochrone reads were kept on disk for the current data by `twin analyse` or an earlier server,
so the worker maps them, else it reads plots and amenities and snaps them to the streets), then
asks for 5/10/15-minute slope-aware isochrones from random plots, one after another, and
reports p50/p95 over HTTP beside the same processor called in-process (the raw cost without
HTTP and JSON). Prints ONE JSON line. Targets: p50 ≤ 30 ms, p95 ≤ 80 ms over HTTP.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
import numpy as np

from twin.db.pool import connect
from twin.server_process import ServerProcess
from twin.sqlfiles import query

TARGET_P50_MS, TARGET_P95_MS = 30.0, 80.0


def stats(latencies_s: list[float]) -> dict[str, float]:
    values = np.asarray(latencies_s) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "n": int(values.size),
    }


def random_points(count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Lived-in plots the process answers for: within MAX_SNAP_M of the main street network
    (a plot on a street cut off from it is refused with a 400, which times nothing)."""
    from twin.analysis.network import load_network
    from twin.analysis.reports import MAX_SNAP_M

    with connect() as conn:
        rows = conn.execute(
            query("analysis/sample_plot_points"), {"seed": str(seed), "count": 2 * count}
        ).fetchall()
        network = load_network(conn)
    if not rows:
        raise SystemExit("no plots: load the city demo first (twin load demo --scale city)")
    lon = np.array([r[1] for r in rows], dtype=float)
    lat = np.array([r[2] for r in rows], dtype=float)
    near = network.snap_segment(lon, lat).snap_m <= MAX_SNAP_M
    return [(float(x), float(y)) for x, y in zip(lon[near], lat[near])][:count]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench isochrone")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--minutes", default="5,10,15")
    parser.add_argument(
        "--transit",
        action="store_true",
        help="walk + public transport leaving at 08:00 (targets p50 150 ms, p95 400 ms); "
        "the same points without --transit give the walking figure beside it",
    )
    args = parser.parse_args(argv)
    minutes = [int(m) for m in args.minutes.split(",")]
    extra = {"modes": ["walk", "transit"], "departure": "08:00"} if args.transit else {}
    target_p50, target_p95 = (150.0, 400.0) if args.transit else (TARGET_P50_MS, TARGET_P95_MS)
    points = random_points(args.requests)
    from twin.analysis.isochrones import reach_kept

    with connect() as conn:
        kept = reach_kept(conn)
    with (
        ServerProcess.twin(env={"TWIN_QUIET": "1"}) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        started = time.perf_counter()
        first = client.post(
            "/processes/isochrone/execution",
            json={"inputs": {"lon": points[0][0], "lat": points[0][1], "minutes": minutes} | extra},
        )
        cold = time.perf_counter() - started
        if first.status_code != 200:
            raise SystemExit(f"isochrone failed: {first.status_code} {first.text[:500]}")
        for lon, lat in points[:10]:  # warm caches (graphs per mode, code paths)
            client.post(
                "/processes/isochrone/execution",
                json={"inputs": {"lon": lon, "lat": lat, "minutes": minutes} | extra},
            )
        latencies, areas, failures = [], [], 0
        for lon, lat in points:
            started = time.perf_counter()
            response = client.post(
                "/processes/isochrone/execution",
                json={"inputs": {"lon": lon, "lat": lat, "minutes": minutes} | extra},
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code == 200:
                areas.append(response.json()["features"][0]["properties"]["area_km2"])
            else:
                failures += 1
    from twin.processes.isochrone import IsochroneProcessor

    processor = IsochroneProcessor({"name": "isochrone"})
    processor.execute({"lon": points[0][0], "lat": points[0][1], "minutes": minutes} | extra)
    in_process = []
    for lon, lat in points:
        started = time.perf_counter()
        processor.execute({"lon": lon, "lat": lat, "minutes": minutes} | extra)
        in_process.append(time.perf_counter() - started)
    http = stats(latencies)
    raw = stats(in_process)
    print(
        json.dumps(
            {
                "bench": "isochrone",
                "minutes": minutes,
                "mode": "slope",
                "modes": extra.get("modes", ["walk"]),
                "cold_first_request_s": round(cold, 3),
                "reach_kept": kept,
                "http": http,
                "in_process": raw,
                "failures": failures,
                "http_to_in_process_p50": round(http["p50_ms"] / raw["p50_ms"], 3),
                "mean_area_15_km2": round(float(np.mean(areas)), 3) if areas else None,
                "target_p50_ms": target_p50,
                "target_p95_ms": target_p95,
                "meets_targets": http["p50_ms"] <= target_p50 and http["p95_ms"] <= target_p95,
            }
        )
    )

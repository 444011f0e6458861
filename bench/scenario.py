"""`twin bench scenario`: a one-school what-if on the city, against recomputing everything.

In-process and over HTTP (`POST /processes/scenario/execution` on `twin serve --port 0`): a new
school at a random lived-in plot, recomputed 15-minute and park indicators for the city, every
district and polycentre, and the changed cells as GeoJSON. The comparison is the full 15-minute
computation (six categories, every plot and cell) that a scenario would cost without the
incremental pass. Prints ONE JSON line. Target: one-school scenario ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import httpx
import numpy as np

from twin.analysis.city import current_city
from twin.analysis.fifteen import node_access
from twin.analysis.indicators import fifteen_tables
from twin.analysis.scenario import run_scenario
from twin.db.pool import connection
from twin.server_process import ServerProcess

TARGET_S = 0.5


def _isochrone_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_isochrone", Path(__file__).parent / "isochrone.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_school(lon: float, lat: float) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"category": "education", "kind": "school", "name": "New school"},
            }
        ],
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(float(np.median(values)), 4),
        "p95_s": round(float(np.percentile(values, 95)), 4),
        "n": len(values),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench scenario")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    helpers = _isochrone_bench()
    points = helpers.random_points(args.runs + 2, seed=11)
    started = time.perf_counter()
    with connection() as conn:
        city = current_city(conn)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    run_scenario(city, one_school(*points[0]))  # builds the cached baseline
    baseline_s = time.perf_counter() - started
    in_process, gains = [], []
    for lon, lat in points[1 : args.runs + 1]:
        started = time.perf_counter()
        result = run_scenario(city, one_school(lon, lat))
        in_process.append(time.perf_counter() - started)
        gains.append(result["city"]["delta"]["share_education"])
    full = []
    for _ in range(3):
        started = time.perf_counter()
        fifteen_tables(city, node_access(city, "slope"), describe=False)
        full.append(time.perf_counter() - started)
    with (
        ServerProcess.twin(env={"TWIN_QUIET": "1"}) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        body = {"inputs": {"add": one_school(*points[0])}}
        started = time.perf_counter()
        first = client.post("/processes/scenario/execution", json=body)
        cold_s = time.perf_counter() - started
        if first.status_code != 200:
            raise SystemExit(f"scenario failed: {first.status_code} {first.text[:500]}")
        http = []
        for lon, lat in points[1 : args.runs + 1]:
            started = time.perf_counter()
            response = client.post(
                "/processes/scenario/execution", json={"inputs": {"add": one_school(lon, lat)}}
            )
            http.append(time.perf_counter() - started)
            response.raise_for_status()
    ours = _summary(in_process)
    over_http = _summary(http)
    full_s = float(np.median(full))
    print(
        json.dumps(
            {
                "bench": "scenario",
                "plots": int(len(city.plots)),
                "cells": int(len(city.cells)),
                "nodes": int(city.network.n),
                "load_city_s": round(load_s, 3),
                "first_scenario_s": round(baseline_s, 3),
                "in_process": ours,
                "http": over_http,
                "http_cold_s": round(cold_s, 3),
                "full_recompute_s": round(full_s, 4),
                "ratio_to_full_recompute": round(ours["median_s"] / full_s, 4),
                "mean_city_gain_share_education": round(float(np.mean(gains)), 6),
                "target_s": TARGET_S,
                "meets_target": over_http["median_s"] <= TARGET_S,
            }
        )
    )

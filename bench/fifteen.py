"""`twin bench fifteen`: the whole 15-minute computation against pandana, in one run.

On the database's city (load the `city` demo first: `twin load demo --scale city`):
- ours: every plot and H3 cell, six categories — six multi-source Dijkstra passes with scipy
  (min_only, limit) over the walking network plus the per-place look-ups — on the metre graph
  with the same radius pandana gets (and, for the record, the default slope-aware run);
- pandana: the same graph (twoway, metres), `Network()` (contraction hierarchies) +
  `precompute(radius)` + `set_pois`/`nearest_pois` per category, POIs at the same nodes;
- agreement: max |ours - pandana| over every node within the radius (metres);
- the whole step: `twin analyse`'s load + 15-minute computation + writing plot_metrics and
  fifteen_cells to PostGIS (COPY), and the whole analysis for the record.
Prints ONE JSON line. Targets: ours ≤ 0.02 × pandana; the whole step ≤ 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from twin.analysis.city import CATEGORIES, load_city
from twin.analysis.fifteen import node_access
from twin.analysis.indicators import fifteen_tables
from twin.analysis.publish import analyse
from twin.db.pool import connect

TARGET_RATIO = 0.02
TARGET_STEP_S = 30.0


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 4)


def ours_metres(city, radius: float) -> tuple[float, dict[str, np.ndarray]]:
    """Six passes on the metre graph, sources at their snapped nodes (pandana's problem)."""
    started = time.perf_counter()
    result = {}
    for category in CATEGORIES:
        nodes = np.unique(city.sources(category).nearer_node)
        result[category], _ = city.network.nearest(
            nodes, np.zeros(len(nodes)), mode="length", limit=radius
        )
        # the per-place look-up, as in the real run
        _ = result[category][city.plot_places.node] + city.plot_places.snap_m
        _ = result[category][city.cell_places.node] + city.cell_places.snap_m
    return time.perf_counter() - started, result


def pandana_run(city, radius: float) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    import pandana  # optional: the test extra
    import pandas as pd

    network = city.network
    timings: dict[str, float] = {}
    started = time.perf_counter()
    nodes = pd.DataFrame({"x": network.x, "y": network.y})
    edges = pd.DataFrame(
        {"from": network.edge_u, "to": network.edge_v, "length": network.edge_length}
    )
    net = pandana.Network(
        nodes.x, nodes.y, edges["from"], edges["to"], edges[["length"]], twoway=True
    )
    timings["contraction_s"] = time.perf_counter() - started
    started = time.perf_counter()
    net.precompute(radius)
    timings["precompute_s"] = time.perf_counter() - started
    started = time.perf_counter()
    result = {}
    for category in CATEGORIES:
        source_nodes = np.unique(city.sources(category).nearer_node)
        net.set_pois(category, radius, 1, network.x[source_nodes], network.y[source_nodes])
        distance = net.nearest_pois(radius, category, num_pois=1)[1]
        result[category] = distance.reindex(np.arange(network.n)).to_numpy(float)
    timings["queries_s"] = time.perf_counter() - started
    return timings, result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench fifteen")
    parser.add_argument(
        "--radius",
        type=float,
        default=2400.0,
        help="metres (30 minutes at 4.8 km/h, the analysis' limit)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pandana", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    with connect() as conn:
        conn.autocommit = True
        started = time.perf_counter()
        city = load_city(conn)
        load_s = time.perf_counter() - started
        ours_runs = []
        for _ in range(args.repeat):
            seconds, ours = ours_metres(city, args.radius)
            ours_runs.append(seconds)
        slope_runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            fifteen_tables(city, node_access(city, "slope"))
            slope_runs.append(time.perf_counter() - started)
        figures: dict = {
            "bench": "fifteen",
            "nodes": int(city.network.n),
            "segments": int(len(city.network.edge_u)),
            "plots": int(len(city.plots)),
            "cells": int(len(city.cells)),
            "categories": len(CATEGORIES),
            "radius_m": args.radius,
            "load_city_s": round(load_s, 3),
            "ours_metres_s": _median(ours_runs),
            "ours_slope_aware_full_s": _median(slope_runs),
        }
        if not args.skip_pandana:
            timings, theirs = pandana_run(city, args.radius)
            total = sum(timings.values())
            differences = []
            for category in CATEGORIES:
                a, b = ours[category], theirs[category]
                both = np.isfinite(a) & (b < args.radius)
                differences.append(float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0)
            figures.update(
                {
                    "pandana_s": round(total, 3),
                    **{f"pandana_{k}": round(v, 3) for k, v in timings.items()},
                    "ratio_ours_to_pandana": round(_median(ours_runs) / total, 5),
                    "target_ratio": TARGET_RATIO,
                    "max_difference_m": round(max(differences), 4),
                }
            )
        result = analyse(conn)
        t = result["timings"]
        step = (
            t["load"]
            + t["fifteen"]
            + t.get("write_plot_metrics", 0)
            + t.get("write_fifteen_cells", 0)
        )
        figures.update(
            {
                "step_with_writing_s": round(step, 3),
                "target_step_s": TARGET_STEP_S,
                "step_parts_s": {
                    k: t[k]
                    for k in ("load", "fifteen", "write_plot_metrics", "write_fifteen_cells")
                    if k in t
                },
                "whole_analysis_s": round(
                    sum(v for k, v in t.items() if not k.startswith("write_")), 3
                ),
                "slope_aware": result["computed"]["slope_aware"],
                "share_all_six": result["city"]["share_all_six"],
            }
        )
    print(json.dumps(figures))

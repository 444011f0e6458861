"""`twin bench profiles`: each walking profile's figures for the whole city, against the
standard walk (the peer a user would pick).

On the database's city (`twin load demo --scale city` first): per profile, the six
multi-source Dijkstra passes for every node (twin.analysis.fifteen.node_access, graph built
beforehand and timed apart), the per-plot and per-cell minutes, and the district figures of
GET /indicators?profile=; and the route process's engine part (one A → B Dijkstra and the
walked segments) for random pairs. Prints ONE JSON line: medians and ratios to the standard.
Target (issue #18): a profile's walking figures for the whole city ≤ 1 s of computation.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from twin.analysis.city import load_city
from twin.analysis.fifteen import node_access, place_minutes
from twin.analysis.profile_answers import profile_indicators, walked_route
from twin.analysis.profiles import NAMES, engine_mode
from twin.db.pool import connect

TARGET_S = 1.0


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 4)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench profiles")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--routes", type=int, default=20)
    args = parser.parse_args(argv)
    with connect() as conn:
        city = load_city(conn)
    network = city.network
    rng = np.random.default_rng(1)
    pairs = rng.choice(network.snap_nodes, size=(args.routes, 2))
    result: dict[str, dict[str, float]] = {}
    for profile in NAMES:
        mode = engine_mode(profile)
        started = time.perf_counter()
        network.graph(mode, towards=True)
        network.graph(mode)
        graph_s = time.perf_counter() - started
        passes, indicators, routes = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            access = node_access(city, mode)
            place_minutes(access, city.plot_places, describe=False)
            place_minutes(access, city.cell_places, describe=False)
            passes.append(time.perf_counter() - started)
            city._cache.pop(("access", mode), None)
            started = time.perf_counter()
            profile_indicators(city, profile)
            indicators.append(time.perf_counter() - started)
        for a, b in pairs:
            started = time.perf_counter()
            walked_route(network, int(a), int(b), profile)
            routes.append(time.perf_counter() - started)
        result[profile] = {
            "graph_s": round(graph_s, 4),
            "figures_s": _median(passes),
            "indicators_s": _median(indicators),
            "route_p50_ms": round(1000 * float(np.median(routes)), 2),
        }
    standard = result["standard"]["figures_s"]
    for profile in NAMES:
        result[profile]["ratio_to_standard"] = round(result[profile]["figures_s"] / standard, 2)
    print(
        json.dumps(
            {
                "bench": "profiles",
                "nodes": int(network.n),
                "segments": len(network.edge_u),
                "plots": len(city.plots),
                "target_s": TARGET_S,
                "profiles": result,
                "within_target": all(r["figures_s"] <= TARGET_S for r in result.values()),
            }
        )
    )

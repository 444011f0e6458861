"""`twin bench micromobility`: bike and scooter reach per cell against a plain scipy loop.

On the twin in TWIN_HOME (the city demo for the docs' figures), read-only. Ours: the reach of
every 15-minute cell within 15 minutes (twin/mobility/micromobility.py: the network contracted,
then batched Dijkstra searches) - by bike with today's lanes and by scooter - and the whole
`cell_reach` (segments read, three lane plans, scooter). Peer: what a user would write with
scipy alone - `dijkstra` from each cell over the uncontracted bike graph - timed on a sample of
cells and scaled to all of them, and checked to reach the same residents on that sample.
Prints ONE JSON line: medians, the ratio peer/ours and the agreement; CPU seconds beside the
wall-clock ones (on a shared machine the wall clock mostly measures the other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import load_city
from twin.analysis.network import FLAT_METRES_PER_MINUTE
from twin.db.pool import connect
from twin.mobility.micromobility import (
    RIDE_MODES,
    _csr,
    _place_access,
    bike_reach,
    cell_reach,
    load_segments,
    parking_places,
    ride_arcs,
    scooter_reach,
)


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 3)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench micromobility")
    parser.add_argument("--runs", type=int, default=3, help="runs of ours (median reported)")
    parser.add_argument("--sample", type=int, default=300, help="cells the peer is timed on")
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    with connect() as conn:
        conn.autocommit = True
        city = load_city(conn)
        started = time.perf_counter()
        segments = load_segments(conn, city.network)
        segments_s = time.perf_counter() - started
        parking = parking_places(conn, city.network)
        whole, whole_cpu = [], []
        for _ in range(args.runs):
            started, cpu = time.perf_counter(), time.process_time()
            cell_reach(conn, city)
            whole.append(time.perf_counter() - started)
            whole_cpu.append(time.process_time() - cpu)
    network = city.network
    cell_node, cell_walk_m = _place_access(network, city.cell_places)
    residents = city.cells["residents"].to_numpy(float)
    bike_t, bike_cpu, scooter_t, scooter_cpu = [], [], [], []
    for _ in range(args.runs):
        started, cpu = time.perf_counter(), time.process_time()
        ours = bike_reach(network, segments, cell_node, cell_walk_m, residents)
        bike_t.append(time.perf_counter() - started)
        bike_cpu.append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        scooter_reach(
            network,
            segments,
            cell_node,
            cell_walk_m,
            residents,
            parking.node.to_numpy(),
            parking.snap_m.to_numpy(),
        )
        scooter_t.append(time.perf_counter() - started)
        scooter_cpu.append(time.process_time() - cpu)
    # the peer: one scipy search per cell on the whole bike graph
    u, v, minutes, _ = ride_arcs(network, segments, RIDE_MODES["bike"])
    graph = _csr(network.n, u, v, minutes)
    snap = cell_walk_m / FLAT_METRES_PER_MINUTE
    rng = np.random.default_rng(1)
    sample = rng.choice(len(cell_node), size=min(args.sample, len(cell_node)), replace=False)
    started, cpu = time.perf_counter(), time.process_time()
    peer = np.zeros(len(sample))
    for i, cell in enumerate(sample):
        budget = 15.0 - snap[cell]
        cost = dijkstra(graph, indices=int(cell_node[cell]), limit=max(budget, 0.0))
        peer[i] = residents[cost[cell_node] + snap <= budget].sum()
    scale = len(cell_node) / len(sample)
    peer_s = (time.perf_counter() - started) * scale
    peer_cpu = (time.process_time() - cpu) * scale
    out = {
        "bench": "micromobility",
        "load_average": os.getloadavg()[0],
        "cells": int(len(cell_node)),
        "nodes": int(network.n),
        "segments_read_s": round(segments_s, 3),
        "ours_bike_reach_s": _median(bike_t),
        "ours_scooter_reach_s": _median(scooter_t),
        "ours_cell_reach_all_s": _median(whole),
        "cpu_s": {
            "ours_bike_reach": _median(bike_cpu),
            "ours_scooter_reach": _median(scooter_cpu),
            "ours_cell_reach_all": _median(whole_cpu),
            "peer_scipy_per_cell_scaled": round(peer_cpu, 3),
            "ratio_peer_over_ours_bike": round(peer_cpu / float(np.median(bike_cpu)), 2),
        },
        "peer_scipy_per_cell_s_scaled": round(peer_s, 3),
        "peer_sample_cells": int(len(sample)),
        "ratio_peer_over_ours_bike": round(peer_s / float(np.median(bike_t)), 2),
        "agreement_max_abs_residents": float(np.abs(ours.residents[sample] - peer).max()),
        "runs": args.runs,
    }
    print(json.dumps(out))

"""`twin bench transit`: walk + public transport on the city demo, in one run.

On the database's city (load the `city` demo first: `twin load demo --scale city`) and its
transit feed (twin.transit.store) — or, with `--feed synthetic` or when none is imported, a
synthetic feed laid over the walking network (about 150 routes × 2 directions through stops
every ~450 m, a bus every 8-20 minutes 06:00-23:00, 18 km/h; marked synthetic in the output):
- setup, once per timetable: build_timetable, footpaths (≤ 5 min), node → stop walks;
- many-origin RAPTOR: every stop to every stop at 08:00 (raptor.travel_times), beside the
  peer a user would write first: a loop of single-origin earliest_arrival (timed on a sample of
  origins and scaled to all: `peer_loop_all_stops_s`, ratio ours/peer);
- walk+PT minutes to the six categories for every node, then every plot and H3 cell (one
  departure; target ≤ 30 s) and for the 08:00-09:00 window of 12 departures, median
  (target ≤ 3 min);
- the walk+PT isochrone's computation from random plots (reach_from_point, in-process;
  target p50 ≤ 150 ms over HTTP, so in-process must stay well under);
- the per-node approximation (the ride starts at T at every stop) against the exact search
  from the node (reach_from_point) on sampled nodes: the share within 1 and 5 minutes.
Prints ONE JSON line of medians; `_cpu_s` beside a wall time is the process's CPU time (on a
shared machine the wall time also counts other processes' turns).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import CATEGORIES, CityModel, load_city
from twin.analysis.fifteen import node_access, place_minutes
from twin.analysis.network import to_lonlat
from twin.db.pool import connect
from twin.transit.access import (
    WINDOW,
    _cached_stop_access,
    footpaths,
    reach_from_point,
    transit_access,
    window_departures,
)
from twin.transit.frames import TimetableFrames
from twin.transit.raptor import earliest_arrival, travel_times
from twin.transit.timetable import build_timetable

TARGET_ONE_DEPARTURE_S = 30.0
TARGET_WINDOW_S = 180.0
TARGET_ISOCHRONE_P50_MS = 150.0
DAY = date(2026, 3, 2)  # a Monday


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 4)


def synthetic_feed(city: CityModel, routes: int = 150, seed: int = 18) -> TimetableFrames:
    """Routes between far-apart nodes along shortest streets, stops every ~450 m shared
    where routes meet (within 60 m), both directions, daily."""
    rng = np.random.default_rng(seed)
    network = city.network
    graph = network.graph("length")
    main = network.snap_nodes
    stop_node: list[int] = []
    stop_xy = np.zeros((0, 2))
    trips, times = [], []
    for r in range(routes):
        origin = int(rng.choice(main))
        metres, predecessors = dijkstra(graph, indices=origin, return_predecessors=True)
        far = np.flatnonzero((metres > 8000) & (metres < 22000))
        if not len(far):
            continue
        node = int(rng.choice(far))
        path = [node]
        while path[-1] != origin:
            path.append(int(predecessors[path[-1]]))
        path = np.array(path[::-1])
        along = metres[path]
        marks = np.searchsorted(along, np.arange(0, along[-1], 450.0))
        sequence, offsets = [], []
        for k in np.unique(marks):
            xy = np.array([network.x[path[k]], network.y[path[k]]])
            near = np.flatnonzero(np.hypot(*(stop_xy - xy).T) < 60) if len(stop_xy) else []
            if len(near):
                index = int(near[0])
            else:
                index = len(stop_node)
                stop_node.append(int(path[k]))
                stop_xy = np.vstack([stop_xy, xy])
            if index not in sequence:
                sequence.append(index)
                offsets.append(along[k] / 300.0 * 60 + 20 * len(sequence))  # 18 km/h + dwell
        if len(sequence) < 2:
            continue
        headway = int(rng.choice([8, 10, 12, 15, 20])) * 60
        for direction, (stops, offset) in enumerate(
            [(sequence, offsets), (sequence[::-1], offsets[-1] - np.array(offsets[::-1]))]
        ):
            first = 6 * 3600 + int(rng.integers(0, headway))
            for start in range(first, 23 * 3600, headway):
                trip = f"r{r}d{direction}t{start}"
                trips.append((trip, f"r{r}", "daily", direction, None))
                at = (start + np.asarray(offset)).astype(np.int64)
                times.append(
                    pd.DataFrame(
                        {
                            "trip_id": trip,
                            "stop_sequence": np.arange(len(stops)),
                            "stop_id": [f"s{s}" for s in stops],
                            "arrival_s": at,
                            "departure_s": at,
                        }
                    )
                )
    lon, lat = to_lonlat(stop_xy[:, 0], stop_xy[:, 1])
    stops = pd.DataFrame(
        {
            "stop_id": [f"s{i}" for i in range(len(stop_node))],
            "stop_name": "synthetic",
            "lon": lon,
            "lat": lat,
            "mode": "bus",
        }
    )
    route_ids = sorted({t[1] for t in trips})
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    return TimetableFrames(
        stops=stops,
        routes=pd.DataFrame({"route_id": route_ids, "route_type": 3, "mode": "bus"}),
        trips=pd.DataFrame(
            trips, columns=["trip_id", "route_id", "service_id", "direction_id", "shape_id"]
        ),
        stop_times=pd.concat(times, ignore_index=True),
        calendar=pd.DataFrame(
            [
                {
                    "service_id": "daily",
                    **dict.fromkeys(weekdays, True),
                    "start_date": date(2026, 1, 1),
                    "end_date": date(2026, 12, 31),
                }
            ]
        ),
        calendar_dates=pd.DataFrame(columns=["service_id", "date", "exception_type"]),
    )


def _feed(conn, city: CityModel, which: str) -> tuple[TimetableFrames, str]:
    if which in ("auto", "database"):
        from twin.errors import NotFound
        from twin.transit.store import timetable_frames

        try:
            return timetable_frames(conn), "database"
        except NotFound as problem:  # no feed imported
            if which == "database":
                raise SystemExit(f"no transit feed in the database: {problem}") from problem
    return synthetic_feed(city), "synthetic"


def _to_sources(city: CityModel, category: str, reach: np.ndarray) -> float:
    """Minutes to the nearest source of `category` given minutes to every node (the sources
    joined to both ends of their street segment, as the walking figures join them)."""
    at = city.sources(category)
    if not len(at):
        return np.inf
    return float(np.min(reach[at.node] + city.network.reach_cost(at, "slope")))


def approximation(city, tt, access, walking, sample: int, departure: int) -> dict[str, float]:
    """Per-node minutes (ride from T at every stop) against the exact search from the node."""
    rng = np.random.default_rng(3)
    nodes = rng.choice(city.network.snap_nodes, size=sample, replace=False)
    differences = []
    for node in nodes:
        reach = reach_from_point(
            city, tt, city.network.x[node], city.network.y[node], departure, 30
        )
        for category in CATEGORIES:
            exact = _to_sources(city, category, reach)
            exact = min(exact, float(walking.minutes[category][node]))
            ours = float(access.minutes[category][node])
            if np.isfinite(exact) or np.isfinite(ours):
                exact = exact if exact <= 30 else 30.0
                ours = ours if ours <= 30 else 30.0
                differences.append(ours - exact)
    d = np.abs(np.asarray(differences))
    return {
        "pairs": int(d.size),
        "median_abs_min": round(float(np.median(d)), 3),
        "p95_abs_min": round(float(np.percentile(d, 95)), 3),
        "share_within_1_min": round(float(np.mean(d <= 1.0)), 4),
        "share_within_5_min": round(float(np.mean(d <= 5.0)), 4),
        "mean_signed_min": round(float(np.mean(differences)), 3),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench transit")
    parser.add_argument("--feed", choices=["auto", "database", "synthetic"], default="auto")
    parser.add_argument("--day", default=DAY.isoformat())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer-sample", type=int, default=100)
    parser.add_argument("--isochrones", type=int, default=50)
    parser.add_argument("--approximation-sample", type=int, default=40)
    parser.add_argument("--skip-window", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    departure = WINDOW[0]
    with connect() as conn:
        conn.autocommit = True
        city = load_city(conn)
        started = time.perf_counter()
        frames, source = _feed(conn, city, args.feed)
        feed_s = time.perf_counter() - started
    figures: dict = {"bench": "transit", "feed": source, "nodes": int(city.network.n)}
    started = time.perf_counter()
    bare = build_timetable(frames, date.fromisoformat(args.day))
    timetable_s = time.perf_counter() - started
    started = time.perf_counter()
    walks = footpaths(city.network, bare)
    footpaths_s = time.perf_counter() - started
    tt = bare.with_transfers(walks)
    started = time.perf_counter()
    _cached_stop_access(city, tt, "slope", 10.0)
    stop_walks_s = time.perf_counter() - started
    walking = node_access(city, "slope")
    figures.update(
        {
            "stops": int(tt.n_stops),
            "trips": int(tt.trips),
            "patterns": len(tt.patterns),
            "footpaths": int(len(walks)),
            "plots": int(len(city.plots)),
            "cells": int(len(city.cells)),
            "setup_s": {
                "feed": round(feed_s, 3),
                "build_timetable": round(timetable_s, 3),
                "footpaths": round(footpaths_s, 3),
                "node_stop_walks": round(stop_walks_s, 3),
            },
        }
    )
    runs, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        matrix = travel_times(tt, departure)
        runs.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    figures["all_stops_travel_times_s"] = _median(runs)
    figures["all_stops_travel_times_cpu_s"] = _median(cpu)
    figures["stop_pairs_reached_share"] = round(float(np.isfinite(matrix).mean()), 4)
    sample = np.random.default_rng(1).choice(tt.n_stops, size=args.peer_sample, replace=False)
    started = time.perf_counter()
    for origin in sample:
        single = earliest_arrival(tt, [origin], [departure])
        assert np.array_equal(single - departure, matrix[origin].astype(float), equal_nan=True)
    peer = (time.perf_counter() - started) / args.peer_sample * tt.n_stops
    figures["peer_loop_all_stops_s"] = round(peer, 3)
    figures["ratio_ours_to_peer"] = round(figures["all_stops_travel_times_s"] / peer, 4)

    runs, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        access = transit_access(city, tt, departure, walking=walking)
        plots = place_minutes(access, city.plot_places)
        place_minutes(access, city.cell_places)
        runs.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    walk_plots = place_minutes(walking, city.plot_places)
    figures["one_departure_six_categories_s"] = _median(runs)
    figures["one_departure_six_categories_cpu_s"] = _median(cpu)
    figures["target_one_departure_s"] = TARGET_ONE_DEPARTURE_S
    residents = city.plots.residents.to_numpy(float)
    figures["residents_all_six_walk"] = round(
        float((walk_plots.all_six * residents).sum() / residents.sum()), 4
    )
    figures["residents_all_six_walk_pt_0800"] = round(
        float((plots.all_six * residents).sum() / residents.sum()), 4
    )
    if not args.skip_window:
        started, started_cpu = time.perf_counter(), time.process_time()
        window = transit_access(city, tt, window_departures(*WINDOW), walking=walking)
        place_minutes(window, city.plot_places)
        place_minutes(window, city.cell_places)
        figures["window_12_departures_s"] = round(time.perf_counter() - started, 3)
        figures["window_12_departures_cpu_s"] = round(time.process_time() - started_cpu, 3)
        figures["target_window_s"] = TARGET_WINDOW_S

    rng = np.random.default_rng(7)
    picks = rng.choice(len(city.plots), size=args.isochrones, replace=False)
    latencies, cpu = [], []
    for k in picks:
        x, y = city.plot_places.x[k], city.plot_places.y[k]
        started, started_cpu = time.perf_counter(), time.process_time()
        reach_from_point(city, tt, x, y, departure, 30)
        latencies.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    ms, cpu_ms = np.asarray(latencies) * 1000, np.asarray(cpu) * 1000
    figures["isochrone_30min_in_process_ms"] = {
        "p50": round(float(np.median(ms)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "cpu_p50": round(float(np.median(cpu_ms)), 2),
        "cpu_p95": round(float(np.percentile(cpu_ms, 95)), 2),
        "n": len(ms),
    }
    figures["target_isochrone_http_p50_ms"] = TARGET_ISOCHRONE_P50_MS
    figures["approximation_vs_exact"] = approximation(
        city, tt, access, walking, args.approximation_sample, departure
    )
    print(json.dumps(figures))

"""`twin bench mobility`: the mobility and safety indicators against hand-written PostGIS SQL.

On the twin in TWIN_HOME (the city demo for the README figures), read-only. Ours: the
indicator computation of twin/mobility (`compute` on the loaded city model; its sections timed
separately) and the lighting derivation (`street_lit`, each segment from the lighting lines,
computed but not written). Raw: the statements a GIS analyst would run on the same tables
(ST_DWithin on geography for the 300 m and 50 m catchments, ST_Length/ST_Intersection for lane
km and the lit derivation), twin/sql/mobility/bench_*.sql. The walks to police posts and
gathering points have no raw-SQL counterpart (PostGIS has no routing) and are timed alone.
Prints ONE JSON line: medians, ratios ours/raw and the agreement of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import shapely

from twin.analysis.city import load_city
from twin.db.pool import connect
from twin.mobility.indicators import compute
from twin.mobility.lighting import street_lit
from twin.sqlfiles import query

RAW = (
    "bench_bike_catchment",
    "bench_lane_km",
    "bench_lit_share",
    "bench_cameras",
    "bench_camera_gaps",
)
SUBSET = ("micromobility", "lighting", "cameras")  # the sections raw SQL also computes


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 4)


def _timed(function, runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def _agreement(ours: dict[str, Any], raw: dict[str, list[tuple]]) -> dict[str, Any]:
    """Largest differences between our per-district figures and the raw statements'."""
    rows = {d["district"]: d for d in ours["districts"]}
    near = {r[0]: int(r[1]) for r in raw["bench_bike_catchment"]}
    lanes = {(r[0], r[1]): float(r[2]) for r in raw["bench_lane_km"]}
    lit = {r[0]: float(r[1]) for r in raw["bench_lit_share"] if r[1] is not None}
    cams = {r[0]: (float(r[1]), float(r[2])) for r in raw["bench_cameras"]}
    gaps = int(raw["bench_camera_gaps"][0][0])
    return {
        "residents_near_bike_max_rel_diff": round(
            max(
                abs(rows[d]["residents_near_bike"] - near.get(d, 0)) / max(rows[d]["residents"], 1)
                for d in rows
            ),
            5,
        ),
        "lane_km_max_abs_diff": round(
            max(
                abs((rows[d][f"lane_km_{s}"] or 0) - lanes.get((d, status), 0.0))
                for d in rows
                for s, status in (
                    ("built", "built"),
                    ("planned_2025", "planned_2025"),
                    ("planned_2030", "planned_2030"),
                )
            ),
            3,
        ),
        "share_lit_max_abs_diff": round(
            max(abs((rows[d]["share_lit"] or 0) - lit.get(d, 0)) for d in rows), 5
        ),
        "camera_density_max_rel_diff": round(
            max(abs(rows[d]["camera_density_km2"] - cams[d][0]) / cams[d][0] for d in rows), 5
        ),
        "camera_integrated_share_max_abs_diff": round(
            max(abs(rows[d]["camera_integrated_share"] - cams[d][1]) for d in rows), 5
        ),
        "sites_without_camera": {"ours": ours["city"]["sites_without_camera"], "raw": gaps},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench mobility")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median reported)")
    parser.add_argument(
        "--lighting-runs",
        type=int,
        default=1,
        help="runs of the lit derivation, ours and raw (raw is slow at city scale)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    with connect() as conn:
        conn.autocommit = True
        started = time.perf_counter()
        city = load_city(conn)
        load_s = time.perf_counter() - started
        ours_times, sections = [], []
        raw_times: dict[str, list[float]] = {name: [] for name in RAW}
        raw_rows: dict[str, list[tuple]] = {}
        document: dict[str, Any] = {}
        for _ in range(args.runs):  # interleaved, so both see the same load on the machine
            started = time.perf_counter()
            document = compute(conn, city)
            ours_times.append(time.perf_counter() - started)
            sections.append(document["computed"]["section_s"])
            for name in RAW:
                started = time.perf_counter()
                raw_rows[name] = conn.execute(query(f"mobility/{name}")).fetchall()
                raw_times[name].append(time.perf_counter() - started)
        subset = [sum(s[k] for k in SUBSET) for s in sections]
        raw_total = [sum(raw_times[name][i] for name in RAW) for i in range(args.runs)]

        # the lit derivation: ours in memory (read included) against the raw statement
        def ours_lighting() -> np.ndarray:
            streets = conn.execute(query("mobility/street_geometries")).fetchall()
            lines = conn.execute(query("mobility/lighting_lines")).fetchall()
            return street_lit(
                shapely.from_wkb([r[2] for r in streets]), shapely.from_wkb([r[0] for r in lines])
            )

        lit_ours_t, lit_ours = _timed(ours_lighting, args.lighting_runs)
        lit_raw_t, lit_raw_rows = _timed(
            lambda: conn.execute(query("mobility/bench_lit_derivation")).fetchall(),
            args.lighting_runs,
        )
        streets = conn.execute(query("mobility/street_geometries")).fetchall()
    raw_lit = dict(lit_raw_rows)
    raw_vector = np.array([bool(raw_lit.get(r[0], False)) for r in streets])
    length = np.array([shapely.length(g) for g in shapely.from_wkb([r[2] for r in streets])])
    out = {
        "bench": "mobility",
        "load_average": os.getloadavg()[0],
        "plots": int(len(city.plots)),
        "streets": len(streets),
        "city_model_load_s": round(load_s, 2),
        "ours_compute_all_s": _median(ours_times),
        "ours_sections_s": {k: _median([s[k] for s in sections]) for k in sections[0]},
        "ours_subset_s": _median(subset),
        "raw_sql_s": {name: _median(times) for name, times in raw_times.items()},
        "raw_sql_total_s": _median(raw_total),
        "ratio_subset_ours_over_raw": round(float(np.median(subset) / np.median(raw_total)), 3),
        "agreement": _agreement(document, raw_rows),
        "lit_derivation": {
            "ours_s": _median(lit_ours_t),
            "raw_sql_s": _median(lit_raw_t),
            "ratio_ours_over_raw": round(float(np.median(lit_ours_t) / np.median(lit_raw_t)), 3),
            "segments_disagreeing": int((lit_ours != raw_vector).sum()),
            "share_lit_ours": round(float((length * lit_ours).sum() / length.sum()), 5),
            "share_lit_raw": round(float((length * raw_vector).sum() / length.sum()), 5),
        },
        "runs": args.runs,
    }
    print(json.dumps(out))

"""`twin bench growth`: how cost grows from the `small` to the `city` and `metro` demo scales.

One run measures each twin given by `--homes NAME=TWIN_HOME,...` (e.g.
`small=/tmp/twin-h6,city=/tmp/twin-city8,metro=/tmp/twin-metro`, each loaded with
`twin load demo --scale NAME` and analysed), one after another, each in a child process of its
own (so memory is per scale), and prints the figures side by side with every figure's ratio to
the `small` and `city` ones, so growth reads as a ratio:
- tiles: uncached vector tiles on a fresh `twin serve` with an empty disk cache, a FIXED set of
  tiles around the historic centre (the same tiles at every scale): streets z10-z16 and plots
  z12-z16 (their zoom ranges), 3x3 tiles per zoom, each requested once (`?f=mvt` keeps the
  in-memory hot-tile path out); the layers' low-zoom overviews are brought up to date first;
- items: pages of 100 plots (`bbox` of 1 km around points of the centre + a CQL2 `filter`);
- isochrone: 15-minute walking isochrones over HTTP from lived-in plots within 2 km of the
  centre (cold first request reported apart: it loads the walking network);
- analysis: the whole 15-minute, walkability, seismic and utilities analysis in memory
  (`twin.analysis.refresh.compute`, what `twin analyse` runs before it writes; read-only, so
  it can run on a shared home), its time and the child's peak memory (the walking graph and
  the city model), beside the walking graph's node count;
- server memory: the serving process's resident memory after the isochrones (its walking
  graph and city model loaded).
The server's analysis refresher is off (TWIN_ANALYSIS_REFRESH=off) so it does not compete for
the CPU. Targets (issue #19 and the isochrone bench): uncached tile p95 <= 300 ms, isochrone
p50 <= 30 ms; each scale says met / not met. Prints ONE JSON line (stdout) and a table (stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import psutil

TMS = morecantile.tms.get("WebMercatorQuad")
CENTRE = (76.945, 43.255)  # the historic centre (twin/demo/almaty.yml historic_centre)
TILE_LAYERS = {"streets": range(10, 17), "plots": range(12, 17)}
TARGET_TILE_P95_MS = 300.0  # issue #19: uncached p95 <= 300 ms (map tiles, city demo)
TARGET_ISOCHRONE_P50_MS = 30.0  # bench/isochrone.py
FIGURES = [  # (key in a scale's result, label, unit)
    ("tiles_streets_p50_ms", "tiles streets z10-16 uncached p50", "ms"),
    ("tiles_streets_p95_ms", "tiles streets z10-16 uncached p95", "ms"),
    ("tiles_plots_p50_ms", "tiles plots z12-16 uncached p50", "ms"),
    ("tiles_plots_p95_ms", "tiles plots z12-16 uncached p95", "ms"),
    ("items_p50_ms", "items page (bbox+filter) p50", "ms"),
    ("items_p95_ms", "items page (bbox+filter) p95", "ms"),
    ("isochrone_cold_s", "isochrone first request (cold)", "s"),
    ("isochrone_p50_ms", "isochrone 15 min p50", "ms"),
    ("isochrone_p95_ms", "isochrone 15 min p95", "ms"),
    ("analysis_s", "15-minute analysis (in memory)", "s"),
    ("analysis_peak_mb", "analysis peak memory", "MB"),
    ("server_rss_mb", "server memory after isochrones", "MB"),
    ("plots", "plots", ""),
    ("walking_nodes", "walking nodes", ""),
]


def _stats(latencies_s: list[float]) -> tuple[float | None, float | None]:
    values = np.asarray(latencies_s, dtype=float) * 1000
    if values.size == 0:
        return None, None
    return round(float(np.median(values)), 1), round(float(np.percentile(values, 95)), 1)


def centre_tiles(zoom: int) -> list[tuple[int, int, int]]:
    """The 3x3 tiles around the historic centre at `zoom`: the same tiles at every scale."""
    middle = TMS.tile(*CENTRE, zoom)
    return [(zoom, middle.x + dx, middle.y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server and its workers)."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss + sum(
            child.memory_info().rss for child in process.children(recursive=True)
        )
    except psutil.Error:
        return float("nan")
    return round(total / 2**20, 1)


def measure(requests: int) -> dict[str, Any]:
    """Every figure of the twin in TWIN_HOME (run in a child process per scale)."""
    from twin.catalog import get_layer
    from twin.db.pool import connect
    from twin.server_process import ServerProcess
    from twin.sqlfiles import query
    from twin.tiles.vector import ensure_overviews

    result: dict[str, Any] = {
        "home": os.environ.get("TWIN_HOME"),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    with connect() as conn:
        result["plots"] = conn.execute("SELECT count(*) FROM plots").fetchone()[0]
        if not result["plots"]:
            raise SystemExit(f"{result['home']}: no plots: load a demo (twin load demo) first")
        started = time.perf_counter()
        for name, zooms in TILE_LAYERS.items():
            layer = get_layer(name)
            ensure_overviews(conn, [dataclasses.replace(layer, minzoom=min(zooms))], min(zooms))
        result["overviews_s"] = round(time.perf_counter() - started, 2)
        lon, lat = CENTRE
        rows = conn.execute(
            query("bench/centre_plot_points"),
            {
                "west": lon - 0.025,
                "east": lon + 0.025,
                "south": lat - 0.018,
                "north": lat + 0.018,
                "seed": "7",
                "count": requests,
            },
        ).fetchall()
        conn.commit()
    points = [(float(r[1]), float(r[2])) for r in rows]
    cache = Path(tempfile.mkdtemp(prefix="twin-bench-growth-"))
    env = {"TWIN_QUIET": "1", "TWIN_TILE_CACHE": str(cache), "TWIN_ANALYSIS_REFRESH": "off"}
    with (
        ServerProcess.twin(env=env, timeout_s=300) as server,
        httpx.Client(base_url=server.url, timeout=300) as client,
    ):
        for name, zooms in TILE_LAYERS.items():
            latencies, empty = [], 0
            for zoom in zooms:
                for z, x, y in centre_tiles(zoom):
                    path = f"/collections/{name}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"
                    started = time.perf_counter()
                    response = client.get(path)
                    latencies.append(time.perf_counter() - started)
                    if response.status_code == 204 or not response.content:
                        empty += 1
                    elif response.status_code != 200:
                        raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
            p50, p95 = _stats(latencies)
            result[f"tiles_{name}_p50_ms"], result[f"tiles_{name}_p95_ms"] = p50, p95
            result[f"tiles_{name}_n"], result[f"tiles_{name}_empty"] = len(latencies), empty
        latencies, matched = [], []
        for lon, lat in points[:requests]:
            bbox = f"{lon - 0.006},{lat - 0.0045},{lon + 0.006},{lat + 0.0045}"
            started = time.perf_counter()
            response = client.get(
                "/collections/plots/items",
                params={
                    "bbox": bbox,
                    "filter": "land_use = 'residential' AND area_m2 > 100",
                    "limit": 100,
                    "f": "json",
                },
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"items: {response.status_code} {response.text[:300]}")
            matched.append(len(response.json()["features"]))
        result["items_p50_ms"], result["items_p95_ms"] = _stats(latencies)
        result["items_features_mean"] = round(float(np.mean(matched)), 1) if matched else None

        def isochrone(lon: float, lat: float) -> httpx.Response:
            return client.post(
                "/processes/isochrone/execution",
                json={"inputs": {"lon": lon, "lat": lat, "minutes": [15]}},
            )

        started = time.perf_counter()
        first = isochrone(*points[0])
        result["isochrone_cold_s"] = round(time.perf_counter() - started, 2)
        if first.status_code != 200:
            raise SystemExit(f"isochrone: {first.status_code} {first.text[:300]}")
        latencies, failures = [], 0
        for lon, lat in points[1:]:
            started = time.perf_counter()
            response = isochrone(lon, lat)
            latencies.append(time.perf_counter() - started)
            failures += response.status_code != 200
        result["isochrone_p50_ms"], result["isochrone_p95_ms"] = _stats(latencies)
        result["isochrone_failures"] = failures
        result["server_rss_mb"] = _rss_mb(server.process.pid)

    from twin.analysis.refresh import compute

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with connect() as conn:
        started = time.perf_counter()
        run = compute(conn, "slope")
        result["analysis_s"] = round(time.perf_counter() - started, 1)
        result["walking_nodes"] = int(run.city.network.n)
        result["analysis_steps_s"] = {k: round(v, 1) for k, v in run.timings.items()}
        conn.rollback()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["analysis_peak_mb"] = round(peak / 1024, 1)
    result["analysis_peak_growth_mb"] = round((peak - before) / 1024, 1)
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    result["tile_p95_target_met"] = all(
        (result[f"tiles_{name}_p95_ms"] or 0) <= TARGET_TILE_P95_MS for name in TILE_LAYERS
    )
    result["isochrone_p50_target_met"] = (
        result["isochrone_p50_ms"] is not None
        and result["isochrone_p50_ms"] <= TARGET_ISOCHRONE_P50_MS
    )
    return result


def _run_scale(name: str, home: str, requests: int) -> dict[str, Any]:
    """Measure one home in a child process (its own settings, database and peak memory)."""
    from twin.server_process import twin_command

    env = dict(os.environ, TWIN_HOME=home, TWIN_QUIET="1")
    subprocess.run(twin_command("db", "start"), env=env, check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, __file__, "--measure", "--requests", str(requests)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} ({home}) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each figure of each scale over the `small` and `city` ones measured before it (the
    scales in the order given: small, city, metro)."""
    out: dict[str, dict[str, float | None]] = {}
    order = list(results)
    for name, figures in results.items():
        for peer in ("small", "city"):
            if peer not in results or order.index(peer) >= order.index(name):
                continue
            key = f"{name}_over_{peer}"
            out[key] = {}
            for figure, _, _ in FIGURES:
                a, b = figures.get(figure), results[peer].get(figure)
                out[key][figure] = round(a / b, 2) if a and b else None
    return out


def table(results: dict[str, dict[str, Any]], growth: dict[str, Any], load: str) -> str:
    names = list(results)
    ratio_keys = [k for k in growth if k.endswith("_over_small") or k.endswith("_over_city")]
    head = f"{'figure':38}" + "".join(f"{n:>12}" for n in names)
    head += "".join(f"{k.replace('_over_', '/'):>13}" for k in ratio_keys)
    lines = [f"growth (load average {load})", head]
    for figure, label, unit in FIGURES:
        cells = "".join(f"{results[n].get(figure)!s:>12}" for n in names)
        cells += "".join(f"{growth[k].get(figure)!s:>13}" for k in ratio_keys)
        lines.append(f"{(label + (f' ({unit})' if unit else '')):38}{cells}")
    for n in names:
        lines.append(
            f"{n}: tile p95 <= {TARGET_TILE_P95_MS:.0f} ms "
            f"{'met' if results[n]['tile_p95_target_met'] else 'NOT met'}; isochrone p50 <= "
            f"{TARGET_ISOCHRONE_P50_MS:.0f} ms "
            f"{'met' if results[n]['isochrone_p50_target_met'] else 'NOT met'}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench growth")
    parser.add_argument(
        "--homes",
        default=None,
        help="NAME=TWIN_HOME,... e.g. small=/tmp/twin-h6,city=/tmp/twin-city8,"
        "metro=/tmp/twin-metro (default: the current TWIN_HOME as one scale)",
    )
    parser.add_argument("--requests", type=int, default=40, help="items pages and isochrones")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="a file holding an earlier run's JSON line: its scales are not measured again "
        "(one scale at a time on a busy machine, the table from all of them)",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.requests)))
        return
    from twin.settings import get_settings

    homes = dict(
        part.split("=", 1)
        for part in (args.homes or f"this={get_settings().home}").split(",")
        if part
    )
    earlier = json.loads(args.reuse.read_text().strip().splitlines()[-1]) if args.reuse else {}
    results = dict(earlier.get("scales", {}))
    for name, home in homes.items():
        if name in results:
            continue
        print(f"measuring {name} ({home})...", file=sys.stderr, flush=True)
        results[name] = _run_scale(name, home, args.requests)
    growth = ratios(results)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(table(results, growth, load), file=sys.stderr)
    print(json.dumps({"bench": "growth", "load_average": load, "scales": results, **growth}))


if __name__ == "__main__":
    main(sys.argv[1:])

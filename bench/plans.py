"""`twin bench plans`: stored plans on the city demo (227k plots, 115k walking nodes).

Side by side in one run, medians and ratios (the machine is noisy):
- evaluate a plan of one school in process (target ≤ 0.3 s) against what a user would
  otherwise wait for: the city rebuilt with the edit and every indicator recomputed
  (twin.plans.reference: apply_edits + reference_indicators, what `twin analyse` redoes);
- a plan of 20 mixed edits, 5 street links and 3 housing areas among them (target ≤ 3 s),
  with the engine's own timing_ms, which says where the time goes: street edits make a
  network from the base arrays plus/minus the edited segments (same nodes, so every place keeps
  its snap) instead of rebuilding it from the database;
- over HTTP on a real server: GET /plans and GET /plans/{a}/compare/{b} p95 (≤ 100 ms), the
  report PDF (≤ 5 s), 20 plans evaluated at once by 10 clients (no errors; p95).
Prints ONE JSON line and writes it to $TWIN_HOME/bench/plans.json.
Run on the city demo: `TWIN_HOME=/tmp/twin-bench16 twin load demo --scale city && twin analyse`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import shapely
import shapely.geometry
from scipy.spatial import cKDTree

from twin.analysis.city import current_city
from twin.analysis.network import to_lonlat
from twin.db.pool import connection
from twin.server_process import ServerProcess
from twin.settings import get_settings

TARGETS = {"one_school_s": 0.3, "mixed_20_s": 3.0, "list_p95_s": 0.1, "compare_p95_s": 0.1}
TARGETS["report_pdf_s"] = 5.0


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(float(np.median(values)), 4),
        "p95_s": round(float(np.percentile(values, 95)), 4),
        "n": len(values),
    }


def _feature(geometry: dict | None, **properties: Any) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(x: float, y: float) -> dict:
    lon, lat = to_lonlat(np.array([x]), np.array([y]))
    return {"type": "Point", "coordinates": [float(lon[0]), float(lat[0])]}


def _line(xs: list[float], ys: list[float]) -> dict:
    lon, lat = to_lonlat(np.array(xs), np.array(ys))
    return {"type": "LineString", "coordinates": [[float(a), float(b)] for a, b in zip(lon, lat)]}


def _square(x: float, y: float, half: float) -> dict:
    xs = [x - half, x + half, x + half, x - half, x - half]
    ys = [y - half, y - half, y + half, y + half, y - half]
    lon, lat = to_lonlat(np.array(xs), np.array(ys))
    return {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon, lat)]]}


class Plans:
    """Plans built from the city's own places, so every edit is valid: points at lived-in
    plots, links between network nodes 150-400 m apart, closures on existing segments."""

    def __init__(self, city, seed: int = 16) -> None:
        self.city = city
        self.rng = np.random.default_rng(seed)
        lived = np.flatnonzero(city.plots.residents.to_numpy(float) > 0)
        self.homes = lived
        net = city.network
        self.nodes = net.snap_nodes
        self.tree = cKDTree(np.column_stack([net.x[self.nodes], net.y[self.nodes]]))
        self.outline = shapely.union_all(city.district_shapes)

    def _home(self) -> tuple[float, float]:
        i = int(self.rng.choice(self.homes))
        return float(self.city.plot_places.x[i]), float(self.city.plot_places.y[i])

    def school(self) -> dict:
        x, y = self._home()
        edit = _feature(_point(x, y), edit="amenity.add", category="education", kind="school")
        edit["properties"]["capacity"] = 1200
        return {"type": "FeatureCollection", "features": [edit]}

    def link(self) -> dict:
        net = self.city.network
        while True:
            a = int(self.rng.choice(self.nodes))
            near = self.tree.query_ball_point([net.x[a], net.y[a]], 400)
            far = [
                self.nodes[k]
                for k in near
                if np.hypot(net.x[self.nodes[k]] - net.x[a], net.y[self.nodes[k]] - net.y[a]) > 150
            ]
            if far:
                b = int(self.rng.choice(far))
                return _feature(
                    _line([net.x[a], net.x[b]], [net.y[a], net.y[b]]),
                    edit="street.link",
                    name="Bench corridor",
                )

    def segment(self, kind: str, lit: bool | None = None) -> dict:
        net = self.city.network
        main = np.isin(net.edge_u, self.nodes)
        if lit is not None:
            main &= net.edge_lit == lit
        e = int(self.rng.choice(np.flatnonzero(main & (net.edge_length > 30))))
        u, v = net.edge_u[e], net.edge_v[e]
        return _feature(_line([net.x[u], net.x[v]], [net.y[u], net.y[v]]), edit=kind)

    def mixed(self) -> dict:
        """20 edits: 5 street links, 3 housing areas, 5 schools and kindergartens, 2 parks,
        a school removed, a closure, a lit segment, a building; areas kept 1 km apart."""
        features = [self.link() for _ in range(5)]
        centres: list[tuple[float, float]] = []

        def apart() -> tuple[float, float]:
            while True:
                x, y = self._home()
                inside = shapely.contains(self.outline, shapely.geometry.shape(_square(x, y, 200)))
                if inside and all(np.hypot(x - a, y - b) > 1000 for a, b in centres):
                    centres.append((x, y))
                    return x, y

        for k in range(3):
            features.append(
                _feature(_square(*apart(), 150), edit="housing.add", residents=3000 + 1000 * k)
            )
        for kind in ("school", "school", "kindergarten", "kindergarten", "school"):
            features.append(
                _feature(_point(*self._home()), edit="amenity.add", category="education", kind=kind)
            )
        for _ in range(2):
            features.append(_feature(_square(*apart(), 80), edit="park.add", kind="square"))
        schools = self.city.amenities[self.city.amenities.kind == "school"]
        features.append(_feature(None, edit="amenity.remove", amenity=int(schools.id.iloc[0])))
        features.append(self.segment("street.close"))
        features.append(self.segment("street.light", lit=False))
        features.append(
            _feature(_square(*apart(), 20), edit="building.add", levels=9, use="residential")
        )
        return {"type": "FeatureCollection", "features": features}


def _timed(call, *args, **kwargs) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return time.perf_counter() - started, result


def in_process(runs: int) -> dict[str, Any]:
    from twin.plans.edits import parse_edits
    from twin.plans.evaluate import evaluate_plan
    from twin.plans.measures import plan_context
    from twin.plans.reference import apply_edits, reference_indicators

    with connection() as conn:
        load_s, city = _timed(current_city, conn)
        context_s, context = _timed(plan_context, conn, city)
    plans = Plans(city)
    first_s, _ = _timed(
        evaluate_plan, city, parse_edits(plans.school(), city), "slope", context=context
    )
    one, mixed, mixed_timing = [], [], []
    for _ in range(runs):
        one.append(
            _timed(
                evaluate_plan, city, parse_edits(plans.school(), city), "slope", context=context
            )[0]
        )
    for _ in range(max(3, runs // 3)):
        edits = parse_edits(plans.mixed(), city)
        seconds, result = _timed(evaluate_plan, city, edits, "slope", context=context)
        mixed.append(seconds)
        mixed_timing.append(result.get("timing_ms", {}))
    full = []
    for _ in range(3):
        edits = parse_edits(plans.school(), city)
        seconds, _ = _timed(
            lambda e: reference_indicators(apply_edits(city, e), "slope", context=context), edits
        )
        full.append(seconds)
    one_s, mixed_s = _summary(one), _summary(mixed)
    full_s = float(np.median(full))
    keys = sorted({k for t in mixed_timing for k in t})
    return {
        "plots": int(len(city.plots)),
        "nodes": int(city.network.n),
        "load_city_s": round(load_s, 3),
        "plan_context_s": round(context_s, 3),
        "first_evaluation_s": round(first_s, 3),
        "one_school": one_s,
        "full_recompute_s": round(full_s, 3),
        "one_school_ratio_to_full": round(one_s["median_s"] / full_s, 4),
        "mixed_20": mixed_s,
        "mixed_20_ratio_to_full": round(mixed_s["median_s"] / full_s, 4),
        "mixed_20_timing_ms_median": {
            k: round(float(np.median([t.get(k, 0) for t in mixed_timing])), 1) for k in keys
        },
        "plans": plans,
    }


def _editor_key() -> str:
    name = f"bench-{os.getpid()}"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("twin")), "users", "add", name]
        + ["--role", "editor", "--layers", "plots"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().split()[-1]


def over_http(plans: Plans, runs: int, clients: int, concurrent: int) -> dict[str, Any]:
    key = _editor_key()
    headers = {"X-API-Key": key}
    with (
        ServerProcess.twin(env={"TWIN_QUIET": "1"}) as server,
        httpx.Client(base_url=server.url, timeout=300, headers=headers) as client,
    ):

        def create(edits: dict, title: str) -> int:
            answer = client.post("/plans", json={"title": title, "edits": edits})
            if answer.status_code != 201:
                raise SystemExit(f"POST /plans: {answer.status_code} {answer.text[:500]}")
            return int(answer.json()["id"])

        a = create(plans.mixed(), "Bench mixed plan A")
        b = create(plans.school(), "Bench one school B")
        for pid in (a, b):
            client.post(f"/plans/{pid}/evaluate").raise_for_status()
        listing, comparing = [], []
        for _ in range(runs):
            seconds, answer = _timed(client.get, "/plans")
            answer.raise_for_status()
            listing.append(seconds)
            seconds, answer = _timed(client.get, f"/plans/{a}/compare/{b}")
            answer.raise_for_status()
            comparing.append(seconds)
        reports = []
        for _ in range(3):
            seconds, answer = _timed(client.get, f"/plans/{a}/report", params={"f": "pdf"})
            answer.raise_for_status()
            if not answer.content.startswith(b"%PDF"):
                raise SystemExit("the report is not a PDF")
            reports.append(seconds)
        ids = [
            create(plans.mixed() if k % 2 else plans.school(), f"Bench concurrent {k}")
            for k in range(concurrent)
        ]

        def evaluate(pid: int) -> tuple[float, int]:
            seconds, answer = _timed(client.post, f"/plans/{pid}/evaluate")
            return seconds, answer.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            answers = list(pool.map(evaluate, ids))
        wall_s = time.perf_counter() - started
    codes = [code for _, code in answers]
    return {
        "list": _summary(listing),
        "compare": _summary(comparing),
        "report_pdf": _summary(reports),
        "concurrent": {
            "plans": concurrent,
            "clients": clients,
            "errors": sum(code != 200 for code in codes),
            "codes": sorted(set(codes)),
            "wall_s": round(wall_s, 3),
            **_summary([s for s, _ in answers]),
        },
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench plans")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--no-http", action="store_true", help="the in-process part only")
    args = parser.parse_args(argv)
    os.environ.setdefault("TWIN_QUIET", "1")
    result: dict[str, Any] = {"bench": "plans", **in_process(args.runs)}
    plans = result.pop("plans")
    if not args.no_http:
        result["http"] = over_http(plans, args.runs * 2, args.clients, args.concurrent)
    measured = {
        "one_school_s": result["one_school"]["median_s"],
        "mixed_20_s": result["mixed_20"]["median_s"],
    }
    if "http" in result:
        measured["list_p95_s"] = result["http"]["list"]["p95_s"]
        measured["compare_p95_s"] = result["http"]["compare"]["p95_s"]
        measured["report_pdf_s"] = result["http"]["report_pdf"]["median_s"]
    result["targets"] = TARGETS
    result["meets_targets"] = {k: v <= TARGETS[k] for k, v in measured.items()}
    line = json.dumps(result)
    out = get_settings().home / "bench" / "plans.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(line + "\n")
    print(line)

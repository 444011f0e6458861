"""`twin bench dated_tiles`: `?datetime=` tiles of versioned layers, uncached, against the same
tiles without datetime (the peer a user would compare: the map of today).

Issue #20's target: a time-filtered tile <= 100 ms uncached, at z12-z16 on the city demo, when
the layer HAS history since the instant (with none, a dated tile is the undated one: served as
it, tiles/changed_since). For each layer (plots, buildings):
- history: the instant is just before the layer's `--edits` newest changes. A layer with fewer
  changes gets the missing ones first, as the twin records any edit: a height nudged up and
  put back (two history rows each, actor `bench:dated-tiles`, the data as it was), on features
  of the centre tiles, so the dated tiles there rebuild them from the history;
- tiles: the `--tiles` tiles nearest the layer's centre at each zoom;
- dated: GET .../z/y/x?datetime=<instant> on `twin serve` (one worker), every request at an
  instant of its own (a microsecond apart: its own tileset, never cached);
- undated: the same tiles without datetime, the disk tile cache emptied before each round
  (`?f=mvt` keeps the in-memory hot tiles out, as `twin bench tiles` does).
Prints ONE JSON line: p50/p95 per layer and zoom, the ratio dated/undated, the target and
met/not met (on p50 and on p95), the changes since the instant and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import psycopg
from psycopg import sql

from twin.catalog import get_layer
from twin.db.cluster import database_url
from twin.server_process import ServerProcess

TMS = morecantile.tms.get("WebMercatorQuad")
TARGET_MS = 100.0
ACTOR = "bench:dated-tiles"
NUDGED = {"plots": "max_height_m", "buildings": "height_m"}  # a number each layer keeps


def stats(latencies_s: list[float]) -> dict[str, Any]:
    values = np.asarray(latencies_s) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "n": int(values.size),
    }


def centre(conn: psycopg.Connection, table: str) -> tuple[float, float]:
    row = conn.execute(
        sql.SQL(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) AS c FROM {}) s"
        ).format(sql.Identifier(table))
    ).fetchone()
    return float(row[0]), float(row[1])


def nearest_tiles(lon: float, lat: float, zoom: int, count: int) -> list[morecantile.Tile]:
    """The tile holding the point and its neighbours, nearest first."""
    home = TMS.tile(lon, lat, zoom)
    ring = [
        morecantile.Tile(home.x + dx, home.y + dy, zoom)
        for dx in range(-2, 3)
        for dy in range(-2, 3)
    ]
    return sorted(ring, key=lambda t: (abs(t.x - home.x) + abs(t.y - home.y), t.x, t.y))[:count]


def ensure_history(conn: psycopg.Connection, layer: str, edits: int, box: Any) -> None:
    """At least `edits` changes of the layer in its history, made where the tiles are measured
    (a height nudged up and back: the data as it was, the history as after real edits)."""
    have = conn.execute("SELECT count(*) FROM twin_history WHERE layer = %s", (layer,)).fetchone()[
        0
    ]
    missing = max(0, edits - have) // 2 + (max(0, edits - have) % 2)
    if not missing:
        return
    column = NUDGED[layer]
    conn.execute("SELECT set_config('twin.user', %s, false)", (ACTOR,))
    ids = [
        r[0]
        for r in conn.execute(
            sql.SQL(
                "SELECT id FROM {} WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
                "AND {} IS NOT NULL ORDER BY md5(id::text) LIMIT %s"
            ).format(sql.Identifier(layer), sql.Identifier(column)),
            (*box, missing),
        )
    ]
    update = sql.SQL("UPDATE {} SET {} = {} + %s WHERE id = %s").format(
        sql.Identifier(layer), sql.Identifier(column), sql.Identifier(column)
    )
    for step in (0.5, -0.5):  # each its own statement, so its own change time
        for fid in ids:
            conn.execute(update, (step, fid))


def instant_before(conn: psycopg.Connection, layer: str, edits: int) -> tuple[Any, dict[str, int]]:
    """Just before the layer's `edits` newest changes; the changes and features changed since."""
    at = conn.execute(
        "SELECT changed_at FROM twin_history WHERE layer = %s "
        "ORDER BY changed_at DESC OFFSET %s LIMIT 1",
        (layer, edits - 1),
    ).fetchone()
    moment = at[0] - timedelta(milliseconds=1)
    since = conn.execute(
        "SELECT count(*), count(DISTINCT feature_id) FROM twin_history "
        "WHERE layer = %s AND changed_at > %s",
        (layer, moment),
    ).fetchone()
    return moment, {"changes": since[0], "features": since[1]}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench dated_tiles", description=__doc__)
    parser.add_argument("--layers", default="plots,buildings")
    parser.add_argument("--zooms", default="12-16")
    parser.add_argument("--tiles", type=int, default=4, help="tiles per zoom")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the tiles")
    parser.add_argument("--edits", type=int, default=300, help="changes since the instant")
    args = parser.parse_args(argv)
    low, _, high = args.zooms.partition("-")
    zooms = list(range(int(low), int(high or low) + 1))
    layers = [get_layer(name) for name in args.layers.split(",")]
    load_before = os.getloadavg()
    plan: dict[str, dict[str, Any]] = {}
    with psycopg.connect(database_url(), autocommit=True) as conn:
        for layer in layers:
            lon, lat = centre(conn, layer.table)
            home = TMS.bounds(TMS.tile(lon, lat, min(zooms)))
            ensure_history(conn, layer.name, args.edits, tuple(home))
            moment, since = instant_before(conn, layer.name, args.edits)
            tiles = {z: nearest_tiles(lon, lat, z, args.tiles) for z in zooms}
            plan[layer.name] = {"instant": moment, "changes_since": since, "tiles": tiles}

    workdir = Path(tempfile.mkdtemp(prefix="twin-bench-dated-"))
    cache = workdir / "cache"
    result: dict[str, Any] = {"bench": "dated_tiles", "target_ms": TARGET_MS, "layers": {}}
    try:
        with (
            ServerProcess.twin(
                "--workers",
                "1",
                timeout_s=120,
                env={"TWIN_TILE_CACHE": str(cache), "TWIN_QUIET": "1"},
            ) as server,
            httpx.Client(base_url=server.url, timeout=60) as client,
        ):
            tick = 0
            for name, entry in plan.items():
                figures: dict[str, Any] = {"since_instant": entry["changes_since"]}
                for z, tiles in entry["tiles"].items():
                    dated: list[float] = []
                    undated: list[float] = []
                    for round_ in range(args.rounds + 1):  # round 0 warms the worker, untimed
                        shutil.rmtree(cache, ignore_errors=True)
                        for t in tiles:
                            path = f"/collections/{name}/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}"
                            tick += 1
                            at = entry["instant"] - timedelta(microseconds=tick)
                            for params, into in (
                                ({"f": "mvt"}, undated),
                                ({"f": "mvt", "datetime": at.isoformat()}, dated),
                            ):
                                started = time.perf_counter()
                                answer = client.get(path, params=params)
                                spent = time.perf_counter() - started
                                if answer.status_code not in (200, 204):
                                    raise SystemExit(f"{path}: {answer.status_code} {answer.text}")
                                if round_ and answer.headers.get("x-tile-cache") == "miss":
                                    into.append(spent)
                    d, u = stats(dated), stats(undated)
                    figures[f"z{z}"] = {
                        "dated": d,
                        "undated": u,
                        "ratio_p50": round(d["p50_ms"] / u["p50_ms"], 2),
                        "met_p50": d["p50_ms"] <= TARGET_MS,
                        "met_p95": d["p95_ms"] <= TARGET_MS,
                    }
                result["layers"][name] = figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["met"] = all(
        f["met_p50"] for layer in result["layers"].values() for k, f in layer.items() if k[0] == "z"
    )
    result["load_average"] = {
        "before": [round(v, 2) for v in load_before],
        "after": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(result))

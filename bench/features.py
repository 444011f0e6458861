"""`twin bench features`: our items endpoints against raw SQL and stock pygeoapi, in one run.

The same queries at the same concurrency:
- items_1000: GET /collections/plots/items?limit=1000
- bbox_filter: limit=1000 with a bbox around the layer's centre and land_use=residential
- item: GET /collections/plots/items/{id} for random ids
Systems:
- raw: the single json_agg statement a hand-tuned client sends through psycopg (its own
  connection per client thread, parallel workers off as the API runs them): the database's
  own limit;
- ours: `twin serve` (the SQL-built hot path);
- ours_via_pygeoapi: the same server answering through pygeoapi and our provider
  (X-Twin-Path: pygeoapi), to show what stepping in front of pygeoapi buys;
- stock: pygeoapi's own PostgreSQL provider (SQLAlchemy) in its own server on the same
  database, each request bounded by --stock-timeout (timeouts counted at the timeout).
Clients: every system is driven the same way, one client thread per concurrent client with
its own keep-alive connection (psycopg for raw, http.client for the servers), each response
read whole as bytes; `bytes` in the output shows raw and ours fetch documents of the same size.
Prints ONE JSON line: p50/p95 per system and query, and the ratios against the targets.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import random
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from psycopg import sql

from twin.catalog import Layer, get_layer
from twin.db.cluster import database_url
from twin.features.pages import BytesLoader
from twin.server_process import ServerProcess, free_port, stop_all
from twin.settings import get_settings
from twin.sqlfiles import query

TARGET_RATIO_TO_RAW = 1.5


def _tiles_bench() -> Any:
    """The shared harness of `twin bench tiles` (our server, stock pygeoapi, stats)."""
    spec = importlib.util.spec_from_file_location("bench_tiles", Path(__file__).parent / "tiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw_statement(layer: Layer, kind: str) -> sql.Composed:
    properties = sql.SQL(", ").join(
        sql.SQL("{}, t.{}").format(sql.Literal(name), sql.Identifier(name))
        for name in layer.properties
    )
    if kind == "item":
        return query("features/raw_item", table=layer.table, properties=properties)
    return query(
        "features/raw_page",
        table=layer.table,
        properties=properties,
        where=sql.SQL("TRUE")
        if kind == "items_1000"
        else sql.SQL(
            "ST_Intersects(t.geom, ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, "
            "%(maxy)s, 4326)) AND t.land_use = %(land_use)s"
        ),
    )


def bench_raw(
    url: str, statement: sql.Composed, params: list[dict[str, Any]], concurrency: int
) -> list[float]:
    """One connection per client thread, the document fetched as bytes (no decoding, as
    the HTTP clients below receive theirs)."""
    local = threading.local()
    connections: list[psycopg.Connection] = []

    def one(bound: dict[str, Any]) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(
                url, autocommit=True, options="-c max_parallel_workers_per_gather=0"
            )
            conn.adapters.register_loader("text", BytesLoader)
            connections.append(conn)
        start = time.perf_counter()
        conn.execute(statement, bound).fetchone()
        return time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, params))
    for conn in connections:
        conn.close()
    return latencies


def bench_http(
    urls: list[str], concurrency: int, timeout: float, headers: dict[str, str] | None = None
) -> tuple[list[float], int, int]:
    """The HTTP side with the raw side's client model: one keep-alive connection per client
    thread, the whole body read as bytes. Timeouts count at the timeout."""
    local = threading.local()
    counts = {"timeouts": 0, "errors": 0}
    lock = threading.Lock()

    def one(target: str) -> float:
        parts = urllib.parse.urlsplit(target)
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=timeout
            )
        start = time.perf_counter()
        try:
            conn.request(
                "GET",
                parts.path + ("?" + parts.query if parts.query else ""),
                headers=headers or {},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                with lock:
                    counts["errors"] += 1
            return time.perf_counter() - start
        except (TimeoutError, OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            with lock:
                counts["timeouts"] += 1
            return timeout

    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, urls))
    return latencies, counts["timeouts"], counts["errors"]


def document_sizes(
    url: str, statement: sql.Composed, params: dict[str, Any], target: str
) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.adapters.register_loader("text", BytesLoader)
        raw = conn.execute(statement, params).fetchone()[0]
    with httpx.Client(timeout=60) as client:
        ours = client.get(target).content
    return {"raw": len(raw), "ours": len(ours)}


def start_stock(harness: Any, layer: Layer, url: str, workdir: Path, workers: int) -> ServerProcess:
    """pygeoapi with its own PostgreSQL feature provider for the layer, same database."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": base,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": yaml.safe_load((get_settings().config_path).read_text())["metadata"],
        "resources": {
            layer.name: {
                "type": "collection",
                "title": layer.title,
                "description": layer.description,
                "keywords": list(layer.keywords) or [layer.name],
                "extents": {
                    "spatial": {
                        "bbox": [-180, -90, 180, 90],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "feature",
                        "name": "PostgreSQL",
                        "data": {
                            "host": info.get("host", "127.0.0.1"),
                            "port": info.get("port", 5432),
                            "dbname": info.get("dbname"),
                            "user": info.get("user"),
                            "password": info.get("password", ""),
                            "search_path": ["public"],
                        },
                        "id_field": "id",
                        "table": layer.table,
                        "geom_field": "geom",
                    }
                ],
            }
        },
    }
    return harness.serve_stock_pygeoapi(config, workdir, port, workers)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench features", description=__doc__)
    parser.add_argument("--layer", default="plots")
    parser.add_argument("--requests", type=int, default=60, help="requests per query and system")
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="raw, ours and via-pygeoapi alternate in this many rounds",
    )
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="unmeasured requests per query and system before measuring",
    )
    parser.add_argument("--stock-timeout", type=float, default=10.0)
    parser.add_argument("--no-stock", action="store_true", help="skip stock pygeoapi")
    args = parser.parse_args(argv)

    harness = _tiles_bench()
    url = database_url()
    layer = get_layer(args.layer)
    rng = random.Random(1)
    with psycopg.connect(url, autocommit=True) as conn:
        rows, maxid, x0, y0, x1, y1 = conn.execute(
            query("features/layer_summary", table=layer.table)
        ).fetchone() or (0, 0, 0, 0, 0, 0)
    if not rows:
        raise SystemExit(
            f"layer {layer.name} is empty: load the city demo first (twin load demo --scale city)"
        )
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (cx - 0.03, cy - 0.02, cx + 0.03, cy + 0.02)
    bbox_text = ",".join(f"{v:.5f}" for v in box)
    ids = [rng.randint(1, maxid) for _ in range(args.requests)]
    queries: dict[str, tuple[list[str], list[dict[str, Any]]]] = {
        "items_1000": (
            [f"/collections/{layer.name}/items?limit=1000"] * args.requests,
            [{"limit": 1000}] * args.requests,
        ),
        "bbox_filter": (
            [f"/collections/{layer.name}/items?limit=1000&bbox={bbox_text}&land_use=residential"]
            * args.requests,
            [
                {
                    "limit": 1000,
                    "minx": box[0],
                    "miny": box[1],
                    "maxx": box[2],
                    "maxy": box[3],
                    "land_use": "residential",
                }
            ]
            * args.requests,
        ),
        "item": ([f"/collections/{layer.name}/items/{i}" for i in ids], [{"id": i} for i in ids]),
    }

    workdir = Path(tempfile.mkdtemp(prefix="twin-bench-features-"))
    servers: list[ServerProcess] = []
    result: dict[str, Any] = {
        "bench": "features",
        "layer": layer.name,
        "rows": rows,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "bbox": bbox_text,
        "queries": {},
    }
    try:
        ours = harness.start_ours(get_settings().layers_dir, workdir / "cache", args.workers)
        servers.append(ours)
        ours_url = ours.url
        stock_url = None
        if not args.no_stock:
            stock = start_stock(harness, layer, url, workdir, args.workers)
            servers.append(stock)
            stock_url = stock.url
        for name, (paths, params) in queries.items():
            # warm every system at the measured concurrency (new backends load PostGIS and
            # its statistics on first use), so each is measured in its steady state
            warm = slice(0, args.warmup)
            bench_raw(url, raw_statement(layer, name), params[warm], args.concurrency)
            for headers in ({}, {"X-Twin-Path": "pygeoapi"}):
                bench_http([ours_url + p for p in paths[warm]], args.concurrency, 60, headers)
            # raw, ours and ours-through-pygeoapi take turns in rounds, so a change in the
            # machine's load falls on all three alike
            raw_times: list[float] = []
            ours_times: list[float] = []
            via_times: list[float] = []
            errors = {"ours": 0, "via": 0}
            for part in range(args.rounds):
                chunk = slice(
                    part * len(paths) // args.rounds, (part + 1) * len(paths) // args.rounds
                )
                raw_times += bench_raw(
                    url, raw_statement(layer, name), params[chunk], args.concurrency
                )
                latencies, _, failed = bench_http(
                    [ours_url + p for p in paths[chunk]], args.concurrency, 60
                )
                ours_times += latencies
                errors["ours"] += failed
                latencies, _, failed = bench_http(
                    [ours_url + p for p in paths[chunk]],
                    args.concurrency,
                    60,
                    {"X-Twin-Path": "pygeoapi"},
                )
                via_times += latencies
                errors["via"] += failed
            entry: dict[str, Any] = {"raw": harness._stats(raw_times)}
            entry["bytes"] = document_sizes(
                url, raw_statement(layer, name), params[0], ours_url + paths[0]
            )
            entry["ours"] = {**harness._stats(ours_times), "errors": errors["ours"]}
            entry["ours_via_pygeoapi"] = {**harness._stats(via_times), "errors": errors["via"]}
            entry["ratio_ours_to_raw"] = round(entry["ours"]["p50_ms"] / entry["raw"]["p50_ms"], 2)
            entry["ratio_via_pygeoapi_to_ours"] = round(
                entry["ours_via_pygeoapi"]["p50_ms"] / entry["ours"]["p50_ms"], 2
            )
            if stock_url:
                bench_http(
                    [stock_url + p for p in paths[warm]], args.concurrency, args.stock_timeout
                )
                latencies, timeouts, errors = bench_http(
                    [stock_url + p for p in paths], args.concurrency, args.stock_timeout
                )
                entry["stock_pygeoapi"] = {
                    **harness._stats(latencies),
                    "timeouts": timeouts,
                    "errors": errors,
                }
                entry["ratio_stock_to_ours"] = round(
                    entry["stock_pygeoapi"]["p50_ms"] / entry["ours"]["p50_ms"], 2
                )
            if name != "item":
                entry["target_ours_within_1_5x_raw"] = (
                    entry["ratio_ours_to_raw"] <= TARGET_RATIO_TO_RAW
                )
            result["queries"][name] = entry
    finally:
        stop_all(servers)
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result))

"""`twin bench tiles`: our vector tiles against raw SQL and stock pygeoapi, in one run.

Same tiles (the N tiles with data nearest the layer's centre at each zoom), same concurrency:
- raw: the single ST_AsMVT statement a hand-tuned client sends through psycopg (every row and
  property of the tile, index-filtered, no generalisation): the database's own limit;
- ours uncached: GET /collections/{layer}/tiles/WebMercatorQuad/z/y/x?f=mvt on `twin serve`
  with an empty disk cache (HTTP, generalisation, cache write included; the query string
  keeps the in-memory hot-tile path out, so a second round renders again);
- stock: pygeoapi's MVT-postgresql provider in its own server on the same database, each
  request bounded by --stock-timeout (timeouts are counted, and their latency is the timeout;
  its statement timeout is the same, so a request given up on stops in the database too);
- ours cached: the same tiles again (hot: answered from the server's memory), with
  --cached-concurrency clients on keep-alive connections of a lean asyncio client on uvloop:
  p50, p95, tiles per second and the CPU the client itself used (it shares the machine).
Timing starts once the server's analysis refresher has built its start-up analysis (reported as
refresher_startup_s). The layer's tile overview (low-zoom generalisation) is brought up to date
before timing and
the time that took is reported (it is refreshed once per data version, not per request); the
server is warmed (not timed) on 16 tiles of the zoom after the last one measured and on up to
two unmeasured tiles of each measured zoom (a zoom with few tiles has none to spare).
The benchmark layer's catalog minzoom is lowered to the lowest zoom benchmarked (a copy of
layers/ in TWIN_LAYERS_DIR) so every system serves the same tiles. Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import psycopg
import yaml
from psycopg import sql

from twin.catalog import get_layer
from twin.db.cluster import database_url
from twin.server_process import ServerProcess, free_port, stop_all
from twin.settings import get_settings
from twin.tiles.matrix import TileAddress
from twin.tiles.vector import ensure_overviews, raw_tile

TMS = morecantile.tms.get("WebMercatorQuad")
TWIN = str(Path(sys.executable).parent / "twin")


def _zooms(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def _stats(latencies_s: list[float]) -> dict[str, float]:
    values = np.asarray(latencies_s) * 1000
    if values.size == 0:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    return {
        "p50_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "n": int(values.size),
    }


def pick_tiles(conn: psycopg.Connection, layer: str, zoom: int, count: int) -> list[TileAddress]:
    """The `count` tiles nearest the layer's centre that hold at least one feature."""
    extent = conn.execute(
        sql.SQL(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) e FROM {}) s"
        ).format(sql.Identifier(layer))
    ).fetchone()
    if extent[0] is None:
        raise SystemExit(
            f"layer {layer} is empty: load the city demo first (twin load demo --scale city)"
        )
    cx, cy = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
    centre = TMS.tile(cx, cy, zoom)
    candidates = sorted(
        TMS.tiles(*extent, zooms=[zoom]),
        key=lambda t: (t.x - centre.x) ** 2 + (t.y - centre.y) ** 2,
    )
    chosen: list[TileAddress] = []
    probe = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE geom && "
        "ST_Transform(ST_TileEnvelope(%s, %s, %s), 4326))"
    ).format(sql.Identifier(layer))
    for tile in candidates:
        if conn.execute(probe, (tile.z, tile.x, tile.y)).fetchone()[0]:
            chosen.append(TileAddress(tile.z, tile.x, tile.y))
        if len(chosen) == count:
            break
    return chosen


def start_ours(layers_dir: Path, cache: Path, workers: int) -> ServerProcess:
    """`twin serve` over the benchmark's copy of layers/ and an empty tile cache."""
    return ServerProcess.twin(
        "--workers",
        str(workers),
        timeout_s=90,
        env={"TWIN_LAYERS_DIR": str(layers_dir), "TWIN_TILE_CACHE": str(cache), "TWIN_QUIET": "1"},
    )


def start_stock(
    layer: str, url: str, workdir: Path, workers: int, timeout_s: float
) -> ServerProcess:
    """pygeoapi with its own MVT-postgresql provider for the layer, on the same database."""
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
        "metadata": {
            "identification": {
                "title": "stock",
                "description": "stock",
                "keywords": ["stock"],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": base,
            },
            "license": {"name": "CC-BY 4.0", "url": base},
            "provider": {"name": "stock", "url": base},
            "contact": {
                "name": "stock",
                "position": "",
                "address": "",
                "city": "",
                "stateorprovince": "",
                "postalcode": "",
                "country": "",
                "phone": "",
                "fax": "",
                "email": "",
                "url": "",
                "hours": "",
                "instructions": "",
                "role": "pointOfContact",
            },
        },
        "resources": {
            layer: {
                "type": "collection",
                "title": layer,
                "description": layer,
                "keywords": [layer],
                "extents": {
                    "spatial": {
                        "bbox": [-180, -90, 180, 90],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [
                    {
                        "type": "tile",
                        "name": "MVT-postgresql",
                        "data": {
                            "host": info.get("host", "127.0.0.1"),
                            "port": info.get("port", 5432),
                            "dbname": info.get("dbname"),
                            "user": info.get("user"),
                            "password": info.get("password", ""),
                            "search_path": ["public"],
                        },
                        "id_field": "id",
                        "table": layer,
                        "geom_field": "geom",
                        # the statement timeout stops what the client gave up on (libpq options)
                        "options": {
                            "zoom": {"min": 0, "max": 22},
                            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
                        },
                        "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
                    }
                ],
            }
        },
    }
    return serve_stock_pygeoapi(config, workdir, port, workers)


def serve_stock_pygeoapi(
    config: dict[str, Any], workdir: Path, port: int, workers: int
) -> ServerProcess:
    """Stock pygeoapi (its own Starlette app under uvicorn) serving `config`, once it answers:
    the comparison every benchmark runs beside ours."""
    config_path = workdir / "stock-pygeoapi.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    openapi_path = workdir / "stock-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config_path), "PYGEOAPI_OPENAPI": str(openapi_path)}
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pygeoapi"),
            "openapi",
            "generate",
            str(config_path),
            "--output-file",
            str(openapi_path),
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return ServerProcess(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "pygeoapi.starlette_app:APP",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        url=f"http://127.0.0.1:{port}",
        ready="/conformance?f=json",
        env=env,
        timeout_s=90,
        name="stock pygeoapi",
    )


def wait_for_refresher(url: str, timeout_s: float = 900) -> float:
    """Seconds until the server's analysis refresher has built its start-up analysis (it reads
    the whole city once per server start, at low priority but through the same database):
    the tiles are measured in steady state, and the start-up is reported."""
    from twin.analysis.refresh import refresher_enabled, refresher_state

    started = time.perf_counter()
    if not refresher_enabled():
        return 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() - started < timeout_s:
            if refresher_state(conn) in ("ready", "waiting"):
                break
            time.sleep(0.5)
    return round(time.perf_counter() - started, 1)


def bench_raw(url: str, layer: str, tiles: list[TileAddress], concurrency: int) -> list[float]:
    catalog_layer = get_layer(layer)
    local = threading.local()
    connections: list[psycopg.Connection] = []

    def one(address: TileAddress) -> float:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url, autocommit=True)
            connections.append(conn)
        start = time.perf_counter()
        raw_tile(conn, catalog_layer, address)
        return time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(one, tiles))
    for conn in connections:
        conn.close()
    return latencies


async def _http_run(
    urls: list[str], concurrency: int, timeout: float
) -> tuple[list[float], int, int]:
    """GET every URL once, `concurrency` at a time; (latencies, timeouts, errors)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for item in urls:
        queue.put_nowait(item)
    latencies: list[float] = []
    counts = {"timeouts": 0, "errors": 0}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                target = queue.get_nowait()
                start = time.perf_counter()
                try:
                    response = await client.get(target)
                    if response.status_code not in (200, 204):
                        counts["errors"] += 1
                    latencies.append(time.perf_counter() - start)
                except httpx.TimeoutException:
                    counts["timeouts"] += 1
                    latencies.append(timeout)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, counts["timeouts"], counts["errors"]


async def _keepalive_run(
    host: str, port: int, paths: list[str], concurrency: int, total: int
) -> tuple[list[float], float, int]:
    """A lean HTTP/1.1 keep-alive client (the client must not be the bottleneck):
    `concurrency` connections share `total` requests; (latencies, seconds, non-200s)."""
    latencies: list[float] = []
    state = {"next": 0, "bad": 0}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while state["next"] < total:
            path = paths[state["next"] % len(paths)]
            state["next"] += 1
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status not in (200, 204):
                state["bad"] += 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start, state["bad"]


def keepalive_run(
    host: str, port: int, paths: list[str], concurrency: int, total: int
) -> tuple[list[float], float, int, float]:
    """`_keepalive_run` on uvloop; also the CPU seconds this client process spent in it."""
    import uvloop

    cpu = time.process_time()
    latencies, seconds, bad = uvloop.run(_keepalive_run(host, port, paths, concurrency, total))
    return latencies, seconds, bad, time.process_time() - cpu


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench tiles", description=__doc__)
    parser.add_argument("--layer", default="plots")
    parser.add_argument("--zooms", default="10-14", help="e.g. 10-14")
    parser.add_argument("--tiles", type=int, default=12, help="tiles per zoom")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="uncached passes over the tiles (cache emptied before each)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="clients for the uncached comparison (all three systems)",
    )
    parser.add_argument("--cached-concurrency", type=int, default=16)
    parser.add_argument("--cached-requests", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--stock-timeout", type=float, default=10.0)
    parser.add_argument("--no-stock", action="store_true", help="skip stock pygeoapi")
    args = parser.parse_args(argv)

    url = database_url()
    zooms = _zooms(args.zooms)
    layer = get_layer(args.layer)
    load_before = os.getloadavg()
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(layer.table))
        ).fetchone()[0]
        tiles = {z: pick_tiles(conn, layer.table, z, args.tiles) for z in zooms}
        # warm-up tiles: 16 of the zoom after the last one measured, and at each measured zoom
        # the next tiles beyond those measured (the same statements, other tiles)
        warmup_tiles = pick_tiles(conn, layer.table, max(zooms) + 1, 16)
        for z in zooms:
            warmup_tiles += pick_tiles(conn, layer.table, z, args.tiles + 2)[len(tiles[z]) :]
        # the layer's tile overview is data preparation (rebuilt once per data version, like
        # an index), not part of a tile request: bring it up to date before timing, say how long
        started = time.perf_counter()
        ensure_overviews(conn, [dataclasses.replace(layer, minzoom=min(zooms))], min(zooms))
        overview_s = round(time.perf_counter() - started, 2)

    workdir = Path(tempfile.mkdtemp(prefix="twin-bench-tiles-"))
    layers_dir = workdir / "layers"
    shutil.copytree(get_settings().layers_dir, layers_dir)
    spec_path = layers_dir / f"{layer.name}.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec.setdefault("tiles", {})["minzoom"] = min(zooms)
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cache = workdir / "cache"

    servers: list[ServerProcess] = []
    result: dict[str, Any] = {
        "bench": "tiles",
        "layer": layer.name,
        "rows": rows,
        "zooms": zooms,
        "tiles_per_zoom": args.tiles,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "layer_minzoom_for_bench": min(zooms),
        "overview_update_s": overview_s,
        "load_average_before": [round(v, 2) for v in load_before],
        "by_zoom": {},
    }
    try:
        ours = start_ours(layers_dir, cache, args.workers)
        servers.append(ours)
        ours_url = ours.url
        result["refresher_startup_s"] = wait_for_refresher(url)
        stock_url = None
        host, port = ours_url.removeprefix("http://").split(":")
        if not args.no_stock:
            stock = start_stock(layer.table, url, workdir, args.workers, args.stock_timeout)
            servers.append(stock)
            stock_url = stock.url
        # warm the server (imports, pooled connections, catalog caches) on tiles not measured,
        # so the first measured zoom does not pay the server's start-up
        warmup = [
            f"/collections/{layer.name}/tiles/WebMercatorQuad/{a.z}/{a.y}/{a.x}?f=mvt"
            for a in warmup_tiles
        ]
        keepalive_run(host, int(port), warmup, args.concurrency, 2 * len(warmup))
        for z in zooms:
            addresses = tiles[z]
            paths = [
                f"/collections/{layer.name}/tiles/WebMercatorQuad/{a.z}/{a.y}/{a.x}"
                for a in addresses
            ]
            raw_latencies: list[float] = []
            our_latencies: list[float] = []
            for _ in range(args.rounds):
                raw_latencies += bench_raw(url, layer.table, addresses, args.concurrency)
                shutil.rmtree(cache, ignore_errors=True)
                latencies, _, errors, _ = keepalive_run(
                    host, int(port), [p + "?f=mvt" for p in paths], args.concurrency, len(paths)
                )
                if errors:
                    raise SystemExit(f"our server answered {errors} tiles at z{z} with errors")
                our_latencies += latencies
            entry: dict[str, Any] = {
                "raw": _stats(raw_latencies),
                "ours_uncached": _stats(our_latencies),
            }
            entry["ratio_ours_to_raw"] = round(
                entry["ours_uncached"]["p50_ms"] / entry["raw"]["p50_ms"], 3
            )
            if stock_url:
                latencies, timeouts, errors = asyncio.run(
                    _http_run(
                        [stock_url + p + "?f=mvt" for p in paths],
                        args.concurrency,
                        args.stock_timeout,
                    )
                )
                entry["stock_pygeoapi"] = {
                    **_stats(latencies),
                    "timeouts": timeouts,
                    "errors": errors,
                }
                entry["ratio_stock_to_ours"] = round(
                    entry["stock_pygeoapi"]["p50_ms"] / entry["ours_uncached"]["p50_ms"], 2
                )
            result["by_zoom"][str(z)] = entry

        # cached: every tile once to warm, then the keep-alive client cycles through them
        all_paths = [
            f"/collections/{layer.name}/tiles/WebMercatorQuad/{a.z}/{a.y}/{a.x}"
            for z in zooms
            for a in tiles[z]
        ]
        asyncio.run(_http_run([ours_url + p for p in all_paths], args.concurrency, 60))
        sizes = {p: len(httpx.get(ours_url + p).content) for p in all_paths}
        serial, _, _, _ = keepalive_run(
            host, int(port), all_paths, 1, min(1000, args.cached_requests)
        )
        latencies, seconds, bad, client_cpu = keepalive_run(
            host, int(port), all_paths, args.cached_concurrency, args.cached_requests
        )
        result["cached"] = {
            "one_client": _stats(serial),
            f"clients_{args.cached_concurrency}": {
                **_stats(latencies),
                "tiles_per_s": round(len(latencies) / seconds),
                "non_200": bad,
                "mean_kb": round(sum(sizes[p] for p in all_paths) / len(all_paths) / 1024, 1),
                "client_cpu_s": round(client_cpu, 2),
                "client_cpu_share_of_2_cores": round(client_cpu / (2 * seconds), 3),
            },
        }
    finally:
        stop_all(servers)
        shutil.rmtree(workdir, ignore_errors=True)

    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    by_zoom = result["by_zoom"]
    cached = result["cached"][f"clients_{args.cached_concurrency}"]
    result["targets"] = {
        "z14_within_1.1x_raw": by_zoom.get("14", {}).get("ratio_ours_to_raw", 99) <= 1.1,
        "z10_z12_faster_than_raw": all(
            by_zoom[str(z)]["ratio_ours_to_raw"] < 1.0 for z in (10, 11, 12) if str(z) in by_zoom
        ),
        "p95_uncached_at_most_100ms": all(
            e["ours_uncached"]["p95_ms"] <= 100 for e in by_zoom.values()
        ),
        "cached_p50_at_most_3ms_one_client": result["cached"]["one_client"]["p50_ms"] <= 3,
        "cached_p50_at_most_3ms_16_clients": cached["p50_ms"] <= 3,
        "cached_at_least_1000_tiles_per_s": cached["tiles_per_s"] >= 1000,
    }
    print(json.dumps(result))

"""`twin bench maptiles`: map (PNG) tiles and maps, against the vector tiles they are drawn from.

On whatever demo is loaded (the `city` scale for the issue's figures), with an empty tile
cache of its own, one client:
- uncached: GET /map/tiles/WebMercatorQuad/z/y/x.png (the first-view layers, 256 px) for
  --tiles tiles per zoom around the city centre, first: its vector tiles are drawn from
  PostGIS too. A 256 px map tile at zoom z is drawn from the quarter of each zoom z-1 vector
  tile it shows (twin.maps.style.at_zoom), drawn for that map tile alone and never shared
  with another one, so no map tile finds its vector data in the cache (the vector tile
  cache starts as empty as the map tile cache; the tile overviews in the database are
  whatever state the loaded twin left, `twin tiles overview` makes them current);
- peer: the same addresses from the vector tile endpoint (/tiles/...?collections=<the same
  layers>, one tile of every layer, itself uncached): what a client of the vector tiles waits;
- cached: the same map tiles again, from the hot-tile memory (the fast path), p50 and p95;
- disk: the same map tiles from a second server process on the same cache (a restart: the
  memory is empty, the files are there);
- a 1000x1000 /map of a 4 km square at the centre in Web Mercator, --maps times (the first
  not timed), and one in CRS84 (resampled by rasterio): its vector tiles are cached by then.
Targets (issue 19): uncached p95 <= 300 ms at z12-z16, cached <= 5 ms, the 1000x1000 map <= 1 s.
Each zoom's row says its own target and whether it was met; the load average is printed at the
start and the end (on a shared machine the absolute figures move with it, the ratio to the
vector peer less so). Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import Any

import httpx
import morecantile
import numpy as np

from twin.catalog import CITY_BBOX, load_catalog
from twin.server_process import ServerProcess

TMS = morecantile.tms.get("WebMercatorQuad")
CENTRE = (76.93, 43.24)  # the old centre of Almaty, inside every demo scale
UNCACHED_P95_MS = 300  # issue 19's targets
CACHED_P95_MS = 5
MAP_1000_MS = 1000


def _stats(seconds: list[float]) -> dict[str, Any]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "n": int(values.size),
    }


def _tiles(zoom: int, count: int) -> list[morecantile.Tile]:
    """`count` distinct tiles in a square around the centre."""
    centre = TMS.tile(*CENTRE, zoom)
    side = int(np.ceil(np.sqrt(count)))
    half = side // 2
    tiles = [
        morecantile.Tile(centre.x + dx, centre.y + dy, zoom)
        for dy in range(-half, side - half)
        for dx in range(-half, side - half)
    ]
    return tiles[:count]


def _timed(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    answer = client.get(url)
    elapsed = time.perf_counter() - started
    if answer.status_code not in (200, 204):
        raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def _maps(client: httpx.Client, count: int, crs: str) -> dict[str, Any]:
    """`count` 1000x1000 maps of a 4 km square at the centre (one more first, not timed)."""
    x, y = TMS.xy(*CENTRE)
    box = TMS.lnglat(x - 2000, y - 2000) + TMS.lnglat(x + 2000, y + 2000)
    query = {"bbox": ",".join(f"{v:.6f}" for v in box), "height": 1000, "crs": crs}
    maps = []
    for index in range(count + 1):
        query["width"] = 1000 - index % 2  # a new map each time: no ETag, no cache
        started = time.perf_counter()
        answer = client.get("/map", params=query)
        if answer.status_code != 200:
            raise SystemExit(f"/map: {answer.status_code} {answer.text[:300]}")
        if index:
            maps.append(time.perf_counter() - started)
    return _stats(maps)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench maptiles")
    parser.add_argument("--zooms", default="12-16")
    parser.add_argument("--tiles", type=int, default=12, help="tiles per zoom")
    parser.add_argument("--maps", type=int, default=6, help="1000x1000 maps drawn")
    args = parser.parse_args(argv)
    low, _, high = args.zooms.partition("-")
    zooms = list(range(int(low), int(high or low) + 1))
    shown = ",".join(sorted(layer.name for layer in load_catalog().values() if layer.visible))
    cache = tempfile.mkdtemp(prefix="twin-bench-maptiles-")
    result: dict[str, Any] = {"bench": "maptiles", "layers": shown, "zooms": {}}
    result["vector_cache"] = (
        "empty at the start; each uncached map tile draws its own vector parts from PostGIS"
    )
    result["load_average_start"] = [round(v, 2) for v in os.getloadavg()]
    env = {"TWIN_QUIET": "1", "TWIN_TILE_CACHE": cache, "TWIN_ANALYSIS_REFRESH": "off"}
    with (
        ServerProcess.twin(env=env) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        started = time.perf_counter()
        warm = TMS.tile(*CENTRE, zooms[-1] + 1)  # starts the renderer, not timed
        _timed(client, f"/map/tiles/WebMercatorQuad/{warm.z}/{warm.y}/{warm.x}.png")
        result["renderer_start_s"] = round(time.perf_counter() - started, 2)
        for zoom in zooms:
            addresses = [f"WebMercatorQuad/{t.z}/{t.y}/{t.x}" for t in _tiles(zoom, args.tiles)]
            uncached = [_timed(client, f"/map/tiles/{a}.png") for a in addresses]
            vector = [_timed(client, f"/tiles/{a}?collections={shown}") for a in addresses]
            cached = [_timed(client, f"/map/tiles/{a}.png") for a in addresses]
            row = {
                "uncached": _stats(uncached),
                "cached": _stats(cached),
                "vector_peer": _stats(vector),
            }
            row["map_over_vector_p50"] = round(
                row["uncached"]["p50_ms"] / max(row["vector_peer"]["p50_ms"], 0.01), 2
            )
            row["uncached_target_p95_ms"] = UNCACHED_P95_MS
            row["uncached_met"] = row["uncached"]["p95_ms"] <= UNCACHED_P95_MS
            row["cached_target_p95_ms"] = CACHED_P95_MS
            row["cached_met"] = row["cached"]["p95_ms"] <= CACHED_P95_MS
            result["zooms"][str(zoom)] = row
        result["map_1000"] = _maps(client, args.maps, "EPSG:3857")
        result["map_1000_crs84"] = _maps(client, 2, "OGC:CRS84")
    with (
        ServerProcess.twin(env=env) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        for zoom in zooms:
            addresses = [f"WebMercatorQuad/{t.z}/{t.y}/{t.x}" for t in _tiles(zoom, args.tiles)]
            disk = [_timed(client, f"/map/tiles/{a}.png") for a in addresses]
            result["zooms"][str(zoom)]["disk"] = _stats(disk)
    shutil.rmtree(cache, ignore_errors=True)  # the bench's own tile cache
    every = [row for row in result["zooms"].values()]
    result["targets"] = {
        "uncached_p95_le_300ms": all(r["uncached"]["p95_ms"] <= UNCACHED_P95_MS for r in every),
        "cached_p95_le_5ms": all(r["cached"]["p95_ms"] <= CACHED_P95_MS for r in every),
        "disk_p95_le_5ms": all(r["disk"]["p95_ms"] <= CACHED_P95_MS for r in every),
        "map_1000_p50_le_1s": result["map_1000"]["p50_ms"] <= MAP_1000_MS,
    }
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    result["city_bbox"] = list(CITY_BBOX)
    print(json.dumps(result))

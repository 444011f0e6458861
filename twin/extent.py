"""The city's extent: the loaded districts' lon/lat bounding box widened by MARGIN_DEG.

Where the city is decides what the twin takes and publishes: an edit or a scenario feature
outside it is refused, tile matrix limits, TileJSON bounds, style sources, the viewer's first
view and the collections' spatial extents cover it. It follows the data rather than a fixed box,
so a city that grows (the `metro` demo scale, a suburb imported as a district) is served whole.

- `city_extent(conn)`: exact. One primary-key read of the districts' data version per call
  (twin_layers, bumped by every statement that changes the table: imports, `twin load`, edits,
  plain SQL); the extent itself is read again only when that version moved, and kept per
  database in the process.
- `current_extent()`: for callers without a connection (documents, the CLI's defaults); it
  trusts what it read for TWIN_TILE_VERSION_TTL (1 s), like the tiles' data versions.
- `current_extent_async()`: the same for route handlers, off the event loop when it must read.

Before any district is loaded (or with no database to ask) the extent is
`twin.catalog.CITY_BBOX`, the configured box; files written before a database exists
(`twin config`: pygeoapi-config.yml's collection extents) keep it too, and the served
/collections documents are corrected at runtime (`sync_collection_extents`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import psycopg
from psycopg.pq import TransactionStatus

from twin.catalog import CITY_BBOX
from twin.errors import DatabaseBusy, DatabaseNotRunning
from twin.settings import get_settings
from twin.sqlfiles import query

Bbox = tuple[float, float, float, float]

DISTRICTS = "districts"
# Beyond the outermost district boundary: the ring roads, the foothills' last houses and a
# feature drawn a little over the line still belong to the city. 0.03 degrees is ~2.4 km east-
# west and ~3.3 km north-south at 43 N; with the small and city demo scales (districts
# 76.74-77.14 E, 43.035-43.40 N) it gives 76.71-77.17 E, 43.005-43.43 N, which holds the
# configured box, so nothing the fixed box took is refused now.
MARGIN_DEG = 0.03
DIGITS = 4  # rounded outwards to ~10 m: a readable extent in messages and documents

_lock = threading.Lock()
# database -> (districts' data version, extent), read by city_extent(); the database the
# environment names -> (trusted until, extent) current_extent() last read
_known: dict[str, tuple[int, Bbox]] = {}
_asked: dict[str, tuple[float, Bbox]] = {}


def _widened(west: float, south: float, east: float, north: float) -> Bbox:
    scale = 10**DIGITS
    return (
        _floor((west - MARGIN_DEG) * scale) / scale,
        _floor((south - MARGIN_DEG) * scale) / scale,
        -_floor(-(east + MARGIN_DEG) * scale) / scale,
        -_floor(-(north + MARGIN_DEG) * scale) / scale,
    )


def _floor(value: float) -> int:
    # 76.71 * 1e4 is 767099.9999999999: a hair of float noise must not widen by another 10 m
    return int(round(value)) if abs(value - round(value)) < 1e-6 else int(value // 1)


def _database(conn: psycopg.Connection) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


def city_extent(conn: psycopg.Connection) -> Bbox:
    """The city's lon/lat extent (west, south, east, north): the loaded districts' bounding box
    widened by MARGIN_DEG, or CITY_BBOX while there is no district (or no districts table)."""
    database = _database(conn)
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    try:
        version = conn.execute(query("extent/districts_version"), {"layer": DISTRICTS}).fetchone()
        version = int(version[0]) if version else 0
        known = _known.get(database)
        if known is not None and known[0] == version:
            return known[1]
        row = conn.execute(query("extent/districts_extent", table=DISTRICTS)).fetchone()
    except psycopg.errors.UndefinedTable:
        # not migrated yet: nothing is loaded, so the configured box
        if idle and not conn.autocommit:
            conn.rollback()  # the failed statement opened this transaction, not the caller
        if not idle and not conn.autocommit:
            raise
        return CITY_BBOX
    extent = CITY_BBOX if row is None or row[0] is None else _widened(*map(float, row))
    with _lock:
        _known[database] = (version, extent)
    return extent


def current_extent() -> Bbox:
    """The city's extent without a connection at hand (blocking: off the event loop); trusted
    for TWIN_TILE_VERSION_TTL after it was read. CITY_BBOX when the database cannot be asked."""
    fresh = _fresh()
    if fresh is not None:
        return fresh
    from twin.db.cluster import database_url
    from twin.db.pool import connection

    try:
        with connection(database_url(), timeout=2) as conn:
            extent = city_extent(conn)
    except (DatabaseNotRunning, DatabaseBusy, psycopg.Error):
        # kept for the TTL too: a server over a stopped database answers /collections without
        # waiting for the pool on every request
        extent = CITY_BBOX
    ttl = get_settings().tiles.version_ttl_s
    with _lock:
        _asked[_where()] = (time.monotonic() + ttl, extent)
    return extent


def _where() -> str:
    """Which database the environment names (the settings are read per call: a test or a
    command may point the process at another twin); a loop over rows takes city_extent(conn)
    once instead."""
    settings = get_settings()
    return f"{settings.database_url or ''}|{settings.home}"


def _fresh() -> Bbox | None:
    asked = _asked.get(_where())
    if asked is None or time.monotonic() >= asked[0]:
        return None
    return asked[1]


async def current_extent_async() -> Bbox:
    """`current_extent()` for route handlers: no thread when what was read is still fresh."""
    fresh = _fresh()
    if fresh is not None:
        return fresh
    return await anyio.to_thread.run_sync(current_extent)


def forget() -> None:
    """Read the extent again on the next call (a process that just replaced the districts)."""
    with _lock:
        _known.clear()
        _asked.clear()


def contains(extent: Bbox, bounds: tuple[float, float, float, float]) -> bool:
    """Whether lon/lat `bounds` (minx, miny, maxx, maxy) lie wholly inside `extent`."""
    west, south, east, north = extent
    return bounds[0] >= west and bounds[1] >= south and bounds[2] <= east and bounds[3] <= north


def sync_collection_extents(extent: Bbox, terrain: Bbox | None = None) -> None:
    """Set the spatial extent pygeoapi serves for every catalog layer's collection to the
    city's, and the terrain's to the model's bounds (`terrain`, as /collections/terrain says):
    the configuration file keeps CITY_BBOX (written before a database exists), and pygeoapi
    reads its resources' extents per request."""
    from twin.catalog import load_catalog
    from twin.http.bridge import resources

    layers = load_catalog()
    for name, resource in resources().items():
        if name in layers:
            bbox = list(extent)
        elif name == "terrain" and terrain is not None:
            bbox = [round(v, 6) for v in terrain]
        else:
            continue
        spatial: Any = (
            resource.get("extents", {}).get("spatial") if isinstance(resource, dict) else None
        )
        if isinstance(spatial, dict) and spatial.get("bbox") != bbox:
            spatial["bbox"] = bbox

"""The cached-tile fast path: hot vector tiles answered from memory before any middleware.

A map pans over the same few hundred tiles again and again. Once a tile has been served, its
bytes sit in a per-process LRU (`HotTiles` in twin/tiles/service.py, TWIN_TILE_MEMORY_MB,
128 MB by default) keyed by tileset (a layer, every layer, or a `collections=` selection),
cache key and address; the cache key is a digest of the data versions of the tileset's layers
(twin/tiles/cache.py), so an entry of an older version is never looked up again (it just ages
out). `TileFastPath` is the outermost ASGI middleware: a GET or HEAD of a tile URL (the tile
rows of the route table, twin/http/routes.py) without a query string (or with `collections=`
alone on the dataset's tiles) whose entry is in memory under the current versions (read at
most once per TTL) is answered right there, with the same headers the full path sends (ETag,
Cache-Control, CORS and the guard's security headers), or with 304 on a matching
If-None-Match. Anything else goes on to the guard, the routes and, for tiles, the disk cache
and the database (twin/tiles/routes.py), which fill the LRU.

Writes: every request that may write (POST, PUT, PATCH, DELETE) expires the version TTL of
this process when it completes, so the next tile request re-reads the versions and a feature
edited through the API shows in its tiles at once, in the process that took the edit, and
starts a refresh of stale tile overviews in a thread so low-zoom tiles need not wait for it.
Other processes (workers, `twin load`, psql) are seen within the TTL (1 s). The same thread
brings the change events (twin/changes) up to the history.

A tile with `datetime=` (twin/tiles/timed.py) has a query string, so it always goes on to the
routes; its cache entries live under a tileset of their own (`<layer>@<digest>`), never the
undated tile's.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from twin.http.conditional import etag_matches_bytes
from twin.http.routes import fast_path_patterns
from twin.maps.hot import fast_address, map_tileset
from twin.tiles.service import ALL_LAYERS, selection_id, service

LOG = logging.getLogger("twin.tiles.fastpath")
# The tile rows of the route table (twin.http.routes, `fast_path=True`), canonical addresses
# only, in ASCII digits (`\d` would take "014" and "١٤" too): any other spelling goes on to
# the routes, which refuse it.
TILE_PATHS: tuple[re.Pattern[str], ...] = fast_path_patterns()
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def match_tile(path: str) -> re.Match[str] | None:
    """The fast-path match of a tile URL (groups z, y, x and, on a layer's tiles, layer)."""
    for pattern in TILE_PATHS:
        match = pattern.match(path)
        if match is not None:
            return match
    return None


def _tileset(match: re.Match[str], query_string: bytes | None) -> str | None:
    """The tileset a tile URL asks for, when the fast path may answer it: a layer's or the
    dataset's tile without a query string, or the dataset's with `collections=` alone."""
    layer = match.groupdict().get("layer")
    if not query_string:
        return layer or ALL_LAYERS
    if layer:
        return None
    query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    if set(query) != {"collections"} or len(query["collections"]) != 1:
        return None
    return selection_id(query["collections"][0])


def _if_none_match(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return value
    return None


class TileFastPath:
    """Outermost middleware (twin.http.app): hot tiles from memory; writes expire the
    versions."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.refreshing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in WRITE_METHODS:
            try:
                await self.app(scope, receive, send)
            finally:
                service().versions.expire()
                self._refresh_overviews_soon()
            return
        if method == "GET" or method == "HEAD":
            match = match_tile(scope["path"])
            if match is not None:
                tileset = _tileset(match, scope.get("query_string"))
                if tileset is not None and await self._answer(match, tileset, scope, send, method):
                    return
        await self.app(scope, receive, send)

    def _refresh_overviews_soon(self) -> None:
        """After a write, refresh stale tile overviews in a thread (one at a time), so the
        next low-zoom tile need not wait for it."""
        if self.refreshing:
            return
        self.refreshing = True
        asyncio.get_running_loop().run_in_executor(None, self._refresh_overviews)

    def _refresh_overviews(self) -> None:
        from twin.catalog import load_catalog
        from twin.changes.events import refresh_change_events
        from twin.db.pool import connection
        from twin.tiles.vector import refresh_overviews

        try:
            with connection() as conn:
                refresh_overviews(conn, load_catalog().values())
                refresh_change_events(conn)  # the public change feed (twin/changes)
        except Exception as exc:  # the next low-zoom tile (or feed read) does it instead
            LOG.warning(
                "tile overview or change event refresh after a write failed",
                extra={"fields": {"error": str(exc)}},
            )
        finally:
            self.refreshing = False

    async def _answer(
        self, match: re.Match[str], tileset: str, scope: Scope, send: Send, method: str
    ) -> bool:
        svc = service()
        if not svc.versions.fresh():
            if not svc.memory:
                return False
            try:  # once per TTL: one query in a thread
                await svc.current_versions()
            except Exception:  # the full path answers (503 and all)
                return False
        drawn = "image" in match.re.groupindex  # a map tile (twin.maps.hot names its address)
        if drawn:
            tileset = map_tileset(match, tileset)
        key = svc.current_key(tileset)
        if key is None:
            return False
        z, x, y = int(match.group("z")), int(match.group("x")), int(match.group("y"))
        address = fast_address(match, tileset, key) if drawn else (tileset, key, z, x, y)
        entry = svc.memory.get(address)
        if entry is None:
            return False
        status, headers, etag, data = entry
        condition = _if_none_match(scope)
        if condition is not None and etag_matches_bytes(condition, etag):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [
                        (k, b"revalidated" if k == b"x-tile-cache" else v)
                        for k, v in headers
                        if k not in (b"content-type", b"content-length", b"content-security-policy")
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data if method == "GET" else b""})
        return True

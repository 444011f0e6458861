"""The cached-tile fast path: hot vector tiles answered from memory before any middleware.

A map pans over the same few hundred tiles again and again. Once a tile has been served, its
bytes sit in a per-process LRU (`HotTiles`, TWIN_TILE_MEMORY_MB, 128 MB by default) keyed by
tileset (a layer, every layer, or a `collections=` selection), cache key and address; the
cache key is a digest of the data versions of the tileset's layers (twin/tiles/cache.py), so
an entry of an older version is never looked up again (it just ages out). `TileFastPath` is
the outermost ASGI middleware: a GET or HEAD of a tile URL without a query string (or with
`collections=` alone on the dataset's tiles) whose entry is in memory under the current
versions (read at most once per TTL) is answered right there, with the same headers the full
path sends (ETag, Cache-Control, CORS and the guard's security headers), or with 304 on a
matching If-None-Match. Anything else goes on to the guard, the routes and, for tiles, the disk cache
and the database (twin/tiles/routes.py), which fill the LRU.

Writes: every request that may write (POST, PUT, PATCH, DELETE) expires the version TTL of
this process when it completes, so the next tile request re-reads the versions and a feature
edited through the API shows in its tiles at once, in the process that took the edit, and
starts a refresh of stale tile overviews in a thread so low-zoom tiles need not wait for it.
Other processes (workers, `twin load`, psql) are seen within the TTL (1 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import OrderedDict
from urllib.parse import parse_qs
from starlette.types import ASGIApp, Receive, Scope, Send

LOG = logging.getLogger("twin.tiles.fastpath")
DEFAULT_MEMORY_MB = 128
# Canonical addresses only, in ASCII digits (`\d` would take "014" and "١٤" too): any other
# spelling goes on to the routes, which refuse it.
TILE_PATH = re.compile(r"^/(?:collections/(?P<layer>[^/]+)/)?tiles/WebMercatorQuad/"
                       r"(?P<z>0|[1-9][0-9]?)/(?P<y>0|[1-9][0-9]{0,7})/(?P<x>0|[1-9][0-9]{0,7})"
                       r"(?:\.(?:mvt|pbf))?$")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MVT_TYPE = b"application/vnd.mapbox-vector-tile"


def memory_budget() -> int:
    return int(float(os.environ.get("TWIN_TILE_MEMORY_MB", DEFAULT_MEMORY_MB)) * 1024 * 1024)


def _security_headers() -> list[tuple[bytes, bytes]]:
    """What the guard adds to every API answer, so a fast answer looks like a slow one."""
    from twin.editing.guard import COMMON_HEADERS, CSP_API

    return [*COMMON_HEADERS, (b"content-security-policy", CSP_API)]


class HotTiles:
    """An LRU of served tiles with a byte budget: (tileset, key, z, x, y) -> prepared answer.
    Used from the event loop only (no lock needed)."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = memory_budget() if budget is None else budget
        self.used = 0
        self._entries: OrderedDict[tuple, tuple[int, list[tuple[bytes, bytes]], bytes,
                                                bytes]] = OrderedDict()
        self._common = _security_headers()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, address: tuple) -> tuple[int, list[tuple[bytes, bytes]], bytes, bytes] | None:
        entry = self._entries.get(address)
        if entry is not None:
            self._entries.move_to_end(address)
        return entry

    def put(self, address: tuple, etag: str, cache_control: str, data: bytes) -> None:
        if len(data) > self.budget // 8 or address in self._entries:
            return
        status = 200 if data else 204
        headers = [(b"etag", etag.encode()), (b"cache-control", cache_control.encode()),
                   (b"x-tile-cache", b"memory"), (b"access-control-allow-origin", b"*")]
        if data:
            headers = [(b"content-type", MVT_TYPE),
                       (b"content-length", str(len(data)).encode()), *headers,
                       *self._common]
        else:
            headers += [(k, v) for k, v in self._common if k != b"content-security-policy"]
        self._entries[address] = (status, headers, etag.encode(), data)
        self.used += len(data) + 512
        while self.used > self.budget and self._entries:
            _, (_, _, _, old) = self._entries.popitem(last=False)
            self.used -= len(old) + 512


def _tileset(match: re.Match[str], query_string: bytes | None) -> str | None:
    """The tileset a tile URL asks for, when the fast path may answer it: a layer's or the
    dataset's tile without a query string, or the dataset's with `collections=` alone."""
    from twin.tiles.routes import ALL_LAYERS, selection_id

    if not query_string:
        return match.group("layer") or ALL_LAYERS
    if match.group("layer"):
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


def _matches(header: bytes, etag: bytes) -> bool:
    tags = {tag.strip().removeprefix(b"W/") for tag in header.split(b",")}
    return etag in tags or b"*" in tags


class TileFastPath:
    """Outermost middleware (twin/app.py): hot tiles from memory; writes expire the versions."""

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
                from twin.tiles.routes import service

                service().versions.expire()
                self._refresh_overviews_soon()
            return
        if method == "GET" or method == "HEAD":
            match = TILE_PATH.match(scope["path"])
            if match is not None:
                tileset = _tileset(match, scope.get("query_string"))
                if tileset is not None and await self._answer(match, tileset, scope, send,
                                                              method):
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
        from twin.db.pool import connection
        from twin.tiles.vector import refresh_overviews

        try:
            with connection() as conn:
                refresh_overviews(conn, load_catalog().values())
        except Exception as exc:  # the next low-zoom tile refreshes (and reports) it instead
            LOG.warning("tile overview refresh after a write failed",
                        extra={"fields": {"error": str(exc)}})
        finally:
            self.refreshing = False

    async def _answer(self, match: re.Match[str], tileset: str, scope: Scope, send: Send,
                      method: str) -> bool:
        from twin.tiles.routes import service

        svc = service()
        if not svc.versions.fresh():
            if not svc.memory:
                return False
            try:                                   # once per TTL: one query in a thread
                await svc.current_versions()
            except Exception:                      # the full path answers (503 and all)
                return False
        key = svc.current_key(tileset)
        if key is None:
            return False
        entry = svc.memory.get((tileset, key, int(match.group("z")), int(match.group("x")),
                                int(match.group("y"))))
        if entry is None:
            return False
        status, headers, etag, data = entry
        condition = _if_none_match(scope)
        if condition is not None and _matches(condition, etag):
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(k, b"revalidated" if k == b"x-tile-cache" else v)
                                    for k, v in headers if k not in
                                    (b"content-type", b"content-length",
                                     b"content-security-policy")]})
            await send({"type": "http.response.body", "body": b""})
            return True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data if method == "GET" else b""})
        return True


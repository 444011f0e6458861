"""The tile state one server process shares between its routes and its fast path.

twin.tiles.routes renders tiles and fills the memory; twin.tiles.fastpath answers hot tiles
from that memory before any middleware. Both import this module and neither imports the
other, so the tile code has no import cycle.

- `HotTiles`: a per-process LRU of served tiles with a byte budget (TWIN_TILE_MEMORY_MB,
  128 MB by default) keyed by tileset (a layer, every layer, or a `collections=` selection),
  cache key and address;
- `TileService`: the layer versions (read at most once per TTL), the disk cache, the memory,
  and the cache keys worked out from them; `service()` is the process's one instance;
- `selection_id`: the tileset id of a `collections=` query value.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from starlette.concurrency import run_in_threadpool

from twin.catalog import Layer, load_catalog
from twin.settings import get_settings
from twin.tiles.cache import LayerVersions, TileCache, tileset_key
from twin.tiles.vector import policy_fingerprint

MVT_TYPE = b"application/vnd.mapbox-vector-tile"
ALL_LAYERS = "_all"
SHOWN_LAYERS = "_shown"  # the first-view layers (catalog `visible`): the dataset's map tiles
SELECTION_PREFIX = "_sel-"  # tileset id of a `collections=` selection: prefix + digest
MAX_SELECTIONS = 64


def memory_budget() -> int:
    return int(get_settings().tiles.memory_mb * 1024 * 1024)


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
        self._entries: OrderedDict[tuple, tuple[int, list[tuple[bytes, bytes]], bytes, bytes]] = (
            OrderedDict()
        )
        self._common = _security_headers()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, address: tuple) -> tuple[int, list[tuple[bytes, bytes]], bytes, bytes] | None:
        entry = self._entries.get(address)
        if entry is not None:
            self._entries.move_to_end(address)
        return entry

    def put(
        self,
        address: tuple,
        etag: str,
        cache_control: str,
        data: bytes,
        media_type: bytes = MVT_TYPE,
    ) -> None:
        """Keep a served tile (a vector tile, or a map tile of `media_type`) for the fast path."""
        if len(data) > self.budget // 8 or address in self._entries:
            return
        status = 200 if data else 204
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", cache_control.encode()),
            (b"x-tile-cache", b"memory"),
            (b"access-control-allow-origin", b"*"),
        ]
        if data:
            headers = [
                (b"content-type", media_type),
                (b"content-length", str(len(data)).encode()),
                *headers,
                *self._common,
            ]
        else:
            headers += [(k, v) for k, v in self._common if k != b"content-security-policy"]
        self._entries[address] = (status, headers, etag.encode(), data)
        self.used += len(data) + 512
        while self.used > self.budget and self._entries:
            _, (_, _, _, old) = self._entries.popitem(last=False)
            self.used -= len(old) + 512


def selected_names(value: str) -> set[str]:
    """The layer names of a `collections` query value (blanks dropped)."""
    return {name.strip() for name in value.split(",") if name.strip()}


def selection_id(value: str) -> str:
    """The tileset id of a `collections` query value: the same for the same names in any
    order (the fast path looks hot tiles up under it)."""
    return (
        SELECTION_PREFIX
        + hashlib.sha256(",".join(sorted(selected_names(value))).encode()).hexdigest()[:12]
    )


class TileService:
    """State shared by the routes of one server process: versions, cache, fingerprints."""

    def __init__(self) -> None:
        self.versions = LayerVersions()
        self.cache = TileCache()
        self.memory = HotTiles()
        self._parts: dict[str, list[tuple[str, str]]] = {}
        self._keys: dict[str, tuple[dict[str, int], str]] = {}
        # selection tileset id -> layer names, the most recently used MAX_SELECTIONS only: any
        # set of names is a selection, and each one known costs a little memory
        self.selections: OrderedDict[str, list[str]] = OrderedDict()

    def remember_selection(self, tileset: str, names: list[str]) -> None:
        """Know a `collections=` selection (for the fast path), forgetting the least recently
        used one, with its cached keys, beyond MAX_SELECTIONS."""
        self.selections[tileset] = names
        self.selections.move_to_end(tileset)
        while len(self.selections) > MAX_SELECTIONS:
            old, _ = self.selections.popitem(last=False)
            self._parts.pop(old, None)
            self._keys.pop(old, None)

    def parts(self, tileset: str, layers: list[Layer]) -> list[tuple[str, str]]:
        parts = self._parts.get(tileset)
        if parts is None:
            parts = [(layer.name, policy_fingerprint(layer)) for layer in layers]
            self._parts[tileset] = parts
        return parts

    def key(self, tileset: str, layers: list[Layer], versions: dict[str, int]) -> str:
        """The tileset's cache key (and ETag) for these versions, worked out once per read."""
        known = self._keys.get(tileset)
        if known is not None and known[0] is versions:
            return known[1]
        key = tileset_key(self.versions.database, self.parts(tileset, layers), versions)
        self._keys[tileset] = (versions, key)
        return key

    def current_key(self, tileset: str) -> str | None:
        """The key under the versions in hand, for the fast path (None: unknown tileset)."""
        versions = self.versions.cached()
        known = self._keys.get(tileset)
        if known is not None and known[0] is versions:
            return known[1]
        layers = load_catalog()
        if tileset == ALL_LAYERS:
            return self.key(tileset, list(layers.values()), versions)
        if tileset == SHOWN_LAYERS:
            shown = [layer for layer in layers.values() if layer.visible]
            return self.key(tileset, shown, versions)
        if tileset in self.selections:
            return self.key(tileset, [layers[name] for name in self.selections[tileset]], versions)
        if tileset not in layers:
            return None
        return self.key(tileset, [layers[tileset]], versions)

    async def current_versions(self) -> dict[str, int]:
        if self.versions.fresh():
            return self.versions.cached()
        return await run_in_threadpool(self.versions.get)


SERVICE: TileService | None = None


def service() -> TileService:
    """The process's one TileService (created on first use, in the worker that serves)."""
    global SERVICE
    if SERVICE is None:
        SERVICE = TileService()
    return SERVICE

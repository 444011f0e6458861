"""The tile cache on disk, keyed by the data versions of the layers a tile is made of.

Every change to a layer table bumps twin_layers.version (a statement trigger, so imports, demo
loads, analysis runs and plain SQL edits alike). A tileset's key is a digest of its layers'
versions and of what else decides the bytes (the generalisation rules, the layer definition),
so a change moves the tileset to a new directory: nothing is ever invalidated by hand, and
tiles of the old version are pruned when the new directory is first written.

Keys also name the database (its system identifier), so twins sharing a cache directory never
serve each other's tiles. The versions are read with one query and kept for `VERSION_TTL_S`
(1 s by default, TWIN_TILE_VERSION_TTL overrides it): a cache hit costs no database round
trip, and an edit is visible in tiles at most that long after its commit. The key doubles as
the ETag, so a revalidation (If-None-Match) is answered with 304 without touching the disk.

Layout: <cache dir>/<tileset>/<key>/<z>/<x>/<y>.<ext>; the cache dir is tiles/cache/ under the
project (git-ignored), TWIN_TILE_CACHE overrides it (the tests use a temporary one).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from twin.db.pool import connection
from twin.settings import get_settings
from twin.store import database_identity, layer_versions
from twin.tiles.matrix import TileAddress


def cache_dir() -> Path:
    settings = get_settings()
    return settings.tiles.cache or settings.tiles_dir / "cache"


class LayerVersions:
    """The data version of every layer, re-read from twin_layers at most once per TTL."""

    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = ttl if ttl is not None else get_settings().tiles.version_ttl_s
        self._versions: dict[str, int] = {}
        self._read_at = -1e18
        self._lock = threading.Lock()
        self.database = ""

    def fresh(self) -> bool:
        return time.monotonic() - self._read_at < self.ttl

    def cached(self) -> dict[str, int]:
        return self._versions

    def expire(self) -> None:
        """Re-read the versions on the next request (this process just took a write)."""
        self._read_at = -1e18

    def get(self) -> dict[str, int]:
        """The versions, refreshed when older than the TTL (blocking: call off the event loop)."""
        if self.fresh():
            return self._versions
        with self._lock:
            if not self.fresh():
                with connection() as conn:
                    if not self.database:
                        self.database = database_identity(conn)
                    self._versions = layer_versions(conn)
                self._read_at = time.monotonic()
        return self._versions


def tileset_key(database: str, parts: list[tuple[str, str]], versions: dict[str, int]) -> str:
    """Digest of the database and the (name, fingerprint, data version) of every source."""
    spec = [database] + [[name, fingerprint, versions.get(name, 0)] for name, fingerprint in parts]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:20]


class TileCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or cache_dir()
        self._known_keys: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def path(self, tileset: str, key: str, address: TileAddress, extension: str) -> Path:
        return (
            self.directory
            / tileset
            / key
            / str(address.z)
            / str(address.x)
            / f"{address.y}.{extension}"
        )

    @staticmethod
    def read(path: Path) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def write(self, tileset: str, key: str, path: Path, data: bytes) -> None:
        """Store a tile atomically; the first write of a new key prunes the tileset's old keys."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tile-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
        with self._lock:
            first = (tileset, key) not in self._known_keys
            self._known_keys.add((tileset, key))
        if first:
            self.prune(tileset, keep=key)

    def prune(self, tileset: str, keep: str) -> int:
        """Remove the tileset's tiles of every other key (older data versions); return count."""
        removed = 0
        root = self.directory / tileset
        if not root.is_dir():
            return 0
        for old in root.iterdir():
            if old.name != keep and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
                removed += 1
        return removed

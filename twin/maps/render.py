"""MapLibre Native, in the server process: the renderer of map tiles and maps.

MapLibre Native comes as the `mapli` wheel from PyPI (the library with its own copies of ICU,
libpng, libjpeg, libwebp, libuv; the system gives EGL and Mesa's software rasteriser llvmpipe,
no display: EGL's surfaceless platform). A `RenderPool` is a set of render threads, each with
its own run loop, OpenGL context and one renderer per style (kept, least recently used
dropped), so it is the long-lived worker: started on the first map request of a server
process, never one per request. The GIL is released while a render waits.

The style's vector tiles are read through the `twin://` scheme: MapLibre Native asks this
process, which answers from the vector tile cache on disk or renders the tile from PostGIS
(twin.tiles.routes), so a map tile costs no HTTP round trip and shares the vector tiles'
cache and keys. From vector level PART_MIN_LEVEL on, a map tile asks only for the quarter of
each vector tile it shows (style.at_zoom; `_vector_tile`). At most TWIN_MAP_QUEUE renders
(16) wait or run at once; past that a request is told to come back (503), never queued
without bound. TWIN_MAP_WORKERS=0 turns drawing off: map tiles and maps answer 503, plan
reports keep their SVG sketches (twin.maps.picture).

A pool keeps every style registered in it (MapLibre Native has no way to forget one) and each
data version or plan picture is a new style id, so after MAX_STYLES styles the pool is replaced
by a fresh one (renders in flight finish on the old one): memory stays bounded.

Overlays (a plan's edits drawn over the published style, twin.maps.picture) are GeoJSON the
style reads from `twin://map/overlay/<digest>.geojson`, held here only while a render needs
them, so a large overlay never sits in a registered style.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from typing import Any

from twin.errors import ServiceUnavailable, TwinError
from twin.maps.style import SCHEME, at_zoom
from twin.settings import get_settings

log = logging.getLogger(__name__)

# render threads: one per core (a render is CPU-bound in llvmpipe), at most 8 GL contexts
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0
MAX_STYLES = 256  # styles registered in one pool before it is replaced
# renderers a render thread keeps (one per style, least recently used dropped; a new one costs
# ~15-20 ms): map tiles of one zoom use four styles (style.at_zoom's quarters)
RENDERERS_PER_WORKER = 16
# from this vector tile level on a map tile reads quarters of the tiles (style.at_zoom): below
# it whole tiles are capped at 1,000-2,000 features a layer, cheap, and shared by four map
# tiles (city, z12 map tiles: p50 46-75 ms from whole tiles, 95-163 ms from quarters); from
# it the centre's plots and buildings make a whole tile the slowest part of a map tile
PART_MIN_LEVEL = 12
OVERLAY_URL = re.compile(r"twin://map/overlay/(\w+)\.geojson")
TILE_URL = re.compile(
    r"twin://map/(?:v\w+/)?(?:q([01])([01])/)?"
    r"collections/([\w-]+)/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)"
)
PART_EXTENSION = "part.mvt"  # a part tile in the cache: under the map tile's own address


class MapBusy(ServiceUnavailable):
    """Every render slot is taken: come back in a moment."""


def _vector_tile(url: str) -> bytes:
    """The MVT a style source asks for, from the tile cache or PostGIS (as /collections/{id}/
    tiles answers it, under the same cache key). A URL with a quadrant (`q01/`: column and row
    within the tile, style.at_zoom) asks for the part of the tile one map tile shows: the
    tile's own features (the same choice, cap and coordinates) that touch that quarter, about
    a quarter of the tile's work in PostGIS and in MapLibre Native, kept in the cache under
    the quarter's address."""
    from twin.catalog import load_catalog
    from twin.tiles.matrix import TileAddress
    from twin.tiles.routes import _render
    from twin.tiles.service import service
    from twin.tiles.vector import in_zoom_range

    match = TILE_URL.fullmatch(url)
    if match is None:
        raise ValueError(f"not a tile of the twin: {url}")
    column, row, name = match.group(1, 2, 3)
    z, y, x = map(int, match.group(4, 5, 6))
    layer = load_catalog()[name]
    if not in_zoom_range(layer, z):
        return b""
    svc = service()
    versions = svc.versions.get()
    key = svc.key(name, [layer], versions)
    address = TileAddress(z, x, y)
    part = None
    if column is not None:
        part = TileAddress(z + 1, 2 * x + int(column), 2 * y + int(row))
    path = svc.cache.path(name, key, part or address, PART_EXTENSION if part else "mvt")
    data = svc.cache.read(path)
    if data is None:
        data = _render([layer], address, part=part)
        svc.cache.write(name, key, path, data)
    return data


class Overlays:
    """GeoJSON overlays in hand, by digest, counted: kept while some render may read them."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, int]] = {}
        self._lock = threading.Lock()

    def hold(self, digest: str, data: bytes) -> None:
        with self._lock:
            _, count = self._data.get(digest, (data, 0))
            self._data[digest] = (data, count + 1)

    def release(self, digest: str) -> None:
        with self._lock:
            data, count = self._data[digest]
            if count <= 1:
                del self._data[digest]
            else:
                self._data[digest] = (data, count - 1)

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            found = self._data.get(digest)
        return None if found is None else found[0]


OVERLAYS = Overlays()


def _answer(request: Any) -> Any:
    """The scheme handler: vector tiles and overlays; anything else the style might ask for
    is empty."""
    import mapli

    try:
        overlay = OVERLAY_URL.fullmatch(request.url)
        if overlay is not None:
            data = OVERLAYS.get(overlay.group(1))
            if data is None:
                return mapli.Response.error(mapli.ErrorReason.NOT_FOUND, "overlay gone")
            return mapli.Response(data)
        if request.kind == "tile":
            data = _vector_tile(request.url)
            return mapli.Response(data) if data else mapli.Response.no_content()
        return mapli.Response.no_content()
    except TwinError as exc:
        return mapli.Response.error(mapli.ErrorReason.SERVER, f"{exc.status}: {exc}")
    except Exception as exc:  # any failure is told to MapLibre Native: a RenderError, a 503
        log.exception("map tile source %s failed", request.url)
        return mapli.Response.error(mapli.ErrorReason.OTHER, str(exc))


class Renderer:
    """The process's MapLibre Native render pool, created on first use, and its slots."""

    def __init__(self, workers: int | None = None, queue: int | None = None) -> None:
        settings = get_settings().tiles
        workers = workers or settings.map_workers or min(os.cpu_count() or 2, 8)
        queue = queue or settings.map_queue
        self.workers = workers
        self.styles = 0  # registered in the current pool
        self.slots = threading.BoundedSemaphore(queue)
        self.queue = queue
        self._pool: Any = None
        self._lock = threading.Lock()

    def pool(self) -> Any:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._start()
        return self._pool

    def _start(self) -> Any:
        # Mesa's EGL without a display: no X server or Xvfb needed
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        import mapli

        try:
            pool = mapli.RenderPool(
                workers=self.workers, max_renderers_per_worker=RENDERERS_PER_WORKER
            )
        except mapli.GraphicsUnavailableError as exc:
            raise ServiceUnavailable(
                f"map tiles cannot be drawn on this machine: {exc} "
                "(Mesa's EGL driver, Debian package libegl-mesa0, is needed)"
            ) from None
        mapli.register_scheme_handler(SCHEME, _answer)
        log.info("map renderer started: MapLibre Native, %d render threads", self.workers)
        return pool

    def _run(self, style_id: str, style_json: str, call: str, **kwargs: Any) -> bytes:
        import mapli

        if get_settings().tiles.map_workers == 0:  # read per render: the setting of the moment
            raise ServiceUnavailable("map drawing is off on this server (TWIN_MAP_WORKERS=0)")
        if not self.slots.acquire(blocking=False):
            raise MapBusy(f"the map renderer has {self.queue} maps in hand; retry in a moment")
        try:
            pool = self.pool()
            if not pool.has_style(style_id):
                pool = self._room(pool)
                pool.register_style(style_id, json=style_json)
            return getattr(pool, call)(style_id, **kwargs)
        except mapli.RenderError as exc:
            raise ServiceUnavailable(f"the map could not be drawn: {exc}") from None
        finally:
            self.slots.release()

    def _room(self, pool: Any) -> Any:
        """The pool to register one more style in: a fresh one past MAX_STYLES."""
        with self._lock:
            if self._pool is pool and self.styles >= MAX_STYLES:
                log.info("map renderer: %d styles registered, a fresh pool", self.styles)
                self._pool, self.styles = self._start(), 0
            self.styles += 1
            return self._pool

    def tile(self, style_id: str, style_json: str, z: int, x: int, y: int, size: int) -> bytes:
        """A PNG of WebMercatorQuad tile z/x/y (256 px to a tile), `size` pixels wide."""
        if z == 0:  # MapLibre's 512 px world: a 256 px tile of zoom 0 is its zoom -1
            style_id, style_json = at_zoom(style_id, style_json, 0)
            return self._run(
                style_id, style_json, "render_tile", z=0, x=0, y=0, tile_size=512,
                pixel_ratio=size / 512,
            )  # fmt: skip
        # drawn at zoom z - 1, from the quarter of each z - 1 vector tile this tile shows
        quarter = (x % 2, y % 2) if z - 1 >= PART_MIN_LEVEL else None
        style_id, style_json = at_zoom(style_id, style_json, z - 1, quarter)
        return self._run(
            style_id, style_json, "render_tile", z=z, x=x, y=y, tile_size=256,
            pixel_ratio=size / 256,
        )  # fmt: skip

    def image(
        self,
        style_id: str,
        style_json: str,
        centre: tuple[float, float],
        resolution: float,
        width: int,
        height: int,
        pixel_ratio: float = 1.0,
    ) -> bytes:
        """A PNG `width` x `height` centred on (lon, lat), `resolution` Web Mercator metres per
        pixel (at the equator, as the tile matrix set counts them); `pixel_ratio` image pixels
        to one of those (2: a print's sharpness)."""
        zoom = math.log2(EARTH_CIRCUMFERENCE / (512 * resolution))
        style_id, style_json = at_zoom(style_id, style_json, zoom)
        return self._run(
            style_id, style_json, "render", lon=centre[0], lat=centre[1], zoom=zoom,
            width=width, height=height, pixel_ratio=pixel_ratio,
        )  # fmt: skip


RENDERER: Renderer | None = None


def renderer() -> Renderer:
    """The process's one renderer (its pool starts on the first render)."""
    global RENDERER
    if RENDERER is None:
        RENDERER = Renderer()
    return RENDERER

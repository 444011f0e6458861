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
cache and keys. At most TWIN_MAP_QUEUE renders (16) wait or run at once; past that a request
is told to come back (503), never queued without bound.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from typing import Any

from twin.errors import ServiceUnavailable, TwinError
from twin.maps.style import SCHEME
from twin.settings import get_settings

log = logging.getLogger(__name__)

# render threads: one per core (a render is CPU-bound in llvmpipe), at most 8 GL contexts
EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0
TILE_URL = re.compile(
    r"twin://map/(?:v\w+/)?collections/([\w-]+)/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)"
)


class MapBusy(ServiceUnavailable):
    """Every render slot is taken: come back in a moment."""


def _vector_tile(url: str) -> bytes:
    """The MVT a style source asks for, from the tile cache or PostGIS (as /collections/{id}/
    tiles answers it, under the same cache key)."""
    from twin.catalog import load_catalog
    from twin.tiles.matrix import TileAddress
    from twin.tiles.routes import _render
    from twin.tiles.service import service
    from twin.tiles.vector import in_zoom_range

    match = TILE_URL.fullmatch(url)
    if match is None:
        raise ValueError(f"not a tile of the twin: {url}")
    name, z, y, x = match.group(1), *map(int, match.groups()[1:])
    layer = load_catalog()[name]
    if not in_zoom_range(layer, z):
        return b""
    svc = service()
    versions = svc.versions.get()
    key = svc.key(name, [layer], versions)
    address = TileAddress(z, x, y)
    path = svc.cache.path(name, key, address, "mvt")
    data = svc.cache.read(path)
    if data is None:
        data = _render([layer], address)
        svc.cache.write(name, key, path, data)
    return data


def _answer(request: Any) -> Any:
    """The scheme handler: vector tiles; anything else the style might ask for is empty."""
    import mapli

    try:
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
            pool = mapli.RenderPool(workers=self.workers)
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

        if not self.slots.acquire(blocking=False):
            raise MapBusy(f"the map renderer has {self.queue} maps in hand; retry in a moment")
        try:
            pool = self.pool()
            if not pool.has_style(style_id):
                pool.register_style(style_id, json=style_json)
            return getattr(pool, call)(style_id, **kwargs)
        except mapli.RenderError as exc:
            raise ServiceUnavailable(f"the map could not be drawn: {exc}") from None
        finally:
            self.slots.release()

    def tile(self, style_id: str, style_json: str, z: int, x: int, y: int, size: int) -> bytes:
        """A PNG of WebMercatorQuad tile z/x/y (256 px to a tile), `size` pixels wide."""
        if z == 0:  # MapLibre's 512 px world: a 256 px tile of zoom 0 is its zoom -1
            return self._run(
                style_id, style_json, "render_tile", z=0, x=0, y=0, tile_size=512,
                pixel_ratio=size / 512,
            )  # fmt: skip
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
    ) -> bytes:
        """A PNG `width` x `height` centred on (lon, lat), `resolution` Web Mercator metres per
        pixel (at the equator, as the tile matrix set counts them)."""
        zoom = math.log2(EARTH_CIRCUMFERENCE / (512 * resolution))
        return self._run(
            style_id, style_json, "render", lon=centre[0], lat=centre[1], zoom=zoom,
            width=width, height=height,
        )  # fmt: skip


RENDERER: Renderer | None = None


def renderer() -> Renderer:
    """The process's one renderer (its pool starts on the first render)."""
    global RENDERER
    if RENDERER is None:
        RENDERER = Renderer()
    return RENDERER

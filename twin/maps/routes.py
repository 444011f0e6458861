"""HTTP handlers of the map tiles and maps (rows in the route table: twin/http/routes.py).

Map tiles (OGC API Tiles, dataType map): /map/tiles[/WebMercatorQuad[/{z}/{y}/{x}.png]] for
the dataset (the viewer's first-view layers, or ?collections=a,b) and the same under
/collections/{id}/map/tiles for one layer (transparent around its features by default).
Maps (OGC API Maps): /map and /collections/{id}/map with bbox, bbox-crs, crs, width, height.

Both are drawn by MapLibre Native from the style twin.styles publishes (twin.maps.render).
A map tile is cached on disk like a vector tile: its key is the digest of the database, the
layers' data versions and fingerprints (twin.tiles.cache, the vector tiles' keys) and the
style id, so an edit or a symbology change moves it, and the key is the ETag (304 on
If-None-Match).
"""

from __future__ import annotations

import hashlib
import io
import math
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from twin.bbox import BboxError, parse_bbox
from twin.catalog import Layer, load_catalog
from twin.errors import InvalidParameter
from twin.extent import Bbox, current_extent_async
from twin.http.conditional import etag_matches
from twin.maps.hot import folder, memory_address
from twin.maps.render import renderer
from twin.maps.style import at_version, map_style
from twin.tiles import metadata
from twin.tiles.cache import tileset_key
from twin.tiles.matrix import (
    WEB_MERCATOR_QUAD,
    TileRequestError,
    check_matrix_set,
    matrix_limits,
    parse_address,
    split_extension,
)
from twin.tiles.routes import (
    CACHE_CONTROL,
    CORS,
    _check_document_format,
    _layer,
    answers_errors,
    selection_tileset,
)
from twin.tiles.service import SHOWN_LAYERS, service

MAX_SIDE = 4096  # pixels, a map's width or height
WEB_MERCATOR_RADIUS = 6378137.0  # metres: EPSG:3857's sphere
DEFAULT_SIDE = 1024
MAX_MAP_ZOOM = 20  # map tiles past the vector tiles' 16: MapLibre overzooms them
TILE_SIZES = (256, 512)
PNG_LEVEL = 1  # zlib level of the PNGs the twin encodes itself (/map resampled): speed first
PNG = "image/png"
JPEG = "image/jpeg"
FORMATS = {"png": PNG, "image/png": PNG, "jpg": JPEG, "jpeg": JPEG, "image/jpeg": JPEG}
EXTENSIONS = {PNG: "png", JPEG: "jpg"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS_NAMES = {  # what crs / bbox-crs take -> (CRS name for pyproj, lat/lon axis order)
    CRS84: ("OGC:CRS84", False),
    "OGC:CRS84": ("OGC:CRS84", False),
    "CRS84": ("OGC:CRS84", False),
    f"{EPSG}4326": ("EPSG:4326", True),
    "EPSG:4326": ("EPSG:4326", True),
    f"{EPSG}3857": ("EPSG:3857", False),
    "EPSG:3857": ("EPSG:3857", False),
}
CRS_URIS = {"OGC:CRS84": CRS84, "EPSG:4326": f"{EPSG}4326", "EPSG:3857": f"{EPSG}3857"}

# declared to pygeoapi's /conformance by twin.http.app (OGC API Maps 1.0 and Tiles map tiles)
CONFORMANCE_ADDED = [
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/dataset-map",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/collection-map",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/scaling",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/spatial-subsetting",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/jpeg",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/jpeg",
]


# ---- parameters ------------------------------------------------------------------------------


def _format(request: Request, extension: str | None) -> str:
    requested = request.query_params.get("f") or extension or "png"
    media = FORMATS.get(requested.lower())
    if media is None:
        raise InvalidParameter(
            f"unknown map format f={requested[:40]!r}: use f=png (image/png) or f=jpeg (image/jpeg)"
        )
    return media


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() not in {"true", "false"}:
        raise InvalidParameter(f"{name} must be true or false, got {raw[:40]!r}")
    return raw.lower() == "true"


def _side(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SIDE:
        raise InvalidParameter(
            f"{name} must be a whole number of pixels from 1 to {MAX_SIDE} "
            f"(the limit of a map's side), got {raw[:40]!r}"
        )
    return int(raw)


def _crs(request: Request, name: str) -> tuple[str, bool]:
    raw = request.query_params.get(name)
    if raw is None:
        return "OGC:CRS84", False
    known = CRS_NAMES.get(raw.strip().strip("[]<>"))
    if known is None:
        raise InvalidParameter(
            f"{name} {raw[:80]!r} is not supported: use {CRS84}, {EPSG}4326 or {EPSG}3857"
        )
    return known


def _tile_size(request: Request) -> int:
    raw = request.query_params.get("size", "256")
    if raw not in {str(size) for size in TILE_SIZES}:
        raise InvalidParameter(f"size must be 256 or 512 (pixels a tile side), got {raw[:40]!r}")
    return int(raw)


# ---- map tiles -------------------------------------------------------------------------------


def _map_tileset(
    layers: list[Layer], base: str, root: str, title: str, extent: Bbox
) -> dict[str, Any]:
    """OGC tileset metadata of map tiles: the vector tileset's, drawn as PNG."""
    minzoom = min(layer.minzoom for layer in layers)
    document = metadata.tileset(layers, base, f"{root}/{WEB_MERCATOR_QUAD}", title, "", extent)
    document["description"] = f"{title} drawn in the viewer's style (PNG, 256 px tiles)"
    document["dataType"] = "map"
    document["tileMatrixSetLimits"] = matrix_limits(extent, minzoom, MAX_MAP_ZOOM)
    document.pop("layers", None)
    links = [
        link for link in document["links"] if link["rel"] in ("self", metadata.REL_TILING_SCHEME)
    ]
    for media in (PNG, JPEG):
        links.append(
            {
                "rel": "item",
                "type": media,
                "title": f"{title} map tiles ({EXTENSIONS[media].upper()})",
                "templated": True,
                "href": f"{base}{root}/{WEB_MERCATOR_QUAD}/{metadata.TEMPLATE}.{EXTENSIONS[media]}",
            }
        )
    document["links"] = links
    return document


def _map_tileset_list(layers: list[Layer], base: str, root: str, title: str) -> dict[str, Any]:
    document = metadata.tileset_list(layers, base, root, title)
    for entry in document.get("tilesets", []):
        entry["dataType"] = "map"
    document["links"] = [{"rel": "self", "type": "application/json", "href": f"{base}{root}"}]
    return document


async def _map_tile(
    request: Request,
    tileset: str,
    layers: list[Layer],
    collections: list[str] | None,
    transparent_default: bool,
) -> Response:
    params = request.path_params
    check_matrix_set(params["tms"])
    col, extension = split_extension(params["x"], ("png", "jpg", "jpeg"))
    media = _format(request, extension)
    address = parse_address(params["z"], params["y"], col)
    minzoom = min(layer.minzoom for layer in layers)
    if not minzoom <= address.z <= MAX_MAP_ZOOM:
        raise TileRequestError(
            f"these map tiles are at tile matrices {minzoom}-{MAX_MAP_ZOOM} only, not {address.z}"
        )
    size = _tile_size(request)
    transparent = _flag(request, "transparent", transparent_default) and media == PNG
    style_id, style_json = map_style(collections, transparent, await current_extent_async())
    svc = service()
    versions = await svc.current_versions()
    vector_key = svc.key(tileset, layers, versions)
    key = _map_key(tileset, vector_key, style_id)
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, **CORS}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={**headers, "X-Tile-Cache": "revalidated"})
    extension = EXTENSIONS[media]
    hot = memory_address(
        tileset, vector_key, address.z, address.x, address.y, size, extension, transparent
    )
    entry = svc.memory.get(hot)  # a variant the fast path does not look up (size=, f=, ...)
    if entry is not None:
        return Response(entry[3], media_type=media, headers={**headers, "X-Tile-Cache": "memory"})
    path = svc.cache.path(folder(tileset, transparent), key, address, f"{size}.{extension}")
    data = svc.cache.read(path)
    state, store = "hit", None
    if data is None:
        state = "miss"
        style_id, style_json = at_version(style_id, style_json, key)
        data = await run_in_threadpool(
            _draw_tile, style_id, style_json, address.z, address.x, address.y, size, media
        )
        store = BackgroundTask(
            svc.cache.write, folder(tileset, transparent), key, path, data
        )  # stored on disk once the answer is out; the memory serves it meanwhile
    svc.memory.put(hot, etag, CACHE_CONTROL, data, media.encode())
    return Response(
        data, media_type=media, headers={**headers, "X-Tile-Cache": state}, background=store
    )


MAP_KEYS: dict[tuple[str, str], str] = {}  # (vector tileset key, style id) -> map tile key


def _map_key(tileset: str, vector_key: str, style_id: str) -> str:
    """The map tiles' cache key (and ETag): the vector tileset's key (database, data versions,
    fingerprints) and the style's digest, worked out once per pair."""
    known = MAP_KEYS.get((vector_key, style_id))
    if known is None:
        if len(MAP_KEYS) > 1024:
            MAP_KEYS.clear()
        spec = f"{tileset}|{vector_key}|{style_id}"
        known = hashlib.sha256(spec.encode()).hexdigest()[:20]
        MAP_KEYS[(vector_key, style_id)] = known
    return known


def _draw_tile(style_id: str, style: str, z: int, x: int, y: int, size: int, media: str) -> bytes:
    png = renderer().tile(style_id, style, z, x, y, size)
    return png if media == PNG else _jpeg(png)


def _jpeg(png: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=88)
    return out.getvalue()


@answers_errors
async def dataset_map_tile(request: Request) -> Response:
    value = request.query_params.get("collections")
    tileset, layers = selection_tileset(value)
    collections = None if value is None else [layer.name for layer in layers]
    if collections is None:  # the first-view layers: a tileset of their own (not every layer)
        tileset, layers = SHOWN_LAYERS, [layer for layer in layers if layer.visible]
    return await _map_tile(request, tileset, layers, collections, False)


@answers_errors
async def layer_map_tile(request: Request) -> Response:
    layer = _layer(request.path_params["layer"])
    return await _map_tile(request, layer.name, [layer], [layer.name], True)


@answers_errors
async def dataset_map_tilesets(request: Request) -> Response:
    _check_document_format(request)
    layers = [layer for layer in load_catalog().values() if layer.visible]
    base = metadata.server_url(str(request.base_url))
    return JSONResponse(
        _map_tileset_list(layers, base, "/map/tiles", "Almaty Twin map"), headers=CORS
    )


@answers_errors
async def dataset_map_tileset(request: Request) -> Response:
    _check_document_format(request)
    check_matrix_set(request.path_params["tms"])
    layers = [layer for layer in load_catalog().values() if layer.visible]
    base = metadata.server_url(str(request.base_url))
    extent = await current_extent_async()
    document = _map_tileset(layers, base, "/map/tiles", "Almaty Twin map", extent)
    return JSONResponse(document, headers=CORS)


@answers_errors
async def layer_map_tilesets(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    base = metadata.server_url(str(request.base_url))
    root = f"/collections/{layer.name}/map/tiles"
    return JSONResponse(_map_tileset_list([layer], base, root, layer.title), headers=CORS)


@answers_errors
async def layer_map_tileset(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    check_matrix_set(request.path_params["tms"])
    base = metadata.server_url(str(request.base_url))
    root = f"/collections/{layer.name}/map/tiles"
    extent = await current_extent_async()
    return JSONResponse(_map_tileset([layer], base, root, layer.title, extent), headers=CORS)


# ---- maps (OGC API Maps) ---------------------------------------------------------------------


def _bbox(
    request: Request, crs: str, lat_first: bool, extent: Bbox
) -> tuple[float, float, float, float]:
    raw = request.query_params.get("bbox")
    if raw is None:  # the city's extent (twin.extent)
        if crs == "EPSG:3857":
            return _transform_bounds(extent, "OGC:CRS84", crs)
        return extent if not lat_first else (extent[1], extent[0], *extent[3:1:-1])
    try:
        box = parse_bbox(raw, heights=False, area=True, degrees=crs != "EPSG:3857")
    except BboxError as exc:
        raise InvalidParameter(str(exc)) from None
    return tuple(box)  # type: ignore[return-value]


def _transform_bounds(
    box: tuple[float, float, float, float], source: str, target: str
) -> tuple[float, float, float, float]:
    if source == target:
        return box
    from pyproj import Transformer

    return Transformer.from_crs(source, target, always_xy=True).transform_bounds(*box)


def _to_lonlat(box: tuple[float, ...], crs: str, lat_first: bool) -> tuple[float, ...]:
    """A bbox as x-then-y in its CRS (EPSG:4326's latitude-first order swapped)."""
    if lat_first:
        return (box[1], box[0], box[3], box[2])
    return box


async def _map(
    request: Request, tileset: str, collections: list[str] | None, layers: list[Layer]
) -> Response:
    media = _format(request, None)
    out_crs, _ = _crs(request, "crs")
    bbox_crs, lat_first = _crs(request, "bbox-crs")
    source = "EPSG:3857" if bbox_crs == "EPSG:3857" else "OGC:CRS84"
    extent = await current_extent_async()
    box = _to_lonlat(_bbox(request, bbox_crs, lat_first, extent), bbox_crs, lat_first)
    target = "EPSG:3857" if out_crs == "EPSG:3857" else "OGC:CRS84"
    grid = _transform_bounds(box, source, target)  # type: ignore[arg-type]
    width, height = _side(request, "width"), _side(request, "height")
    aspect = (grid[2] - grid[0]) / (grid[3] - grid[1])
    if width is None and height is None:
        width = DEFAULT_SIDE if aspect >= 1 else max(1, round(DEFAULT_SIDE * aspect))
    if width is None:
        width = max(1, min(MAX_SIDE, round(height * aspect)))  # type: ignore[operator]
    if height is None:
        height = max(1, min(MAX_SIDE, round(width / aspect)))
    transparent = _flag(request, "transparent", collections is not None and len(layers) == 1)
    transparent = transparent and media == PNG
    style_id, style_json = map_style(collections, transparent, extent)
    svc = service()
    versions = await svc.current_versions()
    spec = f"{style_id}|{grid}|{target}|{width}x{height}|{media}"
    parts = [*svc.parts(tileset, layers), ("map", hashlib.sha256(spec.encode()).hexdigest())]
    etag = f'"{tileset_key(svc.versions.database, parts, versions)}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Crs": f"<{CRS_URIS[out_crs]}>",
        "Content-Bbox": ",".join(f"{v:.10g}" for v in _in_output(grid, out_crs)),
        **CORS,
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    style_id, style_json = at_version(style_id, style_json, etag.strip('"'))
    data = await run_in_threadpool(
        _draw_map, style_id, style_json, grid, target, width, height, media
    )
    return Response(data, media_type=media, headers=headers)


def _in_output(grid: tuple[float, ...], crs: str) -> tuple[float, ...]:
    return (grid[1], grid[0], grid[3], grid[2]) if crs == "EPSG:4326" else grid


def _draw_map(
    style_id: str,
    style: str,
    grid: tuple[float, float, float, float],
    crs: str,
    width: int,
    height: int,
    media: str,
) -> bytes:
    """Draw the grid's Web Mercator envelope at the finer of the two resolutions the size
    asks for, then resample it into the exact grid (a geographic grid, or an aspect ratio
    other than the bbox's; `_resample`). A Web Mercator PNG whose drawing is the asked size
    (within a pixel of rounding) is MapLibre Native's own PNG, never decoded and re-encoded;
    anything resampled is encoded with zlib level PNG_LEVEL (a third of level 6's time)."""
    from PIL import Image

    merc = _transform_bounds(grid, crs, "EPSG:3857")
    span_x, span_y = merc[2] - merc[0], merc[3] - merc[1]
    resolution = min(span_x / width, span_y / height)
    drawn_w, drawn_h = math.ceil(span_x / resolution), math.ceil(span_y / resolution)
    largest = max(drawn_w, drawn_h)
    if largest > 2 * MAX_SIDE:  # a very skewed grid: draw coarser, never huge
        resolution *= largest / (2 * MAX_SIDE)
        drawn_w, drawn_h = math.ceil(span_x / resolution), math.ceil(span_y / resolution)
    cx, cy = (merc[0] + merc[2]) / 2, (merc[1] + merc[3]) / 2
    centre = _transform_bounds((cx, cy, cx, cy), "EPSG:3857", "OGC:CRS84")[:2]
    as_drawn = abs(drawn_w - width) <= 1 and abs(drawn_h - height) <= 1
    # the equator's metres per pixel: MapLibre's zoom counts them, Web Mercator metres are them
    if crs == "EPSG:3857" and media == PNG and as_drawn:
        return renderer().image(style_id, style, centre, resolution, width, height)
    png = renderer().image(style_id, style, centre, resolution, drawn_w, drawn_h)
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    if crs == "EPSG:3857" and as_drawn:
        out = image.resize((width, height)) if image.size != (width, height) else image
    else:
        origin = (cx - drawn_w * resolution / 2, cy + drawn_h * resolution / 2)
        out = _resample(image, origin, resolution, grid, crs, width, height)
    buffer = io.BytesIO()
    if media == JPEG:
        out.convert("RGB").save(buffer, "JPEG", quality=88)
    else:
        out.save(buffer, "PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def _mercator(crs: str, xs: Any, ys: Any) -> tuple[Any, Any]:
    """Grid coordinates (x, y arrays) in Web Mercator metres: EPSG:3857's spherical formulas,
    x from the longitude alone, y from the latitude alone."""
    import numpy as np

    if crs == "EPSG:3857":
        return xs, ys
    return (
        WEB_MERCATOR_RADIUS * np.radians(xs),
        WEB_MERCATOR_RADIUS * np.log(np.tan(np.pi / 4 + np.radians(ys) / 2)),
    )


def _resample(
    image: Any,
    origin: tuple[float, float],
    resolution: float,
    grid: tuple[float, float, float, float],
    crs: str,
    width: int,
    height: int,
) -> Any:
    """The drawn Web Mercator image (its top-left corner at `origin`, square pixels of
    `resolution` metres) bilinearly resampled at the centres of the grid's pixels. Web
    Mercator to lon/lat is separable and its columns are linear; when its rows are too
    within a quarter pixel (any city-sized map), it is one Pillow resize of a box (~10 ms for
    1000x1000); else the rows are interpolated, then the columns, in numpy (~100 ms; rasterio's
    general warp took 250-950 ms)."""
    import numpy as np
    from PIL import Image

    xs = grid[0] + (np.arange(width) + 0.5) * (grid[2] - grid[0]) / width
    ys = grid[3] - (np.arange(height) + 0.5) * (grid[3] - grid[1]) / height
    xs, ys = _mercator(crs, xs, ys)
    columns = (xs - origin[0]) / resolution  # where the pixel centres fall in the drawing
    rows = (origin[1] - ys) / resolution
    edges_x, edges_y = _mercator(crs, np.array(grid[0::2]), np.array(grid[3:0:-2]))
    box = (
        (edges_x[0] - origin[0]) / resolution,
        (origin[1] - edges_y[0]) / resolution,
        (edges_x[1] - origin[0]) / resolution,
        (origin[1] - edges_y[1]) / resolution,
    )
    straight = box[1] + (np.arange(height) + 0.5) * (box[3] - box[1]) / height
    if np.abs(rows - straight).max() <= 0.25:
        return image.resize((width, height), Image.Resampling.BILINEAR, box=box)

    def taps(where: Any, size: int) -> tuple[Any, Any, Any]:
        """The two source pixels around each position and the second one's weight."""
        where = np.clip(where - 0.5, 0, size - 1)
        low = np.floor(where).astype(np.intp)
        return low, np.minimum(low + 1, size - 1), (where - low).astype(np.float32)

    source = np.asarray(image).astype(np.float32)
    top, bottom, down = taps(rows, source.shape[0])
    down = down[:, None, None]
    by_rows = source[top] * (1 - down) + source[bottom] * down
    left, right, across = taps(columns, source.shape[1])
    across = across[None, :, None]
    out = by_rows[:, left] * (1 - across) + by_rows[:, right] * across
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGBA")


@answers_errors
async def dataset_map(request: Request) -> Response:
    value = request.query_params.get("collections")
    tileset, layers = selection_tileset(value)
    if value is None:
        shown = [layer for layer in layers if layer.visible]
        return await _map(request, SHOWN_LAYERS, None, shown)
    return await _map(request, tileset, [layer.name for layer in layers], layers)


@answers_errors
async def layer_map(request: Request) -> Response:
    layer = _layer(request.path_params["layer"])
    return await _map(request, layer.name, [layer.name], [layer])

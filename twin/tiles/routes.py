"""HTTP handlers of the tiles (their rows in the route table: twin/http/routes.py).

Per layer:   /collections/{layer}/tiles[/WebMercatorQuad[/tilejson.json|/{z}/{y}/{x}]]
All layers:  /tiles[/WebMercatorQuad[/tilejson.json|/{z}/{y}/{x}]]  (source-layer = layer name);
             a tile takes ?collections=a,b (OGC API Tiles "collections selection"): only those
             layers, so a map that shows a few layers fetches one tile per address, not one per
             layer
Terrain:     /terrain/tilejson.json, /terrain/tiles/WebMercatorQuad/{z}/{y}/{x}.png,
             /collections/terrain (coverage description), /collections/terrain/coverage
Matrix sets: /tileMatrixSets, /tileMatrixSets/WebMercatorQuad

A tile request: hot tiles are answered from memory before any middleware (twin/tiles/
fastpath.py); otherwise versions (cached ≤ TTL) -> key -> If-None-Match 304, or the file on
disk, or one SQL statement (in a worker thread) whose bytes are stored under the key after the
answer is sent. Every tile served goes into the hot-tile memory. Empty tiles are 204.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import rasterio
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from twin.bbox import BboxError, parse_bbox
from twin.catalog import Layer, load_catalog
from twin.db.pool import connection
from twin.errors import InvalidParameter, ServiceUnavailable, TwinError
from twin.extent import current_extent_async
from twin.features.ids import canonical_integer
from twin.features.params import AsOf
from twin.http import bridge
from twin.http.conditional import etag_matches
from twin.http.errors import render
from twin.settings import get_settings
from twin.sqlfiles import query, text
from twin.tiles import metadata
from twin.tiles.cache import tileset_key
from twin.tiles.matrix import (
    WEB_MERCATOR_QUAD,
    TileAddress,
    TileRequestError,
    check_matrix_set,
    parse_address,
    split_extension,
    tile_matrix_set_document,
)
from twin.tiles.service import ALL_LAYERS, TileService, selected_names, selection_id, service
from twin.tiles.terrain_tiles import (
    HILLSHADE_POLICY_VERSION,
    MAX_TERRAIN_ZOOM,
    TERRAIN_POLICY_VERSION,
    native_zoom,
    render_hillshade_tile,
    render_terrain_tile,
    terrain_extent,
)
from twin.tiles.timed import TileTime, as_it_is, tile_time
from twin.tiles.vector import ensure_overviews, in_zoom_range, render_tile

CACHE_CONTROL = "public, max-age=30"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
VECTOR_FORMATS = ("mvt", "pbf")
VECTOR_F_VALUES = {"mvt", "pbf", MVT_TYPE}
TERRAIN = "terrain"
CORS = {"Access-Control-Allow-Origin": "*"}
# what else decides a dated tile's bytes: the history SQL the as-of tiles read
TIMED_SQL = hashlib.sha256(
    "".join(
        text(name)
        for name in (
            "features/as_of",
            "features/as_of_changed",
            "tiles/as_of_layer",
            "tiles/overview_as_of_mvt",
            "tiles/not_begun",
        )
    ).encode()
).hexdigest()[:8]
REQUEST_LIMITS = {
    "lock_ms": str(get_settings().tiles.lock_timeout_ms),
    "statement_ms": str(get_settings().tiles.statement_timeout_ms),
}

Handler = Callable[[Request], Awaitable[Response]]


class LayerBusy(ServiceUnavailable):
    """A tile that cannot be made now (its layer is being rewritten, or the database is behind
    the catalog): come back later."""


def answers_errors(handler: Handler) -> Handler:
    """A TileRequestError (or any TwinError) becomes the one error answer, with CORS, never
    a 500."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except TwinError as exc:
            return render(exc, CORS)

    return wrapped


def _json(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document, headers=CORS)


def _base(request: Request) -> str:
    return metadata.server_url(str(request.base_url))


def _layers() -> list[Layer]:
    return list(load_catalog().values())


def _layer(name: str) -> Layer:
    layers = load_catalog()
    if name not in layers:
        raise TileRequestError(
            f"unknown collection {name!r}: tiles exist for {', '.join(layers)} (and terrain)"
        )
    return layers[name]


def _not_modified(request: Request, etag: str) -> bool:
    return etag_matches(request.headers.get("if-none-match"), etag)


def _check_vector_format(request: Request, extension: str | None) -> None:
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in VECTOR_F_VALUES:
        raise TileRequestError(
            f"unknown tile format f={requested!r} for vector tiles; "
            "use f=mvt (application/vnd.mapbox-vector-tile)",
            status=400,
            code="InvalidParameterValue",
        )


# f= values a metadata document (tileset list, tileset, TileJSON, matrix set, terrain) answers:
# all with its JSON, html too (pygeoapi's HTML pages link here with f=html).
DOCUMENT_F_VALUES = {
    "json",
    "application/json",
    "html",
    "text/html",
    "jsonld",
    "application/ld+json",
}


def _check_document_format(request: Request) -> None:
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in DOCUMENT_F_VALUES:
        raise TileRequestError(
            f"unknown format f={requested!r}: this document is JSON (f=json)",
            status=400,
            code="InvalidParameterValue",
        )


def _headers(etag: str, state: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Tile-Cache": state, **CORS}


async def _vector_tile(
    request: Request,
    tileset: str,
    layers: list[Layer],
    address: TileAddress,
    filters: dict[str, int] | None = None,
    when: TileTime | None = None,
) -> Response:
    svc = service()
    versions = await svc.current_versions()
    if when is None:
        key = svc.key(tileset, layers, versions)
    else:  # worked out each time: every instant is a tileset of its own, none is remembered
        parts = svc.parts(layers[0].name, layers) + [("datetime", when.key + TIMED_SQL)]
        key = tileset_key(svc.versions.database, parts, versions)
    etag = f'"{key}"'
    if when is not None and not when.cacheable():
        data = await run_in_threadpool(_render, layers, address, filters, when)
        return Response(
            data,
            status_code=200 if data else 204,
            media_type=MVT_TYPE,
            headers={**_headers(etag, "miss"), "Cache-Control": "no-cache"},
        )
    if _not_modified(request, etag):
        return Response(status_code=304, headers=_headers(etag, "revalidated"))
    path = svc.cache.path(tileset, key, address, "mvt")
    data = svc.cache.read(path)
    state = "hit"
    store = None
    if data is None:
        state = "miss"
        data = await run_in_threadpool(_render, layers, address, filters, when)
        # stored on disk once the answer is out; memory serves it meanwhile
        store = BackgroundTask(svc.cache.write, tileset, key, path, data)
    svc.memory.put((tileset, key, address.z, address.x, address.y), etag, CACHE_CONTROL, data)
    return Response(
        data,
        status_code=200 if data else 204,
        media_type=MVT_TYPE,
        headers=_headers(etag, state),
        background=store,
    )


def _render(
    layers: list[Layer],
    address: TileAddress,
    filters: dict[str, int] | None = None,
    when: TileTime | None = None,
    part: TileAddress | None = None,
) -> bytes:
    """One tile from the database: stale overviews first (rare), then one statement under the
    request's lock and statement timeouts, sent in a pipeline (one round trip). `part`: the
    features touching that child tile only (the map renderer's: twin.maps.render)."""
    try:
        with connection() as conn:
            direct: set[str] = set()  # stale overviews a replica draws from the layer tables
            if not filters and (when is None or when.as_of is not None):  # filtered: the table
                direct = ensure_overviews(conn, layers, address.z)  # rare: after a data change
            with conn.pipeline(), conn.transaction():
                conn.execute(query("tiles/request_limits"), REQUEST_LIMITS)
                return render_tile(
                    conn, layers, address, ensure=False, filters=filters, direct=direct,
                    when=when, part=part,
                )  # fmt: skip
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        raise LayerBusy(
            "the layer is being rewritten (an import or a load is running) "
            "or the tile took too long; retry in a few seconds"
        ) from None
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        raise LayerBusy(
            "the database is behind the layer catalog "
            f"({exc.diag.message_primary}): run `twin migrate`"
        ) from None


@answers_errors
async def layer_tile(request: Request) -> Response:
    params = request.path_params
    layer = _layer(params["layer"])
    check_matrix_set(params["tms"])
    col, extension = split_extension(params["x"], VECTOR_FORMATS)
    _check_vector_format(request, extension)
    address = parse_address(params["z"], params["y"], col)
    if not in_zoom_range(layer, address.z):
        raise TileRequestError(
            f"collection {layer.name!r} has tiles at tile matrices "
            f"{layer.minzoom}-{layer.maxzoom} only, not {address.z}"
        )
    filters = tile_filters(request, layer)
    moment = request.query_params.get("datetime")
    when = None if moment is None else tile_time(layer, moment)
    as_of = when.as_of if when is not None else None
    if as_of and await run_in_threadpool(_as_it_is, layer, as_of):
        when = None  # the layer as of then is the layer now: the undated tile, exactly
    if filters or when:  # its own tileset: cached apart, e.g. plan_cells~plan-12, parks@1a2b..
        tileset = layer.name + "".join(f"~{name}-{value}" for name, value in filters.items())
        tileset += when.suffix if when else ""
        return await _vector_tile(request, tileset, [layer], address, filters, when)
    return await _vector_tile(request, layer.name, [layer], address)


def _as_it_is(layer: Layer, as_of: AsOf) -> bool:
    with connection() as conn:
        return as_it_is(conn, layer, as_of)


def tile_filters(request: Request, layer: Layer) -> dict[str, int]:
    """The layer's tile filters the request gives (`?plan=12` on plan_cells: the catalog's
    `tiles.filters`), each a plain decimal integer (400 otherwise); a filter of another layer
    is refused here (400), not silently ignored."""
    owners = {name: other.name for other in load_catalog().values() for name in other.tile_filters}
    foreign = sorted(
        name for name in owners if name in request.query_params and name not in layer.tile_filters
    )
    if foreign:
        raise TileRequestError(
            f"{foreign[0]} filters the tiles of {owners[foreign[0]]} only, not of {layer.name}",
            status=400,
            code="InvalidParameterValue",
        )
    filters: dict[str, int] = {}
    for name in layer.tile_filters:
        raw = request.query_params.get(name)
        if raw is None:
            continue
        value = canonical_integer(raw)
        if value is None or value > 2**63 - 1:
            raise TileRequestError(
                f"{name} must be a plain decimal integer, got {raw[:40]!r}",
                status=400,
                code="InvalidParameterValue",
            )
        filters[name] = value
    return filters


def selection_tileset(value: str | None) -> tuple[str, list[Layer]]:
    """The tileset id and layers of a `collections` query value (None: every layer)."""
    catalog = load_catalog()
    if value is None:
        return ALL_LAYERS, list(catalog.values())
    names = selected_names(value)
    if not names:
        raise TileRequestError(
            "collections= names no collection: give a comma-separated list "
            "such as collections=plots,buildings",
            status=400,
            code="InvalidParameterValue",
        )
    unknown = sorted(names - set(catalog))
    if unknown:
        raise TileRequestError(
            f"unknown collection(s) {', '.join(map(repr, unknown))} in "
            f"collections=; the tiles hold {', '.join(catalog)}",
            status=400,
            code="InvalidParameterValue",
        )
    layers = [layer for name, layer in catalog.items() if name in names]  # catalog order
    tileset = selection_id(value)
    service().remember_selection(tileset, [layer.name for layer in layers])
    return tileset, layers


@answers_errors
async def dataset_tile(request: Request) -> Response:
    params = request.path_params
    check_matrix_set(params["tms"])
    col, extension = split_extension(params["x"], VECTOR_FORMATS)
    _check_vector_format(request, extension)
    address = parse_address(params["z"], params["y"], col)
    if "datetime" in request.query_params:
        raise TileRequestError(
            "datetime applies to one collection's tiles: ask "
            "/collections/{collectionId}/tiles/WebMercatorQuad/{z}/{y}/{x}?datetime=...",
            status=400,
            code="InvalidParameterValue",
        )
    tileset, layers = selection_tileset(request.query_params.get("collections"))
    if not any(in_zoom_range(layer, address.z) for layer in layers):
        raise TileRequestError(f"no selected layer has tiles at tile matrix {address.z}")
    return await _vector_tile(request, tileset, layers, address)


@answers_errors
async def layer_tilesets(request: Request) -> Response:
    _check_document_format(request)
    name = request.path_params["layer"]
    if name == TERRAIN:
        return _json(_terrain_tilesets(_base(request)))
    layer = _layer(name)
    return _json(
        metadata.tileset_list([layer], _base(request), f"/collections/{name}/tiles", layer.title)
    )


@answers_errors
async def layer_tileset(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    check_matrix_set(request.path_params["tms"])
    path = f"/collections/{layer.name}/tiles/{WEB_MERCATOR_QUAD}"
    extent = await current_extent_async()
    return _json(
        metadata.tileset([layer], _base(request), path, layer.title, layer.description, extent)
    )


@answers_errors
async def layer_tilejson(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    check_matrix_set(request.path_params["tms"])
    path = f"/collections/{layer.name}/tiles/{WEB_MERCATOR_QUAD}"
    extent = await current_extent_async()
    return _json(
        metadata.tilejson([layer], _base(request), path, layer.name, layer.description, extent)
    )


DATASET_TITLE = "Almaty Twin"
DATASET_DESCRIPTION = "Every layer of the twin in one vector tileset (source-layer = layer name)"


@answers_errors
async def dataset_tilesets(request: Request) -> Response:
    _check_document_format(request)
    return _json(metadata.tileset_list(_layers(), _base(request), "/tiles", DATASET_TITLE))


@answers_errors
async def dataset_tileset(request: Request) -> Response:
    _check_document_format(request)
    check_matrix_set(request.path_params["tms"])
    return _json(
        metadata.tileset(
            _layers(),
            _base(request),
            f"/tiles/{WEB_MERCATOR_QUAD}",
            DATASET_TITLE,
            DATASET_DESCRIPTION,
            await current_extent_async(),
        )
    )


@answers_errors
async def dataset_tilejson(request: Request) -> Response:
    _check_document_format(request)
    check_matrix_set(request.path_params["tms"])
    return _json(
        metadata.tilejson(
            _layers(),
            _base(request),
            f"/tiles/{WEB_MERCATOR_QUAD}",
            "almaty-twin",
            DATASET_DESCRIPTION,
            await current_extent_async(),
        )
    )


@answers_errors
async def tile_matrix_sets(request: Request) -> Response:
    _check_document_format(request)
    return _json(metadata.tile_matrix_set_list(_base(request)))


@answers_errors
async def tile_matrix_set(request: Request) -> Response:
    _check_document_format(request)
    check_matrix_set(request.path_params["tms"])
    return _json(tile_matrix_set_document())


# --- terrain ----------------------------------------------------------------------------------


def _terrain_file() -> str | None:
    from twin.terrain import terrain_path

    path = terrain_path()
    return str(path) if path else None


def _no_terrain() -> TileRequestError:
    return TileRequestError(
        "no terrain model is loaded: load one with `twin load demo` (or store_terrain)"
    )


def _terrain_tilesets(base: str) -> dict[str, Any]:
    return {
        "tilesets": [
            {
                "title": "Terrain model on WebMercatorQuad (Terrarium PNG)",
                "dataType": "map",
                "crs": metadata.CRS_3857,
                "tileMatrixSetURI": metadata.TMS_URI,
                "links": [
                    {
                        "rel": metadata.REL_TILING_SCHEME,
                        "type": metadata.JSON,
                        "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                    },
                    {
                        "rel": "item",
                        "type": "image/png",
                        "templated": True,
                        "href": f"{base}/terrain/tiles/{WEB_MERCATOR_QUAD}/"
                        "{tileMatrix}/{tileRow}/{tileCol}.png",
                    },
                    {
                        "rel": "alternate",
                        "type": metadata.TILEJSON_TYPE,
                        "href": f"{base}/terrain/tilejson.json",
                    },
                ],
            }
        ],
        "links": [
            {"rel": "self", "type": metadata.JSON, "href": f"{base}/collections/terrain/tiles"}
        ],
    }


@answers_errors
async def terrain_tile(request: Request) -> Response:
    """A raster-dem tile of the terrain (Terrarium PNG: elevation in its colours)."""
    return await _terrain_raster(request, "elevation")


@answers_errors
async def hillshade_tile(request: Request) -> Response:
    """A tile of the terrain's shaded relief (translucent PNG, drawn once and cached)."""
    return await _terrain_raster(request, "hillshade")


# What each kind of terrain tile is: its renderer, the cache key's policy, what f=png means.
TERRAIN_RASTERS: dict[str, tuple[Callable[[str, TileAddress], bytes | None], str, str]] = {
    "elevation": (
        render_terrain_tile,
        f"policy-{TERRAIN_POLICY_VERSION}",
        "f=png (Terrarium-encoded PNG)",
    ),
    "hillshade": (
        render_hillshade_tile,
        f"hillshade-{HILLSHADE_POLICY_VERSION}",
        "f=png (shaded relief, PNG with alpha)",
    ),
}


async def _terrain_raster(request: Request, kind: str) -> Response:
    params = request.path_params
    check_matrix_set(params["tms"])
    col, _ = split_extension(params["x"], ("png",))
    requested = request.query_params.get("f")
    render, policy, advice = TERRAIN_RASTERS[kind]
    if requested is not None and requested.lower() not in {"png", "image/png"}:
        raise TileRequestError(
            f"unknown tile format f={requested!r} for terrain tiles; use {advice}",
            status=400,
            code="InvalidParameterValue",
        )
    address = parse_address(params["z"], params["y"], col)
    if address.z > MAX_TERRAIN_ZOOM:
        raise TileRequestError(
            f"terrain tiles go to tile matrix {MAX_TERRAIN_ZOOM}; "
            f"overzoom {address.z} in the client"
        )
    svc = service()
    versions = await svc.current_versions()
    if TERRAIN not in versions:
        raise _no_terrain()
    key = tileset_key(svc.versions.database, [(TERRAIN, policy)], versions)
    etag = f'"{key}"'
    if _not_modified(request, etag):
        return Response(status_code=304, headers=_headers(etag, "revalidated"))
    path = svc.cache.path(TERRAIN, key, address, "png")
    data = svc.cache.read(path)
    state = "hit"
    if data is None:
        state = "miss"
        data = await run_in_threadpool(_render_terrain_and_store, svc, render, key, path, address)
    if not data:
        raise TileRequestError(f"terrain tile {address} is outside the terrain model")
    return Response(data, media_type="image/png", headers=_headers(etag, state))


def _render_terrain_and_store(
    svc: TileService,
    render: Callable[[str, TileAddress], bytes | None],
    key: str,
    path,
    address: TileAddress,
) -> bytes:
    terrain = _terrain_file()
    if terrain is None:
        raise _no_terrain()
    data = render(terrain, address) or b""
    svc.cache.write(TERRAIN, key, path, data)
    return data


def _terrain_summary() -> tuple[str | None, tuple[float, float, float, float] | None, float]:
    terrain = _terrain_file()
    if terrain is None:
        return None, None, 0.0
    bounds, resolution = terrain_extent(terrain)
    return terrain, bounds, resolution


@answers_errors
async def terrain_tilejson(request: Request) -> Response:
    return await _terrain_tilejson(request, metadata.terrain_tilejson)


@answers_errors
async def hillshade_tilejson(request: Request) -> Response:
    return await _terrain_tilejson(request, metadata.hillshade_tilejson)


async def _terrain_tilejson(
    request: Request,
    document: Callable[[str, tuple[float, float, float, float], int], dict[str, Any]],
) -> Response:
    """A TileJSON of the terrain's tiles (elevation or relief) to the model's native zoom."""
    _check_document_format(request)
    terrain, bounds, resolution = await run_in_threadpool(_terrain_summary)
    if terrain is None:
        raise _no_terrain()
    maxzoom = native_zoom(resolution, (bounds[1] + bounds[3]) / 2)
    return _json(document(_base(request), bounds, maxzoom))


# (trusted until, bounds) of the last terrain_bounds() read: /collections lists the terrain
_terrain_read: tuple[float, tuple[float, float, float, float] | None] = (0.0, None)


async def terrain_bounds() -> tuple[float, float, float, float] | None:
    """The terrain model's lon/lat bounds (None when none is loaded), for the /collections
    list; trusted for TWIN_TILE_VERSION_TTL like the city's extent."""
    global _terrain_read
    now = time.monotonic()
    if now >= _terrain_read[0]:
        try:
            _, bounds, _ = await run_in_threadpool(_terrain_summary)
        except (psycopg.Error, rasterio.errors.RasterioError, OSError):
            bounds = None  # the list is still served (the configured box) without a database
        _terrain_read = (now + get_settings().tiles.version_ttl_s, bounds)
    return _terrain_read[1]


def _terrain_details() -> dict[str, Any]:
    with connection() as conn:
        row = conn.execute(query("tiles/layer_details"), {"name": TERRAIN}).fetchone()
    return dict(row[0]) if row and row[0] else {}


@answers_errors
async def terrain_collection(request: Request) -> Response:
    _check_document_format(request)
    _, bounds, _ = await run_in_threadpool(_terrain_summary)
    details = await run_in_threadpool(_terrain_details) if bounds else {}
    return _json(metadata.terrain_collection(_base(request), bounds, details))


COVERAGE_FORMATS = {
    "gtiff": "GTiff",
    "tif": "GTiff",
    "tiff": "GTiff",
    "geotiff": "GTiff",
    "image/tiff": "GTiff",
    "json": "json",
    "covjson": "json",
    "application/prs.coverage+json": "json",
}
MAX_COVJSON_CELLS = 1_000_000


def _bbox(value: str | None) -> list[float]:
    if value is None:
        return []
    try:  # in CRS84 degrees, with an area, no heights
        return list(parse_bbox(value, heights=False, degrees=True, area=True))
    except BboxError as exc:
        raise TileRequestError(str(exc), status=400, code="InvalidParameterValue") from None


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _check_bbox_crs(value: str | None) -> None:
    """The coverage's bbox is in CRS84 (lon, lat); another bbox-crs is refused, not ignored."""
    if value is not None and value.strip().strip("[]<>") not in (CRS84, "OGC:CRS84"):
        raise TileRequestError(
            f"bbox-crs {value!r} is not supported: give the bbox in {CRS84} (longitude, latitude)",
            status=400,
            code="InvalidParameterValue",
        )


def _coverage(terrain: str, bbox: list[float], format_: str) -> Any:
    """A part of the terrain model (or all of it) in `format_`, cut by pygeoapi's rasterio
    provider (reached through the bridge)."""
    if format_ == "json" and not bbox:
        with rasterio.open(terrain) as dataset:
            width, height = dataset.width, dataset.height
        if width * height > MAX_COVJSON_CELLS:
            raise InvalidParameter(
                f"the whole terrain model is {width}x{height} cells, too many for "
                "CoverageJSON: ask for a bbox, or use f=GTiff"
            )
    return bridge.coverage_query(terrain, bbox, format_, what="terrain coverage")


@answers_errors
async def terrain_coverage(request: Request) -> Response:
    requested = request.query_params.get("f", "GTiff")
    format_ = COVERAGE_FORMATS.get(requested.lower())
    if format_ is None:
        raise TileRequestError(
            f"unknown coverage format f={requested!r}; use f=GTiff "
            "(GeoTIFF) or f=json (CoverageJSON)",
            status=400,
            code="InvalidParameterValue",
        )
    bbox = _bbox(request.query_params.get("bbox"))
    _check_bbox_crs(request.query_params.get("bbox-crs"))
    terrain = await run_in_threadpool(_terrain_file)
    if terrain is None:
        raise _no_terrain()
    if format_ == "GTiff" and not bbox:
        return FileResponse(
            terrain,
            media_type="image/tiff; application=geotiff",
            filename="terrain.tif",
            headers=CORS,
        )
    result = await run_in_threadpool(_coverage, terrain, bbox, format_)
    if format_ == "json":
        return JSONResponse(result, media_type="application/prs.coverage+json", headers=CORS)
    return Response(
        result,
        media_type="image/tiff; application=geotiff",
        headers={"Content-Disposition": 'attachment; filename="terrain.tif"', **CORS},
    )


# Beyond pygeoapi's own Tiles classes: /tiles (every layer) and its collections= selection;
# declared to pygeoapi's /conformance by twin.http.app through the bridge.
CONFORMANCE_ADDED = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/collections-selection",
]

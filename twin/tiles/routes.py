"""HTTP routes of the tiles (mounted before pygeoapi by twin/app.py ROUTE_FACTORIES).

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
import math
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from twin.app import error_response
from twin.catalog import Layer, load_catalog
from twin.db.pool import connection
from twin.sqlfiles import query
from twin.tiles import metadata
from twin.tiles.cache import LayerVersions, TileCache, tileset_key
from twin.tiles.fastpath import HotTiles
from twin.tiles.matrix import (WEB_MERCATOR_QUAD, TileAddress, TileRequestError,
                               check_matrix_set, parse_address, split_extension,
                               tile_matrix_set_document)
from twin.tiles.terrain_tiles import (MAX_TERRAIN_ZOOM, TERRAIN_POLICY_VERSION, native_zoom,
                                      render_terrain_tile, terrain_extent)
from twin.tiles.vector import (ensure_overviews, in_zoom_range, policy_fingerprint,
                               render_tile)

CACHE_CONTROL = "public, max-age=30"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
VECTOR_FORMATS = ("mvt", "pbf")
VECTOR_F_VALUES = {"mvt", "pbf", MVT_TYPE}
ALL_LAYERS = "_all"
SELECTION_PREFIX = "_sel-"   # tileset id of a `collections=` selection: prefix + digest
MAX_SELECTIONS = 64
TERRAIN = "terrain"
CORS = {"Access-Control-Allow-Origin": "*"}
REQUEST_LIMITS = {"lock_ms": os.environ.get("TWIN_TILE_LOCK_TIMEOUT_MS", "3000"),
                  "statement_ms": os.environ.get("TWIN_TILE_STATEMENT_TIMEOUT_MS", "30000")}

Handler = Callable[[Request], Awaitable[Response]]


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
        if tileset in self.selections:
            return self.key(tileset, [layers[name] for name in self.selections[tileset]],
                            versions)
        if tileset not in layers:
            return None
        return self.key(tileset, [layers[tileset]], versions)

    async def current_versions(self) -> dict[str, int]:
        if self.versions.fresh():
            return self.versions.cached()
        return await run_in_threadpool(self.versions.get)


SERVICE: TileService | None = None


def service() -> TileService:
    global SERVICE
    if SERVICE is None:
        SERVICE = TileService()
    return SERVICE


def answers_errors(handler: Handler) -> Handler:
    """A TileRequestError becomes its 4xx JSON (OGC exception codes), never a 500."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except TileRequestError as exc:
            response = error_response(exc.status, exc.code, str(exc))
            response.headers.update(CORS)
            if exc.status == 503:
                response.headers["Retry-After"] = "5"
            return response

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
        raise TileRequestError(f"unknown collection {name!r}: tiles exist for "
                               f"{', '.join(layers)} (and terrain)")
    return layers[name]


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


def _check_vector_format(request: Request, extension: str | None) -> None:
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in VECTOR_F_VALUES:
        raise TileRequestError(f"unknown tile format f={requested!r} for vector tiles; "
                               "use f=mvt (application/vnd.mapbox-vector-tile)",
                               status=400, code="InvalidParameterValue")


# f= values a metadata document (tileset list, tileset, TileJSON, matrix set, terrain) answers:
# all with its JSON, html too (pygeoapi's HTML pages link here with f=html).
DOCUMENT_F_VALUES = {"json", "application/json", "html", "text/html", "jsonld",
                     "application/ld+json"}


def _check_document_format(request: Request) -> None:
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in DOCUMENT_F_VALUES:
        raise TileRequestError(f"unknown format f={requested!r}: this document is JSON "
                               "(f=json)", status=400, code="InvalidParameterValue")


def _headers(etag: str, state: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Tile-Cache": state, **CORS}


async def _vector_tile(request: Request, tileset: str, layers: list[Layer],
                       address: TileAddress) -> Response:
    svc = service()
    versions = await svc.current_versions()
    key = svc.key(tileset, layers, versions)
    etag = f'"{key}"'
    if _not_modified(request, etag):
        return Response(status_code=304, headers=_headers(etag, "revalidated"))
    path = svc.cache.path(tileset, key, address, "mvt")
    data = svc.cache.read(path)
    state = "hit"
    store = None
    if data is None:
        state = "miss"
        data = await run_in_threadpool(_render, layers, address)
        # stored on disk once the answer is out; memory serves it meanwhile
        store = BackgroundTask(svc.cache.write, tileset, key, path, data)
    svc.memory.put((tileset, key, address.z, address.x, address.y), etag, CACHE_CONTROL, data)
    return Response(data, status_code=200 if data else 204, media_type=MVT_TYPE,
                    headers=_headers(etag, state), background=store)


def _render(layers: list[Layer], address: TileAddress) -> bytes:
    """One tile from the database: stale overviews first (rare), then one statement under the
    request's lock and statement timeouts, sent in a pipeline (one round trip)."""
    try:
        with connection() as conn:
            ensure_overviews(conn, layers, address.z)      # rare: after a data change
            with conn.pipeline(), conn.transaction():
                conn.execute(query("tiles/request_limits"), REQUEST_LIMITS)
                return render_tile(conn, layers, address, ensure=False)
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        raise TileRequestError("the layer is being rewritten (an import or a load is running) "
                               "or the tile took too long; retry in a few seconds", status=503,
                               code="ServiceUnavailable") from None
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        raise TileRequestError("the database is behind the layer catalog "
                               f"({exc.diag.message_primary}): run `twin migrate`", status=503,
                               code="ServiceUnavailable") from None


@answers_errors
async def layer_tile(request: Request) -> Response:
    params = request.path_params
    layer = _layer(params["layer"])
    check_matrix_set(params["tms"])
    col, extension = split_extension(params["x"], VECTOR_FORMATS)
    _check_vector_format(request, extension)
    address = parse_address(params["z"], params["y"], col)
    if not in_zoom_range(layer, address.z):
        raise TileRequestError(f"collection {layer.name!r} has tiles at tile matrices "
                               f"{layer.minzoom}-{layer.maxzoom} only, not {address.z}")
    return await _vector_tile(request, layer.name, [layer], address)


def _selected_names(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


def selection_id(value: str) -> str:
    """The tileset id of a `collections` query value: the same for the same names in any
    order (the fast path looks hot tiles up under it)."""
    return SELECTION_PREFIX + hashlib.sha256(
        ",".join(sorted(_selected_names(value))).encode()).hexdigest()[:12]


def selection_tileset(value: str | None) -> tuple[str, list[Layer]]:
    """The tileset id and layers of a `collections` query value (None: every layer)."""
    catalog = load_catalog()
    if value is None:
        return ALL_LAYERS, list(catalog.values())
    names = _selected_names(value)
    if not names:
        raise TileRequestError("collections= names no collection: give a comma-separated list "
                               "such as collections=plots,buildings", status=400,
                               code="InvalidParameterValue")
    unknown = sorted(names - set(catalog))
    if unknown:
        raise TileRequestError(f"unknown collection(s) {', '.join(map(repr, unknown))} in "
                               f"collections=; the tiles hold {', '.join(catalog)}",
                               status=400, code="InvalidParameterValue")
    layers = [layer for name, layer in catalog.items() if name in names]   # catalog order
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
    return _json(metadata.tileset_list([layer], _base(request), f"/collections/{name}/tiles",
                                       layer.title))


@answers_errors
async def layer_tileset(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    check_matrix_set(request.path_params["tms"])
    path = f"/collections/{layer.name}/tiles/{WEB_MERCATOR_QUAD}"
    return _json(metadata.tileset([layer], _base(request), path, layer.title,
                                  layer.description))


@answers_errors
async def layer_tilejson(request: Request) -> Response:
    _check_document_format(request)
    layer = _layer(request.path_params["layer"])
    check_matrix_set(request.path_params["tms"])
    path = f"/collections/{layer.name}/tiles/{WEB_MERCATOR_QUAD}"
    return _json(metadata.tilejson([layer], _base(request), path, layer.name,
                                   layer.description))


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
    return _json(metadata.tileset(_layers(), _base(request), f"/tiles/{WEB_MERCATOR_QUAD}",
                                  DATASET_TITLE, DATASET_DESCRIPTION))


@answers_errors
async def dataset_tilejson(request: Request) -> Response:
    _check_document_format(request)
    check_matrix_set(request.path_params["tms"])
    return _json(metadata.tilejson(_layers(), _base(request), f"/tiles/{WEB_MERCATOR_QUAD}",
                                   "almaty-twin", DATASET_DESCRIPTION))


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
    return TileRequestError("no terrain model is loaded: load one with `twin load demo` "
                            "(or store_terrain)")


def _terrain_tilesets(base: str) -> dict[str, Any]:
    return {"tilesets": [{"title": "Terrain model on WebMercatorQuad (Terrarium PNG)",
                          "dataType": "map", "crs": metadata.CRS_3857,
                          "tileMatrixSetURI": metadata.TMS_URI,
                          "links": [
                              {"rel": metadata.REL_TILING_SCHEME, "type": metadata.JSON,
                               "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}"},
                              {"rel": "item", "type": "image/png", "templated": True,
                               "href": f"{base}/terrain/tiles/{WEB_MERCATOR_QUAD}/"
                                       "{tileMatrix}/{tileRow}/{tileCol}.png"},
                              {"rel": "alternate", "type": metadata.TILEJSON_TYPE,
                               "href": f"{base}/terrain/tilejson.json"}]}],
            "links": [{"rel": "self", "type": metadata.JSON,
                       "href": f"{base}/collections/terrain/tiles"}]}


@answers_errors
async def terrain_tile(request: Request) -> Response:
    params = request.path_params
    check_matrix_set(params["tms"])
    col, extension = split_extension(params["x"], ("png",))
    requested = request.query_params.get("f")
    if requested is not None and requested.lower() not in {"png", "image/png"}:
        raise TileRequestError(f"unknown tile format f={requested!r} for terrain tiles; "
                               "use f=png (Terrarium-encoded PNG)", status=400,
                               code="InvalidParameterValue")
    address = parse_address(params["z"], params["y"], col)
    if address.z > MAX_TERRAIN_ZOOM:
        raise TileRequestError(f"terrain tiles go to tile matrix {MAX_TERRAIN_ZOOM}; "
                               f"overzoom {address.z} in the client")
    svc = service()
    versions = await svc.current_versions()
    if TERRAIN not in versions:
        raise _no_terrain()
    key = tileset_key(svc.versions.database,
                      [(TERRAIN, f"policy-{TERRAIN_POLICY_VERSION}")], versions)
    etag = f'"{key}"'
    if _not_modified(request, etag):
        return Response(status_code=304, headers=_headers(etag, "revalidated"))
    path = svc.cache.path(TERRAIN, key, address, "png")
    data = svc.cache.read(path)
    state = "hit"
    if data is None:
        state = "miss"
        data = await run_in_threadpool(_render_terrain_and_store, svc, key, path, address)
    if not data:
        raise TileRequestError(f"terrain tile {address} is outside the terrain model")
    return Response(data, media_type="image/png", headers=_headers(etag, state))


def _render_terrain_and_store(svc: TileService, key: str, path, address: TileAddress) -> bytes:
    terrain = _terrain_file()
    if terrain is None:
        raise _no_terrain()
    data = render_terrain_tile(terrain, address) or b""
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
    _check_document_format(request)
    terrain, bounds, resolution = await run_in_threadpool(_terrain_summary)
    if terrain is None:
        raise _no_terrain()
    maxzoom = native_zoom(resolution, (bounds[1] + bounds[3]) / 2)
    return _json(metadata.terrain_tilejson(_base(request), bounds, maxzoom))


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


COVERAGE_FORMATS = {"gtiff": "GTiff", "tif": "GTiff", "tiff": "GTiff", "geotiff": "GTiff",
                    "image/tiff": "GTiff", "json": "json", "covjson": "json",
                    "application/prs.coverage+json": "json"}
MAX_COVJSON_CELLS = 1_000_000


def _bbox(value: str | None) -> list[float]:
    if value is None:
        return []
    # the numbers of a features bbox: decimal ASCII, not '1_0', '١' or 'inf'
    from twin.features.params import BBOX_NUMBER

    try:
        parts = value.split(",")
        if not all(BBOX_NUMBER.fullmatch(part.strip(" ")) for part in parts):
            raise ValueError
        numbers = [float(part) for part in parts]
    except ValueError:
        raise TileRequestError(f"bbox {value!r} must be four numbers: minlon,minlat,maxlon,"
                               "maxlat", status=400, code="InvalidParameterValue") from None
    if (len(numbers) != 4 or not all(math.isfinite(v) for v in numbers)
            or numbers[0] >= numbers[2] or numbers[1] >= numbers[3]
            or not (-180 <= numbers[0] <= 180 and -180 <= numbers[2] <= 180)
            or not (-90 <= numbers[1] <= 90 and -90 <= numbers[3] <= 90)):
        raise TileRequestError(f"bbox {value!r} must be minlon,minlat,maxlon,maxlat in CRS84 "
                               "with min < max", status=400, code="InvalidParameterValue")
    return numbers


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _check_bbox_crs(value: str | None) -> None:
    """The coverage's bbox is in CRS84 (lon, lat); another bbox-crs is refused, not ignored."""
    if value is not None and value.strip().strip("[]<>") not in (CRS84, "OGC:CRS84"):
        raise TileRequestError(f"bbox-crs {value!r} is not supported: give the bbox in "
                               f"{CRS84} (longitude, latitude)", status=400,
                               code="InvalidParameterValue")


def _coverage(terrain: str, bbox: list[float], format_: str) -> tuple[Any, str]:
    from pygeoapi.provider.base import ProviderGenericError
    from pygeoapi.provider.rasterio_ import RasterioProvider

    provider = RasterioProvider({"name": "rasterio", "type": "coverage", "data": terrain,
                                 "format": {"name": "GTiff", "mimetype": "image/tiff"}})
    props = provider._coverage_properties
    if format_ == "json" and not bbox and props["width"] * props["height"] > MAX_COVJSON_CELLS:
        raise TileRequestError(
            f"the whole terrain model is {props['width']}x{props['height']} cells, too many "
            "for CoverageJSON: ask for a bbox, or use f=GTiff", status=400,
            code="InvalidParameterValue")
    try:
        return provider.query(bbox=bbox, format_=format_), format_
    except ProviderGenericError as exc:
        raise TileRequestError(f"terrain coverage: {exc.message}", status=400,
                               code="InvalidParameterValue") from None


@answers_errors
async def terrain_coverage(request: Request) -> Response:
    requested = request.query_params.get("f", "GTiff")
    format_ = COVERAGE_FORMATS.get(requested.lower())
    if format_ is None:
        raise TileRequestError(f"unknown coverage format f={requested!r}; use f=GTiff "
                               "(GeoTIFF) or f=json (CoverageJSON)", status=400,
                               code="InvalidParameterValue")
    bbox = _bbox(request.query_params.get("bbox"))
    _check_bbox_crs(request.query_params.get("bbox-crs"))
    terrain = await run_in_threadpool(_terrain_file)
    if terrain is None:
        raise _no_terrain()
    if format_ == "GTiff" and not bbox:
        return FileResponse(terrain, media_type="image/tiff; application=geotiff",
                            filename="terrain.tif", headers=CORS)
    result, _ = await run_in_threadpool(_coverage, terrain, bbox, format_)
    if format_ == "json":
        return JSONResponse(result, media_type="application/prs.coverage+json", headers=CORS)
    return Response(result, media_type="image/tiff; application=geotiff",
                    headers={"Content-Disposition": 'attachment; filename="terrain.tif"',
                             **CORS})


# Beyond pygeoapi's own Tiles classes: /tiles (every layer) and its collections= selection.
CONFORMANCE_ADDED = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/collections-selection",
]


def routes() -> list[BaseRoute]:
    """The tiles' routes, for twin/app.py ROUTE_FACTORIES; adds our Tiles conformance classes
    to pygeoapi's list (no fork)."""
    from pygeoapi.api import tiles as pygeoapi_tiles

    classes = pygeoapi_tiles.CONFORMANCE_CLASSES
    classes.extend(uri for uri in CONFORMANCE_ADDED if uri not in classes)
    return [
        Route("/tileMatrixSets", tile_matrix_sets),
        Route("/tileMatrixSets/{tms}", tile_matrix_set),
        Route("/tiles", dataset_tilesets),
        Route("/tiles/{tms}", dataset_tileset),
        Route("/tiles/{tms}/tilejson.json", dataset_tilejson),
        Route("/tiles/{tms}/{z}/{y}/{x}", dataset_tile),
        Route("/terrain/tilejson.json", terrain_tilejson),
        Route("/terrain/tiles/{tms}/{z}/{y}/{x}", terrain_tile),
        Route("/collections/terrain", terrain_collection),
        Route("/collections/terrain/coverage", terrain_coverage),
        Route("/collections/{layer}/tiles", layer_tilesets),
        Route("/collections/{layer}/tiles/{tms}", layer_tileset),
        Route("/collections/{layer}/tiles/{tms}/metadata", layer_tileset),
        Route("/collections/{layer}/tiles/{tms}/tilejson.json", layer_tilejson),
        Route("/collections/{layer}/tiles/{tms}/{z}/{y}/{x}", layer_tile),
    ]

"""HTTP: `GET /collections/buildings/scene.glb` and the buildings' 3D Tiles under /3dtiles/.

Scenes are built on request (in a worker thread, one at a time: meshing is CPU work on a
shared machine) within SceneLimits; a bad or too large request is a 4xx JSON naming the
problem. Responses carry an ETag made from the area and the data versions, so a viewer that
asks again for an unchanged scene gets a 304. The addresses are rows of the route table
(twin/http/routes.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from twin.db.pool import connection
from twin.errors import NotFound, TwinError
from twin.http.conditional import etag_matches
from twin.http.errors import render
from twin.http.query import unoffered
from twin.scene3d.area import SceneLimits, count_buildings, resolve_area
from twin.scene3d.export import export_scene, scene_etag
from twin.scene3d.scene import parse_include
from twin.scene3d.tiles3d import ensure_tileset, tileset_dir
from twin.store import layer_versions

GLB = "model/gltf-binary"
SCENE_PARAMETERS = {"district", "polycentre", "bbox", "include"}
CORS = {"Access-Control-Allow-Origin": "*"}
_export_lock = threading.Lock()


def _twin_error(exc: TwinError) -> Response:
    """The one error answer, readable from a viewer on another site (CORS)."""
    return render(exc, CORS)


def _scene(params: dict[str, str], if_none_match: str | None) -> Response:
    include = parse_include(params.get("include"))
    with connection() as conn:
        area = resolve_area(
            conn,
            district=params.get("district"),
            polycentre=params.get("polycentre"),
            bbox=params.get("bbox"),
        )
        SceneLimits.from_environment().check(area, count_buildings(conn, area))
        etag = scene_etag(area, include, layer_versions(conn))
        headers = {"ETag": etag, "Cache-Control": "no-cache", **CORS}
        if etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        with _export_lock:
            exported = export_scene(conn, area, include)
    placement = exported.scene.origin
    headers.update(
        {
            "Content-Disposition": f'attachment; filename="almaty-{area.slug}.glb"',
            "X-Scene-Origin": "EPSG:32643 {:.0f} {:.0f} {:.0f}".format(*placement),
        }
    )
    return Response(exported.glb, media_type=GLB, headers=headers)


async def scene_glb(request: Request) -> Response:
    """An area of the city as GLB: ?district=NAME | polycentre=NAME | bbox=W,S,E,N
    [&include=terrain,buildings,faults,utilities,parks]."""
    params = dict(request.query_params)
    refused = unoffered(request, SCENE_PARAMETERS, formats=("glb",))
    if refused is not None:
        return _twin_error(refused)
    try:
        return await run_in_threadpool(_scene, params, request.headers.get("if-none-match"))
    except TwinError as exc:
        return _twin_error(exc)


def _tileset() -> Path:
    with connection() as conn:
        return ensure_tileset(conn)


async def tileset_json(request: Request) -> Response:
    try:
        directory = await run_in_threadpool(_tileset)
    except TwinError as exc:
        return _twin_error(exc)
    return FileResponse(
        directory / "tileset.json",
        media_type="application/json",
        headers={"Cache-Control": "no-cache", **CORS},
    )


async def tile_content(request: Request) -> Response:
    directory = tileset_dir().resolve()
    try:  # a name too long for the file system, or with a NUL, names no content either
        path = (directory / request.path_params["path"]).resolve()
        found = directory in path.parents and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        return _twin_error(
            NotFound(
                f"no 3D Tiles content {request.path_params['path']!r}; "
                "start from /3dtiles/buildings/tileset.json"
            )
        )
    media = GLB if path.suffix == ".glb" else "application/json"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache", **CORS})

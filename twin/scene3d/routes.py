"""HTTP: `GET /collections/buildings/scene.glb` and the buildings' 3D Tiles under /3dtiles/.

Scenes are built on request (in a worker thread, one at a time: meshing is CPU work on a
shared machine) within SceneLimits; a bad or too large request is a 4xx JSON naming the
problem. Responses carry an ETag made from the area and the data versions, so a viewer that
asks again for an unchanged scene gets a 304.
"""

from __future__ import annotations

import threading
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from twin.app import error_response
from twin.db.pool import connection
from twin.errors import TwinError
from twin.scene3d.area import SceneLimits, SceneRequestError, count_buildings, resolve_area
from twin.scene3d.export import export_scene, scene_etag
from twin.scene3d.scene import parse_include
from twin.scene3d.tiles3d import ensure_tileset, tileset_dir
from twin.store import layer_versions

GLB = "model/gltf-binary"
SCENE_PARAMETERS = {"district", "polycentre", "bbox", "include", "f"}
CORS = {"Access-Control-Allow-Origin": "*"}
_export_lock = threading.Lock()


def _twin_error(exc: TwinError) -> Response:
    code = getattr(exc, "code", type(exc).__name__)
    response = error_response(getattr(exc, "status", 400), code, str(exc),
                              **getattr(exc, "details", {}))
    response.headers.update(CORS)
    return response


def _scene(params: dict[str, str], if_none_match: str | None) -> Response:
    include = parse_include(params.get("include"))
    with connection() as conn:
        area = resolve_area(conn, district=params.get("district"),
                            polycentre=params.get("polycentre"), bbox=params.get("bbox"))
        SceneLimits.from_environment().check(area, count_buildings(conn, area))
        etag = scene_etag(area, include, layer_versions(conn))
        headers = {"ETag": etag, "Cache-Control": "no-cache", **CORS}
        if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
            return Response(status_code=304, headers=headers)
        with _export_lock:
            exported = export_scene(conn, area, include)
    placement = exported.scene.origin
    headers.update({
        "Content-Disposition": f'attachment; filename="almaty-{area.slug}.glb"',
        "X-Scene-Origin": "EPSG:32643 {:.0f} {:.0f} {:.0f}".format(*placement),
    })
    return Response(exported.glb, media_type=GLB, headers=headers)


async def scene_glb(request: Request) -> Response:
    """An area of the city as GLB: ?district=NAME | polycentre=NAME | bbox=W,S,E,N
    [&include=terrain,buildings,faults,utilities,parks]."""
    params = dict(request.query_params)
    unknown = sorted(set(params) - SCENE_PARAMETERS)
    if unknown:
        return _twin_error(SceneRequestError(
            f"unknown parameter(s) {', '.join(unknown)}; this endpoint takes district, "
            "polycentre or bbox (one of them) and include"))
    if params.get("f", "glb") != "glb":
        return _twin_error(SceneRequestError(f"f={params['f']}: scenes come only as glb"))
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
    return FileResponse(directory / "tileset.json", media_type="application/json",
                        headers={"Cache-Control": "no-cache", **CORS})


async def tile_content(request: Request) -> Response:
    directory = tileset_dir().resolve()
    try:   # a name too long for the file system, or with a NUL, names no content either
        path = (directory / request.path_params["path"]).resolve()
        found = directory in path.parents and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        return _twin_error(SceneRequestError(
            f"no 3D Tiles content {request.path_params['path']!r}; start from "
            "/3dtiles/buildings/tileset.json", code="NotFound", status=404))
    media = GLB if path.suffix == ".glb" else "application/json"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache", **CORS})


def routes() -> list[BaseRoute]:
    return [Route("/collections/buildings/scene.glb", scene_glb, methods=["GET"]),
            Route("/3dtiles/buildings/tileset.json", tileset_json, methods=["GET"]),
            Route("/3dtiles/buildings/{path:path}", tile_content, methods=["GET"])]

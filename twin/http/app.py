"""The ASGI app: the twin's rows of the route table in front of pygeoapi.

Order of a request: TileFastPath (hot tiles from memory) -> Guard (limits, back-pressure,
database outages, CORS, security headers, the one error body for pygeoapi's plain answers) ->
ProvenanceMiddleware (provenance in collection metadata) -> the twin's routes
(twin.http.routes, first match wins) -> pygeoapi behind a method gate.

pygeoapi builds its Starlette app at import time from PYGEOAPI_CONFIG and PYGEOAPI_OPENAPI,
so `create_app` prepares both (config from the committed file, URL from the bound address)
before the bridge imports it. One app per process.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from twin.db.pool import connection
from twin.errors import MethodNotAllowed, ServiceUnavailable, TwinError
from twin.http import bridge
from twin.http.errors import asgi_messages, render
from twin.http.read_only import read_only, refusals
from twin.http.routes import twin_rows
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.http.app")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


# ---- routes of the app's own ---------------------------------------------------------------


class DatabaseDown(ServiceUnavailable):
    """/healthz while the database does not answer: the error body with the health members."""

    code = "DatabaseUnavailable"

    def details(self) -> dict[str, object]:
        return {"status": "unavailable", "database": "down"}


async def healthz(request: Request) -> Response:
    """200 with the number of layers while the database answers, else 503 (Retry-After)."""
    try:
        with connection(timeout=2) as conn:
            layers = conn.execute(query("app/health")).fetchone()[0]
    except TwinError as exc:  # the connection error (host, port, user) goes to the log only
        LOG.warning("healthz: database unavailable: %s", exc)
        return render(DatabaseDown("the database does not answer; retry in a few seconds"))
    return JSONResponse({"status": "ok", "database": "up", "layers": layers})


async def twin_error(request: Request, exc: Exception) -> Response:
    """A TwinError a route let through: the one error answer."""
    assert isinstance(exc, TwinError)
    return render(exc)


def resolve(handler: str) -> Callable[..., Any]:
    """The callable a row names ("module:callable")."""
    module, name = handler.split(":")
    return getattr(importlib.import_module(module), name)


def twin_routes() -> list[BaseRoute]:
    """The Starlette routes of the twin's rows, in the table's order; consecutive rows of one
    path and handler (e.g. items GET and POST) are one route with all their methods."""
    routes: list[BaseRoute] = []
    rows = twin_rows()
    index = 0
    while index < len(rows):
        row = rows[index]
        methods = list(row.methods)
        index += 1
        while index < len(rows) and (rows[index].path, rows[index].handler) == (
            row.path,
            row.handler,
        ):
            methods += [m for m in rows[index].methods if m not in methods]
            index += 1
        endpoint = resolve(row.handler)  # imported first: it may register a path convertor
        routes.append(Route(row.path, endpoint, methods=methods))
    return routes


# ---- pygeoapi behind a method gate ---------------------------------------------------------

# What pygeoapi is asked to change: its own processes' execution and job deletion. Every other
# write is the twin's (twin.editing); one that reached pygeoapi would end in its
# NotImplementedError (a 500), e.g. PUT on an item id with an encoded slash or on a history.
PYGEOAPI_WRITES = {
    "POST": re.compile(r"/processes/[^/]+/execution"),
    "DELETE": re.compile(r"/jobs/[^/]+"),
}
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def pygeoapi_reads(app: ASGIApp) -> ASGIApp:
    """pygeoapi behind a method gate: reads, and the few writes it owns; others are a JSON 405."""

    async def gate(scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        if scope["type"] != "http" or method in READ_METHODS:
            await app(scope, receive, send)
            return
        writes = PYGEOAPI_WRITES.get(method)
        if writes is not None and writes.fullmatch(scope.get("path", "")):
            await app(scope, receive, send)
            return
        start, body = asgi_messages(
            MethodNotAllowed(
                f"{method} is not allowed at this address. Features are created with POST "
                "/collections/{collectionId}/items and changed with PUT, PATCH or DELETE "
                "/collections/{collectionId}/items/{featureId}, where featureId is a plain "
                "decimal integer",
                allow=", ".join(READ_METHODS),
            )
        )
        await send(start)
        await send(body)

    return gate


# ---- the OpenAPI document ------------------------------------------------------------------


def openapi_text(config_path: Path) -> str:
    """The OpenAPI document pygeoapi serves at /openapi (twin.http.openapi), as JSON text:
    pygeoapi serves a JSON file as it is, without parsing it at start."""
    from twin.http.openapi import build_openapi

    return orjson.dumps(build_openapi(config_path)).decode()


def write_openapi(server_url: str) -> Path:
    """Write the OpenAPI document for `server_url` once (the parent of several workers does
    it for all of them) and say where it is (TWIN_OPENAPI_READY)."""
    settings = get_settings()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TWIN_SERVER_URL"] = server_url.rstrip("/")
    target = settings.run_dir / "openapi.json"
    if settings.internal.openapi_ready != str(target):
        partial = target.with_name(f"{target.name}.{os.getpid()}")  # atomic swap
        partial.write_text(openapi_text(settings.config_path), encoding="utf-8")
        os.replace(partial, target)
        os.environ["TWIN_OPENAPI_READY"] = str(target)
    return target


# ---- the app -------------------------------------------------------------------------------


def conformance_classes() -> list[str]:
    """The conformance classes the twin adds to pygeoapi's (filter and CQL2, tiles)."""
    from twin.features.routes import CONFORMANCE_ADDED as FEATURES
    from twin.maps.routes import CONFORMANCE_ADDED as MAPS
    from twin.styles import CONFORMANCE_ADDED as STYLES
    from twin.tiles.routes import CONFORMANCE_ADDED as TILES

    return [*FEATURES, *TILES, *STYLES, *MAPS]


def create_app(server_url: str) -> Starlette:
    """The app of one server process, for `server_url` (the address clients use)."""
    from twin.editing.guard import MARKER_ENV, Guard, new_marker
    from twin.provenance import ProvenanceMiddleware
    from twin.tiles.fastpath import TileFastPath

    settings = get_settings()
    openapi = write_openapi(server_url)
    os.environ["PYGEOAPI_CONFIG"] = str(settings.config_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi)
    # our copies of pygeoapi's templates with scripts, and this process's marker of their
    # script nonces (twin.editing.guard replaces it with a fresh nonce in each page)
    os.environ["TWIN_TEMPLATES"] = str(TEMPLATES_DIR)
    os.environ[MARKER_ENV] = new_marker()
    bridge.declare_conformance(conformance_classes())
    own = twin_routes()  # first: their handlers register the path convertors refusals use
    routes: list[BaseRoute] = [
        *(refusals(twin_rows()) if read_only() else []),  # `twin serve --read-only`
        *own,
        Mount("/", app=pygeoapi_reads(bridge.pygeoapi_app())),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={TwinError: twin_error},
        middleware=[Middleware(TileFastPath), Middleware(Guard), Middleware(ProvenanceMiddleware)],
    )
    from twin.analysis.isochrones import warm_in_background

    warm_in_background()  # the first isochrone of this worker waits for nothing already built
    # The ~200,000 objects of pygeoapi, its OpenAPI document and our modules live as long as
    # the server: kept out of the collector, a full collection no longer stalls every request
    # in flight for ~100 ms now and then.
    gc.collect()
    gc.freeze()
    return app


def app_from_environment() -> Starlette:
    """The app factory of each uvicorn worker (`twin serve --workers N`): URL from the parent."""
    url = get_settings().internal.server_url
    if not url:
        raise RuntimeError("TWIN_SERVER_URL is unset: workers are started by `twin serve`")
    return create_app(url)

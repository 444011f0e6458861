"""The ASGI app: our routes (health, viewer, hot paths) mounted in front of pygeoapi.

pygeoapi builds its Starlette app at import time from PYGEOAPI_CONFIG and PYGEOAPI_OPENAPI,
so `create_app` prepares both (config from the committed file, URL from the bound address)
before importing it. One app per process.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from twin.db.pool import connection
from twin.editing.guard import MARKER_ENV, new_marker
from twin.errors import TwinError
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.app")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Route factories of the parts of the twin that serve hot paths ahead of pygeoapi:
# "module:function" returning a list of Starlette routes. Order matters: first match wins.
ROUTE_FACTORIES: list[str] = [
    "twin.scene3d.routes:routes",
    "twin.features.routes:feature_routes",
    "twin.editing.routes:editing_routes",
    "twin.viewer:routes",
    "twin.tiles.routes:routes",
    "twin.analysis.routes:routes",
    "twin.mobility.routes:routes",
]


def error_response(status: int, code: str, description: str,
                   headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The one JSON error shape of the twin, the same as pygeoapi's exceptions."""
    return JSONResponse({"code": code, "type": code, "description": description, **extra},
                        status_code=status, headers=headers)


def unoffered_query(request: Request, known: set[str]) -> JSONResponse | None:
    """The 400 for a JSON-only document asked for a parameter or format it does not offer
    (a typo would otherwise look like success), or None when the query is fine."""
    unknown = sorted(set(request.query_params) - known - {"f"})
    if unknown:
        offered = ", ".join(sorted(known | {"f"}))
        return error_response(400, "InvalidParameterValue",
                              f"unknown query parameter {unknown[0][:64]!r}: use {offered}")
    if request.query_params.get("f", "json") != "json":
        return error_response(400, "InvalidParameterValue",
                              f"f={request.query_params['f'][:64]!r}: only json is offered")
    return None


async def healthz(request: Request) -> JSONResponse:
    try:
        with connection(timeout=2) as conn:
            layers = conn.execute(query("app/health")).fetchone()[0]
    except TwinError as exc:  # the connection error (host, port, user) goes to the log only
        LOG.warning("healthz: database unavailable: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "down",
                             "detail": "the database does not answer; retry in a few seconds"},
                            status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok", "database": "up", "layers": layers})


async def twin_error(request: Request, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status", 400)
    return error_response(status, type(exc).__name__, str(exc))


def _openapi_document(config_path: str, target: str) -> None:
    from pygeoapi.openapi import generate_openapi_document

    with open(config_path, encoding="utf-8") as fh:
        document = generate_openapi_document(fh, "yaml",
                                             fail_on_invalid_collection=False)
    partial = f"{target}.{os.getpid()}"  # several workers may write it at once: atomic swap
    with open(partial, "w", encoding="utf-8") as fh:
        fh.write(document)
    os.replace(partial, target)


def _extra_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for dotted in ROUTE_FACTORIES:
        module, function = dotted.split(":")
        routes += getattr(importlib.import_module(module), function)()
    return routes


# What pygeoapi is asked to change: its own processes' execution and job deletion. Every other
# write is the twin's (twin.editing); one that reached pygeoapi would end in its
# NotImplementedError (a 500), e.g. PUT on an item id with an encoded slash or on a history.
PYGEOAPI_WRITES = {"POST": re.compile(r"/processes/[^/]+/execution"),
                   "DELETE": re.compile(r"/jobs/[^/]+")}
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
        response = error_response(
            405, "MethodNotAllowed",
            f"{method} is not allowed at this address. Features are created with POST "
            "/collections/{collectionId}/items and changed with PUT, PATCH or DELETE "
            "/collections/{collectionId}/items/{featureId}, where featureId is a plain "
            "decimal integer", headers={"Allow": ", ".join(READ_METHODS)})
        await response(scope, receive, send)

    return gate


def create_app(server_url: str) -> Starlette:
    settings = get_settings()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TWIN_SERVER_URL"] = server_url.rstrip("/")
    os.environ["PYGEOAPI_CONFIG"] = str(settings.config_path)
    # our copies of pygeoapi's templates with scripts, and this process's marker of their
    # script nonces (twin.editing.guard replaces it with a fresh nonce in each page)
    os.environ["TWIN_TEMPLATES"] = str(TEMPLATES_DIR)
    os.environ[MARKER_ENV] = new_marker()
    openapi_path = settings.run_dir / "openapi.yml"
    if os.environ.get("TWIN_OPENAPI_READY") != str(openapi_path):  # workers reuse the parent's
        _openapi_document(str(settings.config_path), str(openapi_path))
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
    from pygeoapi import starlette_app  # noqa: E402  (reads the environment at import)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        *_extra_routes(),
        Mount("/", app=pygeoapi_reads(starlette_app.APP)),
    ]
    from starlette.middleware import Middleware

    from twin.editing.guard import Guard  # size limits, back-pressure, CORS, security headers
    from twin.provenance import ProvenanceMiddleware  # provenance in collection metadata
    from twin.tiles.fastpath import TileFastPath  # hot tiles from memory, before the guard

    app = Starlette(routes=routes, exception_handlers={TwinError: twin_error},
                    middleware=[Middleware(TileFastPath), Middleware(Guard),
                                Middleware(ProvenanceMiddleware)])
    # The ~200,000 objects of pygeoapi, its OpenAPI document and our modules live as long as
    # the server: kept out of the collector, a full collection no longer stalls every request
    # in flight for ~100 ms now and then.
    gc.collect()
    gc.freeze()
    return app


def app_from_environment() -> Starlette:
    """The app factory of each uvicorn worker (`twin serve --workers N`): URL from the parent."""
    return create_app(os.environ["TWIN_SERVER_URL"])

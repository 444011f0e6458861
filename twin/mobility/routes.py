"""`GET /indicators/mobility-safety`: micromobility, lighting, cameras, police and early-warning
indicators per district beside the programme's targets (`?district=NAME` for one district)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from twin.app import error_response, unoffered_query
from twin.db.pool import connection
from twin.errors import TwinError
from twin.mobility.indicators import mobility_safety_document

KNOWN_PARAMETERS = {"district", "f"}


def _document() -> dict[str, Any]:
    with connection() as conn:
        return mobility_safety_document(conn)


async def mobility_safety(request: Request) -> Response:
    refused = unoffered_query(request, KNOWN_PARAMETERS)
    if refused is not None:
        return refused
    try:
        document = await run_in_threadpool(_document)
    except TwinError as exc:
        status = 404 if exc.status == 400 else exc.status
        return error_response(status, "NotFound" if status == 404 else type(exc).__name__,
                              f"no mobility and safety indicators: {exc}")
    district = request.query_params.get("district")
    if district is not None:
        rows = [d for d in document["districts"] if d["district"] == district]
        if not rows:
            known = ", ".join(d["district"] for d in document["districts"])
            return error_response(400, "InvalidParameterValue",
                                  f"unknown district {district!r}: use one of {known}")
        document = dict(document, districts=rows,
                        unlit_streets=[u for u in document["unlit_streets"]
                                       if u["district"] == district],
                        sites_without_camera=[s for s in document["sites_without_camera"]
                                              if s["district"] == district])
    return Response(orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")


def routes() -> list[Route]:
    return [Route("/indicators/mobility-safety", mobility_safety, methods=["GET"])]

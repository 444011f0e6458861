"""`GET /indicators/mobility-safety`: micromobility, lighting, cameras, police and early-warning
indicators per district beside the programme's targets (`?district=NAME` for one district)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound, TwinError
from twin.http.errors import render
from twin.http.query import unoffered_query
from twin.mobility.document import mobility_safety_document

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
    except TwinError as exc:  # nothing computed yet (no districts, no analysis run): 404
        if exc.status != 400:
            return render(exc)
        return render(NotFound(f"no mobility and safety indicators: {exc}"))
    district = request.query_params.get("district")
    if district is not None:
        rows = [d for d in document["districts"] if d["district"] == district]
        if not rows:
            known = ", ".join(d["district"] for d in document["districts"])
            return render(InvalidParameter(f"unknown district {district!r}: use one of {known}"))
        document = dict(
            document,
            districts=rows,
            unlit_streets=[u for u in document["unlit_streets"] if u["district"] == district],
            sites_without_camera=[
                s for s in document["sites_without_camera"] if s["district"] == district
            ],
        )
    return Response(
        orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )

"""HTTP of scooter trips (rows in twin/http/routes.py).

POST /scooters/trips   MDS Provider trips (JSON, NDJSON or CSV) from an operator; an admin's
                       key. 201 with the report (written, refused with reasons); 400 with the
                       same report and nothing written when a row is refused, unless
                       ?accept_valid=true (then the good rows are written and the rest listed)
GET  /scooters/trips   a day's trips by hour and operator, and the 15 key sections' flows by
                       hour (?date=YYYY-MM-DD, UTC)
GET  /scooters/injuries  the injury reports that came with trips, by H3 cell and month, each
                       beside the crash hotspot of the same cell and year where there is one
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.editing.routes import api_key, key_holder
from twin.editing.users import Editor
from twin.errors import Forbidden, InvalidParameter, TwinError
from twin.http.body import body_bytes
from twin.http.errors import render
from twin.scooters.trips import day_summary, ingest_trips, injury_cells, read_trips

JSON = "application/json"
MAX_BODY_BYTES = 64 * 1024 * 1024  # a day of 100 thousand trips with short routes as NDJSON
SUFFIXES = {"text/csv": ".csv", "application/x-ndjson": ".ndjson", "application/json": ".json"}


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


async def trips(request: Request) -> Response:
    """POST: ingest an operator's trips; GET: a day's trips and key-section flows."""
    try:
        if request.method == "POST":
            return await _ingest(request)
        day = request.query_params.get("date")

        def read() -> dict:
            with connection(timeout=10) as conn:
                return day_summary(conn, day)

        return _json(await run_in_threadpool(read))
    except TwinError as exc:
        return render(exc)


async def admin(request: Request, doing: str) -> Editor:
    """The key holder of the request when an admin's (401 without a key, 403 otherwise): bulk
    imports of the city's operators and police are an admin's work."""
    holder = await run_in_threadpool(key_holder, api_key(request))
    if holder.role != "admin":
        raise Forbidden(f"{doing} with an admin's key (`twin users add NAME --role admin`)")
    return holder


async def _ingest(request: Request) -> Response:
    holder = await admin(request, "trips are ingested")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("application/vnd.mds"):
        media = JSON
    if media not in SUFFIXES:
        raise InvalidParameter(f"send trips as {', '.join(SUFFIXES)}, not {media[:60] or 'none'}")
    accept = request.query_params.get("accept_valid", "false").lower()
    if accept not in {"true", "false"}:
        raise InvalidParameter("accept_valid is true or false")
    raw = await body_bytes(request, limit=MAX_BODY_BYTES, what="a batch of trips")
    rows = read_trips(raw, f"request{SUFFIXES[media]}")

    def work() -> dict:
        with connection(timeout=10) as conn:
            report = ingest_trips(
                conn, rows, accept_valid=accept == "true", source=f"POST by {holder.name}"
            )
        return report.document()

    document = await run_in_threadpool(work)
    return _json(document, 201 if document["written"] else 200)


async def injuries(request: Request) -> Response:
    """The injury reports by H3 cell and month, beside the crash hotspots."""
    try:

        def read() -> dict:
            with connection(timeout=10) as conn:
                cells = injury_cells(conn)
            return {
                "h3_resolution": 9,
                "reports": sum(c["reports"] for c in cells),
                "in_crash_hotspots": sum(c["reports"] for c in cells if c["hotspot_rank"]),
                "cells": cells,
            }

        return _json(await run_in_threadpool(read))
    except TwinError as exc:
        return render(exc)

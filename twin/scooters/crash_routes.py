"""HTTP of road crashes (a row in twin/http/routes.py).

POST /crashes   crash records as CSV (text/csv) or GeoJSON Points (application/geo+json),
                through the importer of `twin import-crashes` (twin/scooters/crashes.py); an
                admin's key, as POST /scooters/trips. ?source= names the batch (default "POST
                by <key holder>"): a later batch of the same source replaces it. 201 with the
                report (written, placed by address, hotspots recomputed); 400 with the same
                report, refused rows listed with their row (the CSV's line; GeoJSON: the feature,
                from 1) and reason, and nothing written,
                unless ?accept_valid=true (then the placed rows are written and the rest listed).
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.errors import InvalidParameter, TwinError
from twin.http.body import body_bytes
from twin.http.errors import render
from twin.scooters.crashes import import_crashes, read_crash_csv, read_crash_geojson
from twin.scooters.trip_routes import admin

JSON = "application/json"
MAX_BODY_BYTES = 16 * 1024 * 1024  # five years of the city's crash records as CSV: ~3 MB
MAX_SOURCE = 120
READERS = {
    "text/csv": read_crash_csv,
    "application/geo+json": read_crash_geojson,
    "application/json": read_crash_geojson,
}
FIRST_ROW = {"text/csv": 2}  # the CSV's line (1 is the header); GeoJSON features count from 1


async def crashes(request: Request) -> Response:
    """POST: import crash records (CSV or GeoJSON), all or nothing unless accept_valid."""
    try:
        return await _import(request)
    except TwinError as exc:
        return render(exc)


async def _import(request: Request) -> Response:
    holder = await admin(request, "crashes are imported")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in READERS:
        raise InvalidParameter(f"send crashes as {', '.join(READERS)}, not {media[:60] or 'none'}")
    accept = request.query_params.get("accept_valid", "false").lower()
    if accept not in {"true", "false"}:
        raise InvalidParameter("accept_valid is true or false")
    source = request.query_params.get("source", f"POST by {holder.name}").strip()
    if not source or len(source) > MAX_SOURCE or not source.isprintable():
        raise InvalidParameter(f"source is a printable name of at most {MAX_SOURCE} characters")
    raw = await body_bytes(request, limit=MAX_BODY_BYTES, what="a batch of crashes")
    rows = READERS[media](raw)

    def work() -> dict:
        with connection(timeout=30) as conn, conn.transaction():
            report = import_crashes(
                conn, rows, source, accept_valid=accept == "true", first_row=FIRST_ROW.get(media, 1)
            )
        return {"source": source, **report.document()}

    document = await run_in_threadpool(work)
    status = 201 if document["written"] else 200
    return Response(orjson.dumps(document), status_code=status, media_type=JSON)

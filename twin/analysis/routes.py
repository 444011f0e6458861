"""HTTP handlers of the analysis: `GET /indicators`, and process execution in front of
pygeoapi (their rows in the route table: twin/http/routes.py).

pygeoapi's process manager turns every exception into a failed job, so a bad input and a bug
look alike, and each execution pays for pygeoapi's request plumbing. For the twin's own
processes, `POST /processes/{id}/execution` is answered here with the same processors: bad input
is a 400 naming the problem, a database that is down a 503, and the result the raw JSON output
(pygeoapi's sync "raw" response). Process descriptions (`GET /processes`, `/processes/{id}`)
stay pygeoapi's.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from twin.analysis.indicators import with_targets
from twin.analysis.refresh import freshness
from twin.db.pool import connection
from twin.errors import InvalidParameter, MissingParameter, NotFound, TwinError
from twin.http.errors import render
from twin.http.query import unoffered_query
from twin.processes import PROCESSES
from twin.sqlfiles import query

LOG = logging.getLogger("twin.analysis.routes")
_processors: dict[str, Any] = {}


def _processor(process_id: str) -> Any:
    if process_id not in _processors:
        module, name = PROCESSES[process_id].rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        _processors[process_id] = cls({"name": PROCESSES[process_id]})
    return _processors[process_id]


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


def lenient_json(raw: bytes) -> Any:
    """A body orjson refused, read again allowing NaN, Infinity and 1e309 (what JavaScript's
    and Python's encoders write for them), so the input's own check names the bad number; None
    if it is not JSON even so."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


async def execute(request: Request) -> Response:
    process_id = request.path_params["process_id"]
    raw = await request.body()
    if not raw:
        return render(MissingParameter('missing request body: send {"inputs": {...}}'))
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        document = lenient_json(raw)
        if document is None:
            return render(InvalidParameter(f"request body is not JSON: {exc}"))
    if not isinstance(document, dict) or not isinstance(document.get("inputs", {}), dict):
        return render(
            InvalidParameter('request body must be {"inputs": {...}} with inputs an object')
        )
    processor = _processor(process_id)
    try:
        _, result = await run_in_threadpool(processor.execute, document.get("inputs", {}))
    except TwinError as exc:  # ProcessInputError (bad input) is one: 400 naming the problem
        return render(exc)
    if document.get("response") == "document":
        result = {"outputs": [result]}
    return _json(result)


def indicators_document() -> dict[str, Any]:
    """The city, its districts and polycentres with the twin's figures beside the targets."""
    with connection() as conn:
        row = conn.execute(query("analysis/city_indicators")).fetchone()
        districts = [
            r[0]
            for r in conn.execute(
                query("analysis/area_indicators", table="district_indicators", key="district")
            ).fetchall()
        ]
        polycentres = [
            r[0]
            for r in conn.execute(
                query("analysis/area_indicators", table="polycentre_indicators", key="polycentre")
            ).fetchall()
        ]
        if row is not None and row[0] is not None:  # twin/mobility: its figures beside ours
            from twin.hazards.document import hazards_member
            from twin.mobility.document import mobility_safety_member

            mobility_safety = mobility_safety_member(conn)
            hazards = hazards_member(conn)  # twin/hazards: mudflow, avalanche, fire reach
            from twin.sensors.derived import live_figures

            live = live_figures(conn)  # twin/sensors: lit share, PM2.5, meters now, with times
            from twin.scooters.status import disorder_now

            live["scooters_outside_parking_now"] = disorder_now(conn)  # twin/scooters
            from twin.scooters.injury_figures import injuries_member

            scooter_injuries = injuries_member(conn)  # the year's reports, hotspot cells
            current = freshness(conn)
    if row is None or row[0] is None:
        raise NotFound("no indicators yet: run `twin analyse` (or `twin up`) first")
    city, computed, changed_at = row
    return {
        "city": with_targets(city),
        "districts": [with_targets(d) for d in districts],
        "mobility_safety": mobility_safety,
        "hazards": hazards,
        "scooter_injuries": scooter_injuries,
        "live": live,
        "polycentres": [with_targets(p) for p in polycentres],
        "computed": {**(computed or {}), "published_at": changed_at.isoformat()},
        "freshness": current,
        "links": [
            {
                "rel": "related",
                "type": "application/geo+json",
                "href": "collections/district_indicators/items",
            },
            {
                "rel": "related",
                "type": "application/geo+json",
                "href": "collections/polycentre_indicators/items",
            },
        ],
    }


async def indicators(request: Request) -> Response:
    refused = unoffered_query(request, {"profile"})
    if refused is not None:
        return refused
    if "profile" in request.query_params:  # one walking profile's figures, computed now
        from twin.analysis.profile_answers import profile_document

        try:
            profile = request.query_params["profile"]
            return _json(await run_in_threadpool(profile_document, profile))
        except TwinError as exc:
            return render(exc)
    try:
        document = await run_in_threadpool(indicators_document)
    except TwinError as exc:  # nothing computed yet (no districts, no analysis run): 404
        return render(NotFound(str(exc)) if exc.status == 400 else exc)
    response = _json(document)
    response.headers["X-Twin-Analysis"] = document["freshness"]["status"]
    return response


class TwinProcessId(Convertor):
    """Matches only the twin's process ids, so any other process falls through to pygeoapi."""

    regex = "|".join(re.escape(p) for p in PROCESSES) or "(?!)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("twin_process", TwinProcessId())

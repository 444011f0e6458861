"""The scooter routes: feeds' health, scooters now, the city's GBFS and MDS documents, and the
demo operators' feeds (rows in twin/http/routes.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound, TwinError
from twin.http.errors import render
from twin.http.query import unoffered_query

GBFS_JSON = "application/json"


def _answer(document: dict[str, Any], max_age: int = 0) -> Response:
    headers = {"Cache-Control": f"max-age={max_age}"} if max_age else {}
    return Response(orjson.dumps(document), media_type=GBFS_JSON, headers=headers)


async def _run(request: Request, known: set[str], make: Callable[[], dict[str, Any]]) -> Response:
    refused = unoffered_query(request, known)
    if refused is not None:
        return refused
    try:
        return _answer(await run_in_threadpool(make))
    except TwinError as exc:
        return render(exc)


def _with_conn(make: Callable[[psycopg.Connection], dict[str, Any]]) -> Callable[[], Any]:
    def run() -> dict[str, Any]:
        with connection() as conn:
            return make(conn)

    return run


async def feeds(request: Request) -> Response:
    """GET /scooters/feeds: every operator, its latest poll and its outcomes by reason."""
    from twin.scooters.status import feeds_document

    limit = request.query_params.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        return render(InvalidParameter("limit: an integer from 1 to 1000"))
    return await _run(
        request, {"f", "limit"}, _with_conn(lambda conn: feeds_document(conn, int(limit)))
    )


async def now(request: Request) -> Response:
    """GET /scooters/now: scooters standing and left outside parking now, by district and key
    section."""
    from twin.scooters.status import now_document

    return await _run(request, {"f"}, _with_conn(now_document))


async def city_gbfs(request: Request) -> Response:
    """GET /gbfs/v3/gbfs.json and /gbfs/v3/{feed}.json: the city's zones and parking."""
    from twin.scooters.publish import CITY_DOCUMENTS, CITY_FEEDS, discovery

    feed = request.path_params.get("feed", "gbfs")
    base = str(request.base_url).rstrip("/") + "/gbfs/v3"
    if feed == "gbfs":
        return await _run(request, set(), lambda: discovery(base, CITY_FEEDS))
    if feed not in CITY_DOCUMENTS:
        return render(NotFound(f"the city's GBFS has {', '.join(CITY_FEEDS)}, not {feed!r}"))
    return await _run(request, set(), _with_conn(CITY_DOCUMENTS[feed]))


async def mds(request: Request) -> Response:
    """GET /mds/geographies and /mds/policies: the zones as MDS 2.0 documents."""
    from twin.scooters.publish import mds_geographies, mds_policies

    make = mds_policies if request.url.path.endswith("/policies") else mds_geographies
    return await _run(request, set(), _with_conn(make))


def _at(request: Request) -> datetime:
    raw = request.query_params.get("at")
    if raw is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"at: {raw!r} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise InvalidParameter("at: give the time with its offset (e.g. Z)")
    return at


async def demo_operator(request: Request) -> Response:
    """GET /demo/operators/{operator}/{feed}.json: a synthetic operator's GBFS feed (?at=)."""
    from twin.scooters.simulator import document

    key = request.path_params["operator"]
    feed = request.path_params.get("feed", "gbfs")
    try:
        at = _at(request)
    except TwinError as exc:
        return render(exc)
    base = str(request.base_url).rstrip("/") + f"/demo/operators/{key}"
    suffix = f"?at={request.query_params['at']}" if "at" in request.query_params else ""
    suffix = suffix.replace("+", "%2B")
    return await _run(
        request,
        {"at"},
        _with_conn(lambda conn: document(conn, key, feed, at, base, suffix)),
    )

"""HTTP handlers of the public change feed (rows in twin/http/routes.py):

GET /changes/feed.json   JSON Feed 1.1      ?district=&layer=&lang=en|ru|kk
GET /changes/atom.xml    Atom 1.0           the same parameters
GET /changes/summary     a month per district: "12 streets lit in Turksib" ?district=&month=YYYY-MM
GET /indicators/trend    a KPI by month since the 2022 baseline ?kpi=lit_share|park_area_ha|...
                         (without kpi: the KPIs it has, with their links)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.changes import feeds
from twin.db.pool import connection
from twin.errors import TwinError
from twin.http.errors import render
from twin.http.query import unoffered_query
from twin.tiles.metadata import server_url

FEED_PARAMETERS = {"district", "layer", "lang", "f"}
CORS = {"Access-Control-Allow-Origin": "*"}


async def _answer(
    request: Request,
    known: set[str],
    work: Callable[[], Any],
    media_type: str,
    formats: tuple[str, ...] = ("json",),
) -> Response:
    refused = unoffered_query(request, known, formats)
    if refused is not None:
        return refused
    try:
        body = await run_in_threadpool(work)
    except TwinError as exc:
        return render(exc, CORS)
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    return Response(body, media_type=media_type, headers=CORS)


def _feed(request: Request, atom: bool) -> Callable[[], Any]:
    params = request.query_params
    base = server_url(str(request.base_url))

    def work() -> Any:
        lang = feeds.lang_param(params.get("lang"))
        with connection() as conn:
            district = feeds.district_param(conn, params.get("district"))
            layer = feeds.layer_param(conn, params.get("layer"))
            items = feeds.feed_items(conn, district, layer)
        if atom:
            return feeds.atom_feed(items, base, lang, district, layer)
        return feeds.json_feed(items, base, lang, district, layer)

    return work


async def json_feed(request: Request) -> Response:
    return await _answer(request, FEED_PARAMETERS, _feed(request, False), "application/feed+json")


async def atom_feed(request: Request) -> Response:
    return await _answer(
        request,
        FEED_PARAMETERS,
        _feed(request, True),
        "application/atom+xml; charset=utf-8",
        formats=("atom", "xml"),
    )


async def summary(request: Request) -> Response:
    params = request.query_params

    def work() -> Any:
        month = feeds.month_param(params.get("month"))
        with connection() as conn:
            district = feeds.district_param(conn, params.get("district"))
            return feeds.month_summary(conn, district, month)

    return await _answer(request, {"district", "month", "f"}, work, "application/json")


async def trend(request: Request) -> Response:
    params = request.query_params

    def work() -> Any:
        if params.get("kpi") is None:  # the list a client (the dashboard) reads first
            return feeds.kpi_list()
        kpi = feeds.kpi_param(params.get("kpi"))
        with connection() as conn:
            return feeds.kpi_trend(conn, kpi)

    return await _answer(request, {"kpi", "f"}, work, "application/json")

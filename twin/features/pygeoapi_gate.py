"""The items parameters checked before pygeoapi sees them (HTML, JSON-LD and other formats).

The JSON hot path (twin.features.routes) validates every items parameter itself; other formats
are pygeoapi's, whose own parsing fails on some inputs with a 500 (an empty `sortby` term
indexes an empty string) and passes others on unchecked. So those requests go through the
same validators first: a bad value is a 400 in the twin's JSON error shape naming the
parameter, whatever format was asked for, and an empty `sortby` (no order, as on the JSON
path) is dropped rather than handed to pygeoapi.
"""

from __future__ import annotations

import urllib.parse
from collections import ChainMap
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from twin.catalog import Layer
from twin.features import params as p
from twin.features.errors import FeatureQueryError

# Our names of the filter parameters as pygeoapi's caller sees them (routes.hand_filter_...).
FILTER_NAMES = ("filter", "filter-lang", "filter-crs")


def _refusal(exc: FeatureQueryError) -> Response:
    body = orjson.dumps({"code": exc.code, "type": exc.code, "description": str(exc)})
    return Response(body, status_code=exc.status, media_type="application/json")


def _limits(config: dict[str, Any], collection: str) -> tuple[int, int]:
    """(max_items, default_items) as pygeoapi reads them: the collection's, else the server's."""
    limits = ChainMap(config["resources"][collection].get("limits", {}),
                      config["server"].get("limits", {}))
    return (int(limits.get("max_items", p.MAX_LIMIT)),
            int(limits.get("default_items", p.DEFAULT_LIMIT)))


def check_items(request: Request, layer: Layer, config: dict[str, Any]) -> Response | None:
    """A 400 for the first bad items parameter, else None (the request may go to pygeoapi)."""
    params = {k: v for k, v in request.query_params.items()}
    try:
        max_items, default_items = _limits(config, layer.name)
        q = p.items_query(layer, params, None, max_items, default_items)
        if q.skip_geometry and _wants_csv(request):
            # pygeoapi's CSV writer reads the first feature's geometry type (for x and y)
            raise FeatureQueryError("skipGeometry is not supported with f=csv (CSV gives "
                                    "points their x and y); leave it out or use f=json")
    except FeatureQueryError as exc:
        return _refusal(exc)
    return None


def _wants_csv(request: Request) -> bool:
    fmt = request.query_params.get("f")
    if fmt is not None:
        return fmt.lower() == "csv"
    return "text/csv" in request.headers.get("accept", "")


def check_item(request: Request) -> Response | None:
    """A 400 for a bad `crs` on one item's page, else None."""
    try:
        p.crs_param(request.query_params.get("crs"))
    except FeatureQueryError as exc:
        return _refusal(exc)
    return None


def without_empty_sortby(scope: Scope, request: Request) -> Scope:
    """The scope without `sortby=` (empty or blank): no order, as the JSON path reads it."""
    pairs = request.query_params.multi_items()
    if not any(k == "sortby" and not v.strip() for k, v in pairs):
        return scope
    kept = [(k, v) for k, v in pairs if not (k == "sortby" and not v.strip())]
    return {**scope, "query_string": urllib.parse.urlencode(kept).encode()}

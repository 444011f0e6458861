"""The features hot path, mounted ahead of pygeoapi (twin.app ROUTE_FACTORIES).

GET and POST /collections/{id}/items and GET /collections/{id}/items/{fid} in JSON (f=json,
f=geojson, or no f with an Accept that pygeoapi would answer with JSON) are answered here with
the GeoJSON text PostgreSQL builds, wrapped in the same members, links, headers and error
shape pygeoapi gives; pygeoapi would parse that text back into dicts and serialise it again,
which costs more than the query. Every other format goes to pygeoapi, which calls our
provider (twin.providers.features) with the same validators and statements.

POST /collections/{id}/items with a CQL2 body is a search: Content-Type application/cql2+json
(or application/query-cql-json, or application/json as pygeoapi and OWSLib send it) for CQL2
JSON, text/cql2 for CQL2 text. The body is the filter and the URL's query parameters (limit,
bbox, crs, ...) still apply. Other POSTs to items (GeoJSON features, application/geo+json or
application/json) are creates, passed on to twin.editing.
"""

from __future__ import annotations

import functools
import logging
import urllib.parse
from collections import ChainMap
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import anyio
import orjson
import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from twin.catalog import load_catalog
from twin.db.pool import connection
from twin.errors import DatabaseNotRunning
from twin.features import filters, ids
from twin.features import params as p
from twin.features.crs import crs_by_uri
from twin.features.errors import FeatureQueryError, database_refusal
from twin.features.ids import canonical_id, not_canonical
from twin.features.pages import Page, fetch_page, fetch_tagged_item, item_etag
from twin.providers.features import (FILTER_CRS_PARAM, FILTER_LANG_PARAM, FILTER_PARAM,
                                     not_found)

LOG = logging.getLogger("twin.features")
JSON_FORMATS = (None, "", "json", "geojson")
# A request with `X-Twin-Path: pygeoapi` is answered by pygeoapi through our provider, so the
# tests and benchmarks can compare the hot path with it.
BYPASS_HEADER = "x-twin-path"

CQL2_JSON_TYPES = ("application/cql2+json", "application/query-cql-json")
CQL2_TEXT_TYPES = ("text/cql2",)
SHARED_TYPES = ("application/json",)

# The conformance classes this part implements beyond pygeoapi's Features list.
CONFORMANCE_ADDED = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
]


def _pygeoapi() -> Any:
    from pygeoapi import starlette_app

    return starlette_app


def not_migrated(collection: str, exc: psycopg.Error) -> str:
    """A catalog layer whose table or column the database lacks: the database is older than
    the catalog (a new layer or property), which `twin migrate` fixes."""
    return (f"collection {collection!r} is not in the database yet "
            f"({exc.diag.message_primary}): run `twin migrate`")


def _error(status: int, code: str, description: str, headers: dict[str, str] | None = None
           ) -> Response:
    """pygeoapi's exception document: {"code", "type", "description"}."""
    body = orjson.dumps({"code": code, "type": code, "description": description})
    response = Response(body, status_code=status, media_type="application/json")
    if headers:
        response.headers.update({k: v for k, v in headers.items()
                                 if k.lower() in ("x-powered-by", "content-language")})
    return response


def _serialized_query(params: Any) -> str:
    """The query string pygeoapi appends to its links (all but f and offset)."""
    out = ""
    for key, value in params.items():
        if key not in ("f", "offset"):
            out += "&" + urllib.parse.quote(key, safe="") + "=" + \
                urllib.parse.quote(str(value), safe=",")
    return out


class _Context:
    """What both endpoints need from pygeoapi: the API, the parsed request, the headers."""

    def __init__(self, api: Any, api_request: Any, collection: str) -> None:
        from pygeoapi.api import SYSTEM_LOCALE

        self.api = api
        self.request = api_request
        self.collection = collection
        self.resource = api.config["resources"][collection]
        self.headers = api_request.get_response_headers(SYSTEM_LOCALE, **api.api_headers)
        self.headers.pop("Content-Encoding", None)

    def finish(self, crs_uri: str | None) -> None:
        from pygeoapi import l10n

        self.headers["Content-Crs"] = f"<{crs_by_uri(crs_uri).uri}>"
        l10n.set_response_language(self.headers, None, self.request.locale)

    def title(self, text: Any) -> str:
        from pygeoapi import l10n

        return l10n.translate(text, self.request.locale)

    def limits(self) -> tuple[int, int]:
        limits = ChainMap(self.resource.get("limits", {}),
                          self.api.config["server"].get("limits", {}))
        return int(limits.get("max_items", p.MAX_LIMIT)), int(limits.get("default_items",
                                                                         p.DEFAULT_LIMIT))


def items_document(ctx: _Context, q: p.ItemsQuery, page: Page, params: Any) -> bytes:
    """The FeatureCollection as pygeoapi lays it out, around the SQL-built features."""
    from pygeoapi.api import F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES

    uri = f"{ctx.api.get_collections_url()}/{ctx.collection}/items"
    query = _serialized_query(params)
    rel = ctx.request.get_linkrel
    links: list[dict[str, str]] = [
        {"type": "application/geo+json", "rel": rel(F_JSON),
         "title": ctx.title("This document as GeoJSON"), "href": f"{uri}?f={F_JSON}{query}"},
        {"rel": rel(F_JSONLD), "type": FORMAT_TYPES[F_JSONLD],
         "title": ctx.title("This document as RDF (JSON-LD)"),
         "href": f"{uri}?f={F_JSONLD}{query}"},
        {"type": FORMAT_TYPES[F_HTML], "rel": rel(F_HTML),
         "title": ctx.title("This document as HTML"), "href": f"{uri}?f={F_HTML}{query}"},
    ]
    members = page.members()
    has_next = members.get("numberMatched", -1) > q.limit + q.offset \
        or page.returned == q.limit
    if q.offset > 0:
        links.append({"type": "application/geo+json", "rel": "prev",
                      "title": ctx.title("Items (prev)"),
                      "href": f"{uri}?offset={max(0, q.offset - q.limit)}{query}"})
    if has_next:
        links.append({"type": "application/geo+json", "rel": "next",
                      "title": ctx.title("Items (next)"),
                      "href": f"{uri}?offset={q.offset + q.limit}{query}"})
    links.append({"type": FORMAT_TYPES[F_JSON], "title": ctx.title(ctx.resource["title"]),
                  "rel": "collection", "href": uri.rsplit("/", 1)[0]})
    tail = orjson.dumps({**members, "numberReturned": page.returned, "links": links,
                         "timeStamp": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    return b"".join((b'{"type":"FeatureCollection","features":[', page.features, b"],",
                     memoryview(tail)[1:]))


def item_document(ctx: _Context, fid: str, feature: str) -> bytes:
    """One Feature as pygeoapi lays it out, around the SQL-built feature."""
    from pygeoapi.api import F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES

    base = ctx.api.base_url
    uri = f"{ctx.api.get_collections_url()}/{ctx.collection}/items/{fid}"
    rel = ctx.request.get_linkrel
    links = [
        {"type": FORMAT_TYPES[F_JSON], "rel": "root",
         "title": ctx.title("The landing page of this server as JSON"),
         "href": f"{base}?f={F_JSON}"},
        {"type": FORMAT_TYPES[F_HTML], "rel": "root",
         "title": ctx.title("The landing page of this server as HTML"),
         "href": f"{base}?f={F_HTML}"},
        {"rel": rel(F_JSON), "type": "application/geo+json",
         "title": ctx.title("This document as JSON"), "href": f"{uri}?f={F_JSON}"},
        {"rel": rel(F_JSONLD), "type": FORMAT_TYPES[F_JSONLD],
         "title": ctx.title("This document as RDF (JSON-LD)"), "href": f"{uri}?f={F_JSONLD}"},
        {"rel": rel(F_HTML), "type": FORMAT_TYPES[F_HTML],
         "title": ctx.title("This document as HTML"), "href": f"{uri}?f={F_HTML}"},
        {"rel": "collection", "type": FORMAT_TYPES[F_JSON],
         "title": ctx.title(ctx.resource["title"]),
         "href": f"{ctx.api.get_collections_url()}/{ctx.collection}"},
    ]
    return feature[:-1].encode() + b',"links":' + orjson.dumps(links) + b"}"


class FeaturesEndpoint:
    """ASGI endpoint for items and item: JSON answered here, the rest handed to pygeoapi."""

    def __init__(self, item: bool) -> None:
        self.item = item

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        collection = request.path_params["collection_id"]
        layers = load_catalog()
        app = _pygeoapi()
        json_format = request.query_params.get("f") in JSON_FORMATS
        if collection not in layers or collection not in app.api_.config["resources"]:
            await app.APP(scope, receive, send)
            return
        if request.method == "POST" and not self.item:
            lang = "cql2-text" if _media_type(scope) in CQL2_TEXT_TYPES else "cql2-json"
            response = await self.items(request, app, collection, await request.body(), lang)
            await response(scope, receive, send)
            return
        if request.headers.get(BYPASS_HEADER, "").lower() == "pygeoapi":
            json_format = False  # the same answer through pygeoapi, to compare the two
        if request.method == "GET" and json_format:
            from pygeoapi.api import APIRequest

            api_request = APIRequest(request, app.api_.locales)
            if api_request.format in JSON_FORMATS:
                handler = self.one_item if self.item else self.items
                response = await handler(request, app, collection, None,
                                         api_request=api_request)
                await response(scope, receive, send)
                return
        if self.item:  # one item in another format: the same id rule and ETag as in JSON
            refusal, etag = await self.item_gate(request, collection)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            send = _with_etag(send, etag)
        from twin.features import pygeoapi_gate as gate  # other formats: checked as JSON is

        refusal = gate.check_item(request) if self.item else await filtered_off_loop(
            functools.partial(gate.check_items, request, layers[collection], app.api_.config),
            p.filter_source(request.query_params))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope = gate.without_empty_sortby(scope, request)
        request = Request(scope, receive)
        if not self.item and "filter" in request.query_params:
            scope = self.hand_filter_to_provider(scope, request)
        await app.APP(scope, receive, send)

    @staticmethod
    def hand_filter_to_provider(scope: Scope, request: Request) -> Scope:
        """pygeoapi would parse `filter` as ECQL; rename it so only our provider reads it."""
        renamed = {"filter": FILTER_PARAM, "filter-lang": FILTER_LANG_PARAM,
                   "filter-crs": FILTER_CRS_PARAM}
        pairs = [(renamed.get(k, k), v) for k, v in request.query_params.multi_items()]
        return {**scope, "query_string": urllib.parse.urlencode(pairs).encode()}

    async def items(self, request: Request, app: Any, collection: str,
                    body: bytes | None, body_lang: str = "cql2-json",
                    api_request: Any = None) -> Response:
        from pygeoapi.api import APIRequest

        api_request = api_request or APIRequest(request, app.api_.locales)
        ctx = _Context(app.api_, api_request, collection)
        params = request.query_params
        aliases = {FILTER_PARAM: "filter", FILTER_LANG_PARAM: "filter-lang",
                   FILTER_CRS_PARAM: "filter-crs"}
        plain = {aliases.get(k, k): v for k, v in params.items()}
        if api_request.format not in JSON_FORMATS:
            return _error(400, "InvalidParameterValue",
                          f"format {api_request.format!r} is not served for POST searches; "
                          "use f=json", ctx.headers)
        try:
            max_items, default_items = ctx.limits()
            q = await filtered_off_loop(functools.partial(
                p.items_query, layers_get(collection), plain, body or None, max_items,
                default_items, body_lang), p.filter_source(plain, body or None, body_lang))
            page = await run_in_threadpool(_page, q)
        except FeatureQueryError as exc:
            return _error(exc.status, exc.code, str(exc), ctx.headers)
        except DatabaseNotRunning as exc:
            return _error(503, "NoApplicableCode", str(exc), ctx.headers)
        except psycopg.errors.DataError as exc:  # the database's text goes to the log only
            return _error(400, "InvalidParameterValue", database_refusal(exc), ctx.headers)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            return _error(503, "NoApplicableCode", not_migrated(collection, exc), ctx.headers)
        except psycopg.Error:
            LOG.exception("items query failed for %s", collection)
            return _error(500, "NoApplicableCode", "the database could not answer this "
                          "query; the server log has the details", ctx.headers)
        ctx.finish(plain.get("crs"))
        document = items_document(ctx, q, page, params)
        return Response(document, headers=ctx.headers)

    async def one_item(self, request: Request, app: Any, collection: str,
                       body: bytes | None, api_request: Any = None) -> Response:
        """One feature with its ETag (304 when the client's If-None-Match already names it):
        "v<version>" on a versioned layer, which an editor sends back as If-Match, and the
        layer's data version "L<version>" on a read-only one."""
        from pygeoapi.api import APIRequest

        api_request = api_request or APIRequest(request, app.api_.locales)
        ctx = _Context(app.api_, api_request, collection)
        fid = request.path_params["item_id"]
        number = canonical_id(fid)
        if number is None:
            return _error(404, "NotFound", not_canonical(fid, collection), ctx.headers)
        try:
            crs = p.crs_param(request.query_params.get("crs"))
            found = await run_in_threadpool(_item, collection, number, crs)
        except FeatureQueryError as exc:
            return _error(exc.status, exc.code, str(exc), ctx.headers)
        except DatabaseNotRunning as exc:
            return _error(503, "NoApplicableCode", str(exc), ctx.headers)
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            return _error(503, "NoApplicableCode", not_migrated(collection, exc), ctx.headers)
        except psycopg.Error:
            LOG.exception("item query failed for %s/%s", collection, fid)
            return _error(500, "NoApplicableCode", "the database could not answer this "
                          "query; the server log has the details", ctx.headers)
        if found is None:
            return _error(404, "NotFound", not_found(fid, collection), ctx.headers)
        feature, etag = found
        ctx.headers["ETag"] = etag
        if ids.names(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag})
        ctx.finish(request.query_params.get("crs"))
        return Response(item_document(ctx, str(number), feature), headers=ctx.headers)

    async def item_gate(self, request: Request, collection: str
                        ) -> tuple[Response | None, str | None]:
        """For one item in a format pygeoapi renders (HTML, JSON-LD): a 404 for an id not in
        canonical form, a 304 when If-None-Match names the current ETag, and the ETag to
        add. The tag is read before pygeoapi reads the feature, so a write in between can
        only make the tag older than the page: an If-Match with it then fails (412) rather
        than overwrite that write, and an If-None-Match with it gets the page again."""
        fid = request.path_params["item_id"]
        number = canonical_id(fid)
        if number is None:
            return _error(404, "NotFound", not_canonical(fid, collection)), None
        try:
            etag = await run_in_threadpool(_etag, collection, number)
        except (DatabaseNotRunning, psycopg.Error):
            return None, None  # pygeoapi answers (and reports the database) on its own
        if etag is None:
            return None, None
        if ids.names(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag}), None
        return None, etag


async def as_of_items(request: Request, collection: str) -> Response:
    """GET /collections/{id}/asof?datetime=..., kept as an alias of items?datetime=...: the
    same validation, paging, filters and document as the items route of a versioned layer."""
    if not request.query_params.get("datetime"):
        return _error(400, "InvalidParameterValue", "datetime is required: an RFC 3339 "
                      "instant (e.g. 2025-01-31T12:00:00Z), a date or an interval")
    from pygeoapi.api import APIRequest

    app = _pygeoapi()
    api_request = APIRequest(request, app.api_.locales)
    if api_request.format not in JSON_FORMATS:
        return _error(400, "InvalidParameterValue", "the as-of alias answers GeoJSON only; "
                      f"use /collections/{collection}/items?datetime=... for other formats")
    response = await FeaturesEndpoint(item=False).items(request, app, collection, None,
                                                        api_request=api_request)
    if response.status_code == 200:  # as the route always answered
        response.headers["content-type"] = "application/geo+json"
    return response


Checked = TypeVar("Checked")


async def filtered_off_loop(validate: Callable[[], Checked], source: tuple[str, str] | None
                            ) -> Checked:
    """Run the items validators: on the event loop when the request has no filter (they are
    cheap), in a worker thread when it has one (the CQL2 parse and translation take CPU in
    proportion to the filter, which twin.features.filters bounds). A filter not parsed before
    waits for one of filters.PARSE_THREADS threads, so a burst of new filters cannot take
    every thread of the server."""
    if source is None:
        return validate()
    if filters.is_parsed(*source):
        return await run_in_threadpool(validate)
    return await anyio.to_thread.run_sync(validate, limiter=filters.parse_limiter())


def layers_get(name: str) -> Any:
    return load_catalog()[name]


def _page(q: p.ItemsQuery) -> Page:
    with connection() as conn:
        return fetch_page(conn, q)


def _item(collection: str, fid: int, crs: Any) -> tuple[str, str] | None:
    """The feature's GeoJSON text and its ETag."""
    with connection() as conn:
        return fetch_tagged_item(conn, layers_get(collection), fid, crs)


def _etag(collection: str, fid: int) -> str | None:
    """The feature's ETag, or None when there is no such feature now."""
    with connection() as conn:
        return item_etag(conn, layers_get(collection), fid)


def _with_etag(send: Send, etag: str | None) -> Send:
    """`send` adding the item's ETag to a 200 response (pygeoapi sets none)."""
    if etag is None:
        return send

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message.get("status") == 200:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"etag"]
            message = {**message, "headers": [*headers, (b"etag", etag.encode())]}
        await send(message)

    return sending


def _media_type(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


class SearchRoute(Route):
    """POST items only for CQL2 bodies, so feature creates fall through to twin.editing.

    application/json is shared: pygeoapi and OWSLib POST a CQL2 JSON filter with it, editors
    POST features with it. A body that is a CQL2 expression (an object with "op", or a bare
    true/false) is a search; anything else is handed to the routes after this one.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http" and scope.get("method") == "POST" \
                and _media_type(scope) not in CQL2_JSON_TYPES + CQL2_TEXT_TYPES + SHARED_TYPES:
            return Match.NONE, {}
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "POST" and _media_type(scope) in SHARED_TYPES:
            body = await _read_body(receive)
            receive = _replay(body)
            if not _is_cql2_json(body):
                await self.pass_on(scope, receive, send)
                return
            scope = {**scope, "twin.cql2_json": True}
        await super().handle(scope, receive, send)

    async def pass_on(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = scope.get("router")
        routes = list(getattr(router, "routes", []))
        after = routes[routes.index(self) + 1:] if self in routes else []
        for route in after:
            match, child = route.matches(scope)
            if match == Match.FULL:
                await route.handle({**scope, **child}, receive, send)
                return
        await _pygeoapi().APP(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _is_cql2_json(body: bytes) -> bool:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, bool) or (isinstance(document, dict) and "op" in document
                                          and "type" not in document)


def adjust_conformance() -> None:
    """Add the filter and CQL2 classes to pygeoapi's own Features list (no fork)."""
    from pygeoapi.api import itemtypes

    classes = itemtypes.CONFORMANCE_CLASSES_FEATURES
    classes.extend(uri for uri in CONFORMANCE_ADDED if uri not in classes)


def feature_routes() -> list[BaseRoute]:
    """The hot-path routes; registered in twin.app.ROUTE_FACTORIES."""
    adjust_conformance()
    return [
        SearchRoute("/collections/{collection_id}/items", FeaturesEndpoint(item=False),
                    methods=["GET", "POST", "HEAD"]),
        Route("/collections/{collection_id}/items/{item_id}", FeaturesEndpoint(item=True),
              methods=["GET", "HEAD"]),
    ]

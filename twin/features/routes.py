"""The items endpoints: the twin owns /collections/{id}/items and .../items/{featureId}
(twin.http.routes names the handlers `items`, `item` and `as_of` of this module).

GET /collections/{id}/items, in every format: the query is validated (twin.features.params),
run (twin.features.pages: PostgreSQL writes the GeoJSON text) and laid out as the
FeatureCollection pygeoapi gives, links included (next and prev carry `filter` as the client
sent it). JSON (f=json, f=geojson, or no f with an Accept pygeoapi answers with JSON) is
written around the SQL text; pygeoapi would parse it back into dicts and serialise it again,
which costs more than the query. HTML and JSON-LD are the same collection rendered by
pygeoapi's template and JSON-LD context through twin.http.bridge. CSV, GeoPackage and
GeoParquet (f=csv|gpkg|parquet) are downloads: the same query streamed into a file by
twin.features.downloads, every match unless paged.

POST /collections/{id}/items has one owner too; the Content-Type says what it is:
  text/cql2                                 a search, the body a CQL2 text filter
  application/cql2+json,
  application/query-cql-json                a search, the body a CQL2 JSON filter
  application/geo+json                      a create (twin.editing.routes.create)
  application/json                          a search when the body is a CQL2 expression (an
                                            object with "op" and no "type", or true/false:
                                            pygeoapi and OWSLib send CQL2 JSON so), else a
                                            create (a Feature)
  anything else                             a create, which answers 415 naming the types
A search keeps the URL's parameters (limit, bbox, crs, ...) and answers GeoJSON.

GET /collections/{id}/items/{featureId}: JSON is written here around the SQL text, with the
feature's ETag; HTML and JSON-LD are pygeoapi's pages (it reads the feature through
twin.providers.features) behind the same id rule, crs check and ETag. PUT, PATCH and DELETE
are twin.editing's writes. GET /collections/{id}/asof is the old alias of items?datetime=.

`X-Twin-Path: pygeoapi` on a GET hands the request to pygeoapi as it came (stock pygeoapi over
our provider: it reads `filter` as ECQL), so tests and bench/features.py can compare the two.
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
from starlette.types import Message, Receive, Scope, Send

from twin.catalog import Layer, load_catalog
from twin.db.pool import connection
from twin.editing import VERSIONED_LAYERS
from twin.editing import routes as editing
from twin.errors import InvalidParameter, NotFound, TwinError
from twin.features import downloads, filters, ids
from twin.features import params as p
from twin.features.crs import crs_by_uri
from twin.features.errors import FeatureQueryError, NotMigrated, QueryFailed, database_refusal
from twin.features.ids import canonical_id, not_canonical
from twin.features.pages import Page, fetch_page, fetch_tagged_item, item_etag
from twin.http import bridge
from twin.http.errors import answers_errors

LOG = logging.getLogger("twin.features")
JSON_FORMATS = (None, "", "json", "geojson")
RENDERED_FORMATS = ("html", "jsonld")  # pygeoapi renders the collection we lay out
DOWNLOAD_FORMATS = tuple(downloads.FORMATS)  # files streamed by twin.features.downloads
ITEM_PAGE_FORMATS = ("html", "jsonld")  # pygeoapi's pages of one feature
BYPASS_HEADER = "x-twin-path"

CQL2_JSON_TYPES = ("application/cql2+json", "application/query-cql-json")
CQL2_TEXT_TYPES = ("text/cql2",)
SHARED_TYPES = ("application/json",)

# The conformance classes this part implements beyond pygeoapi's Features list; the app
# declares them through twin.http.bridge when it is created.
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


def not_found(identifier: str, layer: str) -> str:
    return f"item {identifier!r} not found in collection {layer}"


# ---- the endpoints -------------------------------------------------------------------------


@answers_errors
async def items(request: Request) -> Response:
    """GET, HEAD, POST and OPTIONS /collections/{collection_id}/items (see the module)."""
    collection = request.path_params["collection_id"]
    if request.method == "OPTIONS":
        return Response(headers={"Allow": "GET, HEAD, POST, OPTIONS"})
    if request.method == "POST":
        return await _post_items(request, collection)
    layer = _feature_layer(collection)
    if _bypassed(request):
        return PygeoapiAnswer()
    return await _read_items(request, layer)


@answers_errors
async def item(request: Request) -> Response:
    """GET, HEAD, PUT, PATCH, DELETE and OPTIONS /collections/{collection_id}/items/{item_id}:
    one feature read here (JSON) or by pygeoapi's pages (HTML, JSON-LD), or written by
    twin.editing."""
    collection = request.path_params["collection_id"]
    raw = request.path_params["item_id"]
    if request.method in ("PUT", "PATCH", "DELETE"):
        return await editing.change(request, collection, raw)
    if request.method == "OPTIONS":
        writes = "PUT, PATCH, DELETE, " if collection in VERSIONED_LAYERS else ""
        return Response(headers={"Allow": f"GET, HEAD, {writes}OPTIONS"})
    layer = _feature_layer(collection)
    if _bypassed(request):
        return PygeoapiAnswer()
    parsed = bridge.api_request(request)
    number = canonical_id(raw)
    if number is None:
        raise NotFound(not_canonical(raw, collection))
    crs = p.crs_param(request.query_params.get("crs"))
    if parsed.format in JSON_FORMATS:
        return await _one_item(request, parsed, layer, number, crs)
    if parsed.format in ITEM_PAGE_FORMATS:
        return await _item_page(request, layer, number)
    raise InvalidParameter(
        f"format {parsed.format[:40]!r} is not served for an item: use json, html or jsonld"
    )


@answers_errors
async def as_of(request: Request) -> Response:
    """GET /collections/{collection_id}/asof?datetime=..., kept as an alias of
    items?datetime=...: the same validation, paging, filters and document as the items of a
    versioned layer, in GeoJSON."""
    collection = request.path_params["collection_id"]
    if collection not in load_catalog():
        raise NotFound(f"no collection {collection!r}")
    if collection not in VERSIONED_LAYERS:
        raise NotFound(
            f"collection {collection!r} keeps no history; versioned collections: "
            f"{', '.join(VERSIONED_LAYERS)}"
        )
    if not request.query_params.get("datetime"):
        raise InvalidParameter(
            "datetime is required: an RFC 3339 instant (e.g. "
            "2025-01-31T12:00:00Z), a date or an interval"
        )
    if bridge.api_request(request).format not in JSON_FORMATS:
        raise InvalidParameter(
            "the as-of alias answers GeoJSON only; use "
            f"/collections/{collection}/items?datetime=... for other formats"
        )
    response = await _read_items(request, _feature_layer(collection))
    response.headers["content-type"] = "application/geo+json"  # as the route always answered
    return response


# ---- which collection ----------------------------------------------------------------------


def _feature_layer(collection: str) -> Layer:
    """The catalog layer served at /collections/{collection}, or the error pygeoapi gave: 404
    for no such collection, 400 for a collection of another kind (the terrain coverage)."""
    resources = bridge.resources()
    layer = load_catalog().get(collection)
    if layer is not None and collection in resources:
        return layer
    if resources.get(collection, {}).get("type") == "collection":
        raise InvalidParameter(
            f"collection {collection!r} has no items: it is not a feature collection"
        )
    shown = collection if len(collection) <= 60 else collection[:60] + "…"
    raise NotFound(f"collection {shown!r} not found")


def _bypassed(request: Request) -> bool:
    return request.headers.get(BYPASS_HEADER, "").lower() == "pygeoapi"


# ---- reading items -------------------------------------------------------------------------


class _Context:
    """What a read needs of pygeoapi's view of the request: its format, language, links and
    the headers pygeoapi would answer with."""

    def __init__(self, parsed: Any, collection: str) -> None:
        self.request = parsed
        self.collection = collection
        self.resource = bridge.resources()[collection]
        self.headers = bridge.response_headers(parsed)

    def finish(self, crs_uri: str | None) -> None:
        self.headers["Content-Crs"] = f"<{crs_by_uri(crs_uri).uri}>"
        bridge.set_language(self.headers, self.request)

    def title(self, text: Any) -> str:
        return bridge.translate(text, self.request)

    def limits(self) -> tuple[int, int]:
        """(max_items, default_items) as pygeoapi reads them: the collection's, else the
        server's."""
        limits = ChainMap(
            self.resource.get("limits", {}), bridge.api().config["server"].get("limits", {})
        )
        return int(limits.get("max_items", p.MAX_LIMIT)), int(
            limits.get("default_items", p.DEFAULT_LIMIT)
        )


async def _read_items(
    request: Request, layer: Layer, body: bytes | None = None, body_lang: str = "cql2-json"
) -> Response:
    """The items of `layer` the request selects (a POST search: with the filter `body`), in
    the format it asks for."""
    parsed = bridge.api_request(request)
    fmt = parsed.format
    if body is not None and fmt not in JSON_FORMATS:
        raise InvalidParameter(f"format {fmt[:40]!r} is not served for POST searches; use f=json")
    if fmt not in JSON_FORMATS + RENDERED_FORMATS + DOWNLOAD_FORMATS:
        raise InvalidParameter(
            f"format {fmt[:40]!r} is not served for items: use json, html, jsonld, "
            + ", ".join(DOWNLOAD_FORMATS[:-1])
            + f" or {DOWNLOAD_FORMATS[-1]}"
        )
    ctx = _Context(parsed, layer.name)
    params = request.query_params
    max_items, default_items = ctx.limits()
    if fmt in DOWNLOAD_FORMATS:  # a file: every match unless paged, at most this many
        max_items = default_items = downloads.max_rows()
    q = await filtered_off_loop(
        functools.partial(
            p.items_query, layer, params, body or None, max_items, default_items, body_lang
        ),
        p.filter_source(params, body or None, body_lang),
    )
    if fmt in DOWNLOAD_FORMATS:
        ctx.finish(params.get("crs"))
        return await downloads.answer(request, q, fmt, ctx.headers, _database_errors)
    page = await run_in_threadpool(_page, q)
    ctx.finish(params.get("crs"))
    document = items_document(ctx, q, page, params)
    if fmt in JSON_FORMATS:
        return Response(document, headers=ctx.headers)
    return await run_in_threadpool(_rendered, ctx, fmt, orjson.loads(document), q.offset)


def _rendered(ctx: _Context, fmt: str, content: dict[str, Any], offset: int) -> Response:
    """The collection in HTML or JSON-LD, rendered by pygeoapi (twin.http.bridge)."""
    if fmt == "html":
        return Response(
            bridge.render_items_html(ctx.request, ctx.collection, content, offset),
            headers=ctx.headers,
        )
    return Response(bridge.render_items_jsonld(ctx.collection, content), headers=ctx.headers)


async def _post_items(request: Request, collection: str) -> Response:
    """POST to items: a CQL2 search or a create, by Content-Type (see the module)."""
    media = _media_type(request)
    if media in CQL2_TEXT_TYPES:
        return await _search(request, collection, "cql2-text")
    if media in CQL2_JSON_TYPES:
        return await _search(request, collection, "cql2-json")
    if media in SHARED_TYPES and _is_cql2_json(await request.body()):
        return await _search(request, collection, "cql2-json")
    return await editing.create(request, collection)


async def _search(request: Request, collection: str, lang: str) -> Response:
    return await _read_items(request, _feature_layer(collection), await request.body(), lang)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _is_cql2_json(body: bytes) -> bool:
    """Whether a JSON body is a CQL2 expression (a search) rather than a Feature (a create)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, bool) or (
        isinstance(document, dict) and "op" in document and "type" not in document
    )


def _serialized_query(params: Any) -> str:
    """The query string pygeoapi appends to its links (all but f and offset)."""
    out = ""
    for key, value in params.items():
        if key not in ("f", "offset"):
            out += (
                "&"
                + urllib.parse.quote(key, safe="")
                + "="
                + urllib.parse.quote(str(value), safe=",")
            )
    return out


def items_document(ctx: _Context, q: p.ItemsQuery, page: Page, params: Any) -> bytes:
    """The FeatureCollection as pygeoapi lays it out, around the SQL-built features."""
    f_json, f_jsonld, f_html, types = bridge.format_types()
    uri = f"{bridge.api().get_collections_url()}/{ctx.collection}/items"
    query = _serialized_query(params)
    rel = ctx.request.get_linkrel
    links: list[dict[str, str]] = [
        {
            "type": "application/geo+json",
            "rel": rel(f_json),
            "title": ctx.title("This document as GeoJSON"),
            "href": f"{uri}?f={f_json}{query}",
        },
        {
            "rel": rel(f_jsonld),
            "type": types[f_jsonld],
            "title": ctx.title("This document as RDF (JSON-LD)"),
            "href": f"{uri}?f={f_jsonld}{query}",
        },
        {
            "type": types[f_html],
            "rel": rel(f_html),
            "title": ctx.title("This document as HTML"),
            "href": f"{uri}?f={f_html}{query}",
        },
        *downloads.links(uri, query, ctx.title),
    ]
    members = page.members()
    has_next = members.get("numberMatched", -1) > q.limit + q.offset or page.returned == q.limit
    if q.offset > 0:
        links.append(
            {
                "type": "application/geo+json",
                "rel": "prev",
                "title": ctx.title("Items (prev)"),
                "href": f"{uri}?offset={max(0, q.offset - q.limit)}{query}",
            }
        )
    if has_next:
        links.append(
            {
                "type": "application/geo+json",
                "rel": "next",
                "title": ctx.title("Items (next)"),
                "href": f"{uri}?offset={q.offset + q.limit}{query}",
            }
        )
    links.append(
        {
            "type": types[f_json],
            "title": ctx.title(ctx.resource["title"]),
            "rel": "collection",
            "href": uri.rsplit("/", 1)[0],
        }
    )
    tail = orjson.dumps(
        {
            **members,
            "numberReturned": page.returned,
            "links": links,
            "timeStamp": datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    )
    return b"".join(
        (b'{"type":"FeatureCollection","features":[', page.features, b"],", memoryview(tail)[1:])
    )


Checked = TypeVar("Checked")


async def filtered_off_loop(
    validate: Callable[[], Checked], source: tuple[str, str] | None
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


# ---- reading one item ----------------------------------------------------------------------


async def _one_item(request: Request, parsed: Any, layer: Layer, number: int, crs: Any) -> Response:
    """One feature with its ETag (304 when the client's If-None-Match already names it):
    "v<version>" on a versioned layer, which an editor sends back as If-Match, and the
    layer's data version "L<version>" on a read-only one."""
    ctx = _Context(parsed, layer.name)
    found = await run_in_threadpool(_item, layer, number, crs)
    if found is None:
        raise NotFound(not_found(str(number), layer.name))
    feature, etag = found
    ctx.headers["ETag"] = etag
    if ids.names(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    ctx.finish(request.query_params.get("crs"))
    return Response(item_document(ctx, str(number), feature), headers=ctx.headers)


def item_document(ctx: _Context, fid: str, feature: str) -> bytes:
    """One Feature as pygeoapi lays it out, around the SQL-built feature."""
    f_json, f_jsonld, f_html, types = bridge.format_types()
    base = bridge.api().base_url
    collections = bridge.api().get_collections_url()
    uri = f"{collections}/{ctx.collection}/items/{fid}"
    rel = ctx.request.get_linkrel
    links = [
        {
            "type": types[f_json],
            "rel": "root",
            "title": ctx.title("The landing page of this server as JSON"),
            "href": f"{base}?f={f_json}",
        },
        {
            "type": types[f_html],
            "rel": "root",
            "title": ctx.title("The landing page of this server as HTML"),
            "href": f"{base}?f={f_html}",
        },
        {
            "rel": rel(f_json),
            "type": "application/geo+json",
            "title": ctx.title("This document as JSON"),
            "href": f"{uri}?f={f_json}",
        },
        {
            "rel": rel(f_jsonld),
            "type": types[f_jsonld],
            "title": ctx.title("This document as RDF (JSON-LD)"),
            "href": f"{uri}?f={f_jsonld}",
        },
        {
            "rel": rel(f_html),
            "type": types[f_html],
            "title": ctx.title("This document as HTML"),
            "href": f"{uri}?f={f_html}",
        },
        {
            "rel": "collection",
            "type": types[f_json],
            "title": ctx.title(ctx.resource["title"]),
            "href": f"{collections}/{ctx.collection}",
        },
    ]
    return feature[:-1].encode() + b',"links":' + orjson.dumps(links) + b"}"


async def _item_page(request: Request, layer: Layer, number: int) -> Response:
    """One feature as pygeoapi's HTML or JSON-LD page, with the feature's ETag (304 when
    If-None-Match names it). The tag is read before pygeoapi reads the feature, so a write in
    between can only make the tag older than the page: an If-Match with it then fails (412)
    rather than overwrite that write, and an If-None-Match with it gets the page again."""
    try:
        etag = await run_in_threadpool(_etag, layer, number)
    except TwinError:
        etag = None  # pygeoapi answers (and reports the database) on its own
    if etag is not None and ids.names(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    return PygeoapiAnswer(etag)


class PygeoapiAnswer(Response):
    """pygeoapi's own answer to the request, returned by an endpoint of ours: its pages of
    one feature, and whatever it says under the bypass header. `etag` is added to a 200."""

    def __init__(self, etag: str | None = None) -> None:  # the body is pygeoapi's
        self.etag = etag
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await bridge.pygeoapi_app()(scope, receive, self._tagged(send))

    def _tagged(self, send: Send) -> Send:
        if self.etag is None:
            return send
        tag = self.etag.encode()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 200:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"etag"]
                message = {**message, "headers": [*kept, (b"etag", tag)]}
            await send(message)

        return sending


# ---- the database --------------------------------------------------------------------------


def _database_errors(work: Callable[..., Checked]) -> Callable[..., Checked]:
    """`work` with the database's failures as the twin's errors: a value it refused is a 400
    (its text goes to the log only), a table or column it lacks a 503 that says `twin
    migrate`, anything else a 500 (logged)."""

    @functools.wraps(work)
    def guarded(layer: Layer, *args: Any) -> Checked:
        try:
            return work(layer, *args)
        except psycopg.errors.DataError as exc:
            raise FeatureQueryError(database_refusal(exc)) from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            raise NotMigrated(layer.name, exc) from None
        except psycopg.Error:
            LOG.exception("query failed for %s", layer.name)
            raise QueryFailed() from None

    return guarded


@_database_errors
def _page_of(layer: Layer, q: p.ItemsQuery) -> Page:
    with connection() as conn:
        return fetch_page(conn, q)


def _page(q: p.ItemsQuery) -> Page:
    return _page_of(q.layer, q)


@_database_errors
def _item(layer: Layer, fid: int, crs: Any) -> tuple[str, str] | None:
    """The feature's GeoJSON text and its ETag."""
    with connection() as conn:
        return fetch_tagged_item(conn, layer, fid, crs)


@_database_errors
def _etag(layer: Layer, fid: int) -> str | None:
    """The feature's ETag, or None when there is no such feature now."""
    with connection() as conn:
        return item_etag(conn, layer, fid)

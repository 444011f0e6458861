"""HTTP for editing: OGC API Features Part 4 writes, feature history and restore.

Reads stay open; writes need an API key (`X-API-Key: <key>` or `Authorization: Bearer
<key>`). The items addresses belong to twin.features.routes, which calls the writes here as
functions (`create`, `change`); the history addresses are this module's handlers (the route
table, twin.http.routes, names each):

  POST   /collections/{id}/items                          create -> 201 + Location
  PUT    /collections/{id}/items/{fid}                    replace -> 200 + the feature
  PATCH  /collections/{id}/items/{fid}                    update (JSON merge patch) -> 200
  DELETE /collections/{id}/items/{fid}                    delete -> 204 (kept in history)
  GET    /collections/{id}/items/{fid}/history            every version of a feature
  GET    /collections/{id}/items/{fid}/history/{v}        one version, before and after
  POST   /collections/{id}/items/{fid}/history/{v}/restore   make it so again (undeletes)
  GET    /collections/{id}/changes?datetime=a/b           the layer's change feed

Every read and write of a feature carries its version as the ETag `"v<version>"`. PUT, PATCH,
DELETE and restore honour `If-Match` with it (checked under the row's lock, in the write's own
transaction): a stale tag is 412 and changes nothing, so two editors cannot silently
overwrite each other. With TWIN_REQUIRE_IF_MATCH=1 (twin.settings: http.require_if_match) a
write without If-Match is 428. Feature ids are canonical (twin.features.ids): `/items/١٢` or
`/items/012` is no alias of `/items/12` but a 404, on every route here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from twin.catalog import load_catalog
from twin.db.pool import connection
from twin.editing import VERSIONED_LAYERS, history, transactions
from twin.editing.users import Editor, authenticate
from twin.errors import (
    InvalidParameter,
    MethodNotAllowed,
    PreconditionRequired,
    TwinError,
    Unauthorized,
    UnsupportedMediaType,
)
from twin.features.ids import (
    ID_FORM,
    INTEGER_FORM,
    canonical_id,
    canonical_integer,
    version_etag,
)
from twin.http.errors import render
from twin.settings import get_settings
from twin.sqlfiles import query

GEOJSON = "application/geo+json"
MAX_LIMIT = 10_000
STORAGE_CRS = ("http://www.opengis.net/def/crs/OGC/1.3/CRS84",)  # lon, lat: GeoJSON order


class ReadOnly(MethodNotAllowed):
    """A write to a layer that takes none (reference and derived layers): 405."""


def _base_url(request: Request) -> str:
    return get_settings().internal.server_url or str(request.base_url).rstrip("/")


def _feature_id(raw: str) -> int:
    """The id in the URL, in canonical form only (twin.features.ids): anything else is 404."""
    fid = canonical_id(raw)
    if fid is None:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise history.NotFound(f"no feature {shown!r}: {ID_FORM}")
    return fid


def _collection(name: str, write: bool) -> str:
    if name not in load_catalog():
        raise history.NotFound(f"no collection {name!r}")
    if name not in VERSIONED_LAYERS:
        if write:
            raise ReadOnly(
                f"collection {name!r} is read-only; editable collections: "
                f"{', '.join(VERSIONED_LAYERS)}"
            )
        raise history.NotFound(
            f"collection {name!r} keeps no history; versioned collections: "
            f"{', '.join(VERSIONED_LAYERS)}"
        )
    return name


def _api_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _editor(key: str | None) -> Editor:
    if not key:
        raise Unauthorized(
            "writing needs an API key: send `X-API-Key: <key>` or "
            "`Authorization: Bearer <key>` (an admin creates one with "
            "`twin users add NAME --role editor --layers plots`)"
        )
    with connection(timeout=5) as conn:
        editor = authenticate(conn, key)
    if editor is None:
        raise Unauthorized("the API key is not valid: unknown, malformed or revoked")
    return editor


# The key parsing and checking other writers (twin.plans.routes) share with the items' writes.
api_key = _api_key
key_holder = _editor


async def _json_body(request: Request, patch: bool = False, hint: str = "") -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    accepted = {GEOJSON, "application/json"} | (
        {"application/merge-patch+json"} if patch else set()
    )
    if media not in accepted:
        raise UnsupportedMediaType(
            f"send the feature as {' or '.join(sorted(accepted))}, "
            f"not {media or 'no Content-Type'}{hint}"
        )
    crs = request.headers.get("content-crs", "").strip().strip("<>")
    if crs and crs not in STORAGE_CRS:
        raise InvalidParameter(
            f"Content-Crs {crs!r} is not supported for writes: send "
            f"coordinates in {STORAGE_CRS[0]} (lon, lat)"
        )
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the body is not valid JSON (UTF-8): {exc}") from None


def _feature_response(
    text: str, version: int, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        text,
        status_code=status,
        media_type=GEOJSON,
        headers={"ETag": version_etag(version), **transactions.ANALYSIS_HEADERS, **(headers or {})},
    )


def _require_if_match(if_match: str | None, what: str, name: str, fid: int) -> None:
    """428 for a blind write when the server requires If-Match (after the key is checked, so
    an anonymous caller learns nothing about the feature)."""
    if if_match is None and get_settings().http.require_if_match:
        raise PreconditionRequired(
            f"{what} needs an If-Match header on this server (TWIN_REQUIRE_IF_MATCH): "
            f"send If-Match with the ETag of the feature as you read it (GET "
            f'/collections/{name}/items/{fid} answers ETag: "v<version>"; for a deleted '
            "feature, the ETag its DELETE answered or its last version in /history), or "
            "If-Match: * to overwrite whatever version it is at"
        )


Work = TypeVar("Work", bound=Callable[..., Awaitable[Response]])


def _handler(work: Work) -> Work:
    """`work` answering every TwinError it raises through the one renderer."""

    @functools.wraps(work)
    async def endpoint(*args: Any) -> Response:
        try:
            return await work(*args)
        except TwinError as exc:
            return render(exc)

    return cast(Work, endpoint)


@_handler
async def create(request: Request, collection: str) -> Response:
    """Create a feature from a GeoJSON body (POST /collections/{id}/items, dispatched by
    twin.features.routes.items): 201 with its Location and ETag."""
    name = _collection(collection, write=True)
    key = _api_key(request)
    body = await _json_body(
        request, hint="; to search, POST a CQL2 filter as text/cql2 or application/cql2+json"
    )

    def work() -> tuple[int, str, int]:
        editor = _editor(key)
        with connection(timeout=5) as conn:
            return transactions.create(conn, name, editor, body)

    fid, text, version = await run_in_threadpool(work)
    location = f"{_base_url(request)}/collections/{name}/items/{fid}"
    return _feature_response(text, version, 201, {"Location": location})


@_handler
async def change(request: Request, collection: str, raw_fid: str) -> Response:
    """PUT, PATCH or DELETE /collections/{id}/items/{fid} (dispatched by
    twin.features.routes.item): replace, merge-patch or delete one feature."""
    name = _collection(collection, write=True)
    fid = _feature_id(raw_fid)
    key = _api_key(request)
    method = request.method
    if_match = request.headers.get("if-match")
    body = None if method == "DELETE" else await _json_body(request, patch=method == "PATCH")

    def work() -> Any:
        editor = _editor(key)
        _require_if_match(if_match, method, name, fid)
        with connection(timeout=5) as conn:
            if method == "PUT":
                return transactions.replace(conn, name, editor, fid, body, if_match)
            if method == "PATCH":
                return transactions.update(conn, name, editor, fid, body, if_match)
            return transactions.delete(conn, name, editor, fid, if_match)

    result = await run_in_threadpool(work)
    if method == "DELETE":
        return Response(
            status_code=204, headers={"ETag": version_etag(result), **transactions.ANALYSIS_HEADERS}
        )
    return _feature_response(*result)


@_handler
async def item_history(request: Request) -> Response:
    name = _collection(request.path_params["collection"], write=False)
    fid = _feature_id(request.path_params["fid"])

    def work() -> tuple[list[dict[str, Any]], bool]:
        with connection(timeout=5) as conn:
            versions = history.feature_versions(conn, name, fid)
            exists = (
                versions[-1]["exists"]
                if versions
                else conn.execute(
                    query("editing/feature_exists", table=name), {"id": fid}
                ).fetchone()[0]
            )
            return versions, exists

    versions, exists = await run_in_threadpool(work)
    if not versions and not exists:
        raise history.NotFound(f"no feature {fid} in {name}, now or in its history")
    base = f"{_base_url(request)}/collections/{name}/items/{fid}"
    for entry in versions:
        entry["links"] = [
            {
                "rel": "version",
                "type": "application/json",
                "href": f"{base}/history/{entry['version']}",
            }
        ]
    return JSONResponse(
        {
            "collection": name,
            "id": fid,
            "exists": exists,
            "versions": versions,
            **(
                {}
                if versions
                else {
                    "note": "unchanged since it was loaded (bulk loads such as the "
                    "demo city are not recorded row by row)"
                }
            ),
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/history"},
                {"rel": "item", "type": GEOJSON, "href": base},
            ],
        }
    )


@_handler
async def item_version(request: Request) -> Response:
    name = _collection(request.path_params["collection"], write=False)
    fid = _feature_id(request.path_params["fid"])
    version = _version(request.path_params["version"])

    def work() -> dict[str, Any]:
        with connection(timeout=5) as conn:
            return history.feature_version(conn, name, fid, version)

    entry = await run_in_threadpool(work)
    return JSONResponse({"collection": name, "id": fid, **entry})


@_handler
async def restore_item(request: Request) -> Response:
    name = _collection(request.path_params["collection"], write=True)
    fid = _feature_id(request.path_params["fid"])
    version = _version(request.path_params["version"])
    key = _api_key(request)
    if_match = request.headers.get("if-match")

    def work() -> tuple[str, int, bool]:
        editor = _editor(key)
        _require_if_match(if_match, "restore", name, fid)
        with connection(timeout=5) as conn:
            return transactions.restore(conn, name, editor, fid, version, if_match)

    text, new_version, recreated = await run_in_threadpool(work)
    location = f"{_base_url(request)}/collections/{name}/items/{fid}"
    return _feature_response(
        text, new_version, 201 if recreated else 200, {"Location": location} if recreated else None
    )


def _version(raw: str) -> int:
    """A version number in the URL, canonical as feature ids are."""
    version = canonical_id(raw)
    if version is None or version > 2**31 - 1:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise history.NotFound(f"no version {shown!r}: versions are plain decimal integers")
    return version


def parse_instant(raw: str | None, parameter: str = "datetime") -> datetime:
    """An RFC 3339 date-time (or a date, meaning its start in UTC) as an aware datetime."""
    if not raw:
        raise InvalidParameter(
            f"`{parameter}` is required: an RFC 3339 instant such as 2025-01-31T12:00:00Z"
        )
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidParameter(
            f"`{parameter}` {raw!r} is not an RFC 3339 instant such as 2025-01-31T12:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _interval(raw: str | None) -> tuple[datetime, datetime]:
    lowest = datetime(1, 1, 2, tzinfo=UTC)
    highest = datetime(9999, 12, 30, tzinfo=UTC)
    if not raw:
        return lowest, highest
    if "/" not in raw:
        instant = parse_instant(raw)
        return instant, instant
    start, _, end = raw.partition("/")
    return (
        lowest if start in ("", "..") else parse_instant(start),
        highest if end in ("", "..") else parse_instant(end),
    )


def _count_param(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number query parameter in canonical form (twin.features.ids) within bounds."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = canonical_integer(raw)
    if value is None or not lowest <= value <= highest:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidParameter(
            f"`{name}` must be an integer from {lowest} to {highest}, got {shown!r}: {INTEGER_FORM}"
        )
    return value


def _limit(request: Request, default: int = 10) -> tuple[int, int]:
    return (
        _count_param(request, "limit", default, 1, MAX_LIMIT),
        _count_param(request, "offset", 0, 0, 2**62 - 1),
    )


@_handler
async def layer_changes(request: Request) -> Response:
    name = _collection(request.path_params["collection"], write=False)
    start, end = _interval(request.query_params.get("datetime"))
    limit, _ = _limit(request, 100)

    def work() -> list[dict[str, Any]]:
        with connection(timeout=5) as conn:
            return history.layer_changes(conn, name, start, end, limit)

    return JSONResponse({"collection": name, "changes": await run_in_threadpool(work)})

"""HTTP of plans (rows in twin/http/routes.py): stored, named, comparable scenarios.

  GET    /plans                       the plans a reader may see (?author=, ?mine=true)
  POST   /plans                       create (API key; author = the key's user) -> 201
  GET    /plans/{planId}              the plan document, ETag "v<version>"
  PATCH  /plans/{planId}              JSON merge patch of title, description, private, mode,
                                      edits; If-Match (412 when stale) -> 200
  DELETE /plans/{planId}              -> 204 (its history is kept)
  POST   /plans/{planId}/copy         a copy of a readable plan, the caller's -> 201
  POST   /plans/{planId}/evaluate     evaluate now on the current data -> the plan document
  GET    /plans/{planId}/history      every change, newest first (also of a deleted plan)
  GET    /plans/{a}/compare/{b}       side by side with differences; either may be `base`
  GET    /plans/{planId}/report       f=pdf|html|csv|gpkg, lang=ru|kk|en (ru default; attached)

Edits are checked by the engine (twin.plans.edits.parse_edits) before anything is stored: a
bad edit is a 400 naming it, and no row is written. Who may read, change and evaluate is
twin.plans.store's rule; keys are read as the editing routes read them. A change of edits or
mode makes the plan evaluate itself a moment later (twin.plans.worker).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.editing.routes import api_key, key_holder
from twin.errors import (
    InvalidParameter,
    NotFound,
    TwinError,
)
from twin.features.ids import INTEGER_FORM, canonical_id, canonical_integer
from twin.http.body import json_body
from twin.http.errors import answers_errors
from twin.plans import compare as comparing
from twin.plans import store, worker
from twin.plans.store import Reader
from twin.settings import get_settings

JSON = "application/json"
JSON_TYPES = (JSON, "application/merge-patch+json", "application/geo+json")
MAX_PLAN_ID = 2**63 - 1
LIST_LIMIT = 100
LIST_MAX = 1000
REPORT_FORMATS = ("pdf", "html", "csv", "gpkg")
REPORT_LANGUAGES = ("en", "ru", "kk")
BASE = comparing.BASE
TILE_TEMPLATE = "/collections/plan_cells/tiles/WebMercatorQuad/{z}/{y}/{x}"
REEVALUATE_AFTER_S = 5.0  # a plan pending this long past its delay, with no timer here: resume


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type=JSON,
        headers=headers,
    )


def _base_url(request: Request) -> str:
    return get_settings().internal.server_url or str(request.base_url).rstrip("/")


# ---- request parts ------------------------------------------------------------------------


def _plan_id(raw: str) -> int:
    """A plan id in the URL: a plain decimal integer, anything else is no plan (404)."""
    number = canonical_id(raw)
    if number is None or number > MAX_PLAN_ID:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise NotFound(f"no plan {shown!r}: plan ids are plain decimal integers")
    return number


def _reader(key: str | None) -> Reader:
    """Who reads: nobody without a key; a key that is sent must be valid (401)."""
    if not key:
        return Reader()
    holder = key_holder(key)
    return Reader(holder.name, holder.role)


def _writer(key: str | None) -> Reader:
    """Who writes: a valid key of any role (401 without one)."""
    holder = key_holder(key)
    return Reader(holder.name, holder.role)


async def _body(request: Request, required: bool = True) -> Any:
    """The plan's JSON body, at most settings.plans.max_body_bytes."""
    return await json_body(
        request,
        limit=get_settings().plans.max_body_bytes,
        what="a plan (its members as JSON)",
        media_types=JSON_TYPES,
        required=required,
    )


def _count(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
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


def _checked_edits(raw: Any) -> tuple[dict[str, Any], str]:
    """The engine's normalised edits (400 naming the first bad one) and the base version."""
    from twin.analysis.city import current_city
    from twin.plans.edits import parse_edits
    from twin.plans.evaluate import current_base_version

    with connection(timeout=30) as conn:
        city = current_city(conn)
        base = current_base_version(conn)
    return parse_edits(raw, city).collection, base


def _current_base() -> str | None:
    try:
        return worker.base_version_now()
    except TwinError:
        raise
    except Exception:  # the engine is unavailable: stale unknown, the plan still readable
        return None


# ---- the plan document --------------------------------------------------------------------


def _time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def document(plan: dict[str, Any], base_url: str, current_base: str | None) -> dict[str, Any]:
    """The plan as GET /plans/{planId} answers it (the contract's plan document)."""
    pid = plan["id"]
    evaluation = plan.get("evaluation")
    cells = (evaluation or {}).get("changed_cells") or []
    shown = None
    if evaluation is not None:
        shown = {k: v for k, v in evaluation.items() if k != "changed_cells"}
    here = f"{base_url}/plans/{pid}"
    changed: dict[str, Any] = {"count": len(cells)}
    if plan["private"]:
        changed |= {
            "items": None,
            "tiles": None,
            "note": "a private plan's cells are not published in plan_cells; "
            "make the plan public to draw it as a layer",
        }
    else:
        changed |= {
            "items": f"{base_url}/collections/plan_cells/items?plan={pid}",
            "tiles": f"{base_url}{TILE_TEMPLATE}?plan={pid}",
        }
    doc = {
        **_heading(plan, current_base),
        "edits": plan["edits"],
        "evaluation": shown,
        "evaluated_at": _time(plan.get("evaluated_at")),
        "evaluated_version": plan.get("evaluated_version"),
        "changed_cells": changed,
        "links": [
            {"rel": "self", "type": JSON, "href": here},
            {"rel": "history", "type": JSON, "href": f"{here}/history"},
            {"rel": "evaluate", "type": JSON, "href": f"{here}/evaluate"},
            {"rel": "copy", "type": JSON, "href": f"{here}/copy"},
            {"rel": "compare-base", "type": JSON, "href": f"{base_url}/plans/base/compare/{pid}"},
            *[
                {
                    "rel": "alternate",
                    "type": media,
                    "title": f"report ({fmt})",
                    "href": f"{here}/report?f={fmt}",
                }
                for fmt, media in (
                    ("pdf", "application/pdf"),
                    ("html", "text/html"),
                    ("csv", "text/csv"),
                    ("gpkg", "application/geopackage+sqlite3"),
                )
            ],
        ],
    }
    if plan["status"] == "failed":
        doc["failure"] = plan.get("failure")
    return doc


def _heading(plan: dict[str, Any], current_base: str | None) -> dict[str, Any]:
    """What a plan is, the same in the list and in its document: who, when, on which data."""
    return {
        "id": plan["id"],
        "title": plan["title"],
        "description": plan["description"],
        "author": plan["author"],
        "private": plan["private"],
        "created": _time(plan["created"]),
        "updated": _time(plan["updated"]),
        "version": plan["version"],
        "base_version": plan["base_version"],
        "stale": current_base is not None
        and plan["base_version"] is not None
        and plan["base_version"] != current_base,
        "status": plan["status"],
        "mode": plan["mode"],
    }


def _summary(plan: dict[str, Any], base_url: str, current_base: str | None) -> dict[str, Any]:
    return {
        **_heading(plan, current_base),
        "edit_count": plan.get("edit_count") or 0,
        "links": [{"rel": "self", "type": JSON, "href": f"{base_url}/plans/{plan['id']}"}],
    }


def _plan_response(
    plan: dict[str, Any], request: Request, current_base: str | None, status: int = 200
) -> Response:
    headers = {"ETag": store.plan_etag(plan["version"])}
    if status == 201:
        headers["Location"] = f"{_base_url(request)}/plans/{plan['id']}"
    return _json(document(plan, _base_url(request), current_base), status, headers)


def _resume_if_forgotten(plan: dict[str, Any]) -> None:
    """A plan left pending (its server restarted before the timer fired): evaluate it soon."""
    if plan["status"] != "pending" or worker.DEBOUNCER.scheduled(plan["id"]):
        return
    delay = get_settings().plans.evaluate_delay_s
    updated = plan["updated"]
    age = (dt.datetime.now(dt.UTC) - updated).total_seconds() if updated else 1e9
    if age > delay + REEVALUATE_AFTER_S:
        worker.DEBOUNCER.schedule(plan["id"], plan["author"], delay=0)


# ---- the endpoints ------------------------------------------------------------------------


@answers_errors
async def plans(request: Request) -> Response:
    """GET /plans (list) and POST /plans (create)."""
    if request.method == "POST":
        return await _create(request)
    return await _list(request)


async def _list(request: Request) -> Response:
    fmt = request.query_params.get("f", "json")
    if fmt not in ("json", "html"):
        raise InvalidParameter(f"f must be json or html, not {fmt[:40]!r}")
    mine = request.query_params.get("mine", "false").lower()
    if mine not in ("true", "false"):
        raise InvalidParameter(f"mine must be true or false, not {mine[:40]!r}")
    author = request.query_params.get("author")
    if author is not None and not (1 <= len(author) <= 100 and author.isprintable()):
        raise InvalidParameter("author is a user name of 1 to 100 printable characters")
    limit = _count(request, "limit", LIST_LIMIT, 1, LIST_MAX)
    offset = _count(request, "offset", 0, 0, 2**62)
    key = api_key(request)

    def work() -> tuple[list[dict[str, Any]], int, str | None, Reader]:
        reader = _writer(key) if mine == "true" else _reader(key)
        wanted = reader.name if mine == "true" else author
        if mine == "true" and author is not None and author != reader.name:
            raise InvalidParameter("give mine=true or author=NAME, not both for two people")
        with connection(timeout=10) as conn:
            rows, matched = store.list_plans(conn, reader, wanted, limit, offset)
        return rows, matched, _current_base(), reader

    rows, matched, current, _ = await run_in_threadpool(work)
    base = _base_url(request)
    items = [_summary(row, base, current) for row in rows]
    if fmt == "html":
        return Response(_list_page(items), media_type="text/html; charset=utf-8")
    query = {k: v for k, v in request.query_params.items() if k not in ("offset",)}
    links = [{"rel": "self", "type": JSON, "href": str(request.url)}]
    if offset + len(items) < matched:
        links.append(
            {
                "rel": "next",
                "type": JSON,
                "href": f"{base}/plans?{urlencode(query | {'offset': offset + limit})}",
            }
        )
    return _json(
        {
            "plans": items,
            "numberMatched": matched,
            "numberReturned": len(items),
            "links": links,
        }
    )


def _list_page(items: list[dict[str, Any]]) -> str:
    """A plain HTML list of plans (each title links to its document)."""
    rows = "".join(
        f'<li><a href="{html.escape(item["links"][0]["href"])}">{html.escape(item["title"])}'
        f"</a> — {html.escape(item['author'])}, {html.escape(item['status'])}"
        f"{' (private)' if item['private'] else ''}</li>"
        for item in items
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plans</title>'
        f"</head><body><h1>Plans</h1><ul>{rows or '<li>no plans yet</li>'}</ul></body></html>"
    )


async def _create(request: Request) -> Response:
    key = api_key(request)
    body = await _body(request)

    def work() -> tuple[dict[str, Any], str | None]:
        author = _writer(key)
        fields = store.check_fields(body)
        edits, base = _checked_edits(fields.pop("edits", None) or store.empty_edits())
        with connection(timeout=10) as conn:
            plan = store.create_plan(conn, author.name or "", fields, edits, base)
        return plan, base

    plan, base = await run_in_threadpool(work)
    if plan["status"] == "pending":
        worker.DEBOUNCER.schedule(plan["id"], plan["author"])
    return _plan_response(plan, request, base, 201)


@answers_errors
async def plan(request: Request) -> Response:
    """GET, PATCH and DELETE /plans/{planId}."""
    pid = _plan_id(request.path_params["plan_id"])
    key = api_key(request)
    if request.method == "PATCH":
        return await _patch(request, pid, key)
    if request.method == "DELETE":
        return await _delete(request, pid, key)

    def work() -> tuple[dict[str, Any], str | None]:
        reader = _reader(key)
        with connection(timeout=10) as conn:
            found = store.readable_plan(conn, pid, reader)
        return found, _current_base()

    found, current = await run_in_threadpool(work)
    _resume_if_forgotten(found)
    return _plan_response(found, request, current)


async def _patch(request: Request, pid: int, key: str | None) -> Response:
    if_match = request.headers.get("if-match")
    body = await _body(request)

    def work() -> tuple[dict[str, Any], bool, str | None]:
        reader = _writer(key)
        fields = store.check_fields(body, partial=True)
        edits = None
        if "edits" in fields:
            with connection(timeout=10) as conn:  # 404 and 403 before the engine's checks
                store.owned_plan(conn, pid, reader)
            edits, _ = _checked_edits(fields.pop("edits") or store.empty_edits())
        with connection(timeout=10) as conn:
            updated, reevaluate = store.update_plan(conn, pid, reader, fields, edits, if_match)
        return updated, reevaluate, _current_base()

    updated, reevaluate, current = await run_in_threadpool(work)
    if reevaluate:
        worker.DEBOUNCER.schedule(pid, updated["author"])
    return _plan_response(updated, request, current)


async def _delete(request: Request, pid: int, key: str | None) -> Response:
    if_match = request.headers.get("if-match")

    def work() -> int:
        reader = _writer(key)
        with connection(timeout=10) as conn:
            return store.delete_plan(conn, pid, reader, if_match)

    version = await run_in_threadpool(work)
    worker.DEBOUNCER.cancel(pid)
    return Response(status_code=204, headers={"ETag": store.plan_etag(version)})


@answers_errors
async def copy_plan(request: Request) -> Response:
    """POST /plans/{planId}/copy: a copy of a plan the caller may read, theirs from now on
    (title "<title> (copy)" unless the body gives one); the evaluation comes along."""
    pid = _plan_id(request.path_params["plan_id"])
    key = api_key(request)
    body = await _body(request, required=False)

    def work() -> tuple[dict[str, Any], str | None]:
        reader = _writer(key)
        with connection(timeout=10) as conn:
            source = store.readable_plan(conn, pid, reader)
        given = store.check_fields(body or {}, partial=True)
        if "edits" in given:
            raise InvalidParameter("a copy takes the plan's edits: change them afterwards")
        fields = {
            "title": given.get("title") or f"{source['title'][: store.TITLE_MAX - 7]} (copy)",
            "description": given.get("description", source["description"]),
            "private": given.get("private", source["private"]),
            "mode": given.get("mode", source["mode"]),
        }
        with connection(timeout=10) as conn:
            made = store.create_plan(
                conn, reader.name or "", fields, source["edits"], source["base_version"], "copy"
            )
            if (
                source["evaluation"] is not None
                and source["status"] == "evaluated"
                and source["evaluated_version"] == source["version"]
                and fields["mode"] == source["mode"]
            ):
                made = (
                    store.store_evaluation(
                        conn, made["id"], made["version"], source["evaluation"], reader.name or ""
                    )
                    or made
                )
        return made, _current_base()

    made, current = await run_in_threadpool(work)
    if made["status"] == "pending":
        worker.DEBOUNCER.schedule(made["id"], made["author"])
    return _plan_response(made, request, current, 201)


@answers_errors
async def evaluate(request: Request) -> Response:
    """POST /plans/{planId}/evaluate: evaluate on the current data now (a stale plan is
    brought to the current base), store, answer the plan document."""
    pid = _plan_id(request.path_params["plan_id"])
    key = api_key(request)

    def work() -> tuple[dict[str, Any], str | None]:
        reader = _writer(key)
        with connection(timeout=10) as conn:
            store.owned_plan(conn, pid, reader, "evaluate")
        worker.DEBOUNCER.cancel(pid)
        evaluated = worker.evaluate_now(pid, reader.name or "")
        return evaluated, _current_base()

    evaluated, current = await run_in_threadpool(work)
    return _plan_response(evaluated, request, current)


@answers_errors
async def history(request: Request) -> Response:
    """GET /plans/{planId}/history: every recorded change, newest first."""
    pid = _plan_id(request.path_params["plan_id"])
    key = api_key(request)
    limit = _count(request, "limit", 1000, 1, 10_000)

    def work() -> tuple[list[dict[str, Any]], bool]:
        reader = _reader(key)
        with connection(timeout=10) as conn:
            return store.plan_history(conn, pid, reader, limit)

    entries, exists = await run_in_threadpool(work)
    return _json(
        {
            "plan": pid,
            "exists": exists,
            "versions": [
                {
                    "version": e["version"],
                    "action": e["action"],
                    "author": e["author"],
                    "at": _time(e["at"]),
                    "snapshot": e["snapshot"],
                }
                for e in entries
            ],
            "links": [
                {"rel": "self", "type": JSON, "href": f"{_base_url(request)}/plans/{pid}/history"}
            ],
        }
    )


def _evaluated(pid: int, reader: Reader, current: str | None) -> dict[str, Any]:
    """The plan `reader` may see, evaluated on the current base (evaluated now if it was
    not, whoever reads it: an evaluation changes no edit)."""
    with connection(timeout=10) as conn:
        found = store.readable_plan(conn, pid, reader)
    if worker.needs_evaluation(found, current):
        worker.DEBOUNCER.cancel(pid)
        found = worker.evaluate_now(pid, reader.name or "reader")
        if found.get("evaluation") is None:
            raise NotFound(f"plan {pid} could not be evaluated: {found.get('failure')}")
    return found


def _side(raw: str) -> int | None:
    return None if raw == BASE else _plan_id(raw)


@answers_errors
async def compare(request: Request) -> Response:
    """GET /plans/{a}/compare/{b}: two plans, or a plan and today (`base`), side by side."""
    first, second = _side(request.path_params["a"]), _side(request.path_params["b"])
    key = api_key(request)

    def work() -> dict[str, Any]:
        reader = _reader(key)
        current = _current_base()
        plans = {pid: _evaluated(pid, reader, current) for pid in (first, second) if pid}
        if plans:
            any_evaluation = next(iter(plans.values()))["evaluation"]
        else:
            any_evaluation = worker.evaluate_edits(store.empty_edits(), "slope")
        sides = [
            comparing.side(plans[pid], plans[pid]["evaluation"])
            if pid
            else comparing.side(None, any_evaluation)
            for pid in (first, second)
        ]
        return comparing.compare(*sides)

    return _json(await run_in_threadpool(work))


@answers_errors
async def report(request: Request) -> Response:
    """GET /plans/{planId}/report?f=pdf|html|csv|gpkg&lang=en|ru|kk: the plan's report."""
    pid = _plan_id(request.path_params["plan_id"])
    fmt = request.query_params.get("f", "pdf")
    lang = request.query_params.get("lang", "ru")
    if fmt not in REPORT_FORMATS:
        raise InvalidParameter(f"f must be one of {', '.join(REPORT_FORMATS)}, not {fmt[:40]!r}")
    if lang not in REPORT_LANGUAGES:
        raise InvalidParameter(
            f"lang must be one of {', '.join(REPORT_LANGUAGES)}, not {lang[:40]!r}"
        )
    key = api_key(request)
    base_url = _base_url(request)

    def work() -> tuple[bytes, str, str]:
        from twin.plans.report import render_report

        reader = _reader(key)
        current = _current_base()
        found = _evaluated(pid, reader, current)
        doc = document(found, base_url, current)
        cells = (found.get("evaluation") or {}).get("changed_cells") or []
        with connection(timeout=30) as conn:
            return render_report(conn, doc, cells, fmt, lang)

    body, media, name = await run_in_threadpool(work)
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or f"plan-{pid}.{fmt}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{plain}"; '
            f"filename*=UTF-8''{quote(name)}"
        },
    )

"""Plans as stored objects: PostGIS rows (migration 0007_plans.sql), their history, their cells.

A plan is a row of `plans`; every change (create, update, copy, delete, evaluate) is one row
of `plan_history` written in the same transaction, with the plan as it is after it, so a
deleted plan still has its story. Its evaluation (the engine's answer) is stored on the row;
its changed H3 cells are published in the analysis layer `plan_cells` while the plan is
public, so `/collections/plan_cells/items?plan=ID` and the layer's tiles with `?plan=ID` draw
it like any layer. A private plan's cells stay on its row only: the layer is open to every
reader, and a private plan is its author's and the admins'.

Who may do what is decided here (the routes only pass the key's holder): reading is open
except a private plan, which is 404 to anyone but its author and admins (its existence does
not leak); changing, deleting and evaluating are its author's or an admin's (403 to others).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import h3
import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from twin.errors import Forbidden, InvalidParameter, NotFound, PreconditionFailed
from twin.http.conditional import etag_matches
from twin.sqlfiles import query

LOG = logging.getLogger("twin.plans.store")
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
FIELDS = ("title", "description", "private", "mode", "edits")
ADMIN = "admin"


@dataclass(frozen=True)
class Reader:
    """Who asks: a key's holder (name, role) or nobody (no key)."""

    name: str | None = None
    role: str | None = None

    @property
    def admin(self) -> bool:
        return self.role == ADMIN


def _dumps(value: Any) -> str:
    return orjson.dumps(
        value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def plan_etag(version: int) -> str:
    """The ETag of a plan at `version` (the same form as a feature's)."""
    return f'"v{version}"'


# ---- who may ------------------------------------------------------------------------------


def may_read(plan: dict[str, Any], reader: Reader) -> bool:
    return not plan["private"] or reader.admin or plan["author"] == reader.name


def may_change(plan: dict[str, Any], reader: Reader) -> bool:
    return reader.admin or plan["author"] == reader.name


def _missing(plan_id: int | str) -> NotFound:
    return NotFound(f"no plan {plan_id}")


# ---- fields -------------------------------------------------------------------------------


def check_fields(body: Any, partial: bool = False) -> dict[str, Any]:
    """The plan's own fields in a POST or PATCH body, checked (edits are the engine's to
    check): title 1..200 characters, description text, private true/false, mode one of the
    walking modes. Unknown members are refused by name, so a typo is not silently dropped."""
    from twin.analysis.network import MODES

    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object with the plan's members")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidParameter(
            f"unknown or read-only member(s) {', '.join(map(repr, unknown))}: a plan takes "
            f"{', '.join(FIELDS)}"
        )
    fields: dict[str, Any] = {}
    if "title" in body or not partial:
        title = body.get("title")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= TITLE_MAX:
            raise InvalidParameter(f"title must be text of 1 to {TITLE_MAX} characters")
        fields["title"] = title.strip()
    if "description" in body:
        text = body["description"]
        if text is None:
            text = ""
        if not isinstance(text, str) or len(text) > DESCRIPTION_MAX:
            raise InvalidParameter(f"description must be text of at most {DESCRIPTION_MAX} chars")
        fields["description"] = text
    if "private" in body:
        if not isinstance(body["private"], bool):
            raise InvalidParameter("private must be true or false")
        fields["private"] = body["private"]
    if "mode" in body:
        if body["mode"] not in MODES:
            raise InvalidParameter(f"mode must be one of {', '.join(MODES)}, not {body['mode']!r}")
        fields["mode"] = body["mode"]
    if "edits" in body:
        fields["edits"] = body["edits"]  # checked by the engine (twin.plans.edits)
    return fields


def empty_edits() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": []}


# ---- reading ------------------------------------------------------------------------------


def plan_row(conn: psycopg.Connection, plan_id: int, lock: bool = False) -> dict[str, Any] | None:
    """The plan's row as stored (None: no such plan, or deleted)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query("plans/store_lock" if lock else "plans/store_plan"), {"id": plan_id})
        return cur.fetchone()


def readable_plan(conn: psycopg.Connection, plan_id: int, reader: Reader) -> dict[str, Any]:
    """The plan `reader` may see; 404 for none, and for a private plan of someone else."""
    plan = plan_row(conn, plan_id)
    if plan is None or not may_read(plan, reader):
        raise _missing(plan_id)
    return plan


def list_plans(
    conn: psycopg.Connection, reader: Reader, author: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The plans `reader` may see (of `author` only, when given), newest first, and how
    many match in all."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            query("plans/store_list"),
            {
                "reader": reader.name,
                "admin": reader.admin,
                "author": author,
                "limit": limit,
                "offset": offset,
            },
        )
        rows = cur.fetchall()
    matched = rows[0]["matched"] if rows else 0
    if not rows and offset:
        with conn.cursor(row_factory=dict_row) as cur:  # past the end: still say how many
            cur.execute(
                query("plans/store_list"),
                {
                    "reader": reader.name,
                    "admin": reader.admin,
                    "author": author,
                    "limit": 1,
                    "offset": 0,
                },
            )
            first = cur.fetchone()
            matched = first["matched"] if first else 0
    for row in rows:
        row.pop("matched", None)
    return rows, matched


def plan_history(
    conn: psycopg.Connection, plan_id: int, reader: Reader, limit: int = 1000
) -> tuple[list[dict[str, Any]], bool]:
    """Every recorded change of a plan, newest first, and whether it still exists. A deleted
    plan's history is readable as the plan was (its last snapshot says whether private)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query("plans/store_history"), {"id": plan_id, "limit": limit})
        entries = cur.fetchall()
    current = plan_row(conn, plan_id)
    latest = current or (entries[0]["snapshot"] if entries else None)
    if latest is None or not may_read(latest, reader):
        raise _missing(plan_id)
    return entries, current is not None


def count_plans(conn: psycopg.Connection) -> int:
    return conn.execute(query("plans/store_count")).fetchone()[0]


# ---- writing ------------------------------------------------------------------------------


def snapshot(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as its history keeps it: every field but the (large) evaluation."""
    keep = {k: v for k, v in plan.items() if k not in ("evaluation", "matched")}
    return orjson.loads(_dumps(keep))


def _record(conn: psycopg.Connection, plan: dict[str, Any], action: str, author: str) -> None:
    shot = snapshot(plan)
    if action == "evaluate" and plan.get("evaluation"):
        shot["indicators_city"] = (plan["evaluation"].get("indicators") or {}).get("city")
    conn.execute(
        query("plans/store_record"),
        {
            "plan": plan["id"],
            "version": plan["version"],
            "action": action,
            "author": author,
            "snapshot": _jsonb(shot),
        },
    )


def create_plan(
    conn: psycopg.Connection,
    author: str,
    fields: dict[str, Any],
    edits: dict[str, Any],
    base_version: str | None,
    action: str = "create",
) -> dict[str, Any]:
    """A new plan of `author` with checked `fields` and normalised `edits`, recorded."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            query("plans/store_insert"),
            {
                "title": fields["title"],
                "description": fields.get("description", ""),
                "author": author,
                "private": fields.get("private", False),
                "mode": fields.get("mode", "slope"),
                "edits": _jsonb(edits),
                "base_version": base_version,
                "status": "pending" if edits.get("features") else "new",
            },
        )
        plan = cur.fetchone()
        assert plan is not None
        _record(conn, plan, action, author)
    return plan


def _check_if_match(plan: dict[str, Any], if_match: str | None) -> None:
    if if_match is not None and not etag_matches(if_match, plan_etag(plan["version"])):
        raise PreconditionFailed(
            f"plan {plan['id']} is at version {plan['version']}, not the one If-Match names "
            f"({if_match[:40]}): read it again (GET /plans/{plan['id']}) and apply your change "
            "to that version",
            etag=plan_etag(plan["version"]),
        )


def owned_plan(
    conn: psycopg.Connection,
    plan_id: int,
    reader: Reader,
    doing: str = "change",
    lock: bool = False,
) -> dict[str, Any]:
    """The plan `reader` may change (or evaluate): 404 when they cannot see it, 403 when it
    is not theirs and they are no admin."""
    plan = plan_row(conn, plan_id, lock=lock)
    if plan is None or not may_read(plan, reader):
        raise _missing(plan_id)
    if not may_change(plan, reader):
        raise Forbidden(
            f"plan {plan_id} is {plan['author']}'s: only its author or an admin may {doing} "
            "it; copy it (POST /plans/{planId}/copy) to make a plan of your own"
        )
    return plan


def _changeable(
    conn: psycopg.Connection, plan_id: int, reader: Reader, if_match: str | None
) -> dict[str, Any]:
    """The plan locked for a change by `reader` (404 unseen, 403 not theirs, 412 stale)."""
    plan = owned_plan(conn, plan_id, reader, lock=True)
    _check_if_match(plan, if_match)
    return plan


def update_plan(
    conn: psycopg.Connection,
    plan_id: int,
    reader: Reader,
    fields: dict[str, Any],
    edits: dict[str, Any] | None,
    if_match: str | None,
) -> tuple[dict[str, Any], bool]:
    """A merge patch applied (new version, recorded); and whether edits or mode changed (the
    plan then needs evaluating again). Cells follow privacy: published while public."""
    with conn.transaction():
        plan = _changeable(conn, plan_id, reader, if_match)
        merged = {key: plan[key] for key in FIELDS} | fields
        if edits is not None:
            merged["edits"] = edits
        reevaluate = merged["edits"] != plan["edits"] or merged["mode"] != plan["mode"]
        if not reevaluate and all(merged[k] == plan[k] for k in FIELDS):
            return plan, False  # nothing changes: no new version
        status = "pending" if reevaluate else plan["status"]
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                query("plans/store_update"),
                {
                    "id": plan_id,
                    "title": merged["title"],
                    "description": merged["description"],
                    "private": merged["private"],
                    "mode": merged["mode"],
                    "edits": _jsonb(merged["edits"]),
                    "status": status,
                    "reevaluate": reevaluate,
                },
            )
            updated = cur.fetchone()
        assert updated is not None
        if merged["private"] != plan["private"]:
            conn.execute(query("plans/store_delete_cells"), {"id": plan_id})
            if not merged["private"] and not reevaluate and updated["evaluation"]:
                _publish_cells(conn, plan_id, updated["evaluation"])
        _record(conn, updated, "update", reader.name or "")
    return updated, reevaluate


def delete_plan(
    conn: psycopg.Connection, plan_id: int, reader: Reader, if_match: str | None
) -> int:
    """The plan deleted (its history kept, with this last entry); its version."""
    with conn.transaction():
        plan = _changeable(conn, plan_id, reader, if_match)
        conn.execute(query("plans/store_delete"), {"id": plan_id})
        conn.execute(query("plans/store_delete_cells"), {"id": plan_id})
        _record(conn, plan, "delete", reader.name or "")
    return plan["version"]


def mark_pending(conn: psycopg.Connection, plan_id: int, version: int) -> None:
    conn.execute(
        query("plans/store_status"), {"id": plan_id, "version": version, "status": "pending"}
    )


def _cell_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for cell in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell["h3"])]
        ring.append(ring[0])
        wkt = "POLYGON((" + ", ".join(f"{x:.9f} {y:.9f}" for x, y in ring) + "))"
        rows.append({**cell, "wkt": wkt})
    return rows


def _publish_cells(conn: psycopg.Connection, plan_id: int, evaluation: dict[str, Any]) -> None:
    cells = evaluation.get("changed_cells") or []
    if cells:
        conn.execute(
            query("plans/store_insert_cells"),
            {"plan": plan_id, "cells": _dumps(_cell_rows(cells))},
        )


def store_evaluation(
    conn: psycopg.Connection,
    plan_id: int,
    version: int,
    evaluation: dict[str, Any],
    author: str,
) -> dict[str, Any] | None:
    """The evaluation of the plan at `version` stored with its cells (replacing the earlier
    ones) and recorded; None when the plan moved on meanwhile (or is gone): the evaluation
    of an older version is dropped, the newer one is on its way."""
    with conn.transaction():
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                query("plans/store_evaluated"),
                {
                    "id": plan_id,
                    "version": version,
                    "evaluation": _jsonb(evaluation),
                    "base_version": evaluation.get("base_version"),
                },
            )
            plan = cur.fetchone()
        if plan is None:
            return None
        conn.execute(query("plans/store_delete_cells"), {"id": plan_id})
        if not plan["private"]:
            _publish_cells(conn, plan_id, evaluation)
        _record(conn, plan, "evaluate", author)
    return plan


def store_failure(conn: psycopg.Connection, plan_id: int, version: int, reason: str) -> None:
    """An evaluation that failed: status failed, with the reason the plan document shows."""
    conn.execute(
        query("plans/store_failed"), {"id": plan_id, "version": version, "failure": reason[:2000]}
    )

"""The change history of the versioned layers: installed per layer, read per feature or as the
whole layer at an instant, and used to restore any earlier version (a deletion included).

Every change is written by triggers (twin/db/migrations/0003_editing.sql), so nothing is lost
whichever way a row changes: the API, plain SQL, or an import.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import psycopg

from twin import errors
from twin.catalog import get_layer
from twin.editing import VERSIONED_LAYERS
from twin.sqlfiles import query, text


class NotFound(errors.NotFound):
    """No such collection history, feature or version (404)."""


def install_history(conn: psycopg.Connection, applied: dict[str, str]) -> list[str]:
    """Create the history trigger functions and the triggers on each versioned layer; each is
    a migration step re-applied when its SQL file changes."""
    done: list[str] = []
    functions = hashlib.sha256(text("editing/history_functions").encode()).hexdigest()[:16]
    if applied.get("history:functions") != functions:
        conn.execute(query("editing/history_functions"))
        conn.execute(
            query("db/record_migration"), {"id": "history:functions", "checksum": functions}
        )
        done.append("history:functions")
    checksum = hashlib.sha256(text("editing/history_triggers").encode()).hexdigest()[:16]
    for name in VERSIONED_LAYERS:
        step = f"history:{name}"
        if applied.get(step) == checksum:
            continue
        conn.execute(query("editing/history_triggers", table=get_layer(name).table))
        conn.execute(query("db/record_migration"), {"id": step, "checksum": checksum})
        done.append(step)
    if own_time_step(conn, applied):
        done.append("history:own_time")
    return done


def own_time_step(conn: psycopg.Connection, applied: dict[str, str]) -> bool:
    """Tell the database each versioned layer's own date (`temporal:`), so the SQL function
    twin_layer_as_of() applies it as the items do while layers/*.yml stays its one source;
    re-applied when a layer's `temporal:` changes. True when it was (re)written."""
    layers = []
    for name in VERSIONED_LAYERS:
        layer = get_layer(name)
        if layer.temporal:
            kind = layer.properties[layer.temporal].type  # "date" | "datetime" (the catalog's)
            layers.append({"layer": name, "field": layer.temporal, "kind": kind})
    spec = orjson.dumps(layers, option=orjson.OPT_SORT_KEYS)
    checksum = hashlib.sha256(text("editing/own_time").encode() + spec).hexdigest()[:16]
    if applied.get("history:own_time") == checksum:
        return False
    conn.execute(query("editing/own_time"), {"layers": spec.decode()})
    conn.execute(query("db/record_migration"), {"id": "history:own_time", "checksum": checksum})
    return True


def versioned_layer(name: str) -> str:
    if name not in VERSIONED_LAYERS:
        raise NotFound(
            f"collection {name!r} keeps no history; versioned collections: "
            f"{', '.join(VERSIONED_LAYERS)}"
        )
    return get_layer(name).table


def feature_versions(conn: psycopg.Connection, layer: str, feature_id: int) -> list[dict[str, Any]]:
    """Every version of one feature, oldest first: who changed it, when and how."""
    versioned_layer(layer)
    rows = conn.execute(query("editing/versions"), {"layer": layer, "id": feature_id}).fetchall()
    return [
        {
            "version": version,
            "operation": operation,
            "actor": actor,
            "changed_at": changed_at.isoformat(),
            "exists": has_current,
            "had_previous": has_previous,
        }
        for version, operation, actor, changed_at, has_previous, has_current in rows
    ]


def feature_version(
    conn: psycopg.Connection, layer: str, feature_id: int, version: int
) -> dict[str, Any]:
    """One version: the change record with the feature before and after it as GeoJSON."""
    versioned_layer(layer)
    row = conn.execute(
        query("editing/version"), {"layer": layer, "id": feature_id, "version": version}
    ).fetchone()
    if row is None:
        raise NotFound(f"{layer} feature {feature_id} has no version {version}")
    number, operation, actor, changed_at, previous, current = row
    return {
        "version": number,
        "operation": operation,
        "actor": actor,
        "changed_at": changed_at.isoformat(),
        "previous": row_image_feature(feature_id, previous),
        "current": row_image_feature(feature_id, current),
    }


def row_image_feature(feature_id: int, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """A history row image (columns plus `geom` as GeoJSON) as a GeoJSON Feature."""
    if image is None:
        return None
    properties = {k: v for k, v in image.items() if k not in {"id", "geom"}}
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": image.get("geom"),
        "properties": properties,
    }


def layer_changes(
    conn: psycopg.Connection, layer: str, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """The layer's change feed between two instants, newest first."""
    versioned_layer(layer)
    rows = conn.execute(
        query("editing/layer_changes"), {"layer": layer, "start": start, "end": end, "limit": limit}
    ).fetchall()
    return [
        {
            "change": change,
            "id": fid,
            "version": version,
            "operation": operation,
            "actor": actor,
            "changed_at": changed_at.isoformat(),
        }
        for change, fid, version, operation, actor, changed_at in rows
    ]


def as_of_rows(
    conn: psycopg.Connection,
    layer: str,
    instant: datetime,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 10,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The layer's features as they were at `instant` (GeoJSON dicts) and how many matched.

    The same read as GET /collections/{layer}/items?datetime=<instant> (twin.features.pages
    rebuilds the layer from this history, of the features whose own date, `temporal:`, had
    come); the database function twin_layer_as_of(layer, instant) answers the same for SQL
    clients (migration 0028, the own date from twin_own_time: own_time_step).
    """
    from twin.features.pages import fetch_page
    from twin.features.params import AsOf, ItemsQuery

    versioned_layer(layer)
    q = ItemsQuery(
        layer=get_layer(layer), limit=limit, offset=offset, bbox=bbox, as_of=AsOf(instant, instant)
    )
    page = fetch_page(conn, q)
    return orjson.loads(b"[" + page.features + b"]"), int(page.matched or 0)

"""The four OGC API Features Part 4 operations, plus restore, each one database transaction.

Every transaction first names the acting editor and the operation in transaction-local
settings (twin.user, twin.operation); the history triggers read them, so the change record is
written by the same transaction as the change, or not at all. Tiles refresh by themselves (the
layer version trigger bumps twin_layers.version, which the tile cache keys on). Each write also
announces itself on the channel the analysis refresher listens to (twin.analysis.refresh): the
notification is delivered when the transaction commits, and the refresher then recomputes and
publishes the analysis of the touched area within seconds, so the write itself stays fast.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from twin import errors
from twin.analysis.refresh import announce, refresher_enabled
from twin.catalog import Layer, get_layer
from twin.editing.history import NotFound, versioned_layer
from twin.editing.users import Editor
from twin.editing.validate import CheckedFeature, check_feature, check_properties
from twin.errors import InvalidParameter
from twin.extent import city_extent
from twin.features.ids import matches, version_etag
from twin.sqlfiles import query

# Write responses carry this: the analysis of the touched area is being refreshed (GET
# /indicators -> freshness.status says when it is current again), or, with the refresher
# turned off, stale until `twin analyse`.
ANALYSIS_HEADERS = {"X-Twin-Analysis": "refreshing" if refresher_enabled() else "stale"}


class Conflict(errors.Conflict):
    """A value another feature already has where the layer allows one (409)."""


class PreconditionFailed(errors.PreconditionFailed):
    """If-Match names another version than the feature's: someone changed it since (412 with
    the feature's current ETag)."""

    def __init__(self, description: str, version: int) -> None:
        super().__init__(description, etag=version_etag(version))


class Forbidden(errors.Forbidden):
    """An editor writing a layer their key is not for (403)."""


def editable_layer(name: str, editor: Editor) -> Layer:
    """The layer if `editor` may change it: 404 unknown, 405 read-only, 403 not theirs."""
    versioned_layer(name)
    if not editor.may_edit(name):
        raise Forbidden(
            f"{editor.name} ({editor.role}) may not edit {name}"
            + (f"; they may edit {', '.join(editor.layers)}" if editor.layers else "")
        )
    return get_layer(name)


def _multi(layer: Layer) -> sql.Composable:
    return sql.SQL("ST_Multi" if layer.geometry.startswith("Multi") else "")


def _geometry_sql(layer: Layer, source: str = "wkb") -> sql.Composable:
    return query(f"editing/geometry_from_{source}", multi=_multi(layer))


def _feature_text(conn: psycopg.Connection, layer: Layer, fid: int) -> str:
    row = conn.execute(query("editing/feature", table=layer.table), {"id": fid}).fetchone()
    return row[0]


def current_version(conn: psycopg.Connection, layer: Layer, fid: int) -> int:
    return conn.execute(
        query("editing/feature_version"), {"layer": layer.name, "id": fid}
    ).fetchone()[0]


def _act_as(conn: psycopg.Connection, editor: Editor, operation: str) -> None:
    conn.execute(query("editing/act_as"), {"actor": editor.name, "operation": operation})


def _write(conn: psycopg.Connection, statement: sql.Composable, params: dict[str, Any]) -> Any:
    """Run a write; constraint violations become the editor's error, not a server error."""
    try:
        with conn.transaction(savepoint_name="twin_write"):
            return conn.execute(statement, params).fetchone()
    except pg_errors.UniqueViolation as exc:
        # "Key (name)=(value) already exists.": the property names, not the database's text
        keys = re.match(r"Key \((.+?)\)=", exc.diag.message_detail or "")
        logging.getLogger("twin.editing").info("write refused: %s", exc.diag.message_primary)
        raise Conflict(
            "another feature already has this value" + (f" of {keys.group(1)}" if keys else "")
        ) from None
    except (
        pg_errors.CheckViolation,
        pg_errors.NotNullViolation,
        pg_errors.InvalidParameterValue,
        pg_errors.DataException,
    ) as exc:
        # the database's text names tables and constraints: logged; the editor gets the property
        logging.getLogger("twin.editing").info("write refused: %s", exc.diag.message_primary)
        column = exc.diag.column_name
        raise InvalidParameter(
            "the database refused the feature: "
            + (
                f"property {column!r} has a value it cannot hold"
                if column
                else "a property has a value it cannot hold (check numbers, dates and "
                "lengths against the layer's schema)"
            )
        ) from None


def _lock(
    conn: psycopg.Connection,
    layer: Layer,
    fid: int,
    if_match: str | None,
    deleted_too: bool = False,
) -> bool:
    """Lock the feature's row for this transaction, then compare If-Match with its version;
    return whether the feature exists now.

    The lock makes the check atomic with the write: a second editor with the same If-Match
    waits here until the first commits, then reads the version the first one wrote (a new
    statement sees it under READ COMMITTED) and gets 412, so one of them wins, never both.
    A deleted feature (`deleted_too`: restore) has no row to lock; its last history row is
    locked instead, and the row looked for again once that lock is held, so of two restores
    of it the second sees what the first made.
    """
    lock = query("editing/lock_feature", table=layer.table)
    exists = conn.execute(lock, {"id": fid}).fetchone() is not None
    if not exists and deleted_too:
        conn.execute(query("editing/lock_last_version"), {"layer": layer.name, "id": fid})
        exists = conn.execute(lock, {"id": fid}).fetchone() is not None
    elif not exists:
        raise NotFound(f"no feature {fid} in {layer.name}")
    if if_match is not None:
        version = current_version(conn, layer, fid)
        if not matches(if_match, version):
            shown = if_match if len(if_match) <= 80 else if_match[:80] + "…"
            raise PreconditionFailed(
                f"{layer.name} feature {fid} is at version {version} (ETag "
                f"{version_etag(version)}), not {shown}: someone changed it since you read "
                "it; read it again, apply your change to that, and send its ETag as If-Match",
                version,
            )
    return exists


def _assignments(
    layer: Layer,
    checked: CheckedFeature,
    replace: bool,
) -> tuple[sql.Composable, dict[str, Any]]:
    names = list(layer.properties) if replace else list(checked.properties)
    parts = [
        sql.SQL("{} = %({})s").format(sql.Identifier(name), sql.SQL(f"p_{i}"))
        for i, name in enumerate(names)
    ]
    params = {f"p_{i}": checked.properties.get(name) for i, name in enumerate(names)}
    if checked.geometry_wkb is not None:
        parts.append(sql.SQL("geom = {}").format(_geometry_sql(layer)))
        params |= {"geometry": checked.geometry_wkb, "srid": layer.srid}
    return sql.SQL(", ").join(parts), params


def _insert(
    conn: psycopg.Connection,
    layer: Layer,
    properties: dict[str, Any],
    geometry: sql.Composable,
    geometry_value: Any,
    fid: int | None = None,
) -> int:
    names = list(properties)
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    values = sql.SQL(", ").join(
        sql.SQL("%({})s").format(sql.SQL(f"p_{i}")) for i in range(len(names))
    )
    params = {f"p_{i}": properties[n] for i, n in enumerate(names)}
    params |= {"geometry": geometry_value, "srid": layer.srid, "id": fid}
    statement = query(
        "editing/insert_feature" if fid is None else "editing/insert_feature_with_id",
        table=layer.table,
        columns=columns,
        values=values,
        sep=sql.SQL(", ") if names else sql.SQL(""),
        geometry=geometry,
    )
    return _write(conn, statement, params)[0]


def create(conn: psycopg.Connection, name: str, editor: Editor, body: Any) -> tuple[int, str, int]:
    """Insert a new feature; return its id, GeoJSON text and version."""
    layer = editable_layer(name, editor)
    checked = check_feature(layer, body, extent=city_extent(conn))
    with conn.transaction():
        _act_as(conn, editor, "create")
        fid = _insert(conn, layer, checked.properties, _geometry_sql(layer), checked.geometry_wkb)
        announce(conn, layer.name)
        return fid, _feature_text(conn, layer, fid), current_version(conn, layer, fid)


def replace(
    conn: psycopg.Connection,
    name: str,
    editor: Editor,
    fid: int,
    body: Any,
    if_match: str | None = None,
) -> tuple[str, int]:
    """Replace every property and the geometry of a feature (absent properties become null)."""
    layer = editable_layer(name, editor)
    checked = check_feature(layer, body, extent=city_extent(conn))
    _same_id(body, fid)
    with conn.transaction():
        _act_as(conn, editor, "replace")
        _lock(conn, layer, fid, if_match)
        assignments, params = _assignments(layer, checked, replace=True)
        _write(
            conn,
            query("editing/update_feature", table=layer.table, assignments=assignments),
            params | {"id": fid},
        )
        announce(conn, layer.name)
        return _feature_text(conn, layer, fid), current_version(conn, layer, fid)


def update(
    conn: psycopg.Connection,
    name: str,
    editor: Editor,
    fid: int,
    body: Any,
    if_match: str | None = None,
) -> tuple[str, int]:
    """Change only what the patch names (JSON merge patch: null clears a property)."""
    layer = editable_layer(name, editor)
    checked = check_feature(layer, body, extent=city_extent(conn), partial=True)
    _same_id(body, fid)
    if not checked.properties and checked.geometry_wkb is None:
        raise InvalidParameter("the patch changes nothing: give `properties` and/or `geometry`")
    with conn.transaction():
        _act_as(conn, editor, "update")
        _lock(conn, layer, fid, if_match)
        assignments, params = _assignments(layer, checked, replace=False)
        _write(
            conn,
            query("editing/update_feature", table=layer.table, assignments=assignments),
            params | {"id": fid},
        )
        announce(conn, layer.name)
        return _feature_text(conn, layer, fid), current_version(conn, layer, fid)


def delete(
    conn: psycopg.Connection, name: str, editor: Editor, fid: int, if_match: str | None = None
) -> int:
    """Delete a feature; it stays in the history and can be restored. Return the new version."""
    layer = editable_layer(name, editor)
    with conn.transaction():
        _act_as(conn, editor, "delete")
        _lock(conn, layer, fid, if_match)
        _write(conn, query("editing/delete_feature", table=layer.table), {"id": fid})
        announce(conn, layer.name)
        return current_version(conn, layer, fid)


def restore(
    conn: psycopg.Connection,
    name: str,
    editor: Editor,
    fid: int,
    version: int,
    if_match: str | None = None,
) -> tuple[str, int, bool]:
    """Make a feature what it was at `version` (after that change; for a deletion, what was
    deleted). Works whether the feature exists now or was deleted; `if_match` is compared with
    its current version (for a deleted feature, the deletion's) as for an update. Return the
    feature, the new version, and whether it had to be re-created."""
    layer = editable_layer(name, editor)
    row = conn.execute(
        query("editing/version"), {"layer": name, "id": fid, "version": version}
    ).fetchone()
    if row is None:
        raise NotFound(f"{name} feature {fid} has no version {version}")
    image = row[5] if row[5] is not None else row[4]
    properties = check_properties(
        layer, {k: v for k, v in image.items() if k in layer.properties}, partial=False
    )
    geometry = orjson.dumps(image["geom"]).decode()
    with conn.transaction():
        _act_as(conn, editor, "restore")
        exists = _lock(conn, layer, fid, if_match, deleted_too=True)
        if exists:
            checked = CheckedFeature(properties, None)
            assignments, params = _assignments(layer, checked, replace=True)
            assignments = sql.SQL("{}, geom = {}").format(
                assignments, _geometry_sql(layer, "geojson")
            )
            _write(
                conn,
                query("editing/update_feature", table=layer.table, assignments=assignments),
                params | {"id": fid, "geometry": geometry, "srid": layer.srid},
            )
        else:
            _insert(conn, layer, properties, _geometry_sql(layer, "geojson"), geometry, fid=fid)
        announce(conn, layer.name)
        return _feature_text(conn, layer, fid), current_version(conn, layer, fid), not exists


def _same_id(body: Any, fid: int) -> None:
    if isinstance(body, dict) and body.get("id") is not None and str(body["id"]) != str(fid):
        raise InvalidParameter(
            f"the Feature's id {body['id']!r} differs from the id in the URL ({fid})"
        )

"""Versioned migrations: numbered SQL files, then one table per catalog layer.

Each applied step is recorded in `twin_migrations` with a checksum, so running `twin migrate`
twice changes nothing, and a layer file that gains a property gets the new column. Numbered
files are history: one edited after this database applied it is not applied again, and
`twin migrate` warns, naming it, so the change goes into a new numbered file instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import psycopg
from psycopg import sql

from twin.catalog import Layer, load_catalog
from twin.sqlfiles import query

LOG = logging.getLogger("twin.db.migrate")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _column_ddl(layer: Layer) -> list[sql.Composed]:
    statements = []
    for prop in layer.properties.values():
        constraints: list[sql.Composable] = []
        if prop.required:
            constraints.append(sql.SQL("NOT NULL"))
        if prop.unique:
            constraints.append(sql.SQL("UNIQUE"))
        statements.append(
            query(
                "db/add_layer_column",
                table=layer.table,
                column=prop.name,
                column_type=sql.SQL(prop.sql_type),
                constraints=sql.SQL(" ").join(constraints),
            )
        )
        # PostgreSQL's own name for a column's CHECK: the catalog's values are kept under it
        constraint = f"{layer.table}_{prop.name}_check"
        if prop.enum:
            values = sql.SQL(", ").join(sql.Literal(v) for v in prop.enum)
            statements.append(
                query(
                    "db/layer_enum_check",
                    table=layer.table,
                    constraint=constraint,
                    column=prop.name,
                    values=values,
                )
            )
        else:
            statements.append(
                query("db/layer_drop_check", table=layer.table, constraint=constraint)
            )
    return statements


def layer_statements(layer: Layer) -> list[sql.Composed]:
    geometry_type = sql.SQL("geometry({}, {})").format(
        sql.SQL(layer.geometry), sql.Literal(layer.srid)
    )
    statements = [query("db/create_layer_table", table=layer.table, geometry_type=geometry_type)]
    statements += _column_ddl(layer)
    statements.append(
        query("db/layer_indexes", table=layer.table, gist_index=f"{layer.table}_geom_gist")
    )
    if layer.temporal:
        statements.append(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(f"{layer.table}_{layer.temporal}_idx"),
                sql.Identifier(layer.table),
                sql.Identifier(layer.temporal),
            )
        )
    statements.append(query("db/layer_trigger", table=layer.table))
    return statements


def _layer_fingerprint(layer: Layer) -> str:
    spec = {
        "geometry": layer.geometry,
        "srid": layer.srid,
        "properties": {
            p.name: [p.type, p.required, p.unique, p.enum] for p in layer.properties.values()
        },
    }
    return _checksum(json.dumps(spec, sort_keys=True, default=list))


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply what is missing; return the ids of the steps applied (empty when up to date)."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute(query("db/migrations_table"))
        applied = dict(conn.execute(query("db/applied_migrations")).fetchall())
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            text = path.read_text(encoding="utf-8")
            if path.stem in applied:
                if applied[path.stem] != _checksum(text):
                    LOG.warning(
                        f"migration {path.name} was edited after this database applied "
                        "it; the edit is not applied: put the change in a new numbered "
                        "migration",
                        extra={"fields": {"migration": path.stem}},
                    )
                continue
            conn.execute(text)
            conn.execute(
                query("db/record_migration"), {"id": path.stem, "checksum": _checksum(text)}
            )
            applied_now.append(path.stem)
        for layer in load_catalog().values():
            step = f"layer:{layer.name}"
            fingerprint = _layer_fingerprint(layer)
            if applied.get(step) == fingerprint:
                continue
            for statement in layer_statements(layer):
                conn.execute(statement)
            conn.execute(query("db/register_layer"), {"name": layer.name})
            conn.execute(query("db/record_migration"), {"id": step, "checksum": fingerprint})
            applied_now.append(step)
        from twin.editing.history import install_history  # history triggers, versioned layers

        applied_now += install_history(conn, applied)
    return applied_now

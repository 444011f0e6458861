"""The low-zoom generalisation of polygon and line layers, kept in the database.

A tile at zoom 10-13 covers thousands to hundreds of thousands of a layer's features and shows
only the biggest few thousand. Measuring, transforming and simplifying every one of them on each
request is what made those tiles slow, so each polygon or line layer has a tile overview
(migration 0004_tile_overview.sql): every feature that can be seen at zoom 13, with its size in
Web Mercator units, its geometry in Web Mercator simplified to one screen pixel at zoom 13, and
the properties its style reads (jsonb: all a tile below zoom 14 carries). A low-zoom tile reads
the biggest features of its envelope from there (twin/sql/tiles/overview_mvt.sql) and never
touches the layer table.

The overview records the layer's data version it was built from and is refreshed by the first
tile render that finds the layer's version moved (imports, loads, analysis runs and edits all
move it), under a per-layer advisory lock so workers never do it twice. A refresh compares row
versions (id and xmin): only features added, changed or deleted since are touched, so an edit
costs a fraction of a second even on the city's 226,000 plots; a reload replaces it all.
`twin tiles overview` refreshes them ahead of users.
"""

from __future__ import annotations

import logging
import time

import psycopg
from psycopg import sql

from twin.catalog import Layer
from twin.sqlfiles import query

LOG = logging.getLogger("twin.tiles.overview")
ANALYSE_AFTER_ROWS = 1000  # fresh planner statistics after a change this big (or a tenth)
# (layer, properties) whose overview this process has seen carry exactly those properties
_SHAPES_CHECKED: set[tuple[str, tuple[str, ...]]] = set()


def _size_expression(polygon: bool) -> sql.Composable:
    return sql.SQL("ST_Area(m.geom)" if polygon else "ST_Length(m.geom)")


def stale_layers(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """The layers among `names` whose overview is missing or older than their data."""
    rows = conn.execute(query("tiles/overview_state"), {"names": names}).fetchall()
    return [name for name, version, built_from in rows if built_from != version]


def is_fresh(conn: psycopg.Connection, layer: Layer) -> bool:
    return not stale_layers(conn, [layer.name])


def forget_if_reshaped(conn: psycopg.Connection, layer: Layer, keys: list[str]) -> bool:
    """Drop the layer's overview when it carries other properties than `keys` (the catalog's
    style now reads more or fewer), so the next refresh rebuilds it; True if it did. The data
    version alone would keep serving the old properties until the layer's data moved.
    Checked once per process and layer shape."""
    shape = (layer.name, tuple(sorted(keys)))
    if shape in _SHAPES_CHECKED:
        return False
    with conn.transaction():
        conn.execute(query("tiles/overview_lock"), {"name": layer.name})
        row = conn.execute(query("tiles/overview_keys"), {"name": layer.name}).fetchone()
        reshaped = row is not None and sorted(row[0]) != list(shape[1])
        if reshaped:
            conn.execute(query("tiles/overview_forget"), {"name": layer.name})
    _SHAPES_CHECKED.add(shape)
    if reshaped:
        LOG.info(
            "tile overview dropped: its properties changed",
            extra={"fields": {"layer": layer.name, "was": sorted(row[0]), "now": list(shape[1])}},
        )
    return reshaped


def ensure_overview(
    conn: psycopg.Connection,
    layer: Layer,
    polygon: bool,
    tolerance: float,
    min_size: float,
    properties: sql.Composable,
) -> bool:
    """Refresh the layer's overview if its data moved since; True if it did.
    `tolerance` (m) simplifies, features under `min_size` (m² or m) are left out,
    `properties` (a jsonb expression over the layer row `t`) is what low-zoom tiles carry.
    Works on an autocommit connection or inside a transaction (then as a savepoint)."""
    with conn.transaction():
        conn.execute(query("tiles/overview_lock"), {"name": layer.name})
        if is_fresh(conn, layer):  # another worker refreshed it while we waited
            return False
        started = time.perf_counter()
        added, gone, features = conn.execute(
            query(
                "tiles/overview_build",
                table=layer.table,
                size=_size_expression(polygon),
                properties=properties,
            ),
            {"name": layer.name, "tolerance": tolerance, "min_size": min_size},
        ).fetchone()
        if added + gone >= max(ANALYSE_AFTER_ROWS, features // 10):
            conn.execute(query("tiles/overview_analyse"))  # the planner picks index by zoom
    LOG.info(
        "tile overview refreshed",
        extra={
            "fields": {
                "layer": layer.name,
                "added": added,
                "dropped": gone,
                "features": features,
                "seconds": round(time.perf_counter() - started, 3),
            }
        },
    )
    return True

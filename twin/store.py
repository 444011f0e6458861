"""Writing features into a layer table: the one path every importer and generator uses.

Rows are streamed with COPY into a staging table, then moved into the layer table with the
geometry cast to the layer's type (Polygon becomes MultiPolygon, and so on) in one transaction,
together with the layer's provenance. A failure leaves the table as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from twin.catalog import Layer, get_layer
from twin.errors import ImportFailed
from twin.sqlfiles import query

CHUNK = 20_000


@dataclass
class Provenance:
    source: str
    licence: str
    synthetic: bool = False
    details: dict[str, Any] = field(default_factory=dict)


def _python_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def write_layer(conn: psycopg.Connection, layer: Layer | str, frame: gpd.GeoDataFrame,
                provenance: Provenance, *, mode: str = "replace",
                progress: Callable[[int], None] | None = None) -> int:
    """Replace (or append to) a layer's rows with `frame`; return the number of rows written."""
    layer = get_layer(layer) if isinstance(layer, str) else layer
    if mode not in {"replace", "append"}:
        raise ValueError("mode must be 'replace' or 'append'")
    if frame.crs is None:
        raise ImportFailed(f"{layer.name}: the input has no coordinate reference system")
    if frame.crs.to_epsg() != layer.srid:
        frame = frame.to_crs(layer.srid)
    columns = [name for name in layer.properties if name in frame.columns]
    missing = [p.name for p in layer.properties.values() if p.required and p.name not in columns]
    if missing:
        raise ImportFailed(f"{layer.name}: required properties missing: {', '.join(missing)}")
    wkb = shapely.to_wkb(frame.geometry.values, hex=False, include_srid=False)
    values = [frame[name].astype(object).where(frame[name].notna(), None).tolist()
              for name in columns]
    staging = f"staging_{layer.name}"
    col_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(layer.properties[c].sql_type))
        for c in columns)
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    sep = sql.SQL(", ") if columns else sql.SQL("")
    written = 0
    with conn.transaction():
        conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}{}g bytea) ON COMMIT DROP").format(
            sql.Identifier(staging), col_defs, sep))
        with conn.cursor().copy(sql.SQL("COPY {} ({}{}g) FROM STDIN").format(
                sql.Identifier(staging), col_list, sep)) as copy:
            for i in range(len(frame)):
                copy.write_row([_python_value(v[i]) for v in values] + [wkb[i]])
                written += 1
                if progress and written % CHUNK == 0:
                    progress(CHUNK)
        if progress:
            progress(written % CHUNK)
        if mode == "replace":
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(layer.table)))
        geometry = query("store/cast_geometry", table=layer.table, staging=staging,
                         columns=col_list, sep=sep,
                         multi=sql.SQL("ST_Multi" if layer.geometry.startswith("Multi") else ""))
        conn.execute(geometry, {"srid": layer.srid})
        record_provenance(conn, layer.name, provenance)
    return written


def record_provenance(conn: psycopg.Connection, layer_name: str, provenance: Provenance) -> None:
    conn.execute(query("store/record_provenance"), {
        "name": layer_name, "source": provenance.source, "licence": provenance.licence,
        "loaded_at": datetime.now(timezone.utc), "synthetic": provenance.synthetic,
        "details": json.dumps(provenance.details)})


def layer_versions(conn: psycopg.Connection) -> dict[str, int]:
    """Data version of every layer: caches key on these numbers."""
    return dict(conn.execute(query("store/layer_versions")).fetchall())

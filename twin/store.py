"""Writing features into a layer table: the one path every importer and generator uses.

Rows are streamed with COPY into a staging table, then moved into the layer table with the
geometry cast to the layer's type (Polygon becomes MultiPolygon, and so on) in one transaction,
together with the layer's provenance. A failure leaves the table as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def _copy_column(series: pd.Series, kind: str) -> pd.Series:
    """One column as COPY text values, converted for the whole column at once (a city layer
    has millions of values: per-value Python conversion was most of the load time)."""
    missing = series.isna().to_numpy()
    if kind == "string":
        # pandas 3 keeps None/NaN as NaN through astype(str): blank them (NULL is set below)
        text = (
            series.astype(object)
            .where(~missing, "")
            .astype(str)
            .map(lambda v: v.translate(_ESCAPES))
        )
    elif kind == "integer":
        text = pd.to_numeric(series).round().astype("Int64").astype(str)
    elif kind == "number":
        text = pd.to_numeric(series).astype(float).astype(str)
    elif kind == "boolean":
        text = pd.Series(np.where(series.fillna(False).astype(bool), "t", "f"), index=series.index)
    elif kind == "date":
        text = pd.to_datetime(series).dt.strftime("%Y-%m-%d")
    else:
        text = pd.to_datetime(series).map(lambda v: v.isoformat() if v is not pd.NaT else NULL)
    text = text.astype(object)
    text[missing] = NULL
    return text


def write_layer(
    conn: psycopg.Connection,
    layer: Layer | str,
    frame: gpd.GeoDataFrame,
    provenance: Provenance,
    *,
    mode: str = "replace",
    progress: Callable[[int], None] | None = None,
) -> int:
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
    try:
        texts = [
            _copy_column(frame[name].reset_index(drop=True), layer.properties[name].type)
            for name in columns
        ]
    except (ValueError, TypeError) as exc:
        raise ImportFailed(f"{layer.name}: a value does not fit its property type: {exc}") from exc
    geometry_hex = pd.Series(shapely.to_wkb(frame.geometry.values, hex=True), dtype=object)
    lines = (
        texts[0].str.cat(texts[1:] + [geometry_hex], sep="\t") if texts else geometry_hex
    ).tolist()
    staging = f"staging_{layer.name}"
    col_defs = sql.SQL("").join(
        sql.SQL("{} {}, ").format(sql.Identifier(c), sql.SQL(layer.properties[c].sql_type))
        for c in columns
    )
    col_list = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    sep = sql.SQL(", ") if columns else sql.SQL("")
    with conn.transaction():
        conn.execute(query("store/staging_table", staging=staging, column_definitions=col_defs))
        with conn.cursor().copy(
            query("store/copy_staging", staging=staging, columns=col_list, sep=sep)
        ) as copy:
            for start in range(0, len(lines), CHUNK):
                chunk = lines[start : start + CHUNK]
                copy.write("\n".join(chunk) + "\n")
                if progress:
                    progress(len(chunk))
        if mode == "replace":
            conn.execute(query("store/truncate_layer", table=layer.table))
        geometry = query(
            "store/cast_geometry",
            table=layer.table,
            staging=staging,
            columns=col_list,
            sep=sep,
            multi=sql.SQL("ST_Multi" if layer.geometry.startswith("Multi") else ""),
        )
        conn.execute(geometry, {"srid": layer.srid})
        record_provenance(conn, layer.name, provenance)
    return len(lines)


def record_provenance(conn: psycopg.Connection, layer_name: str, provenance: Provenance) -> None:
    conn.execute(
        query("store/record_provenance"),
        {
            "name": layer_name,
            "source": provenance.source,
            "licence": provenance.licence,
            "loaded_at": datetime.now(UTC),
            "synthetic": provenance.synthetic,
            "details": json.dumps(provenance.details),
        },
    )


def layer_versions(conn: psycopg.Connection) -> dict[str, int]:
    """Data version of every layer: caches key on these numbers."""
    return dict(conn.execute(query("store/layer_versions")).fetchall())


def database_identity(conn: psycopg.Connection) -> str:
    """The database's system identifier and name: what caches on disk are keyed by, so twins
    sharing a TWIN_HOME or a cache directory never read each other's files."""
    return conn.execute(query("store/database_identity")).fetchone()[0]

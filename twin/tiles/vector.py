"""Vector tiles (MVT) for catalog layers, generalised for the zoom, in one SQL statement per tile.

Generalisation, per layer and zoom (sizes in tile units: a tile is 4096 units wide and a map
draws it 512 px wide, so one screen pixel is 8 units):
- below `FULL_DETAIL_ZOOM` geometries are simplified with a tolerance of one screen pixel
  (ST_Simplify in the storage SRID, before the transform, so fewer vertices are projected);
  ST_AsMVTGeom then snaps what is left to the tile grid;
- polygons under one square screen pixel and lines under one screen pixel are dropped;
- below `ALL_PROPERTIES_ZOOM` a feature carries only its id and the properties that drive its
  style (style.by, style.label, style.height); from that zoom on, every property;
- at most `tile_cap(z)` features per layer and tile: 1,000 at z10, doubling with each zoom,
  never under 500 nor over `feature_cap()` (20,000); the biggest first (area for polygons,
  length for lines), ties broken by id, so a capped tile is the same every time;
- a layer is only in tiles from its catalog minzoom to maxzoom.
The tile envelope is transformed to the storage SRID once, so the GiST index does the
filtering; only the rows kept are transformed to Web Mercator.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from twin.catalog import Layer
from twin.tiles.matrix import EARTH_CIRCUMFERENCE_M, TileAddress
from twin.sqlfiles import query, text

EXTENT = 4096
UNITS_PER_PIXEL = 8          # 4096-unit tiles drawn at 512 px
FULL_DETAIL_ZOOM = 14        # from here on: no simplification
ALL_PROPERTIES_ZOOM = 13     # from here on: every property
MIN_POLYGON_AREA_PX = 1.0    # square screen pixels
MIN_LINE_LENGTH_PX = 1.0     # screen pixels
DEFAULT_FEATURE_CAP = 20_000
CAP_AT_Z10 = 1_000
MIN_CAP = 500
# Bumped whenever the rules above change, so cached tiles made by the old rules are not served.
POLICY_VERSION = 2


def feature_cap() -> int:
    """The most features per layer and tile at any zoom (TWIN_TILE_FEATURE_CAP overrides)."""
    return int(os.environ.get("TWIN_TILE_FEATURE_CAP", DEFAULT_FEATURE_CAP))


def tile_cap(zoom: int) -> int:
    """Features per layer and tile at a zoom: a low-zoom tile covers 4x the ground of the next
    zoom's, so its budget halves with each zoom out."""
    return min(feature_cap(), max(MIN_CAP, int(CAP_AT_Z10 * 2.0 ** (zoom - 10))))


def style_properties(layer: Layer) -> list[str]:
    """Properties the layer's style reads: kept in tiles at every zoom."""
    keys = [layer.style.get(key) for key in ("by", "label", "height")]
    return [key for key in keys if isinstance(key, str) and key in layer.properties]


def tile_properties(layer: Layer, zoom: int) -> list[str]:
    if zoom >= ALL_PROPERTIES_ZOOM:
        return list(layer.properties)
    return style_properties(layer)


def in_zoom_range(layer: Layer, zoom: int) -> bool:
    return layer.minzoom <= zoom <= layer.maxzoom


def _unit_sizes(layer: Layer, address: TileAddress) -> tuple[float, float]:
    """One tile unit in the layer's storage units along x and y, at the tile's latitude."""
    cos_lat = max(math.cos(math.radians(address.centre_latitude)), 1e-6)
    mercator_unit = EARTH_CIRCUMFERENCE_M / 2 ** address.z / EXTENT
    if layer.srid == 4326:
        unit_x = 360.0 / 2 ** address.z / EXTENT
        return unit_x, unit_x * cos_lat
    if layer.srid == 3857:
        return mercator_unit, mercator_unit
    ground = mercator_unit * cos_lat      # projected metric CRS (UTM 43N and the like)
    return ground, ground


def _geometry_kind(layer: Layer) -> str:
    return ("polygon" if "Polygon" in layer.geometry
            else "line" if "LineString" in layer.geometry else "point")


def layer_part(layer: Layer, address: TileAddress) -> tuple[sql.Composable, dict[str, Any]]:
    """The SQL expression (bytea) of one layer's MVT for a tile, and its bound values."""
    prefix = f"{layer.name}__"

    def param(name: str) -> sql.Placeholder:
        return sql.Placeholder(prefix + name)

    unit_x, unit_y = _unit_sizes(layer, address)
    kind = _geometry_kind(layer)
    values: dict[str, Any] = {prefix + "name": layer.name, prefix + "srid": layer.srid,
                              prefix + "cap": tile_cap(address.z)}
    if kind == "polygon":
        size = sql.SQL("ST_Area(t.geom) * {}").format(param("scale"))
        values[prefix + "scale"] = 1.0 / (unit_x * unit_y)
        values[prefix + "min"] = MIN_POLYGON_AREA_PX * UNITS_PER_PIXEL ** 2
    elif kind == "line":
        size = sql.SQL("ST_Length(t.geom) * {}").format(param("scale"))
        values[prefix + "scale"] = 1.0 / math.sqrt(unit_x * unit_y)
        values[prefix + "min"] = MIN_LINE_LENGTH_PX * UNITS_PER_PIXEL
    else:
        size = sql.SQL("0.0")
        values[prefix + "min"] = 0.0
    if address.z < FULL_DETAIL_ZOOM and kind != "point":
        generalised = sql.SQL("ST_Simplify(t.geom, {}, true)").format(param("tolerance"))
        values[prefix + "tolerance"] = min(unit_x, unit_y) * UNITS_PER_PIXEL
    else:
        generalised = sql.SQL("t.geom")
    attributes = [sql.SQL("t.id")]
    for name in tile_properties(layer, address.z):
        column = sql.SQL("t.{}").format(sql.Identifier(name))
        if layer.properties[name].type in {"date", "datetime"}:
            column = sql.SQL("{}::text").format(column)      # MVT has no date type
        attributes.append(sql.SQL("{} AS {}").format(column, sql.Identifier(name)))
    part = query("tiles/layer_mvt", table=layer.table, layer_name=param("name"),
                 attributes=sql.SQL(", ").join(attributes), generalised=generalised,
                 size=size, srid=param("srid"), min_size=param("min"), cap=param("cap"))
    return part, values


def tile_statement(layers: Iterable[Layer],
                   address: TileAddress) -> tuple[sql.Composable, dict[str, Any]] | None:
    """One statement for the tile of `layers` (those in zoom range); None when none is."""
    parts: list[sql.Composable] = []
    values: dict[str, Any] = {"z": address.z, "x": address.x, "y": address.y}
    for layer in layers:
        if not in_zoom_range(layer, address.z):
            continue
        part, part_values = layer_part(layer, address)
        parts.append(part)
        values |= part_values
    if not parts:
        return None
    return query("tiles/tile", layers=sql.SQL(" || ").join(parts)), values


def render_tile(conn: psycopg.Connection, layers: Iterable[Layer],
                address: TileAddress) -> bytes:
    """The MVT bytes of a tile (b'' when empty)."""
    statement = tile_statement(layers, address)
    if statement is None:
        return b""
    row = conn.execute(*statement).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def raw_tile(conn: psycopg.Connection, layer: Layer, address: TileAddress) -> bytes:
    """The tile a hand-tuned client would ask for: every row and property, no generalisation
    (the benchmark's baseline, and a reference in the tests)."""
    columns = sql.SQL(", ").join(
        [sql.SQL("t.id")] + [sql.SQL("t.{}").format(sql.Identifier(name)) if
                             layer.properties[name].type not in {"date", "datetime"} else
                             sql.SQL("t.{}::text AS {}").format(sql.Identifier(name),
                                                                 sql.Identifier(name))
                             for name in layer.properties])
    row = conn.execute(query("tiles/raw_layer_mvt", table=layer.table, columns=columns),
                       {"layer_name": layer.name, "srid": layer.srid, "z": address.z,
                        "x": address.x, "y": address.y}).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def policy_fingerprint(layer: Layer) -> str:
    """What, beside the data, decides a layer's tile bytes: the rules and the layer definition."""
    spec = {"policy": POLICY_VERSION, "cap": feature_cap(), "sql": text("tiles/layer_mvt"),
            "geometry": layer.geometry, "srid": layer.srid,
            "zoom": [layer.minzoom, layer.maxzoom], "style": style_properties(layer),
            "properties": {p.name: p.type for p in layer.properties.values()}}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

"""Vector tiles (MVT) for catalog layers, generalised for the zoom, in one SQL statement per tile.

Generalisation, per layer and zoom (sizes in tile units: a tile is 4096 units wide and a map
draws it 512 px wide, so one screen pixel is 8 units):
- below `FULL_DETAIL_ZOOM` geometries are simplified with a tolerance of one screen pixel;
  ST_AsMVTGeom then snaps what is left to the tile grid;
- polygons under one square screen pixel and lines under one screen pixel are dropped;
- below `ALL_PROPERTIES_ZOOM` a feature carries only its id and the properties that drive its
  style (style.by, style.label, style.height, style.keep); from that zoom on, every property;
- at most `tile_cap(z)` features per layer and tile: 1,000 at z10, doubling with each zoom,
  never under 500 nor over `feature_cap()` (20,000); the biggest first (area for polygons,
  length for lines, in Web Mercator units), ties broken by id, so a capped tile is the same
  every time;
- a layer is only in tiles from its catalog minzoom to maxzoom.
Polygon and line tiles up to `OVERVIEW_MAX_ZOOM` read the layer's tile overview (twin/tiles/
overview.py: sizes measured, geometries in Web Mercator and simplified for zoom 13, once per
data version), so a zoom-10 tile no longer measures 100,000 plots to keep 1,000. Deeper tiles
and point layers read the layer table: the tile envelope is transformed to the storage SRID
once, so the GiST index does the filtering; only the rows kept are transformed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Iterable
from typing import Any

import psycopg
from psycopg import sql

from twin.catalog import Layer
from twin.db.replica import in_recovery
from twin.settings import get_settings
from twin.sqlfiles import query, text
from twin.tiles.matrix import EARTH_CIRCUMFERENCE_M, TileAddress
from twin.tiles.overview import ensure_overview, forget_if_reshaped, stale_layers
from twin.tiles.timed import TileTime

EXTENT = 4096
UNITS_PER_PIXEL = 8  # 4096-unit tiles drawn at 512 px
FULL_DETAIL_ZOOM = 14  # from here on: no simplification
ALL_PROPERTIES_ZOOM = 14  # from here on: every property
OVERVIEW_MAX_ZOOM = 13  # polygon and line tiles up to here read the tile overview
OVERVIEW_DEEP_ZOOM = 12  # from here on a tile holds a small part of a layer: GiST first
assert OVERVIEW_MAX_ZOOM < ALL_PROPERTIES_ZOOM, "the overview holds the style properties only"
# a part tile's margin, as a share of the part's side: 1/16 of a 256 px map tile is 16 px, more
# than the widest stroke or circle the published style draws across a tile's edge
PART_MARGIN = 0.0625
MIN_POLYGON_AREA_PX = 1.0  # square screen pixels
MIN_LINE_LENGTH_PX = 1.0  # screen pixels
CAP_AT_Z10 = 1_000
MIN_CAP = 500
# the SQL files whose text decides the tiles' bytes (their cache keys follow it)
TILE_SQL = ("layer_mvt", "overview_mvt", "overview_build", "part_layer_mvt", "part_overview_mvt")
# Bumped whenever the rules above change, so cached tiles made by the old rules are not served.
POLICY_VERSION = 3


def feature_cap() -> int:
    """The most features per layer and tile at any zoom (TWIN_TILE_FEATURE_CAP overrides)."""
    return get_settings().tiles.feature_cap


def tile_cap(zoom: int) -> int:
    """Features per layer and tile at a zoom: a low-zoom tile covers 4x the ground of the next
    zoom's, so its budget halves with each zoom out."""
    return min(feature_cap(), max(MIN_CAP, int(CAP_AT_Z10 * 2.0 ** (zoom - 10))))


def style_properties(layer: Layer) -> list[str]:
    """Properties the layer's style reads: kept in tiles at every zoom. Beside `by`, `label`
    and `height`, `style.keep` lists what the viewer's other maps of the layer colour by (the
    minutes of the 15-minute map, the indicators of a choropleth), so those maps are not blank
    below ALL_PROPERTIES_ZOOM."""
    keys = [layer.style.get(key) for key in ("by", "label", "height")]
    keys += list(layer.style.get("keep") or [])
    found: list[str] = []
    for key in keys:
        if isinstance(key, str) and key in layer.properties and key not in found:
            found.append(key)
    return found


def tile_properties(layer: Layer, zoom: int) -> list[str]:
    if zoom >= ALL_PROPERTIES_ZOOM:
        return list(layer.properties)
    return style_properties(layer)


def in_zoom_range(layer: Layer, zoom: int) -> bool:
    return layer.minzoom <= zoom <= layer.maxzoom


def _unit_sizes(layer: Layer, address: TileAddress) -> tuple[float, float]:
    """One tile unit in the layer's storage units along x and y, at the tile's latitude."""
    cos_lat = max(math.cos(math.radians(address.centre_latitude)), 1e-6)
    mercator_unit = EARTH_CIRCUMFERENCE_M / 2**address.z / EXTENT
    if layer.srid == 4326:
        unit_x = 360.0 / 2**address.z / EXTENT
        return unit_x, unit_x * cos_lat
    if layer.srid == 3857:
        return mercator_unit, mercator_unit
    ground = mercator_unit * cos_lat  # projected metric CRS (UTM 43N and the like)
    return ground, ground


def _geometry_kind(layer: Layer) -> str:
    return (
        "polygon"
        if "Polygon" in layer.geometry
        else "line"
        if "LineString" in layer.geometry
        else "point"
    )


def mercator_unit(zoom: int) -> float:
    """One tile unit in Web Mercator metres at a zoom."""
    return EARTH_CIRCUMFERENCE_M / 2**zoom / EXTENT


def uses_overview(layer: Layer, zoom: int) -> bool:
    return _geometry_kind(layer) != "point" and zoom <= OVERVIEW_MAX_ZOOM


def overview_min_size(layer: Layer, zoom: int) -> float:
    """The smallest feature drawn at a zoom, in Web Mercator m² (polygons) or m (lines)."""
    unit = mercator_unit(zoom)
    if _geometry_kind(layer) == "polygon":
        return MIN_POLYGON_AREA_PX * UNITS_PER_PIXEL**2 * unit**2
    return MIN_LINE_LENGTH_PX * UNITS_PER_PIXEL * unit


def ensure_overviews(conn: psycopg.Connection, layers: Iterable[Layer], zoom: int) -> set[str]:
    """Bring the tile overviews a tile at `zoom` reads up to the layers' data versions.
    On a read replica, which cannot write them, the stale ones are returned instead: their
    tiles are drawn from the layer tables until the primary's refresh replicates."""
    wanted = {
        layer.name: layer
        for layer in layers
        if in_zoom_range(layer, zoom) and uses_overview(layer, zoom)
    }
    if not wanted:
        return set()
    if in_recovery(conn):
        return set(stale_layers(conn, list(wanted)))
    for layer in wanted.values():
        forget_if_reshaped(conn, layer, tile_properties(layer, OVERVIEW_MAX_ZOOM))
    for name in stale_layers(conn, list(wanted)):
        layer = wanted[name]
        ensure_overview(
            conn,
            layer,
            polygon=_geometry_kind(layer) == "polygon",
            tolerance=UNITS_PER_PIXEL * mercator_unit(OVERVIEW_MAX_ZOOM),
            min_size=overview_min_size(layer, OVERVIEW_MAX_ZOOM),
            properties=_overview_properties(layer),
        )
    return set()


def refresh_overviews(conn: psycopg.Connection, layers: Iterable[Layer]) -> None:
    """Bring every tile overview of these layers (those drawn at some zoom up to
    OVERVIEW_MAX_ZOOM) up to their data versions."""
    for layer in layers:
        if layer.minzoom <= OVERVIEW_MAX_ZOOM:
            ensure_overviews(conn, [layer], max(layer.minzoom, 0))


def _overview_properties(layer: Layer) -> sql.Composable:
    """jsonb of what a tile carries below ALL_PROPERTIES_ZOOM (nulls are left out by ST_AsMVT)."""
    pairs: list[sql.Composable] = []
    for name in tile_properties(layer, OVERVIEW_MAX_ZOOM):
        column = sql.SQL("t.{}").format(sql.Identifier(name))
        if layer.properties[name].type in {"date", "datetime"}:
            column = sql.SQL("{}::text").format(column)
        pairs += [sql.Literal(name), column]
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))


def _attributes(layer: Layer, zoom: int) -> sql.Composable:
    attributes = [sql.SQL("t.id")]
    for name in tile_properties(layer, zoom):
        column = sql.SQL("t.{}").format(sql.Identifier(name))
        if layer.properties[name].type in {"date", "datetime"}:
            column = sql.SQL("{}::text").format(column)  # MVT has no date type
        attributes.append(sql.SQL("{} AS {}").format(column, sql.Identifier(name)))
    return sql.SQL(", ").join(attributes)


def _timed_source(
    layer: Layer, when: TileTime, values: dict[str, Any]
) -> tuple[sql.Composable, sql.Composable | None]:
    """What a dated tile reads (the layer's table, or the layer as of the instant rebuilt from
    its history: the items' own SQL) and the condition on its time, if any; values bound in
    `values` (one dated layer per tile statement)."""
    from twin.features.pages import own_time_clause, relation, where_clause
    from twin.features.params import ItemsQuery

    if when.as_of is not None:
        items = ItemsQuery(layer=layer, as_of=when.as_of)
        changed = relation(items, values, changed_within=_history_box(layer))
        names = [sql.Identifier(name) for name in ("id", "geom", *layer.properties)]
        source = query(
            "tiles/as_of_layer",
            table=sql.Identifier(layer.table),
            columns=sql.SQL(", ").join(sql.SQL("c.{}").format(name) for name in names),
            changed=changed,
        )
        return source, own_time_clause(layer, when.as_of, values)
    condition = where_clause(ItemsQuery(layer=layer, datetime=when.window), values)
    return sql.Identifier(layer.table), condition


def _history_box(layer: Layer) -> sql.Composable:
    """The tile's bounds (with the tile buffer) as the history's geometry index reads them:
    in the layer's storage numbers, SRID 4326 (migration 0020)."""
    return sql.SQL(
        "ST_SetSRID(ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625), "
        "{}), 4326)"
    ).format(sql.Literal(layer.srid))


def _overview_as_of_part(
    layer: Layer,
    address: TileAddress,
    when: TileTime,
    values: dict[str, Any],
    param: Any,
) -> tuple[sql.Composable, dict[str, Any]]:
    """A low-zoom tile of a versioned layer as of a time: the overview for what has not
    changed since, the history for the few features that have (tiles/overview_as_of_mvt);
    of both, those whose own time had begun (the layer's `temporal:`)."""
    from twin.features.pages import own_time_clause, relation
    from twin.features.params import ItemsQuery

    assert when.as_of is not None

    prefix = f"{layer.name}__"
    values[prefix + "min"] = overview_min_size(layer, address.z)
    values[prefix + "overview_min"] = overview_min_size(layer, OVERVIEW_MAX_ZOOM)
    values[prefix + "overview_tolerance"] = UNITS_PER_PIXEL * mercator_unit(OVERVIEW_MAX_ZOOM)
    values[prefix + "srid"] = layer.srid
    if address.z < OVERVIEW_MAX_ZOOM:
        generalised = sql.SQL("ST_Simplify(o.geom, {}, true)").format(param("tolerance"))
        values[prefix + "tolerance"] = UNITS_PER_PIXEL * mercator_unit(address.z)
    else:
        generalised = sql.SQL("o.geom")
    items = ItemsQuery(layer=layer, as_of=when.as_of)
    source = relation(items, values, changed_within=_history_box(layer))
    own_time = own_time_clause(layer, when.as_of, values)
    not_begun = own_time_clause(layer, when.as_of, values, alias="l")
    if layer.temporal and when.as_of.end is not None:
        not_begun = query(
            "tiles/not_begun",
            table=sql.Identifier(layer.table),
            srid=param("srid"),
            own_time=not_begun,
        )
    part = query(
        "tiles/overview_as_of_mvt",
        own_time=own_time,
        not_begun=not_begun,
        layer_name=param("name"),
        generalised=generalised,
        min_size=param("min"),
        overview_min=param("overview_min"),
        overview_tolerance=param("overview_tolerance"),
        srid=param("srid"),
        cap=param("cap"),
        relation=source,
        size=sql.SQL(
            "ST_Area(m.geom)" if _geometry_kind(layer) == "polygon" else "ST_Length(m.geom)"
        ),
        properties=_overview_properties(layer),
    )
    return part, values


def layer_part(
    layer: Layer,
    address: TileAddress,
    filters: dict[str, int] | None = None,
    direct: bool = False,
    when: TileTime | None = None,
    part: bool = False,
) -> tuple[sql.Composable, dict[str, Any]]:
    """The SQL expression (bytea) of one layer's MVT for a tile, and its bound values;
    `filters` (property -> value, the layer's catalog `tiles.filters`) keep only the features
    that match, read from the layer table at every zoom; `when` (a tile's `datetime`) reads
    the layer as of an instant or its features of a time, from the table at every zoom;
    `part`: only the features of the tile that touch the envelope bound as %(part_z)s,
    %(part_x)s, %(part_y)s, %(part_margin)s (the map renderer's part tiles: tile_statement)."""
    prefix = f"{layer.name}__"

    def param(name: str) -> sql.Placeholder:
        return sql.Placeholder(prefix + name)

    kind = _geometry_kind(layer)
    values: dict[str, Any] = {prefix + "name": layer.name, prefix + "cap": tile_cap(address.z)}
    overview = uses_overview(layer, address.z) and not filters and not direct
    if overview and when is not None and when.as_of is not None:
        return _overview_as_of_part(layer, address, when, values, param)
    if uses_overview(layer, address.z) and not filters and not direct and when is None:
        values[prefix + "min"] = overview_min_size(layer, address.z)
        if address.z < OVERVIEW_MAX_ZOOM:
            generalised = sql.SQL("ST_Simplify(o.geom, {}, true)").format(param("tolerance"))
            values[prefix + "tolerance"] = UNITS_PER_PIXEL * mercator_unit(address.z)
        else:
            generalised = sql.SQL("o.geom")  # the overview is simplified for this zoom
        fence = sql.SQL("OFFSET 0" if address.z >= OVERVIEW_DEEP_ZOOM else "")
        part_sql = query(
            "tiles/part_overview_mvt" if part else "tiles/overview_mvt",
            layer_name=param("name"),
            generalised=generalised,
            min_size=param("min"),
            cap=param("cap"),
            fence=fence,
        )
        return part_sql, values

    unit_x, unit_y = _unit_sizes(layer, address)
    values[prefix + "srid"] = layer.srid
    if kind == "polygon":
        size = sql.SQL("ST_Area(t.geom) * {}").format(param("scale"))
        values[prefix + "scale"] = 1.0 / (unit_x * unit_y)
        values[prefix + "min"] = MIN_POLYGON_AREA_PX * UNITS_PER_PIXEL**2
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
    table: sql.Composable = sql.Identifier(layer.table)
    conditions: list[sql.Composable] = []
    if when is not None:
        table, condition = _timed_source(layer, when, values)
        if condition is not None:
            conditions.append(condition)
    if filters or conditions:
        assert not part, "a part tile is never filtered nor dated"
        for index, (name, value) in enumerate((filters or {}).items()):
            conditions.append(
                sql.SQL("t.{} = {}").format(sql.Identifier(name), param(f"filter{index}"))
            )
            values[prefix + f"filter{index}"] = value
        part_sql = query(
            "tiles/filtered_layer_mvt",
            table=table,
            layer_name=param("name"),
            attributes=_attributes(layer, address.z),
            generalised=generalised,
            size=size,
            srid=param("srid"),
            min_size=param("min"),
            cap=param("cap"),
            condition=sql.SQL(" AND ").join(conditions),
        )
        return part_sql, values
    part_sql = query(
        "tiles/part_layer_mvt" if part else "tiles/layer_mvt",
        table=table,
        layer_name=param("name"),
        attributes=_attributes(layer, address.z),
        generalised=generalised,
        size=size,
        srid=param("srid"),
        min_size=param("min"),
        cap=param("cap"),
    )
    return part_sql, values


def tile_statement(
    layers: Iterable[Layer],
    address: TileAddress,
    filters: dict[str, int] | None = None,
    direct: Collection[str] = (),
    when: TileTime | None = None,
    part: TileAddress | None = None,
) -> tuple[sql.Composable, dict[str, Any]] | None:
    """One statement for the tile of `layers` (those in zoom range); None when none is.
    `filters` and `when` apply to a single layer's tile (twin.tiles.routes checks them).
    `part` (a child tile of `address`): the tile's features that touch it only, with a margin
    of PART_MARGIN, still in the tile's coordinates (a map tile draws no more: twin.maps)."""
    parts: list[sql.Composable] = []
    values: dict[str, Any] = {"z": address.z, "x": address.x, "y": address.y}
    if part is not None:
        assert part.z > address.z and part.x >> (part.z - address.z) == address.x
        assert part.y >> (part.z - address.z) == address.y, "a part lies in its tile"
        values |= {"part_z": part.z, "part_x": part.x, "part_y": part.y}
        values["part_margin"] = PART_MARGIN
    for layer in layers:
        if not in_zoom_range(layer, address.z):
            continue
        part_sql, part_values = layer_part(
            layer, address, filters, layer.name in direct, when, part is not None
        )
        parts.append(part_sql)
        values |= part_values
    if not parts:
        return None
    return query("tiles/tile", layers=sql.SQL(" || ").join(parts)), values


def render_tile(
    conn: psycopg.Connection,
    layers: Iterable[Layer],
    address: TileAddress,
    ensure: bool = True,
    filters: dict[str, int] | None = None,
    direct: Collection[str] = (),
    when: TileTime | None = None,
    part: TileAddress | None = None,
) -> bytes:
    """The MVT bytes of a tile (b'' when empty); rebuilds stale tile overviews first (unless
    the caller just did: `ensure=False`). A dated tile (`when`) of a layer with `tile_at`
    is drawn by that SQL file. `part`: see tile_statement."""
    layers = list(layers)
    if when is not None and when.at is not None:
        return render_tile_at(conn, layers[0], address, when)
    if ensure and not filters and (when is None or when.as_of is not None):
        direct = ensure_overviews(conn, layers, address.z)
    statement = tile_statement(layers, address, filters, direct, when, part)
    if statement is None:
        return b""
    if when is not None and when.as_of is not None:
        conn.execute(query("tiles/serial_plan"))  # within the caller's transaction, if any
    row = conn.execute(*statement).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def render_tile_at(
    conn: psycopg.Connection, layer: Layer, address: TileAddress, when: TileTime
) -> bytes:
    """A layer at an instant, drawn by its catalog's `tile_at` SQL file (the contract: one
    SELECT of one bytea, the MVT layer %(layer_name)s, from %(z)s, %(x)s, %(y)s and %(at)s)."""
    if not in_zoom_range(layer, address.z) or layer.tile_at is None:
        return b""
    row = conn.execute(
        query(layer.tile_at),
        {"layer_name": layer.name, "z": address.z, "x": address.x, "y": address.y, "at": when.at},
    ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def raw_tile(conn: psycopg.Connection, layer: Layer, address: TileAddress) -> bytes:
    """The tile a hand-tuned client would ask for: every row and property, no generalisation
    (the benchmark's baseline, and a reference in the tests)."""
    columns = sql.SQL(", ").join(
        [sql.SQL("t.id")]
        + [
            sql.SQL("t.{}").format(sql.Identifier(name))
            if layer.properties[name].type not in {"date", "datetime"}
            else sql.SQL("t.{}::text AS {}").format(sql.Identifier(name), sql.Identifier(name))
            for name in layer.properties
        ]
    )
    row = conn.execute(
        query("tiles/raw_layer_mvt", table=layer.table, columns=columns),
        {
            "layer_name": layer.name,
            "srid": layer.srid,
            "z": address.z,
            "x": address.x,
            "y": address.y,
        },
    ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def policy_fingerprint(layer: Layer) -> str:
    """What, beside the data, decides a layer's tile bytes: the rules and the layer definition."""
    spec = {
        "policy": POLICY_VERSION,
        "cap": feature_cap(),
        "sql": [text(f"tiles/{name}") for name in TILE_SQL],
        "part_margin": PART_MARGIN,
        "geometry": layer.geometry,
        "srid": layer.srid,
        "zoom": [layer.minzoom, layer.maxzoom],
        "style": style_properties(layer),
        "properties": {p.name: p.type for p in layer.properties.values()},
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

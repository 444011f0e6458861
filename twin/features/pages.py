"""The statements that answer an items query with GeoJSON text built by PostgreSQL.

numberMatched is exact when that is cheap: when the page itself shows the total (a short last
page), or when the planner expects at most EXACT_COUNT_MAX matches, so that counting them is
an index-sized job. Otherwise it is the planner's estimate, and the response says so:
`numberMatchedKind` is "exact" or "estimated", and an estimate is given as
`numberMatchedEstimate` with no `numberMatched` (which the standard defines as exact).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.adapt import Loader

from twin.catalog import Layer
from twin.editing import VERSIONED_LAYERS
from twin.features.crs import OutputCrs
from twin.features.errors import FeatureQueryError
from twin.features.filters import CASTS
from twin.features.ids import layer_etag, version_etag
from twin.features.params import AsOf, ItemsQuery
from twin.settings import get_settings
from twin.sqlfiles import query

# Up to this many expected matches, numberMatched is counted exactly
# (TWIN_EXACT_COUNT_MAX overrides it, e.g. 0 to always estimate beyond the page).
EXACT_COUNT_MAX = get_settings().features.exact_count_max


# A selection is first read unordered up to this many matches, to count them and take the
# page in one statement; larger ones are paged in order with the planner's estimate.
BOUNDED_COUNT = get_settings().features.bounded_count

# The condition of a query with no selection (so the page needs no estimate first).
ALL_ROWS = sql.SQL("TRUE")


@dataclass
class Page:
    """One page: the features as a JSON array body (no brackets) and the counts."""

    features: bytes
    returned: int
    matched: int | None
    matched_kind: str  # "exact" | "estimated"

    def members(self) -> dict[str, Any]:
        """numberMatched* members, in the order they appear after `features`."""
        if self.matched is None:
            return {}
        if self.matched_kind == "exact":
            return {"numberMatched": self.matched, "numberMatchedKind": "exact"}
        return {"numberMatchedKind": "estimated", "numberMatchedEstimate": self.matched}


def geometry_expression(layer: Layer, crs: OutputCrs, skip: bool) -> sql.Composable:
    if skip:
        return sql.SQL("'null'")
    geom: sql.Composable = sql.SQL("t.geom")
    if crs.srid != layer.srid:
        geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(crs.srid))
    if crs.lat_lon:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    return sql.SQL("coalesce(ST_AsGeoJSON({}, {}, 0), 'null')").format(
        geom, sql.Literal(crs.decimals)
    )


def feature_expression(
    layer: Layer,
    properties: list[str] | None,
    crs: OutputCrs,
    skip_geometry: bool,
    params: dict[str, Any],
) -> sql.Composable:
    """The text of one GeoJSON feature of row `t`; property keys are bound in `params`."""
    names = list(layer.properties) if properties is None else properties
    parts = []
    for index, name in enumerate(names):
        key = f"key{index}"
        params[key] = ("," if index else "") + json.dumps(name) + ":"
        parts.append(query("features/property", key=sql.Placeholder(key), column=name))
    props = sql.SQL(" || ").join(parts) if parts else sql.SQL("''")
    return query(
        "features/feature",
        geometry=geometry_expression(layer, crs, skip_geometry),
        properties=props,
    )


def relation(
    q: ItemsQuery, params: dict[str, Any], changed_within: sql.Composable | None = None
) -> sql.Composable:
    """What the query reads: the layer's table, or the layer as of `datetime` (history);
    `changed_within` (a box, SRID 4326 with the layer's storage numbers): only the features
    changed since the window's start that were then within it, as they were (a dated tile's
    few changed features: features/as_of_changed, through the history's GiST)."""
    if q.as_of is None:
        return sql.Identifier(q.layer.table)
    params.update(
        asof_layer=q.layer.name, asof_start=q.as_of.start_text(), asof_end=q.as_of.end_text()
    )
    names = list(q.layer.properties)
    columns = sql.SQL(", ").join(
        [
            sql.SQL("c.id"),
            sql.SQL("c.geom"),
            *(sql.SQL("c.{}").format(sql.Identifier(n)) for n in names),
        ]
    )
    # cast to the column's own type, so the branches' types match and PostgreSQL flattens the
    # UNION ALL (ordered, limited pages then merge index scans instead of sorting the layer)
    geom = sql.SQL(
        "ST_SetSRID(ST_GeomFromGeoJSON(f.image -> 'geom'), {})::geometry({}, {}) AS geom"
    ).format(sql.Literal(q.layer.srid), sql.SQL(q.layer.geometry), sql.Literal(q.layer.srid))
    image_columns = sql.SQL(", ").join(
        [sql.SQL("r.id"), geom, *(sql.SQL("r.{}").format(sql.Identifier(n)) for n in names)]
    )
    if changed_within is not None:
        return query(
            "features/as_of_changed",
            table=q.layer.table,
            columns=columns,
            image_columns=image_columns,
            box=changed_within,
        )
    return query(
        "features/as_of", table=q.layer.table, columns=columns, image_columns=image_columns
    )


def own_time_clause(
    layer: Layer, as_of: AsOf, params: dict[str, Any], alias: str = "t", key: str = "asof_own_end"
) -> sql.Composable:
    """`datetime` on a versioned layer with a `temporal:` property: beside what the history
    says the layer held then, only features whose own time had begun by the window's end (a
    park opening in 2027 is not on a 2025 map); a feature without its own time is kept (the
    history alone decides). TRUE when the window has no end or the layer no temporal. The SQL
    function twin_layer_as_of() applies the same rule (migration 0028): change both together."""
    if not layer.temporal or as_of.end is None:
        return sql.SQL("true")
    column = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(layer.temporal))
    try:
        end = as_of.end.astimezone(dt.UTC)
    except OverflowError:  # the first or last hours of year 1 or 9999 in another zone
        end = as_of.end
    params[key] = end.date() if layer.properties[layer.temporal].type == "date" else end
    return sql.SQL("({} IS NULL OR {} <= {})").format(column, column, sql.Placeholder(key))


def where_clause(q: ItemsQuery, params: dict[str, Any]) -> sql.Composable:
    """Every selection of the query ANDed over alias `t`, values bound in `params`."""
    layer = q.layer
    conditions: list[sql.Composable] = []
    if q.bbox is not None:
        minx, miny, maxx, maxy = q.bbox
        if q.bbox_crs.lat_lon:
            minx, miny, maxx, maxy = miny, minx, maxy, maxx
        params.update(bbox_minx=minx, bbox_miny=miny, bbox_maxx=maxx, bbox_maxy=maxy)
        envelope: sql.Composable = sql.SQL(
            "ST_MakeEnvelope(%(bbox_minx)s, %(bbox_miny)s, %(bbox_maxx)s, %(bbox_maxy)s, {})"
        ).format(sql.Literal(q.bbox_crs.srid))
        if q.bbox_crs.srid != layer.srid:
            envelope = sql.SQL("ST_Transform({}, {})").format(envelope, sql.Literal(layer.srid))
        conditions.append(sql.SQL("ST_Intersects(t.geom, {})").format(envelope))
    if q.as_of is not None:
        conditions.append(own_time_clause(layer, q.as_of, params))
    if q.datetime is not None and layer.temporal:
        column = sql.SQL("t.{}").format(sql.Identifier(layer.temporal))
        cast = sql.SQL(CASTS[layer.properties[layer.temporal].type])
        window = q.datetime
        if window.start is not None and window.start == window.end:
            params["dt_at"] = window.start
            conditions.append(sql.SQL("{} = %(dt_at)s::{}").format(column, cast))
        else:
            if window.start is not None:
                params["dt_start"] = window.start
                conditions.append(sql.SQL("{} >= %(dt_start)s").format(column))
            if window.end is not None:
                params["dt_end"] = window.end
                conditions.append(sql.SQL("{} <= %(dt_end)s").format(column))
    for index, (name, value) in enumerate(q.equals):
        key = f"eq{index}"
        params[key] = value
        kind = "integer" if name == "id" else layer.properties[name].type
        conditions.append(
            sql.SQL("t.{} = {}::{}").format(
                sql.Identifier(name), sql.Placeholder(key), sql.SQL(CASTS[kind])
            )
        )
    if q.filter is not None:
        params.update(q.filter.params)
        conditions.append(q.filter.condition)
    if not conditions:
        return ALL_ROWS
    return sql.SQL(" AND ").join(sql.SQL("({})").format(c) for c in conditions)


def order_clause(q: ItemsQuery) -> sql.Composable:
    keys = [
        sql.SQL("t.{} {}").format(sql.Identifier(name), sql.SQL("DESC" if desc else "ASC"))
        for name, desc in q.sortby
    ]
    if "id" not in [name for name, _ in q.sortby]:
        keys.append(sql.SQL("t.id"))
    return sql.SQL(", ").join(keys)


def planned_rows(plan: Any) -> int:
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class BytesLoader(Loader):
    """Text as the bytes PostgreSQL sent: the page goes into the response body undecoded."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def page_statement(
    q: ItemsQuery,
    source: sql.Composable,
    where: sql.Composable,
    params: dict[str, Any],
    count: bool,
) -> sql.Composed:
    """The page statement, with the window count of all matches when `count`."""
    feature = feature_expression(q.layer, q.properties, q.crs, q.skip_geometry, params)
    matched = sql.SQL("count(*) OVER ()" if count else "NULL::bigint")
    if not isinstance(source, sql.Identifier):
        return query(
            "features/page_direct",
            table=source,
            where=where,
            order=order_clause(q),
            feature=feature,
            matched=matched,
        )
    pick = query(
        "features/page_ids", table=source, where=where, order=order_clause(q), matched=matched
    )
    return query("features/page", pick=pick, table=source, order=order_clause(q), feature=feature)


def is_transform_failure(exc: psycopg.Error) -> bool:
    """PostGIS could not carry a coordinate between CRSs ("transform: Point outside of
    projection domain", "latitude or longitude exceeded limits", ...)."""
    message = (getattr(exc.diag, "message_primary", None) or str(exc)).lower()
    return message.startswith("transform:") or "projection domain" in message


@contextmanager
def transform_failures(what: str) -> Iterator[None]:
    """A statement PostGIS cannot transform becomes a 400 naming the CRS parameters, not a
    500 with the database's text; the bounds checks (twin.features.crs) catch the usual cases
    before the SQL, this catches whatever slips past them."""
    try:
        yield
    except psycopg.Error as exc:
        if not is_transform_failure(exc):
            raise
        raise FeatureQueryError(
            f"{what} could not be transformed between coordinate reference systems: a "
            "coordinate lies outside the area its CRS is defined for"
        ) from None


def fetch_page(conn: psycopg.Connection, q: ItemsQuery) -> Page:
    """One page of features with numberMatched; a coordinate no CRS transform can carry is a
    400 (FeatureQueryError)."""
    with transform_failures("the bbox, filter geometry or crs of this query"):
        return _fetch_page(conn, q)


def _fetch_page(conn: psycopg.Connection, q: ItemsQuery) -> Page:
    """The features of one page and numberMatched, in one round trip when it can be.

    Pipelined in one implicit transaction (statements up to the pipeline's Sync; SET LOCAL
    holds within it): SET LOCAL (serial plans), then
    - a query with no condition: the planner's estimate (the table's size) and the page;
    - a query with conditions: the page with the exact count of its matches, read
      once and at most BOUNDED_COUNT of them; a larger selection takes a second round trip,
      where the planner's estimate decides whether the ordered page counts its matches too
      (up to EXACT_COUNT_MAX expected) or the estimate is the answer.
    """
    params: dict[str, Any] = {"limit": q.limit, "offset": q.offset}
    source = relation(q, params)
    where = where_clause(q, params)
    conditional = where is not ALL_ROWS
    page_cur = conn.cursor()
    page_cur.adapters.register_loader("text", BytesLoader)
    estimate = query("features/estimate", table=source, where=where)
    if conditional and not q.hits_only:
        with conn.pipeline():  # one implicit transaction, fetched after its Sync
            conn.execute(query("features/serial_plan"))
            page_cur.execute(bounded_page_statement(q, source, where, params), params)
        text, returned, window = page_cur.fetchone()
        # usable when the window saw every match; an empty page past the bound says nothing
        if (window is not None and window < BOUNDED_COUNT) or (window is None and not q.offset):
            return _page(q, text, int(returned), window, conn, source, where, params)
    with conn.pipeline():
        conn.execute(query("features/serial_plan"))
        if q.hits_only:
            guess = planned_rows(conn.execute(estimate, params).fetchone()[0])
            if guess <= EXACT_COUNT_MAX:
                return Page(b"", 0, _count(conn, source, where, params), "exact")
            return Page(b"", 0, guess, "estimated")
        estimate_cur = conn.execute(estimate, params)
        guess = None
        if conditional:
            guess = planned_rows(estimate_cur.fetchone()[0])  # a Sync: a new transaction
            conn.execute(query("features/serial_plan"))
        # the window count only on a table: over the rebuilt past (as of) it can lead the
        # planner to walk the id index through every row, where a plain count uses the GiST
        count = guess is not None and guess <= EXACT_COUNT_MAX and q.as_of is None
        page_cur.execute(page_statement(q, source, where, params, count), params)
    text, returned, window = page_cur.fetchone()
    if guess is None:
        guess = planned_rows(estimate_cur.fetchone()[0])
    return _page(q, text, int(returned), window, conn, source, where, params, guess)


def _page(
    q: ItemsQuery,
    text: bytes,
    returned: int,
    window: int | None,
    conn: psycopg.Connection,
    source: sql.Composable,
    where: sql.Composable,
    params: dict[str, Any],
    guess: int | None = None,
) -> Page:
    """The page with numberMatched: shown by a short page, counted by the window, counted
    now when the planner expects few matches (a page past the end of them), or estimated."""
    if returned < q.limit and (returned > 0 or q.offset == 0):
        return Page(text, returned, q.offset + returned, "exact")
    if window is not None:
        return Page(text, returned, int(window), "exact")
    if guess is None or guess <= EXACT_COUNT_MAX:
        return Page(text, returned, _count(conn, source, where, params), "exact")
    return Page(text, returned, guess, "estimated")


def bounded_page_statement(
    q: ItemsQuery, source: sql.Composable, where: sql.Composable, params: dict[str, Any]
) -> sql.Composed:
    feature = feature_expression(q.layer, q.properties, q.crs, q.skip_geometry, params)
    params["bound"] = BOUNDED_COUNT
    names = ["id", *(name for name, _ in q.sortby if name != "id")]
    columns = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in names)
    if not isinstance(source, sql.Identifier):
        return query(
            "features/page_bounded_direct",
            table=source,
            where=where,
            order=order_clause(q),
            feature=feature,
        )
    pick = query(
        "features/page_ids_bounded",
        table=source,
        where=where,
        order=order_clause(q),
        columns=columns,
    )
    return query("features/page", pick=pick, table=source, order=order_clause(q), feature=feature)


def _count(
    conn: psycopg.Connection, source: sql.Composable, where: sql.Composable, params: dict[str, Any]
) -> int:
    return int(
        conn.execute(query("features/count", table=source, where=where), params).fetchone()[0]
    )


def fetch_item(conn: psycopg.Connection, layer: Layer, fid: int, crs: OutputCrs) -> str | None:
    """One feature's GeoJSON text, or None when there is no such id."""
    params: dict[str, Any] = {"id": fid}
    feature = feature_expression(layer, None, crs, False, params)
    with transform_failures(f"feature {fid} in crs {crs.uri}"):
        row = conn.execute(
            query("features/item", table=layer.table, feature=feature), params
        ).fetchone()
    return None if row is None else row[0]


def fetch_tagged_item(
    conn: psycopg.Connection, layer: Layer, fid: int, crs: OutputCrs
) -> tuple[str, str] | None:
    """One feature with its ETag, read in one statement so the tag names exactly the feature
    sent: "v<version>" on a versioned layer (its last change in twin_history, 0 when it never
    changed since a bulk load), "L<version>" on a read-only one (the layer's data version in
    twin_layers). None when there is no such id."""
    versioned = layer.name in VERSIONED_LAYERS
    params: dict[str, Any] = {"id": fid, "layer": layer.name if versioned else layer.table}
    feature = feature_expression(layer, None, crs, False, params)
    statement = "features/versioned_item" if versioned else "features/layer_item"
    with transform_failures(f"feature {fid} in crs {crs.uri}"):
        row = conn.execute(query(statement, table=layer.table, feature=feature), params).fetchone()
    if row is None:
        return None
    return row[0], (version_etag if versioned else layer_etag)(int(row[1]))


def item_etag(conn: psycopg.Connection, layer: Layer, fid: int) -> str | None:
    """The ETag fetch_tagged_item would send with the feature, or None when there is none."""
    versioned = layer.name in VERSIONED_LAYERS
    statement = "features/item_version" if versioned else "features/layer_item_version"
    row = conn.execute(
        query(statement, table=layer.table),
        {"id": fid, "layer": layer.name if versioned else layer.table},
    ).fetchone()
    if row is None:
        return None
    return (version_etag if versioned else layer_etag)(int(row[0]))

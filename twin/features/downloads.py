"""Downloads: the items of a collection as a file, `items?f=csv|gpkg|parquet`.

The request is the items request (twin.features.params validates it, twin.features.pages
builds its relation, selection and order), so a download takes every parameter the JSON
items take: filter (CQL2), bbox, datetime (as of, on the versioned layers), the property
equalities, sortby, properties, skipGeometry and crs. What differs is the amount: without
`limit` a download is every match, refused with a 413 beyond TWIN_DOWNLOAD_MAX_ROWS (one past
the limit is counted, never more); with `limit` (at most that many) and `offset` it is that
page.

Rows stream from PostgreSQL, so memory stays bounded whatever the collection's size:
- CSV is PostgreSQL's own `COPY ... TO STDOUT (FORMAT csv, HEADER)`: RFC 4180 quoting,
  UTF-8, a header row; columns id, the properties, lon/lat (x/y in a projected crs) for
  points and the geometry as WKT;
- GeoParquet is written by pyarrow one row group per batch of BATCH_ROWS rows from a
  server-side cursor, each row group sent as soon as it is written; the "geo" metadata
  (GeoParquet 1.1: WKB, the crs as PROJJSON, the bbox of what was written, a bbox covering
  column) goes into the footer, written last;
- GeoPackage is written by pyogrio (GDAL) batch by batch into a temporary file, which is then
  sent and removed (SQLite cannot be written to a stream).

In every format the coordinates are x/y, longitude first: EPSG:4326 in a GeoPackage and in
GeoParquet is longitude/latitude whatever the CRS's axis order (both standards say so), and
the CSV names its columns lon and lat. The answer carries an ETag made of the layer's data
version (twin_layers, bumped by every change) and the request, so a client asking again with
If-None-Match gets a 304 until the layer changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from psycopg import sql
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from twin.catalog import Layer
from twin.db.pool import connection
from twin.errors import InvalidParameter, PayloadTooLarge
from twin.features import ids
from twin.features.crs import OutputCrs
from twin.features.pages import order_clause, relation, transform_failures, where_clause
from twin.features.params import ItemsQuery
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.features.downloads")

# rows fetched, converted and written at a time (a GeoParquet row group): what bounds the
# memory a download takes (about 45 MB for the city's plots, beyond the libraries it loads)
BATCH_ROWS = 10_000
CHUNK_BYTES = 1 << 20  # CSV and GeoPackage bytes sent at a time
GEOMETRY = "geometry"  # the geometry column of the GeoPackage and the GeoParquet file
BBOX = "bbox"  # GeoParquet 1.1's covering column: each row's xmin, ymin, xmax, ymax
SIDES = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class Format:
    """A download format: its `f`, media type and file suffix."""

    name: str
    media_type: str
    suffix: str
    title: str


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "text/csv; charset=utf-8", "csv", "CSV (geometry as WKT)"),
    "gpkg": Format("gpkg", "application/geopackage+sqlite3", "gpkg", "GeoPackage"),
    "parquet": Format("parquet", "application/vnd.apache.parquet", "parquet", "GeoParquet"),
}


def max_rows() -> int:
    """The most features a download gives without paging (TWIN_DOWNLOAD_MAX_ROWS)."""
    return get_settings().features.download_max_rows


def links(
    items_url: str, query_string: str = "", title: Callable[[str], str] = str
) -> list[dict[str, str]]:
    """`alternate` links to the downloads of an items URL, for the items and collection
    documents (`query_string`: the request's parameters but f and offset, each after a '&';
    without a limit the file holds every match); titles through `title` (the language's)."""
    return [
        {
            "rel": "alternate",
            "type": fmt.media_type.split(";")[0],
            "title": title(f"The items as {fmt.title}"),
            "href": f"{items_url}?f={fmt.name}{query_string}",
        }
        for fmt in FORMATS.values()
    ]


def describe(document: dict[str, Any], operations: Iterable[dict[str, Any]]) -> None:
    """The downloads in the OpenAPI document (twin.http.openapi): `f` of the items operations
    lists them (component `f-items`), the items' answer has their media types, and the 413 of
    an unpaged download beyond the limit is declared."""
    components = document.setdefault("components", {})
    parameters = components.setdefault("parameters", {})
    shared = parameters.get("f")
    if shared is None:
        return
    schema = shared.get("schema", {})
    parameters["f-items"] = {
        **shared,
        "description": "The output format: a page in GeoJSON (json), HTML or JSON-LD, or a "
        f"file ({', '.join(FORMATS)}) of every match unless paged with limit/offset, at most "
        f"{max_rows():,} features (413 beyond).",
        "schema": {**schema, "enum": [*schema.get("enum", []), *FORMATS]},
    }
    features = components.get("responses", {}).get("Features", {}).setdefault("content", {})
    for fmt in FORMATS.values():
        features.setdefault(
            fmt.media_type.split(";")[0], {"schema": {"type": "string", "format": "binary"}}
        )
    shared_ref = {"$ref": "#/components/parameters/f"}
    for operation in operations:
        listed = operation.get("parameters", [])
        operation["parameters"] = [
            {"$ref": "#/components/parameters/f-items"} if node == shared_ref else node
            for node in listed
        ]
        operation.setdefault("responses", {}).setdefault(
            "413",
            {
                "description": "A download (f=csv, gpkg or parquet) without limit would give "
                "more features than TWIN_DOWNLOAD_MAX_ROWS: page it or filter it",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/exception"}}
                },
            },
        )


# ---- the answer ----------------------------------------------------------------------------

Guard = Callable[[Callable[..., Any]], Callable[..., Any]]


async def answer(
    request: Request, q: ItemsQuery, fmt: str, headers: dict[str, str], guard: Guard
) -> Response:
    """The download of validated query `q` in format `fmt`, streamed. `guard` wraps each
    database step (twin.features.routes: a refused value is a 400, a missing table a 503)."""
    if q.hits_only:
        raise InvalidParameter(
            f"resulttype=hits is answered in JSON; a download (f={fmt}) gives the features"
        )
    paged = "limit" in request.query_params
    q = replace(q, limit=q.limit if paged else None)
    version = await run_in_threadpool(guard(_ready), q.layer, q)
    etag = _etag(version, fmt, str(request.query_params))
    if ids.names(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    kind = FORMATS[fmt]
    headers = {
        **{k: v for k, v in headers.items() if k.lower() != "content-type"},
        "Content-Type": kind.media_type,
        "Content-Disposition": f'attachment; filename="{q.layer.name}.{kind.suffix}"',
        "ETag": etag,
    }
    if request.method == "HEAD":
        return Response(headers=headers)
    chunks = WRITERS[fmt](q)
    started = time.perf_counter()
    first = await run_in_threadpool(guard(_first), q.layer, chunks)
    return StreamingResponse(_streamed(first, chunks, q, fmt, started), headers=headers)


def _etag(version: int, fmt: str, query_string: str) -> str:
    """The layer's data version and a digest of the request: a new tag for any change."""
    digest = hashlib.sha256(f"{fmt}?{query_string}".encode()).hexdigest()[:16]
    return f'"D{version}-{digest}"'


def _ready(layer: Layer, q: ItemsQuery) -> int:
    """The layer's data version (read before any row, so the tag is never newer than the
    data), after refusing an unpaged download of more than max_rows() features (413)."""
    with connection() as conn:
        version = int(
            conn.execute(query("features/data_version"), {"layer": layer.table}).fetchone()[0]
        )
        if q.limit is None:
            limit = max_rows()
            params: dict[str, Any] = {"offset": q.offset, "bound": limit + 1}
            statement = query(
                "features/download_count", table=relation(q, params), where=where_clause(q, params)
            )
            with transform_failures("the bbox or filter geometry of this download"):
                matched = int(conn.execute(statement, params).fetchone()[0])
            if matched > limit:
                raise PayloadTooLarge(
                    f"this download would give more than {limit:,} features, the most one "
                    f"download gives (TWIN_DOWNLOAD_MAX_ROWS): page with limit (at most "
                    f"{limit:,}) and offset, or narrow it with filter, bbox or datetime"
                )
    return version


def _first(layer: Layer, chunks: Iterator[bytes]) -> bytes:
    """The first bytes of the file: the statement has run, so its errors are still answers
    (a 400 or a 503) rather than a cut stream."""
    return next(chunks, b"")


async def _streamed(
    first: bytes, chunks: Iterator[bytes], q: ItemsQuery, fmt: str, started: float
) -> AsyncIterator[bytes]:
    """The file's bytes, each next chunk made in a worker thread; the writer is closed (its
    cursor, connection and temporary file released) however the stream ends."""
    sent = len(first)
    try:
        if first:
            yield first
        while chunk := await run_in_threadpool(next, chunks, b""):
            sent += len(chunk)
            yield chunk
        LOG.info(
            "download sent",
            extra={
                "fields": {
                    "collection": q.layer.name,
                    "format": fmt,
                    "bytes": sent,
                    "seconds": round(time.perf_counter() - started, 3),
                }
            },
        )
    finally:
        await run_in_threadpool(chunks.close)  # type: ignore[attr-defined]


# ---- the statement -------------------------------------------------------------------------


def _geometry(layer: Layer, crs: OutputCrs) -> sql.Composable:
    """The row's geometry in the output CRS, x/y (longitude first) whatever its axis order."""
    if crs.srid == layer.srid:
        return sql.SQL("t.geom")
    return sql.SQL("ST_Transform(t.geom, {})").format(sql.Literal(crs.srid))


def _csv_value(name: str, kind: str) -> sql.Composable:
    """A property as CSV text: booleans true/false, date-times in ISO 8601 (COPY would write
    t/f and PostgreSQL's own date-time style)."""
    column = sql.SQL("t.{}").format(sql.Identifier(name))
    if kind == "boolean":
        return sql.SQL("{}::text").format(column)
    if kind == "datetime":
        return sql.SQL("to_json({}) #>> '{{}}'").format(column)
    return column


def _columns(q: ItemsQuery, fmt: str) -> sql.Composable:
    """The selected columns in the file's order: id, the properties, then the geometry as
    the format writes it."""
    names = list(q.layer.properties) if q.properties is None else q.properties
    parts: list[sql.Composable] = [sql.SQL("t.id AS id")]
    for name in names:
        value = (
            _csv_value(name, q.layer.properties[name].type)
            if fmt == "csv"
            else sql.SQL("t.{}").format(sql.Identifier(name))
        )
        parts.append(sql.SQL("{} AS {}").format(value, sql.Identifier(name)))
    if q.skip_geometry:
        return sql.SQL(", ").join(parts)
    geom = sql.SQL("d.g")
    decimals = sql.Literal(q.crs.decimals)
    if fmt == "csv":
        if q.layer.geometry == "Point":
            x, y = ("lon", "lat") if q.crs.geographic else ("x", "y")
            parts += [
                sql.SQL("round(ST_X({})::numeric, {})::float8 AS {}").format(
                    geom, decimals, sql.Identifier(x)
                ),
                sql.SQL("round(ST_Y({})::numeric, {})::float8 AS {}").format(
                    geom, decimals, sql.Identifier(y)
                ),
            ]
        parts.append(sql.SQL("ST_AsText({}, {}) AS wkt").format(geom, decimals))
        return sql.SQL(", ").join(parts)
    parts.append(sql.SQL("ST_AsBinary({}) AS {}").format(geom, sql.Identifier(GEOMETRY)))
    if fmt == "parquet":
        parts += [
            sql.SQL("ST_{}(Box2D({})) AS {}").format(
                sql.SQL(side.capitalize()), geom, sql.Identifier(side)
            )
            for side in SIDES
        ]
    return sql.SQL(", ").join(parts)


def _statement(q: ItemsQuery, fmt: str, params: dict[str, Any]) -> sql.Composed:
    params.update(limit=q.limit, offset=q.offset)
    source = relation(q, params)
    return query(
        "features/download",
        columns=_columns(q, fmt),
        geometry=sql.SQL("NULL") if q.skip_geometry else _geometry(q.layer, q.crs),
        table=source,
        where=where_clause(q, params),
        order=order_clause(q),
    )


def _row_batches(q: ItemsQuery, fmt: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of the download, BATCH_ROWS at a time, from a server-side cursor."""
    params: dict[str, Any] = {}
    statement = _statement(q, fmt, params)
    with (
        connection() as conn,
        conn.transaction(),
        conn.cursor(name="twin_download", binary=True) as cursor,
        transform_failures("the bbox, filter geometry or crs of this download"),
    ):
        cursor.execute(statement, params)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield rows


# ---- CSV -----------------------------------------------------------------------------------


def csv_chunks(q: ItemsQuery) -> Iterator[bytes]:
    """The CSV file as PostgreSQL's COPY writes it, about CHUNK_BYTES at a time."""
    params: dict[str, Any] = {}
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
        _statement(q, "csv", params)
    )
    with (
        connection() as conn,
        transform_failures("the bbox, filter geometry or crs of this download"),
        conn.cursor().copy(statement, params) as copy,
    ):
        buffer = bytearray()
        for data in copy:
            buffer += data
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        yield bytes(buffer)


# ---- GeoParquet and GeoPackage -------------------------------------------------------------


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us", tz="UTC"),
    }[kind]


def _arrow_schema(q: ItemsQuery, fmt: str) -> Any:
    """The file's columns: id, the properties by their catalog types, the geometry (WKB)
    and, in GeoParquet, the bbox covering column."""
    import pyarrow as pa

    names = list(q.layer.properties) if q.properties is None else q.properties
    fields = [pa.field("id", pa.int64(), nullable=False)]
    fields += [pa.field(name, _arrow_type(q.layer.properties[name].type)) for name in names]
    if not q.skip_geometry:
        fields.append(pa.field(GEOMETRY, pa.binary()))
        if fmt == "parquet":
            fields.append(pa.field(BBOX, pa.struct([(side, pa.float64()) for side in SIDES])))
    return pa.schema(fields)


def _arrow_table(rows: list[tuple[Any, ...]], schema: Any) -> Any:
    """A batch of rows (as the statement selects them) as an Arrow table of `schema`."""
    import pyarrow as pa

    values = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(schema) + 3)]
    columns = []
    for index, field in enumerate(schema):
        if field.name == BBOX:
            sides = [pa.array(values[index + offset], pa.float64()) for offset in range(4)]
            columns.append(pa.StructArray.from_arrays(sides, names=list(SIDES)))
        else:
            columns.append(pa.array(values[index], field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@functools.cache
def _projjson(uri: str, srid: int) -> dict[str, Any]:
    """The output CRS as PROJJSON (GeoParquet's crs): OGC:CRS84 for CRS84, else EPSG's."""
    from pyproj import CRS

    crs = CRS.from_user_input("OGC:CRS84") if uri.endswith("/CRS84") else CRS.from_epsg(srid)
    return crs.to_json_dict()


def _geo_metadata(q: ItemsQuery, extent: list[float] | None) -> str:
    """GeoParquet 1.1's "geo" metadata of the file's geometry column."""
    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": [q.layer.geometry],
        "crs": _projjson(q.crs.uri, q.crs.srid),
        "covering": {BBOX: {side: [BBOX, side] for side in SIDES}},
    }
    if extent is not None:
        column["bbox"] = extent
    return json.dumps(
        {"version": "1.1.0", "primary_column": GEOMETRY, "columns": {GEOMETRY: column}}
    )


class _Drain:
    """A write-only file the Parquet writer writes into; what it holds is taken (and sent)
    after each row group, so the file is never whole in memory."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        block = bytes(data)
        self.chunks.append(block)
        self.position += len(block)
        return len(block)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def take(self) -> bytes:
        block = b"".join(self.chunks)
        self.chunks.clear()
        return block


def parquet_chunks(q: ItemsQuery) -> Iterator[bytes]:
    """The GeoParquet file, one row group at a time; the footer (with the "geo" metadata and
    the bbox of every row written) last."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = _arrow_schema(q, "parquet")
    sink = _Drain()
    # store_schema=False: readers then take the schema's metadata from the footer, where the
    # "geo" key is added once the bbox is known
    writer = pq.ParquetWriter(
        pa.PythonFile(sink, mode="w"), schema, compression="zstd", store_schema=False
    )
    extent: list[float] | None = None
    try:
        for rows in _row_batches(q, "parquet"):
            table = _arrow_table(rows, schema)
            writer.write_table(table, row_group_size=BATCH_ROWS)
            if not q.skip_geometry:
                extent = _extent(extent, table.column(BBOX), pc)
            yield sink.take()
        if not q.skip_geometry:
            writer.add_key_value_metadata({"geo": _geo_metadata(q, extent)})
    finally:
        writer.close()
    yield sink.take()


def _extent(extent: list[float] | None, boxes: Any, pc: Any) -> list[float] | None:
    """`extent` grown by a batch's bbox column (rows without a geometry left out)."""
    bounds = []
    for index, side in enumerate(SIDES):
        found = (pc.min if index < 2 else pc.max)(pc.struct_field(boxes, side)).as_py()
        if found is None:
            return extent
        bounds.append(found)
    if extent is None:
        return bounds
    return [min(extent[0], bounds[0]), min(extent[1], bounds[1])] + [
        max(extent[2], bounds[2]),
        max(extent[3], bounds[3]),
    ]


def gpkg_chunks(q: ItemsQuery) -> Iterator[bytes]:
    """The GeoPackage file: written batch by batch by GDAL into a temporary file, then sent
    CHUNK_BYTES at a time; the file is removed when the stream ends."""
    import pyogrio

    schema = _arrow_schema(q, "gpkg")
    with tempfile.TemporaryDirectory(prefix="twin-download-") as folder:
        path = Path(folder) / f"{q.layer.name}.gpkg"
        geometry = {}
        if not q.skip_geometry:
            geometry = {
                "geometry_name": GEOMETRY,
                "geometry_type": q.layer.geometry,
                "crs": f"EPSG:{q.crs.srid}",
            }
        written = False
        for rows in _row_batches(q, "gpkg"):
            _write_gpkg(pyogrio, _arrow_table(rows, schema), path, q, geometry, written)
            written = True
        if not written:  # no match: the layer with its columns and no rows
            _write_gpkg(pyogrio, schema.empty_table(), path, q, geometry, False)
        with path.open("rb") as file:
            while block := file.read(CHUNK_BYTES):
                yield block


def _write_gpkg(
    pyogrio: Any, table: Any, path: Path, q: ItemsQuery, geometry: dict[str, str], append: bool
) -> None:
    # GeoPackage 1.2: what GDAL 3.x and QGIS read without a warning (as twin.plans.report)
    options = {} if append else {"dataset_options": {"VERSION": "1.2"}}
    pyogrio.write_arrow(
        table, path, layer=q.layer.name, driver="GPKG", append=append, **geometry, **options
    )


WRITERS: dict[str, Callable[[ItemsQuery], Iterator[bytes]]] = {
    "csv": csv_chunks,
    "gpkg": gpkg_chunks,
    "parquet": parquet_chunks,
}

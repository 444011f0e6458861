"""`twin import`: any vector file OGR reads (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, CSV
with WKT or lon/lat columns) into one catalog layer, through pyogrio.

Nothing touches the database until the whole file has been read, mapped and validated; the
rows then go in through `twin.store.write_layer` in one transaction, so a failed import
leaves the layer exactly as it was.
"""

from __future__ import annotations

import codecs
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from twin.catalog import Layer, get_layer
from twin.errors import ImportFailed
from twin.importers import batches, error_line, source_digest
from twin.importers.batches import combined_provenance
from twin.importers.conform import FAMILY, ImportReport, conform, measures
from twin.importers.mapping import FieldMapping, apply_rule, load_mapping, resolve_rules
from twin.importers.safety import check_extent, rejected_path, write_rejected
from twin.sqlfiles import query
from twin.store import Provenance

LOG = logging.getLogger("twin.importers.ogr")
# GDAL's CSV driver finds the geometry in these columns (WKT first, then lon/lat pairs).
CSV_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,geometry,geom,the_geom,wkt_geom",
    "X_POSSIBLE_NAMES": "lon,longitude,lng,x",
    "Y_POSSIBLE_NAMES": "lat,latitude,y",
    "KEEP_GEOM_COLUMNS": "NO",
}
UNKNOWN_LICENCE = "not stated (give --licence or licence: in the mapping)"


@dataclass
class SourceFile:
    path: Path
    frame: gpd.GeoDataFrame
    source_layer: str
    notes: list[str]


def read_source(
    path: Path, source_layer: str | None = None, crs: str | None = None, encoding: str | None = None
) -> SourceFile:
    """The file's features as a GeoDataFrame with a CRS; ImportFailed when unreadable.

    GDAL's warnings become notes of the import report instead of noise on stderr."""
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = _read_source(path, source_layer, crs, encoding)
    gdal_notes = dict.fromkeys(f"GDAL: {error_line(w.message)}" for w in caught)
    source.notes += list(gdal_notes)[:5]
    return source


def _read_source(
    path: Path, source_layer: str | None, crs: str | None, encoding: str | None
) -> SourceFile:
    notes: list[str] = []
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends from GDAL
        raise ImportFailed(f"cannot read {path.name}: {gdal_advice(path, exc)}") from None
    if not layers:
        raise ImportFailed(f"cannot read {path.name}: it holds no vector layer")
    if source_layer is None:
        if len(layers) > 1:
            raise ImportFailed(
                f"{path.name} holds {len(layers)} layers ({', '.join(layers)}): "
                "choose one with --source-layer"
            )
        source_layer = layers[0]
    elif source_layer not in layers:
        raise ImportFailed(
            f"{path.name} has no layer {source_layer!r}; it holds {', '.join(layers)}"
        )
    options = CSV_OPTIONS if path.suffix.lower() in {".csv", ".tsv"} else {}
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFailed(f"unknown text encoding {encoding!r} (e.g. cp1251, utf-8)") from None
    try:
        frame = pyogrio.read_dataframe(path, layer=source_layer, encoding=encoding, **options)
    except Exception as exc:
        raise ImportFailed(f"cannot read {path.name}: {gdal_advice(path, exc)}") from None
    if path.suffix.lower() == ".shp" and not _sibling(path, ".dbf"):
        notes.append(
            f"no {path.stem}.dbf beside {path.name}: the features have no attributes "
            "(a Shapefile is several files: copy the .dbf, .prj and .cpg with it)"
        )
    if not isinstance(frame, gpd.GeoDataFrame) or "geometry" not in frame:
        hint = (
            ": a CSV needs a WKT column (wkt, geometry, geom) or lon/lat columns" if options else ""
        )
        raise ImportFailed(f"{path.name} has no geometry{hint}")
    if len(frame) == 0:
        raise ImportFailed(f"nothing to import: {path.name} has no features")
    if encoding is None and _looks_like_misread_cyrillic(frame):
        notes.append(
            "text looks like Cyrillic read as Latin-1 (a Shapefile without .cpg?): "
            "give --encoding cp1251"
        )
    if crs:
        try:
            given = CRS.from_user_input(crs)
        except CRSError:
            raise ImportFailed(f"unknown CRS {crs!r}") from None
        if frame.crs is not None and CRS.from_user_input(frame.crs) != given:
            notes.append(f"the file says {frame.crs.to_string()}; read as {crs} as asked")
        frame = frame.set_crs(given, allow_override=True)
    elif frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ImportFailed(
                f"{path.name} does not say its coordinate reference system and "
                "its coordinates are not longitude/latitude: give --crs "
                "(e.g. --crs EPSG:32643)"
            )
        frame = frame.set_crs(4326)
        notes.append("the file does not say its CRS: read as WGS 84 longitude/latitude")
    return SourceFile(path=path, frame=frame, source_layer=source_layer, notes=notes)


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


# GDAL's advice names configuration options the twin does not pass: say what the user can do.
GDAL_ADVICE: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"Unable to open (?P<file>\S+)\.shx or \S+\. Set SHAPE_RESTORE_SHX", re.IGNORECASE
        ),
        (
            "its index file {stem}.shx is missing: a Shapefile is several files (.shp, .shx, .dbf, "
            ".prj, .cpg) - copy {stem}.shx beside {name}, or open the .shp in QGIS and save it as "
            "GeoPackage, then import that"
        ),
    ),
    (
        re.compile(r"SHAPE_ENCODING|OGR_[A-Z_]+|GDAL_[A-Z_]+ config", re.IGNORECASE),
        (
            "{message} (the twin does not pass GDAL configuration options: convert the file with "
            "QGIS or ogr2ogr to GeoPackage, or give --encoding for text)"
        ),
    ),
]


def gdal_advice(path: Path, exc: BaseException) -> str:
    """GDAL's error as one line, translated when it names an option the user cannot pass."""
    message = error_line(exc)
    for pattern, advice in GDAL_ADVICE:
        if pattern.search(message):
            return advice.format(stem=path.stem, name=path.name, message=message)
    return message


MISREAD_CYRILLIC = re.compile("[\u00c0-\u00ff]{3,}")
CYRILLIC = re.compile("[\u0400-\u04ff]")


def _looks_like_misread_cyrillic(frame: gpd.GeoDataFrame) -> bool:
    """Cyrillic bytes (cp1251) decoded as Latin-1 come out as runs of À-ÿ letters."""
    sample = frame.drop(columns=frame.geometry.name).head(200)
    texts = [
        v
        for column in sample.columns
        if sample[column].dtype.kind in "OT"
        for v in sample[column].tolist()
        if isinstance(v, str)
    ]
    return any(MISREAD_CYRILLIC.search(v) for v in texts) and not any(
        CYRILLIC.search(v) for v in texts
    )


def _check_geometry_family(source: SourceFile, layer: Layer) -> None:
    """A file with none of the layer's geometry family is a wrong file, not rejected rows."""
    kinds = source.frame.geometry.geom_type.dropna()
    if kinds.empty:
        raise ImportFailed(f"{source.path.name} has no geometries")
    wanted = FAMILY[layer.geometry]
    if not any(
        FAMILY.get(kind) == wanted or kind == "GeometryCollection" for kind in kinds.unique()
    ):
        found = ", ".join(sorted(kinds.unique()))
        raise ImportFailed(
            f"wrong geometry type: {source.path.name} holds {found}; layer "
            f"{layer.name} takes {layer.geometry}"
        )


def prepare(
    path: Path,
    layer: Layer,
    mapping: FieldMapping,
    report: ImportReport,
    crs: str | None = None,
    source_layer: str | None = None,
    encoding: str | None = None,
    force: bool = False,
) -> gpd.GeoDataFrame:
    """Read, map and validate a file for a layer: the rows to load (nothing is written).

    A file whose features mostly lie outside the city is refused here (see
    `twin.importers.safety.check_extent`) unless `force`."""
    source = read_source(
        path, source_layer or mapping.source_layer, crs or mapping.crs, encoding or mapping.encoding
    )
    report.notes += source.notes
    _check_geometry_family(source, layer)
    frame = source.frame
    report.read = len(frame)
    fields = [c for c in frame.columns if c != frame.geometry.name]
    rules = resolve_rules(mapping, layer, fields)
    labelled = frame.geometry
    if frame.crs.to_epsg() != layer.srid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # coordinates that do not transform become inf
            frame = frame.to_crs(layer.srid)
    lonlat = frame.geometry if layer.srid == 4326 else frame.geometry.to_crs(4326)
    check_extent(
        lonlat.values,
        labelled,
        path.name,
        "pass --crs EPSG:NNNN to override the file's CRS label, or --force to import anyway",
        force,
        report.notes,
    )
    report.source_frame = frame
    metric = measures(frame) if any(r.compute for r in rules.values()) else {}
    values: dict[str, list[Any]] = {}
    reasons: list[str | None] = [None] * len(frame)
    for target, rule in rules.items():
        values[target], errors = apply_rule(rule, frame, metric, layer.properties[target].required)
        reasons = [r or e for r, e in zip(reasons, errors)]
    used = {f for rule in rules.values() for f in rule.source_fields()}
    ignored = [f for f in fields if f not in used]
    if ignored:
        report.notes.append(f"source fields not loaded: {', '.join(ignored)}")
    report.notes.append(
        "properties from: "
        + "; ".join(f"{target} <- {rule.describe()}" for target, rule in rules.items())
    )
    return conform(layer, frame, values, report, reasons)


def importable_layer(name: str) -> Layer:
    """A catalog layer that holds source data (analysis layers are computed, not imported)."""
    layer = get_layer(name)
    if layer.analysis:
        raise ImportFailed(
            f"layer {name} is computed by the analysis engine (`twin analyse`), not imported"
        )
    return layer


def import_file(
    conn: psycopg.Connection,
    path: Path | str,
    layer_name: str | None = None,
    mapping_path: Path | str | None = None,
    mode: str = "replace",
    crs: str | None = None,
    source_layer: str | None = None,
    source: str | None = None,
    licence: str | None = None,
    strict: bool = False,
    encoding: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    rejected_file: Path | str | None = None,
    keep_demo: bool = False,
) -> ImportReport:
    """Import one vector file into one layer; return what happened (raises ImportFailed).

    mode: replace (the rows the same source brought before; for amenities in the same
    categories, and the demo's synthetic rows of what the file brings unless `keep_demo`),
    replace-layer (every row), append (skipping rows already in the layer)."""
    path = Path(path)
    batches.check_mode(mode, keep_demo)
    mapping = load_mapping(mapping_path)
    if layer_name and mapping.layer and mapping.layer != layer_name:
        raise ImportFailed(f"mapping {mapping.name} is for layer {mapping.layer}, not {layer_name}")
    layer_name = layer_name or mapping.layer
    if not layer_name:
        raise ImportFailed("which layer? give --layer NAME (or layer: in the mapping)")
    layer = importable_layer(layer_name)
    report = ImportReport(layer=layer.name, mode=mode)
    frame = prepare(
        path,
        layer,
        mapping,
        report,
        crs=crs,
        source_layer=source_layer,
        encoding=encoding,
        force=force,
    )
    rejected = write_rejected(
        report,
        report.source_frame,
        Path(rejected_file) if rejected_file else rejected_path(path, layer.name),
    )
    where = f"; the rejected features are in {rejected}" if rejected else ""
    if frame.empty:
        reasons = "; ".join(f"{n} {r}" for r, n in report.rejected.most_common(3))
        raise ImportFailed(
            f"nothing to load into {layer.name}: all {report.read} feature(s) "
            f"were rejected ({reasons}); the layer is unchanged{where}"
        )
    if strict and report.rejected:
        reasons = "; ".join(f"{n} {r}" for r, n in report.rejected.most_common(3))
        raise ImportFailed(
            f"--strict: {report.rejected_total} feature(s) rejected ({reasons});"
            f" the layer is unchanged{where}"
        )
    source = source or mapping.source or f"file {path.name}"
    licence = licence or mapping.licence or UNKNOWN_LICENCE
    report.loaded = len(frame)  # what the transaction writes, or nothing at all
    if dry_run:
        batches.plan(conn, layer, frame, report, source, keep_demo)
        report.loaded = (
            report.changes["add"] + report.changes["change"] + report.changes["unchanged"]
        )
        report.written = False
        report.notes.append("dry run: checked only, nothing was written")
        return report
    details = {
        "file": path.name,
        "sha256": source_digest(path),
        "mapping": mapping.name,
        "source_layer": None,
    }
    if len(pyogrio.list_layers(path)) > 1 or source_layer:
        details["source_layer"] = source_layer or mapping.source_layer
    previous = _previous_provenance(conn, layer)

    def provenance(kept: int, demo_left: int) -> Provenance:
        return combined_provenance(
            previous,
            source,
            licence,
            {**details, **report.details()},
            kept,
            "appended_to" if mode == "append" else "kept_rows",
            demo_left,
        )

    with conn.transaction():
        batch = batches.begin(conn, "import", path.name, source)
        batches.write(conn, batch, layer, frame, report, provenance, keep_demo)
        report.notes.append(
            f"import {batch.id}: `twin import undo` brings {layer.name} back as it was"
        )
    LOG.info(
        "imported",
        extra={
            "fields": {
                "layer": layer.name,
                "loaded": report.loaded,
                "rejected": report.rejected_total,
            }
        },
    )
    return report


def _previous_provenance(conn: psycopg.Connection, layer: Layer) -> dict | None:
    row = conn.execute(query("importers/layer_provenance"), {"name": layer.name}).fetchone()
    if row is None:
        return None
    return {"source": row[0], "licence": row[1], "synthetic": row[2]}


def layer_checksum(conn: psycopg.Connection, layer: Layer | str) -> tuple[int, str]:
    """Row count and an md5 over every row: what a test or a cautious user compares."""
    layer = get_layer(layer) if isinstance(layer, str) else layer
    row = conn.execute(query("importers/layer_checksum", table=layer.table)).fetchone()
    return int(row[0]), str(row[1])

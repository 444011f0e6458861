"""The import commands: `twin import`, `twin import-osm`, `twin import-dem`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from twin.errors import ImportFailed, TwinError
from twin.importers import error_line

MAPPINGS_DIR = Path(__file__).parent / "mappings"
LOG = logging.getLogger("twin.importers")


@contextmanager
def unexpected_failures(path: Path) -> Iterator[None]:
    """An error nobody foresaw still ends as one line (the import's transaction was rolled
    back); the traceback goes to the debug log (`twin -vv import …`)."""
    try:
        yield
    except (TwinError, click.ClickException, KeyboardInterrupt):
        raise
    except Exception as exc:
        LOG.debug("import failed", exc_info=True)
        raise ImportFailed(f"importing {path.name} failed, nothing was changed: "
                           f"{type(exc).__name__}: {error_line(exc)}") from None


def _mapping_path(value: str | None) -> Path | None:
    """A mapping given as a path, or by name from the twin's own mappings (e.g. almaty_blocks)."""
    if value is None:
        return None
    path = Path(value)
    if path.exists():
        return path
    shipped = MAPPINGS_DIR / (value if value.endswith(".yml") else f"{value}.yml")
    if shipped.exists() and "/" not in value:
        return shipped
    known = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yml")))
    raise TwinError(f"mapping {value} not found (a file path, or one of the twin's mappings: "
                    f"{known})")


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", "layer_name", help="Target layer (see layers/); may come from the mapping.")
@click.option("--mapping", "mapping", help="Mapping YAML (a path, or a shipped mapping's name).")
@click.option("--replace", "mode", flag_value="replace", default=True,
              help="Replace the layer's rows (default).")
@click.option("--append", "mode", flag_value="append", help="Add to the layer's rows.")
@click.option("--crs", help="CRS of a file that does not say it (e.g. EPSG:32643).")
@click.option("--source-layer", help="Layer inside a multi-layer file (GeoPackage, ...).")
@click.option("--source", help="Provenance: where the data comes from.")
@click.option("--licence", help="Provenance: the data's licence.")
@click.option("--encoding", help="Text encoding of a file that does not say it (e.g. cp1251 "
              "for a Shapefile without .cpg).")
@click.option("--strict", is_flag=True, help="Refuse the file when any feature is rejected.")
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
def import_file_command(path: Path, layer_name: str | None, mapping: str | None, mode: str,
                        crs: str | None, source_layer: str | None, source: str | None,
                        licence: str | None, encoding: str | None, strict: bool,
                        dry_run: bool) -> None:
    """Import a vector file (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, CSV with WKT) into a
    layer: reprojected, repaired or rejected, mapped, validated, loaded in one transaction."""
    from twin.db.pool import connect
    from twin.importers.ogr import import_file

    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        report = import_file(conn, path, layer_name, _mapping_path(mapping), mode=mode,
                             crs=crs, source_layer=source_layer, source=source,
                             licence=licence, strict=strict, encoding=encoding,
                             dry_run=dry_run)
    verb = "checked (dry run)" if dry_run else "imported"
    click.echo(f"{verb} {path.name} into " + "\n".join(report.lines()))


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError:
        raise TwinError(f"bad --bbox {value!r}: expected W,S,E,N in degrees, "
                        "e.g. 76.90,43.22,76.96,43.27") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise TwinError(f"bad --bbox {value!r}: expected W<E and S<N within lon/lat bounds")
    return west, south, east, north


@click.command("import-osm")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--bbox", help="Only this box: W,S,E,N in degrees.")
@click.option("--layers", "layers", default="streets,buildings,amenities,parks,transit_stops",
              show_default=True, help="Which layers to fill (comma-separated).")
@click.option("--replace", "mode", flag_value="replace", default=True,
              help="Replace the layers' rows (default).")
@click.option("--append", "mode", flag_value="append", help="Add to the layers' rows.")
def import_osm_command(path: Path, bbox: str | None, layers: str, mode: str) -> None:
    """Import an OpenStreetMap extract (.osm.pbf): walkable streets as a routable network,
    buildings, amenities in the 15-minute categories, parks and transit stops."""
    from twin.db.pool import connect
    from twin.importers.osm import import_osm

    wanted = [name.strip() for name in layers.split(",") if name.strip()]
    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        reports = import_osm(conn, path, bbox=_bbox(bbox), layers=wanted, mode=mode)
    click.echo(f"imported {path.name}:")
    for report in reports:
        click.echo("\n".join("  " + line for line in report.lines()))


@click.command("import-dem")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--band", default=1, show_default=True, help="Band holding the elevation.")
@click.option("--source", help="Provenance: where the model comes from.")
@click.option("--licence", help="Provenance: the model's licence.")
def import_dem_command(path: Path, band: int, source: str | None, licence: str | None) -> None:
    """Import an elevation model (GeoTIFF or any raster GDAL reads) as the twin's terrain,
    reprojected to EPSG:32643 and stored as a Cloud-Optimized GeoTIFF in the database."""
    from twin.db.pool import connect
    from twin.importers.dem import import_dem

    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        summary = import_dem(conn, path, band=band, source=source, licence=licence)
    click.echo(summary)

"""The import commands: `twin import`, `twin import-osm`, `twin import-dem`, `twin import-gtfs`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from twin.bbox import BboxError, parse_bbox
from twin.errors import ImportFailed, TwinError
from twin.importers import error_line

MAPPINGS_DIR = Path(__file__).parent / "mappings"
LOG = logging.getLogger("twin.importers")


@contextmanager
def unexpected_failures(path: Path | str) -> Iterator[None]:
    """An error nobody foresaw still ends as one line (the import's transaction was rolled
    back); the traceback goes to the debug log (`twin -vv import …`)."""
    what = f"importing {path.name}" if isinstance(path, Path) else path
    try:
        yield
    except (TwinError, click.ClickException, KeyboardInterrupt):
        raise
    except Exception as exc:
        LOG.debug("import failed", exc_info=True)
        raise ImportFailed(
            f"{what} failed, nothing was changed: {type(exc).__name__}: {error_line(exc)}"
        ) from None


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
    raise TwinError(
        f"mapping {value} not found (a file path, or one of the twin's mappings: {known})"
    )


class ImportGroup(click.Group):
    """`twin import PATH …` imports a file; `twin import undo` and `twin import log` are the
    batch commands. A first argument that is not one of those is the file's path."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["file", *args]  # `twin import --help` shows the file import's help
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] PATH | undo [IMPORT] | log")


class ImportFileCommand(click.Command):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        path = ctx.command_path.rsplit(" ", 1)[0]  # `twin import`, not `twin import file`
        formatter.write_usage(path, "[OPTIONS] PATH")


@click.group("import", cls=ImportGroup, invoke_without_command=False)
def import_file_command() -> None:
    """Import a vector file into a layer (`twin import PATH --layer NAME`), list the imports
    (`twin import log`) or undo one (`twin import undo`)."""


REPLACE_HELP = (
    "Replace the rows the same source (--source, the mapping's source, else the "
    "file name) brought before, and the demo city's synthetic stand-ins for what "
    "the file brings; for amenities only in the categories (demo: the kinds) the "
    "file brings. Other sources' and editors' rows stay. (default)"
)
KEEP_DEMO_HELP = (
    "With --replace: leave the synthetic rows of `twin load demo` in place "
    "(by default the real data supersedes the demo's stand-ins for it)."
)
APPEND_HELP = (
    "Add to the layer's rows; rows already in it (the same geometry, within 1 cm, "
    "and the same name) are skipped; an append of nothing new is refused."
)


@import_file_command.command("file", cls=ImportFileCommand)
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--layer", "layer_name", help="Target layer (see layers/); may come from the mapping."
)
@click.option("--mapping", "mapping", help="Mapping YAML (a path, or a shipped mapping's name).")
@click.option("--replace", "mode", flag_value="replace", default=True, help=REPLACE_HELP)
@click.option(
    "--replace-layer",
    "mode",
    flag_value="replace-layer",
    help="Replace every row of the layer, whatever its source.",
)
@click.option("--append", "mode", flag_value="append", help=APPEND_HELP)
@click.option("--keep-demo", is_flag=True, help=KEEP_DEMO_HELP)
@click.option(
    "--crs", help="CRS of the file's coordinates, overriding what the file says (e.g. EPSG:32643)."
)
@click.option(
    "--force",
    is_flag=True,
    help="Import even when most features lie outside the "
    "city's extent (by default such a file is refused: a wrong CRS or another city).",
)
@click.option("--source-layer", help="Layer inside a multi-layer file (GeoPackage, ...).")
@click.option(
    "--source",
    help="Provenance: where the data comes from (also what a later "
    "import of the same source replaces).",
)
@click.option("--licence", help="Provenance: the data's licence.")
@click.option(
    "--encoding",
    help="Text encoding of a file that does not say it (e.g. cp1251 for a Shapefile without .cpg).",
)
@click.option("--strict", is_flag=True, help="Refuse the file when any feature is rejected.")
@click.option(
    "--rejected",
    "rejected_file",
    type=click.Path(path_type=Path),
    help="Write the rejected features here (GeoJSON, a `reason` on each); default "
    "TWIN_HOME/rejected/<file>-<layer>-rejected-<time>.geojson.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what would be added, changed, removed and rejected; write nothing to the layer.",
)
def import_file(
    path: Path,
    layer_name: str | None,
    mapping: str | None,
    mode: str,
    keep_demo: bool,
    crs: str | None,
    force: bool,
    source_layer: str | None,
    source: str | None,
    licence: str | None,
    encoding: str | None,
    strict: bool,
    rejected_file: Path | None,
    dry_run: bool,
) -> None:
    """Import a vector file (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, CSV with WKT) into a
    layer: reprojected, repaired or rejected, mapped, validated, loaded in one transaction.
    A file mostly outside the city is refused. `twin import log` lists the imports and
    `twin import undo [IMPORT]` takes one back (docs/importing.md)."""
    from twin.db.pool import connect
    from twin.importers.ogr import import_file as run_import

    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        report = run_import(
            conn,
            path,
            layer_name,
            _mapping_path(mapping),
            mode=mode,
            crs=crs,
            source_layer=source_layer,
            source=source,
            licence=licence,
            strict=strict,
            encoding=encoding,
            dry_run=dry_run,
            force=force,
            rejected_file=rejected_file,
            keep_demo=keep_demo,
        )
    verb = "checked (dry run)" if dry_run else "imported"
    click.echo(f"{verb} {path.name} into " + "\n".join(report.lines()))


@import_file_command.command("undo")
@click.argument("batch", metavar="[IMPORT]", required=False, type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Undo even when a layer changed after the import "
    "(those later changes to its rows are lost).",
)
def import_undo(batch: int | None, force: bool) -> None:
    """Undo an import (the latest, or IMPORT from `twin import log`): the rows it added go,
    the rows it removed come back with their ids, and the layer's provenance is restored."""
    from twin.db.pool import connect
    from twin.importers.batches import undo

    with connect() as conn, unexpected_failures("undoing the import"):
        conn.autocommit = True
        click.echo(undo(conn, batch, force=force))


@import_file_command.command("log")
@click.option("--limit", default=20, show_default=True, help="How many imports to list.")
def import_log(limit: int) -> None:
    """The latest imports (newest first): number, time, file, source, rows added and removed."""
    from twin.db.pool import connect
    from twin.importers.batches import log_lines

    with connect() as conn:
        click.echo("\n".join(log_lines(conn, limit)))


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        return parse_bbox(value, name="--bbox", heights=False, degrees=True, area=True)
    except BboxError as exc:
        raise TwinError(
            f"bad --bbox {value!r}: {exc.problem}; expected W,S,E,N in degrees, "
            "e.g. 76.90,43.22,76.96,43.27"
        ) from None


@click.command("import-osm")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--bbox", help="Only this box: W,S,E,N in degrees.")
@click.option(
    "--layers",
    "layers",
    default="streets,buildings,amenities,parks,transit_stops",
    show_default=True,
    help="Which layers to fill (comma-separated).",
)
@click.option(
    "--replace",
    "mode",
    flag_value="replace",
    default=True,
    help="Replace the rows an OpenStreetMap import brought before, and the demo "
    "city's synthetic stand-ins for what the extract brings (amenities: in the "
    "categories, demo: kinds, it brings); other rows stay. (default)",
)
@click.option(
    "--replace-layer",
    "mode",
    flag_value="replace-layer",
    help="Replace every row of each layer filled, whatever its source.",
)
@click.option("--append", "mode", flag_value="append", help=APPEND_HELP)
@click.option("--keep-demo", is_flag=True, help=KEEP_DEMO_HELP)
@click.option(
    "--force",
    is_flag=True,
    help="Import even when most features lie outside the "
    "city's extent (an extract of another place is refused by default).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Say what would be added, changed, removed and rejected per layer; write nothing.",
)
def import_osm_command(
    path: Path,
    bbox: str | None,
    layers: str,
    mode: str,
    keep_demo: bool,
    force: bool,
    dry_run: bool,
) -> None:
    """Import an OpenStreetMap extract (.osm.pbf): walkable streets as a routable network,
    buildings, amenities in the 15-minute categories, parks and transit stops. A layer the
    extract has nothing for is left as it was; `twin import undo` takes the import back."""
    from twin.db.pool import connect
    from twin.importers.osm import import_osm

    wanted = [name.strip() for name in layers.split(",") if name.strip()]
    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        reports = import_osm(
            conn,
            path,
            bbox=_bbox(bbox),
            layers=wanted,
            mode=mode,
            force=force,
            dry_run=dry_run,
            keep_demo=keep_demo,
        )
    click.echo(f"{'checked (dry run)' if dry_run else 'imported'} {path.name}:")
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


@click.command("import-gtfs")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="The feed's name in reports (default: the file's name).")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the real feed in use (one feed at a time; the demo's synthetic feed is "
    "replaced without it).",
)
@click.option("--source", help="Provenance: where the feed comes from.")
@click.option("--licence", help="Provenance: the feed's licence.")
def import_gtfs_command(
    path: Path, name: str | None, replace: bool, source: str | None, licence: str | None
) -> None:
    """Import a GTFS feed (.zip) as the twin's public transport: its timetable for walk +
    transit minutes, and the layers transit_routes (headways by period) and transit_stops.
    The feed is checked first; any error refuses it and the feed in use stays
    (docs/transit.md). `twin import log` lists the import; `twin import undo` brings the
    previous feed back."""
    from twin.db.pool import connect
    from twin.transit.store import import_feed

    with connect() as conn, unexpected_failures(path):
        conn.autocommit = True
        report = import_feed(
            conn,
            path,
            name=name,
            source=source,
            licence=licence,
            replace=replace,
            undoable=True,
        )
    click.echo("imported " + "\n".join(report.lines()))

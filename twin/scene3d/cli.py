"""`twin export3d`, `twin render` and `twin tiles3d build`."""

from __future__ import annotations

from pathlib import Path

import click

from twin.scene3d.render import CAMERAS

INCLUDE_HELP = "Parts to include, comma separated: terrain,buildings,faults,utilities,parks."


def _area_options(command):
    for option in reversed(
        [
            click.option("--district", help="A district by its English, Russian or Kazakh name."),
            click.option("--polycentre", help="A polycentre by name (e.g. 'Historic Centre')."),
            click.option("--bbox", metavar="W,S,E,N", help="A lon/lat box in degrees."),
        ]
    ):
        command = option(command)
    return command


def _resolve(conn, district, polycentre, bbox):
    from twin.scene3d.area import resolve_area

    return resolve_area(conn, district=district, polycentre=polycentre, bbox=bbox)


@click.command("export3d")
@_area_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .glb file to write.",
)
@click.option("--include", default=None, help=INCLUDE_HELP + "  [default: all]")
def export3d(
    district: str | None, polycentre: str | None, bbox: str | None, out: Path, include: str | None
) -> None:
    """Export an area as a binary glTF (GLB) in UTM 43N metres around a recorded origin."""
    from twin.db.pool import connect
    from twin.scene3d.export import export_scene, write_scene
    from twin.scene3d.scene import parse_include

    parts = parse_include(include)
    with connect() as conn:
        area = _resolve(conn, district, polycentre, bbox)
        exported = export_scene(conn, area, parts, show_progress=True)
    write_scene(exported, out)
    scene = exported.scene
    counts = ", ".join(f"{scene.count(g)} {g}" for g in parts if g != "terrain")
    easting, northing, elevation = scene.origin
    click.echo(
        f"wrote {out} ({len(exported.glb) / 1e6:.1f} MB): {area.label}, {counts}"
        f"{', terrain' if 'terrain' in parts else ''}; origin E {easting:.0f} "
        f"N {northing:.0f} H {elevation:.0f} (EPSG:32643)"
    )


@click.command("render")
@_area_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .png file to write.",
)
@click.option(
    "--include",
    default="terrain,buildings,faults,parks",
    show_default=True,
    help=INCLUDE_HELP + " Utilities show through a translucent ground.",
)
@click.option(
    "--camera",
    default="south-west",
    show_default=True,
    type=click.Choice(list(CAMERAS)),
    help="Where the camera looks from.",
)
@click.option("--width", default=1600, show_default=True, type=click.IntRange(64, 8192))
@click.option("--height", default=1000, show_default=True, type=click.IntRange(64, 8192))
@click.option("--no-title", is_flag=True, help="Leave the area's name off the picture.")
def render(
    district: str | None,
    polycentre: str | None,
    bbox: str | None,
    out: Path,
    include: str,
    camera: str,
    width: int,
    height: int,
    no_title: bool,
) -> None:
    """Render an area off-screen to a PNG (no display needed), for reports."""
    from twin.db.pool import connect
    from twin.progress import progress
    from twin.scene3d.render import render_scene
    from twin.scene3d.scene import build_scene, parse_include

    parts = parse_include(include)
    with connect() as conn:
        area = _resolve(conn, district, polycentre, bbox)
        with progress(f"scene {area.label}", total=len(parts), unit="layer") as bar:
            scene = build_scene(conn, area, parts, bar)
    render_scene(scene, out, width=width, height=height, camera=camera, title=not no_title)
    click.echo(
        f"wrote {out} ({width}x{height}, camera from the {camera}): {area.label}, "
        f"{scene.count('buildings')} buildings"
    )


@click.group("tiles3d")
def tiles3d() -> None:
    """3D Tiles of the buildings for CesiumJS (served at /3dtiles/buildings/tileset.json)."""


@tiles3d.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write (default: the one the server serves, under TWIN_HOME).",
)
@click.option(
    "--tile-buildings",
    default=None,
    type=click.IntRange(16, 50000),
    help="Most buildings in one tile's content [default: 1000].",
)
def tiles3d_build(out: Path | None, tile_buildings: int | None) -> None:
    """Build the buildings' 3D Tiles tileset (tileset.json + GLB content) from PostGIS."""
    from twin.db.pool import connect
    from twin.scene3d.tiles3d import TILE_BUILDINGS, build_tileset, tileset_dir

    target = out or tileset_dir()
    with connect() as conn:
        summary = build_tileset(
            conn, target, tile_buildings=tile_buildings or TILE_BUILDINGS, show_progress=True
        )
    click.echo(
        f"wrote {target / 'tileset.json'}: {summary['buildings']} buildings in "
        f"{summary['content_tiles']} content tiles, {summary['tiles']} tiles, "
        f"depth {summary['depth']}, {summary['bytes'] / 1e6:.1f} MB"
    )

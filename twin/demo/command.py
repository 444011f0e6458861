"""`twin load demo`: the demo city into the twin."""

from __future__ import annotations

import time
from pathlib import Path

import click


# a plain group: `twin` (twin.cli.TwinGroup) turns a TwinError raised below it into a one-line
# message, so this module needs nothing from the command line that registers it
@click.group()
def load() -> None:
    """Load a ready-made dataset into the twin."""


@load.command("demo")
@click.option(
    "--scale",
    type=click.Choice(["small", "city", "metro"]),
    default="small",
    show_default=True,
    help="small: the whole city with coarse blocks and plots (fast); city: full "
    "density (>=200,000 plots); metro: the 2030 agglomeration (4 million residents, "
    ">=1,000,000 plots; docs/scaling.md).",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="The same seed always gives the same city.",
)
@click.option(
    "--base",
    "base",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Use real districts.geojson and blocks.geojson from DIR "
    "(layout of ../shared/data/almaty/) and build plots and "
    "buildings inside the real blocks.",
)
def load_demo(scale: str, seed: int, base: Path | None) -> None:
    """A synthetic Almaty calibrated to the city's development programme; every generated
    layer is marked synthetic (with --base, the real districts and blocks are marked with their
    source and licence, ODbL). Replaces the data of every layer."""
    summary = load_demo_city(scale, seed, base)
    click.echo(summary)


def load_demo_city(scale: str, seed: int, base: Path | None = None) -> str:
    """Generate and load the demo; return a one-paragraph summary for the user."""
    from twin.db.pool import connect
    from twin.demo.generator import generate
    from twin.demo.generator import load as load_city
    from twin.importers.batches import supersede

    started = time.perf_counter()
    with connect() as conn:  # fail fast when the database is down, before generating
        city = generate(scale, seed, base)
        counts = load_city(conn, city)
        from twin.mobility.demo import load_mobility

        counts.update(load_mobility(conn, city))  # mobility and safety layers (twin/mobility)
        from twin.changes.demo import load_change_year  # the year of past changes

        counts.update(load_change_year(conn, city))
        from twin.scooters.safety_demo import load_road_safety  # trips, crashes, hotspots

        counts.update(load_road_safety(conn, city))
        supersede(conn, list(counts))  # earlier imports into these layers: nothing to undo
        from twin.sensors.demo import install_sensors  # lamps, air, meters and their last day
        from twin.sensors.derived import refresh as derive_sensor_layers

        counts.update(install_sensors(conn, scale, seed))
        derive_sensor_layers(conn)  # sensors, lamp_faults, district_air_quality, meters
        conn.commit()
    elapsed = time.perf_counter() - started
    parts = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    nodes = len(set(city.layers["streets"].source_node) | set(city.layers["streets"].target_node))
    where = f" on real blocks from {base}" if base else ""
    licences = (
        "Districts and blocks are real (ODbL 1.0, © OpenStreetMap contributors); the "
        "other layers are synthetic (CC0-1.0)."
        if base
        else "All layers are synthetic (CC0-1.0)."
    )
    rows, columns = city.elevation.shape
    return (
        f"loaded the demo city (scale {scale}, seed {seed}{where}) in {elapsed:.1f} s: "
        f"{parts}; {nodes:,} street nodes; terrain {columns}x{rows} cells at "
        f"{abs(city.transform.a):.0f} m. {licences}"
    )

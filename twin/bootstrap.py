"""What `twin up` does between migrating and serving: load the demo city on first use."""

from __future__ import annotations

import click

from twin.analysis.publish import refresh_analysis
from twin.catalog import load_catalog
from twin.sqlfiles import query
from twin.tiles.cli import refresh_overviews


def layers_with_data() -> list[str]:
    """Catalog layers (not analysis results) that hold at least one feature."""
    from twin.db.pool import connect

    with connect() as conn:
        return [
            layer.name
            for layer in load_catalog().values()
            if not layer.analysis
            and conn.execute(query("demo/layer_has_rows", table=layer.table)).fetchone()[0]
        ]


def load_if_empty(scale: str) -> None:
    """Load the demo city when the twin has no data yet, so a fresh clone shows a city;
    a twin with any data of its own is left alone."""
    filled = layers_with_data()
    if filled:
        click.echo(
            f"the twin has data in {len(filled)} layer(s) ({', '.join(filled[:4])}"
            f"{', ...' if len(filled) > 4 else ''}): not loading the demo city"
        )
        click.echo(refresh_analysis())
        click.echo(refresh_overviews())
        return
    from twin.demo.command import load_demo_city

    click.echo(f"the twin is empty: loading the {scale} demo city (synthetic Almaty, seed 1)...")
    click.echo(load_demo_city(scale, 1))
    click.echo(refresh_analysis())
    click.echo(refresh_overviews())

"""What `twin up` does between migrating and serving: load the demo city on first use."""

from __future__ import annotations

import click


def load_if_empty(scale: str) -> None:
    """Load the demo city when the twin has no data yet (the data issue fills this in)."""
    click.echo("no demo loader yet: serving empty layers")

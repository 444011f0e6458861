"""Import tests replace layers the demo city also fills; the test session shares one database,
so a module that found the demo loaded reloads it when it is done (same scale and seed as the
`demo_city` fixture), and the tests after it see the demo they expect."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from conftest import run_twin


def demo_present(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return bool(conn.execute("SELECT count(*) FROM twin_layers WHERE synthetic "
                                 "AND source IS NOT NULL").fetchone()[0])


def restore_demo_afterwards(database_url: str) -> Iterator[None]:
    """Module fixture body: reload the small demo city after the module if it was there."""
    had_demo = demo_present(database_url)
    yield
    if had_demo:
        run_twin("load", "demo", "--scale", "small", "--seed", "1")

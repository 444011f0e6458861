"""The importer tests load real and odd files into layers the demo city also fills. So that
they never disturb the demo the rest of the session relies on (and never wait for it to be
reloaded), each importer test module gets its own database in the session's cluster, migrated
like any other: the `twin` commands run against it through DATABASE_URL, with their own
TWIN_HOME (the terrain cache lives there)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from conftest import Server, run_twin

_numbers = itertools.count(1)


@dataclass
class ImportTarget:
    """A migrated database of its own, and the environment that points the twin at it."""

    url: str
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url, "TWIN_HOME": str(self.home)}

    def twin(self, *args: str, check: bool = True) -> CompletedProcess:
        return run_twin(*args, check=check, **self.env)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def server(self) -> Server:
        return Server(self.env)


def own_database(database_url: str, home: Path) -> Iterator[ImportTarget]:
    """Module fixture body: create, migrate, hand over, drop."""
    name = f"twin_import_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(database_url)
    params["dbname"] = name
    target = ImportTarget(url=make_conninfo(**params), home=home)
    try:
        target.twin("migrate")
        yield target
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def target(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ImportTarget]:
    """The importing module's own database: the demo city elsewhere in the session is left
    alone. A module marked `pytestmark = pytest.mark.own_database` gets it as `target`, and
    `db` (tests/conftest.py) connects there."""
    home = tmp_path_factory.mktemp(f"{request.module.__name__.removeprefix('test_')}-home")
    yield from own_database(database_url, home)

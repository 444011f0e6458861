"""SQL lives in .sql files under twin/sql/; this module loads them.

Identifiers (table and column names from the catalog) are composed with psycopg.sql, so a
file may say `{table}`; values are always bound parameters (`%(name)s`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).parent / "sql"


@cache
def text(name: str) -> str:
    """The raw text of twin/sql/<name>.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query(name: str, **identifiers: str | sql.Composable) -> sql.Composed:
    """Load a .sql file and fill `{placeholders}`: strings become identifiers, Composables stay."""
    parts = {
        key: value if isinstance(value, sql.Composable) else sql.Identifier(value)
        for key, value in identifiers.items()
    }
    return sql.SQL(text(name)).format(**parts)

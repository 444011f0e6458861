"""One psycopg 3 connection pool per process and database URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from twin.db.cluster import database_url
from twin.errors import DatabaseBusy, DatabaseNotRunning
from twin.settings import get_settings

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def _pooler_kwargs() -> dict[str, object]:
    """Behind a transaction-mode PgBouncer (TWIN_DB_SESSION_URL set, `twin db pooler`) no
    server-side prepared statements: a statement prepared in one transaction's server
    connection is unknown to the next one (PgBouncer 1.18, Debian 12, cannot track them)."""
    return {"prepare_threshold": None} if get_settings().database.session_url else {}


def get_pool(url: str | None = None, max_size: int = 10) -> ConnectionPool:
    url = url or database_url()
    with _lock:
        pool = _pools.get(url)
        if pool is None:
            pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                open=True,
                timeout=10,
                kwargs={"autocommit": True, **_pooler_kwargs()},
                check=ConnectionPool.check_connection,
                reconnect_timeout=5,
            )
            _pools[url] = pool
        return pool


def close_pools() -> None:
    with _lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


@contextmanager
def connection(
    url: str | None = None, timeout: float | None = None
) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection; a database that is down becomes DatabaseNotRunning."""
    pool = get_pool(url)
    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout as exc:
        # No connection at all means PostgreSQL cannot be reached; otherwise all are in use.
        if pool.get_stats().get("pool_size", 0) == 0:
            raise DatabaseNotRunning("no connection could be opened") from exc
        raise DatabaseBusy() from exc
    except psycopg.OperationalError as exc:
        raise DatabaseNotRunning(str(exc).splitlines()[0] if str(exc) else "") from exc


def connect(url: str | None = None) -> psycopg.Connection:
    """A fresh, unpooled connection for long CLI work (imports, loads, migrations)."""
    try:
        return psycopg.connect(url or database_url(), **_pooler_kwargs())
    except psycopg.OperationalError as exc:
        raise DatabaseNotRunning(str(exc).splitlines()[0]) from exc

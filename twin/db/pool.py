"""One psycopg 3 connection pool per process and database URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from twin.db.cluster import database_url
from twin.errors import DatabaseNotRunning

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def get_pool(url: str | None = None, max_size: int = 10) -> ConnectionPool:
    url = url or database_url()
    with _lock:
        pool = _pools.get(url)
        if pool is None:
            pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, timeout=10,
                                  kwargs={"autocommit": True}, check=ConnectionPool.check_connection,
                                  reconnect_timeout=5)
            _pools[url] = pool
        return pool


def close_pools() -> None:
    with _lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


@contextmanager
def connection(url: str | None = None,
               timeout: float | None = None) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection; a database that is down becomes DatabaseNotRunning."""
    try:
        with get_pool(url).connection(timeout=timeout) as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise DatabaseNotRunning(str(exc).splitlines()[0] if str(exc) else "") from exc


def connect(url: str | None = None) -> psycopg.Connection:
    """A fresh, unpooled connection for long CLI work (imports, loads, migrations)."""
    try:
        return psycopg.connect(url or database_url())
    except psycopg.OperationalError as exc:
        raise DatabaseNotRunning(str(exc).splitlines()[0]) from exc

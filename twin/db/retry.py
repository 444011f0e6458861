"""A transaction written again when PostgreSQL cancelled it to break a lock cycle.

Two writers that take the same rows in different orders (an edit re-aggregating the hours of
its Observations while a retention run aggregates the same hours, two batches crosswise) can
each wait for the other; PostgreSQL cancels one after `deadlock_timeout`. The cancelled one's
work was rolled back whole, and the other has gone on, so running it once more is what a
user would do by hand: `in_transaction` does it for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg

LOG = logging.getLogger("twin.db")
T = TypeVar("T")


def in_transaction(
    conn: psycopg.Connection, work: Callable[[], T], what: str, attempts: int = 3
) -> T:
    """`work()` in a transaction (a savepoint inside the caller's), run again, up to
    `attempts` times, when it was cancelled to break a lock cycle."""
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                return work()
        except psycopg.errors.DeadlockDetected:
            if attempt == attempts:
                raise
            LOG.warning(
                "cancelled to break a lock cycle with another writer: running it again",
                extra={"fields": {"what": what, "attempt": attempt}},
            )
    raise AssertionError("unreachable")

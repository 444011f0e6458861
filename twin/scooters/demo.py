"""The demo operators' feeds stored without HTTP: a simulated day (for the time slider) and the
GBFS ingest benchmark (`bench_gbfs`, called by bench/mobility_ops.py)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg

from twin.scooters.ingest import city_frame, ingest
from twin.scooters.retention import aggregate_hours
from twin.scooters.simulator import OPERATORS, document, hours_of
from twin.sqlfiles import query

FEEDS = ("vehicle_types", "vehicle_status")


def demo_documents(conn: psycopg.Connection, key: str, at: datetime) -> dict[str, bytes]:
    """What a poll of demo operator `key` at `at` fetches (as raw documents)."""
    return {feed: orjson.dumps(document(conn, key, feed, at, "")) for feed in FEEDS}


def store_demo_day(
    conn: psycopg.Connection, day: date, hours: Iterable[int] | None = None
) -> dict[str, Any]:
    """One poll per operator and hour of `day` (UTC; `hours`: only these), stored as if
    polled at the half hour (a poll already stored at that time is kept)."""
    city = city_frame(conn)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    chosen = set(range(24) if hours is None else hours)
    polls = vehicles = 0
    for at in (at for h, at in enumerate(hours_of(start)) if h in chosen):
        for key in OPERATORS:
            done = conn.execute(query("scooters/poll_exists"), {"operator": key, "at": at})
            if done.fetchone():
                continue
            outcome = ingest(conn, key, demo_documents(conn, key, at), at, city)
            polls += 1
            vehicles += outcome.vehicles
    if polls:  # the day's hours per H3 cell, though retention may have passed them already
        aggregate_hours(conn, start, start + timedelta(days=1))
    return {"polls": polls, "vehicles": vehicles, "operators": list(OPERATORS)}


def bench_gbfs(conn: psycopg.Connection, rounds: int = 5) -> dict[str, Any]:
    """Median seconds to check and store one poll of the three demo operators' vehicle_status
    (the fleet of TWIN_SCOOTERS_DEMO_FLEET, 15,000 by default), against the 2 s budget; and
    the part of it that is parsing and checking alone. Each round polls a new minute, so every
    round writes fresh rows (in partitions of a day far in the future, dropped at the end).
    Also: the retention's summing of the bench's hour of positions per H3 cell (no budget)."""
    city = city_frame(conn)
    # 03:00 in Almaty: the fewest scooters out riding, the fullest vehicle_status (99% of them)
    base = datetime(2099, 1, 1, 22, tzinfo=UTC)
    per_poll, vehicles = [], 0
    try:
        for r in range(rounds):
            at = base + timedelta(minutes=r)
            raws = {key: demo_documents(conn, key, at) for key in OPERATORS}
            started = time.perf_counter()
            vehicles = 0
            for key, raw in raws.items():
                outcome = ingest(conn, f"bench-{key}", raw, at, city)
                if outcome.outcome != "stored":
                    raise RuntimeError(f"bench poll refused: {outcome.reason} {outcome.problems}")
                vehicles += outcome.vehicles
            per_poll.append(time.perf_counter() - started)
        started = time.perf_counter()  # retention's summing of the bench's hour per H3 cell
        cell_rows = aggregate_hours(conn, base, base + timedelta(hours=1))
        summing = time.perf_counter() - started
    finally:
        conn.execute(query("scooters/bench_cleanup"))
    median = statistics.median(per_poll)
    return {
        "gbfs_poll_vehicles": vehicles,
        "gbfs_poll_s": round(median, 3),
        "gbfs_poll_budget_s": 2.0,
        "gbfs_poll_vs_budget": round(median / 2.0, 3),
        "gbfs_vehicles_per_s": round(vehicles / median),
        "gbfs_retention_hour_positions": vehicles * rounds,
        "gbfs_retention_hour_s": round(summing, 3),
        "gbfs_retention_cell_rows": cell_rows,
    }


def start_demo_scooters(url: str) -> bool:
    """`twin up` on the demo: when no operator is configured, register the three demo operators
    at this server's own feeds (polled live from now on) and store yesterday's simulated day in
    the background (for the time slider). False when operators exist or there is no demo."""
    import logging
    import threading

    from twin.db.pool import connect
    from twin.scooters.status import add_operator

    with connect() as conn:
        if conn.execute(query("scooters/any_operator")).fetchone():
            return False
        if not conn.execute(query("scooters/demo_spots")).fetchone():
            return False
        for key in OPERATORS:
            add_operator(conn, key, f"{url}/demo/operators/{key}/gbfs.json")

    def yesterday() -> None:
        try:
            with connect() as conn:
                store_demo_day(conn, datetime.now(UTC).date() - timedelta(days=1))
        except Exception:  # the live polls go on without the day behind them
            logging.getLogger("twin.scooters.demo").exception("demo scooter day not stored")

    threading.Thread(target=yesterday, daemon=True, name="twin demo scooter day").start()
    return True

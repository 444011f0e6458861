"""Retention and down-sampling of Observations (`twin sensors retain`, docs/sensors.md).

Raw Observations are kept TWIN_STA_RAW_DAYS (30) days, hourly aggregates of number results
(n, mean, min, max) TWIN_STA_HOURLY_DAYS (730). A run:
1. aggregates the closed hours since the last run (from a day before its mark, so data up to
   a day late is counted; the first run starts at the oldest day partition);
2. for each day partition older than the raw period: aggregates its whole day again from the
   raw rows (exact, whatever arrived late), then drops the partition — one DROP, no row-by-row
   delete, no bloat;
3. deletes hourly aggregates older than the hourly period.
Booleans, text and JSON results are not aggregated: their raw rows go with their partition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.retention")
PREFIX = "sta_observations_"


@dataclass
class RetentionReport:
    aggregated_from: datetime | None
    aggregated_to: datetime | None
    hourly_rows: int
    dropped: list[str]
    hourly_deleted: int


def _day(partition: str) -> date:
    return datetime.strptime(partition.removeprefix(PREFIX), "%Y%m%d").date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def retain(conn: psycopg.Connection, now: datetime | None = None) -> RetentionReport:
    """Aggregate closed hours, drop raw day partitions past the raw period, delete hourly
    aggregates past theirs. `now` (default: the clock) decides what is closed and old."""
    settings = get_settings().sensors
    now = (now or datetime.now(UTC)).astimezone(UTC)
    closed = now.replace(minute=0, second=0, microsecond=0)
    partitions = [row[0] for row in conn.execute(query("sensors/day_partitions")).fetchall()]
    mark = conn.execute(query("sensors/retention_state")).fetchone()
    start: datetime | None = None
    if mark is not None and mark[0] is not None:
        start = mark[0] - timedelta(days=1)
    elif partitions:
        start = _midnight(_day(partitions[0]))
    rows = 0
    with conn.transaction():
        if start is not None and start < closed:
            rows += conn.execute(
                query("sensors/aggregate_hours"), {"start": start, "end": closed}
            ).rowcount
        conn.execute(query("sensors/set_retention_state"), {"until": closed})
    cutoff = (now - timedelta(days=settings.raw_days)).date()
    dropped = []
    for partition in partitions:
        day = _day(partition)
        if day >= cutoff:
            break
        with conn.transaction():  # the day's aggregates and the drop: both or neither
            rows += conn.execute(
                query("sensors/aggregate_hours"),
                {"start": _midnight(day), "end": _midnight(day + timedelta(days=1))},
            ).rowcount
            conn.execute(query("sensors/drop_partition", partition=sql.Identifier(partition)))
        dropped.append(partition)
        LOG.info("dropped raw observations", extra={"fields": {"partition": partition}})
    with conn.transaction():
        deleted = conn.execute(
            query("sensors/drop_old_hourly"),
            {"before": now - timedelta(days=settings.hourly_days)},
        ).rowcount
    return RetentionReport(
        aggregated_from=start if start is not None and start < closed else None,
        aggregated_to=closed,
        hourly_rows=rows,
        dropped=dropped,
        hourly_deleted=deleted,
    )

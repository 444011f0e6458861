"""Retention and down-sampling of Observations (`twin sensors retain`, docs/sensors.md).

Raw Observations are kept TWIN_STA_RAW_DAYS (30) days, hourly aggregates of number results
(n, mean, min, max) TWIN_STA_HOURLY_DAYS (730). A run:
1. moves the late mark to the closed hour, in a short transaction of its own (it waits for the
   batches that read the old mark): from then on the ingest notes the (Datastream, hour) of
   every Observation more than a day below it in sta_late_hours (0025);
2. aggregates the closed hours since the last run (from a day before its mark, so data up to
   a day late is counted; the first run starts at the oldest day partition) and, in the same
   transaction, the noted late hours again from their raw rows (their notes cleared; a noted
   hour left with no raw number result, its Observations deleted, loses its aggregate); then,
   in a transaction of its own, moves the aggregated mark (read by the charts: until then they
   read those hours from the raw rows, still there);
3. for each day partition older than the raw period: locks it (its writers commit first),
   aggregates its whole day again from the raw rows (exact, whatever arrived late; a day
   dropped before and made again by late Observations is added to its aggregates instead),
   then drops the partition with its late notes — one DROP, no row-by-row delete, no bloat;
4. deletes hourly aggregates older than the hourly period.
Booleans, text and JSON results are not aggregated: their raw rows go with their partition.
Each step is its own transaction: call it on an idle connection (inside a caller's open
transaction the late mark would stay locked, number batches waiting, until the caller commits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from twin.db.retry import in_transaction
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
    late_hours: int = 0  # noted late hours aggregated again from their raw rows


def _day(partition: str) -> date:
    return datetime.strptime(partition.removeprefix(PREFIX), "%Y%m%d").date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def retain(conn: psycopg.Connection, now: datetime | None = None) -> RetentionReport:
    """Aggregate closed hours, drop raw day partitions past the raw period, delete hourly
    aggregates past theirs. `now` (default: the clock) decides what is closed and old. On an
    idle connection each step is a transaction of its own (the late mark is not held while the
    run aggregates: number batches would wait for it)."""
    if not conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        conn.autocommit = True
        try:
            return retain(conn, now)
        finally:
            conn.autocommit = False
    settings = get_settings().sensors
    now = (now or datetime.now(UTC)).astimezone(UTC)
    closed = now.replace(minute=0, second=0, microsecond=0)
    partitions = [row[0] for row in conn.execute(query("sensors/day_partitions")).fetchall()]
    with conn.transaction():  # step 1: short, later batches note below the new mark
        conn.execute(query("sensors/move_late_mark"), {"until": closed})
    mark = conn.execute(query("sensors/retention_state")).fetchone()
    start: datetime | None = None
    if mark is not None and mark[0] is not None:
        start = mark[0] - timedelta(days=1)
    elif partitions:
        start = _midnight(_day(partitions[0]))

    def aggregate() -> tuple[int, int]:
        written = 0
        if start is not None and start < closed:
            written = conn.execute(
                query("sensors/aggregate_hours"), {"start": start, "end": closed}
            ).rowcount
        late, _cleared = conn.execute(query("sensors/aggregate_late_hours")).fetchone()
        return written + late, late

    # an edit re-aggregating the same hours may take their rows in another order
    rows, late = in_transaction(conn, aggregate, "retention: hourly aggregates")
    # the mark's row updated after the aggregates commit, never while they hold their rows: a
    # batch or an edit holding the mark FOR SHARE may be waiting for one of those rows
    with conn.transaction():
        conn.execute(query("sensors/set_retention_state"), {"until": closed})
    cutoff = (now - timedelta(days=settings.raw_days)).date()
    dropped = []
    for partition in partitions:
        day = _day(partition)
        if day >= cutoff:
            break
        window = {"start": _midnight(day), "end": _midnight(day + timedelta(days=1))}
        with conn.transaction():  # the day's aggregates and the drop: both or neither
            conn.execute(query("sensors/lock_partition", partition=sql.Identifier(partition)))
            again = conn.execute(query("sensors/was_dropped"), {"day": day}).fetchone()[0]
            aggregate = "sensors/aggregate_hours_added" if again else "sensors/aggregate_hours"
            rows += conn.execute(query(aggregate), window).rowcount
            conn.execute(query("sensors/drop_partition", partition=sql.Identifier(partition)))
            conn.execute(query("sensors/day_dropped"), {"start": window["start"], "day": day})
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
        late_hours=late,
    )

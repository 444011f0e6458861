"""Retention of scooter positions (`twin scooters retain`, and hourly by the poller).

Every poll stores each standing scooter's position (at city scale 15,000 rows a poll, about
20 million a day at one poll a minute), so raw positions are kept TWIN_SCOOTERS_RAW_DAYS days
(7) and what is worth keeping longer is summed. A run, in one transaction:
1. sums the closed hours since the last run into scooter_cells_hourly (per hour, operator and
   H3 cell: standing, left outside parking, disabled; the first run starts at the oldest day);
2. for each day partition of scooter_positions older than the raw period: sums its whole day
   again from the raw rows (exact, whatever was stored late, e.g. a backfilled demo day), then
   drops the partition - one DROP, no row-by-row delete.
What the derived layers read (scooter_hourly, per district and zone: parking_disorder,
key_section_occupancy) is kept by every poll in the poll's own transaction and never dropped.

Positions cannot follow a scooter over days: GBFS v3 operators give a vehicle a new random
vehicle_id after every trip, so the twin derives counts by place and hour, never a vehicle's
path or its trips (those come from MDS trips, twin.scooters.trips).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.scooters.retention")
PREFIX = "scooter_positions_"
RETAIN_EVERY_S = 3600.0  # the poller runs retention once an hour
LOCK_SPACE, LOCK_KEY = 7214, 2  # the scooter poller's advisory lock space; 1 is its leader's


@dataclass
class RetentionReport:
    """What a run did: the closed hours summed, the cell rows written, the days dropped."""

    aggregated_from: datetime | None
    aggregated_to: datetime
    cell_rows: int = 0
    dropped: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "aggregated_from": self.aggregated_from.isoformat() if self.aggregated_from else None,
            "aggregated_to": self.aggregated_to.isoformat(),
            "cell_rows": self.cell_rows,
            "dropped": self.dropped,
        }


def _day(partition: str) -> date:
    return datetime.strptime(partition.removeprefix(PREFIX), "%Y%m%d").date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def aggregate_hours(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Sum the positions of [start, end) per hour, operator and H3 cell (rows written)."""
    return conn.execute(query("scooters/aggregate_cells"), {"start": start, "end": end}).rowcount


def retain(conn: psycopg.Connection, now: datetime | None = None) -> RetentionReport:
    """Sum closed hours, drop raw day partitions past TWIN_SCOOTERS_RAW_DAYS, in one
    transaction. `now` (default: the clock) decides which hours are closed and days old."""
    raw_days = get_settings().scooters.raw_days
    now = (now or datetime.now(UTC)).astimezone(UTC)
    closed = now.replace(minute=0, second=0, microsecond=0)
    cutoff = (now - timedelta(days=raw_days)).date()
    with conn.transaction():
        conn.execute(query("scooters/retention_lock"), {"space": LOCK_SPACE, "key": LOCK_KEY})
        partitions = [r[0] for r in conn.execute(query("scooters/day_partitions")).fetchall()]
        mark = conn.execute(query("scooters/retention_state")).fetchone()
        start = mark[0] if mark is not None and mark[0] is not None else None
        if start is None and partitions:
            start = _midnight(_day(partitions[0]))
        report = RetentionReport(start if start is not None and start < closed else None, closed)
        if report.aggregated_from is not None:
            report.cell_rows += aggregate_hours(conn, report.aggregated_from, closed)
        conn.execute(query("scooters/set_retention_state"), {"until": closed})
        for partition in partitions:
            day = _day(partition)
            if day >= cutoff:
                break
            report.cell_rows += aggregate_hours(
                conn, _midnight(day), _midnight(day + timedelta(days=1))
            )
            conn.execute(query("scooters/drop_partition", partition=sql.Identifier(partition)))
            report.dropped.append(partition)
    if report.dropped:
        LOG.info(
            "dropped raw scooter positions",
            extra={"fields": {"partitions": ",".join(report.dropped)}},
        )
    return report

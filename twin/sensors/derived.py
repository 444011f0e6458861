"""The layers the twin derives from its sensors, and the "now" figures of /indicators.

`refresh(conn)` rewrites four tables from the SensorThings data (twin/sql/sensors_city):

- sensors: every Thing as a point with its latest value and time (the viewer's sensor layer);
- lamp_faults: street segments with a smart lamp that reported off at night. A lamp's state is
  read at a deep-night instant (30 minutes after sunset to 30 minutes before sunrise in Almaty,
  so photocells switching a few minutes early or late are no faults): its last report at or
  before that instant, made after that night's sunset; off then is a fault. By day the last
  night is judged, so a broken lamp stays listed until it reports on again;
- district_air_quality: PM2.5 by district now (the last hour), its 24-hour mean and maximum,
  against the 36 µg/m³ annual-mean baseline (S2 l.331) and the 35 µg/m³ daily norm;
- meter_deviations: facilities by the minimum night flow rule (NIGHT_FLOW_THRESHOLD): on every
  night with data of the last three, the lowest flow between 01:00 and 05:00 (UTC+5) above 75%
  of the mean of the 24 hours before 05:00.

Whoever ingests calls `refresh_if_due(conn, every_s)` after a batch, so the layers follow the
data at most once in `every_s` seconds, not on every Observation; `twin sensors derive` and
`twin load demo` call `refresh`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from twin.sensors import model
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.derived")

LAYERS = ("sensors", "lamp_faults", "district_air_quality", "meter_deviations")
PM25_DEFINITION = "http://vocab.nerc.ac.uk/collection/P01/current/PMSD2500/"
DEEP_NIGHT = timedelta(minutes=30)
NIGHT_FLOW_THRESHOLD = 0.75
NIGHTS = 3
MIN_NIGHT_READINGS = 4  # at 15-minute steps a night window has 16
MIN_DAY_READINGS = 12

_last_refresh = 0.0
_refresh_lock = threading.Lock()


def deep_night(now: datetime) -> tuple[datetime, datetime] | None:
    """(sunset, instant) of the latest night whose deep part has begun by `now`: the instant is
    now, or 30 minutes before that night's sunrise when it is over."""
    for sunset, sunrise in reversed(model.nights(now - timedelta(hours=36), now)):
        if sunset + DEEP_NIGHT <= now:
            return sunset, min(sunrise - DEEP_NIGHT, now)
    return None


def night_ends(now: datetime, nights: int = NIGHTS) -> list[datetime]:
    """The last `nights` 05:00 (UTC+5) instants at or before now, newest first (05:00 in
    Almaty is midnight UTC)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - timedelta(days=k) for k in range(nights)]


def refresh(
    conn: psycopg.Connection, now: datetime | None = None, *, full: bool = False
) -> dict[str, int]:
    """Rewrite the derived layers from the sensors' data as of `now` (default: the clock);
    the sensors layer only moves its values while it holds the Things there are (`full`:
    rewrite it anyway). Returns each layer's row count."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    night = deep_night(now)
    counts: dict[str, int] = {}
    with conn.transaction():
        current, rows = conn.execute(query("sensors_city/sensors_current")).fetchone()
        if current and not full:
            conn.execute(query("sensors_city/refresh_sensor_values"))
            counts["sensors"] = rows
        else:
            conn.execute(query("sensors_city/clear_layer", table="sensors"))
            counts["sensors"] = _rows(conn, "refresh_sensors", {})
        for layer in LAYERS[1:]:
            conn.execute(query("sensors_city/clear_layer", table=layer))
        counts["lamp_faults"] = (
            _rows(conn, "refresh_lamp_faults", {"sunset": night[0], "at": night[1]}) if night else 0
        )
        counts["district_air_quality"] = _rows(
            conn,
            "refresh_air_quality",
            {
                "now": now,
                "pm25": PM25_DEFINITION,
                "baseline": model.PM25_ANNUAL_MEAN,
                "norm": model.PM25_DAILY_NORM,
            },
        )
        counts["meter_deviations"] = _rows(
            conn,
            "refresh_meter_deviations",
            {
                "ends": night_ends(now),
                "threshold": NIGHT_FLOW_THRESHOLD,
                "min_night": MIN_NIGHT_READINGS,
                "min_day": MIN_DAY_READINGS,
            },
        )
    LOG.info(
        "sensor layers derived",
        extra={"fields": {**counts, "s": round(time.perf_counter() - started, 3)}},
    )
    return counts


def _rows(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> int:
    """Run a refresh file (one INSERT); the rows it wrote."""
    return max(conn.execute(query(f"sensors_city/{name}"), params).rowcount, 0)


def refresh_if_due(conn: psycopg.Connection, every_s: float) -> dict[str, int] | None:
    """Refresh when the last refresh in this process is `every_s` seconds old (the ingest
    paths call it after each batch); None when not due or another thread is refreshing."""
    global _last_refresh
    if time.monotonic() - _last_refresh < every_s or not _refresh_lock.acquire(blocking=False):
        return None
    try:
        _last_refresh = time.monotonic()
        return refresh(conn)
    finally:
        _refresh_lock.release()


def live_figures(conn: psycopg.Connection, now: datetime | None = None) -> dict[str, Any]:
    """The figures that change by the minute, each with its time (the `live` block of
    /indicators): lit share of street length now, PM2.5 now (city mean), meters deviating."""
    now = now or datetime.now(UTC)
    row = conn.execute(
        query("sensors_city/live_figures"), {"now": now, "pm25": PM25_DEFINITION}
    ).fetchone()
    total, lit, faulty, fault_streets, lamps_at, pm25, air_n, air_at, meters = row

    def stamp(moment: datetime | None) -> str | None:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None

    return {
        "lit_share_now": {
            "value": round((lit - faulty) / total, 4) if total and lit is not None else None,
            "lit_by_network": round(lit / total, 4) if total and lit is not None else None,
            "streets_unlit_by_faults": int(fault_streets),
            "target_2025": 1.0,
            "time": stamp(lamps_at),
        },
        "pm25_now": {
            "value": round(float(pm25), 1) if pm25 is not None else None,
            "unit": "µg/m³",
            "sensors": int(air_n or 0),
            "baseline": model.PM25_ANNUAL_MEAN,
            "daily_norm": model.PM25_DAILY_NORM,
            "time": stamp(air_at),
        },
        "meters_deviating": {
            "value": int(meters),
            "rule": f"night minimum flow above {NIGHT_FLOW_THRESHOLD:.0%} of the 24-hour mean",
            "time": stamp(night_ends(now)[0]),
        },
        "computed_at": stamp(now),
    }


def derive() -> str:
    """`twin sensors derive`: refresh the derived layers now; a one-line summary."""
    from twin.db.pool import connect

    with connect() as conn:
        counts = refresh(conn, full=True)
        conn.commit()
    return ", ".join(f"{name} {count:,}" for name, count in counts.items())

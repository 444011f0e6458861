"""A Datastream's series down-sampled for charts over long windows (docs/sensors.md#series).

  GET /sensors/datastreams/{datastream_id}/series?start=&end=&resolution=auto|minute|hour|day

answers the number results of [start, end) as bins (time, mean, min, max, n), at most
MAX_POINTS of them: a week or a month by the hour, a year by the day. Closed hours come from
the hourly aggregates retention writes (sta_observations_hourly, kept TWIN_STA_HOURLY_DAYS),
so a year reads 8,760 aggregate rows, not millions of observations, and still answers after
the raw partitions are dropped; the hours retention has not reached yet (the open hour, the
last day) come from the raw observations. `auto` takes the finest resolution that fits.
Booleans, text and JSON results are not aggregated: their series is empty (read their
Observations at /sta/v1.1).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound
from twin.http.errors import answers_errors
from twin.sensors.odata import instant
from twin.sqlfiles import query

RESOLUTIONS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
MAX_POINTS = 2000
PARAMETERS = ("start", "end", "resolution")
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # bins are aligned to it (as in series.sql)
ID = re.compile(r"[1-9][0-9]{0,17}")
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def _floor(moment: datetime, step: timedelta) -> datetime:
    return ORIGIN + ((moment - ORIGIN) // step) * step


def _ceil(moment: datetime, step: timedelta) -> datetime:
    floor = _floor(moment, step)
    return floor if floor == moment else floor + step


def window(params: dict[str, str]) -> tuple[datetime, datetime, str]:
    """start, end (whole bins: start down, end up to the resolution) and the resolution;
    400 naming what is wrong, or the limit of MAX_POINTS."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise InvalidParameter(
            f"unknown parameter {unknown[0][:40]!r}; a series takes {', '.join(PARAMETERS)}"
        )
    bounds = []
    for name in ("start", "end"):
        text = params.get(name)
        if not text:
            raise InvalidParameter(f"{name} is required: an instant with its offset (…T00:00Z)")
        try:
            moment = instant(text, name).astimezone(UTC) if len(text) <= 40 else None
        except OverflowError:  # an offset past year 1
            moment = None
        if moment is None or not EARLIEST <= moment < LATEST:
            raise InvalidParameter(f"{name} must be an instant from 1900 to 2999")
        bounds.append(moment)
    start, end = bounds
    if end <= start:
        raise InvalidParameter("end must be after start")
    asked = params.get("resolution", "auto")
    if asked == "auto":
        fits = [n for n, s in RESOLUTIONS.items() if (end - start) / s <= MAX_POINTS]
        if not fits:
            raise InvalidParameter(
                f"a series has at most {MAX_POINTS} points: {MAX_POINTS} days at the coarsest "
                "(resolution=day); ask for a shorter window"
            )
        asked = fits[0]
    step = RESOLUTIONS.get(asked)
    if step is None:
        raise InvalidParameter(f"resolution is auto, {', '.join(RESOLUTIONS)}; not {asked[:40]!r}")
    start, end = _floor(start, step), _ceil(end, step)
    points = (end - start) // step
    if points > MAX_POINTS:
        raise InvalidParameter(
            f"a series has at most {MAX_POINTS} points; {points} {asked}s asked: a coarser "
            "resolution (or auto) or a shorter window"
        )
    return start, end, asked


def read_series(
    conn: Any, datastream_id: int, start: datetime, end: datetime, resolution: str
) -> dict[str, Any]:
    """The series of one Datastream (404 when there is none): the body of the route."""
    found = conn.execute(query("sensors_series/datastream"), {"id": datastream_id}).fetchone()
    if found is None:
        raise NotFound(f"no Datastream({datastream_id})")
    step = RESOLUTIONS[resolution]
    rows = conn.execute(
        query("sensors_series/series"),
        {
            "id": datastream_id,
            "start": start,
            "end": end,
            "step": step,
            "hourly": step >= RESOLUTIONS["hour"],
        },
    ).fetchall()
    return {
        "datastream": datastream_id,
        "unit": found[1],
        "start": start,
        "end": end,
        "resolution": resolution,
        "points": [
            {"time": at.astimezone(UTC), "mean": mean, "min": low, "max": high, "n": n}
            for at, n, mean, low, high in rows
        ],
    }


def _read(datastream_id: int, start: datetime, end: datetime, resolution: str) -> bytes:
    with connection(timeout=10) as conn:
        body = read_series(conn, datastream_id, start, end, resolution)
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


@answers_errors
async def series(request: Request) -> Response:
    """GET /sensors/datastreams/{datastream_id}/series: a Datastream's bins for a chart."""
    raw = request.path_params["datastream_id"]
    if not ID.fullmatch(raw):
        raise NotFound(f"no Datastream({raw[:40]}): ids are positive integers")
    pairs = list(request.query_params.multi_items())
    names = [k for k, _ in pairs]
    repeated = next((k for k in names if names.count(k) > 1), None)
    if repeated is not None:
        raise InvalidParameter(f"{repeated[:40]} is given twice")
    start, end, resolution = window(dict(pairs))
    body = await run_in_threadpool(_read, int(raw), start, end, resolution)
    return Response(body, media_type="application/json")

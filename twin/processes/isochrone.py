"""OGC API process `isochrone`: where can I walk from here in 5, 10, 15 minutes, or get to
on foot and by public transport (`modes: ["walk", "transit"]`, a departure time)?"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from twin.analysis.city import current_city
from twin.analysis.isochrones import current_reach, isochrone, reach_of
from twin.analysis.network import to_utm
from twin.analysis.reports import MAX_SNAP_M, check_point
from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound
from twin.processes.base import (
    LAT,
    LON,
    MODE,
    PROFILE,
    ProcessInputError,
    TwinProcessor,
    flag,
    literal,
    metadata,
    number,
    shown,
    walking_mode,
)
from twin.transit.access import ride_from
from twin.transit.figures import day_timetable, parse_window

MAX_MINUTES = 60

PROCESS_METADATA = metadata(
    "isochrone",
    "Walking isochrone",
    "Polygons of the area reachable on foot from a point within each number of minutes "
    "(slope-aware by default, or flat 4.8 km/h; lit_only keeps to lit streets, the night-time "
    "walk, the same as profile night), for a walking profile (standard, slow, wheelchair, "
    "night), and the amenities reachable, nearest first.",
    {
        "lon": {**LON, "minOccurs": 1},
        "lat": {**LAT, "minOccurs": 1},
        "minutes": literal(
            "Minutes",
            "One number or a list (1-60), default [5, 10, 15].",
            {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES},
                    {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES},
                    },
                ]
            },
        ),
        "mode": MODE,
        "profile": PROFILE,
        "lit_only": literal(
            "Lit streets only",
            "Walk only along lit streets (night time).",
            {"type": "boolean", "default": False},
        ),
        "modes": literal(
            "Modes",
            '["walk"] (default) or ["walk", "transit"]: walk to a stop (at most 10 minutes), '
            "ride the feed's timetable with its waits and changes, walk on.",
            {
                "type": "array",
                "items": {"type": "string", "enum": ["walk", "transit"]},
                "default": ["walk"],
            },
        ),
        "departure": literal(
            "Departure time",
            "HH:MM on the service day (with transit; default 08:00).",
            {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$", "default": "08:00"},
        ),
        "date": literal(
            "Service day",
            "YYYY-MM-DD (with transit; default: the day the published figures are for, "
            "TWIN_TRANSIT_DAY or the first Tuesday of the feed).",
            {"type": "string", "format": "date"},
        ),
    },
    "GeoJSON FeatureCollection of polygons (properties.minutes) with `amenities`",
    {"lon": 76.9455, "lat": 43.2389, "minutes": [5, 10, 15], "mode": "slope"},
)


def minutes_input(value: Any) -> list[float]:
    values = [5, 10, 15] if value is None else value if isinstance(value, list) else [value]
    if not values or len(values) > 6:
        raise ProcessInputError("input 'minutes' must be a number or a list of 1 to 6 numbers")
    for v in values:
        # NaN fails both comparisons and infinity the second: no separate check needed
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 1 <= v <= MAX_MINUTES:
            raise ProcessInputError(
                f"input 'minutes' = {shown(v)} is out of range 1..{MAX_MINUTES}"
            )
    return sorted({float(v) for v in values})


class IsochroneProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = (
        "lon",
        "lat",
        "minutes",
        "mode",
        "profile",
        "lit_only",
        "modes",
        "departure",
        "date",
    )

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        lon = number(inputs, "lon", -180, 180)
        lat = number(inputs, "lat", -90, 90)
        check_point(lon, lat)
        minutes = minutes_input(inputs.get("minutes"))
        profile, mode = walking_mode(inputs)
        lit_only = flag(inputs, "lit_only")  # as before profiles: with slope, the night profile
        modes = modes_input(inputs.get("modes"))
        start_s, day = departure_input(inputs)  # checked with or without transit
        with connection() as conn:
            ride = None
            if "transit" in modes:  # the timetable's stops need the whole city model
                city = current_city(conn)
                reach = reach_of(city)
                ride, when = transit_ride(conn, city, start_s, day, mode)
            else:  # the arrays a walk reads, mapped from disk by a fresh worker
                reach = current_reach(conn)
        x, y = to_utm([lon], [lat])
        snap = reach.network.snap_segment_xy(x, y).snap_m
        if snap[0] > MAX_SNAP_M:
            raise ProcessInputError(
                f"no walkable street within {MAX_SNAP_M:.0f} m of "
                f"({lon}, {lat}): nearest is {snap[0]:.0f} m away"
            )
        result = isochrone(reach, float(x[0]), float(y[0]), minutes, mode, lit_only, ride)
        result["start"].update({"lon": lon, "lat": lat})
        result["profile"] = profile
        result["modes"] = modes
        if ride is not None:
            result["departure"] = when
        return result


def modes_input(value: Any) -> list[str]:
    """["walk"] or ["walk", "transit"] (a lone "transit" rides too: one walks to the stop)."""
    values = ["walk"] if value is None else value if isinstance(value, list) else [value]
    unknown = [v for v in values if v not in ("walk", "transit")]
    if not values or unknown:
        raise ProcessInputError(
            f"input 'modes' = {shown(unknown[0] if unknown else value)} is not a mode: "
            'use ["walk"] or ["walk", "transit"] (bikes and scooters: docs/micromobility.md)'
        )
    return ["walk", "transit"] if "transit" in values else ["walk"]


def departure_input(inputs: dict[str, Any]) -> tuple[int, date | None]:
    """`departure` (HH:MM, default 08:00) in seconds and `date` (YYYY-MM-DD or None)."""
    departure = inputs.get("departure", "08:00")
    if not isinstance(departure, str):
        raise ProcessInputError(f"input 'departure' = {shown(departure)} is not HH:MM")
    try:
        start_s, _, _ = parse_window(f"{departure}-47:59")
    except InvalidParameter:
        raise ProcessInputError(
            f"input 'departure' = {shown(departure)} is not a time HH:MM (00:00-47:58)"
        ) from None
    day = inputs.get("date")
    if day is None:
        return start_s, None
    if not isinstance(day, str):
        raise ProcessInputError(f"input 'date' = {shown(day)} is not YYYY-MM-DD")
    try:
        return start_s, date.fromisoformat(day)
    except ValueError:
        raise ProcessInputError(f"input 'date' = {shown(day)} is not YYYY-MM-DD") from None


def transit_ride(
    conn: Any, city: Any, start_s: int, day: date | None, mode: str
) -> tuple[Callable[[np.ndarray, float], np.ndarray], dict[str, str]]:
    """The ride from the isochrone's walk: the feed's timetable of the day asked for (400
    when none is loaded or it runs nothing that day), leaving at `start_s`."""
    try:
        tt, when = day_timetable(conn, city, day)
    except NotFound as exc:
        raise ProcessInputError(str(exc)) from None
    except InvalidParameter as exc:  # NoService: the feed runs nothing that day
        raise ProcessInputError(str(exc)) from None

    def ride(walked: np.ndarray, limit: float) -> np.ndarray:
        return ride_from(city, tt, walked, start_s, limit, mode=mode)

    return ride, {
        "date": when.isoformat(),
        "time": f"{start_s // 3600:02d}:{start_s % 3600 // 60:02d}",
    }

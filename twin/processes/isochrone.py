"""OGC API process `isochrone`: where can I walk from here in 5, 10, 15 minutes?"""

from __future__ import annotations

from typing import Any

from twin.analysis.city import current_city
from twin.analysis.isochrones import isochrone
from twin.analysis.network import to_utm
from twin.analysis.reports import MAX_SNAP_M, check_point
from twin.db.pool import connection
from twin.processes.base import (
    LAT,
    LON,
    MODE,
    MODES,
    ProcessInputError,
    TwinProcessor,
    choice,
    flag,
    literal,
    metadata,
    number,
    shown,
)

MAX_MINUTES = 60

PROCESS_METADATA = metadata(
    "isochrone",
    "Walking isochrone",
    "Polygons of the area reachable on foot from a point within each number of minutes "
    "(slope-aware by default, or flat 4.8 km/h; lit_only keeps to lit streets, the night-time "
    "walk), and the amenities reachable, nearest first.",
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
        "lit_only": literal(
            "Lit streets only",
            "Walk only along lit streets (night time).",
            {"type": "boolean", "default": False},
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
    known_inputs = ("lon", "lat", "minutes", "mode", "lit_only")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        lon = number(inputs, "lon", -180, 180)
        lat = number(inputs, "lat", -90, 90)
        check_point(lon, lat)
        minutes = minutes_input(inputs.get("minutes"))
        mode = choice(inputs, "mode", MODES, "slope")
        lit_only = flag(inputs, "lit_only")
        with connection() as conn:
            city = current_city(conn)
        x, y = to_utm([lon], [lat])
        _, snap = city.network.snap_xy(x, y)
        if snap[0] > MAX_SNAP_M:
            raise ProcessInputError(
                f"no walkable street within {MAX_SNAP_M:.0f} m of "
                f"({lon}, {lat}): nearest is {snap[0]:.0f} m away"
            )
        result = isochrone(city, float(x[0]), float(y[0]), minutes, mode, lit_only)
        result["start"].update({"lon": lon, "lat": lat})
        return result

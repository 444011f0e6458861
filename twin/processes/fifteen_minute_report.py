"""OGC API process `fifteen-minute-report`: which daily needs are within 15 minutes of here?"""

from __future__ import annotations

from typing import Any

from twin.analysis.city import current_city
from twin.analysis.reports import fifteen_minute_report
from twin.db.pool import connection
from twin.processes.base import (
    LAT,
    LON,
    MODE,
    PLOT_ID,
    PROFILE,
    ProcessInputError,
    TwinProcessor,
    integer,
    metadata,
    number,
    walking_mode,
)

PROCESS_METADATA = metadata(
    "fifteen-minute-report",
    "15-minute report",
    "For a point (lon, lat) or a plot (plot_id): walking minutes to the nearest amenity of each "
    "category (education, healthcare, commerce, culture_sport, parks, transit), the nearest "
    "one by name, the categories missing within 15 minutes, and the walkability score, for a "
    "walking profile (standard, slow, wheelchair, night).",
    {"lon": LON, "lat": LAT, "plot_id": PLOT_ID, "mode": MODE, "profile": PROFILE},
    "Minutes per category, nearest amenities, missing categories and score",
    {"lon": 76.9455, "lat": 43.2389},
)


class FifteenMinuteReportProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = ("lon", "lat", "plot_id", "mode", "profile")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        profile, mode = walking_mode(inputs)
        if inputs.get("plot_id") is not None:
            if "lon" in inputs or "lat" in inputs:
                raise ProcessInputError("give either plot_id or lon and lat, not both")
            plot_id = integer(inputs, "plot_id")
            with connection() as conn:
                city = current_city(conn)
            return {**fifteen_minute_report(city, plot_id=plot_id, mode=mode), "profile": profile}
        if inputs.get("lon") is None and inputs.get("lat") is None:
            raise ProcessInputError("give a point (lon and lat) or a plot_id")
        lon = number(inputs, "lon", -180, 180)
        lat = number(inputs, "lat", -90, 90)
        with connection() as conn:
            city = current_city(conn)
        return {**fifteen_minute_report(city, lon=lon, lat=lat, mode=mode), "profile": profile}

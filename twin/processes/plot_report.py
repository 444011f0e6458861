"""OGC API process `plot-report`: everything a planner asks about one plot."""

from __future__ import annotations

from typing import Any

from twin.analysis.city import current_city
from twin.analysis.reports import plot_report
from twin.db.pool import connection
from twin.processes.base import (
    MODE,
    PLOT_ID,
    PROFILE,
    TwinProcessor,
    integer,
    metadata,
    walking_mode,
)

PROCESS_METADATA = metadata(
    "plot-report",
    "Plot report",
    "For a plot: land use, zoning and height limit, seismic intensity zone, distance to the "
    "nearest active fault and whether it lies in a fault setback, its mudflow zone (basin, "
    "height above the channel, protecting dam) and avalanche zone, metres to the nearest line "
    "of each utility network, 15-minute access (for a walking profile: standard, slow, "
    "wheelchair, night), park access and walkability.",
    {"plot_id": {**PLOT_ID, "minOccurs": 1}, "mode": MODE, "profile": PROFILE},
    "The plot's facts",
    {"plot_id": 1},
)


class PlotReportProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = ("plot_id", "mode", "profile")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        plot_id = integer(inputs, "plot_id")
        profile, mode = walking_mode(inputs)
        with connection() as conn:
            city = current_city(conn)
            return {**plot_report(conn, city, plot_id, mode), "profile": profile}

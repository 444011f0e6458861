"""The scooter injury figures of the dashboard (the `scooter_injuries` member of
GET /indicators): the reports of the latest year with any, their serious share and the cells
where they coincide with the crash hotspots. One small query on the injury reports (tens a
day), so the indicators stay cheap; GET /scooters/injuries has every cell and month."""

from __future__ import annotations

from typing import Any

import psycopg

from twin.sqlfiles import query

TOP_CELLS = 5  # the hotspot cells the dashboard lists


def injuries_member(conn: psycopg.Connection, top: int = TOP_CELLS) -> dict[str, Any]:
    """The year's injury reports (this year, or the demo's: the latest year with any), the
    share serious or fatal, and the reports in crash hotspot cells of the latest hotspot year
    up to it (hotspots are published by year; the demo's crashes end before its trips)."""
    year, hotspot_year, reports, serious, fatal, in_hotspots, cells, top_cells = conn.execute(
        query("trips/injury_year"), {"top": top}
    ).fetchone()
    return {
        "year": year,
        "reports": reports,
        "serious": serious,  # serious or fatal
        "fatal": fatal,
        "serious_share": round(serious / reports, 4) if reports else None,
        "cells": cells,
        "hotspot_year": hotspot_year,
        "in_crash_hotspots": in_hotspots,
        "top_hotspot_cells": top_cells,
        "href": "scooters/injuries",
    }

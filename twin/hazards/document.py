"""The hazard figures the API answers with: one plot's exposure (plot-report) and the city's
and districts' exposure beside the programme's targets (GET /indicators `hazards`)."""

from __future__ import annotations

from typing import Any

import psycopg

from twin.sqlfiles import query


def plot_exposure(conn: psycopg.Connection, plot_id: int) -> dict[str, Any]:
    """Mudflow and avalanche exposure of a plot at its point on surface (as the districts count
    it); None members when it is in no zone."""
    row = conn.execute(query("hazards/plot_report"), {"plot_id": plot_id}).fetchone()
    basin, above, protected, protected_by, reliable, on_fan, avalanche = row or (None,) * 7
    return {
        "mudflow": None
        if basin is None
        else {
            "basin": basin,
            "above_channel_m": above,  # the band's upper bound: up to this high above the bed
            "protected": bool(protected),
            "protected_by": protected_by,
            "reliable": bool(reliable),
            "on_fan": bool(on_fan),  # below a gorge mouth, by the fan rule
        },
        "avalanche": None if avalanche is None else {"basin": avalanche},
    }


def hazards_member(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The city's and each district's exposure (district_hazards), None before a publish."""
    row = conn.execute(query("hazards/published")).fetchone()
    details = (row[0] or {}) if row else {}
    if "city" not in details:
        return None
    return {
        "city": details["city"],
        "districts": [r[0] for r in conn.execute(query("hazards/district_rows")).fetchall()],
        "warnings": details.get("warnings", []),
        "computed_at": details.get("at"),
        "collection": "collections/district_hazards/items",
    }

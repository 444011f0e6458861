"""A plan's fire-station reach: residents beyond the 10-minute arrival norm today and with the
plan, when the plan adds a fire station (`fire_station.add`) or new residents.

The same rule as `twin analyse` publishes (twin.hazards.fire.reach_by_district: drive minutes
over the streets from the nearest station); both sides count the evaluation's own places (the
city model's plots, and the plan's, new housing included), so a difference is the plan's doing
and not a difference of counting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg

from twin.analysis.city import CityModel
from twin.analysis.network import to_utm
from twin.hazards.fire import DriveNetwork, load_drive_network, reach_by_district, stations
from twin.plans.edits import PlanEdits

KINDS_THAT_MOVE_IT = ("fire_station.add", "housing.add", "building.add", "housing.remove")


def _drive_network(conn: psycopg.Connection, city: CityModel) -> DriveNetwork:
    """The drive graph, kept with the city model (its streets are the model's)."""
    if "plan_drive_network" not in city._cache:
        city._cache["plan_drive_network"] = load_drive_network(conn)
    return city._cache["plan_drive_network"]


def _reach(
    network: DriveNetwork, working: np.ndarray, every: np.ndarray, plots: pd.DataFrame
) -> dict[str, Any]:
    homes = plots[pd.to_numeric(plots["residents"], errors="coerce").fillna(0) > 0]
    lon, lat = homes["lon"].to_numpy(float), homes["lat"].to_numpy(float)
    xy = np.column_stack(to_utm(lon, lat)) if len(homes) else np.zeros((0, 2))
    by_district, city = reach_by_district(
        network,
        working,
        every,
        homes["residents"].to_numpy(float),
        homes["district"].to_numpy(dtype=object),
        xy,
    )
    return {"city": city, "districts": by_district}


def fire_evaluation(
    conn: psycopg.Connection, city: CityModel, plan: CityModel, edits: PlanEdits
) -> dict[str, Any] | None:
    """Today's and the plan's fire reach, or None when no edit of the plan can move it."""
    if not edits.of(*KINDS_THAT_MOVE_IT):
        return None
    network = _drive_network(conn, city)
    working, every = stations(conn)
    added = [e.utm for e in edits.of("fire_station.add")]
    new_xy = np.array([(p.x, p.y) for p in added], float).reshape(-1, 2)
    base = _reach(network, working, every, city.plots)
    after = _reach(network, np.vstack([working, new_xy]), np.vstack([every, new_xy]), plan.plots)
    before_n = base["city"].get("fire_beyond_10_residents")
    after_n = after["city"].get("fire_beyond_10_residents")
    return {
        "stations_added": len(added),
        "base": base,
        "plan": after,
        "beyond_10_closed": None if before_n is None or after_n is None else before_n - after_n,
    }

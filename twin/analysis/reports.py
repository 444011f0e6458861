"""Answers about one place: the 15-minute report of a point or plot, and the plot report.

Both read the in-memory baseline (node access per category, computed once per data version),
so a report costs a snap and a few array look-ups; the plot report adds two small SQL queries
for the plot's seismic and utility facts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from twin.analysis import AnalysisInputError
from twin.analysis.city import CATEGORIES, CityModel, Places
from twin.analysis.fifteen import (
    THRESHOLD_MINUTES,
    NodeAccess,
    node_access,
    place_access,
    place_minutes,
)
from twin.analysis.indicators import fabric
from twin.analysis.network import to_utm
from twin.analysis.utilities import NETWORKS
from twin.analysis.walkability import walkability
from twin.extent import current_extent
from twin.hazards.document import plot_exposure
from twin.sqlfiles import query

MAX_SNAP_M = 2000.0


def baseline(city: CityModel, mode: str) -> NodeAccess:
    """Node access of the stored city (cached on the model, so per data version)."""
    key = ("access", mode)
    if key not in city._cache:
        city._cache[key] = node_access(city, mode)
    return city._cache[key]


def check_point(lon: float, lat: float) -> None:
    minx, miny, maxx, maxy = current_extent()  # the loaded districts' (twin.extent)
    if not (minx <= lon <= maxx and miny <= lat <= maxy):
        raise AnalysisInputError(
            f"point ({lon}, {lat}) is outside the city: lon must be within "
            f"{minx}..{maxx} and lat within {miny}..{maxy}"
        )


def _nearest_source(city: CityModel, category: str, index: int) -> dict[str, Any] | None:
    if index < 0:
        return None
    chosen = city.amenities[city.amenities.category == category]
    if index < len(chosen):
        row = chosen.iloc[index]
        return {"layer": row.layer, "id": int(row.id), "name": row["name"], "kind": row.kind}
    entrance = city.entrances.iloc[index - len(chosen)]
    park = city.parks[city.parks.id == entrance.park].iloc[0]
    return {"layer": "parks", "id": int(park.id), "name": park["name"], "kind": park.kind}


def access_report(
    city: CityModel, x: float, y: float, mode: str, place: Places | None = None
) -> dict[str, Any]:
    """Minutes per category, what lies beyond 15 minutes, walkability and park walk.

    A free point farther than 2 km from a street is refused; a stored `place` (a plot) is
    answered however far it is, with its walk to the network, as its stored figures are."""
    network = city.network
    if place is None:
        place = Places.snapped(network, np.array([x]), np.array([y]))
        if place.snap_m[0] > MAX_SNAP_M:
            raise AnalysisInputError(
                f"no walkable street within {MAX_SNAP_M:.0f} m of the point "
                f"(nearest is {place.snap_m[0]:.0f} m away)"
            )
    snap_m = place.snap_m
    access = baseline(city, mode)
    frame = place_minutes(access, place)
    row = frame.iloc[0]
    density, block = fabric(city).at(np.array([x]), np.array([y]))
    minutes = {c: _number(row[f"min_{c}"]) for c in CATEGORIES}
    score = float(
        walkability({c: frame[f"min_{c}"].to_numpy() for c in CATEGORIES}, density, block)[0]
    )
    nearest = {}
    for category in CATEGORIES:
        source = _nearest_source(city, category, int(place_access(access, place, category)[1][0]))
        if source is not None and minutes[category] is not None:
            nearest[category] = {**source, "minutes": minutes[category]}
    within = [c for c in CATEGORIES if minutes[c] is not None and minutes[c] <= THRESHOLD_MINUTES]
    return {
        "mode": mode,
        "slope_aware": bool(network.slope_aware and mode not in ("flat", "length")),
        "snap_m": round(float(snap_m[0]), 1),
        "walk_to_network_m": round(float(snap_m[0]), 1),
        "minutes": minutes,
        "nearest": nearest,
        "within_15": within,
        "missing": [c for c in CATEGORIES if c not in within],
        "categories_15": len(within),
        "all_six": len(within) == len(CATEGORIES),
        "score": score,
        "walkability": score,
        "intersection_density": round(float(density[0]), 1),
        "mean_block_m": _number(block[0]),
        "park_walk_m": _number(row["park_walk_m"]),
        "park_300": bool(row["park_300"]),
        "park_500": bool(row["park_500"]),
    }


def plot_place(city: CityModel, plot_id: int) -> tuple[int, float, float]:
    """Row position and UTM point of a plot in the model (the point plot_metrics uses)."""
    positions = np.flatnonzero(city.plots["id"].to_numpy() == plot_id)
    if len(positions) == 0:
        raise AnalysisInputError(f"unknown plot id {plot_id}: no plot with that id")
    i = int(positions[0])
    return i, float(city.plot_places.x[i]), float(city.plot_places.y[i])


def fifteen_minute_report(
    city: CityModel,
    *,
    lon: float | None = None,
    lat: float | None = None,
    plot_id: int | None = None,
    mode: str = "slope",
) -> dict[str, Any]:
    if plot_id is not None:
        i, x, y = plot_place(city, plot_id)
        report = access_report(city, x, y, mode, city.plot_places.take([i]))
        plot = city.plots.iloc[i]
        return {
            "plot_id": plot_id,
            "cadastral_number": plot.cadastral_number,
            "district": plot.district,
            "lon": float(plot.lon),
            "lat": float(plot.lat),
            **report,
        }
    check_point(lon, lat)
    x, y = to_utm(np.array([lon]), np.array([lat]))
    return {"lon": lon, "lat": lat, **access_report(city, float(x[0]), float(y[0]), mode)}


def plot_report(
    conn: psycopg.Connection, city: CityModel, plot_id: int, mode: str = "slope"
) -> dict[str, Any]:
    """Everything a planner asks about one plot."""
    row = conn.execute(query("analysis/plot_row"), {"plot_id": plot_id}).fetchone()
    if row is None:
        raise AnalysisInputError(f"unknown plot id {plot_id}: no plot with that id")
    keys = [
        "id",
        "cadastral_number",
        "land_use",
        "zoning",
        "max_height_m",
        "owner_type",
        "district",
        "block_code",
        "area_m2",
        "residents",
    ]
    plot = dict(zip(keys, row))
    hazards = conn.execute(query("analysis/plot_hazards"), {"plot_id": plot_id}).fetchone()
    utilities = dict(
        conn.execute(
            query("analysis/plot_utility_distances"),
            {"plot_id": plot_id, "networks": list(NETWORKS)},
        ).fetchall()
    )
    access = (
        fifteen_minute_report(city, plot_id=plot_id, mode=mode)
        if (city.plots["id"].to_numpy() == plot_id).any()
        else None
    )
    return {
        "plot_id": plot_id,
        "plot": plot,
        "seismic": {
            "intensity": hazards[0],
            "nearest_fault": hazards[1],
            "fault_distance_m": _number(hazards[2], 1),
            "in_fault_setback": bool(hazards[3]),
            "setback_faults": hazards[4],
        },
        "hazards": plot_exposure(conn, plot_id),  # twin/hazards: mudflow, avalanche zones
        "utilities": {f"{n}_m": _number(utilities.get(n), 1) for n in NETWORKS},
        "fifteen_minute": None
        if access is None
        else {
            k: access[k]
            for k in (
                "mode",
                "minutes",
                "nearest",
                "within_15",
                "missing",
                "categories_15",
                "all_six",
                "snap_m",
                "walk_to_network_m",
            )
        },
        "parks": None
        if access is None
        else {k: access[k] for k in ("park_walk_m", "park_300", "park_500")},
        "walkability": None
        if access is None
        else {
            "score": access["walkability"],
            "intersection_density": access["intersection_density"],
            "mean_block_m": access["mean_block_m"],
        },
    }


def _number(value: Any, digits: int = 2) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, digits)


__all__ = ["access_report", "baseline", "check_point", "fifteen_minute_report", "plot_report"]

"""The feed as map layers: `transit_routes` (a line per route, with its headways by period)
and `transit_stops` (a point per stop, with the routes serving it).

Headways are read on the feed's busiest day (the date on which most trips run): for each
route and direction, the trips leaving their first stop inside a period, and the headway is
the period's minutes divided by that count, for the busier direction (none when no trip
leaves). Periods (layers/transit_routes.yml): peak 07-10 and 17-20 (six hours), midday 10-17,
evening 20-23, night 23-05; a time past midnight (25:10) counts at its clock time (01:10).
"""

from __future__ import annotations

import re
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.transit.frames import TimetableFrames
from twin.transit.gtfs import service_days

METRIC_CRS = 32643  # UTM 43N: lengths in metres over Almaty
PERIODS: dict[str, tuple[tuple[int, int], ...]] = {
    "peak": ((7, 10), (17, 20)),
    "midday": ((10, 17),),
    "evening": ((20, 23),),
    "night": ((23, 24), (0, 5)),
}


def busiest_day(frames: TimetableFrames) -> tuple[date, pd.Series]:
    """The date on which most trips run (the earliest of equals) and those trips' ids."""
    days = service_days(frames.calendar, frames.calendar_dates)
    per_service = frames.trips.groupby("service_id").size()
    days["trips"] = days["service_id"].map(per_service).fillna(0)
    totals = days.groupby("date")["trips"].sum()
    day = totals.idxmax()
    services = set(days.loc[days["date"] == day, "service_id"])
    return day, frames.trips.loc[frames.trips["service_id"].isin(services), "trip_id"]


def headways(frames: TimetableFrames, trip_ids: pd.Series) -> pd.DataFrame:
    """Per route: headway minutes in each period and trips that day (index route_id)."""
    trips = frames.trips[frames.trips["trip_id"].isin(trip_ids)]
    first = frames.stop_times.sort_values(["trip_id", "stop_sequence"]).drop_duplicates("trip_id")
    starts = trips.merge(first[["trip_id", "departure_s"]], on="trip_id")
    clock_h = (starts["departure_s"] % 86400) / 3600.0
    result = pd.DataFrame(index=pd.Index(frames.routes["route_id"], name="route_id"))
    for period, windows in PERIODS.items():
        inside = np.zeros(len(starts), dtype=bool)
        for low, high in windows:
            inside |= (clock_h >= low).to_numpy() & (clock_h < high).to_numpy()
        minutes = 60.0 * sum(high - low for low, high in windows)
        counts = starts[inside].groupby(["route_id", "direction_id"]).size()
        busiest = counts.groupby(level="route_id").max() if len(counts) else pd.Series()
        result[f"headway_{period}_min"] = (minutes / busiest).round(1).reindex(result.index)
    result["trips_per_day"] = trips.groupby("route_id").size().reindex(result.index).fillna(0)
    return result


def _route_lines(frames: TimetableFrames, shapes: pd.DataFrame | None) -> pd.Series:
    """Per route: its shape used by most trips (direction 0 first), else the stop sequence of
    its trip with most stops (direction 0 first)."""
    trips = frames.trips.sort_values(["direction_id", "trip_id"])
    lines: dict[str, shapely.LineString] = {}
    if shapes is not None and trips["shape_id"].notna().any():
        shaped = trips[trips["shape_id"].notna()]
        usage = shaped.groupby(["route_id", "direction_id", "shape_id"]).size().rename("n")
        usage = usage.reset_index().sort_values(
            ["route_id", "direction_id", "n"], ascending=[True, True, False]
        )
        chosen = usage.drop_duplicates("route_id").set_index("route_id")["shape_id"]
        points = shapes[shapes["shape_id"].isin(chosen.unique())]
        by_shape = {
            sid: shapely.LineString(group[["lon", "lat"]].to_numpy())
            for sid, group in points.groupby("shape_id")
            if len(group) >= 2
        }
        lines = {rid: by_shape[sid] for rid, sid in chosen.items() if sid in by_shape}
    missing = trips[~trips["route_id"].isin(list(lines))]
    if len(missing):
        sizes = frames.stop_times.groupby("trip_id").size().rename("n")
        ranked = missing.merge(sizes, left_on="trip_id", right_index=True)
        ranked = ranked.sort_values(
            ["route_id", "direction_id", "n", "trip_id"], ascending=[True, True, False, True]
        )
        chosen = ranked.drop_duplicates("route_id").set_index("trip_id")["route_id"]
        coords = frames.stops.set_index("stop_id")[["lon", "lat"]]
        times = frames.stop_times[frames.stop_times["trip_id"].isin(chosen.index)]
        times = times.sort_values(["trip_id", "stop_sequence"])
        xy = coords.reindex(times["stop_id"]).to_numpy()
        for trip_id, rows in times.groupby("trip_id", sort=False).indices.items():
            lines[chosen[trip_id]] = shapely.LineString(xy[rows])
    return pd.Series(lines, dtype=object)


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def route_features(
    frames: TimetableFrames, shapes: pd.DataFrame | None
) -> tuple[gpd.GeoDataFrame, date]:
    """The transit_routes layer's rows, and the day its headways were read on."""
    day, running = busiest_day(frames)
    routes = frames.routes.set_index("route_id")
    lines = _route_lines(frames, shapes).reindex(routes.index)
    length_km = (
        gpd.GeoSeries(lines.to_numpy(), crs=4326).to_crs(METRIC_CRS).length.to_numpy() / 1000.0
    )
    served = frames.stop_times[["trip_id", "stop_id"]].merge(
        frames.trips[["trip_id", "route_id"]], on="trip_id"
    )
    stops = served.groupby("route_id")["stop_id"].nunique().reindex(routes.index).fillna(0)
    frame = pd.DataFrame(
        {
            "route_id": routes.index,
            "short_name": routes["short_name"].to_numpy(),
            "long_name": routes["long_name"].to_numpy(),
            "mode": routes["mode"].to_numpy(),
            "length_km": np.round(length_km, 2),
            "stops": stops.to_numpy().astype(int),
        }
    )
    frame = frame.join(headways(frames, running), on="route_id")
    return gpd.GeoDataFrame(frame, geometry=lines.to_numpy(), crs=4326), day


def stop_features(frames: TimetableFrames) -> gpd.GeoDataFrame:
    """The transit_stops layer's rows: stop_id, name, mode and the routes serving the stop
    (their short names, else ids, comma-separated in natural order)."""
    routes = frames.routes.assign(
        label=frames.routes["short_name"].fillna(frames.routes["route_id"]).astype(str)
    )
    served = (
        frames.stop_times[["trip_id", "stop_id"]]
        .merge(frames.trips[["trip_id", "route_id"]], on="trip_id")[["stop_id", "route_id"]]
        .drop_duplicates()
        .merge(routes[["route_id", "label"]], on="route_id")
    )
    names = served.groupby("stop_id")["label"].agg(
        lambda labels: ", ".join(sorted(set(labels), key=_natural))
    )
    stops = frames.stops
    return gpd.GeoDataFrame(
        {
            "stop_id": stops["stop_id"].to_numpy(),
            "name": stops["stop_name"].to_numpy(),
            "mode": stops["mode"].to_numpy(),
            "routes": stops["stop_id"].map(names).to_numpy(),
        },
        geometry=gpd.points_from_xy(stops["lon"], stops["lat"]),
        crs=4326,
    )

"""A plan's public transport: the bus routes and stops a planner draws, as trips of the day the
walk + PT figures are for, merged into the stored feed's timetable of that day.

Two edit kinds (twin.plans.edits checks them with `check_route` and `check_stop`):
- `transit.route.add`: a LineString drawn along the streets (stops every `stop_spacing_m`
  along it, evenly) or a MultiPoint of the stops in order; a mode, headways at the peak
  (07-10 and 17-20, as transit_routes counts them) and off-peak, service hours and a speed.
  Trips run both ways from the first departure of the service hours to its end; the time
  between stops is the distance along the line at the mode's commercial speed (stops and
  lights included, as operators state it), so no dwell is added.
- `transit.stop.add`: a new stop on a route of the feed (or one the plan adds), within
  STOP_REACH_M of the route's line. Every trip of the route calls there (both directions):
  the stop goes between the two consecutive stops of the trip's stop sequence nearest to it,
  its time interpolated by the distance along that stretch.

The plan's trips are TimetableFrames (twin/transit/frames.py) of the evaluated day only, built
into a Timetable and merged with the day's stored timetable (`Timetable.combined`): reading the
whole feed back (1.9 million stop times on the small demo: 9 s) for every evaluation would
dominate it, and the merge changes nothing of the stored patterns but the edited routes'.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from twin.analysis.network import to_lonlat, to_utm
from twin.transit.frames import TimetableFrames
from twin.transit.timetable import Timetable, build_timetable

if TYPE_CHECKING:
    from twin.analysis.city import CityModel
    from twin.plans.edits import Edit

ROUTE_MODES = ("bus", "brt", "trolleybus", "tram", "metro")
# Commercial speeds (stops included), km/h: Almaty's buses run 15-20 in traffic, a BRT on its
# own lane about 25, the metro (13 km, 11 stations) about 40.
SPEED_KMH = {"bus": 18.0, "trolleybus": 16.0, "tram": 20.0, "brt": 25.0, "metro": 40.0}
STOP_SPACING_M = {"bus": 400.0, "trolleybus": 400.0, "tram": 400.0, "brt": 400.0, "metro": 1200.0}
# Headways in minutes (peak, off-peak) when the planner gives none.
HEADWAY_MIN = {
    "bus": (10.0, 15.0),
    "trolleybus": (10.0, 15.0),
    "tram": (8.0, 12.0),
    "brt": (5.0, 10.0),
    "metro": (4.0, 8.0),
}
ROUTE_TYPE = {"tram": 0, "metro": 1, "bus": 3, "brt": 702, "trolleybus": 11}
SERVICE_HOURS = "06:00-23:00"
PEAKS = ((7 * 3600, 10 * 3600), (17 * 3600, 20 * 3600))  # as transit_routes reads headways
MIN_ROUTE_M = 500.0  # a shorter route is a walk, not a line
MIN_SPACING_M = 100.0
MAX_HEADWAY_MIN = 240.0
MAX_SPEED_KMH = 100.0
STOP_REACH_M = 300.0  # a new stop lies within this distance of its route's line
PLAN_SERVICE = "plan"


@dataclass
class PlanTransit:
    """The plan's transit as the engine read it: the day's timetable and what was added."""

    timetable: Timetable
    routes: list[dict[str, Any]] = field(default_factory=list)
    stops: list[dict[str, Any]] = field(default_factory=list)
    new_stops: pd.DataFrame = field(default_factory=pd.DataFrame)  # stop_id, lon, lat, mode


def _number(edit: Edit, name: str, default: float, low: float, high: float) -> float:
    value = edit.properties.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise edit.fail(f"{name} must be a number, not {value!r}")
    if value <= low:
        raise edit.fail(f"{name} must be greater than {low:g}, not {value:g}")
    if value > high:
        raise edit.fail(f"{name} must be at most {high:g}, not {value:g}")
    return float(value)


def parse_hours(edit: Edit, text: Any) -> tuple[int, int]:
    """ "06:00-23:00" → seconds; the end may pass midnight (up to 26:00)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not match or int(match[2]) >= 60 or int(match[4]) >= 60:
        raise edit.fail(f"service_hours are written 06:00-23:00, not {text!r}")
    start = int(match[1]) * 3600 + int(match[2]) * 60
    end = int(match[3]) * 3600 + int(match[4]) * 60
    if not start < end <= 26 * 3600:
        raise edit.fail(f"service_hours {text!r} must run forward, ending by 26:00")
    return start, end


def _stops_along(edit: Edit, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """UTM stop points of a route edit: evenly along its line (about `spacing` apart, both
    ends kept) or its MultiPoint's points in order."""
    if edit.utm.geom_type == "MultiPoint":
        points = shapely.get_coordinates(edit.utm)
        return points[:, 0], points[:, 1]
    length = edit.utm.length
    count = max(1, int(round(length / spacing)))
    at = shapely.line_interpolate_point(edit.utm, np.linspace(0.0, length, count + 1))
    points = shapely.get_coordinates(at)
    return points[:, 0], points[:, 1]


def check_route(edit: Edit) -> None:
    """A transit.route.add edit's checks, its defaults filled in and its stops counted."""
    p = edit.properties
    mode = p.get("mode") or "bus"
    if mode not in ROUTE_MODES:
        raise edit.fail(f"unknown mode {mode!r}; use one of {', '.join(ROUTE_MODES)}")
    p["mode"] = mode
    peak, off_peak = HEADWAY_MIN[mode]
    p["headway_peak_min"] = _number(edit, "headway_peak_min", peak, 0, MAX_HEADWAY_MIN)
    p["headway_offpeak_min"] = _number(edit, "headway_offpeak_min", off_peak, 0, MAX_HEADWAY_MIN)
    p["speed_kmh"] = _number(edit, "speed_kmh", SPEED_KMH[mode], 0, MAX_SPEED_KMH)
    hours = p.get("service_hours") or SERVICE_HOURS
    parse_hours(edit, hours)
    p["service_hours"] = str(hours).strip()
    if edit.utm.geom_type == "MultiPoint":
        p.pop("stop_spacing_m", None)
        if len(shapely.get_coordinates(edit.utm)) < 2:
            raise edit.fail("a route needs at least two stops")
        length = float(np.hypot(*np.diff(shapely.get_coordinates(edit.utm), axis=0).T).sum())
    else:
        p["stop_spacing_m"] = _number(
            edit, "stop_spacing_m", STOP_SPACING_M[mode], MIN_SPACING_M - 1e-9, 5000.0
        )
        length = float(edit.utm.length)
    if length < MIN_ROUTE_M:
        raise edit.fail(
            f"the route is {length:.0f} m long; a route must be at least {MIN_ROUTE_M:.0f} m"
        )
    x, _ = _stops_along(edit, p.get("stop_spacing_m", 0.0))
    p["route_id"] = route_id(edit)
    p["name"] = p.get("name") or f"new {mode}"
    p["length_km"] = round(length / 1000, 3)
    p["stops"] = int(len(x))


def route_id(edit: Edit) -> str:
    """The id a plan's route has in its timetable (a transit.stop.add may name it)."""
    return f"plan-{edit.id}"


def route_lines(city: CityModel, conn: Any = None) -> dict[str, tuple[str, str, Any]]:
    """The feed's routes (route_id → mode, name, UTM line), read once per city model (a new
    feed changes transit_stops, so the city, and this cache, are made again); through `conn`
    when given, else a pooled connection."""
    if "plan_route_lines" not in city._cache:
        from twin.db.pool import connection
        from twin.sqlfiles import query

        if conn is not None:
            rows = conn.execute(query("transit/plan_route_lines")).fetchall()
        else:
            with connection(timeout=30) as pooled:
                rows = pooled.execute(query("transit/plan_route_lines")).fetchall()
        lines = {}
        for rid, mode, name, wkb in rows:
            line = shapely.from_wkb(bytes(wkb))
            lines[str(rid)] = (
                mode,
                name,
                shapely.transform(line, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1]))),
            )
        city._cache["plan_route_lines"] = lines
    return city._cache["plan_route_lines"]


def check_stop(edit: Edit, city: CityModel, plan_routes: dict[str, Edit]) -> None:
    """A transit.stop.add edit's checks: its route exists (the feed's, or an earlier route
    edit of the plan) and the stop lies within STOP_REACH_M of the route's line."""
    p = edit.properties
    rid = p.get("route")
    if rid is None or isinstance(rid, (bool, dict, list)):
        raise edit.fail("route must be the route_id of a transit route")
    rid = str(rid)
    lines = route_lines(city)
    if rid in plan_routes:
        line = plan_routes[rid].utm
        if line.geom_type == "MultiPoint":
            line = shapely.LineString(shapely.get_coordinates(line))
        mode = plan_routes[rid].properties["mode"]
    elif rid in lines:
        mode, _, line = lines[rid]
    elif not lines:
        raise edit.fail("no transit feed is loaded: `twin import-gtfs FEED.zip` imports one")
    else:
        raise edit.fail(f"unknown route {rid!r}: not a route of the feed nor of this plan")
    distance = float(shapely.distance(edit.utm, line))
    if distance > STOP_REACH_M:
        raise edit.fail(
            f"the stop is {distance:.0f} m from route {rid}; a new stop must lie within "
            f"{STOP_REACH_M:.0f} m of its route"
        )
    p["route"] = rid
    p["mode"] = mode
    p["distance_m"] = round(distance, 1)
    p["name"] = p.get("name") or "new stop"


def check_feed(edit: Edit, city: CityModel) -> None:
    """A route needs a feed to join: the walk + PT figures are the feed's."""
    if not route_lines(city):
        raise edit.fail("no transit feed is loaded: `twin import-gtfs FEED.zip` imports one")


def _departures(start: int, end: int, peak_min: float, off_min: float) -> np.ndarray:
    """First-stop departures from `start` to before `end`, at the headway of each moment."""
    times, t = [], float(start)
    while t < end:
        times.append(int(round(t)))
        peak = any(a <= t % 86_400 < b for a, b in PEAKS)
        t += 60.0 * (peak_min if peak else off_min)
    return np.array(times, dtype=np.int64)


@dataclass
class _Service:
    """Trips along one stop sequence (global stop indices): a stored pattern or a new route's
    direction, as arrays a new stop is inserted into."""

    route_id: str
    stops: np.ndarray
    trip_ids: np.ndarray
    arrival: np.ndarray  # trips × stops, int64 seconds
    departure: np.ndarray


def _route_services(edit: Edit, first_stop: int) -> tuple[pd.DataFrame, list[_Service]]:
    """A route edit's stops (UTM x/y too) and its trips both ways, stops numbered from
    `first_stop` in the plan's stop list."""
    p = edit.properties
    x, y = _stops_along(edit, p.get("stop_spacing_m", 0.0))
    lon, lat = to_lonlat(x, y)
    rid = route_id(edit)
    if edit.utm.geom_type == "MultiPoint":
        gaps = np.hypot(np.diff(x), np.diff(y))
    else:
        gaps = np.diff(shapely.line_locate_point(edit.utm, shapely.points(x, y)))
    offset = np.concatenate([[0.0], np.cumsum(gaps)]) / (p["speed_kmh"] / 3.6)
    start, end = parse_hours(edit, p["service_hours"])
    first = _departures(start, end, p["headway_peak_min"], p["headway_offpeak_min"])
    index = first_stop + np.arange(len(x))
    services = []
    for direction, order, run in ((0, index, offset), (1, index[::-1], offset[-1] - offset[::-1])):
        seconds = np.round(first[:, None] + run[None, :]).astype(np.int64)
        ids = np.array([f"{rid}-{direction}-{k + 1:03d}" for k in range(len(first))], object)
        services.append(_Service(rid, order, ids, seconds, seconds.copy()))
    stops = pd.DataFrame(
        {"stop_id": [f"{rid}-{k + 1}" for k in range(len(x))],
         "stop_name": [f"{p['name']} {k + 1}" for k in range(len(x))],
         "lon": lon, "lat": lat, "mode": p["mode"], "x": x, "y": y}
    )  # fmt: skip
    return stops, services


def _insert_stop(service: _Service, x: np.ndarray, y: np.ndarray, stop: int) -> _Service:
    """The service calling at `stop` too: between the two consecutive stops whose stretch
    passes nearest to it, its time interpolated along that stretch."""
    sx, sy = x[service.stops], y[service.stops]
    px, py = x[stop], y[stop]
    dx, dy = np.diff(sx), np.diff(sy)
    span = np.maximum(dx * dx + dy * dy, 1e-9)
    t = np.clip(((px - sx[:-1]) * dx + (py - sy[:-1]) * dy) / span, 0.0, 1.0)
    i = int(np.argmin(np.hypot(sx[:-1] + t * dx - px, sy[:-1] + t * dy - py)))
    leave, reach = service.departure[:, i].astype(float), service.arrival[:, i + 1]
    at = np.round(leave + t[i] * (reach - leave)).astype(np.int64)
    return _Service(
        service.route_id,
        np.insert(service.stops, i + 1, stop),
        service.trip_ids,
        np.insert(service.arrival, i + 1, at, axis=1),
        np.insert(service.departure, i + 1, at, axis=1),
    )


def plan_frames(tt: Timetable, edits: Any) -> tuple[TimetableFrames, set[str], PlanTransit]:
    """The plan's trips of `tt`'s day as TimetableFrames (every stop of `tt` first, in its
    order, then the plan's new stops), the stored routes whose trips they replace, and what
    was added (routes and stops, for the evaluation)."""
    added = PlanTransit(tt)
    x, y = to_utm(tt.stop_lon, tt.stop_lat)
    new_stops: list[pd.DataFrame] = []
    services: dict[str, list[_Service]] = {}
    modes: dict[str, str] = {}
    n = tt.n_stops
    for edit in edits.of("transit.route.add"):
        stops, both = _route_services(edit, n)
        n += len(stops)
        # the plan's stops are numbered after the feed's: a new stop placed later (on this
        # route or any other) reads their positions by the same numbers
        x = np.append(x, stops["x"].to_numpy(float))
        y = np.append(y, stops["y"].to_numpy(float))
        new_stops.append(stops)
        rid = route_id(edit)
        services[rid], modes[rid] = both, edit.properties["mode"]
        added.routes.append(
            {
                "edit": edit.id,
                "route_id": rid,
                "mode": edit.properties["mode"],
                "name": edit.properties["name"],
                "length_km": edit.properties["length_km"],
                "stops": int(len(stops)),
                "trips": int(sum(len(s.trip_ids) for s in both)),
            }
        )
    replaced: set[str] = set()
    for edit in edits.of("transit.stop.add"):
        rid = edit.properties["route"]
        if rid not in services:  # a stored route: its patterns of the day
            replaced.add(rid)
            modes[rid] = edit.properties["mode"]
            services[rid] = [
                _Service(
                    rid,
                    p.stops.astype(np.int64),
                    np.array([str(t).replace("yesterday:", "prev-") for t in p.trip_ids], object),
                    p.arrival.astype(np.int64),
                    p.departure.astype(np.int64),
                )
                for p in tt.patterns
                if p.route_id == rid
            ]
        sid = f"plan-{edit.id}"
        new_stops.append(
            pd.DataFrame({"stop_id": [sid], "stop_name": [edit.properties["name"]],
                          "lon": [edit.geometry.x], "lat": [edit.geometry.y],
                          "mode": [edit.properties["mode"]], "x": [edit.utm.x],
                          "y": [edit.utm.y]})
        )  # fmt: skip
        x, y = np.append(x, edit.utm.x), np.append(y, edit.utm.y)
        services[rid] = [_insert_stop(s, x, y, n) for s in services[rid]]
        n += 1
        added.stops.append(
            {
                "edit": edit.id,
                "stop_id": sid,
                "route_id": rid,
                "distance_m": edit.properties["distance_m"],
                "trips": int(sum(len(s.trip_ids) for s in services[rid])),
            }
        )
    new = pd.concat(new_stops, ignore_index=True) if new_stops else pd.DataFrame()
    added.new_stops = new
    ids = np.concatenate([tt.stop_ids, new["stop_id"].to_numpy(object) if len(new) else []])
    lon = np.concatenate([tt.stop_lon, new["lon"].to_numpy(float) if len(new) else []])
    lat = np.concatenate([tt.stop_lat, new["lat"].to_numpy(float) if len(new) else []])
    trips, times = [], []
    for rid, group in services.items():
        for k, s in enumerate(group):
            trips.append(pd.DataFrame({"trip_id": s.trip_ids, "route_id": rid, "direction_id": k}))
            n_trips, n_stops = s.arrival.shape
            times.append(
                pd.DataFrame(
                    {
                        "trip_id": np.repeat(s.trip_ids, n_stops),
                        "stop_sequence": np.tile(np.arange(1, n_stops + 1), n_trips),
                        "stop_id": np.tile(ids[s.stops], n_trips),
                        "arrival_s": s.arrival.ravel(),
                        "departure_s": s.departure.ravel(),
                    }
                )
            )
    routes = [
        {"route_id": rid, "short_name": rid, "long_name": rid,
         "route_type": ROUTE_TYPE[modes[rid]], "mode": modes[rid]}
        for rid in services
    ]  # fmt: skip
    stops = pd.DataFrame({"stop_id": ids, "lon": lon, "lat": lat})
    return _frames(stops, routes, trips, times, tt.day), replaced, added


def _frames(
    stops: pd.DataFrame,
    routes: list[dict],
    trips: list[pd.DataFrame],
    times: list[pd.DataFrame],
    day: date,
) -> TimetableFrames:
    """TimetableFrames of the plan's trips, running on `day` only (a calendar_dates row)."""
    columns = ["trip_id", "route_id", "service_id", "direction_id", "shape_id"]
    trip_frame = (
        pd.concat(trips, ignore_index=True) if trips else pd.DataFrame(columns=columns[:2])
    ).assign(service_id=PLAN_SERVICE, shape_id=None)
    if "direction_id" not in trip_frame:
        trip_frame["direction_id"] = 0
    time_columns = ["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"]
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    return TimetableFrames(
        stops=stops.assign(stop_name=None, mode=None),
        routes=pd.DataFrame(
            routes, columns=["route_id", "short_name", "long_name", "route_type", "mode"]
        ),
        trips=trip_frame[columns],
        stop_times=pd.concat(times, ignore_index=True)
        if times
        else pd.DataFrame(columns=time_columns),
        calendar=pd.DataFrame(columns=["service_id", *weekdays, "start_date", "end_date"]),
        calendar_dates=pd.DataFrame(
            {"service_id": [PLAN_SERVICE], "date": [day], "exception_type": [1]}
        ),
    )


def plan_timetable(tt: Timetable, edits: Any, network: Any) -> PlanTransit | None:
    """The day's timetable with the plan's routes and stops (footpaths walked again on the
    plan's network), or None when the plan has no transit edit."""
    if not edits.of("transit.route.add", "transit.stop.add"):
        return None
    from twin.transit.access import footpaths

    frames, replaced, added = plan_frames(tt, edits)
    extra = build_timetable(frames, tt.day)
    merged = tt.combined(extra, replaced)
    added.timetable = merged.with_transfers(footpaths(network, merged))
    return added


__all__ = [
    "HEADWAY_MIN",
    "ROUTE_MODES",
    "SPEED_KMH",
    "STOP_REACH_M",
    "STOP_SPACING_M",
    "PlanTransit",
    "check_route",
    "check_stop",
    "plan_frames",
    "plan_timetable",
]

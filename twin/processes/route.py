"""OGC API process `route`: how do I get from A to B on foot, in a wheelchair, at night, by
bus or metro, by bike or e-scooter?

The answer has the shape of an OGC API - Routes route (OGC 21-000, draft): a GeoJSON
FeatureCollection whose first feature is the route overview (featureType "overview": the whole
line, length_m, duration_s), then the start and end points and one feature per street segment
walked (featureType "segment"). Beyond the standard: the walking profile, minutes, climb, unlit
length, and where the route is not barrier-free for a wheelchair (steps, raised kerbs, slopes
over the limit; unknown steps or kerbs are assumed passable but listed).

With a ride mode (`modes`: walk with one of transit, bike, scooter) the features after start
and end are the legs (featureType "leg": walk, ride), each with its own line: by transit the
RAPTOR journey leaving at `departure` (twin.transit.journey: walk to the stop, each ride with
its route, stops, times and wait, changes on foot, walk on), by bike door to door
(twin.mobility.micromobility speeds and streets), by scooter from the parking spot nearest the
start on foot to the one nearest the end. Walking stays allowed: when walking all the way is
as quick, the answer is the walk (overview `note` says so).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np
import orjson
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import current_city
from twin.analysis.network import data_versions, to_lonlat, to_utm
from twin.analysis.profile_answers import WalkedRoute, walked_route
from twin.analysis.profiles import PROFILES, engine_mode
from twin.analysis.reports import MAX_SNAP_M, check_point
from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound
from twin.mobility.micromobility import (
    SCOOTER_HANDLING_MIN,
    load_segments,
    parking_places,
    ride_route,
)
from twin.processes.base import (
    PROFILE,
    ProcessInputError,
    TwinProcessor,
    choice,
    literal,
    metadata,
    number,
    shown,
)
from twin.processes.isochrone import departure_input
from twin.sqlfiles import query
from twin.transit.access import MAX_WALK_MINUTES, profile_timetable, stop_nodes
from twin.transit.figures import closed_stops, day_timetable
from twin.transit.journey import Journey, plan_journey
from twin.transit.timetable import Timetable

MODES = ("walk", "transit", "bike", "scooter")
RIDES = ("transit", "bike", "scooter")  # one of them with walk
UNKNOWN = ("steps unknown", "kerb unknown")  # assumed passable, listed
SERVICE_AHEAD_S = 3600  # a departure is in the feed's service when a vehicle leaves within it
PARKING_WALK_MINUTES = 15.0  # the farthest walk to and from a scooter parking spot

PROCESS_METADATA = metadata(
    "route",
    "Route on foot, by public transport, bike or scooter",
    "The route from the first waypoint to the second for a walking profile (standard, slow, "
    "wheelchair, night) in the shape of an OGC API - Routes route: the route overview feature "
    "(line, length_m, duration_s, minutes, climb_m, unlit_m), start and end, and the street "
    "segments walked in order, with the places where the route is not barrier-free for a "
    "wheelchair (steps, raised kerbs, slopes over the limit) and those not known (unknown "
    "steps or kerbs, assumed passable). With modes walk and transit, bike or scooter: the "
    "legs (walk to the stop, rides with route, stops, times and waits, changes, walk on; or "
    "the ride door to door, or between scooter parking spots) leaving at `departure`.",
    {
        "waypoints": literal(
            "Waypoints",
            "A GeoJSON MultiPoint of two WGS84 points: start and end (inside the city).",
            {
                "type": "object",
                "required": ["type", "coordinates"],
                "properties": {
                    "type": {"type": "string", "enum": ["MultiPoint"]},
                    "coordinates": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"type": "array", "minItems": 2, "maxItems": 2},
                    },
                },
            },
            min_occurs=1,
        ),
        "profile": PROFILE,
        "modes": literal(
            "Modes",
            '["walk"] (default), or walk with one of "transit", "bike", "scooter" (walking '
            "to, between and from the rides is always allowed).",
            {"type": "array", "items": {"type": "string", "enum": list(MODES)}},
        ),
        "departure": literal(
            "Departure time",
            "HH:MM on the service day (with transit; default 08:00).",
            {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$", "default": "08:00"},
        ),
        "date": literal(
            "Service day",
            "YYYY-MM-DD (with transit; default: the day the published figures are for).",
            {"type": "string", "format": "date"},
        ),
        "name": literal("Name", "A name for the route.", {"type": "string", "maxLength": 200}),
    },
    "An OGC API - Routes route: GeoJSON FeatureCollection, the overview feature first",
    {
        "waypoints": {"type": "MultiPoint", "coordinates": [[76.9455, 43.2389], [76.93, 43.25]]},
        "profile": "wheelchair",
    },
)


def _waypoints(value: Any) -> list[tuple[float, float]]:
    """Two (lon, lat) points from a GeoJSON MultiPoint, each inside the city."""
    if not isinstance(value, dict) or value.get("type") != "MultiPoint":
        raise ProcessInputError(
            f"input 'waypoints' must be a GeoJSON MultiPoint of two points, got {shown(value)}"
        )
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) != 2:
        raise ProcessInputError("input 'waypoints' must have exactly two points: start and end")
    points = []
    for i, point in enumerate(coordinates):
        if not isinstance(point, list) or len(point) != 2:
            raise ProcessInputError(
                f"input 'waypoints' point {i} must be [lon, lat], got {shown(point)}"
            )
        lon_name, lat_name = f"waypoints[{i}] lon", f"waypoints[{i}] lat"
        lon = number({lon_name: point[0]}, lon_name, -180, 180)
        lat = number({lat_name: point[1]}, lat_name, -90, 90)
        check_point(lon, lat)
        points.append((lon, lat))
    return points


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}


class RouteProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = ("waypoints", "profile", "modes", "departure", "date", "name")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        points = _waypoints(inputs.get("waypoints"))
        profile = choice(inputs, "profile", tuple(PROFILES), "standard")
        modes = modes_input(inputs.get("modes"), profile)
        start_s, day = departure_input(inputs)  # checked whatever the modes
        name = inputs.get("name", "Route")
        if not isinstance(name, str) or len(name) > 200:
            raise ProcessInputError("input 'name' must be text of 200 characters at most")
        with connection() as conn:
            city = current_city(conn)
            network = city.network
            x, y = to_utm([p[0] for p in points], [p[1] for p in points])
            node, snap = network.snap_xy(x, y)
            for which, metres in zip(("start", "end"), snap):
                if metres > MAX_SNAP_M:
                    raise ProcessInputError(
                        f"no walkable street within {MAX_SNAP_M:.0f} m of the {which} "
                        f"(nearest is {metres:.0f} m away)"
                    )
            walked = walked_route(network, int(node[0]), int(node[1]), profile)
            trip = Trip(conn, city, profile, node, snap, walked)
            if "transit" in modes:
                legs = trip.by_transit(start_s, day)
            elif "bike" in modes:
                legs = trip.by_bike()
            elif "scooter" in modes:
                legs = trip.by_scooter()
            else:
                legs = None
            if legs is not None:
                return _legs_route(name, profile, modes, points, trip, legs, started)
            if walked is None:
                raise ProcessInputError(_no_route(network, node, profile))
            lines = trip.lines(walked)
        route = _route(name, profile, points, snap, network, walked, lines, started)
        if len(modes) > 1:
            route["features"][0]["properties"]["note"] = trip.note or (
                f"walking all the way is as quick as by {modes[1]}"
            )
        return route


def modes_input(value: Any, profile: str) -> list[str]:
    """["walk"] or walk with one ride mode (a lone ride mode walks too, to and from it)."""
    values = ["walk"] if value is None else value
    if not isinstance(values, list) or not values:
        raise ProcessInputError(
            f'input \'modes\' must be a list such as ["walk", "transit"], got {shown(value)}'
        )
    unknown = [v for v in values if v not in MODES]
    if unknown:
        raise ProcessInputError(
            f"input 'modes' = {shown(unknown[0])} is not a mode: use {', '.join(MODES)}"
        )
    rides = [m for m in RIDES if m in values]
    if len(rides) > 1:
        raise ProcessInputError(
            f"input 'modes' combines {' and '.join(rides)}: a route takes walk with one of "
            f"{', '.join(RIDES)}"
        )
    if profile == "wheelchair" and rides and rides[0] != "transit":
        raise ProcessInputError(
            f"profile wheelchair does not ride a {rides[0]}: use modes walk or transit"
        )
    return ["walk", *rides]


def _time(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Trip:
    """One request's places and walks: the walk legs, the transit journey, the rides."""

    def __init__(
        self,
        conn: Any,
        city: Any,
        profile: str,
        node: np.ndarray,
        snap: np.ndarray,
        walked: WalkedRoute | None,
    ) -> None:
        self.conn, self.city, self.network = conn, city, city.network
        self.profile, self.mode = profile, engine_mode(profile)
        self.node, self.snap = [int(n) for n in node], snap
        self.snap_min = self.network.snap_cost(np.asarray(snap, float), self.mode)
        self.walked = walked
        self.direct_min = (
            float(walked.minutes.sum() + self.snap_min.sum()) if walked is not None else np.inf
        )
        self.note: str | None = None

    def lines(self, walked: WalkedRoute | None, nodes: np.ndarray | None = None) -> dict:
        """The street geometry of each step of a walk (or of `nodes`), by step number."""
        ids = self.network.node_ids[walked.nodes if walked is not None else nodes]
        if len(ids) < 2:
            return {}
        rows = self.conn.execute(
            query("analysis/route_segments"), {"u": ids[:-1].tolist(), "v": ids[1:].tolist()}
        ).fetchall()
        return {int(i): orjson.loads(g)["coordinates"] for i, g in rows}

    def walk_leg(self, a: int, b: int, minutes_on: float = 0.0) -> dict[str, Any]:
        """A walk leg from node a to node b (plus `minutes_on` of walking to or from a
        street), with its line, climb, unlit length and barriers."""
        walked = walked_route(self.network, a, b, self.profile)
        if walked is None:
            raise ProcessInputError(_no_route(self.network, np.array([a, b]), self.profile))
        return _walk_leg(self.network, walked, self.lines(walked), minutes_on)

    # -- transit -------------------------------------------------------------------------
    def by_transit(self, start_s: int, day: date | None) -> list[dict[str, Any]] | None:
        """The journey's legs, or None when walking all the way is as quick."""
        try:
            tt, when = day_timetable(self.conn, self.city, day)
        except (NotFound, InvalidParameter) as exc:  # no feed, or no service that day
            raise ProcessInputError(str(exc)) from None
        _in_service(tt, start_s, when)
        tt = profile_timetable(self.city, tt, self.profile)
        closed = closed_stops(self.conn, tt, self.profile)
        stop_node, stop_snap = stop_nodes(self.network, tt)
        stop_min = self.network.snap_cost(stop_snap, self.mode)
        walk = self.network.graph(self.mode)
        limit = MAX_WALK_MINUTES
        from_a = dijkstra(walk, indices=self.node[0], limit=limit) + self.snap_min[0]
        back = self.network.graph(self.mode, towards=True)
        to_b = dijkstra(back, indices=self.node[1], limit=limit) + self.snap_min[1]
        access = from_a[stop_node] + stop_min
        egress = to_b[stop_node] + stop_min
        access = np.where(access <= limit, access * 60, np.inf)
        egress = np.where(egress <= limit, egress * 60, np.inf)
        journey = plan_journey(tt, start_s, access, egress, closed=closed)
        if journey is None or not journey.rides:
            if self.walked is None:
                raise ProcessInputError(
                    "these places are not connected: no walkable street joins them and no "
                    f"stop within {limit:.0f} minutes' walk of both leads from one to the other"
                )
            self.note = f"no ride leaving at {_time(start_s)} is quicker than walking"
            return None
        if (journey.arrival_s - start_s) / 60 >= self.direct_min:
            self.note = f"walking all the way is quicker than any ride leaving at {_time(start_s)}"
            return None
        return self._journey_legs(tt, journey, stop_node, stop_min, closed)

    def _journey_legs(
        self,
        tt: Timetable,
        journey: Journey,
        stop_node: np.ndarray,
        stop_min: np.ndarray,
        closed: np.ndarray | None,
    ) -> list[dict[str, Any]]:
        names = self._names(tt, journey)
        legs = []
        for leg in journey.legs:
            if leg.kind == "ride":
                legs.append(self._ride_leg(tt, leg, names))
                continue
            a = self.node[0] if leg.from_stop is None else int(stop_node[leg.from_stop])
            b = self.node[1] if leg.to_stop is None else int(stop_node[leg.to_stop])
            on = (self.snap_min[0] if leg.from_stop is None else stop_min[leg.from_stop]) + (
                self.snap_min[1] if leg.to_stop is None else stop_min[leg.to_stop]
            )
            walk = self.walk_leg(a, b, float(on))
            walk.update(
                {
                    "from_stop": names["stop"].get(tt.stop_ids[leg.from_stop])
                    if leg.from_stop is not None
                    else None,
                    "to_stop": names["stop"].get(tt.stop_ids[leg.to_stop])
                    if leg.to_stop is not None
                    else None,
                    # the timetable's times: the walk leg ends when the journey says
                    "start": _time(leg.start_s),
                    "end": _time(leg.end_s),
                    "minutes": round(float(leg.seconds) / 60, 2),
                }
            )
            legs.append(walk)
        overview = {
            "departure": _time(journey.departure_s),
            "arrival": _time(journey.arrival_s),
            "date": tt.day.isoformat(),
            "minutes": round((journey.arrival_s - journey.departure_s) / 60, 2),
            "wait_minutes": round(float(sum(leg.wait_s for leg in journey.legs)) / 60, 2),
            "rides": journey.rides,
            "stops_closed_to_the_profile": int(closed.sum()) if closed is not None else 0,
            "walking_minutes_all_the_way": round(self.direct_min, 2)
            if np.isfinite(self.direct_min)
            else None,
        }
        return [overview, *legs]

    def _names(self, tt: Timetable, journey: Journey) -> dict[str, dict]:
        stops = {
            str(tt.stop_ids[s])
            for leg in journey.legs
            for s in (leg.from_stop, leg.to_stop)
            if s is not None
        }
        routes = {tt.patterns[leg.pattern].route_id for leg in journey.legs if leg.kind == "ride"}
        rows = self.conn.execute(
            query("transit/journey_names"), {"stops": sorted(stops), "routes": sorted(routes)}
        ).fetchall()
        names: dict[str, dict] = {"stop": {}, "route": {}}
        for kind, key, label, mode in rows:
            names[kind][key] = {"id": key, "name": label, "mode": mode}
        return names

    def _ride_leg(self, tt: Timetable, leg: Any, names: dict) -> dict[str, Any]:
        pattern = tt.patterns[leg.pattern]
        stops = pattern.stops[leg.board : leg.alight + 1]
        route = names["route"].get(pattern.route_id, {"id": pattern.route_id})
        x, y = to_utm(tt.stop_lon[stops], tt.stop_lat[stops])  # the straight stop-to-stop line
        line = [
            [round(float(x), 7), round(float(y), 7)]
            for x, y in zip(tt.stop_lon[stops], tt.stop_lat[stops])
        ]
        return {
            "kind": "ride",
            "line": line,
            "route": route.get("name") or pattern.route_id,
            "route_id": pattern.route_id,
            "transit_mode": route.get("mode"),
            "trip_id": str(pattern.trip_ids[leg.trip]),
            "from_stop": names["stop"].get(tt.stop_ids[leg.from_stop]),
            "to_stop": names["stop"].get(tt.stop_ids[leg.to_stop]),
            "start": _time(leg.start_s),
            "board": _time(leg.start_s + leg.wait_s),
            "end": _time(leg.end_s),
            "wait_minutes": round(float(leg.wait_s) / 60, 2),
            "minutes": round(float(leg.seconds) / 60, 2),
            "stops_passed": int(len(stops) - 2),
            "length_m": round(float(np.hypot(np.diff(x), np.diff(y)).sum()), 1),
        }

    # -- bike and scooter ----------------------------------------------------------------
    def _segments(self) -> Any:
        key = ("ride_segments", data_versions(self.conn, ("streets", "bike_lanes")))
        if key not in self.city._cache:
            self.city._cache[key] = load_segments(self.conn, self.network)
        return self.city._cache[key]

    def _ride(self, kind: str, a: int, b: int) -> dict[str, Any]:
        try:
            nodes, minutes = ride_route(self.network, self._segments(), kind, a, b)
        except InvalidParameter:
            raise ProcessInputError(
                f"no {kind} route between these places (no steps, arterials only with a lane)"
            ) from None
        nodes = np.asarray(nodes, np.int64)
        lines = self.lines(None, nodes)
        lon, lat = to_lonlat(self.network.x[nodes], self.network.y[nodes])
        line = []
        for i in range(len(nodes) - 1):
            line.extend(lines.get(i + 1) or [[lon[i], lat[i]], [lon[i + 1], lat[i + 1]]])
        rise = np.diff(self.network.z[nodes]) if len(nodes) > 1 else np.zeros(0)
        return {
            "kind": "ride",
            "ride_mode": kind,
            "line": line or [[lon[0], lat[0]]],
            "minutes": round(float(minutes), 2),
            "length_m": round(
                float(
                    np.hypot(np.diff(self.network.x[nodes]), np.diff(self.network.y[nodes])).sum()
                ),
                1,
            ),
            "climb_m": round(float(np.clip(rise, 0, None).sum()), 1),
        }

    def by_bike(self) -> list[dict[str, Any]] | None:
        """Door to door by bike: the ride, with the walks to and from the street pushed."""
        ride = self._ride("bike", *self.node)
        pushed = float(self.snap_min.sum())
        ride["ridden_minutes"] = ride["minutes"]
        ride["walk_to_street_minutes"] = round(pushed, 2)
        ride["minutes"] = round(ride["minutes"] + pushed, 2)
        if ride["minutes"] >= self.direct_min:
            self.note = "walking all the way is as quick as by bike"
            return None
        return [{"minutes": ride["minutes"]}, ride]

    def by_scooter(self) -> list[dict[str, Any]] | None:
        """Walk to the parking spot nearest on foot, ride to the spot nearest the end on foot
        (1 minute to unlock and park), walk on."""
        key = ("scooter_parking", data_versions(self.conn, ("streets", "scooter_parking")))
        if key not in self.city._cache:
            self.city._cache[key] = parking_places(self.conn, self.network)
        parking = self.city._cache[key]
        limit = PARKING_WALK_MINUTES
        spots = parking.node.to_numpy(np.int64) if len(parking) else np.zeros(0, np.int64)
        spot_min = self.network.snap_cost(
            parking.snap_m.to_numpy(float) if len(parking) else np.zeros(0), self.mode
        )
        out = dijkstra(self.network.graph(self.mode), indices=self.node[0], limit=limit)
        back = dijkstra(
            self.network.graph(self.mode, towards=True), indices=self.node[1], limit=limit
        )
        to_spot = out[spots] + spot_min + self.snap_min[0] if len(spots) else np.zeros(0)
        from_spot = back[spots] + spot_min + self.snap_min[1] if len(spots) else np.zeros(0)
        for which, minutes in (("start", to_spot), ("end", from_spot)):
            if not len(minutes) or not np.isfinite(minutes.min()):
                raise ProcessInputError(
                    f"no scooter parking spot within {limit:.0f} minutes' walk of the {which}"
                )
        p, q = int(np.argmin(to_spot)), int(np.argmin(from_spot))
        if spots[p] == spots[q]:
            self.note = "the same parking spot is nearest both ends: walking all the way"
            return None
        first = self.walk_leg(self.node[0], int(spots[p]), float(self.snap_min[0] + spot_min[p]))
        ride = self._ride("scooter", int(spots[p]), int(spots[q]))
        ride["minutes"] = round(ride["minutes"] + SCOOTER_HANDLING_MIN, 2)
        ride["handling_minutes"] = SCOOTER_HANDLING_MIN
        ride["from_parking"] = int(parking.id.iloc[p])
        ride["to_parking"] = int(parking.id.iloc[q])
        last = self.walk_leg(int(spots[q]), self.node[1], float(spot_min[q] + self.snap_min[1]))
        minutes = first["minutes"] + ride["minutes"] + last["minutes"]
        if minutes >= self.direct_min:
            self.note = "walking all the way is as quick as by scooter"
            return None
        return [{"minutes": round(minutes, 2)}, first, ride, last]


def _walk_leg(network: Any, walked: WalkedRoute, lines: dict, minutes_on: float) -> dict[str, Any]:
    """A walk leg's line and figures (minutes include the walk to and from the street)."""
    lon, lat = to_lonlat(network.x[walked.nodes], network.y[walked.nodes])
    line, hard, unknown = [], [], []
    for i in range(len(walked.edges)):
        coordinates = lines.get(i + 1) or [[lon[i], lat[i]], [lon[i + 1], lat[i + 1]]]
        line.extend(coordinates)
        reasons = walked.barriers[i]
        where = coordinates[len(coordinates) // 2]
        known = [r for r in reasons if r not in UNKNOWN]
        if known:
            hard.append({"segment": i, "reasons": known, "point": where})
        if len(known) < len(reasons):
            unknown.append({"segment": i, "reasons": [r for r in reasons if r in UNKNOWN]})
    return {
        "kind": "walk",
        "line": line or [[float(lon[0]), float(lat[0])]],
        "minutes": round(float(walked.minutes.sum()) + minutes_on, 2),
        "length_m": round(float(walked.length.sum()), 1),
        "climb_m": round(float(np.clip(walked.rise, 0, None).sum()), 1),
        "unlit_m": round(float(walked.length[~walked.lit].sum()), 1),
        "not_barrier_free": hard,
        "unknown_access": unknown,
    }


def _legs_route(
    name: str,
    profile: str,
    modes: list[str],
    points: list[tuple[float, float]],
    trip: Trip,
    legs: list[dict[str, Any]],
    started: float,
) -> dict[str, Any]:
    """The route of legs: the overview (totals over the legs), start, end, one feature each."""
    summary, legs = legs[0], legs[1:]
    line = [list(points[0])]
    features = []
    for i, leg in enumerate(legs):
        coordinates = leg.pop("line")
        line.extend(coordinates)
        if len(coordinates) < 2:
            coordinates = [*coordinates, *coordinates]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coordinates},
                "properties": {"featureType": "leg", "index": i, **leg},
            }
        )
    line.append(list(points[1]))
    walks = [leg for leg in legs if leg["kind"] == "walk"]
    hard = [{"leg": i, **h} for i, leg in enumerate(legs) for h in leg.get("not_barrier_free", [])]
    minutes = summary.pop("minutes")
    properties = {
        "profile": profile,
        "modes": modes,
        "minutes": minutes,
        "duration_s": round(minutes * 60, 1),
        "length_m": round(sum(float(leg.get("length_m") or 0.0) for leg in legs), 1),
        "walk_minutes": round(sum(float(leg["minutes"]) for leg in walks), 2),
        "climb_m": round(sum(leg.get("climb_m", 0.0) for leg in legs), 1),
        "unlit_m": round(sum(leg["unlit_m"] for leg in walks), 1),
        "legs": len(legs),
        "walk_to_street_m": [round(float(trip.snap[0]), 1), round(float(trip.snap[1]), 1)],
        "barrier_free": not hard,
        "not_barrier_free": hard,
        "unknown_access": [
            {"leg": i, **u} for i, leg in enumerate(legs) for u in leg.get("unknown_access", [])
        ],
        **summary,
        "processing_ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return _route_collection(name, line, points, trip.snap, properties, features)


def _in_service(tt: Timetable, start_s: int, day: date) -> None:
    """400 when no vehicle of the day leaves any stop within an hour of `start_s`."""
    first = max(min(int(p.departure.min()) for p in tt.patterns), 0)  # yesterday's: < 0
    last = max(int(p.departure.max()) for p in tt.patterns)
    if not first - SERVICE_AHEAD_S <= start_s <= last:
        raise ProcessInputError(
            f"departure {_time(start_s)[:5]} is not in the feed's service on {day.isoformat()}: "
            f"vehicles leave from {_time(first)[:5]} to {_time(last)[:5]}"
        )


def _no_route(network: Any, node: np.ndarray, profile: str) -> str:
    """Why there is no route: for a wheelchair, what blocks the standard walker's route."""
    if profile == "wheelchair":
        standard = walked_route(network, int(node[0]), int(node[1]), "standard")
        blocked = sorted(
            {r for why in (standard.barriers if standard else []) for r in why if r not in UNKNOWN}
        )
        return (
            "no barrier-free route for a wheelchair between these places: every way has steps, "
            "a raised kerb or a slope over the limit (the walking route meets: "
            f"{', '.join(blocked) or 'nothing known'})"
        )
    if profile == "night":
        return "no route along lit streets between these places (profile night)"
    return "these places are not connected by walkable streets"


def _route(
    name: str,
    profile: str,
    points: list[tuple[float, float]],
    snap: np.ndarray,
    network: Any,
    walked: Any,
    lines: dict[int, list],
    started: float,
) -> dict[str, Any]:
    """The OGC API - Routes FeatureCollection of a walked route."""
    speed = PROFILES[profile].level_kmh * 1000 / 60  # metres per minute on the level
    lon, lat = to_lonlat(network.x[walked.nodes], network.y[walked.nodes])
    segments, line = [], [list(points[0])]
    hard, unknown = [], []
    for i in range(len(walked.edges)):
        # the street's own geometry where the database has it, else the straight segment
        coordinates = lines.get(i + 1) or [[lon[i], lat[i]], [lon[i + 1], lat[i + 1]]]
        line.extend(coordinates)
        reasons = walked.barriers[i]
        known = [r for r in reasons if r not in UNKNOWN]
        where = coordinates[len(coordinates) // 2]
        if known:
            hard.append({"segment": i, "reasons": known, "point": where})
        if len(known) < len(reasons):
            unknown.append(
                {"segment": i, "reasons": [r for r in reasons if r in UNKNOWN], "point": where}
            )
        length = float(walked.length[i])
        segments.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coordinates},
                "properties": {
                    "featureType": "segment",
                    "index": i,
                    "length_m": round(length, 1),
                    "minutes": round(float(walked.minutes[i]), 2),
                    "duration_s": round(float(walked.minutes[i]) * 60, 1),
                    "climb_m": round(max(float(walked.rise[i]), 0.0), 1),
                    "slope_pct": round(100 * float(walked.rise[i]) / max(length, 1e-6), 1),
                    "lit": bool(walked.lit[i]),
                    "barriers": reasons,
                },
            }
        )
    line.append(list(points[1]))
    walk_on = float(snap[0] + snap[1]) / speed  # to and from the street, on the level
    minutes = float(walked.minutes.sum()) + walk_on
    length = float(walked.length.sum() + snap[0] + snap[1])
    properties = {
        "profile": profile,
        "modes": ["walk"],
        "minutes": round(minutes, 2),
        "duration_s": round(minutes * 60, 1),
        "length_m": round(length, 1),
        "climb_m": round(float(np.clip(walked.rise, 0, None).sum()), 1),
        "descent_m": round(float(-np.clip(walked.rise, None, 0).sum()), 1),
        "unlit_m": round(float(walked.length[~walked.lit].sum()), 1),
        "segments": len(walked.edges),
        "walk_to_street_m": [round(float(snap[0]), 1), round(float(snap[1]), 1)],
        "barrier_free": not hard,
        "not_barrier_free": hard,
        "unknown_access": unknown,
        "processing_ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return _route_collection(name, line, points, snap, properties, segments)


def _route_collection(
    name: str,
    line: list[list[float]],
    points: Any,
    snap: Any,
    properties: dict[str, Any],
    parts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The answer in the shape of an OGC API - Routes route: the overview feature (the whole
    line and its figures), the start and the end (each with its walk to the street), then the
    parts in order (legs or street segments)."""
    overview = {
        "type": "Feature",
        "id": "overview",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": {"featureType": "overview", "name": name, **properties},
    }
    ends = [
        {
            "type": "Feature",
            "geometry": _point(*points[k]),
            "properties": {"featureType": kind, "walk_to_street_m": round(float(snap[k]), 1)},
        }
        for k, kind in enumerate(("start", "end"))
    ]
    return {
        "type": "FeatureCollection",
        "name": name,
        "status": "successful",
        "features": [overview, *ends, *parts],
    }

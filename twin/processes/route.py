"""OGC API process `route`: how do I get from A to B on foot, in a wheelchair, at night?

The answer has the shape of an OGC API - Routes route (OGC 21-000, draft): a GeoJSON
FeatureCollection whose first feature is the route overview (featureType "overview": the whole
line, length_m, duration_s), then the start and end points and one feature per street segment
walked (featureType "segment"). Beyond the standard: the walking profile, minutes, climb, unlit
length, and where the route is not barrier-free for a wheelchair (steps, raised kerbs, slopes
over the limit; unknown steps or kerbs are assumed passable but listed).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson

from twin.analysis.city import current_city
from twin.analysis.network import to_lonlat, to_utm
from twin.analysis.profile_answers import walked_route
from twin.analysis.profiles import PROFILES
from twin.analysis.reports import MAX_SNAP_M, check_point
from twin.db.pool import connection
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
from twin.sqlfiles import query

MODES = ("walk",)  # transit and bikes: other parts of issue #18
UNKNOWN = ("steps unknown", "kerb unknown")  # assumed passable, listed

PROCESS_METADATA = metadata(
    "route",
    "Walking route",
    "The route on foot from the first waypoint to the second for a walking profile "
    "(standard, slow, wheelchair, night) in the shape of an OGC API - Routes route: the route "
    "overview feature (line, length_m, duration_s, minutes, climb_m, unlit_m), start and end, "
    "and the street segments walked in order, with the places where the route is not "
    "barrier-free for a wheelchair (steps, raised kerbs, slopes over the limit) and those not "
    "known (unknown steps or kerbs, assumed passable). Only the walk mode for now: transit and "
    "bike routes are not offered yet.",
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
            'Only ["walk"] for now (transit and bike routes are not offered yet).',
            {"type": "array", "items": {"type": "string", "enum": list(MODES)}},
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
    known_inputs = ("waypoints", "profile", "modes", "name")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        points = _waypoints(inputs.get("waypoints"))
        profile = choice(inputs, "profile", tuple(PROFILES), "standard")
        modes = inputs.get("modes", ["walk"])
        if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
            raise ProcessInputError(
                f"input 'modes' must be [\"walk\"]: transit and bike routes are not offered "
                f"yet, got {shown(modes)}"
            )
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
            if walked is None:
                raise ProcessInputError(_no_route(network, node, profile))
            ids = network.node_ids[walked.nodes]
            rows = conn.execute(
                query("analysis/route_segments"),
                {"u": ids[:-1].tolist(), "v": ids[1:].tolist()},
            ).fetchall()
        lines = {int(i): orjson.loads(g)["coordinates"] for i, g in rows}
        return _route(name, profile, points, snap, network, walked, lines, started)


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
    overview = {
        "type": "Feature",
        "id": "overview",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": {
            "featureType": "overview",
            "name": name,
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
        },
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
        "features": [overview, *ends, *segments],
    }

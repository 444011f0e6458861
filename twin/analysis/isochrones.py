"""Isochrones: the area reachable on foot from a point within N minutes.

One Dijkstra from the point, met on its nearest street segment and joined to both ends of it
with the partial walks (limited to the largest N); every street segment is walked as far as the
remaining minutes allow (the start's own segment from the point both ways), and the walked
pieces are widened by 40 m (the depth of a street's frontage) into one polygon per N, holes
filled. The widening is done on a 20 m raster
(points every 20 m along the walked pieces, a disc dilation, the outline traced by marching
squares with contourpy): a GEOS buffer-and-union of a thousand segments takes ~100 ms, the
raster a few.

Each band also answers who lives within it: the residents and plots reached (a plot is reached
when its own walk, to its segment and along it, fits in the minutes; the engine's plots.residents
as twin.analysis.city._plot_residents reads them), in total and by district. The data carry no
jobs figure, so no jobs are counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import contourpy
import numpy as np
import orjson
import shapely
from scipy import ndimage

from twin.analysis.city import CityModel, rows_at
from twin.analysis.network import Snapped, WalkingNetwork, to_lonlat

FRONTAGE_M = 40.0
CELL_M = 20.0


def reached_arcs(
    city: CityModel, cost: np.ndarray, minutes: float, mode: str, lit_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arcs whose start is reached within `minutes` (u, v, arc cost)."""
    u, v, arc_cost, lit = city.network.arc_costs(mode)
    keep = cost[u] <= minutes
    if lit_only:
        keep &= lit
    return u[keep], v[keep], arc_cost[keep]


def reached_segments(
    city: CityModel,
    cost: np.ndarray,
    minutes: float,
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Pieces of street walked within `minutes` as an (k, 2, 2) array of UTM segments."""
    network = city.network
    u, v, arc_cost = arcs
    keep = cost[u] <= minutes
    u, v, arc_cost = u[keep], v[keep], arc_cost[keep]
    fraction = np.clip((minutes - cost[u]) / np.maximum(arc_cost, 1e-9), 0.0, 1.0)
    x0, y0 = network.x[u], network.y[u]
    x1 = x0 + fraction * (network.x[v] - x0)
    y1 = y0 + fraction * (network.y[v] - y0)
    return np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)


def _amenity_arrays(city: CityModel) -> dict[str, Any]:
    """The amenities as plain arrays, once per model (a request only indexes them)."""
    if "amenity_arrays" not in city._cache:
        a = city.amenities
        names, codes = (
            np.unique(a["category"].to_numpy(str), return_inverse=True)
            if len(a)
            else (np.array([]), np.zeros(0, dtype=np.int64))
        )
        city._cache["amenity_arrays"] = {
            "at": rows_at(city.network, a),
            "code": codes,
            "categories": [str(n) for n in names],
            "rows": list(
                zip(
                    a["layer"],
                    a["id"].astype(int),
                    a["category"],
                    a["kind"],
                    a["name"],
                    a["lon"].astype(float),
                    a["lat"].astype(float),
                )
            ),
        }
    return city._cache["amenity_arrays"]


def _reach_costs(
    city: CityModel, at: Snapped, key: str, mode: str, lit_only: bool
) -> tuple[np.ndarray, ...]:
    """The points' segment ends and the walks from them to the points (contiguous columns:
    a request only gathers and adds), once per model, mode and lit_only."""
    if (key, mode, lit_only) not in city._cache:
        reach = city.network.reach_cost(at, mode, lit_only)
        city._cache[(key, mode, lit_only)] = tuple(
            np.ascontiguousarray(a)
            for a in (at.node[:, 0], at.node[:, 1], reach[:, 0], reach[:, 1])
        )
    return city._cache[(key, mode, lit_only)]


def _plot_arrays(city: CityModel) -> dict[str, Any]:
    """The plots' residents and district codes as arrays, once per model."""
    if "plot_arrays" not in city._cache:
        names, codes = np.unique(
            city.plots["district"].fillna("").to_numpy(str), return_inverse=True
        )
        city._cache["plot_arrays"] = {
            "residents": city.plots["residents"].to_numpy(np.int64),
            "district": codes,
            "names": [str(n) if n else None for n in names],
        }
    return city._cache["plot_arrays"]


def arrive(
    network: WalkingNetwork,
    cost: np.ndarray,
    start: Snapped,
    at: Snapped,
    reach: tuple[np.ndarray, ...],
    mode: str,
    lit_only: bool = False,
) -> np.ndarray:
    """Cost from the start to each point: by the better end of the point's segment, or straight
    along the start's own segment to a point on it."""
    if len(at) == 0:
        return np.zeros(0)
    first, second, to_first, to_second = reach
    total = np.minimum(cost[first] + to_first, cost[second] + to_second)
    same = np.flatnonzero(at.segment == start.segment[0])
    if len(same):
        _, j, direct = network.along(start, at.take(same), mode, lit_only)
        total[same[j]] = np.minimum(total[same[j]], direct)
    return total


def reached(city: CityModel, arrival: np.ndarray, minutes: float) -> dict[str, Any]:
    """Residents and plots within `minutes` (arrival: minutes to every plot), by district."""
    plots = _plot_arrays(city)
    inside = arrival <= minutes
    people = np.bincount(
        plots["district"][inside], plots["residents"][inside], minlength=len(plots["names"])
    )
    count = np.bincount(plots["district"][inside], minlength=len(plots["names"]))
    by_district = [
        {"district": name, "residents": int(round(p)), "plots": int(c)}
        for name, p, c in zip(plots["names"], people, count)
        if c
    ]
    by_district.sort(key=lambda d: -d["residents"])
    return {
        "residents": int(plots["residents"][inside].sum()),
        "plots": int(inside.sum()),
        "by_district": by_district,
    }


def _own_segment(network: WalkingNetwork, start: Snapped, minutes: float, mode: str) -> np.ndarray:
    """The pieces of the start's own segment walked from the point towards both ends."""
    e = int(start.segment[0])
    t = float(start.fraction[0])
    u, v = int(network.edge_u[e]), int(network.edge_v[e])
    left = minutes - float(network.snap_cost(start.snap_m, mode)[0])
    if left <= 0:
        return np.zeros((0, 2, 2))
    _, _, arc, _ = network.arc_costs(mode)
    m = len(network.edge_u)
    fx = network.x[u] + t * (network.x[v] - network.x[u])
    fy = network.y[u] + t * (network.y[v] - network.y[u])
    pieces = []
    for end, share, arc_cost in ((u, t, arc[e + m]), (v, 1 - t, arc[e])):
        whole = share * arc_cost
        if share <= 0 or not np.isfinite(whole):
            continue
        k = min(left / whole, 1.0) if whole > 0 else 1.0
        ex = fx + k * (network.x[end] - fx)
        ey = fy + k * (network.y[end] - fy)
        pieces.append([[fx, fy], [ex, ey]])
    return np.array(pieces, dtype=float).reshape(-1, 2, 2)


def _label(minutes: float) -> str:
    return str(int(minutes)) if float(minutes).is_integer() else str(minutes)


def walked_area(pieces: np.ndarray, x: float, y: float) -> shapely.Geometry:
    """The land within 40 m of the walked pieces (and of the start), as (Multi)Polygon in UTM."""
    start = np.array([[[x, y], [x, y]]])
    pieces = np.concatenate([pieces, start]) if len(pieces) else start
    a, b = pieces[:, 0], pieces[:, 1]
    steps = np.maximum(np.ceil(np.hypot(*(b - a).T) / CELL_M).astype(np.int64), 1)
    which = np.repeat(np.arange(len(pieces)), steps + 1)
    first = np.repeat(np.cumsum(steps + 1) - steps - 1, steps + 1)
    t = (np.arange(len(which)) - first) / np.repeat(steps, steps + 1)
    points = a[which] + (b - a)[which] * t[:, None]
    pad = FRONTAGE_M + 2 * CELL_M
    x0, y1 = points[:, 0].min() - pad, points[:, 1].max() + pad
    cols = int((points[:, 0].max() + pad - x0) / CELL_M) + 1
    rows = int((y1 - (points[:, 1].min() - pad)) / CELL_M) + 1
    grid = np.zeros((rows, cols), dtype=bool)
    grid[
        ((y1 - points[:, 1]) / CELL_M).astype(np.int64),
        ((points[:, 0] - x0) / CELL_M).astype(np.int64),
    ] = True
    r = int(round(FRONTAGE_M / CELL_M))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    grid = ndimage.binary_fill_holes(
        ndimage.binary_dilation(grid, structure=(xx**2 + yy**2) <= r * r)
    )
    # the outline of the reached cells, traced by marching squares (contourpy) at the 0.5 level
    z = grid[::-1].astype(np.float64)  # rows from south to north, as contourpy wants
    xs = x0 + (np.arange(cols) + 0.5) * CELL_M
    ys = y1 - (rows - np.arange(rows) - 0.5) * CELL_M
    outlines, offsets = contourpy.contour_generator(
        xs, ys, z, name="serial", fill_type=contourpy.FillType.OuterOffset
    ).filled(0.5, 2.0)
    polygons = [
        shapely.Polygon(
            points[offset[0] : offset[1]], [points[a:b] for a, b in itertools.pairwise(offset[1:])]
        )
        for points, offset in zip(outlines, offsets)
    ]
    shape = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    simple = shapely.simplify(shape, CELL_M / 2, preserve_topology=False)
    return (
        simple
        if shapely.is_valid(simple) and not simple.is_empty
        else shapely.simplify(shape, CELL_M / 2)
    )


def isochrone(
    city: CityModel,
    x: float,
    y: float,
    minutes: list[float],
    mode: str = "slope",
    lit_only: bool = False,
    ride: Callable[[np.ndarray, float], np.ndarray] | None = None,
) -> dict[str, Any]:
    """GeoJSON polygons (largest first) with the residents and plots reached within each, and
    the amenities reachable. `ride` turns the walking minutes per node into walk + public
    transport minutes (twin.transit.access.ride_from, bound to a timetable and departure)."""
    network = city.network
    start = network.snap_segment_xy(np.array([x]), np.array([y]))
    limit = max(minutes)
    cost, _ = network.nearest(
        start.node,
        network.leave_cost(start, mode, lit_only),
        mode=mode,
        limit=limit,
        towards=False,
        lit_only=lit_only,
    )
    if ride is not None:
        cost = ride(cost, limit)
    plot_arrival = arrive(
        network,
        cost,
        start,
        city.plot_places.at,
        _reach_costs(city, city.plot_places.at, "plot_reach", mode, lit_only),
        mode,
        lit_only,
    )
    features = []
    arcs = reached_arcs(city, cost, limit, mode, lit_only)
    for threshold in sorted(minutes, reverse=True):
        pieces = reached_segments(city, cost, threshold, arcs)
        own = _own_segment(network, start, threshold, mode)
        area = walked_area(np.concatenate([pieces, own]) if len(own) else pieces, x, y)
        area_lonlat = shapely.transform(
            area, lambda xy: np.column_stack(to_lonlat(xy[:, 0], xy[:, 1]))
        )
        features.append(
            {
                "type": "Feature",
                "geometry": orjson.loads(shapely.to_geojson(area_lonlat)),
                "properties": {
                    "minutes": threshold,
                    "mode": mode,
                    "lit_only": lit_only,
                    "area_km2": round(float(area.area) / 1e6, 3),
                    "nodes_reached": int((cost <= threshold).sum()),
                    "reached": reached(city, plot_arrival, threshold),
                },
            }
        )
    amenities = _amenity_arrays(city)
    reach = arrive(
        network,
        cost,
        start,
        amenities["at"],
        _reach_costs(city, amenities["at"], "amenity_reach", mode, lit_only),
        mode,
        lit_only,
    )
    inside = np.flatnonzero(reach <= limit)
    inside = inside[np.argsort(reach[inside])]
    places = []
    for i in inside:
        layer, fid, category, kind, name, lon, lat = amenities["rows"][i]
        places.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "layer": layer,
                    "id": fid,
                    "category": category,
                    "kind": kind,
                    "name": name,
                    "minutes": round(float(reach[i]), 2),
                },
            }
        )
    counts = {}
    for t in minutes:
        number = np.bincount(amenities["code"][reach <= t], minlength=len(amenities["categories"]))
        counts[_label(t)] = {c: int(k) for c, k in zip(amenities["categories"], number) if k}
    return {
        "type": "FeatureCollection",
        "features": features,
        "amenities": {"type": "FeatureCollection", "features": places},
        "amenity_counts": counts,
        "start": {
            "snap_m": round(float(start.snap_m[0]), 1),
            "node": int(network.node_ids[start.nearer_node[0]]),
        },
    }

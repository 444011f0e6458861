"""The demo city's public transport as a synthetic GTFS feed, calibrated to the programme.

Routes run on the demo's own streets (shortest paths that prefer the main streets, so a bus
follows the avenues a real one would) and stop at the demo's transit stops: the metro line
through its 11 stations (13 km, S2 l.915), the BRT corridor, 9 trolleybus routes on the
trolleybus streets and 145 bus routes (S2 l.945) whose lengths reproduce the route structure of
S2 l.966-978 (~76% longer than 15 km, <=9% up to 10 km). Headways by period, speeds by mode,
dwell, weekday/Saturday/Sunday services and public holidays come from almaty.yml
`transit.feed`. Deterministic for a seed; marked synthetic in feed_info and agency names.

`demo_transit(streets, stops, seed)` plans the network (pure: the same streets and stops give
the same routes, whatever their row order); `write_demo_feed(transit, path)` writes the zip.
The stops it returns are the transit_stops layer as the feed serves it (`routes` = the short
names of the routes that stop there, `mode` = the highest mode among them), so the layer and
the feed agree.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from twin.demo.figures import figures
from twin.demo.geo import METRIC_CRS, stream, to_lonlat
from twin.demo.services import street_nodes
from twin.progress import progress

log = logging.getLogger(__name__)

PUBLISHER = "Almaty Twin demo generator (synthetic)"
PUBLISHER_URL = "https://example.org/almaty-twin/demo"
TIMEZONE = "Asia/Almaty"
MODE_RANK = {"metro": 0, "brt": 1, "tram": 2, "trolleybus": 3, "bus": 4}  # a stop's mode
ROUTE_TYPE = {"metro": 1, "brt": 3, "trolleybus": 11, "bus": 3}  # BRT: type 3, name "BRT ..."
ROUTE_COLOR = {"metro": "D63031", "brt": "0984E3", "trolleybus": "00B894", "bus": "636E72"}
ROUTE_LETTER = {"metro": "M", "brt": "R", "trolleybus": "T", "bus": "B"}  # route_id M001 ...
PEAKS = ("am_peak", "pm_peak")
SERVICES = {"weekday": "wd", "saturday": "sa", "sunday": "su"}  # trip_id B012-wd0-017
# cost of a metre for a bus by street class: main streets first (residential only to reach)
STREET_COST = {
    "motorway": 1.0,
    "arterial": 1.0,
    "primary": 1.0,
    "secondary": 1.1,
    "tertiary": 1.6,
    "residential": 2.5,
    "service": 3.0,
}
OFF_CORRIDOR_COST = 4.0  # trolleybuses leave their wires and BRT its lane only to connect
SNAP_M = 25.0  # a stop farther than this from a drivable street node is not served


@dataclass
class DemoRoute:
    """One route, direction 0 (direction 1 runs the same stops backwards)."""

    route_id: str
    short_name: str
    long_name: str
    mode: str
    stops: np.ndarray  # indices into DemoTransit.stops, in order
    stop_m: np.ndarray  # distance of each stop along the shape (m)
    shape: np.ndarray  # (n, 2) metres
    headway_min: dict[str, dict[str, float]]  # service -> period -> minutes
    hours: tuple[float, float]

    @property
    def length_km(self) -> float:
        return float(self.stop_m[-1] / 1000)


@dataclass
class DemoTransit:
    """The planned network: stops (the transit_stops layer, metric) and routes."""

    seed: int
    stops: gpd.GeoDataFrame  # stop_id, name, mode, routes, geometry (EPSG:32643)
    routes: list[DemoRoute]
    details: dict[str, Any] = field(default_factory=dict)
    _tables: dict[str, pd.DataFrame] | None = field(default=None, repr=False)


@dataclass
class _Graph:
    """The drivable streets as a directed graph (both directions of every segment)."""

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    name: np.ndarray
    highway: np.ndarray
    keys: np.ndarray  # u * n + v, sorted (the arrays above are in this order)

    @property
    def n(self) -> int:
        return len(self.x)

    def edge(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.keys, np.asarray(a) * self.n + np.asarray(b))

    def csr(self, factor: np.ndarray) -> csr_matrix:
        return csr_matrix((self.length * factor, (self.u, self.v)), shape=(self.n, self.n))


def _graph(streets: gpd.GeoDataFrame) -> _Graph:
    drivable = streets[streets.highway.isin(list(STREET_COST)).to_numpy()]
    drivable = drivable[drivable.source_node.to_numpy() != drivable.target_node.to_numpy()]
    ids, inverse, x, y = street_nodes(drivable)
    m = len(drivable)
    frame = pd.DataFrame(
        {
            "u": np.concatenate([inverse[:m], inverse[m:]]),
            "v": np.concatenate([inverse[m:], inverse[:m]]),
            "length": np.tile(drivable.length_m.to_numpy(float), 2),
            "name": np.tile(drivable["name"].fillna("").to_numpy(object), 2),
            "highway": np.tile(drivable.highway.to_numpy(object), 2),
        }
    )
    # one edge per ordered pair (the shortest), in key order: row order does not matter
    frame = frame.sort_values(["u", "v", "length", "name"], kind="stable")
    frame = frame.drop_duplicates(["u", "v"]).reset_index(drop=True)
    u, v = frame.u.to_numpy(np.int64), frame.v.to_numpy(np.int64)
    return _Graph(
        x=x,
        y=y,
        u=u,
        v=v,
        length=frame.length.to_numpy(float),
        name=frame["name"].to_numpy(object),
        highway=frame.highway.to_numpy(object),
        keys=u * len(ids) + v,
    )


def _tree_lengths(graph: _Graph, pred: np.ndarray, origin: int) -> np.ndarray:
    """Metres from the origin along the shortest-path tree (pointer jumping: the tree was
    grown on costs, the route's length is in metres); inf where unreachable."""
    has = pred >= 0
    step = np.zeros(graph.n)
    step[has] = graph.length[graph.edge(pred[has], np.nonzero(has)[0])]
    total, jump = step.copy(), np.where(has, pred, -1)
    while (jump >= 0).any():
        live = jump >= 0
        target = jump[live]
        total[live] = total[live] + total[target]
        new_jump = np.full_like(jump, -1)
        new_jump[live] = jump[target]
        jump = new_jump
    total[~has] = np.inf
    total[origin] = 0.0
    return total


def _path(pred: np.ndarray, origin: int, destination: int) -> np.ndarray:
    nodes = [destination]
    while nodes[-1] != origin:
        nodes.append(int(pred[nodes[-1]]))
    return np.asarray(nodes[::-1], dtype=np.int64)


class _Planner:
    """Routes over the street graph, stopping at the stops on their way."""

    def __init__(self, graph: _Graph, stops: gpd.GeoDataFrame) -> None:
        self.graph = graph
        self.stops = stops
        spec = figures()["transit"]
        self.brt_street = spec["brt_street"]
        self.trolley_streets = list(spec["trolleybus_streets"])
        self.min_gap = float(spec["feed"]["min_stop_gap_m"])
        xy = shapely.get_coordinates(stops.geometry.values)
        surface = (stops["mode"] != "metro").to_numpy()
        distance, node = cKDTree(np.column_stack([graph.x, graph.y])).query(xy)
        # streets cut off from the city's network (a few short pieces at its edge) get no route
        _, component = connected_components(graph.csr(np.ones(len(graph.u))), directed=False)
        main = np.argmax(np.bincount(component))
        reachable = surface & (distance <= SNAP_M) & (component[node] == main)
        self.stop_node = np.where(reachable, node, -1)
        self.node_stops: dict[int, list[int]] = {}
        for index in np.nonzero(self.stop_node >= 0)[0]:
            self.node_stops.setdefault(int(self.stop_node[index]), []).append(int(index))
        self.stop_nodes = np.asarray(sorted(self.node_stops), dtype=np.int64)
        self.served = np.zeros(len(stops), dtype=bool)
        cost = np.asarray([STREET_COST[h] for h in graph.highway])
        on_brt = graph.name == self.brt_street
        on_trolley = np.isin(graph.name, self.trolley_streets)
        self.cost = {
            "bus": graph.csr(cost * np.where(on_brt, 2.0, 1.0)),
            "trolleybus": graph.csr(cost * np.where(on_trolley, 1.0, OFF_CORRIDOR_COST)),
            "brt": graph.csr(cost * np.where(on_brt, 1.0, OFF_CORRIDOR_COST)),
        }

    def search(self, mode: str, origin: int) -> tuple[np.ndarray, np.ndarray]:
        _, pred = dijkstra(self.cost[mode], indices=origin, return_predecessors=True)
        return pred, _tree_lengths(self.graph, pred, origin)

    def corner(self, stop: int, street: str) -> str | None:
        """The main street crossing `street` where the stop stands (its terminal's name)."""
        graph, node = self.graph, self.stop_node[stop]
        lo, hi = np.searchsorted(graph.u, [node, node + 1])
        others = sorted(
            (STREET_COST[h], n) for n, h in zip(graph.name[lo:hi], graph.highway[lo:hi]) if n
        )
        return next((n for _, n in others if n != street), None)

    def place(self, stop: int, street: str) -> str:
        other = self.corner(stop, street)
        return f"{street} / {other}" if other else street

    def street_stops(self, street: str) -> np.ndarray:
        """The stops of one street that a route can reach."""
        names = self.stops["name"].to_numpy(object)
        found = np.nonzero((names == f"{street} stop") & (self.stop_node >= 0))[0]
        return found

    def ride(
        self, path: np.ndarray, first: int | None = None, last: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stops along a node path (at least `min_gap` apart, both terminals kept; `first`
        and `last` name the terminal stops where two stand at one corner), their distances
        along it (m) and the path's shape."""
        graph = self.graph
        edges = graph.edge(path[:-1], path[1:])
        along = np.concatenate([[0.0], np.cumsum(graph.length[edges])])
        names = graph.name[edges]
        chosen, at = [], []
        for k, node in enumerate(path):
            here = self.node_stops.get(int(node))
            if not here:
                continue
            street = names[k - 1] if k > 0 else names[0]
            pick = next((i for i in here if self.stops["name"].iat[i] == f"{street} stop"), here[0])
            end = k == len(path) - 1
            if k == 0 and first is not None:
                pick = first
            if end and last is not None:
                pick = last
            if chosen and along[k] - at[-1] < self.min_gap and not end:
                continue
            if end and len(chosen) > 1 and along[k] - at[-1] < self.min_gap / 2:
                chosen.pop()
                at.pop()
            chosen.append(pick)
            at.append(along[k])
        shape = np.column_stack([graph.x[path], graph.y[path]])
        return np.asarray(chosen, dtype=np.int64), np.asarray(at), shape


def _canonical(stops: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Stops in an order that does not depend on how they were read (name, then place)."""
    xy = shapely.get_coordinates(stops.geometry.values)
    frame = gpd.GeoDataFrame(
        {
            "name": stops["name"].fillna("").astype(str).to_numpy(),
            "mode": stops["mode"].astype(str).to_numpy(),
            "_x": np.round(xy[:, 0], 1),
            "_y": np.round(xy[:, 1], 1),
        },
        geometry=stops.geometry.values,
        crs=stops.crs,
    )
    frame = frame.sort_values(["name", "_x", "_y"], kind="stable").reset_index(drop=True)
    return frame.drop(columns=["_x", "_y"])


def _headways(mode: str, position: float, night: bool) -> dict[str, dict[str, float]]:
    """Headway (minutes) by service and period; `position` in [0, 1] places a route in the
    configured [best, worst] band of its mode (the same place in every period)."""
    feed = figures()["transit"]["feed"]
    weekday: dict[str, float] = {}
    for period, value in feed["headway_min"][mode].items():
        if period == "night" and mode == "bus" and not night:
            continue
        low, high = (value, value) if np.isscalar(value) else value
        weekday[period] = float(np.round(low + position * (high - low)))
    saturday = {p: weekday[feed["saturday"]] if p in PEAKS else h for p, h in weekday.items()}
    factor = float(feed["sunday_factor"])
    sunday = {p: float(np.round(h * factor)) for p, h in saturday.items()}
    return {"weekday": weekday, "saturday": saturday, "sunday": sunday}


def _hours(mode: str, night: bool) -> tuple[float, float]:
    feed = figures()["transit"]["feed"]
    start, end = feed["service_hours"]["metro" if mode == "metro" else "surface"]
    if night:
        end = feed["periods"]["night"][1]
    return float(start), float(end)


def demo_transit(
    streets: gpd.GeoDataFrame, stops: gpd.GeoDataFrame, seed: int, scale: str | None = None
) -> DemoTransit:
    """Plan the demo's routes on its streets (metric CRS) through its stops (the
    transit_stops layer: name, mode; `routes` is recomputed), deterministic for the seed."""
    spec = figures()["transit"]
    feed = spec["feed"]
    rng = stream(seed, "gtfs")
    stops = _canonical(stops.to_crs(METRIC_CRS) if stops.crs else stops)
    graph = _graph(streets.to_crs(METRIC_CRS) if streets.crs else streets)
    planner = _Planner(graph, stops)
    routes: list[DemoRoute] = []

    # the metro: its stations in the line's order (almaty.yml)
    names = stops["name"].to_numpy(object)
    stations = [
        int(np.nonzero(names == f"{s['name']} metro station")[0][0])
        for s in spec["metro"]["stations"]
        if (names == f"{s['name']} metro station").any()
    ]
    if len(stations) >= 2:
        xy = shapely.get_coordinates(stops.geometry.values[stations])
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        first, last = (spec["metro"]["stations"][k]["name"] for k in (0, -1))
        routes.append(
            DemoRoute(
                "M001",
                "Line 1",
                f"Line 1: {first} – {last}",
                "metro",
                np.asarray(stations),
                along,
                xy,
                _headways("metro", 0.0, False),
                _hours("metro", False),
            )
        )
        planner.served[stations] = True

    def corridor(mode: str, short: str, origin: int, destination: int) -> None:
        pred, _ = planner.search(mode, int(planner.stop_node[origin]))
        if pred[planner.stop_node[destination]] < 0:
            return
        path = _path(pred, int(planner.stop_node[origin]), int(planner.stop_node[destination]))
        served, at, shape = planner.ride(path, origin, destination)
        if len(served) < 2:
            return
        planner.served[served] = True
        street, other = (names[served[k]].removesuffix(" stop") for k in (0, -1))
        if street == other:  # along one street: name it by the streets at its two ends
            ends = (planner.corner(int(served[k]), street) for k in (0, -1))
            long_name = f"{street}: " + " – ".join(e or street for e in ends)
        else:
            long_name = f"{planner.place(int(served[0]), street)} – "
            long_name += planner.place(int(served[-1]), other)
        routes.append(
            DemoRoute(
                f"{ROUTE_LETTER[mode]}{sum(r.mode == mode for r in routes) + 1:03d}",
                short,
                long_name,
                mode,
                served,
                at,
                shape,
                _headways(mode, 0.0, False),
                _hours(mode, False),
            )
        )

    def ends(street: str) -> tuple[int, int] | None:
        found = planner.street_stops(street)
        if len(found) < 2:
            return None
        xy = shapely.get_coordinates(stops.geometry.values[found])
        far = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        a, b = np.unravel_index(np.argmax(far), far.shape)
        a, b = sorted((int(found[a]), int(found[b])))
        return a, b

    brt = ends(planner.brt_street)
    if brt:
        corridor("brt", "BRT 1", *brt)

    # trolleybuses: one route along each trolleybus street, then routes turning from one
    # street onto another (S2 l.945 footnote 28: Abai, Seifullin, Tole bi ...)
    streets_ends = [ends(s) for s in planner.trolley_streets]
    count = int(spec["trolleybus_routes"])
    xy_all = shapely.get_coordinates(stops.geometry.values)
    for k in range(count):
        n_streets = len(streets_ends)
        one = streets_ends[k % n_streets]
        if one is None:
            continue
        if k < n_streets:
            corridor("trolleybus", f"T{k + 1}", *one)
            continue
        other = streets_ends[(k + 2) % n_streets]
        if other is None:
            continue

        def farther(pair: tuple[int, int], away: tuple[int, int]) -> int:
            gap = [min(np.hypot(*(xy_all[p] - xy_all[q])) for q in away) for p in pair]
            return pair[int(np.argmax(gap))]

        corridor("trolleybus", f"T{k + 1}", farther(one, other), farther(other, one))

    routes.extend(_bus_routes(planner, names, rng, int(spec["bus_routes"]), feed))

    # what each stop is served by: the layer and the feed agree
    served_by: dict[int, set[str]] = {}
    for route in routes:
        for stop in route.stops:
            served_by.setdefault(int(stop), set()).add(route.short_name)
    keep = np.asarray(sorted(served_by), dtype=np.int64)
    dropped = len(stops) - len(keep)
    if dropped:
        log.info("demo transit: %d stop(s) on no route's way left out", dropped)
    renumber = np.full(len(stops), -1, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    mode_of: dict[int, str] = {}
    for route in sorted(routes, key=lambda r: MODE_RANK[r.mode], reverse=True):
        for stop in route.stops:
            mode_of[int(stop)] = route.mode
    layer = stops.iloc[keep].reset_index(drop=True)
    layer["mode"] = [mode_of[int(s)] for s in keep]
    layer["routes"] = [", ".join(sorted(served_by[int(s)], key=_natural)) for s in keep]
    layer.insert(0, "stop_id", [f"S{k + 1:05d}" for k in range(len(keep))])
    for route in routes:
        route.stops = renumber[route.stops]
    bus = np.asarray([r.length_km for r in routes if r.mode == "bus"])
    details = {
        "seed": seed,
        "scale": scale,
        "stops": len(layer),
        "stops_left_out": dropped,
        "routes": {m: sum(r.mode == m for r in routes) for m in ROUTE_TYPE},
        "bus_routes_over_15_km": round(float((bus > 15).mean()), 4) if len(bus) else None,
        "bus_routes_up_to_10_km": round(float((bus <= 10).mean()), 4) if len(bus) else None,
    }
    log.info("demo transit: %s", details)
    return DemoTransit(seed=seed, stops=layer, routes=routes, details=details)


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _bus_routes(
    planner: _Planner, names: np.ndarray, rng: np.random.Generator, count: int, feed: dict
) -> list[DemoRoute]:
    """`count` bus routes whose lengths fall in the programme's bands: each from a stop
    (one no route serves yet, while there are any) to the stop whose street distance is
    nearest a length drawn in its band, again preferring unserved stops."""
    n_long = int(round(feed["long_share"] * count))
    n_short = int(np.floor(feed["short_share"] * count))
    bands = ["long"] * n_long + ["short"] * n_short + ["middle"] * (count - n_long - n_short)
    bands = list(rng.permutation(bands))
    night = set(
        rng.choice(n_long, size=min(int(feed["night_routes"]), n_long), replace=False).tolist()
    )
    reachable = np.nonzero(planner.stop_node >= 0)[0]
    node_of = planner.stop_node
    routes: list[DemoRoute] = []
    pairs: set[tuple[int, int]] = set()
    long_seen = 0
    with progress("demo bus routes", total=count, unit="route") as bar:
        for number, band in enumerate(bands, start=1):
            low, high = feed["length_km"][band]
            target = rng.uniform(low, high) * 1000
            tolerance = min(750.0, (high - low) * 500)
            for attempt in range(40):
                fresh = reachable[~planner.served[reachable]]
                pool = fresh if len(fresh) and attempt < 20 else reachable
                first = int(pool[rng.integers(len(pool))])
                origin = int(node_of[first])
                pred, metres = planner.search("bus", origin)
                length = metres[node_of[reachable]]
                fits = reachable[
                    (np.abs(length - target) <= tolerance)
                    & (length >= low * 1000)
                    & (length <= high * 1000)
                    & (node_of[reachable] != origin)
                ]
                fits = fits[[(origin, int(node_of[d])) not in pairs for d in fits]]
                if len(fits) == 0:
                    continue
                fresh_fits = fits[~planner.served[fits]]
                pool = fresh_fits if len(fresh_fits) else fits
                last = int(pool[rng.integers(len(pool))])
                destination = int(node_of[last])
                path = _path(pred, origin, destination)
                served, at, shape = planner.ride(path, first, last)
                if len(served) >= 2:
                    break
            else:
                raise RuntimeError(f"demo transit: no street path for a {band} bus route")
            pairs.add((origin, destination))
            pairs.add((destination, origin))
            planner.served[served] = True
            is_night = band == "long" and long_seen in night
            long_seen += band == "long"
            long_name = " – ".join(
                planner.place(int(served[k]), names[served[k]].removesuffix(" stop"))
                for k in (0, -1)
            )
            routes.append(
                DemoRoute(
                    f"B{number:03d}",
                    str(number),
                    long_name,
                    "bus",
                    served,
                    at,
                    shape,
                    _headways("bus", float(rng.random()), is_night),
                    _hours("bus", is_night),
                )
            )
            bar.update(1)
    return routes


# --- the timetable -------------------------------------------------------------------------


def _period_of(seconds: float, periods: dict[str, list[float]]) -> str | None:
    hour = seconds / 3600
    for name, (start, end) in periods.items():
        if start <= hour < end:
            return name
    return None


def _departures(route: DemoRoute, service: str, rng: np.random.Generator) -> np.ndarray:
    """First-stop departures (s) from the start of service to its end, at each period's
    headway; the first one offset by a random part of the first headway."""
    periods = figures()["transit"]["feed"]["periods"]
    table = route.headway_min[service]
    start, end = route.hours
    t = round(start * 3600)
    first = _period_of(t, periods)
    t += int(rng.integers(0, round(table.get(first, 10) * 60)))
    out = []
    while t < end * 3600:  # whole seconds: a departure's period is the one it is listed in
        period = _period_of(t, periods)
        headway = table.get(period) if period else None
        if headway is None:  # a period this route does not run in (night)
            break
        out.append(t)
        t += round(headway * 60)
    return np.asarray(out, dtype=np.int64)


def _offsets(route: DemoRoute, at: np.ndarray, speed_kmh: float) -> tuple[np.ndarray, ...]:
    """Arrival and departure at each stop after the first departure (s), at the mode's
    commercial speed (dwell included) with the dwell at each intermediate stop."""
    feed = figures()["transit"]["feed"]
    dwell = float(feed["dwell_s"][route.mode])
    total = at[-1] / (speed_kmh / 3.6)
    running = max(total - dwell * max(len(at) - 2, 0), 0.5 * total)
    run = running * np.diff(at) / max(at[-1], 1.0)
    arrival = np.concatenate([[0.0], np.cumsum(run + dwell) - dwell])
    departure = arrival + dwell
    departure[0], departure[-1] = 0.0, arrival[-1]
    arrival, departure = np.round(arrival).astype(np.int64), np.round(departure).astype(np.int64)
    for k in range(1, len(arrival)):  # strictly later than the stop before
        arrival[k] = max(arrival[k], departure[k - 1] + 1)
        departure[k] = max(departure[k], arrival[k])
    departure[-1] = arrival[-1]
    return arrival, departure


def feed_tables(transit: DemoTransit) -> dict[str, pd.DataFrame]:
    """The GTFS tables of the demo's network as written, but times in seconds (stop_times'
    arrival_s and departure_s)."""
    tables = _tables(transit)
    times = tables["stop_times"]
    tables["stop_times"] = pd.DataFrame(
        {
            "trip_id": tables["trips"]["trip_id"].to_numpy(object)[times.trip.to_numpy()],
            "arrival_s": times.arrival_s,
            "departure_s": times.departure_s,
            "stop_id": tables["stops"]["stop_id"].to_numpy(object)[times.stop.to_numpy()],
            "stop_sequence": times.stop_sequence,
        }
    )
    return tables


def _tables(transit: DemoTransit) -> dict[str, pd.DataFrame]:
    """The tables, stop_times with row numbers of trips and stops (`trip`, `stop`): writing
    1.8 million ids as text is the slow part, done once per trip and stop instead. Made once
    per network (the writer and feed_tables share them)."""
    if transit._tables is None:
        transit._tables = _make_tables(transit)
    return dict(transit._tables)


def _make_tables(transit: DemoTransit) -> dict[str, pd.DataFrame]:
    feed = figures()["transit"]["feed"]
    periods = feed["periods"]
    rng = stream(transit.seed, "gtfs-timetable")
    stops = transit.stops
    lonlat = to_lonlat(shapely.get_coordinates(stops.geometry.values))
    stop_ids = stops["stop_id"].to_numpy(object)
    tables: dict[str, pd.DataFrame] = {}
    tables["agency"] = pd.DataFrame(
        {
            "agency_id": ["metro", "surface"],
            "agency_name": [feed["agencies"]["metro"], feed["agencies"]["surface"]],
            "agency_url": [PUBLISHER_URL, PUBLISHER_URL],
            "agency_timezone": [TIMEZONE, TIMEZONE],
            "agency_lang": ["en", "en"],
        }
    )
    tables["stops"] = pd.DataFrame(
        {
            "stop_id": stop_ids,
            "stop_name": stops["name"].to_numpy(object),
            "stop_lat": np.round(lonlat[:, 1], 7),
            "stop_lon": np.round(lonlat[:, 0], 7),
            "location_type": 0,
            # metro and BRT stations are step-free (lifts, level boarding); of the bus and
            # trolleybus stops the demo knows nothing (0, unknown: open to a wheelchair)
            "wheelchair_boarding": np.where(stops["mode"].isin(["metro", "brt"]), 1, 0),
        }
    )
    tables["routes"] = pd.DataFrame(
        {
            "route_id": [r.route_id for r in transit.routes],
            "agency_id": ["metro" if r.mode == "metro" else "surface" for r in transit.routes],
            "route_short_name": [r.short_name for r in transit.routes],
            "route_long_name": [r.long_name for r in transit.routes],
            "route_desc": [f"synthetic {r.mode}, {r.length_km:.1f} km" for r in transit.routes],
            "route_type": [ROUTE_TYPE[r.mode] for r in transit.routes],
            "route_color": [ROUTE_COLOR[r.mode] for r in transit.routes],
            "route_text_color": "FFFFFF",
        }
    )
    shapes, trips = [], []
    trip_of, arrivals, departures, stop_of, sequence = [], [], [], [], []
    speeds = feed["speed_kmh"]
    trip_count = 0
    for route in transit.routes:
        for direction in (0, 1):
            order = slice(None) if direction == 0 else slice(None, None, -1)
            shape = route.shape[order]
            keep = np.concatenate([[True], np.any(np.diff(shape, axis=0) != 0, axis=1)])
            shape = shape[keep]
            shape_m = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(shape, axis=0).T))])
            shape_lonlat = to_lonlat(shape)
            shape_id = f"{route.route_id}-{direction}"
            shapes.append(
                pd.DataFrame(
                    {
                        "shape_id": shape_id,
                        "shape_pt_lat": np.round(shape_lonlat[:, 1], 6),
                        "shape_pt_lon": np.round(shape_lonlat[:, 0], 6),
                        "shape_pt_sequence": np.arange(1, len(shape) + 1),
                        "shape_dist_traveled": np.round(shape_m / 1000, 4),
                    }
                )
            )
            served = route.stops[order]
            at = route.stop_m if direction == 0 else route.stop_m[-1] - route.stop_m[::-1]
            base = float(speeds[route.mode])
            slow = base * float(feed["peak_speed_factor"].get(route.mode, 1.0))
            variants = {speed: _offsets(route, at, speed) for speed in {base, slow}}
            headsign = stops["name"].iat[served[-1]].removesuffix(" stop")
            for service, code in SERVICES.items():
                starts = _departures(route, service, rng)
                if len(starts) == 0:
                    continue
                prefix = f"{route.route_id}-{code}{direction}-"
                trips.append(
                    (
                        route.route_id,
                        service,
                        [f"{prefix}{k + 1:03d}" for k in range(len(starts))],
                        headsign,
                        direction,
                        shape_id,
                    )
                )
                hour = starts / 3600
                peak = np.zeros(len(starts), dtype=bool)
                if service == "weekday":
                    for name in PEAKS:
                        peak |= (hour >= periods[name][0]) & (hour < periods[name][1])
                speed_of = np.where(peak, slow, base)
                arrival = np.empty((len(starts), len(served)), dtype=np.int64)
                departure = np.empty_like(arrival)
                for speed in {base, slow}:
                    mask = speed_of == speed
                    arr, dep = variants[speed]
                    arrival[mask] = starts[mask, None] + arr[None, :]
                    departure[mask] = starts[mask, None] + dep[None, :]
                trip_of.append(np.repeat(np.arange(len(starts)) + trip_count, len(served)))
                trip_count += len(starts)
                arrivals.append(arrival.ravel())
                departures.append(departure.ravel())
                stop_of.append(np.tile(served, len(starts)))
                sequence.append(np.tile(np.arange(1, len(served) + 1), len(starts)))
    trip_frame = pd.DataFrame(
        [
            (route_id, service, trip_id, headsign, direction, shape_id)
            for route_id, service, ids, headsign, direction, shape_id in trips
            for trip_id in ids
        ],
        columns=["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"],
    )
    tables["trips"] = trip_frame
    tables["stop_times"] = pd.DataFrame(
        {
            "trip": np.concatenate(trip_of),
            "arrival_s": np.concatenate(arrivals),
            "departure_s": np.concatenate(departures),
            "stop": np.concatenate(stop_of),
            "stop_sequence": np.concatenate(sequence),
        }
    )
    tables["shapes"] = pd.concat(shapes, ignore_index=True)
    first, last = (_as_date(d) for d in feed["calendar"])
    tables["calendar"] = pd.DataFrame(
        {
            "service_id": list(SERVICES),
            "monday": [1, 0, 0],
            "tuesday": [1, 0, 0],
            "wednesday": [1, 0, 0],
            "thursday": [1, 0, 0],
            "friday": [1, 0, 0],
            "saturday": [0, 1, 0],
            "sunday": [0, 0, 1],
            "start_date": first.strftime("%Y%m%d"),
            "end_date": last.strftime("%Y%m%d"),
        }
    )
    tables["calendar_dates"] = _holidays(first, last, feed["holidays"])
    tables["feed_info"] = pd.DataFrame(
        {
            "feed_publisher_name": [PUBLISHER],
            "feed_publisher_url": [PUBLISHER_URL],
            "feed_lang": ["en"],
            "feed_start_date": [first.strftime("%Y%m%d")],
            "feed_end_date": [last.strftime("%Y%m%d")],
            "feed_version": [
                f"demo seed {transit.seed}"
                + (f", scale {transit.details['scale']}" if transit.details.get("scale") else "")
            ],
        }
    )
    return tables


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _holidays(first: date, last: date, month_days: list[str]) -> pd.DataFrame:
    """On a public holiday the Sunday service runs instead of the day's own."""
    rows = []
    for year in range(first.year, last.year + 1):
        for month_day in month_days:
            day = date.fromisoformat(f"{year}-{month_day}")
            if not first <= day <= last or day.weekday() == 6:
                continue
            usual = "saturday" if day.weekday() == 5 else "weekday"
            stamp = day.strftime("%Y%m%d")
            rows += [(usual, stamp, 2), ("sunday", stamp, 1)]
    return pd.DataFrame(rows, columns=["service_id", "date", "exception_type"])


@lru_cache(maxsize=1)
def _clock_table() -> np.ndarray:
    """Every second of a service day and the night after it (to 48:00) as 'HH:MM:SS'."""
    seconds = np.arange(48 * 3600)
    return np.char.add(
        np.char.add(
            np.char.zfill((seconds // 3600).astype("S2"), 2),
            np.char.add(b":", np.char.zfill((seconds % 3600 // 60).astype("S2"), 2)),
        ),
        np.char.add(b":", np.char.zfill((seconds % 60).astype("S2"), 2)),
    )


def _fixed_width_csv(header: str, columns: list[np.ndarray]) -> bytes:
    """CSV rows of fixed-width ASCII fields (bytes arrays whose every value fills its width)
    as one byte string: 1.8 million stop times in well under a second, where to_csv takes
    ten times longer."""
    rows = len(columns[0])
    parts = []
    for k, column in enumerate(columns):
        column = np.ascontiguousarray(column)
        cells = column.view(np.uint8).reshape(rows, column.itemsize)
        if rows and (cells == 0).any():
            raise ValueError("a fixed-width column has values shorter than its width")
        parts.append(cells)
        parts.append(np.full((rows, 1), ord("," if k < len(columns) - 1 else "\n"), np.uint8))
    return (header + "\n").encode() + np.hstack(parts).tobytes()


def write_demo_feed(transit: DemoTransit, path: Path | str) -> Path:
    """Write the network as a GTFS zip at `path` (replaced whole: written beside it, then
    renamed), and return the path."""
    path = Path(path)
    tables = _tables(transit)
    stop_times = tables.pop("stop_times")
    trip_ids = tables["trips"]["trip_id"].to_numpy().astype("S")
    stop_ids = tables["stops"]["stop_id"].to_numpy().astype("S")
    clock = _clock_table()
    sequence = stop_times.stop_sequence.to_numpy()
    if sequence.max() > 999:
        raise ValueError("a trip with more than 999 stops")
    stop_times_csv = _fixed_width_csv(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence",
        [
            trip_ids[stop_times.trip.to_numpy()],
            clock[stop_times.arrival_s.to_numpy()],
            clock[stop_times.departure_s.to_numpy()],
            stop_ids[stop_times.stop.to_numpy()],
            np.char.zfill(sequence.astype("S3"), 3),
        ],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, frame in tables.items():
                zf.writestr(f"{name}.txt", frame.to_csv(index=False, lineterminator="\n"))
            zf.writestr("stop_times.txt", stop_times_csv)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    log.info(
        "demo transit feed %s: %d stops, %d routes, %d trips, %d stop times",
        path,
        len(tables["stops"]),
        len(tables["routes"]),
        len(tables["trips"]),
        len(stop_times),
    )
    return path

"""Bikes and e-scooters on the street network: who reaches how much of the city in 15 minutes.

Modes (`RIDE_MODES`, every figure stated; docs/micromobility.md gives the sources):
- bike: 15 km/h on the level, 18 km/h on a bike lane; uphill 1 km/h slower per 1% of grade,
  downhill 0.5 km/h faster per 1%, between 5 km/h (the bike walked up) and 25 km/h (downhill
  cap). Our choice, in the range of urban commuter speeds.
- scooter: 15 km/h on the level, 20 km/h on a bike lane; the Kazakh law (amendments to the
  road-traffic law signed 29 June 2023) caps an e-scooter at 25 km/h, lets it ride bike lanes
  and shoulders freely and sidewalks at most 6 km/h. Uphill 0.5 km/h slower per 1%; over 15%
  (rental scooters' rated climb, our assumption) it is pushed at walking pace (4.8 km/h); no
  gain downhill (the speed limiter).
Streets: no steps for either; motorways and arterials (OSM motorway/trunk) only where a bike lane
runs along them; footways, pedestrian streets and paths at 6 km/h (the sidewalk speed of the
law, among walkers), unless a lane (a bike path) runs there.
Lanes are faster (above) and preferred: a rider's route (`ride_route`) weighs minutes off a lane
by `OFF_LANE_FACTOR`; the reach per cell counts the fastest ride (an upper bound of what riders
choosing lanes reach).
Trip ends: a bike rides door to door (the place's snap walked at 4.8 km/h, like walking); a
scooter trip walks to a scooter parking spot, rides to another and walks on (1 minute to unlock
and park), or is walked entirely when that is quicker.
Per H3 cell (the 15-minute cells): the share of the city's residents, and of its cells, whose
cell centre is reached within 15 minutes - by bike with today's lanes and with the 2025 and 2030
lane plans, and by scooter. The network is first contracted (chains of two-way segments through
nodes of degree two become one arc) so the thousands of per-cell searches stay short.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import CityModel
from twin.analysis.network import FLAT_METRES_PER_MINUTE, MIN_COST, WalkingNetwork
from twin.errors import InvalidParameter
from twin.sqlfiles import query

LOG = logging.getLogger("twin.mobility.micromobility")

REACH_MINUTES = 15.0
LANE_PLANS = ("built", "planned_2025", "planned_2030")  # bike_lanes.status, in plan order
PLAN_NAMES = {"today": 0, "2025": 1, "2030": 2}  # lanes of rank <= value exist in the plan
LANE_REACH_M = 15.0  # a lane within 15 m of a segment runs along it (a track beside the road)
LANE_COVER = 0.5  # ... over at least half of the segment's length
OFF_LANE_FACTOR = 1.25  # a rider counts a minute off a lane as 1.25 minutes when choosing
SCOOTER_HANDLING_MIN = 1.0  # unlock and park
FAST_ROADS = ("motorway", "arterial")  # OSM motorway/trunk: only with a lane
SHARED_WAYS = ("footway", "pedestrian", "path")  # among walkers: the sidewalk speed
SIDEWALK_KMH = 6.0  # Kazakh road-traffic law (2023): e-scooters on sidewalks at most 6 km/h
CHUNK = 256  # sources per batch of Dijkstra searches


class MicromobilityInputError(InvalidParameter):
    """A ride asked for in a way the twin cannot answer (400)."""


@dataclass(frozen=True)
class RideMode:
    """How one kind of rider moves: speeds in km/h and slope response per 1% of grade."""

    name: str
    level_kmh: float
    lane_kmh: float
    uphill_loss: float  # km/h lost per 1% uphill
    downhill_gain: float  # km/h gained per 1% downhill
    min_kmh: float
    max_kmh: float
    max_grade: float | None  # steeper uphill: pushed at min_kmh (None: no limit)


RIDE_MODES: dict[str, RideMode] = {
    "bike": RideMode("bike", 15.0, 18.0, 1.0, 0.5, 5.0, 25.0, None),
    "scooter": RideMode("scooter", 15.0, 20.0, 0.5, 0.0, 4.8, 25.0, 0.15),
}


def ride_mode(name: str) -> RideMode:
    """The mode called `name`, or a 400 naming the known ones."""
    if name not in RIDE_MODES:
        raise MicromobilityInputError(
            f"unknown ride mode {name!r}; use one of {', '.join(RIDE_MODES)}"
        )
    return RIDE_MODES[name]


def ride_speed_kmh(mode: RideMode, grade: np.ndarray, lane: np.ndarray) -> np.ndarray:
    """Riding speed on each arc from its grade (rise over length, + uphill) and lane flag."""
    grade = np.nan_to_num(np.asarray(grade, float))
    level = np.where(np.asarray(lane, bool), mode.lane_kmh, mode.level_kmh)
    percent = 100 * grade
    speed = np.where(
        grade > 0, level - mode.uphill_loss * percent, level - mode.downhill_gain * percent
    )
    speed = np.clip(speed, mode.min_kmh, mode.max_kmh)
    if mode.max_grade is None:
        return speed
    return np.where(grade > mode.max_grade, mode.min_kmh, speed)


@dataclass
class Segments:
    """What a rider needs to know of each network segment (aligned with the network's edges)."""

    highway: np.ndarray  # street class (layers/streets.yml)
    lane_rank: np.ndarray  # earliest lane plan covering it (index into LANE_PLANS), -1 none
    steps: np.ndarray  # a stairway

    def lane(self, plan: str) -> np.ndarray:
        if plan not in PLAN_NAMES:
            raise MicromobilityInputError(
                f"unknown lane plan {plan!r}; use one of {', '.join(PLAN_NAMES)}"
            )
        return (self.lane_rank >= 0) & (self.lane_rank <= PLAN_NAMES[plan])


def ride_arcs(
    network: WalkingNetwork, segments: Segments, mode: RideMode, plan: str = "today"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Directed arcs (both ways along every segment the mode may use): u, v, minutes ridden,
    and whether the arc runs on a lane."""
    lane = segments.lane(plan)
    highway = np.asarray(segments.highway, dtype=object)
    allowed = ~np.asarray(segments.steps, bool) & (lane | ~np.isin(highway, FAST_ROADS))
    u = np.concatenate([network.edge_u, network.edge_v])
    v = np.concatenate([network.edge_v, network.edge_u])
    length = np.tile(network.edge_length, 2)
    on_lane = np.tile(lane, 2)
    shared = np.tile(np.isin(highway, SHARED_WAYS) & ~lane, 2)
    keep = np.tile(allowed, 2)
    grade = np.zeros(len(u))
    if network.slope_aware:
        grade = (network.z[v] - network.z[u]) / np.maximum(length, 1e-6)
    speed = ride_speed_kmh(mode, grade, on_lane)
    speed = np.where(shared, np.minimum(speed, SIDEWALK_KMH), speed)
    minutes = length / (speed * 1000 / 60)
    return u[keep], v[keep], minutes[keep], on_lane[keep]


def _csr(n: int, u: np.ndarray, v: np.ndarray, cost: np.ndarray) -> sparse.csr_matrix:
    """CSR keeping the cheapest of parallel arcs."""
    order = np.lexsort((cost, v, u))
    u, v, cost = u[order], v[order], cost[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return sparse.csr_matrix(
        (np.maximum(cost[first], MIN_COST), (u[first], v[first])), shape=(n, n)
    )


def ride_route(
    network: WalkingNetwork,
    segments: Segments,
    mode: str,
    source: int,
    target: int,
    plan: str = "today",
) -> tuple[list[int], float]:
    """The route a rider takes from node `source` to `target` (lanes preferred: minutes off a
    lane weigh OFF_LANE_FACTOR) as its nodes, and the minutes it takes to ride."""
    u, v, minutes, lane = ride_arcs(network, segments, ride_mode(mode), plan)
    weight = np.where(lane, minutes, minutes * OFF_LANE_FACTOR)
    _, pred = dijkstra(_csr(network.n, u, v, weight), indices=int(source), return_predecessors=True)
    if target != source and pred[target] < 0:
        raise MicromobilityInputError(f"no {mode} route from node {source} to node {target}")
    nodes = [int(target)]
    while nodes[-1] != source:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    # the ridden minutes of the chosen arcs (the fastest of parallel arcs on each step)
    time_of = _csr(network.n, u, v, minutes)
    ridden = sum(float(time_of[a, b]) for a, b in itertools.pairwise(nodes))
    return nodes, ridden


# -- contraction: chains through degree-two nodes become single arcs -----------------------


def contract(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    keep: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Undirected segments a-b with a cost each way; nodes touching exactly two segments and not
    in `keep` are removed, their two segments joined (costs summed each way), in rounds of
    non-adjacent nodes. Shortest costs between the remaining nodes are unchanged."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    forward, backward = np.asarray(forward, float), np.asarray(backward, float)
    fixed = np.zeros(n, dtype=bool)
    fixed[np.asarray(keep, np.int64)] = True
    rng = np.random.default_rng(0)
    priority = rng.random(n)
    for _ in range(200):
        degree = np.bincount(np.concatenate([a, b]), minlength=n)
        loops = a == b
        if loops.any():  # a loop never shortens a path
            a, b, forward, backward = a[~loops], b[~loops], forward[~loops], backward[~loops]
            continue
        candidate = (degree == 2) & ~fixed
        # a candidate is removed this round when no neighbouring candidate has a lower priority
        ends = np.concatenate([a, b])
        others = np.concatenate([b, a])
        rank = np.where(candidate, priority, np.inf)
        lowest = np.full(n, np.inf)
        np.minimum.at(lowest, ends, rank[others])
        chosen = candidate & (priority < lowest)
        if not chosen.any():
            break
        # each chosen node r: its two segments (x - r) and (r - y) become (x - y)
        side = np.concatenate([np.arange(len(a)), np.arange(len(a))])
        at = chosen[ends]
        node, seg, other = ends[at], side[at], others[at]
        order = np.argsort(node, kind="stable")
        node, seg, other = node[order], seg[order], other[order]
        first, second = seg[0::2], seg[1::2]
        x, y = other[0::2], other[1::2]
        r = node[0::2]
        # cost x->r along the first segment, r->y along the second, and back
        to_r = np.where(b[first] == r, forward[first], backward[first])
        from_r = np.where(a[first] == r, forward[first], backward[first])
        r_to_y = np.where(a[second] == r, forward[second], backward[second])
        y_to_r = np.where(b[second] == r, forward[second], backward[second])
        drop = np.zeros(len(a), dtype=bool)
        drop[first] = True
        drop[second] = True
        a = np.concatenate([a[~drop], x])
        b = np.concatenate([b[~drop], y])
        forward = np.concatenate([forward[~drop], to_r + r_to_y])
        backward = np.concatenate([backward[~drop], y_to_r + from_r])
    return a, b, forward, backward


def _segments_of_arcs(
    u: np.ndarray, v: np.ndarray, cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Directed arcs as undirected segments with a cost each way (inf where one way is absent;
    the cheapest of parallel arcs)."""
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    frame = pd.DataFrame({"a": lo, "b": hi, "fwd": np.where(u == lo, cost, np.inf)})
    frame["bwd"] = np.where(u == lo, np.inf, cost)
    frame = frame[frame.a != frame.b].groupby(["a", "b"], sort=False).min().reset_index()
    return (
        frame.a.to_numpy(np.int64),
        frame.b.to_numpy(np.int64),
        frame.fwd.to_numpy(float),
        frame.bwd.to_numpy(float),
    )


def _arcs_of_segments(
    a: np.ndarray, b: np.ndarray, forward: np.ndarray, backward: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, v = np.concatenate([a, b]), np.concatenate([b, a])
    cost = np.concatenate([forward, backward])
    ok = np.isfinite(cost)
    return u[ok], v[ok], cost[ok]


# -- reach per cell ------------------------------------------------------------------------


@dataclass
class Reach:
    """Per source cell: residents and cells reached within the limit (itself included)."""

    residents: np.ndarray
    cells: np.ndarray


def _count_reached(
    graph: sparse.csr_matrix,
    sources: np.ndarray,
    source_cost: np.ndarray,
    targets: list[tuple[np.ndarray, np.ndarray]],
    weights: np.ndarray,
    limit: float,
) -> Reach:
    """For each source node (with its start cost), the weight and number of targets reached
    within `limit`; a target is reached at any of its (node, extra cost) pairs."""
    residents = np.zeros(len(sources))
    cells = np.zeros(len(sources), dtype=np.int64)
    for start in range(0, len(sources), CHUNK):
        rows = slice(start, start + CHUNK)
        budget = limit - source_cost[rows]
        cost = dijkstra(graph, indices=sources[rows], limit=max(float(budget.max()), 0.0))
        best = np.full((cost.shape[0], len(weights)), np.inf)
        for node, extra in targets:
            np.minimum(best, cost[:, node] + extra, out=best)
        reached = best <= budget[:, None]
        residents[rows] = reached @ weights
        cells[rows] = reached.sum(axis=1)
    return Reach(residents, cells)


def bike_reach(
    network: WalkingNetwork,
    segments: Segments,
    cell_node: np.ndarray,
    cell_snap_m: np.ndarray,
    cell_residents: np.ndarray,
    plan: str = "today",
    limit: float = REACH_MINUTES,
) -> Reach:
    """Residents and cells each cell reaches by bike within `limit` minutes, door to door (the
    snap walked at the flat walking speed at both ends)."""
    u, v, minutes, _ = ride_arcs(network, segments, RIDE_MODES["bike"], plan)
    a, b, fwd, bwd = contract(network.n, *_segments_of_arcs(u, v, minutes), keep=cell_node)
    nodes, index = np.unique(np.concatenate([a, b, cell_node]), return_inverse=True)
    m = len(nodes)
    au, bv = index[: len(a)], index[len(a) : 2 * len(a)]
    at_cell = index[2 * len(a) :]
    graph = _csr(m, *_arcs_of_segments(au, bv, fwd, bwd))
    snap = np.asarray(cell_snap_m, float) / FLAT_METRES_PER_MINUTE
    return _count_reached(
        graph, at_cell, snap, [(at_cell, snap)], np.asarray(cell_residents, float), limit
    )


def scooter_reach(
    network: WalkingNetwork,
    segments: Segments,
    cell_node: np.ndarray,
    cell_snap_m: np.ndarray,
    cell_residents: np.ndarray,
    parking_node: np.ndarray,
    parking_snap_m: np.ndarray,
    limit: float = REACH_MINUTES,
) -> Reach:
    """Residents and cells each cell reaches within `limit` minutes by walking to a scooter
    parking spot, riding to another and walking on (or walking all the way): one search per
    cell over three layers - walk, ride, walk - joined at the parking spots."""
    walk_u, walk_v, walk_min, _ = network.arc_costs("slope")
    ride_u, ride_v, ride_min, _ = ride_arcs(network, segments, RIDE_MODES["scooter"], "today")
    parking_node = np.asarray(parking_node, np.int64)
    keep = np.concatenate([cell_node, parking_node])
    n = network.n
    layers = []
    for u, v, cost in ((walk_u, walk_v, walk_min), (ride_u, ride_v, ride_min)):
        a, b, fwd, bwd = contract(n, *_segments_of_arcs(u, v, cost), keep=keep)
        layers.append(_arcs_of_segments(a, b, fwd, bwd))
    (wu, wv, wc), (ru, rv, rc) = layers
    handling = SCOOTER_HANDLING_MIN / 2
    # nodes: walk before [0, n), ride [n, 2n), walk after [2n, 3n); the parking snap is walked
    parking_walk = np.asarray(parking_snap_m, float) / FLAT_METRES_PER_MINUTE
    u = np.concatenate([wu, ru + n, wu + 2 * n, parking_node, parking_node + n])
    v = np.concatenate([wv, rv + n, wv + 2 * n, parking_node + n, parking_node + 2 * n])
    cost = np.concatenate([wc, rc, wc, parking_walk + handling, parking_walk + handling])
    used, index = np.unique(
        np.concatenate([u, v, cell_node, cell_node + 2 * n]), return_inverse=True
    )
    k = len(u)
    graph = _csr(len(used), index[:k], index[k : 2 * k], cost)
    before = index[2 * k : 2 * k + len(cell_node)]
    after = index[2 * k + len(cell_node) :]
    snap = np.asarray(cell_snap_m, float) / FLAT_METRES_PER_MINUTE
    return _count_reached(
        graph,
        before,
        snap,
        [(before, snap), (after, snap)],
        np.asarray(cell_residents, float),
        limit,
    )


# -- the city: segments from the database, the cells' figures ---------------------------------


def load_segments(conn: psycopg.Connection, network: WalkingNetwork) -> Segments:
    """The network's segments with their class and lane plan (twin/sql/mobility/ride_segments:
    lanes matched to streets by a 15 m buffer over half the segment's length)."""
    rows = conn.execute(
        query("mobility/ride_segments"),
        {
            "statuses": list(LANE_PLANS),
            "reach_m": LANE_REACH_M,
            "reach_deg": LANE_REACH_M / 70000,  # a degree of longitude is ~81 km here
            "cover": LANE_COVER,
        },
    ).fetchall()
    streets = pd.DataFrame(rows, columns=["s", "t", "highway", "rank"])
    streets["rank"] = streets["rank"].fillna(-1).astype(np.int64)
    # the best (lowest-rank) lane of segments between the same two nodes
    streets["order"] = np.where(streets["rank"] < 0, 99, streets["rank"])
    streets = streets.sort_values("order", kind="stable").drop_duplicates(["s", "t"])
    edges = pd.DataFrame(
        {
            "s": network.node_ids[network.edge_u],
            "t": network.node_ids[network.edge_v],
        }
    )
    joined = edges.merge(streets, on=["s", "t"], how="left")
    steps = np.zeros(len(edges), dtype=bool)
    known = getattr(network, "edge_steps", None)
    if known is not None:
        from twin.analysis.profiles import STEPS

        steps = np.asarray(known) == STEPS.index("yes")
    return Segments(
        highway=joined["highway"].fillna("residential").to_numpy(dtype=object),
        lane_rank=joined["rank"].fillna(-1).to_numpy(np.int64),
        steps=steps,
    )


def parking_places(conn: psycopg.Connection, network: WalkingNetwork) -> pd.DataFrame:
    """Scooter parking spots snapped to the network, with whether each is in a duty zone."""
    rows = conn.execute(query("mobility/scooter_parking_points")).fetchall()
    frame = pd.DataFrame(rows, columns=["id", "x", "y", "in_zone"])
    if len(frame):
        frame["node"], frame["snap_m"] = network.snap_xy(
            frame.x.to_numpy(float), frame.y.to_numpy(float)
        )
    else:
        frame["node"], frame["snap_m"] = np.zeros(0, np.int64), np.zeros(0)
    return frame


def _place_access(network: WalkingNetwork, places: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each place's start node and the metres walked to it: the straight walk to its street and
    along the street to the nearer end (places met on a segment, network.Snapped), or the
    straight walk to the nearest node (places snapped to nodes)."""
    at = getattr(places, "at", None)
    if at is None:
        return np.asarray(places.node), np.asarray(places.snap_m, float)
    along = np.minimum(at.fraction, 1 - at.fraction) * network.edge_length[at.segment]
    return at.nearer_node, at.snap_m + along


def cell_reach(conn: psycopg.Connection, city: CityModel) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per cell: the share of the city's residents and of its cells reached within 15 minutes
    by bike (today's lanes, the 2025 and the 2030 plans) and by scooter; with what was
    computed (timings, counts) for the provenance."""
    started = time.perf_counter()
    network = city.network
    segments = load_segments(conn, network)
    parking = parking_places(conn, network)
    cells = city.cells
    cell_node, cell_walk_m = _place_access(network, city.cell_places)
    residents = cells["residents"].to_numpy(float)
    people = max(float(residents.sum()), 1.0)
    count = max(len(cells), 1)
    frame = cells[["h3", "district", "residents"]].copy()
    timings: dict[str, float] = {"segments": round(time.perf_counter() - started, 3)}
    for plan in PLAN_NAMES:
        clock = time.perf_counter()
        reach = bike_reach(network, segments, cell_node, cell_walk_m, residents, plan)
        suffix = "" if plan == "today" else f"_{plan}"
        frame[f"bike_share_residents{suffix}"] = np.round(reach.residents / people, 4)
        frame[f"bike_share_cells{suffix}"] = np.round(reach.cells / count, 4)
        timings[f"bike_{plan}"] = round(time.perf_counter() - clock, 3)
    clock = time.perf_counter()
    if len(parking):
        reach = scooter_reach(
            network,
            segments,
            cell_node,
            cell_walk_m,
            residents,
            parking.node.to_numpy(),
            parking.snap_m.to_numpy(),
        )
        frame["scooter_share_residents"] = np.round(reach.residents / people, 4)
        frame["scooter_share_cells"] = np.round(reach.cells / count, 4)
    else:
        frame["scooter_share_residents"] = np.nan
        frame["scooter_share_cells"] = np.nan
    timings["scooter"] = round(time.perf_counter() - clock, 3)
    lanes = {
        plan: round(float(network.edge_length[segments.lane(plan)].sum()) / 1000, 2)
        for plan in PLAN_NAMES
    }
    computed = {
        "minutes": REACH_MINUTES,
        "modes": {name: vars(mode) for name, mode in RIDE_MODES.items()},
        "lane_street_km": lanes,
        "parking_spots": int(len(parking)),
        "parking_in_duty_zones": int(parking["in_zone"].sum()) if len(parking) else 0,
        "timings_s": timings,
    }
    LOG.info("micromobility reach computed", extra={"fields": {"timings": timings}})
    return frame, computed


SHARE_COLUMNS = (
    "bike_share_residents",
    "bike_share_residents_2025",
    "bike_share_residents_2030",
    "scooter_share_residents",
)
PLAN_COLUMNS = {
    "today": "bike_share_residents",
    "2025": "bike_share_residents_2025",
    "2030": "bike_share_residents_2030",
}


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return round(float(values.median()), 4) if len(values) else None


def reach_summary(
    frame: pd.DataFrame,
    districts: list[str],
    lane_km: dict[str, float | None],
    computed: dict[str, Any],
) -> dict[str, Any]:
    """The indicators' micromobility member: the median per-cell share of residents reached in
    15 minutes for the city and each district (over the cells where people live: a mountain
    slope weighted like a block would mislead), and the bike-lane plans compared (today, +60 km
    by 2025, +125 km by 2030: lane km and the median share reached by bike, city and
    districts)."""
    lived = frame[frame["residents"] > 0]
    by_district = {name: lived[lived["district"] == name] for name in districts}

    def medians(part: pd.DataFrame) -> dict[str, float | None]:
        return {f"median_{c}": _median(part[c]) for c in SHARE_COLUMNS}

    plans = [
        {
            "plan": plan,
            "lane_km": lane_km.get(plan),
            "median_bike_share_residents": _median(lived[column]),
            "districts": {name: _median(part[column]) for name, part in by_district.items()},
        }
        for plan, column in PLAN_COLUMNS.items()
    ]
    return {
        "city": {"cells": int(len(frame)), "cells_with_residents": int(len(lived))}
        | medians(lived),
        "districts": [{"district": name} | medians(part) for name, part in by_district.items()],
        "bike_lane_plans": plans,
        "computed": computed,
    }

"""Walk + public transport minutes on the walking network: per node to the six categories
(the 15-minute figures by walk+PT), and from one point (the walk+PT isochrone).

Per node, one departure time T (`transit_access`):
- egress[c][t]: the walking-only minutes from stop t to the nearest amenity of category c
  (fifteen.node_access at the stop's node, plus the stop's own snap walk), kept when at most
  `max_walk` minutes (riders do not walk 25 minutes from a stop);
- stop_to_category[c][s] = min over stops t of (ride s → t leaving s at T, waits included,
  from raptor.travel_times) + egress[c][t]; the stop itself (t = s) is the walk from there;
- node minutes = min(walking-only, min over stops s within `max_walk` of the node of
  (walk node → s) + stop_to_category[c][s]). The node → stop walks are found once per network
  and timetable (a limited Dijkstra from every stop on the reversed graph, kept as sparse
  pairs), so each departure is array work only.
The approximation: every stop's ride starts at T, whatever the walk to it takes, as if the
rider left home early enough to be at the stop at T. A rider leaving home at T and walking w
minutes would board at T + w, so the waits differ by up to a headway; over a departure window
(12 departures, 08:00-09:00 every 5 minutes, the median per node as Conveyal reports it) the
difference averages out. `twin bench transit` measures it against `reach_from_point`, which
starts each point's ride at T + its own walk (exact).

From one point (`reach_from_point`): walk to every stop within `max_walk`, earliest arrival
with each stop's own start time, then one multi-source Dijkstra out from every reached stop
(offset by its arrival), and the minimum with walking only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import CATEGORIES, CityModel
from twin.analysis.fifteen import LIMIT_MINUTES, NodeAccess, node_access
from twin.analysis.network import FLAT_METRES_PER_MINUTE, WalkingNetwork
from twin.analysis.profiles import FLAT_SPEED_KMH, PROFILES
from twin.errors import InvalidParameter
from twin.transit.raptor import MAX_ROUNDS, earliest_arrival, travel_times
from twin.transit.timetable import Timetable

LOG = logging.getLogger("twin.transit.access")

MAX_WALK_MINUTES = 10.0  # the longest walk to a stop, and from the last stop
FOOTPATH_MINUTES = 5.0  # the longest walk between two stops to change vehicles
WINDOW = (8 * 3600, 9 * 3600, 5 * 60)  # 08:00-09:00 every 5 minutes: 12 departures
_CHUNK = 64  # stops per limited Dijkstra call (dense chunk × nodes float64)


def window_departures(start_s: int, end_s: int, step_s: int) -> np.ndarray:
    """Departure times of a window, its end left out (08:00-09:00 by 5 min → 12)."""
    if not start_s < end_s or step_s <= 0:
        raise InvalidParameter("a departure window needs start < end and a positive step")
    return np.arange(start_s, end_s, step_s, dtype=np.int64)


def stop_nodes(network: WalkingNetwork, tt: Timetable) -> tuple[np.ndarray, np.ndarray]:
    """Each stop's nearest node of the main walking network and its snap distance (m)."""
    return network.snap(tt.stop_lon, tt.stop_lat)


def _reach_pairs(
    network: WalkingNetwork,
    nodes: np.ndarray,
    mode: str,
    limit: float,
    *,
    towards: bool,
    columns: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source index, node, cost) for every node within `limit` of each source node, read in
    chunks of limited Dijkstra runs (only `columns` when given: stop-to-stop footpaths)."""
    graph = network.graph(mode, towards=towards)
    found_source, found_node, found_cost = [], [], []
    for first in range(0, len(nodes), _CHUNK):
        cost = dijkstra(graph, directed=True, indices=nodes[first : first + _CHUNK], limit=limit)
        if columns is not None:
            cost = cost[:, columns]
        row, col = np.nonzero(np.isfinite(cost))
        found_source.append(row + first)
        found_node.append(col if columns is None else columns[col])
        found_cost.append(cost[row, col])
    if not found_source:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return (
        np.concatenate(found_source).astype(np.int64),
        np.concatenate(found_node).astype(np.int64),
        np.concatenate(found_cost),
    )


def footpaths(
    network: WalkingNetwork,
    tt: Timetable,
    max_minutes: float = FOOTPATH_MINUTES,
    profile: str = "standard",
) -> pd.DataFrame:
    """Stop-to-stop walking transfers within `max_minutes` at the flat 4.8 km/h (the snap
    walks at both ends included): from_stop_id, to_stop_id, seconds for build_timetable.
    Another profile walks the same 400 m at most, on its own streets and at its own minutes
    (a wheelchair changes vehicles only along barrier-free streets)."""
    if profile != "standard":
        return _profile_footpaths(network, tt, max_minutes, profile)
    nodes, snap = stop_nodes(network, tt)
    limit_m = max_minutes * FLAT_METRES_PER_MINUTE
    unique_nodes, stops_at = np.unique(nodes, return_inverse=True)
    source, node, metres = _reach_pairs(
        network, unique_nodes, "length", limit_m, towards=False, columns=unique_nodes
    )
    position = np.searchsorted(unique_nodes, node)
    # expand node → node walks to every stop pair at those nodes
    by_node = pd.DataFrame({"node": stops_at, "stop": np.arange(tt.n_stops)})
    walks = pd.DataFrame({"from_node": source, "to_node": position, "metres": metres})
    walks = walks.merge(by_node.rename(columns={"node": "from_node", "stop": "from_stop"}))
    walks = walks.merge(by_node.rename(columns={"node": "to_node", "stop": "to_stop"}))
    walks = walks[walks.from_stop != walks.to_stop]
    total = walks.metres + snap[walks.from_stop] + snap[walks.to_stop]
    walks = walks[total <= limit_m]
    seconds = np.ceil(total[walks.index] / FLAT_METRES_PER_MINUTE * 60).astype(np.int64)
    return pd.DataFrame(
        {
            "from_stop_id": tt.stop_ids[walks.from_stop.to_numpy()],
            "to_stop_id": tt.stop_ids[walks.to_stop.to_numpy()],
            "seconds": seconds.to_numpy(),
        }
    )


def _profile_footpaths(
    network: WalkingNetwork, tt: Timetable, max_minutes: float, profile: str
) -> pd.DataFrame:
    """footpaths() for a profile: the profile's minutes on its own graph, within the time
    its walker needs for the standard's longest transfer (400 m on the level)."""
    nodes, snap = stop_nodes(network, tt)
    limit = max_minutes * FLAT_SPEED_KMH / PROFILES[profile].level_kmh
    snap_min = network.snap_cost(snap, profile)
    unique_nodes, stops_at = np.unique(nodes, return_inverse=True)
    source, node, minutes = _reach_pairs(
        network, unique_nodes, profile, limit, towards=False, columns=unique_nodes
    )
    position = np.searchsorted(unique_nodes, node)
    by_node = pd.DataFrame({"node": stops_at, "stop": np.arange(tt.n_stops)})
    walks = pd.DataFrame({"from_node": source, "to_node": position, "minutes": minutes})
    walks = walks.merge(by_node.rename(columns={"node": "from_node", "stop": "from_stop"}))
    walks = walks.merge(by_node.rename(columns={"node": "to_node", "stop": "to_stop"}))
    walks = walks[walks.from_stop != walks.to_stop]
    total = walks.minutes + snap_min[walks.from_stop] + snap_min[walks.to_stop]
    keep = (total <= limit).to_numpy()
    walks, total = walks[keep], total[keep]
    return pd.DataFrame(
        {
            "from_stop_id": tt.stop_ids[walks.from_stop.to_numpy()],
            "to_stop_id": tt.stop_ids[walks.to_stop.to_numpy()],
            "seconds": np.ceil(total.to_numpy() * 60).astype(np.int64),
        }
    )


def profile_timetable(city: CityModel, tt: Timetable, profile: str) -> Timetable:
    """The timetable with `profile`'s footpaths (the standard's as it is), kept in the city's
    cache beside the timetable it was made from."""
    if profile == "standard":
        return tt
    key = ("transit_profile_footpaths", profile)
    kept = city._cache.get(key)
    if kept is None or kept[0] is not tt:
        kept = (tt, tt.with_transfers(footpaths(city.network, tt, profile=profile)))
        city._cache[key] = kept
    return kept[1]


@dataclass
class StopAccess:
    """The walks between nodes and stops, found once per network, timetable and mode."""

    stop_node: np.ndarray
    stop_snap_min: np.ndarray  # the stop's snap walk, minutes at the flat speed
    pair_node: np.ndarray  # sorted: node → stop walks within max_walk
    pair_stop: np.ndarray
    pair_minutes: np.ndarray  # node → stop node walk + the stop's snap walk
    node_first: np.ndarray  # CSR over nodes into the pairs
    max_walk: float


def stop_access(
    network: WalkingNetwork, tt: Timetable, mode: str = "slope", max_walk: float = MAX_WALK_MINUTES
) -> StopAccess:
    """Every node → stop walk within `max_walk` minutes (reversed graph: the cost of reaching
    the stop), as pairs sorted by node."""
    nodes, snap = stop_nodes(network, tt)
    snap_min = network.snap_cost(snap, mode)
    stop, node, minutes = _reach_pairs(network, nodes, mode, max_walk, towards=True)
    minutes = minutes + snap_min[stop]
    keep = minutes <= max_walk
    stop, node, minutes = stop[keep], node[keep], minutes[keep]
    order = np.argsort(node, kind="stable")
    node, stop, minutes = node[order], stop[order], minutes[order]
    first = np.searchsorted(node, np.arange(network.n + 1))
    return StopAccess(nodes, snap_min, node, stop, minutes, first, max_walk)


def _cached_stop_access(city: CityModel, tt: Timetable, mode: str, max_walk: float) -> StopAccess:
    """The node → stop walks of the city's network, kept while the stops stay where they are
    (the last set only: a new feed or network replaces it)."""
    where = hashlib.sha1(tt.stop_lon.tobytes() + tt.stop_lat.tobytes()).hexdigest()
    key = ("transit_stop_access", where, mode, max_walk)
    if key not in city._cache:
        for old in [k for k in city._cache if isinstance(k, tuple) and k[:1] == key[:1]]:
            del city._cache[old]
        city._cache[key] = stop_access(city.network, tt, mode, max_walk)
    return city._cache[key]


def _node_minimum(walks: StopAccess, stop_cost: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per node: min over its stops of walk + stop_cost, and which stop (−1 none)."""
    value = walks.pair_minutes + stop_cost[walks.pair_stop]
    best = np.full(n, np.inf)
    which = np.full(n, -1, np.int64)
    if not len(value):
        return best, which
    has = np.flatnonzero(np.diff(walks.node_first) > 0)
    best[has] = np.minimum.reduceat(value, walks.node_first[has])
    hit = np.flatnonzero(value == best[walks.pair_node])
    nodes, first = np.unique(walks.pair_node[hit], return_index=True)
    which[nodes] = walks.pair_stop[hit[first]]
    return best, which


def _one_departure(
    city: CityModel,
    tt: Timetable,
    walking: NodeAccess,
    walks: StopAccess,
    departure_s: int,
    max_rounds: int,
    closed: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Walk+PT minutes and amenity origin per node and category for one departure."""
    ride = travel_times(tt, departure_s, max_rounds=max_rounds, closed=closed) / np.float32(60)
    minutes, origin = {}, {}
    for category in CATEGORIES:
        egress = walking.minutes[category][walks.stop_node] + walks.stop_snap_min
        egress = np.where(egress <= walks.max_walk, egress, np.inf).astype(np.float32)
        total = ride + egress[None, :]  # stops × stops: ride s → t, then walk from t
        last_stop = np.argmin(total, axis=1)
        to_category = total[np.arange(tt.n_stops), last_stop].astype(float)
        by_pt, first_stop = _node_minimum(walks, to_category, city.network.n)
        walk_only = walking.minutes[category]
        better = by_pt < walk_only
        minutes[category] = np.where(better, by_pt, walk_only)
        reached_node = walks.stop_node[last_stop[np.maximum(first_stop, 0)]]
        origin[category] = np.where(
            better, walking.origin[category][reached_node], walking.origin[category]
        )
    return minutes, origin


def transit_access(
    city: CityModel,
    tt: Timetable,
    departures: int | np.ndarray,
    *,
    mode: str = "slope",
    walking: NodeAccess | None = None,
    max_walk: float = MAX_WALK_MINUTES,
    max_rounds: int = MAX_ROUNDS,
    closed: np.ndarray | None = None,
) -> NodeAccess:
    """Walk+PT minutes per node to the nearest amenity of each category (the median over
    `departures` when several), shaped like fifteen.NodeAccess so fifteen.place_minutes gives
    plots and cells theirs. `walking`: the walking-only access when already computed;
    `closed`: stops the rider cannot use (raptor.search)."""
    departures = np.atleast_1d(np.asarray(departures, dtype=np.int64))
    if not len(departures):
        raise InvalidParameter("no departure time given")
    walking = walking or node_access(city, mode)
    walks = _cached_stop_access(city, tt, mode, max_walk)
    runs = []
    for i, departure in enumerate(departures):
        runs.append(_one_departure(city, tt, walking, walks, int(departure), max_rounds, closed))
        LOG.info("walk+PT departure %d/%d done", i + 1, len(departures))
    if len(runs) == 1:
        minutes, origin = runs[0]
    else:
        minutes, origin = {}, {}
        for category in CATEGORIES:
            stack = np.stack([run[0][category] for run in runs])
            median = np.median(stack, axis=0)
            # the amenity of the departure whose minutes are nearest the median
            with np.errstate(invalid="ignore"):  # inf - inf where no departure reaches
                nearest = np.argmin(np.nan_to_num(np.abs(stack - median), nan=0.0), axis=0)
            origins = np.stack([run[1][category] for run in runs])
            minutes[category] = median
            origin[category] = origins[nearest, np.arange(city.network.n)]
    for category in CATEGORIES:
        minutes[category] = np.where(minutes[category] <= LIMIT_MINUTES, minutes[category], np.inf)
    # the walking access's sources and parks stay: a place on an amenity's own street segment
    # still walks to it directly (fifteen.place_minutes)
    return dataclasses.replace(walking, minutes=minutes, origin=origin)


def ride_from(
    city: CityModel,
    tt: Timetable,
    walked: np.ndarray,
    departure_s: int,
    minutes: float,
    *,
    mode: str = "slope",
    max_walk: float = MAX_WALK_MINUTES,
    max_rounds: int = MAX_ROUNDS,
) -> np.ndarray:
    """Node minutes by walking (`walked`, from the start) or by walking to a stop within
    `max_walk`, riding (leaving when the walk gets there) and walking out from every stop
    reached: min of the two, inf beyond `minutes`."""
    network = city.network
    walks = _cached_stop_access(city, tt, mode, max_walk)
    to_stop = walked[walks.stop_node] + walks.stop_snap_min
    near = np.flatnonzero(to_stop <= min(max_walk, minutes))
    by_walk = np.where(walked <= minutes, walked, np.inf)
    if not len(near):
        return by_walk
    arrival = earliest_arrival(tt, near, departure_s + to_stop[near] * 60, max_rounds=max_rounds)
    offset = (arrival - departure_s) / 60 + walks.stop_snap_min
    reached = np.flatnonzero(offset < minutes)
    by_pt, _ = network.nearest(
        walks.stop_node[reached], offset[reached], mode=mode, limit=minutes, towards=False
    )
    return np.minimum(by_walk, by_pt)


def reach_from_point(
    city: CityModel,
    tt: Timetable,
    x: float,
    y: float,
    departure_s: int,
    minutes: float,
    *,
    mode: str = "slope",
    max_walk: float = MAX_WALK_MINUTES,
    max_rounds: int = MAX_ROUNDS,
) -> np.ndarray:
    """Minutes from the point (UTM x, y) to every node by walking and PT leaving at
    `departure_s` (inf beyond `minutes`): the walk+PT isochrone's node costs."""
    network = city.network
    node, snap = network.snap_xy(np.array([x]), np.array([y]))
    start = float(network.snap_cost(snap, mode)[0])
    walked = network.from_node(int(node[0]), mode=mode, limit=max(minutes, max_walk)) + start
    return ride_from(
        city, tt, walked, departure_s, minutes, mode=mode, max_walk=max_walk, max_rounds=max_rounds
    )

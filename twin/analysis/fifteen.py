"""The 15-minute city: walking minutes from every plot and H3 cell to the nearest amenity of
each category, how many categories lie within 15 minutes, and who is covered.

One multi-source Dijkstra per category over the whole network (min_only, limited to 30
minutes) gives every node its minutes. Places and sources meet the streets at the nearest point
of a segment: a source joins both end nodes of its segment with the partial walks along it, a
place takes the better end (its partial walk plus the node's minutes), and a source on the
place's own segment is walked to directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from twin.analysis.city import CATEGORIES, CityModel, Places, rows_at
from twin.analysis.network import Snapped, WalkingNetwork

THRESHOLD_MINUTES = 15.0
LIMIT_MINUTES = 30.0  # beyond this a category counts as "not within reach" (null)
PARK_LIMIT_M = 2000.0  # park walks are measured in metres up to 2 km
MISSING_NAMES = np.array(
    [
        ",".join(c for i, c in enumerate(CATEGORIES) if not code >> i & 1)
        for code in range(1 << len(CATEGORIES))
    ],
    dtype=object,
)


@dataclass
class NodeAccess:
    """Per node: minutes to the nearest amenity of each category, metres to the nearest park."""

    minutes: dict[str, np.ndarray]
    origin: dict[str, np.ndarray]
    park_m: np.ndarray
    mode: str
    # where the sources meet the streets (per category, and the park entrances): a place on a
    # source's own segment walks to it directly; without them places go by the end nodes
    sources: dict[str, Snapped] = field(default_factory=dict)
    entrances: Snapped | None = None
    network: WalkingNetwork | None = None
    lit_only: bool = False


def category_pass(
    network: WalkingNetwork,
    sources: Snapped,
    mode: str,
    limit: float = LIMIT_MINUTES,
    lit_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """One multi-source pass: cost from every node to the nearest of the given sources, each
    joined to both ends of its segment (`lit_only`: the night-time variant, walking only along
    lit streets)."""
    return network.nearest(
        sources.node,
        network.reach_cost(sources, mode, lit_only),
        mode=mode,
        limit=limit,
        towards=True,
        lit_only=lit_only,
    )


def leave_columns(
    network: WalkingNetwork, places: Snapped, mode: str, lit_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each place's two segment ends and its walks to them, as contiguous columns."""
    leave = network.leave_cost(places, mode, lit_only)
    return (
        np.ascontiguousarray(places.node[:, 0]),
        np.ascontiguousarray(places.node[:, 1]),
        np.ascontiguousarray(leave[:, 0]),
        np.ascontiguousarray(leave[:, 1]),
    )


def place_cost(
    network: WalkingNetwork,
    node_cost: np.ndarray,
    node_origin: np.ndarray | None,
    places: Snapped,
    sources: Snapped | None,
    mode: str,
    lit_only: bool = False,
    leave: tuple[np.ndarray, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each place's cost to the nearest source and which source (-1: none): by the better end
    of its segment, or straight along it to a source on the same segment (`leave`: the
    places' leave_columns when already known)."""
    first, second, to_first, to_second = leave or leave_columns(network, places, mode, lit_only)
    via_first = node_cost[first] + to_first
    via_second = node_cost[second] + to_second
    by_second = via_second < via_first
    cost = np.where(by_second, via_second, via_first)
    origin = (
        np.where(by_second, node_origin[second], node_origin[first])
        if node_origin is not None
        else np.full(len(places), -1, dtype=np.int64)
    )
    if sources is not None and len(sources) and len(places):
        i, j, direct = network.along(places, sources, mode, lit_only)
        better = direct < cost[i]  # only pairs that beat the ends can matter
        i, j, direct = i[better], j[better], direct[better]
        np.minimum.at(cost, i, direct)  # per place, its cheapest direct walk
        won = direct == cost[i]
        origin[i[won]] = j[won]
    return cost, origin


def _leave(access: NodeAccess, places: Places, mode: str) -> tuple[np.ndarray, ...]:
    """leave_columns of `places`, kept on them per network, mode and lit_only (a city's plots
    and cells are read by every pass)."""
    key = (mode, access.lit_only)
    kept = places._cache.get(key)
    if kept is None or kept[0] is not access.network:
        kept = (access.network, leave_columns(access.network, places.at, mode, access.lit_only))
        places._cache[key] = kept
    return kept[1]


def node_access(
    city: CityModel,
    mode: str = "slope",
    categories: tuple[str, ...] = CATEGORIES,
    amenities: pd.DataFrame | None = None,
    entrances: pd.DataFrame | None = None,
    base: NodeAccess | None = None,
    lit_only: bool = False,
) -> NodeAccess:
    """Node-level access; with `base`, only `categories` are recomputed (scenarios)."""
    minutes = dict(base.minutes) if base else {}
    origin = dict(base.origin) if base else {}
    sources = dict(base.sources) if base else {}
    for category in categories:
        sources[category] = city.sources(category, amenities, entrances)
        minutes[category], origin[category] = category_pass(
            city.network, sources[category], mode, lit_only=lit_only
        )
    if base is None or "parks" in categories:
        entrances = city.entrances if entrances is None else entrances
        gates = rows_at(city.network, entrances)
        park_m, _ = category_pass(city.network, gates, "length", PARK_LIMIT_M, lit_only)
    else:
        park_m, gates = base.park_m, base.entrances
    return NodeAccess(minutes, origin, park_m, mode, sources, gates, city.network, lit_only)


def place_access(
    access: NodeAccess, places: Places, category: str
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes of each place to the nearest source of `category` (unrounded) and its index
    into city.sources(category) (-1: none within the limit)."""
    network = access.network
    if network is None:  # node figures from elsewhere (no segments): by the nearer node
        node = places.node
        walk_on = places.snap_m / (4.8 * 1000 / 60)
        return access.minutes[category][node] + walk_on, access.origin[category][node]
    return place_cost(
        network,
        access.minutes[category],
        access.origin[category],
        places.at,
        access.sources.get(category),
        access.mode,
        access.lit_only,
        _leave(access, places, access.mode),
    )


def park_metres(access: NodeAccess, places: Places) -> np.ndarray:
    """Metres along the streets from each place to the nearest park entrance (unrounded)."""
    if access.network is None:
        return access.park_m[places.node] + places.snap_m
    cost, _ = place_cost(
        access.network,
        access.park_m,
        None,
        places.at,
        access.entrances,
        "length",
        access.lit_only,
        _leave(access, places, "length"),
    )
    return cost


def place_minutes(access: NodeAccess, places: Places, describe: bool = True) -> pd.DataFrame:
    """Minutes per category for places (NaN beyond the 30-minute limit) and park metres."""
    columns = {}
    for category in CATEGORIES:
        # rounded as published, so counts agree with the minutes a user reads
        value = np.round(place_access(access, places, category)[0], 2)
        columns[f"min_{category}"] = np.where(value <= LIMIT_MINUTES, value, np.nan)
    park = park_metres(access, places)
    columns["park_walk_m"] = np.where(park <= PARK_LIMIT_M, park, np.nan)
    frame = pd.DataFrame(columns)
    within = np.column_stack(
        [frame[f"min_{c}"].to_numpy() <= THRESHOLD_MINUTES for c in CATEGORIES]
    )
    frame["categories_15"] = within.sum(axis=1)
    frame["all_six"] = frame["categories_15"] == len(CATEGORIES)
    if describe:  # the missing categories' names, looked up by the bitmask of those within
        code = within.astype(np.int64) @ (1 << np.arange(len(CATEGORIES)))
        frame["missing"] = MISSING_NAMES[code]
    frame["park_300"] = frame["park_walk_m"].to_numpy() <= 300
    frame["park_500"] = frame["park_walk_m"].to_numpy() <= 500
    return frame


_ONEHOT: dict[tuple[int, int, int], sparse.csr_matrix] = {}


def _onehot(groups: np.ndarray, count: int) -> sparse.csr_matrix:
    """Groups × places indicator matrix (places in no group go to a last, dropped row);
    cached while the same group array is in use (the cached city keeps it alive)."""
    key = (id(groups), len(groups), count)
    if key not in _ONEHOT:
        if len(_ONEHOT) > 16:
            _ONEHOT.clear()
        g = np.where(groups >= 0, groups, count)
        _ONEHOT[key] = sparse.csr_matrix(
            (np.ones(len(g)), (g, np.arange(len(g)))), shape=(count + 1, len(g))
        )
    return _ONEHOT[key]


def coverage(
    frame: pd.DataFrame, residents: np.ndarray, groupings: list[tuple[np.ndarray, int]]
) -> list[list[dict[str, float | int | None]]]:
    """For each grouping (codes 0..count-1 per place, -1 = none) and each of its groups:
    residents, the shares of them with all six and with each category within 15 minutes, with
    a park within 300/500 m, mean categories and resident-weighted walkability. The weighted
    figures are built once; each grouping is one sparse product (groups × places)."""
    residents = np.asarray(residents, dtype=float)
    keys = (
        ["share_all_six"]
        + [f"share_{c}" for c in CATEGORIES]
        + ["share_park_300", "share_park_500"]
    )
    weighted = np.empty((len(frame), len(keys) + 3))
    weighted[:, 0] = frame["all_six"].to_numpy()
    for j, category in enumerate(CATEGORIES, start=1):
        weighted[:, j] = frame[f"min_{category}"].to_numpy(float) <= THRESHOLD_MINUTES
    weighted[:, 7] = frame["park_300"].to_numpy()
    weighted[:, 8] = frame["park_500"].to_numpy()
    weighted[:, 9] = frame["categories_15"].to_numpy()
    has_walk = "walkability" in frame
    weighted[:, 10] = np.nan_to_num(frame["walkability"].to_numpy(float)) if has_walk else 0.0
    weighted[:, 11] = 1.0
    weighted *= residents[:, None]
    results = []
    for groups, count in groupings:
        sums = np.asarray(_onehot(groups, count) @ weighted)[:count]
        rows = []
        for k in range(count):
            people = sums[k, 11]
            row: dict[str, float | int | None] = {"residents": int(round(people))}
            has = people > 0
            for j, key in enumerate(keys):
                row[key] = round(float(sums[k, j] / people), 4) if has else None
            row["mean_categories"] = round(float(sums[k, 9] / people), 3) if has else None
            if has_walk:
                row["walkability"] = round(float(sums[k, 10] / people), 2) if has else None
            rows.append(row)
        results.append(rows)
    return results

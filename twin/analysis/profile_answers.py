"""Answers per walking profile (twin.analysis.profiles): the 15-minute figures of the city and
each district for one profile (GET /indicators?profile=), and the route a profile's walker
takes between two nodes (the `route` process)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra

from twin.analysis.city import current_city
from twin.analysis.fifteen import coverage, place_minutes
from twin.analysis.network import WalkingNetwork
from twin.analysis.profiles import NAMES, PROFILES, barriers, describe, engine_mode
from twin.analysis.reports import baseline
from twin.db.pool import connection
from twin.errors import InvalidParameter


def profile_indicators(city: Any, profile: str) -> dict[str, Any]:
    """The 15-minute figures of the city and each district for one profile, computed now from
    the in-memory city (the stored /indicators are the standard walker's): residents, the
    shares with all six and with each category within 15 minutes (park shares: metres along
    the streets, the same for every profile)."""
    mode = engine_mode(profile)
    frame = place_minutes(baseline(city, mode), city.plot_places, describe=False)
    names = list(city.districts["name"])
    lookup = {name: i for i, name in enumerate(names)}
    codes = np.array([lookup.get(d, -1) for d in city.plots["district"]], dtype=np.int64)
    residents = city.plots["residents"].to_numpy(float)
    districts, everyone = coverage(
        frame, residents, [(codes, len(names)), (np.zeros(len(codes), np.int64), 1)]
    )
    return {
        "profile": profile,
        "title": PROFILES[profile].title,
        "city": everyone[0],
        "districts": [{"district": n, **row} for n, row in zip(names, districts)],
    }


def profile_document(profile: str) -> dict[str, Any]:
    """GET /indicators?profile=: one profile's figures by district (400 naming the profiles
    when it is not one of them), with KPI 4 (all six on foot or by PT) beside the walking
    share for the city, each district and polycentre when a feed is loaded."""
    if profile not in PROFILES:
        raise InvalidParameter(f"unknown profile {profile[:64]!r}; use one of {', '.join(NAMES)}")
    from twin.transit.figures import profile_walk_pt

    with connection() as conn:
        city = current_city(conn)
        walk_pt = profile_walk_pt(conn, city, profile)
    document = profile_indicators(city, profile)
    if walk_pt is not None:  # KPI 4 beside the walking figure: on foot or by PT
        document["city"]["share_all_six_walk_pt"] = walk_pt["city"]["share_all_six_walk_pt"]
        for row, pt in zip(document["districts"], walk_pt["districts"], strict=True):
            row["share_all_six_walk_pt"] = pt["share_all_six_walk_pt"]
        document["polycentres"] = walk_pt["polycentres"]
        document["walk_pt"] = {
            "period": walk_pt["period"],
            "stops_closed_to_the_profile": walk_pt["closed_stops"],
        }
    return {**document, "profiles": describe()}


@dataclass
class WalkedRoute:
    """The segments a profile's walker takes from node `a` to node `b`, in walking order."""

    nodes: np.ndarray  # node indices, a ... b
    edges: np.ndarray  # segment index of each step
    minutes: np.ndarray  # per step, the profile's minutes
    length: np.ndarray  # per step, metres
    rise: np.ndarray  # per step, metres (negative: down)
    lit: np.ndarray
    barriers: list[list[str]]  # per step, why not barrier-free (see `barriers`)


def walked_route(network: WalkingNetwork, a: int, b: int, profile: str) -> WalkedRoute | None:
    """The quickest route of `profile` from node a to node b (None when there is none)."""
    mode = engine_mode(profile)
    cost, previous = dijkstra(
        network.graph(mode), directed=True, indices=int(a), return_predecessors=True
    )
    if not np.isfinite(cost[b]):
        return None
    nodes = [int(b)]
    while nodes[-1] != a:
        nodes.append(int(previous[nodes[-1]]))
    nodes = np.array(nodes[::-1], dtype=np.int64)
    u, v, arc_cost, lit = network.arc_costs(mode)
    # the arc of each step: the cheapest existing one between its nodes (as the graph keeps)
    near = np.flatnonzero(np.isin(u, nodes) & np.isfinite(arc_cost))
    best: dict[tuple[int, int], int] = {}
    for i in near[np.argsort(-arc_cost[near], kind="stable")]:
        best[(int(u[i]), int(v[i]))] = int(i)
    arcs = np.array([best[(p, q)] for p, q in itertools.pairwise(nodes)], dtype=np.int64)
    m = len(network.edge_u)
    edges = arcs % m
    return WalkedRoute(
        nodes=nodes,
        edges=edges,
        minutes=arc_cost[arcs],
        length=network.edge_length[edges],
        rise=network.z[v[arcs]] - network.z[u[arcs]],
        lit=lit[arcs],
        barriers=barriers(network, edges),
    )

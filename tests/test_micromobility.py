"""Bikes and e-scooters: hand-built streets whose answers are known by hand (a lane preferred
over a shorter road, uphill slower than downhill, no steps for a scooter, a scooter trip from
parking to parking), and the demo city's reach per cell as a planner reads it over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from twin.analysis.network import WalkingNetwork
from twin.mobility.micromobility import (
    MicromobilityInputError,
    Segments,
    _arcs_of_segments,
    _csr,
    contract,
    ride_route,
    scooter_reach,
)

X0, Y0 = 630000.0, 4790000.0


def _network(points, edges, z=None) -> WalkingNetwork:
    """Nodes at (dx, dy) metres from (X0, Y0); edges (u, v) with their straight lengths."""
    xy = np.array(points, float)
    u = np.array([e[0] for e in edges])
    v = np.array([e[1] for e in edges])
    return WalkingNetwork(
        node_ids=np.arange(len(xy)),
        x=X0 + xy[:, 0],
        y=Y0 + xy[:, 1],
        z=np.zeros(len(xy)) if z is None else np.array(z, float),
        edge_u=u,
        edge_v=v,
        edge_length=np.hypot(*(xy[u] - xy[v]).T),
        edge_lit=np.ones(len(u), bool),
        slope_aware=z is not None,
    )


def _segments(n: int, highway=None, lanes=(), steps=()) -> Segments:
    rank = np.full(n, -1)
    rank[list(lanes)] = 0
    stairs = np.zeros(n, bool)
    stairs[list(steps)] = True
    return Segments(
        highway=np.array(highway or ["residential"] * n, dtype=object),
        lane_rank=rank,
        steps=stairs,
    )


def test_a_bike_lane_is_preferred_over_a_shorter_road():
    # A (0) - B (1) straight on a road: 1000 m; A - C (2) - B on a lane: 2 x 650 m = 1300 m
    net = _network([(0, 0), (1000, 0), (500, np.sqrt(650**2 - 500**2))], [(0, 1), (0, 2), (2, 1)])
    segments = _segments(3, lanes=[1, 2])
    nodes, minutes = ride_route(net, segments, "bike", 0, 1)
    # the road: 1000 m at 15 km/h = 4.0 min, weighed 5.0; the lane: 1300 m at 18 km/h = 4.33
    assert nodes == [0, 2, 1]
    assert minutes == pytest.approx(1300 / 300)
    # without the lane the road is ridden
    nodes, minutes = ride_route(net, _segments(3), "bike", 0, 1)
    assert (nodes, minutes) == ([0, 1], pytest.approx(4.0))
    # an arterial without a lane is no bike street; with one it is (18 km/h)
    arterial = _segments(3, highway=["arterial", "residential", "residential"])
    assert ride_route(net, arterial, "bike", 0, 1)[0] == [0, 2, 1]
    laned = _segments(3, highway=["arterial", "residential", "residential"], lanes=[0])
    assert ride_route(net, laned, "bike", 0, 1) == ([0, 1], pytest.approx(1000 / 300))


def test_uphill_is_slower_than_downhill():
    # 1000 m rising 50 m: 5%. Bike up: 15 - 5 = 10 km/h -> 6 min; down: 15 + 2.5 -> 3.43 min
    net = _network([(0, 0), (1000, 0)], [(0, 1)], z=[800.0, 850.0])
    segments = _segments(1)
    assert ride_route(net, segments, "bike", 0, 1)[1] == pytest.approx(6.0)
    assert ride_route(net, segments, "bike", 1, 0)[1] == pytest.approx(60 / 17.5)
    # the scooter's motor: 0.5 km/h lost per 1% (12.5 km/h up), no gain down (limiter)
    assert ride_route(net, segments, "scooter", 0, 1)[1] == pytest.approx(60 / 12.5)
    assert ride_route(net, segments, "scooter", 1, 0)[1] == pytest.approx(4.0)
    # over 15% a scooter is pushed at walking pace: 100 m rising 20 m
    steep = _network([(0, 0), (100, 0)], [(0, 1)], z=[800.0, 820.0])
    assert ride_route(steep, segments, "scooter", 0, 1)[1] == pytest.approx(100 / 80)


def test_a_scooter_cannot_use_steps():
    # A (0) - B (1): 100 m of steps; around: A - C (2) - B, 200 m + 200 m
    net = _network([(0, 0), (100, 0), (50, np.sqrt(200**2 - 50**2))], [(0, 1), (0, 2), (2, 1)])
    nodes, minutes = ride_route(net, _segments(3, steps=[0]), "scooter", 0, 1)
    assert nodes == [0, 2, 1] and minutes == pytest.approx(400 / 250)
    # steps only: no scooter route at all (a 400 naming the problem)
    only = _network([(0, 0), (100, 0)], [(0, 1)])
    with pytest.raises(MicromobilityInputError, match="no scooter route"):
        ride_route(only, _segments(1, steps=[0]), "scooter", 0, 1)
    with pytest.raises(MicromobilityInputError, match="unknown ride mode 'moped'"):
        ride_route(only, _segments(1), "moped", 0, 1)
    # a footway is ridden at the sidewalk speed of the law, 6 km/h: 100 m in 1 min
    footway = _segments(1, highway=["footway"])
    assert ride_route(only, footway, "scooter", 0, 1)[1] == pytest.approx(1.0)


def test_a_scooter_trip_walks_to_parking_rides_and_walks_on():
    # X (0) -200 m- P (1) -2000 m- Q (2) -200 m- Y (3), all on one street
    net = _network([(0, 0), (200, 0), (2200, 0), (2400, 0)], [(0, 1), (1, 2), (2, 3)])
    args = (net, _segments(3), np.array([0, 3]), np.zeros(2), np.array([10.0, 20.0]))
    parking = (np.array([1, 2]), np.zeros(2))
    # walk 2.5 + unlock 0.5 + ride 8 + park 0.5 + walk 2.5 = 14 minutes; walking: 30
    within = scooter_reach(*args, *parking, limit=14.01)
    assert within.residents.tolist() == [30.0, 30.0] and within.cells.tolist() == [2, 2]
    short = scooter_reach(*args, *parking, limit=13.99)
    assert short.residents.tolist() == [10.0, 20.0] and short.cells.tolist() == [1, 1]
    # one parking spot only: no ride (parking to parking), X and Y stay apart
    alone = scooter_reach(*args, np.array([1]), np.zeros(1), limit=14.01)
    assert alone.cells.tolist() == [1, 1]


def test_a_scooter_trip_ends_at_a_parking_spot_and_the_walk_on_counts():
    # as above, but Y (3) lies 400 m past the last parking spot Q: the rider parks at Q and
    # walks 5 minutes on; 2.5 + 0.5 + 8 + 0.5 + 5 = 16.5 minutes, not the 14 of a ride to Y
    net = _network([(0, 0), (200, 0), (2200, 0), (2600, 0)], [(0, 1), (1, 2), (2, 3)])
    args = (net, _segments(3), np.array([0, 3]), np.zeros(2), np.array([10.0, 20.0]))
    parking = (np.array([1, 2]), np.zeros(2))
    assert scooter_reach(*args, *parking, limit=16.49).cells.tolist() == [1, 1]
    assert scooter_reach(*args, *parking, limit=16.51).cells.tolist() == [2, 2]
    # a parking spot's own walk to the street counts at both ends (40 m: 0.5 min each)
    spaced = (np.array([1, 2]), np.array([40.0, 40.0]))
    assert scooter_reach(*args, *spaced, limit=17.49).cells.tolist() == [1, 1]
    assert scooter_reach(*args, *spaced, limit=17.51).cells.tolist() == [2, 2]


def test_contraction_keeps_the_shortest_times_between_the_kept_nodes():
    rng = np.random.default_rng(3)
    side = 12  # a grid with every street split in three (degree-two nodes between corners)
    corner = np.arange(side * side).reshape(side, side)
    a, b, n = [], [], side * side
    for i in range(side):
        for j in range(side):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < side and j + dj < side and rng.random() < 0.85:
                    chain = [corner[i, j], n, n + 1, corner[i + di, j + dj]]
                    n += 2
                    a += chain[:-1]
                    b += chain[1:]
    a, b = np.array(a), np.array(b)
    forward, backward = rng.uniform(0.1, 2, len(a)), rng.uniform(0.1, 2, len(a))
    keep = rng.choice(n, 40, replace=False)
    full = _csr(n, *_arcs_of_segments(a, b, forward, backward))
    ca, cb, cf, cbw = contract(n, a, b, forward, backward, keep)
    assert len(ca) < len(a) / 2
    small = _csr(n, *_arcs_of_segments(ca, cb, cf, cbw))
    expected = dijkstra(full, indices=keep)[:, keep]
    assert np.allclose(dijkstra(small, indices=keep)[:, keep], expected)


# -- the demo city ----------------------------------------------------------------------------


def test_the_demo_publishes_reach_per_cell_and_compares_the_lane_plans(server, analysed_city):
    items = server.get(
        "/collections/micromobility_cells/items", params={"limit": 10000, "f": "json"}
    ).json()
    rows = [f["properties"] for f in items["features"]]
    assert items["numberMatched"] == len(rows) > 100
    columns = [
        "bike_share_residents",
        "bike_share_cells",
        "bike_share_residents_2025",
        "bike_share_residents_2030",
        "scooter_share_residents",
        "scooter_share_cells",
    ]
    lived = np.array([r["residents"] > 0 for r in rows])
    for column in columns:
        values = np.array([r[column] for r in rows], float)
        assert ((values >= 0) & (values <= 1)).all(), column
        # where people live they reach at least their own cell, but for the few cells whose
        # centre is kilometres from the main street network (a detached street grid)
        assert (values[lived] > 0).mean() > 0.95, column
    today = np.array([r["bike_share_residents"] for r in rows])
    plan_2030 = np.array([r["bike_share_residents_2030"] for r in rows])
    assert (plan_2030 >= today).all() and (plan_2030 > today).any()
    # a bike reaches farther than a scooter that needs parking spots at both ends
    scooter = np.array([r["scooter_share_residents"] for r in rows])
    assert np.median(today) > np.median(scooter)

    document = server.get("/indicators/mobility-safety").json()["micromobility"]
    plans = {p["plan"]: p for p in document["bike_lane_plans"]}
    assert plans["today"]["lane_km"] == pytest.approx(79.2, rel=0.01)
    assert plans["2025"]["lane_km"] == pytest.approx(79.2 + 60, rel=0.01)
    assert plans["2030"]["lane_km"] == pytest.approx(79.2 + 60 + 125, rel=0.01)
    medians = [plans[p]["median_bike_share_residents"] for p in ("today", "2025", "2030")]
    assert medians == sorted(medians) and medians[0] > 0
    assert document["city"]["median_bike_share_residents"] == medians[0]
    assert len(document["districts"]) == 8
    for name, value in plans["2030"]["districts"].items():
        assert value is None or value >= plans["today"]["districts"][name]

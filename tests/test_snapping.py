"""A place meets the street at the nearest point of a segment and walks the partial lengths.

Hand-built streets where the answer is worked out by hand, an independent brute-force check of
the nearest segment, and the small demo over HTTP: a plot far from the streets keeps its stored
figures in its report, and an isochrone says whom it reaches.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely

from twin.analysis.fifteen import category_pass, place_cost
from twin.analysis.network import (
    FLAT_METRES_PER_MINUTE,
    build_network,
    to_lonlat,
    to_utm,
    tobler_speed_kmh,
)

X0, Y0 = 630_000.0, 4_785_000.0  # central Almaty in UTM 43N
GRADE = 0.05  # the hand-built street climbs 5% eastwards


def main_street():
    """A(0) - B(200) - C(400) m along a street that climbs 5% eastwards, and a side street
    B - D(200 m north), so A and C are not B's only neighbours."""
    ends = {1: (X0, Y0), 2: (X0 + 200, Y0), 3: (X0 + 400, Y0), 4: (X0 + 200, Y0 + 200)}
    segments = [(1, 2), (2, 3), (2, 4)]
    x0, y0 = to_lonlat(*np.array([ends[u] for u, _ in segments]).T)
    x1, y1 = to_lonlat(*np.array([ends[v] for _, v in segments]).T)

    def height(lon, lat):
        x, _ = to_utm(lon, lat)
        return 700 + GRADE * (x - X0)

    return build_network(
        [u for u, _ in segments],
        [v for _, v in segments],
        [200.0, 200.0, 200.0],
        x0,
        y0,
        x1,
        y1,
        elevation=height,
    )


def uphill_minutes(metres: float) -> float:
    return metres / (float(tobler_speed_kmh(np.array(GRADE))) * 1000 / 60)


def test_a_place_between_two_nodes_walks_the_partial_lengths():
    network = main_street()
    home = network.snap_segment_xy(np.array([X0 + 50]), np.array([Y0 + 30]))
    school = network.snap_segment_xy(np.array([X0 + 350]), np.array([Y0 - 20]))
    assert home.snap_m[0] == pytest.approx(30, abs=0.01)  # straight to the street, not 58 m
    assert home.fraction[0] * 200 == pytest.approx(50, abs=0.01)
    assert school.snap_m[0] == pytest.approx(20, abs=0.01)
    # flat: 30 m to the street, 150 m to B, 150 m on to the school's foot, 20 m to its door
    cost, origin = category_pass(network, school, "flat")
    minutes, which = place_cost(network, cost, origin, home, school, "flat")
    assert minutes[0] == pytest.approx(350 / FLAT_METRES_PER_MINUTE, abs=1e-3)
    assert which[0] == 0
    # slope-aware: the 300 m along the street climb 5% like the arcs; the straight walks flat
    cost, origin = category_pass(network, school, "slope")
    minutes, _ = place_cost(network, cost, origin, home, school, "slope")
    expected = 50 / FLAT_METRES_PER_MINUTE + uphill_minutes(300)
    assert minutes[0] == pytest.approx(expected, abs=1e-3)
    # the way back runs downhill: quicker than the climb
    back, _ = category_pass(network, home, "slope")
    returning, _ = place_cost(network, back, None, school, home, "slope")
    assert returning[0] < minutes[0]
    # in metres: the node snap would have walked 58.3 m to A and then 350 m on
    metres, _ = category_pass(network, school, "length", limit=np.inf)
    walked, _ = place_cost(network, metres, None, home, school, "length")
    assert walked[0] == pytest.approx(350, abs=0.01)


def test_a_source_on_the_same_segment_is_walked_to_directly():
    network = main_street()
    home = network.snap_segment_xy(np.array([X0 + 50]), np.array([Y0 + 30]))
    shop = network.snap_segment_xy(np.array([X0 + 150]), np.array([Y0 - 10]))
    cost, origin = category_pass(network, shop, "length", limit=np.inf)
    # the nodes: A is 150 + 10 m from the shop, B 50 + 10 m
    assert cost[network.node_ids.tolist().index(1)] == pytest.approx(160, abs=0.01)
    assert cost[network.node_ids.tolist().index(2)] == pytest.approx(60, abs=0.01)
    walked, which = place_cost(network, cost, origin, home, shop, "length")
    assert walked[0] == pytest.approx(30 + 100 + 10, abs=0.01)  # not via A (210) or B (250)
    assert which[0] == 0


def test_the_nearest_segment_is_the_brute_force_nearest_on_a_random_city():
    rng = np.random.default_rng(5)
    n = 400
    a = rng.uniform(0, 3000, (n, 2)) + [X0, Y0]
    b = a + rng.normal(0, 150, (n, 2))
    lon0, lat0 = to_lonlat(a[:, 0], a[:, 1])
    lon1, lat1 = to_lonlat(b[:, 0], b[:, 1])
    # one connected street: every segment also joins the first segment's start
    u = np.arange(n) * 2 + 10
    v = u + 1
    link_lon, link_lat = np.repeat(lon0[:1], n - 1), np.repeat(lat0[:1], n - 1)
    network = build_network(
        np.concatenate([u, np.full(n - 1, u[0])]),
        np.concatenate([v, u[1:]]),
        np.concatenate([np.hypot(*(b - a).T), np.hypot(*(a[1:] - a[0]).T)]),
        np.concatenate([lon0, link_lon]),
        np.concatenate([lat0, link_lat]),
        np.concatenate([lon1, lon0[1:]]),
        np.concatenate([lat1, lat0[1:]]),
    )
    points = rng.uniform(-200, 3200, (3000, 2)) + [X0, Y0]
    at = network.snap_segment_xy(points[:, 0], points[:, 1])
    lines = shapely.linestrings(
        np.column_stack(
            [
                network.x[network.edge_u],
                network.y[network.edge_u],
                network.x[network.edge_v],
                network.y[network.edge_v],
            ]
        ).reshape(-1, 2, 2)
    )
    brute = shapely.distance(shapely.points(points)[:, None], lines[None, :]).min(axis=1)
    np.testing.assert_allclose(at.snap_m, brute, atol=1e-6)
    foot = shapely.line_interpolate_point(lines[at.segment], at.fraction, normalized=True)
    np.testing.assert_allclose(shapely.distance(shapely.points(points), foot), brute, atol=1e-6)


@pytest.fixture()
def far_plot(analysed_city, db):
    """The plot farthest from the streets of the network's main part (networkx finds it here),
    published with its figures (null beyond the 30-minute reach): (plot id, metres,
    min_parks, lon, lat)."""
    streets = db.execute(
        "SELECT source_node, target_node, ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), "
        "ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)) FROM streets "
        "WHERE walkable AND source_node <> target_node"
    ).fetchall()
    main = max(nx.connected_components(nx.Graph([r[:2] for r in streets])), key=len)
    ends = np.array([r[2:] for r in streets if r[0] in main])
    x0, y0 = to_utm(ends[:, 0], ends[:, 1])
    x1, y1 = to_utm(ends[:, 2], ends[:, 3])
    lines = shapely.linestrings(np.column_stack([x0, y0, x1, y1]).reshape(-1, 2, 2))
    plots = db.execute(
        "SELECT m.plot_id, m.min_parks, ST_X(ST_PointOnSurface(p.geom)), "
        "ST_Y(ST_PointOnSurface(p.geom)) FROM plot_metrics m JOIN plots p ON p.id = m.plot_id"
    ).fetchall()
    lon = np.array([r[2] for r in plots])
    lat = np.array([r[3] for r in plots])
    points = shapely.points(*to_utm(lon, lat))
    (which, _), metres = shapely.STRtree(lines).query_nearest(
        points, return_distance=True, all_matches=False
    )
    k = int(np.argmax(metres))
    far = int(which[k])
    return plots[far][0], float(metres[k]), plots[far][1], lon[far], lat[far]


def test_a_plot_far_from_the_streets_reports_its_walk_to_the_network(server, far_plot):
    plot_id, metres, min_parks, lon, lat = far_plot
    assert metres > 2000, "the small demo has plots over 2 km from a street (Medeu's hills)"
    response = server.post(
        "/processes/plot-report/execution", json={"inputs": {"plot_id": plot_id}}
    )
    assert response.status_code == 200, response.text
    fifteen = response.json()["fifteen_minute"]
    assert fifteen["walk_to_network_m"] == pytest.approx(metres, abs=1.0)
    if min_parks is None:  # beyond the 30-minute reach: the report says so, as stored
        assert fifteen["minutes"]["parks"] is None
    else:
        assert fifteen["minutes"]["parks"] == pytest.approx(min_parks, abs=0.01)
    # a free point there is still refused: no stored figures stand behind it
    refused = server.post(
        "/processes/fifteen-minute-report/execution", json={"inputs": {"lon": lon, "lat": lat}}
    )
    assert refused.status_code == 400 and "2000 m" in refused.text


def test_an_isochrone_says_how_many_residents_it_reaches_by_district(server, db, analysed_city):
    lon, lat = db.execute(
        "SELECT ST_X(ST_PointOnSurface(p.geom)), ST_Y(ST_PointOnSurface(p.geom)) "
        "FROM plot_metrics m JOIN plots p ON p.id = m.plot_id WHERE m.all_six "
        "AND p.residents > 0 ORDER BY m.walkability DESC, m.plot_id LIMIT 1"
    ).fetchone()
    response = server.post(
        "/processes/isochrone/execution",
        json={"inputs": {"lon": lon, "lat": lat, "minutes": [5, 10, 15]}},
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    bands = {f["properties"]["minutes"]: f["properties"]["reached"] for f in features}
    assert 0 < bands[5]["residents"] < bands[10]["residents"] < bands[15]["residents"]
    assert 0 < bands[5]["plots"] <= bands[10]["plots"] <= bands[15]["plots"]
    for band in bands.values():
        assert sum(d["residents"] for d in band["by_district"]) == band["residents"]
        assert sum(d["plots"] for d in band["by_district"]) == band["plots"]
    districts = {r[0] for r in db.execute("SELECT DISTINCT district FROM plots").fetchall()}
    assert {d["district"] for d in bands[15]["by_district"]} <= districts
    everyone = db.execute("SELECT sum(residents) FROM plots").fetchone()[0]
    assert bands[15]["residents"] < everyone

"""A planner's walking isochrones on the small demo: the same answer as a search of the whole city,
from a fresh worker that maps the arrays the analysis kept instead of loading the city.

The isochrone searches only the nodes within reach of its point and gathers the plots and
amenities through indexes by node (twin.analysis.isochrones). The reference here is what it did
before: a Dijkstra over every node of the graph and every plot scanned.
"""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest

from conftest import Server
from twin.analysis.city import load_city
from twin.analysis.isochrones import (
    REACH_FORMAT,
    arrive,
    isochrone,
    reach_of,
    walk_from,
)
from twin.analysis.network import to_utm
from twin.analysis.reports import MAX_SNAP_M
from twin.settings import get_settings
from twin.sqlfiles import query

# the walks the process offers: slope-aware and flat, at night (lit streets), the profiles
WALKS = [
    ("slope", False, 15.0),
    ("flat", False, 15.0),
    ("slope", True, 10.0),
    ("wheelchair", False, 20.0),
    ("slow", False, 30.0),
    ("night", False, 15.0),
]


@pytest.fixture(scope="module")
def conn(demo_city: str):
    with psycopg.connect(demo_city, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def city(conn):
    return load_city(conn)


@pytest.fixture(scope="module")
def homes(conn, city) -> list[tuple[float, float, float, float]]:
    """Forty lived-in plots within reach of the streets: (lon, lat, x, y)."""
    sample = {"seed": "19", "count": 80}
    rows = conn.execute(query("analysis/sample_plot_points"), sample).fetchall()
    lon = np.array([r[1] for r in rows])
    lat = np.array([r[2] for r in rows])
    x, y = to_utm(lon, lat)
    near = city.network.snap_segment_xy(x, y).snap_m <= MAX_SNAP_M
    return list(zip(lon[near], lat[near], x[near], y[near]))[:40]


def whole_city(city, x: float, y: float, limit: float, mode: str, lit_only: bool):
    """The minutes to every node and every plot as before: every node searched, every plot
    scanned (network.nearest, then both ends of each plot's segment and the start's own)."""
    network = city.network
    start = network.snap_segment_xy(np.array([x]), np.array([y]))
    cost, _ = network.nearest(
        start.node,
        network.leave_cost(start, mode, lit_only),
        mode=mode,
        limit=limit,
        towards=False,
        lit_only=lit_only,
    )
    at = city.plot_places.at
    to = network.reach_cost(at, mode, lit_only)
    plots = np.minimum(cost[at.node[:, 0]] + to[:, 0], cost[at.node[:, 1]] + to[:, 1])
    same = np.flatnonzero(at.segment == start.segment[0])
    _, j, direct = network.along(start, at.take(same), mode, lit_only)
    plots[same[j]] = np.minimum(plots[same[j]], direct)
    return start, cost, plots


def test_the_walk_searched_near_its_point_finds_the_minutes_of_the_whole_city(city, homes):
    reach = reach_of(city)
    for i, (_, _, x, y) in enumerate(homes):
        mode, lit_only, limit = WALKS[i % len(WALKS)]
        start, every, plot_minutes = whole_city(city, x, y, limit, mode, lit_only)
        nodes, cost = walk_from(city.network, start, x, y, limit, mode, lit_only)
        # the same nodes with the same minutes, to the last bit
        assert np.array_equal(nodes, np.flatnonzero(every <= limit)), (mode, lit_only)
        assert np.array_equal(cost, every[nodes]), (mode, lit_only)
        rows, arrival = arrive(reach, "plots", nodes, cost, start, mode, lit_only)
        inside = rows[arrival <= limit]
        assert np.array_equal(inside, np.flatnonzero(plot_minutes <= limit)), (mode, lit_only)
        assert np.array_equal(arrival[arrival <= limit], plot_minutes[inside])
        assert len(inside) > 0


def test_a_walk_downhill_reaches_beyond_the_flat_walk(city, homes):
    """The search's disc is the limit times the fastest arc (Tobler's 6 km/h downhill), not
    the flat 4.8 km/h: somewhere a slope-aware walk gets farther than 80 m a minute."""
    network = city.network
    farthest = 0.0
    for _, _, x, y in homes:
        start = network.snap_segment_xy(np.array([x]), np.array([y]))
        nodes, _ = walk_from(network, start, x, y, 15.0, "slope", False)
        farthest = max(farthest, np.hypot(network.x[nodes] - x, network.y[nodes] - y).max())
    assert farthest > 15 * 80.0


def execute(server, inputs: dict):
    return server.post("/processes/isochrone/execution", json={"inputs": inputs})


def test_a_fresh_worker_answers_from_the_kept_arrays_as_the_city_model_does(conn, city, homes):
    kept = list((get_settings().home / "cache").glob(f"{REACH_FORMAT}-*"))
    assert kept, "loading the city keeps what an isochrone reads"
    lon, lat, x, y = homes[0]
    expected = isochrone(reach_of(city), x, y, [5.0, 10.0, 15.0])  # as the process reads them
    server = Server()
    try:
        response = execute(server, {"lon": lon, "lat": lat, "minutes": [5, 10, 15]})
        assert response.status_code == 200, response.text
        body = response.json()
        for key in ("features", "amenities", "amenity_counts"):
            assert json.dumps(body[key], sort_keys=True) == json.dumps(
                expected[key], sort_keys=True
            ), key
        night = execute(server, {"lon": lon, "lat": lat, "minutes": 10, "lit_only": True})
        assert night.json()["features"][0]["properties"]["nodes_reached"] == int(
            np.count_nonzero(whole_city(city, x, y, 10.0, "slope", True)[1] <= 10.0)
        )
    finally:
        server.stop()


def test_an_edit_to_a_plot_reaches_the_next_isochrone_and_the_next_worker(conn, homes):
    lon, lat, _, _ = homes[1]
    server = Server()
    try:
        before = execute(server, {"lon": lon, "lat": lat, "minutes": 5}).json()
        people = before["features"][0]["properties"]["reached"]["residents"]
        plot = conn.execute(
            "SELECT id FROM plots ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 1",
            (lon, lat),
        ).fetchone()[0]
        conn.execute("UPDATE plots SET residents = residents + 1000 WHERE id = %s", (plot,))
        try:
            after = execute(server, {"lon": lon, "lat": lat, "minutes": 5}).json()
            assert after["features"][0]["properties"]["reached"]["residents"] == people + 1000
            fresh = Server()  # maps what the first worker kept for the new data version
            try:
                again = execute(fresh, {"lon": lon, "lat": lat, "minutes": 5}).json()
                assert again["features"] == after["features"]
            finally:
                fresh.stop()
        finally:
            conn.execute("UPDATE plots SET residents = residents - 1000 WHERE id = %s", (plot,))
    finally:
        server.stop()

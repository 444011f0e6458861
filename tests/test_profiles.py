"""People who cannot walk like the average adult: the walking profiles on networks where the
answer is known by hand, and the route process and per-profile district figures over HTTP on
the small demo."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from twin.analysis.network import build_network, to_lonlat, to_utm
from twin.analysis.profile_answers import walked_route
from twin.analysis.profiles import KERBS, PROFILES, barriers

ORIGIN_X, ORIGIN_Y = 630_000.0, 4_785_000.0  # central Almaty in UTM 43N


def street_network(nodes: dict[int, tuple[float, float, float]], segments: list[tuple]):
    """Streets between hand-placed nodes (id -> UTM x, y offsets in metres and height);
    segments are (u, v, steps, kerb); lengths are the straight distances."""
    u = np.array([s[0] for s in segments])
    v = np.array([s[1] for s in segments])
    x0 = np.array([ORIGIN_X + nodes[a][0] for a in u])
    y0 = np.array([ORIGIN_Y + nodes[a][1] for a in u])
    x1 = np.array([ORIGIN_X + nodes[b][0] for b in v])
    y1 = np.array([ORIGIN_Y + nodes[b][1] for b in v])
    lon0, lat0 = to_lonlat(x0, y0)
    lon1, lat1 = to_lonlat(x1, y1)

    def elevation(lon, lat):  # the height of the hand-placed node nearest each point
        x, y = to_utm(lon, lat)
        places = np.array([(ORIGIN_X + a, ORIGIN_Y + b) for a, b, _ in nodes.values()])
        heights = np.array([z for *_, z in nodes.values()])
        return heights[np.argmin(np.hypot(x[:, None] - places[:, 0], y[:, None] - places[:, 1]), 1)]

    network = build_network(
        u, v, np.hypot(x1 - x0, y1 - y0), lon0, lat0, lon1, lat1, elevation=elevation
    )
    network.edge_steps = np.array([2 if s[2] else 1 for s in segments], np.int8)
    network.edge_kerb = np.array([KERBS.index(s[3]) for s in segments], np.int8)
    index = {int(n): k for k, n in enumerate(network.node_ids)}
    return network, index


def minutes(network, index, a: int, b: int, mode: str) -> float:
    return float(network.from_node(index[a], mode=mode)[index[b]])


def test_a_wheelchair_goes_round_the_steps_that_a_walker_takes():
    # a 100 m square block: the direct side 1-2 is a stairway, the way round is 300 m
    nodes = {1: (0, 0, 700), 2: (100, 0, 700), 3: (100, 100, 700), 4: (0, 100, 700)}
    segments = [(1, 2, True, "flush"), (2, 3, False, "lowered"), (3, 4, False, "flush")]
    segments.append((4, 1, False, "unknown"))
    network, index = street_network(nodes, segments)
    assert minutes(network, index, 1, 2, "slope") == pytest.approx(100 / 80)  # 4.8 km/h
    # 3.6 km/h = 60 m a minute, all the way round
    assert minutes(network, index, 1, 2, "wheelchair") == pytest.approx(300 / 60)
    walker = walked_route(network, index[1], index[2], "standard")
    assert walker.edges.tolist() == [0]
    assert walker.barriers == [["steps"]]
    wheelchair = walked_route(network, index[1], index[2], "wheelchair")
    assert wheelchair.edges.tolist() == [3, 2, 1]
    assert wheelchair.length.sum() == pytest.approx(300)
    # the unknown kerb is passable but said; nothing else stands in the way
    assert wheelchair.barriers == [["kerb unknown"], [], []]


def test_a_wheelchair_takes_no_slope_over_the_limit_but_a_short_ramp():
    # 1-2: 100 m rising 6 m (6% > 5%); 1-3-2 round by 4% slopes; 2-5: an 8 m ramp at 7.5%
    nodes = {
        1: (0, 0, 700),
        2: (100, 0, 706),
        3: (50, 90, 703),
        5: (108, 0, 706.6),
    }
    segments = [(1, 2, False, "flush"), (1, 3, False, "flush"), (3, 2, False, "flush")]
    segments.append((2, 5, False, "flush"))
    network, index = street_network(nodes, segments)
    round_m = 2 * math.hypot(50, 90)
    assert 3 / round_m < 0.05  # the way round is within the limit
    assert minutes(network, index, 1, 5, "wheelchair") == pytest.approx((round_m + 8) / 60)
    assert walked_route(network, index[1], index[2], "wheelchair").edges.tolist() == [1, 2]
    assert barriers(network) == [["slope 6.0% over 5%"], [], [], []]
    # the walker takes the steep street: Tobler at +6% is 4.8·exp(-3.5·0.06) km/h
    tobler = 4.8 * math.exp(-3.5 * 0.06) * 1000 / 60
    assert minutes(network, index, 1, 2, "slope") == pytest.approx(
        math.hypot(100, 0) / tobler, rel=1e-9
    )


def test_a_slow_walker_needs_20_minutes_a_kilometre_on_the_level():
    nodes = {k: (250 * k, 0, 700) for k in range(5)}
    network, index = street_network(
        nodes, [(k, k + 1, False, "lowered") for k in range(4)]
    )  # 1 km on the level
    assert minutes(network, index, 0, 4, "slow") == pytest.approx(20.0)
    assert minutes(network, index, 0, 4, "slope") == pytest.approx(12.5)
    assert PROFILES["slow"].level_kmh == 3.0


def test_the_night_profile_is_the_lit_only_walk():
    nodes = {1: (0, 0, 700), 2: (200, 0, 710), 3: (200, 200, 712), 4: (0, 200, 705)}
    segs = [(1, 2, False, "flush"), (2, 3, False, "flush"), (3, 4, False, "flush")]
    segs.append((4, 1, False, "flush"))
    network, index = street_network(nodes, segs)
    network.edge_lit[:] = [False, True, True, True]
    night = network.from_node(index[1], mode="night")
    lit_only = network.from_node(index[1], mode="slope", lit_only=True)
    np.testing.assert_allclose(night, lit_only)
    assert night[index[2]] > network.from_node(index[1], mode="slope")[index[2]]


# -- over HTTP, on the small demo ---------------------------------------------------------


def route(server, waypoints, **inputs):
    body = {"waypoints": {"type": "MultiPoint", "coordinates": waypoints}, **inputs}
    return server.post("/processes/route/execution", json={"inputs": body})


def test_the_wheelchair_route_avoids_a_stairway_the_walking_route_takes(server, demo_city, db):
    stairways = db.execute(
        "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), "
        "ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)), length_m "
        "FROM streets WHERE steps AND walkable ORDER BY length_m, id"
    ).fetchall()
    assert len(stairways) >= 10  # the demo's stairways on the southern slopes
    for x0, y0, x1, y1, length in stairways:  # noqa: B007 (length: the chosen stairway's)
        ends = [[x0, y0], [x1, y1]]
        walk = route(server, ends, profile="standard", modes=["walk"]).json()
        overview, start, end, *segments = walk["features"]
        if ["steps"] not in [s["properties"]["barriers"][:1] for s in segments]:
            continue  # the walker goes round these steps anyway
        assert not overview["properties"]["barrier_free"]
        chair = route(server, ends, profile="wheelchair")
        if chair.status_code == 200:
            break
        # no barrier-free way round: a 400 that says so, naming what blocks the walker
        assert chair.status_code == 400
        assert "no barrier-free route for a wheelchair" in chair.json()["description"]
        assert "steps" in chair.json()["description"]
    else:
        pytest.fail("no stairway of the demo has a barrier-free way round")
    assert overview["properties"]["featureType"] == "overview"
    assert (start["properties"]["featureType"], end["properties"]["featureType"]) == (
        "start",
        "end",
    )
    chair = chair.json()
    chair_overview = chair["features"][0]
    props = chair_overview["properties"]
    assert props["barrier_free"] and props["profile"] == "wheelchair"
    assert props["minutes"] > overview["properties"]["minutes"] > 0
    assert props["length_m"] > length
    chair_segments = chair["features"][3:]
    assert all("steps" not in s["properties"]["barriers"] for s in chair_segments)
    assert props["minutes"] == pytest.approx(
        sum(s["properties"]["minutes"] for s in chair_segments), abs=0.05
    )
    # the line runs from A to B through the segments, each starting where the last ended
    line = chair_overview["geometry"]["coordinates"]
    assert line[0] == pytest.approx(ends[0]) and line[-1] == pytest.approx(ends[1])
    for a, b in itertools.pairwise(chair_segments):
        assert a["geometry"]["coordinates"][-1] == pytest.approx(b["geometry"]["coordinates"][0])
    assert props["climb_m"] >= 0 and props["unlit_m"] <= props["length_m"]


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({"profile": "scooter"}, "standard, slow, wheelchair, night"),
        ({"modes": ["walk", "teleport"]}, "is not a mode: use walk, transit, bike, scooter"),
        ({"modes": "walk"}, "must be a list"),
        ({"modes": ["bike", "transit"]}, "combines transit and bike"),
        ({"modes": ["walk", "bike"], "profile": "wheelchair"}, "does not ride a bike"),
        ({"modes": ["walk", "transit"], "departure": "25:99"}, "not a time HH:MM"),
        ({"modes": ["walk", "transit"], "date": "2020-01-01"}, "no service on 2020-01-01"),
        ({"modes": ["walk", "transit"], "departure": "47:00"}, "not in the feed's service"),
    ],
)
def test_the_route_refuses_what_it_does_not_offer(server, demo_city, inputs, named):
    response = route(server, [[76.93, 43.25], [76.95, 43.24]], **inputs)
    assert response.status_code == 400
    assert named in response.json()["description"]


def test_every_process_and_the_indicators_take_a_profile(server, demo_city, db):
    lon, lat = 76.9455, 43.2389
    for process, inputs in (
        ("isochrone", {"lon": lon, "lat": lat, "minutes": 10}),
        ("fifteen-minute-report", {"lon": lon, "lat": lat}),
        ("plot-report", {"plot_id": db.execute("SELECT min(id) FROM plots").fetchone()[0]}),
    ):
        url = f"/processes/{process}/execution"
        wrong = server.post(url, json={"inputs": {**inputs, "profile": "elderly"}})
        assert wrong.status_code == 400
        assert "standard, slow, wheelchair, night" in wrong.json()["description"]
        answer = server.post(url, json={"inputs": {**inputs, "profile": "slow"}})
        assert answer.status_code == 200 and answer.json()["profile"] == "slow"
    both = {"lon": lon, "lat": lat, "profile": "slow", "mode": "flat"}  # flat: the standard's
    wrong = server.post("/processes/isochrone/execution", json={"inputs": both})
    assert wrong.status_code == 400 and "standard profile" in wrong.json()["description"]
    wrong = server.get("/indicators", params={"profile": "elderly"})
    assert wrong.status_code == 400 and "standard, slow" in wrong.json()["description"]


def test_district_figures_by_profile_are_ordered_sensibly(server, demo_city):
    figures = {
        p: server.get("/indicators", params={"profile": p}).json()
        for p in ("standard", "slow", "wheelchair", "night")
    }
    standard = figures["standard"]
    assert standard["profile"] == "standard" and len(standard["districts"]) >= 8
    shares = ["share_all_six", "share_education", "share_healthcare", "share_transit"]
    for profile in ("slow", "wheelchair", "night"):
        # slower or fewer streets: never more residents within 15 minutes than the standard
        for theirs, ours in zip(figures[profile]["districts"], standard["districts"]):
            assert theirs["district"] == ours["district"]
            for share in shares:
                if ours[share] is not None:  # None: a district without residents
                    assert theirs[share] <= ours[share], (profile, ours["district"], share)
        assert figures[profile]["city"]["share_all_six"] < standard["city"]["share_all_six"]
    # KPI 4 per profile: on foot or by PT, beside the walking share, by district and polycentre
    for profile, answer in figures.items():
        assert "every 20 min" in answer["walk_pt"]["period"]
        assert len(answer["polycentres"]) >= 1
        rows = [answer["city"], *answer["districts"], *answer["polycentres"]]
        for row in rows:
            if row["share_all_six"] is not None:  # riding only adds: never below the walk
                assert row["share_all_six_walk_pt"] >= row["share_all_six"], (profile, row)
        assert answer["city"]["share_all_six_walk_pt"] > answer["city"]["share_all_six"]
    for chair, ours in zip(figures["wheelchair"]["districts"], standard["districts"]):
        if ours["share_all_six_walk_pt"] is not None:  # fewer streets, fewer changes: no more
            assert chair["share_all_six_walk_pt"] <= ours["share_all_six_walk_pt"], chair
    assert (
        figures["wheelchair"]["city"]["share_all_six_walk_pt"]
        < standard["city"]["share_all_six_walk_pt"]
    )

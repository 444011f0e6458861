"""A planner adds public transport to a plan and reads KPI 4 — everything within 15 minutes on
foot or by public transport — move for the district it serves, while the walking-only figure
stays where it was (issue #18). The plan's routes and stops are trips of the evaluated day
merged into the small demo's stored feed (twin/transit/plan_trips.py); the evaluation uses the
code `twin analyse` publishes KPI 4 with (twin/transit/figures.py), one departure (08:00) as
conftest sets for every test."""

from __future__ import annotations

import csv
import io
import os
import time

import httpx
import numpy as np
import psycopg
import pytest

from conftest import twin_env
from twin.analysis.city import CATEGORIES, load_city
from twin.analysis.network import to_lonlat, to_utm
from twin.plans.compare import compare, side
from twin.plans.edits import EditError
from twin.plans.evaluate import evaluate_plan
from twin.transit.figures import city_timetable


@pytest.fixture(scope="module")
def conn(analysed_city: str):
    # the published figures' period (conftest.twin_env gives the CLI and servers one departure,
    # 08:00); the in-process evaluation reads the same setting
    saved = os.environ.get("TWIN_TRANSIT_WINDOW")
    os.environ["TWIN_TRANSIT_WINDOW"] = twin_env()["TWIN_TRANSIT_WINDOW"]
    with psycopg.connect(analysed_city, autocommit=True) as connection:
        yield connection
    if saved is None:
        os.environ.pop("TWIN_TRANSIT_WINDOW", None)
    else:
        os.environ["TWIN_TRANSIT_WINDOW"] = saved


@pytest.fixture(scope="module")
def city(conn):
    return load_city(conn)


@pytest.fixture(scope="module")
def today(city, conn) -> dict:
    """Today's evaluation (no edits): the walk + PT rows of the stored city."""
    return evaluate_plan(city, [], conn=conn)


def feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _lonlat(x: float, y: float) -> list[float]:
    lon, lat = to_lonlat(np.array([x]), np.array([y]))
    return [float(lon[0]), float(lat[0])]


def a_line_from_turksib_to_a_centre(city, today_plots) -> dict:
    """Two stops: the 400 m square of Turksib with the most residents lacking all six by walk +
    PT today, and the node nearest it from which all six categories are a 4-minute walk (a
    local centre), of the nodes within 5 km."""
    from twin.analysis.reports import baseline

    walking = baseline(city, "slope")
    worst = np.max(np.stack([walking.minutes[c] for c in CATEGORIES]), axis=0)
    net = city.network
    hubs = np.flatnonzero(worst <= 4)
    x, y = city.plot_places.x, city.plot_places.y
    residents = city.plots["residents"].to_numpy(float)
    lacking = (
        (city.plots["district"] == "Turksib").to_numpy()
        & ~today_plots["all_six_walk_pt"].to_numpy(bool)
        & (residents > 0)
    )
    squares, which = np.unique(
        np.floor(np.column_stack([x[lacking], y[lacking]]) / 400), axis=0, return_inverse=True
    )
    weight = np.bincount(which.ravel(), residents[lacking])
    for k in np.argsort(weight)[::-1]:
        cx, cy = (squares[k] + 0.5) * 400
        distance = np.hypot(net.x[hubs] - cx, net.y[hubs] - cy)
        if distance.min() <= 5000:
            hub = hubs[np.argmin(distance)]
            return {
                "type": "MultiPoint",
                "coordinates": [_lonlat(cx, cy), _lonlat(net.x[hub], net.y[hub])],
            }
    raise AssertionError("no crowded Turksib square within 5 km of a local centre")


def test_a_fast_line_from_turksib_to_a_centre_raises_its_kpi_4_not_its_walking_figure(
    city, conn, today
):
    """A metro-speed line (40 km/h, every 3 minutes) from Turksib's most crowded underserved
    square to the nearest local centre: more of Turksib has all six within 15 minutes on foot
    or by PT; on foot alone nothing moves. A bus at 18 km/h would spend 13 of the 15 minutes
    riding 4 km, which is why a 15-minute city needs fast lines."""
    from twin.plans.evaluate import _walk_pt_base

    base = _walk_pt_base(conn, city, "slope")["figures"]
    line = a_line_from_turksib_to_a_centre(city, base.plots)
    plan = evaluate_plan(
        city,
        [feature(line, edit="transit.route.add", mode="metro", headway_peak_min=3)],
        conn=conn,
    )
    walk_pt = plan["walk_pt"]
    (route,) = walk_pt["routes"]
    assert route["mode"] == "metro" and route["stops"] == 2
    # 06:00-23:00 both ways: every 3 minutes at the peaks (6 h: 120), every 8 (the metro's
    # default) off-peak (11 h: 82), give or take a departure where the periods meet
    assert abs(route["trips"] - 2 * (120 + 82)) <= 4
    before = walk_pt["base"]["districts"]["Turksib"]
    after = walk_pt["plan"]["districts"]["Turksib"]
    assert after["share_all_six_walk_pt"] > before["share_all_six_walk_pt"]
    assert after["share_all_six"] == before["share_all_six"]
    assert walk_pt["gains"]["districts"]["Turksib"]["gain"] > 0
    assert walk_pt["gains"]["city"]["lose"] == 0, "a new line never takes a minute from anyone"
    # today's side of the evaluation is what `twin analyse` published
    published = dict(
        conn.execute("SELECT district, share_all_six_walk_pt FROM district_indicators")
    )
    assert before["share_all_six_walk_pt"] == pytest.approx(published["Turksib"], abs=1e-4)
    assert today["walk_pt"]["plan"]["districts"]["Turksib"] == before
    # the comparison with today carries the figure and its change
    compared = compare(
        side(None, today), side({"id": 1, "title": "line", "author": "a", "version": 1}, plan)
    )
    row = compared["walk_pt"]["districts"]
    turksib = next(r for r in row if r["district"] == "Turksib")
    assert turksib["delta"]["share_all_six_walk_pt"] > 0
    assert turksib["delta"]["share_all_six"] == 0


def test_a_stop_on_a_route_changes_the_plots_near_it_only(city, conn):
    """A stop in the middle of a route's longest stretch between two stops: the trips of that
    route call there (both ways), and only a few plots — within a walk of the new stop, or a
    ride on to a walk from it — get other minutes; the walking-only figures stay."""
    tt, _ = city_timetable(conn, city)
    x, y = to_utm(tt.stop_lon, tt.stop_lat)
    longest = max(
        (
            (float(np.hypot(x[b] - x[a], y[b] - y[a])), p.route_id, a, b)
            for p in tt.patterns
            for a, b in zip(p.stops[:-1], p.stops[1:], strict=True)
        ),
    )
    _gap, route, a, b = longest
    point = {"type": "Point", "coordinates": _lonlat((x[a] + x[b]) / 2, (y[a] + y[b]) / 2)}
    plan = evaluate_plan(city, [feature(point, edit="transit.stop.add", route=route)], conn=conn)
    walk_pt = plan["walk_pt"]
    (stop,) = walk_pt["stops"]
    serving = sum(p.trips for p in tt.patterns if p.route_id == route)
    assert stop["route_id"] == route and stop["trips"] == serving
    assert walk_pt["timetable"]["stops"] == tt.n_stops + 1
    moved = walk_pt["plots_changed"]
    assert 0 < moved["plots"] < 0.005 * len(city.plots)
    assert moved["farthest_from_new_stops_m"] <= 2000
    assert plan["indicators"] == plan["base"], "on foot nothing changed"


@pytest.mark.parametrize(
    ("geometry", "properties", "problem"),
    [
        ("line", {"mode": "hovercraft"}, "unknown mode 'hovercraft'"),
        ("line", {"headway_peak_min": 0}, "headway_peak_min must be greater than 0"),
        ("line", {"headway_offpeak_min": -5}, "headway_offpeak_min must be greater than 0"),
        ("line", {"service_hours": "23:00-06:00"}, "must run forward"),
        ("short", {}, "a route must be at least 500 m"),
        ("one_stop", {}, "at least two stops"),
        ("far_stop", {"route": "ROUTE"}, "a new stop must lie within 300 m of its route"),
        ("stop", {"route": "NO-SUCH-ROUTE"}, "unknown route 'NO-SUCH-ROUTE'"),
    ],
)
def test_bad_transit_edits_answer_400_naming_the_problem(city, conn, geometry, properties, problem):
    tt, _ = city_timetable(conn, city)
    route = tt.patterns[0].route_id
    first, second = tt.patterns[0].stops[:2]
    x, y = to_utm(tt.stop_lon, tt.stop_lat)
    sx, sy = float(x[first]), float(y[first])
    shapes = {
        "line": {"type": "LineString", "coordinates": [_lonlat(sx, sy), _lonlat(sx + 2000, sy)]},
        "short": {"type": "LineString", "coordinates": [_lonlat(sx, sy), _lonlat(sx + 300, sy)]},
        "one_stop": {"type": "MultiPoint", "coordinates": [_lonlat(sx, sy)]},
        "stop": {"type": "Point", "coordinates": _lonlat(sx, sy)},
        # 1 km off the stretch between the route's first two stops, across it
        "far_stop": {
            "type": "Point",
            "coordinates": _lonlat(
                (sx + x[second]) / 2
                - (y[second] - sy) / np.hypot(x[second] - sx, y[second] - sy) * 1000,
                (sy + y[second]) / 2
                + (x[second] - sx) / np.hypot(x[second] - sx, y[second] - sy) * 1000,
            ),
        },
    }
    kind = "transit.stop.add" if geometry in ("stop", "far_stop") else "transit.route.add"
    given = {k: (route if v == "ROUTE" else v) for k, v in properties.items()}
    with pytest.raises(EditError) as refused:
        evaluate_plan(city, [feature(shapes[geometry], edit=kind, **given)], conn=conn)
    assert refused.value.status == 400
    assert problem in refused.value.problem
    assert refused.value.edit == "e1"


def test_over_http_a_plan_with_a_new_line_carries_kpi_4_into_its_comparison_and_report(
    city, conn, city_server, planner
):
    """The same fast line, made through the plans API by a planner with a key: the server
    evaluates it (walk + PT for plans with transit edits), `GET /plans/base/compare/{id}`
    carries KPI 4 of both sides with the change, and the CSV report has the KPI 4 row of
    Turksib beside the walking-only one (twin/plans/report.py)."""
    from twin.plans.evaluate import _walk_pt_base

    _author, key = planner
    base = _walk_pt_base(conn, city, "slope")["figures"]
    line = a_line_from_turksib_to_a_centre(city, base.plots)
    edit = feature(line, edit="transit.route.add", mode="metro", headway_peak_min=3)
    headers = {"X-API-Key": key}
    made = httpx.post(
        f"{city_server.url}/plans",
        json={"title": "Turksib line", "edits": {"type": "FeatureCollection", "features": [edit]}},
        headers=headers,
        timeout=60,
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    stored = made.json()["edits"]["features"][0]["properties"]
    assert stored["route_id"] == "plan-e1" and stored["stops"] == 2  # normalised when stored
    deadline = time.monotonic() + 300
    plan = made.json()
    while plan["status"] in ("new", "pending") and time.monotonic() < deadline:
        time.sleep(0.5)
        plan = httpx.get(f"{city_server.url}/plans/{pid}", timeout=60).json()
    assert plan["status"] == "evaluated", plan.get("failure")
    walk_pt = plan["evaluation"]["walk_pt"]
    change = walk_pt["delta"]["districts"]["Turksib"]
    assert change["share_all_six_walk_pt"] > 0 and change["share_all_six"] == 0
    assert walk_pt["delta"]["city"]["share_all_six"] == 0
    assert all(d["share_all_six_walk_pt"] >= 0 for d in walk_pt["delta"]["districts"].values())

    compared = httpx.get(f"{city_server.url}/plans/base/compare/{pid}", timeout=60).json()
    (turksib,) = [r for r in compared["walk_pt"]["districts"] if r["district"] == "Turksib"]
    assert turksib["a"] == walk_pt["base"]["districts"]["Turksib"]
    assert turksib["delta"]["share_all_six_walk_pt"] == pytest.approx(
        change["share_all_six_walk_pt"]
    )
    assert compared["walk_pt"]["city"]["delta"]["share_all_six"] == 0

    report = httpx.get(
        f"{city_server.url}/plans/{pid}/report", params={"f": "csv", "lang": "en"}, timeout=60
    )
    assert report.status_code == 200, report.text
    rows = {
        (r["area"], r["indicator"]): r
        for r in csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))
    }
    kpi = rows[("Turksib", "share_all_six_walk_pt")]
    assert float(kpi["difference"]) == pytest.approx(change["share_all_six_walk_pt"])
    assert "on foot or by public transport" in kpi["label"]
    assert float(rows[("Turksib", "share_all_six")]["difference"]) == 0
    assert float(rows[("Almaty", "share_all_six_walk_pt")]["plan"]) == pytest.approx(
        walk_pt["plan"]["city"]["share_all_six_walk_pt"]
    )
    page = httpx.get(
        f"{city_server.url}/plans/{pid}/report", params={"f": "html", "lang": "ru"}, timeout=60
    ).text
    assert "пешком или на общественном транспорте (KPI 4)" in page


def test_a_stop_on_the_plans_own_route_is_timed_halfway_along_it(city, conn):
    """A two-stop bus route 2 km long and a stop drawn at its middle: every trip of the route,
    both ways, calls at the new stop halfway in time between its two ends (2 km at 18 km/h
    take 400 s, so 200 s after the first); the feed's trips stay as they are."""
    from twin.plans.edits import parse_edits
    from twin.transit.plan_trips import plan_frames, route_lines

    tt, _ = city_timetable(conn, city)
    route_lines(city, conn)
    x, y = to_utm(tt.stop_lon[:1], tt.stop_lat[:1])
    sx, sy = float(x[0]), float(y[0])
    line = {"type": "MultiPoint", "coordinates": [_lonlat(sx, sy), _lonlat(sx + 2000, sy)]}
    middle = {"type": "Point", "coordinates": _lonlat(sx + 1000, sy + 50)}
    edits = parse_edits(
        [
            feature(line, edit="transit.route.add", mode="bus"),
            feature(middle, edit="transit.stop.add", route="plan-e1"),
        ],
        city,
    )
    frames, replaced, added = plan_frames(tt, edits)
    assert replaced == set(), "the feed's routes keep their trips"
    assert [s["route_id"] for s in added.stops] == ["plan-e1"]
    times = frames.stop_times.sort_values(["trip_id", "stop_sequence"])
    for trip, calls in times.groupby("trip_id"):
        assert list(calls["stop_id"].iloc[[0, 2]]) in (
            ["plan-e1-1", "plan-e1-2"],
            ["plan-e1-2", "plan-e1-1"],
        ), trip
        assert calls["stop_id"].iloc[1] == "plan-e2"
        first, middle_s, last = calls["arrival_s"].to_list()
        assert last - first == 400  # 2 km at 18 km/h
        assert middle_s - first == 200, trip

"""A planner reads the programme's KPI 4 — everything within 15 minutes on foot OR by public
transport — for the city, each district and polycentre, beside the walking-only figure, and
asks where a bus gets her in 30 minutes. The small demo carries its synthetic GTFS feed
(twin/demo/transit.py), imported by `twin load demo`; `twin analyse` publishes the figures
(twin/transit/figures.py) for one departure in the tests (conftest: TWIN_TRANSIT_WINDOW)."""

from __future__ import annotations

import psycopg
import pytest

from conftest import Server
from twin.analysis.city import CATEGORIES


@pytest.fixture(scope="module")
def figures(analysed_city: str) -> dict:
    with psycopg.connect(analysed_city, autocommit=True) as conn:
        districts = conn.execute(
            "SELECT district, residents, share_all_six, share_all_six_walk_pt, "
            "rapid_transit_gap_residents, rapid_transit_gap_share FROM district_indicators"
        ).fetchall()
        polycentres = conn.execute(
            "SELECT polycentre, share_all_six, share_all_six_walk_pt FROM polycentre_indicators"
        ).fetchall()
        worse = {
            c: conn.execute(
                f"SELECT count(*) FROM plot_metrics WHERE min_{c}_walk_pt > min_{c} + 0.005"
                f" OR (min_{c} IS NOT NULL AND min_{c}_walk_pt IS NULL)"
            ).fetchone()[0]
            for c in CATEGORIES
        }
        better = conn.execute(
            "SELECT count(*) FROM plot_metrics WHERE min_education_walk_pt < min_education - 1 "
            "OR (min_education IS NULL AND min_education_walk_pt IS NOT NULL)"
        ).fetchone()[0]
        cells = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE all_six_walk_pt IS NULL) FROM fifteen_cells"
        ).fetchone()
        feed = conn.execute("SELECT count(*) FROM gtfs_trips").fetchone()[0]
    return {
        "districts": districts,
        "polycentres": polycentres,
        "worse": worse,
        "better": better,
        "cells": cells,
        "trips": feed,
    }


def test_the_bus_only_ever_helps_and_reaches_plots_a_walk_does_not(figures: dict) -> None:
    """Walk + PT is the better of walking and riding: no plot is worse off in any category,
    and many reach a school sooner (or at all) by bus."""
    assert figures["trips"] > 1000, "the demo's feed is loaded"
    assert figures["worse"] == dict.fromkeys(CATEGORIES, 0)
    assert figures["better"] > 100
    count, empty = figures["cells"]
    assert count > 0 and empty == 0, "every cell has its walk+PT figures"


def test_kpi4_by_district_and_polycentre_beside_walking(figures: dict) -> None:
    """Every district and polycentre has the KPI on foot or by PT, never below walking alone;
    the city as a whole gains; the rapid-transit gap is a share of the district's people."""
    gained = 0
    for name, residents, walk, walk_pt, gap, gap_share in figures["districts"]:
        assert walk_pt is not None and walk is not None, name
        assert walk_pt >= walk, name
        gained += walk_pt > walk
        assert 0 <= gap <= residents and gap_share == pytest.approx(gap / residents, abs=1e-4)
    assert gained >= len(figures["districts"]) // 2
    # the programme: metro, BRT and LRT serve the centre; north, east and west are not covered
    gaps = {name: share for name, *_, share in figures["districts"]}
    assert gaps["Almaly"] < gaps["Turksib"] and gaps["Almaly"] < gaps["Alatau"]
    for name, walk, walk_pt in figures["polycentres"]:
        assert walk_pt >= walk, name


def test_indicators_set_kpi4_against_the_programmes_target(server: Server, analysed_city) -> None:
    city = server.get("/indicators").json()["city"]
    assert city["share_all_six_walk_pt"] >= city["share_all_six"]
    target = city["targets"]["share_all_six_walk_pt"]
    assert target["target"] == 1.0 and target["year"] == 2030 and "KPI 4" in target["source"]
    assert city["walk_pt_period"].endswith("08:00-08:05 every 5 min")


def test_a_planner_sees_how_far_a_bus_gets_her_in_30_minutes(server: Server, analysed_city):
    """The walk+PT isochrone covers more ground and more residents than the walk, leaving at
    08:00 on the feed's working day; a day the feed does not run, a time that is not a time
    and a mode the twin does not ride are refused, naming the problem."""
    start = {"lon": 76.93, "lat": 43.25, "minutes": [15, 30]}

    def run(**extra) -> dict:
        answer = server.post("/processes/isochrone/execution", json={"inputs": start | extra})
        assert answer.status_code == 200, answer.text
        return {f["properties"]["minutes"]: f["properties"] for f in answer.json()["features"]}

    walk = run()
    ride = run(modes=["walk", "transit"], departure="08:00")
    for band in (15.0, 30.0):
        assert ride[band]["area_km2"] >= walk[band]["area_km2"]
        assert ride[band]["reached"]["residents"] >= walk[band]["reached"]["residents"]
    assert ride[30.0]["reached"]["residents"] > 2 * walk[30.0]["reached"]["residents"]
    night = run(modes=["walk", "transit"], departure="03:30")
    assert night[30.0]["reached"]["residents"] < ride[30.0]["reached"]["residents"]
    for bad, words in (
        ({"modes": ["walk", "transit"], "date": "1999-01-01"}, "no service on 1999-01-01"),
        ({"modes": ["walk", "transit"], "departure": "8 o'clock"}, "not a time"),
        ({"modes": ["hovercraft"]}, "is not a mode"),
    ):
        answer = server.post("/processes/isochrone/execution", json={"inputs": start | bad})
        assert answer.status_code == 400 and words in answer.json()["description"], answer.text


def test_the_routes_of_the_feed_are_a_layer_a_gis_reads(server: Server, analysed_city) -> None:
    metro = server.get(
        "/collections/transit_routes/items", params={"mode": "metro", "limit": 10}
    ).json()
    assert metro["numberMatched"] >= 1
    line = metro["features"][0]["properties"]
    assert 12.0 <= line["length_km"] <= 14.0 and line["stops"] == 11

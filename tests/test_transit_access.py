"""Walk + transit minutes on the walking network (twin.transit.access), on a street and a bus
line where every answer is worked out by hand.

One straight street, 4 km east-west, a node every 100 m (1.25 minutes at 4.8 km/h, flat). A
family lives at its west end (x = 0); the school is at the east end (x = 3200 m): 40 minutes
on foot, beyond the 30-minute reach of the walking figures. A bus stop stands at each end (and
one more 300 m from the first); the bus leaves the west stop at 08:02, 08:12, ... and reaches
the school's stop 10 minutes later: 12 minutes door to door when leaving home at 08:00.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely

from twin.analysis.city import CATEGORIES, CityModel, Places, park_entrances, snap_rows
from twin.analysis.fifteen import node_access, place_minutes
from twin.analysis.network import build_network, to_lonlat
from twin.transit.access import (
    footpaths,
    reach_from_point,
    stop_nodes,
    transit_access,
    window_departures,
)
from twin.transit.frames import TimetableFrames
from twin.transit.timetable import build_timetable

ORIGIN_X, ORIGIN_Y = 630_000.0, 4_785_000.0  # central Almaty in UTM 43N
STEP_M = 100.0
NODES = 41  # x = 0 .. 4000 m
SCHOOL_X = 3200.0
DAY = date(2026, 3, 2)
STOPS = {"west": 0.0, "west_b": 300.0, "school": SCHOOL_X}


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def street_city() -> CityModel:
    """The street as a city: one school, one home plot at each of a few nodes."""
    x = ORIGIN_X + STEP_M * np.arange(NODES)
    lon, lat = to_lonlat(x, np.full(NODES, ORIGIN_Y))
    network = build_network(
        np.arange(NODES - 1),
        np.arange(1, NODES),
        np.full(NODES - 1, STEP_M),
        lon[:-1],
        lat[:-1],
        lon[1:],
        lat[1:],
    )
    school = snap_rows(network, np.array([ORIGIN_X + SCHOOL_X]), np.array([ORIGIN_Y]))
    amenities = pd.DataFrame(
        {
            "layer": "amenities",
            "id": [1],
            "category": "education",
            "kind": "school",
            "name": "School 1",
            **school,
        }
    )
    homes = np.array([0.0, 200.0, 500.0, 1500.0])
    plot_places = Places.snapped(network, ORIGIN_X + homes, np.full(len(homes), ORIGIN_Y))
    return CityModel(
        network=network,
        amenities=amenities,
        parks=pd.DataFrame(columns=["id", "name", "kind", "status", "district", "area_m2"]),
        park_shapes=np.array([]),
        entrances=park_entrances(network, np.array([])),
        plots=pd.DataFrame({"id": np.arange(len(homes)), "residents": 4}),
        plot_places=plot_places,
        cells=pd.DataFrame(columns=["h3", "lon", "lat", "district", "residents", "plots"]),
        cell_places=Places.snapped(network, np.zeros(0), np.zeros(0)),
        districts=pd.DataFrame(columns=["name", "population"]),
        district_shapes=np.array([], dtype=object),
        polycentres=pd.DataFrame(columns=["name", "target_density_pph"]),
        polycentre_shapes=np.array([shapely.Point(0, 0)])[:0],
    )


def bus_line(first: str = "08:02", last: str = "09:52", every_min: int = 10):
    """The bus west → school, every `every_min` minutes, 10 minutes' ride, daily."""
    lon, lat = to_lonlat(ORIGIN_X + np.array(list(STOPS.values())), np.full(len(STOPS), ORIGIN_Y))
    stops = pd.DataFrame(
        {"stop_id": list(STOPS), "stop_name": list(STOPS), "lon": lon, "lat": lat, "mode": "bus"}
    )
    starts = range(hm(first), hm(last) + 1, every_min * 60)
    trips = pd.DataFrame(
        {
            "trip_id": [f"t{s}" for s in starts],
            "route_id": "1",
            "service_id": "daily",
            "direction_id": 0,
            "shape_id": None,
        }
    )
    stop_times = pd.DataFrame(
        [
            (f"t{s}", k, stop, s + offset, s + offset)
            for s in starts
            for k, (stop, offset) in enumerate([("west", 0), ("school", 600)])
        ],
        columns=["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"],
    )
    calendar = pd.DataFrame(
        [
            {
                "service_id": "daily",
                **dict.fromkeys(
                    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
                    True,
                ),
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 12, 31),
            }
        ]
    )
    routes = pd.DataFrame({"route_id": ["1"], "route_type": [3], "mode": ["bus"]})
    no_dates = pd.DataFrame(columns=["service_id", "date", "exception_type"])
    frames = TimetableFrames(stops, routes, trips, stop_times, calendar, no_dates)
    return build_timetable(frames, DAY)


@pytest.fixture(scope="module")
def city() -> CityModel:
    return street_city()


def node_at(x_m: float) -> int:
    return int(round(x_m / STEP_M))


def test_stops_snap_to_their_nodes_and_near_stops_are_a_footpath_apart(city) -> None:
    tt = bus_line()
    nodes, snap = stop_nodes(city.network, tt)
    assert [int(city.network.x[n] - ORIGIN_X + 0.5) for n in nodes] == [0, 300, 3200]
    assert snap.max() < 0.01
    walks = footpaths(city.network, tt, max_minutes=5)
    pairs = {(a, b): s for a, b, s in walks.itertuples(index=False)}
    # 300 m = 3.75 minutes = 225 s, both ways; the school's stop is 2.9 km away: no footpath
    assert pairs == {("west", "west_b"): 225, ("west_b", "west"): 225}
    assert footpaths(city.network, tt, max_minutes=3).empty


def test_a_school_40_minutes_away_on_foot_is_12_minutes_by_bus(city) -> None:
    tt = bus_line()
    walking = node_access(city, "slope")
    assert walking.minutes["education"][node_at(0)] == np.inf  # 40 min: beyond 30
    assert walking.minutes["education"][node_at(1500)] == pytest.approx(1700 / 80)
    by_bus = transit_access(city, tt, hm("08:00"), walking=walking)
    school = by_bus.minutes["education"]
    # at the stop at 08:00: wait 2 minutes, ride 10
    assert school[node_at(0)] == pytest.approx(12.0, abs=1e-3)
    # 200 m to the stop (2.5 min) + 12: the rider is taken to be at the stop at 08:00
    assert school[node_at(200)] == pytest.approx(14.5, abs=1e-3)
    assert school[node_at(500)] == pytest.approx(6.25 + 12.0, abs=1e-3)
    # 1500 m from home: the stop is 18.75 min away, beyond the 10-minute walk to a stop
    assert school[node_at(1500)] == pytest.approx(1700 / 80, abs=1e-3)
    # 2.5 min past the school's stop: ride, then walk back
    assert school[node_at(3400)] == pytest.approx(walking.minutes["education"][node_at(3400)])
    assert school[node_at(2400)] == pytest.approx(10.0, abs=1e-3)  # walking: 800 m
    assert by_bus.origin["education"][node_at(0)] == 0  # the one school
    plots = place_minutes(by_bus, city.plot_places)
    assert plots.min_education.round(2).tolist() == [12.0, 14.5, 18.25, 21.25]
    walk_plots = place_minutes(walking, city.plot_places)
    assert walk_plots.min_education.isna().tolist() == [True, True, True, False]
    for category in CATEGORIES:  # nothing else in town: no minutes by bus either
        if category != "education":
            assert np.isinf(by_bus.minutes[category]).all()


def test_the_window_median_counts_the_wait_for_each_departure(city) -> None:
    """08:00-09:00 every 5 min: leaving at :00 the wait is 2 min, at :05 it is 7 (a bus every
    ten minutes): door to door 12 or 17 minutes, six of each, median 14.5."""
    tt = bus_line()
    departures = window_departures(hm("08:00"), hm("09:00"), 300)
    assert len(departures) == 12
    median = transit_access(city, tt, departures)
    assert median.minutes["education"][node_at(0)] == pytest.approx(14.5, abs=1e-3)
    only_five_past = transit_access(city, tt, hm("08:05"))
    assert only_five_past.minutes["education"][node_at(0)] == pytest.approx(17.0, abs=1e-3)
    # after the last bus (09:52) nothing runs: walking only
    late = transit_access(city, tt, hm("10:00"))
    assert late.minutes["education"][node_at(0)] == np.inf


def test_a_walk_and_bus_isochrone_from_a_home(city) -> None:
    tt = bus_line()
    x0 = ORIGIN_X
    reach = reach_from_point(city, tt, x0, ORIGIN_Y, hm("08:00"), 15)
    assert reach[node_at(SCHOOL_X)] == pytest.approx(12.0, abs=1e-3)
    assert reach[node_at(SCHOOL_X - 200)] == pytest.approx(14.5, abs=1e-3)  # walk back 200 m
    assert reach[node_at(SCHOOL_X + 200)] == pytest.approx(14.5, abs=1e-3)
    assert reach[node_at(SCHOOL_X - 300)] == np.inf  # 15.75 minutes
    assert reach[node_at(1000)] == pytest.approx(12.5, abs=1e-3)  # on foot
    assert reach[node_at(1300)] == np.inf
    # from 200 m along the street the walk to the stop takes 2.5 minutes: the 08:02 bus is
    # gone, the 08:12 one arrives 08:22. Exact per point, unlike the per-node figures above
    later = reach_from_point(city, tt, x0 + 200, ORIGIN_Y, hm("08:00"), 30)
    assert later[node_at(SCHOOL_X)] == pytest.approx(22.0, abs=1e-3)
    # a walk to a stop longer than 10 minutes is not taken: 11.25 minutes to the stop at
    # 08:01:15, the 08:02 bus, the school at 08:12 would be 22 minutes; on foot it is 28.75
    far = reach_from_point(city, tt, x0 + 900, ORIGIN_Y, hm("07:50"), 25)
    assert far[node_at(SCHOOL_X)] == np.inf
    assert reach_from_point(city, tt, x0 + 900, ORIGIN_Y, hm("07:50"), 30)[
        node_at(SCHOOL_X)
    ] == pytest.approx(28.75, abs=1e-3)

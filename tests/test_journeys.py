"""A rider's journey leg by leg (twin.transit.journey) on a hand-built feed where the legs are
known by hand, and the route process answering with walk, transit, bike and scooter legs.

Five stops on a line A - B - C - D, and a home 2 minutes' walk from A; the office is 3 minutes'
walk from D. Leaving home at 08:00:
- bus 1 leaves A at 08:05, B 08:15, C 08:25, reaches D at 08:45;
- bus 2 leaves B at 08:15:30 (missed: changing takes a minute) and 08:18, reaching D 12 minutes
  later (08:27:30, 08:30);
- bus 3 leaves A at 08:01 (gone before the rider gets there) and 08:03, reaching D 47 minutes
  later (08:48, 08:50).
Best: walk 2, wait 3, bus 1 to B (10), wait 3, bus 2 to D (12), walk 3: at the office 08:33.
B has steps (wheelchair_boarding 2): a wheelchair user stays on bus 1 to D, at the office 08:48.
"""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest

from twin.transit.frames import TimetableFrames
from twin.transit.journey import plan_journey, step_free_closed
from twin.transit.raptor import earliest_arrival
from twin.transit.timetable import build_timetable

DAY = date(2026, 3, 3)
STOP_IDS = ["A", "B", "C", "D"]


def hms(text: str) -> int:
    parts = [int(p) for p in text.split(":")] + [0]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def feed() -> TimetableFrames:
    stops = pd.DataFrame(
        {
            "stop_id": STOP_IDS,
            "stop_name": ["Abai", "Baitursynov", "Dostyk", "Zhibek Zholy"],
            "lon": [76.90, 76.91, 76.92, 76.93],
            "lat": 43.25,
            "mode": "bus",
            "wheelchair_boarding": [1, 2, 0, 1],
        }
    )
    trips, times = [], []

    def trip(route: str, trip_id: str, calls: list[tuple[str, str]]) -> None:
        trips.append((trip_id, route, "daily", 0, None))
        for k, (stop, at) in enumerate(calls):
            times.append((trip_id, k, stop, hms(at), hms(at)))

    trip("1", "1a", [("A", "08:05"), ("B", "08:15"), ("C", "08:25"), ("D", "08:45")])
    trip("2", "2a", [("B", "08:15:30"), ("D", "08:27:30")])
    trip("2", "2b", [("B", "08:18"), ("D", "08:30")])
    trip("3", "3a", [("A", "08:01"), ("D", "08:48")])
    trip("3", "3b", [("A", "08:03"), ("D", "08:50")])
    week = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    calendar = pd.DataFrame(
        [
            {
                "service_id": "daily",
                **dict.fromkeys(week, True),
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 12, 31),
            }
        ]
    )
    return TimetableFrames(
        stops=stops,
        routes=pd.DataFrame(
            {"route_id": ["1", "2", "3"], "short_name": ["1", "2", "3"], "route_type": 3}
        ).assign(long_name=None, mode="bus"),
        trips=pd.DataFrame(
            trips, columns=["trip_id", "route_id", "service_id", "direction_id", "shape_id"]
        ),
        stop_times=pd.DataFrame(
            times, columns=["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"]
        ),
        calendar=calendar,
        calendar_dates=pd.DataFrame(columns=["service_id", "date", "exception_type"]),
    )


def walks(tt, seconds: dict[str, float]) -> np.ndarray:
    out = np.full(tt.n_stops, np.inf)
    for stop, s in seconds.items():
        out[tt.stop_index([stop])[0]] = s
    return out


def described(tt, journey) -> list[tuple]:
    """(kind, from, to, wait, seconds, route) per leg, stops by id."""
    name = {i: s for i, s in enumerate(tt.stop_ids)}
    return [
        (
            leg.kind,
            name.get(leg.from_stop),
            name.get(leg.to_stop),
            leg.wait_s,
            leg.seconds,
            tt.patterns[leg.pattern].route_id if leg.kind == "ride" else None,
        )
        for leg in journey.legs
    ]


def test_the_best_journey_changes_buses_and_its_legs_add_up():
    tt = build_timetable(feed(), DAY)
    departure = hms("08:00")
    journey = plan_journey(tt, departure, walks(tt, {"A": 120}), walks(tt, {"D": 180}))
    assert described(tt, journey) == [
        ("walk", None, "A", 0.0, 120.0, None),
        ("ride", "A", "B", 180.0, 780.0, "1"),  # waits 08:02-08:05, rides to 08:15
        ("ride", "B", "D", 180.0, 900.0, "2"),  # the 08:15:30 is missed: 08:18 to 08:30
        ("walk", "D", None, 0.0, 180.0, None),
    ]
    assert journey.arrival_s == hms("08:33") and journey.rides == 2
    assert sum(leg.seconds for leg in journey.legs) == journey.arrival_s - departure
    # RAPTOR's own arrival at D from the same start, plus the walk on, is the journey's
    ride = earliest_arrival(tt, tt.stop_index(["A"]), np.array([departure + 120.0]))
    assert ride[tt.stop_index(["D"])[0]] + 180 == journey.arrival_s


def test_a_wheelchair_user_stays_on_past_the_stepped_stop():
    frames = feed()
    tt = build_timetable(frames, DAY)
    closed = step_free_closed(frames.stops, tt)
    assert tt.stop_ids[closed].tolist() == ["B"]  # wheelchair_boarding 2; 0 (unknown) is open
    journey = plan_journey(
        tt, hms("08:00"), walks(tt, {"A": 120}), walks(tt, {"D": 180}), closed=closed
    )
    assert described(tt, journey) == [
        ("walk", None, "A", 0.0, 120.0, None),
        ("ride", "A", "D", 180.0, 2580.0, "1"),  # through B without leaving the bus
        ("walk", "D", None, 0.0, 180.0, None),
    ]
    assert journey.arrival_s == hms("08:48")
    ride = earliest_arrival(tt, tt.stop_index(["A"]), np.array([hms("08:02")]), closed=closed)
    assert ride[tt.stop_index(["D"])[0]] == hms("08:45")
    assert not np.isfinite(ride[tt.stop_index(["B"])[0]])


@pytest.mark.parametrize("departure", ["07:50", "08:00", "08:04", "08:10"])
def test_journeys_arrive_when_raptor_says_from_every_stop(departure):
    """The journey to each stop (the walk on: none) arrives at RAPTOR's time, with a footpath
    between B and C so walks between stops are read back too."""
    transfers = pd.DataFrame({"from_stop_id": ["B", "C"], "to_stop_id": ["C", "B"], "seconds": 90})
    tt = build_timetable(feed(), DAY, transfers=transfers)
    start = hms(departure)
    for origin in range(tt.n_stops):
        expected = earliest_arrival(tt, np.array([origin]), np.array([float(start)]))
        for target in range(tt.n_stops):
            egress = np.where(np.arange(tt.n_stops) == target, 0.0, np.inf)
            access = np.where(np.arange(tt.n_stops) == origin, 0.0, np.inf)
            journey = plan_journey(tt, start, access, egress)
            if not np.isfinite(expected[target]):
                assert journey is None
                continue
            assert journey.arrival_s == expected[target]
            assert sum(leg.seconds for leg in journey.legs) == journey.arrival_s - start
            for before, leg in itertools.pairwise(journey.legs):
                assert leg.start_s == before.end_s and leg.wait_s >= 0


# -- the route process over HTTP, on the small demo ------------------------------------------


def route(server, waypoints, **inputs):
    body = {"waypoints": {"type": "MultiPoint", "coordinates": waypoints}, **inputs}
    return server.post("/processes/route/execution", json={"inputs": body})


def legs_add_up(answer: dict) -> tuple[dict, list[dict]]:
    """The overview and legs; the legs' minutes sum to the overview's and each starts where
    the one before ended (times and line)."""
    overview, start, end, *legs = answer["features"]
    assert (start["properties"]["featureType"], end["properties"]["featureType"]) == (
        "start",
        "end",
    )
    props = overview["properties"]
    assert [leg["properties"]["featureType"] for leg in legs] == ["leg"] * len(legs)
    assert props["legs"] == len(legs)
    total = sum(leg["properties"]["minutes"] for leg in legs)
    assert props["minutes"] == pytest.approx(total, abs=0.05)
    for before, leg in itertools.pairwise(legs):
        if "end" in before["properties"]:
            assert leg["properties"]["start"] == before["properties"]["end"]
    return props, [leg["properties"] for leg in legs]


def test_a_metro_journey_between_two_stations_and_the_wheelchair_one(server, demo_city, db):
    stations = db.execute(
        "SELECT lon, lat FROM gtfs_stops WHERE mode = 'metro' ORDER BY lon"
    ).fetchall()
    assert len(stations) == 11
    # from 200 m east of the westernmost station to 200 m north of the easternmost
    (lon0, lat0), (lon1, lat1) = stations[0], stations[-1]
    ends = [[lon0 + 0.0025, lat0], [lon1, lat1 + 0.0018]]
    answer = route(server, ends, modes=["walk", "transit"], departure="08:10")
    assert answer.status_code == 200, answer.text
    props, legs = legs_add_up(answer.json())
    assert props["departure"] == "08:10:00" and props["rides"] >= 1
    assert props["minutes"] < props["walking_minutes_all_the_way"]
    rides = [leg for leg in legs if leg["kind"] == "ride"]
    assert legs[0]["kind"] == legs[-1]["kind"] == "walk"
    assert any(r["transit_mode"] == "metro" for r in rides)
    for r in rides:
        assert r["board"] >= r["start"] and r["end"] > r["board"]
        assert r["wait_minutes"] >= 0 and r["from_stop"]["name"] and r["route"]
    assert props["wait_minutes"] == pytest.approx(sum(r["wait_minutes"] for r in rides), abs=0.05)
    # a wheelchair user: slower walks on barrier-free streets only, never earlier
    chair = route(server, ends, modes=["walk", "transit"], departure="08:10", profile="wheelchair")
    assert chair.status_code == 200, chair.text
    chair_props, _ = legs_add_up(chair.json())
    assert chair_props["minutes"] >= props["minutes"]
    assert chair_props["barrier_free"]
    # walking only: the walk route, as before
    walk = route(server, ends).json()["features"][0]["properties"]
    assert walk["modes"] == ["walk"] and walk["minutes"] > props["minutes"]


def test_bike_and_scooter_routes_with_their_legs(server, demo_city, db):
    (lon0, lat0), (lon1, lat1) = db.execute(
        "SELECT lon, lat FROM gtfs_stops WHERE mode = 'metro' ORDER BY lon"
    ).fetchall()[::10]
    ends = [[lon0 + 0.0025, lat0], [lon1, lat1 + 0.0018]]
    walk = route(server, ends).json()["features"][0]["properties"]
    bike = route(server, ends, modes=["bike"])
    assert bike.status_code == 200, bike.text
    props, legs = legs_add_up(bike.json())
    assert [leg["kind"] for leg in legs] == ["ride"] and legs[0]["ride_mode"] == "bike"
    assert props["minutes"] < walk["minutes"] / 2  # 15 km/h against 4.8
    scooter = route(server, ends, modes=["walk", "scooter"])
    assert scooter.status_code == 200, scooter.text
    props, legs = legs_add_up(scooter.json())
    assert [leg["kind"] for leg in legs] == ["walk", "ride", "walk"]  # to and from parking
    ride = legs[1]
    assert ride["ride_mode"] == "scooter" and ride["handling_minutes"] == 1.0
    assert ride["from_parking"] != ride["to_parking"]
    assert props["walk_minutes"] == pytest.approx(legs[0]["minutes"] + legs[2]["minutes"])

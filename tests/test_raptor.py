"""Walk + transit earliest arrival (twin.transit.raptor) proven against a brute force.

The brute force is a time-expanded graph searched by networkx's Dijkstra, written plainly
here: a node per (vehicles used, stop, time one can board there) and per (vehicles used, trip,
call); edges wait at a stop, board, ride, sit at a call, and alight with the change time or one
footpath. It reads the feed's tables itself (which trips run on the day, yesterday's trips
past midnight). On hand-built feeds whose answers are known by hand, and on random seeded
feeds, RAPTOR's arrival at every stop equals the brute force's to the second.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.transit.frames import TimetableFrames
from twin.transit.raptor import FEW_ORIGINS, earliest_arrival, travel_times
from twin.transit.timetable import NoService, build_timetable

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONDAY = date(2026, 3, 2)


def hm(text: str) -> int:
    """'08:05' or '24:20:30' → seconds after midnight (GTFS times may pass 24:00)."""
    parts = [int(p) for p in text.split(":")] + [0]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def feed(
    trips: dict[str, list[tuple[str, int, int]]],
    *,
    route_of: dict[str, str] | None = None,
    service_of: dict[str, str] | None = None,
    weekdays: dict[str, tuple[int, ...]] | None = None,
    exceptions: list[tuple[str, date, int]] = (),
    extra_stops: tuple[str, ...] = (),
) -> TimetableFrames:
    """A feed from trips written as calls (stop, arrival s, departure s); services run every
    day of 2026 unless `weekdays` says which (0 = Monday)."""
    stop_ids = sorted({s for calls in trips.values() for s, _, _ in calls} | set(extra_stops))
    route_of = route_of or {t: f"R{t}" for t in trips}
    service_of = service_of or {t: "daily" for t in trips}
    weekdays = weekdays or {}
    services = sorted(set(service_of.values()) | {s for s, _, _ in exceptions})
    stops = pd.DataFrame(
        {
            "stop_id": stop_ids,
            "stop_name": stop_ids,
            "lon": 76.9 + 0.001 * np.arange(len(stop_ids)),
            "lat": 43.25 + np.zeros(len(stop_ids)),
            "mode": "bus",
        }
    )
    routes = pd.DataFrame(
        {"route_id": sorted(set(route_of.values())), "route_type": 3, "mode": "bus"}
    )
    trip_rows = pd.DataFrame(
        {
            "trip_id": list(trips),
            "route_id": [route_of[t] for t in trips],
            "service_id": [service_of[t] for t in trips],
            "direction_id": 0,
            "shape_id": None,
        }
    )
    stop_times = pd.DataFrame(
        [
            (trip, sequence, stop, arrival, departure)
            for trip, calls in trips.items()
            for sequence, (stop, arrival, departure) in enumerate(calls)
        ],
        columns=["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"],
    )
    calendar = pd.DataFrame(
        [
            {
                "service_id": s,
                **{d: i in weekdays.get(s, range(7)) for i, d in enumerate(WEEKDAYS)},
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 12, 31),
            }
            for s in services
        ]
    )
    calendar_dates = pd.DataFrame(exceptions, columns=["service_id", "date", "exception_type"])
    return TimetableFrames(stops, routes, trip_rows, stop_times, calendar, calendar_dates)


def footpaths(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["from_stop_id", "to_stop_id", "seconds"])


# -- the brute force ----------------------------------------------------------------------


def runs_on(frames: TimetableFrames, service: str, day: date) -> bool:
    """Does `service` run on `day`? (calendar, then calendar_dates), row by row."""
    running = False
    for row in frames.calendar.to_dict("records"):
        if row["service_id"] == service and row["start_date"] <= day <= row["end_date"]:
            running = bool(row[WEEKDAYS[day.weekday()]])
    for row in frames.calendar_dates.to_dict("records"):
        if row["service_id"] == service and row["date"] == day:
            running = row["exception_type"] == 1
    return running


def brute_force(
    frames: TimetableFrames,
    day: date,
    sources: dict[str, int],
    *,
    transfers: pd.DataFrame | None = None,
    vehicles: int = 4,
    change_s: int = 60,
) -> dict[str, float]:
    """Earliest arrival at every stop by a time-expanded Dijkstra (at most `vehicles` rides)."""
    runs = []  # (trip key, [(stop, arrival, departure)]) of the trips running on `day`
    stop_times = frames.stop_times.sort_values("stop_sequence").to_dict("records")
    today = {s: runs_on(frames, s, day) for s in set(frames.trips.service_id)}
    yesterday = {s: runs_on(frames, s, day - timedelta(days=1)) for s in today}
    for trip in frames.trips.to_dict("records"):
        calls = [
            (c["stop_id"], c["arrival_s"], max(c["departure_s"], c["arrival_s"]))
            for c in stop_times
            if c["trip_id"] == trip["trip_id"]
        ]
        if today[trip["service_id"]]:
            runs.append((trip["trip_id"], calls))
        if yesterday[trip["service_id"]]:
            runs.append((f"y{trip['trip_id']}", [(s, a - 86400, d - 86400) for s, a, d in calls]))
    walks: dict[str, list[tuple[str, int]]] = {}
    for row in (transfers if transfers is not None else footpaths()).to_dict("records"):
        if row["from_stop_id"] != row["to_stop_id"]:
            walks.setdefault(row["from_stop_id"], []).append((row["to_stop_id"], row["seconds"]))
    graph = nx.DiGraph()
    base = min(sources.values())
    boardable: dict[str, set[int]] = {}  # times a wait node is needed at each stop
    for stop, time in sources.items():
        boardable.setdefault(stop, set()).add(time)
    for _, calls in runs:
        for stop, arrival, departure in calls:
            boardable.setdefault(stop, set()).add(departure)
            boardable[stop].add(arrival + change_s)
            for other, seconds in walks.get(stop, []):
                boardable.setdefault(other, set()).add(arrival + seconds)
    for used in range(vehicles + 1):
        for stop, times in boardable.items():
            times = sorted(times)
            for a, b in itertools.pairwise(times):
                graph.add_edge(("wait", used, stop, a), ("wait", used, stop, b), weight=b - a)
        for trip, calls in runs:
            for i, (stop, arrival, departure) in enumerate(calls):
                here_arr, here_dep = ("arr", used, trip, i), ("dep", used, trip, i)
                graph.add_edge(here_arr, here_dep, weight=departure - arrival)
                if used < vehicles:
                    graph.add_edge(
                        ("wait", used, stop, departure), ("dep", used + 1, trip, i), weight=0
                    )
                if i + 1 < len(calls):
                    graph.add_edge(
                        here_dep, ("arr", used, trip, i + 1), weight=calls[i + 1][1] - departure
                    )
                graph.add_edge(here_arr, ("wait", used, stop, arrival + change_s), weight=change_s)
                for other, seconds in walks.get(stop, []):
                    graph.add_edge(here_arr, ("walked", used, trip, i, other), weight=seconds)
                    graph.add_edge(
                        ("walked", used, trip, i, other),
                        ("wait", used, other, arrival + seconds),
                        weight=0,
                    )
    for stop, time in sources.items():
        graph.add_edge("start", ("wait", 0, stop, time), weight=time - base)
    reached = nx.single_source_dijkstra_path_length(graph, "start")
    best = {s: np.inf for s in frames.stops.stop_id}
    for stop, time in sources.items():
        best[stop] = min(best[stop], time)
    for node, cost in reached.items():
        if node == "start":
            continue
        if node[0] == "arr" and node[1] > 0:
            trip, i = node[2], node[3]
            stop = dict(runs)[trip][i][0]
            best[stop] = min(best[stop], base + cost)
        elif node[0] == "walked":
            best[node[4]] = min(best[node[4]], base + cost)
    return best


def raptor(frames, day, sources, *, transfers=None, vehicles=4, change_s=60) -> dict[str, float]:
    tt = build_timetable(frames, day, transfers=transfers, min_transfer_s=change_s)
    stops = tt.stop_index(list(sources))
    arrival = earliest_arrival(tt, stops, np.array(list(sources.values())), max_rounds=vehicles)
    return dict(zip(tt.stop_ids, arrival, strict=True))


def both(frames, day, sources, **options) -> dict[str, float]:
    """RAPTOR's arrivals, after checking they equal the brute force's at every stop."""
    ours = raptor(frames, day, sources, **options)
    truth = brute_force(frames, day, sources, **options)
    assert ours == truth
    return ours


# -- hand-built feeds ---------------------------------------------------------------------

# A slow bus A→B→C→D (08:00 → 08:40); a fast one A→B (08:00 → 08:05); an express B→D leaving B
# at 08:06 (08:20 at D). Changing at B takes a minute: 08:05 + 1 min = 08:06 exactly.
CORRIDOR = {
    "slow": [
        ("A", hm("08:00"), hm("08:00")),
        ("B", hm("08:10"), hm("08:10")),
        ("C", hm("08:25"), hm("08:25")),
        ("D", hm("08:40"), hm("08:40")),
    ],
    "fast": [("A", hm("08:00"), hm("08:00")), ("B", hm("08:05"), hm("08:05"))],
    "express": [("B", hm("08:06"), hm("08:06")), ("D", hm("08:20"), hm("08:20"))],
    "express2": [("B", hm("08:20"), hm("08:20")), ("D", hm("08:34"), hm("08:34"))],
}
EXPRESS_ROUTE = {"slow": "R1", "fast": "R2", "express": "R3", "express2": "R3"}


def test_a_transfer_that_saves_time() -> None:
    frames = feed(CORRIDOR, route_of=EXPRESS_ROUTE)
    arrival = both(frames, MONDAY, {"A": hm("07:55")})
    assert arrival["D"] == hm("08:20")  # fast bus, change at B, express: 20 minutes
    assert arrival["C"] == hm("08:25")
    one_vehicle = both(frames, MONDAY, {"A": hm("07:55")}, vehicles=1)
    assert one_vehicle["D"] == hm("08:40")  # no change allowed: the slow bus


def test_a_connection_missed_by_one_second() -> None:
    late = dict(CORRIDOR)
    late["fast"] = [("A", hm("08:00"), hm("08:00")), ("B", hm("08:05:01"), hm("08:05:01"))]
    arrival = both(feed(late, route_of=EXPRESS_ROUTE), MONDAY, {"A": hm("07:55")})
    assert arrival["B"] == hm("08:05:01")
    assert arrival["D"] == hm("08:34")  # the express left at 08:06:00: the next one, 08:34
    # riding in at B to board there at 08:06 exactly is fine for a rider walking in
    walking_in = both(feed(CORRIDOR, route_of=EXPRESS_ROUTE), MONDAY, {"B": hm("08:06")})
    assert walking_in["D"] == hm("08:20")


def test_a_footpath_transfer() -> None:
    trips = {
        "to_b": [("A", hm("08:00"), hm("08:00")), ("B", hm("08:05"), hm("08:05"))],
        "from_e": [("E", hm("08:08"), hm("08:08")), ("F", hm("08:15"), hm("08:15"))],
        "from_e_late": [("E", hm("08:30"), hm("08:30")), ("F", hm("08:37"), hm("08:37"))],
    }
    route_of = {"to_b": "R1", "from_e": "R2", "from_e_late": "R2"}
    walk = footpaths(("B", "E", 150))  # 2.5 minutes across the square: at E 08:07:30
    arrival = both(feed(trips, route_of=route_of), MONDAY, {"A": hm("07:59")}, transfers=walk)
    assert arrival["E"] == hm("08:07:30")
    assert arrival["F"] == hm("08:15")
    slower = footpaths(("B", "E", 181))  # at E 08:08:01: the 08:08 bus is gone
    arrival = both(feed(trips, route_of=route_of), MONDAY, {"A": hm("07:59")}, transfers=slower)
    assert arrival["F"] == hm("08:37")
    no_walk = both(feed(trips, route_of=route_of), MONDAY, {"A": hm("07:59")})
    assert no_walk["F"] == np.inf and no_walk["E"] == np.inf


def test_an_overnight_trip_past_midnight() -> None:
    trips = {
        "night": [
            ("A", hm("23:50"), hm("23:50")),
            ("B", hm("24:05"), hm("24:05")),
            ("C", hm("24:20"), hm("24:20")),
        ],
    }
    frames = feed(trips, weekdays={"daily": (0,)})  # Mondays only
    arrival = both(frames, MONDAY, {"A": hm("23:45")})
    assert arrival["C"] == hm("24:20")  # 00:20 on Tuesday, counted from Monday
    # on Tuesday the Monday night bus is still running: from B at 00:01 Tuesday
    tuesday = both(frames, MONDAY + timedelta(days=1), {"B": hm("00:01")})
    assert tuesday["C"] == hm("00:20")


def test_a_day_with_no_service() -> None:
    trips = {"t": [("A", hm("08:00"), hm("08:00")), ("B", hm("08:10"), hm("08:10"))]}
    frames = feed(
        trips,
        weekdays={"daily": (0, 1, 2, 3, 4)},
        exceptions=[("daily", date(2026, 3, 9), 2)],  # a holiday Monday
    )
    with pytest.raises(NoService) as saturday:
        build_timetable(frames, date(2026, 3, 7))
    assert str(saturday.value) == (
        "the feed has no service on 2026-03-07; it runs 2026-01-01..2026-12-31"
    )
    assert saturday.value.status == 400
    with pytest.raises(NoService):
        build_timetable(frames, date(2026, 3, 9))
    with pytest.raises(NoService, match="2027-01-04"):
        build_timetable(frames, date(2027, 1, 4))
    assert build_timetable(frames, date(2026, 3, 10)).trips == 1


def test_overtaking_trips_are_kept_apart() -> None:
    """An express overtaking a stopping bus on the same stops: both must be catchable."""
    trips = {
        "stopping": [
            ("A", hm("08:00"), hm("08:00")),
            ("B", hm("08:20"), hm("08:20")),
            ("C", hm("08:40"), hm("08:40")),
        ],
        "express": [
            ("A", hm("08:05"), hm("08:05")),
            ("B", hm("08:12"), hm("08:12")),
            ("C", hm("08:19"), hm("08:19")),
        ],
    }
    frames = feed(trips, route_of={"stopping": "R", "express": "R"})
    assert len(build_timetable(frames, MONDAY).patterns) == 2
    arrival = both(frames, MONDAY, {"A": hm("07:58")})
    assert arrival["C"] == hm("08:19")


# -- random feeds -------------------------------------------------------------------------


def random_feed(seed: int) -> tuple[TimetableFrames, pd.DataFrame, dict[str, int], int]:
    """A small random feed: routes over a few stops (some looping, some overtaking), random
    footpaths, one or two sources; services on some days only."""
    rng = np.random.default_rng(seed)
    stops = [f"S{i}" for i in range(int(rng.integers(3, 9)))]
    trips, route_of, service_of = {}, {}, {}
    for r in range(int(rng.integers(1, 5))):
        length = int(rng.integers(2, min(6, len(stops)) + 1))
        sequence = list(rng.choice(stops, size=length, replace=False))
        if rng.random() < 0.15:
            sequence.append(sequence[0])  # a loop
        for t in range(int(rng.integers(1, 5))):
            # whole minutes, so a rider ready at the very second a bus leaves is common
            time = int(rng.integers(7 * 60, 9 * 60)) * 60
            if rng.random() < 0.1:
                time += hm("16:00")  # past midnight
            calls = []
            for stop in sequence:
                arrival = time
                time += int(rng.integers(0, 3)) * 30  # dwell
                calls.append((stop, arrival, time))
                time += int(rng.integers(0, 11)) * 60  # run (zero: two calls at once)
            trips[f"r{r}t{t}"] = calls
            route_of[f"r{r}t{t}"] = f"r{r}"
            service_of[f"r{r}t{t}"] = str(rng.choice(["daily", "weekdays"]))
    walks = [
        (a, b, int(rng.integers(0, 6)) * 60)
        for a in stops
        for b in stops
        if a != b and rng.random() < 0.2
    ]
    sources = {
        str(s): int(rng.integers(6 * 60 + 50, 9 * 60)) * 60
        for s in rng.choice(stops, size=int(rng.integers(1, 3)), replace=False)
    }
    frames = feed(
        trips,
        route_of=route_of,
        service_of=service_of,
        weekdays={"weekdays": (0, 1, 2, 3, 4)},
        extra_stops=tuple(stops),
    )
    return frames, footpaths(*walks), sources, int(rng.integers(1, 5))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), day=st.sampled_from([MONDAY, date(2026, 3, 7)]))
def test_random_feeds_equal_the_brute_force(seed: int, day: date) -> None:
    frames, walks, sources, vehicles = random_feed(seed)
    try:
        ours = both(frames, day, sources, transfers=walks, vehicles=vehicles)
    except NoService:  # nothing runs: the brute force reaches the sources only
        truth = brute_force(frames, day, sources, transfers=walks, vehicles=vehicles)
        assert {s for s, t in truth.items() if t < np.inf} == set(sources)
        return
    assert len(ours) == frames.stops.shape[0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), minute=st.integers(6 * 60 + 50, 9 * 60))
def test_every_stop_to_every_stop_equals_one_search_per_origin(seed: int, minute: int) -> None:
    """The many-origin form (origins as the vector dimension) against a loop of single
    searches: in chunks of 3 origins, and with every origin asked FEW_ORIGINS + 1 times (so
    every pattern is scanned for more than FEW_ORIGINS origins: the per-stop binary searches
    of wide searches)."""
    frames, walks, _, vehicles = random_feed(seed)
    tt = build_timetable(frames, MONDAY, transfers=walks)
    departure = minute * 60
    matrix = travel_times(tt, departure, max_rounds=vehicles, chunk=3)
    for origin in range(tt.n_stops):
        single = earliest_arrival(tt, [origin], [departure], max_rounds=vehicles)
        np.testing.assert_array_equal(matrix[origin], (single - departure).astype(np.float32))
        assert matrix[origin, origin] == 0
    repeated = np.tile(np.arange(tt.n_stops), FEW_ORIGINS + 1)
    wide = travel_times(tt, departure, repeated, max_rounds=vehicles)
    np.testing.assert_array_equal(wide, matrix[repeated])

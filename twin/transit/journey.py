"""One rider's journey by public transport, leg by leg: the `route` process's transit answer.

`plan_journey` is RAPTOR (twin.transit.raptor) for one origin, keeping per round what set each
stop's time (parent pointers): the walk from the origin, a ride (pattern, trip, the stop
boarded and the stop left), a same-stop change or a footpath. The rounds, the boarding rule
(the first trip departing at or after the time one can board, the earliest boarding of the
trip held along the pattern), the improvement test against the best ride arrival so far, one
footpath after each ride and `min_transfer_s` for a change at one stop are raptor.search's,
so its arrival at every stop is the same (tests/test_journeys.py checks it against
raptor.earliest_arrival). The journey ends at the stop and round whose arrival plus the walk on
to the destination is earliest (fewer rides on a tie), and is read back along the pointers.

Stops a rider cannot use (`closed`: a wheelchair user at a stop that is not step-free) are
never boarded or left: no walk reaches them and no ride ends there; vehicles pass through.
The step-free rule (`step_free_closed`): a stop is closed to a wheelchair only when the feed's
`wheelchair_boarding` says 2 (not possible); 1 and 0 or empty (unknown) are open: metro and BRT
stations are assumed to have lifts or level boarding, bus and trolleybus stops to be at the
kerb, unless the feed says otherwise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twin.transit.raptor import MAX_ROUNDS, _touched_patterns
from twin.transit.timetable import INF, Timetable

NONE, ACCESS, RIDE, WALK = 0, 1, 2, 3  # what set a stop's ready time in a round


@dataclass
class Leg:
    """A part of the journey: walk (to the first stop, between stops, to the destination),
    or ride (one vehicle, boarded after `wait_s` at from_stop)."""

    kind: str  # "walk" | "ride"
    start_s: float  # seconds after midnight of the service day
    end_s: float
    from_stop: int | None = None  # timetable stop index (None: the origin)
    to_stop: int | None = None  # (None: the destination)
    pattern: int | None = None  # ride: index into Timetable.patterns
    trip: int | None = None  # ride: the trip's row in the pattern
    board: int | None = None  # ride: positions along the pattern's stops
    alight: int | None = None
    wait_s: float = 0.0  # ride: waiting at from_stop before boarding

    @property
    def seconds(self) -> float:
        """The leg's own time, its wait included (so the legs' times sum to the journey)."""
        return self.end_s - self.start_s


@dataclass
class Journey:
    """The legs from the origin (leaving at `departure_s`) to the destination."""

    departure_s: float
    arrival_s: float
    legs: list[Leg] = field(default_factory=list)

    @property
    def rides(self) -> int:
        return sum(leg.kind == "ride" for leg in self.legs)


def step_free_closed(stops: pd.DataFrame, tt: Timetable) -> np.ndarray:
    """Per timetable stop: closed to a wheelchair (wheelchair_boarding 2 in the feed's stops;
    a feed without the column closes none)."""
    if "wheelchair_boarding" not in stops:
        return np.zeros(tt.n_stops, bool)
    code = pd.to_numeric(stops["wheelchair_boarding"], errors="coerce")
    refused = set(stops.loc[code == 2, "stop_id"].astype(str))
    return np.array([s in refused for s in tt.stop_ids], dtype=bool)


@dataclass
class _Round:
    """One round's labels: ride arrivals with their ride, footpath arrivals with their source,
    and what set each stop's ready time."""

    transit: np.ndarray
    pattern: np.ndarray
    trip: np.ndarray
    board: np.ndarray
    alight: np.ndarray
    walked: np.ndarray
    walk_from: np.ndarray
    ready: np.ndarray
    ready_kind: np.ndarray


def _scan(tt: Timetable, index: int, ready: np.ndarray, r: _Round) -> None:
    """Ride pattern `index` from the stops' ready times, lowering the round's ride arrivals."""
    pattern = tt.patterns[index]
    stops = pattern.stops
    width = len(stops)
    board = np.empty(width - 1, np.int64)
    for j in range(width - 1):
        board[j] = np.searchsorted(pattern.departure_by_stop[j], ready[stops[j]])
    riding = np.minimum.accumulate(board)
    # where the trip held leaving stop j was boarded: the position its running minimum began
    began = np.r_[True, board[1:] < riding[:-1]]
    boarded = np.maximum.accumulate(np.where(began, np.arange(width - 1), 0))
    for j in range(1, width):
        trip = int(riding[j - 1])
        if trip >= pattern.trips:
            continue
        stop = int(stops[j])
        arrival = int(pattern.arrival[trip, j])
        if arrival < r.transit[stop]:
            r.transit[stop] = arrival
            r.pattern[stop], r.trip[stop] = index, trip
            r.board[stop], r.alight[stop] = int(boarded[j - 1]), j


def _footpaths(tt: Timetable, r: _Round, closed: np.ndarray) -> None:
    """One footpath from every stop a ride reached this round (the quickest into each stop)."""
    sources = np.flatnonzero(r.transit < INF)
    counts = tt.footpath_ptr[sources + 1] - tt.footpath_ptr[sources]
    if not counts.sum():
        return
    source = np.repeat(sources, counts)
    rows = np.concatenate([np.arange(tt.footpath_ptr[s], tt.footpath_ptr[s + 1]) for s in sources])
    target = tt.footpath_to[rows].astype(np.int64)
    time = r.transit[source] + tt.footpath_s[rows].astype(np.int64)
    keep = ~closed[target]
    order = np.lexsort((time[keep], target[keep]))
    target, time, source = target[keep][order], time[keep][order], source[keep][order]
    first = np.r_[True, target[1:] != target[:-1]]
    r.walked[target[first]] = time[first]
    r.walk_from[target[first]] = source[first]


def _search(tt: Timetable, start: np.ndarray, closed: np.ndarray, max_rounds: int) -> list[_Round]:
    """RAPTOR rounds from per-stop start times (round 0: the walk from the origin)."""
    n = tt.n_stops
    kind = np.where(start < INF, ACCESS, NONE).astype(np.int8)
    blank = np.full(n, INF, np.int64)
    rounds = [_Round(blank, *[np.full(n, -1)] * 4, blank, np.full(n, -1), start.copy(), kind)]
    best_transit = np.full(n, INF, np.int64)
    marked = start < INF
    ready = start.copy()
    for _ in range(max_rounds):
        r = _Round(
            transit=np.full(n, INF, np.int64),
            pattern=np.full(n, -1, np.int64),
            trip=np.full(n, -1, np.int64),
            board=np.full(n, -1, np.int64),
            alight=np.full(n, -1, np.int64),
            walked=np.full(n, INF, np.int64),
            walk_from=np.full(n, -1, np.int64),
            ready=ready,
            ready_kind=np.zeros(n, np.int8),
        )
        for index in _touched_patterns(tt, marked):
            _scan(tt, int(index), ready, r)
        r.transit[closed] = INF  # not left there: no step-free way off
        improved = r.transit < best_transit
        if not improved.any():
            break
        np.minimum(best_transit, r.transit, out=best_transit)
        r.transit[~improved] = INF
        _footpaths(tt, r, closed)
        by_ride = r.transit + tt.min_transfer_s
        changed = np.minimum(np.minimum(ready, by_ride), r.walked)
        r.ready_kind[(changed < ready) & (by_ride == changed)] = RIDE
        r.ready_kind[(changed < ready) & (r.walked == changed) & (by_ride != changed)] = WALK
        marked = changed < ready
        ready = changed
        r.ready = ready
        rounds.append(r)
    return rounds


def plan_journey(
    tt: Timetable,
    departure_s: int,
    access_s: np.ndarray,
    egress_s: np.ndarray,
    *,
    closed: np.ndarray | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> Journey | None:
    """The earliest journey leaving the origin at `departure_s`: `access_s` per stop, the walk
    from the origin (inf: not walked to), `egress_s` per stop, the walk on to the destination.
    None when no stop leads to the destination. A journey may have no ride (walk to a stop
    and on): the caller compares it with walking all the way."""
    access_s = np.asarray(access_s, float)
    egress_s = np.asarray(egress_s, float)
    closed = np.zeros(tt.n_stops, bool) if closed is None else np.asarray(closed, bool)
    start = np.full(tt.n_stops, INF, np.int64)
    finite = np.isfinite(access_s) & ~closed
    start[finite] = np.minimum(np.ceil(departure_s + access_s[finite]), INF)
    rounds = _search(tt, start, closed, max_rounds)
    usable = np.isfinite(egress_s) & ~closed
    best: tuple[float, int, int, str] | None = None
    for k, r in enumerate(rounds):
        labels = [("access", r.ready)] if k == 0 else [("ride", r.transit), ("walk", r.walked)]
        for label, times in labels:
            total = np.where(usable & (times < INF), times + egress_s, np.inf)
            stop = int(np.argmin(total))
            if np.isfinite(total[stop]) and (best is None or total[stop] < best[0]):
                best = (float(total[stop]), k, stop, label)
    if best is None:
        return None
    arrival, k, stop, label = best
    legs = _legs(tt, rounds, k, stop, label, float(departure_s), access_s)
    legs.append(Leg("walk", legs[-1].end_s, arrival, from_stop=stop))
    return Journey(float(departure_s), arrival, legs)


def _legs(
    tt: Timetable,
    rounds: list[_Round],
    k: int,
    stop: int,
    label: str,
    departure_s: float,
    access_s: np.ndarray,
) -> list[Leg]:
    """The legs to `stop` reached by `label` in round k, read back along the pointers."""
    backwards: list[Leg] = []
    while True:
        r = rounds[k]
        if label == "access":
            backwards.append(Leg("walk", departure_s, departure_s + access_s[stop], to_stop=stop))
            break
        if label == "walk":
            source = int(r.walk_from[stop])
            start = float(r.transit[source])
            backwards.append(
                Leg("walk", start, float(r.walked[stop]), from_stop=source, to_stop=stop)
            )
            stop, label = source, "ride"
            continue
        pattern = tt.patterns[int(r.pattern[stop])]
        trip, board, alight = int(r.trip[stop]), int(r.board[stop]), int(r.alight[stop])
        at = int(pattern.stops[board])
        leaves = float(pattern.departure[trip, board])
        backwards.append(
            Leg(
                "ride",
                leaves,  # the wait is set once the leg before is known
                float(pattern.arrival[trip, alight]),
                from_stop=at,
                to_stop=stop,
                pattern=int(r.pattern[stop]),
                trip=trip,
                board=board,
                alight=alight,
            )
        )
        # the round whose ready time at the boarding stop the ride used
        k -= 1
        while k > 0 and rounds[k].ready_kind[at] == NONE:
            k -= 1
        kind = rounds[k].ready_kind[at]
        stop = at
        label = "access" if kind == ACCESS else "ride" if kind == RIDE else "walk"
    legs = backwards[::-1]
    for before, leg in itertools.pairwise(legs):
        if leg.kind == "ride":  # the wait: from arriving at the stop to the vehicle leaving
            leg.wait_s = leg.start_s - before.end_s
            leg.start_s = before.end_s
    return legs

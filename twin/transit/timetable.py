"""One service day of a feed as arrays the earliest-arrival search scans (twin.transit.raptor).

`build_timetable(frames, day)` keeps the trips whose service runs on `day` (calendar weekdays
and date range, then calendar_dates: 1 adds the day, 2 removes it), plus the previous day's
trips that are still running after midnight (their times past 24:00 shifted back by a day, so
a night bus that left at 23:50 yesterday reaches its stops at 00:10 today). Trips that visit the
same stops in the same order form a route PATTERN; within a pattern trips are sorted by
departure and a trip that overtakes another goes to a pattern of its own, so in every pattern
each stop's departures (and arrivals) rise with the trip index: a binary search finds the
first trip a rider can catch. Times are int32 seconds after midnight of `day`.

Footpath transfers (stop to stop on foot) come from the caller as a frame of from_stop_id,
to_stop_id, seconds (twin.transit.access.footpaths computes them on the walking network) and
are kept as CSR arrays by from-stop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from twin.errors import InvalidParameter
from twin.transit.frames import TimetableFrames

INF = np.int32(1 << 30)  # "not reached": above any time of a two-day service
MIN_TRANSFER_S = 60  # changing vehicles at one stop takes a minute
KEY_STEP = np.int64(1) << np.int64(32)  # a stop position's offset in Pattern.keys
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_S = 86_400


class NoService(InvalidParameter):
    """The feed runs no trip on the day asked for (400): the message says when it runs."""


@dataclass
class Pattern:
    """Trips along one stop sequence: trips × stops arrival and departure seconds."""

    route_id: str
    stops: np.ndarray  # int32 stop indices, in travel order
    trip_ids: np.ndarray  # object, sorted by departure
    arrival: np.ndarray  # int32 trips × stops
    departure: np.ndarray  # int32 trips × stops
    departure_by_stop: np.ndarray = field(repr=False)  # stops × trips, each row sorted
    # the same, as one sorted int64 array (stop position << 32) + departure: one binary search
    # per pattern for a few origins, where one per stop would cost more in calls than in work
    keys: np.ndarray = field(repr=False)
    arrival_by_stop: np.ndarray = field(repr=False)  # stops × (trips + 1), INF in the last
    loops: bool = False  # calls at one stop twice (a loop route)

    @property
    def trips(self) -> int:
        return int(self.departure.shape[0])


@dataclass
class Timetable:
    """A service day's patterns, the stop → patterns index and the footpaths."""

    day: date
    stop_ids: np.ndarray  # object, index = stop
    stop_lon: np.ndarray
    stop_lat: np.ndarray
    patterns: list[Pattern]
    stop_pattern_ptr: np.ndarray  # CSR over stops → pattern indices
    stop_pattern_idx: np.ndarray
    footpath_ptr: np.ndarray  # CSR over from-stops
    footpath_to: np.ndarray  # int32 to-stop
    footpath_s: np.ndarray  # int32 walking seconds
    min_transfer_s: int = MIN_TRANSFER_S
    # the footpaths again, as slots of (from stops, to stops, seconds) with no to-stop twice
    # in a slot: the many-origin search relaxes a slot with whole-row array operations
    footpath_slots: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list, repr=False
    )

    @property
    def n_stops(self) -> int:
        return len(self.stop_ids)

    @property
    def trips(self) -> int:
        return sum(p.trips for p in self.patterns)

    def stop_index(self, stop_ids: list[str] | np.ndarray) -> np.ndarray:
        """Indices of stop ids (400 naming the first unknown one)."""
        lookup = {s: i for i, s in enumerate(self.stop_ids)}
        missing = [s for s in stop_ids if s not in lookup]
        if missing:
            raise InvalidParameter(f"unknown stop {missing[0]!r} in the timetable")
        return np.array([lookup[s] for s in stop_ids], dtype=np.int64)

    def combined(
        self, extra: Timetable, replaced: set[str] | frozenset[str] = frozenset()
    ) -> Timetable:
        """This day's service with `extra`'s patterns (a plan's trips, twin.transit.plan_trips)
        in place of the patterns of the `replaced` routes. `extra` lists this timetable's
        stops first, in the same order, then its own: stop indices stay valid. The footpaths
        are left out: the caller walks them again for the new stops."""
        n = self.n_stops
        if extra.n_stops < n or not np.array_equal(extra.stop_ids[:n], self.stop_ids):
            raise ValueError("the extra timetable must list this one's stops first, in order")
        kept = [p for p in self.patterns if p.route_id not in replaced]
        return _assemble(
            self.day,
            extra.stop_ids,
            extra.stop_lon,
            extra.stop_lat,
            kept + extra.patterns,
            self.min_transfer_s,
        )

    def with_transfers(self, transfers: pd.DataFrame | None) -> Timetable:
        """The same day with these footpaths (the timetable is built before footpaths can be
        walked from its stops)."""
        ptr, to, seconds = _footpath_csr(self, transfers)
        source = np.repeat(np.arange(self.n_stops), np.diff(ptr))
        order = np.argsort(to, kind="stable")
        rank = np.empty(len(to), np.int64)  # the how-many-th footpath into its to-stop
        starts = np.searchsorted(to[order], to[order])
        rank[order] = np.arange(len(to)) - starts
        slots = [
            (source[rank == k], to[rank == k].astype(np.int64), seconds[rank == k])
            for k in range(int(rank.max()) + 1 if len(rank) else 0)
        ]
        return dataclasses.replace(
            self, footpath_ptr=ptr, footpath_to=to, footpath_s=seconds, footpath_slots=slots
        )


def active_services(frames: TimetableFrames, day: date) -> set[str]:
    """Service ids running on `day`: calendar weekday within its dates, then exceptions."""
    running: set[str] = set()
    calendar = frames.calendar
    if len(calendar):
        weekday = WEEKDAYS[day.weekday()]
        start = pd.to_datetime(calendar["start_date"]).dt.date
        end = pd.to_datetime(calendar["end_date"]).dt.date
        runs = calendar[weekday].astype(bool) & (start <= day) & (end >= day)
        running.update(calendar.loc[runs, "service_id"].astype(str))
    exceptions = frames.calendar_dates
    if len(exceptions):
        today = exceptions[pd.to_datetime(exceptions["date"]).dt.date == day]
        running.update(today.loc[today.exception_type == 1, "service_id"].astype(str))
        running.difference_update(today.loc[today.exception_type == 2, "service_id"].astype(str))
    return running


def service_range(frames: TimetableFrames) -> tuple[date | None, date | None]:
    """The first and last date any service of the feed may run."""
    days: list[date] = []
    if len(frames.calendar):
        days += list(pd.to_datetime(frames.calendar["start_date"]).dt.date)
        days += list(pd.to_datetime(frames.calendar["end_date"]).dt.date)
    added = frames.calendar_dates
    if len(added):
        days += list(pd.to_datetime(added.loc[added.exception_type == 1, "date"]).dt.date)
    return (min(days), max(days)) if days else (None, None)


def _day_stop_times(frames: TimetableFrames, day: date) -> pd.DataFrame:
    """stop_times of the trips running on `day`, with yesterday's after-midnight tails."""
    trips = frames.trips.assign(service_id=frames.trips.service_id.astype(str))
    today = trips[trips.service_id.isin(active_services(frames, day))]
    times = frames.stop_times[["trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"]]
    parts = [times[times.trip_id.isin(today.trip_id)]]
    yesterday = trips[trips.service_id.isin(active_services(frames, day - timedelta(days=1)))]
    late = times[times.trip_id.isin(yesterday.trip_id)]
    late = late[late.groupby("trip_id").arrival_s.transform("max") >= DAY_S]
    if len(late):
        parts.append(
            late.assign(
                trip_id="yesterday:" + late.trip_id.astype(str),
                arrival_s=late.arrival_s - DAY_S,
                departure_s=late.departure_s - DAY_S,
            )
        )
    route_of = dict(zip(trips.trip_id.astype(str), trips.route_id.astype(str), strict=False))
    result = pd.concat(parts, ignore_index=True)
    result["trip_id"] = result.trip_id.astype(str)
    result["route_id"] = result.trip_id.str.removeprefix("yesterday:").map(route_of)
    return result


def _split_fifo(arrival: np.ndarray, departure: np.ndarray) -> list[np.ndarray]:
    """Trip index groups (each sorted) in which no trip overtakes another at any stop."""
    order = np.lexsort((arrival[:, -1], departure[:, 0]))
    groups: list[list[int]] = []
    for trip in order:
        for group in groups:
            last = group[-1]
            if (departure[trip] >= departure[last]).all() and (
                arrival[trip] >= arrival[last]
            ).all():
                group.append(trip)
                break
        else:
            groups.append([trip])
    return [np.asarray(g) for g in groups]


def _patterns(day_times: pd.DataFrame, stop_index: dict[str, int]) -> list[Pattern]:
    """Trips grouped by route and stop sequence, split where trips overtake."""
    if not len(day_times):
        return []
    day_times = day_times.sort_values(["trip_id", "stop_sequence"], kind="stable")
    day_times = day_times.assign(stop=day_times.stop_id.astype(str).map(stop_index))
    trip_ids, starts = np.unique(day_times.trip_id.to_numpy(), return_index=True)
    ends = np.append(starts[1:], len(day_times))
    stop = day_times.stop.to_numpy()
    arrival_all = day_times.arrival_s.to_numpy(np.int64)
    departure_all = day_times.departure_s.to_numpy(np.int64)
    route = day_times.route_id.to_numpy()
    by_sequence: dict[tuple, list[int]] = {}
    for t, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if b - a >= 2:
            by_sequence.setdefault((route[a], tuple(stop[a:b])), []).append(t)
    patterns = []
    for (route_id, sequence), members in by_sequence.items():
        rows = [np.arange(starts[t], ends[t]) for t in members]
        arrival = np.stack([arrival_all[r] for r in rows]).astype(np.int32)
        departure = np.stack([departure_all[r] for r in rows]).astype(np.int32)
        departure = np.maximum(departure, arrival)
        for group in _split_fifo(arrival, departure):
            patterns.append(
                _pattern(
                    str(route_id), sequence, trip_ids[members][group], arrival, departure, group
                )
            )
    return patterns


def _pattern(
    route_id: str,
    sequence: tuple,
    trip_ids: np.ndarray,
    arrival: np.ndarray,
    departure: np.ndarray,
    group: np.ndarray,
) -> Pattern:
    departure = np.ascontiguousarray(departure[group])
    return Pattern(
        route_id=route_id,
        stops=np.asarray(sequence, dtype=np.int32),
        trip_ids=np.asarray(trip_ids, dtype=object),
        arrival=np.ascontiguousarray(arrival[group]),
        departure=departure,
        departure_by_stop=np.ascontiguousarray(departure.T),
        keys=(
            np.arange(len(sequence), dtype=np.int64)[:, None] * KEY_STEP
            + departure.T.astype(np.int64)
        ).ravel(),
        loops=len(set(sequence)) != len(sequence),
        arrival_by_stop=np.ascontiguousarray(
            np.hstack([arrival[group].T, np.full((len(sequence), 1), INF, np.int32)])
        ),
    )


def _footpath_csr(
    tt: Timetable, transfers: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = tt.n_stops
    if transfers is None or len(transfers) == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    source = tt.stop_index(transfers.from_stop_id.astype(str).tolist())
    target = tt.stop_index(transfers.to_stop_id.astype(str).tolist())
    seconds = transfers.seconds.to_numpy(np.int64)
    if (seconds < 0).any():
        raise InvalidParameter("a footpath transfer has negative seconds")
    keep = source != target
    source, target, seconds = source[keep], target[keep], seconds[keep]
    order = np.lexsort((seconds, target, source))
    source, target, seconds = source[order], target[order], seconds[order]
    first = np.ones(len(source), bool)  # the quickest of parallel footpaths
    first[1:] = (source[1:] != source[:-1]) | (target[1:] != target[:-1])
    source, target, seconds = source[first], target[first], seconds[first]
    ptr = np.concatenate([[0], np.cumsum(np.bincount(source, minlength=n))]).astype(np.int64)
    return ptr, target.astype(np.int32), seconds.astype(np.int32)


def build_timetable(
    frames: TimetableFrames,
    day: date,
    *,
    transfers: pd.DataFrame | None = None,
    min_transfer_s: int = MIN_TRANSFER_S,
) -> Timetable:
    """The arrays of `day`'s service; NoService (400) when nothing runs that day.

    `transfers`: from_stop_id, to_stop_id, seconds (footpaths; GTFS transfers.txt names).
    """
    stop_ids = frames.stops.stop_id.astype(str).to_numpy(dtype=object)
    stop_index = {s: i for i, s in enumerate(stop_ids)}
    day_times = _day_stop_times(frames, day)
    unknown = set(day_times.stop_id.astype(str)) - stop_index.keys()
    if unknown:
        raise InvalidParameter(f"stop_times name stop {sorted(unknown)[0]!r} the feed lacks")
    patterns = _patterns(day_times, stop_index)
    if not patterns:
        first, last = service_range(frames)
        runs = f"it runs {first}..{last}" if first else "it has no service days at all"
        raise NoService(f"the feed has no service on {day.isoformat()}; {runs}")
    tt = _assemble(
        day,
        stop_ids,
        frames.stops.lon.to_numpy(float),
        frames.stops.lat.to_numpy(float),
        patterns,
        min_transfer_s,
    )
    return tt.with_transfers(transfers)


def _assemble(
    day: date,
    stop_ids: np.ndarray,
    stop_lon: np.ndarray,
    stop_lat: np.ndarray,
    patterns: list[Pattern],
    min_transfer_s: int,
) -> Timetable:
    """The timetable of these patterns: the stop → patterns index, no footpaths yet."""
    visits = np.concatenate([p.stops for p in patterns])
    owner = np.concatenate([np.full(len(p.stops), i, np.int32) for i, p in enumerate(patterns)])
    pairs = np.unique(np.column_stack([visits, owner]), axis=0)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(pairs[:, 0], minlength=len(stop_ids)))])
    return Timetable(
        day=day,
        stop_ids=stop_ids,
        stop_lon=stop_lon,
        stop_lat=stop_lat,
        patterns=patterns,
        stop_pattern_ptr=ptr.astype(np.int64),
        stop_pattern_idx=pairs[:, 1].astype(np.int32),
        footpath_ptr=np.zeros(len(stop_ids) + 1, np.int64),
        footpath_to=np.zeros(0, np.int32),
        footpath_s=np.zeros(0, np.int32),
        min_transfer_s=int(min_transfer_s),
    )

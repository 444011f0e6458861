"""Earliest arrival by public transport: RAPTOR (Delling, Pajor, Werneck 2012), in numpy.

Round k rides one more vehicle: every pattern touching a stop improved in round k-1 is scanned
once; at each of its stops a rider takes the first trip departing at or after the time they
can board there (a binary search over the pattern's departures at that stop, sorted) and keeps
the earliest trip boarded so far, so the arrival at every later stop is that trip's. After the
vehicles, footpaths: from every stop a vehicle reached earlier than before, one walk to each
neighbouring stop. Boarding after a ride at the same stop needs `min_transfer_s` more; after a
footpath the walk is the transfer. Arrivals are exact: tests/test_raptor.py checks them against
a plain time-expanded Dijkstra.

Many origins at once (every stop to every stop, or the walk access of many points): the state
is stops × origins int32, and each pattern is scanned for all origins that touch it in one set
of array operations (board index per origin and stop, a running minimum along the pattern, one
gather of arrival times), so the Python loops are over rounds, patterns and (for many origins)
a pattern's stops, never over origins.
"""

from __future__ import annotations

import logging

import numpy as np

from twin.errors import InvalidParameter
from twin.transit.timetable import INF, KEY_STEP, Pattern, Timetable

LOG = logging.getLogger("twin.transit.raptor")

MAX_ROUNDS = 4  # four vehicles, three changes
CHUNK_ORIGINS = 1024  # origins searched together (memory: a few origins × stops arrays)
FEW_ORIGINS = 64  # up to this many, one binary search per pattern; beyond, one per stop


def _scan_pattern(
    pattern: Pattern, ready: np.ndarray, columns: np.ndarray | None, transit: np.ndarray
) -> None:
    """Ride `pattern` from the stops' ready times (stops × origins; all origins or those in
    `columns`), lowering `transit` at the stops after each boarding."""
    stops = pattern.stops
    width = len(stops)
    can_board = ready[stops] if columns is None else ready[stops][:, columns]
    # the first trip one can catch at each stop (pattern.trips: none left)
    positions = np.arange(width)[:, None]
    if can_board.shape[1] <= FEW_ORIGINS:
        keys = can_board[:-1] + positions[:-1] * KEY_STEP
        board = np.searchsorted(pattern.keys, keys.ravel()).reshape(keys.shape)
        board -= positions[:-1] * pattern.trips
    else:
        board = np.empty((width - 1, can_board.shape[1]), np.int64)
        for j in range(width - 1):
            board[j] = np.searchsorted(pattern.departure_by_stop[j], can_board[j])
    riding = np.minimum.accumulate(board, axis=0)  # trip held leaving stops 0..L-2
    reached = pattern.arrival_by_stop[positions[1:], riding]
    if pattern.loops:  # a stop called at twice: lower it once per call
        for j in range(1, width):
            _lower(transit, stops[j : j + 1], columns, reached[j - 1 : j])
    else:
        _lower(transit, stops[1:], columns, reached)


def _lower(
    transit: np.ndarray, stops: np.ndarray, columns: np.ndarray | None, values: np.ndarray
) -> None:
    if columns is None:
        transit[stops] = np.minimum(transit[stops], values)
    else:
        block = np.ix_(stops, columns)
        transit[block] = np.minimum(transit[block], values)


def _touched_patterns(tt: Timetable, marked_stops: np.ndarray) -> np.ndarray:
    stops = np.flatnonzero(marked_stops)
    if not len(stops):
        return np.zeros(0, np.int64)
    starts, ends = tt.stop_pattern_ptr[stops], tt.stop_pattern_ptr[stops + 1]
    counts = ends - starts
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return np.unique(tt.stop_pattern_idx[np.arange(counts.sum()) + offsets])


def _walk_footpaths(tt: Timetable, transit: np.ndarray) -> np.ndarray:
    """Arrivals on foot (stops × origins, INF none): one footpath from every stop a vehicle
    reached earlier this round (`transit`, INF elsewhere). Footpaths go in slots where no two
    share an end, so each slot is one row gather, one minimum and one row write."""
    walked = np.full_like(transit, INF)
    rode = transit.min(axis=1) < INF
    for source, target, seconds in tt.footpath_slots:
        keep = rode[source]
        if keep.any():
            source, target, seconds = source[keep], target[keep], seconds[keep]
            walked[target] = np.minimum(walked[target], transit[source] + seconds[:, None])
    return walked


def search(
    tt: Timetable,
    start: np.ndarray,
    *,
    max_rounds: int = MAX_ROUNDS,
    closed: np.ndarray | None = None,
) -> np.ndarray:
    """Earliest arrival (int32 seconds, INF unreached) per origin row and stop.

    `start`: origins × stops int32, the time each origin's rider can board at each stop (INF
    where they cannot: the walk access, or one stop at the departure time). Inside, the state
    is stops × origins, so a pattern's stops are whole rows. `closed`: stops the rider can
    neither board nor leave (not step-free for a wheelchair): vehicles pass through them.
    """
    if max_rounds < 1:
        raise InvalidParameter("max_rounds must be at least 1 (one vehicle)")
    ready = np.ascontiguousarray(np.asarray(start, dtype=np.int32).T)
    shut = np.zeros(tt.n_stops, bool) if closed is None else np.asarray(closed, bool)
    ready[shut] = INF
    arrival = ready.copy()
    best_transit = np.full_like(ready, INF)
    marked = ready < INF
    origins = ready.shape[1]
    for round_number in range(1, max_rounds + 1):
        transit = np.full_like(ready, INF)
        for index in _touched_patterns(tt, marked.any(axis=1)):
            pattern = tt.patterns[index]
            touching = marked[pattern.stops[:-1]].any(axis=0)
            count = int(np.count_nonzero(touching))
            if count:
                columns = None if count > origins // 2 else np.flatnonzero(touching)
                _scan_pattern(pattern, ready, columns, transit)
        transit[shut] = INF
        improved = transit < best_transit
        if not improved.any():
            break
        np.minimum(best_transit, transit, out=best_transit)
        transit[~improved] = INF
        walked = _walk_footpaths(tt, transit)
        walked[shut] = INF
        np.minimum(arrival, transit, out=arrival)
        np.minimum(arrival, walked, out=arrival)
        changed = np.minimum(ready, transit + np.int32(tt.min_transfer_s))
        np.minimum(changed, walked, out=changed)
        marked = changed < ready
        ready = changed
        LOG.debug("round %d: %d origin-stops improved", round_number, int(marked.sum()))
    return arrival.T


def _seconds(values: np.ndarray, dtype: type) -> np.ndarray:
    out = values.astype(dtype)
    out[values >= INF] = np.inf
    return out


def earliest_arrival(
    tt: Timetable,
    source_stops: np.ndarray,
    source_times: np.ndarray,
    *,
    max_rounds: int = MAX_ROUNDS,
    closed: np.ndarray | None = None,
) -> np.ndarray:
    """Earliest arrival (seconds after midnight, inf unreached) at every stop, starting at
    several stops each at its own time (the walk access from a point)."""
    source_stops = np.asarray(source_stops, dtype=np.int64)
    source_times = np.asarray(source_times)
    if source_stops.shape != source_times.shape:
        raise InvalidParameter("source_stops and source_times differ in length")
    start = np.full((1, tt.n_stops), INF, np.int32)
    finite = np.isfinite(source_times)
    times = np.ceil(source_times[finite]).astype(np.int64)
    np.minimum.at(start[0], source_stops[finite], np.minimum(times, INF).astype(np.int32))
    return _seconds(search(tt, start, max_rounds=max_rounds, closed=closed)[0], np.float64)


def travel_times(
    tt: Timetable,
    departure_s: int,
    origins: np.ndarray | None = None,
    *,
    max_rounds: int = MAX_ROUNDS,
    chunk: int = CHUNK_ORIGINS,
    closed: np.ndarray | None = None,
) -> np.ndarray:
    """Seconds from each origin stop (all by default) to every stop, leaving the origin at
    `departure_s` (waiting at it counts): origins × stops float32, inf unreached, 0 on the
    origin itself. Footpaths follow vehicles only: walking from the origin is the caller's."""
    origins = np.arange(tt.n_stops) if origins is None else np.asarray(origins, np.int64)
    result = np.empty((len(origins), tt.n_stops), np.float32)
    for first in range(0, len(origins), chunk):
        part = origins[first : first + chunk]
        start = np.full((len(part), tt.n_stops), INF, np.int32)
        start[np.arange(len(part)), part] = departure_s
        arrival = search(tt, start, max_rounds=max_rounds, closed=closed)
        result[first : first + len(part)] = _seconds(arrival, np.float32) - np.float32(departure_s)
    return result

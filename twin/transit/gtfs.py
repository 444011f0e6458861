"""Reading and checking a GTFS feed (gtfs-kit reads the files) before anything is stored.

gtfs-kit 13 reads a feed into tables but validates nothing, so the checks a planner needs are
here: missing files and columns, duplicate ids, broken references (stop_times -> trips and
stops, trips -> routes and services), unreadable times and times past 48:00:00, times going
back along a trip, stops without coordinates or outside the city, and a calendar on which
nothing runs. An error refuses the feed (each named by file, line and field, a few examples
and a count); a warning is kept in the import report and the feed's provenance. What passes
becomes `TimetableFrames` (twin.transit.frames): times in integer seconds, one mode per route.
"""

from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import gtfs_kit
import numpy as np
import pandas as pd

from twin.errors import ImportFailed
from twin.importers import error_line
from twin.transit.frames import MODES_BY_ROUTE_TYPE, TimetableFrames

LOG = logging.getLogger("twin.transit")
MAX_TIME_S = 48 * 3600  # GTFS allows trips past midnight; past 48:00:00 is a broken time
EXAMPLES = 3  # lines named per problem; the count says how many more
STOPS_NEAR_KM = 20.0  # stops this far beyond the city's extent are refused, nearer ones warned
MODES = ("bus", "trolleybus", "tram", "brt", "metro")  # what the twin models (transit_stops)
MODE_RANK = {"metro": 0, "brt": 1, "tram": 2, "trolleybus": 3, "bus": 4}  # a stop's mode
REQUIRED_FILES = ("stops", "routes", "trips", "stop_times")
REQUIRED_COLUMNS = {
    "stops": ("stop_id",),
    "routes": ("route_id", "route_type"),
    "trips": ("route_id", "service_id", "trip_id"),
    "stop_times": ("trip_id", "stop_id", "stop_sequence"),
    "calendar": (
        "service_id",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "start_date",
        "end_date",
    ),
    "calendar_dates": ("service_id", "date", "exception_type"),
}
WEEKDAYS = REQUIRED_COLUMNS["calendar"][1:8]


@dataclass
class FeedProblems:
    """Errors refuse the feed; warnings are listed and kept."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def rows(self, file: str, mask: pd.Series, what: str, *, error: bool = True) -> int:
        """Note the rows of `file` where `mask` holds: '<file> line N: <what>' with a few
        examples (the CSV line: header is line 1), and how many rows in all."""
        hits = mask[mask.fillna(False).astype(bool)].index
        if len(hits) == 0:
            return 0
        lines = ", ".join(str(int(i) + 2) for i in hits[:EXAMPLES])
        more = f" and {len(hits) - EXAMPLES} more" if len(hits) > EXAMPLES else ""
        plural = "s" if len(hits) > 1 else ""
        (self.errors if error else self.warnings).append(
            f"{file}.txt line{plural} {lines}{more}: {what} ({len(hits)} row{plural})"
        )
        return len(hits)

    def values(self, file: str, frame: pd.DataFrame, mask: pd.Series, column: str, what: str):
        """Like `rows`, naming the offending value of the first example."""
        hits = frame.index[mask.fillna(False).astype(bool)]
        if len(hits):
            first = frame.at[hits[0], column]
            self.rows(file, mask, f"{column} {_shown(first)} {what}")


def _shown(value: object) -> str:
    return "(empty)" if value is None or pd.isna(value) else repr(str(value))


@dataclass
class GtfsFeed:
    """A checked feed: the timetable, route shapes (shape_id, seq, lon, lat; may be None), the
    warnings, and facts for provenance (agencies, the service's first and last day)."""

    frames: TimetableFrames
    shapes: pd.DataFrame | None
    warnings: list[str]
    facts: dict


def route_mode(route_type: int | None, short_name: str | None, long_name: str | None) -> str | None:
    """The twin's mode of a GTFS route: base route types by frames.MODES_BY_ROUTE_TYPE, BRT by
    the extended type 702 or a name starting 'BRT', extended types by their hundred (4xx
    metro, 7xx bus, 8xx trolleybus, 9xx tram); None: a mode the twin does not model (rail,
    ferry, cable car, funicular)."""
    if route_type is None:
        return None
    names = ((short_name or "").strip().upper(), (long_name or "").strip().upper())
    if route_type == 702 or any(name.startswith("BRT") for name in names):
        return "brt"
    mode = MODES_BY_ROUTE_TYPE.get(route_type)
    if mode is None and route_type >= 100:  # extended types; 2xx coaches run as buses
        mode = {2: "bus", 4: "metro", 7: "bus", 8: "trolleybus", 9: "tram"}.get(route_type // 100)
    if mode is None and route_type == 5:  # cable tram
        mode = "tram"
    return mode if mode in MODES else None


def parse_times(values: pd.Series) -> pd.Series:
    """'H:MM:SS' (hours may pass 24) as seconds (Int64); NA where empty or unreadable. A feed
    has millions of stop times but few distinct times: each distinct text is parsed once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string").str.strip()
    parts = text.str.extract(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
    seconds = (
        pd.to_numeric(parts[0], errors="coerce") * 3600
        + pd.to_numeric(parts[1], errors="coerce") * 60
        + pd.to_numeric(parts[2], errors="coerce")
    ).astype("Int64")
    result = seconds.take(np.where(codes < 0, 0, codes)) if len(seconds) else seconds
    result = pd.Series(result.to_numpy(), index=values.index, dtype="Int64")
    result[codes < 0] = pd.NA
    return result


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("string").str.strip(), format="%Y%m%d", errors="coerce")


def service_days(calendar: pd.DataFrame, calendar_dates: pd.DataFrame) -> pd.DataFrame:
    """Every (service_id, date) the service runs: the calendar's weekdays between its first
    and last day, plus the dates calendar_dates adds, minus those it removes."""
    runs = []
    for row in calendar.itertuples(index=False):
        days = pd.date_range(row.start_date, row.end_date, freq="D")
        flags = np.array([bool(getattr(row, day)) for day in WEEKDAYS])
        days = days[flags[days.day_of_week]]
        runs.append(pd.DataFrame({"service_id": row.service_id, "date": days.date}))
    base = (
        pd.concat(runs, ignore_index=True)
        if runs
        else pd.DataFrame({"service_id": pd.Series(dtype=object), "date": pd.Series(dtype=object)})
    )
    added = calendar_dates.loc[calendar_dates["exception_type"] == 1, ["service_id", "date"]]
    removed = calendar_dates.loc[calendar_dates["exception_type"] == 2, ["service_id", "date"]]
    days = pd.concat([base, added], ignore_index=True).drop_duplicates()
    if len(removed):
        key = pd.MultiIndex.from_frame(days)
        days = days[~key.isin(pd.MultiIndex.from_frame(removed))]
    return days.sort_values(["date", "service_id"]).reset_index(drop=True)


def _open(path: Path) -> gtfs_kit.Feed:
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ImportFailed(
            f"{path.name} is not a GTFS feed: not a zip archive (a feed is a .zip of "
            "stops.txt, routes.txt, trips.txt, stop_times.txt, calendar.txt ...)"
        )
    if path.is_file():
        with zipfile.ZipFile(path) as archive:
            present = {
                Path(info.filename).stem
                for info in archive.infolist()
                if info.filename.endswith(".txt") and info.file_size
            }
    else:
        present = {p.stem for p in path.glob("*.txt") if p.stat().st_size}
    missing = [f"{name}.txt" for name in REQUIRED_FILES if name not in present]
    if not {"calendar", "calendar_dates"} & present:
        missing.append("calendar.txt or calendar_dates.txt")
    if missing:
        raise ImportFailed(
            f"{path.name} was refused, nothing was changed: required file(s) missing or "
            f"empty: {', '.join(missing)}"
        )
    try:
        return gtfs_kit.read_feed(path, dist_units="km")
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ImportFailed(f"cannot read {path.name} as GTFS: {error_line(exc)}") from None


def _columns(feed: gtfs_kit.Feed, problems: FeedProblems) -> None:
    for name, columns in REQUIRED_COLUMNS.items():
        frame = getattr(feed, name)
        if frame is None:
            continue
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.errors.append(f"{name}.txt has no column {', '.join(missing)}")
    stop_times = feed.stop_times
    if not {"arrival_time", "departure_time"} & set(stop_times.columns):
        problems.errors.append("stop_times.txt has neither arrival_time nor departure_time")


def _ids(problems: FeedProblems, file: str, frame: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        problems.rows(file, frame[column].isna(), f"{column} is empty")
    problems.values(
        file,
        frame,
        frame.duplicated(columns, keep="first") & frame[columns].notna().all(axis=1),
        columns[0],
        "appears twice" if len(columns) == 1 else f"with this {columns[1]} appears twice",
    )


def _stops(
    feed: gtfs_kit.Feed, problems: FeedProblems, extent: tuple[float, float, float, float]
) -> pd.DataFrame:
    stops = feed.stops.copy()
    _ids(problems, "stops", stops, ["stop_id"])
    if "location_type" in stops.columns:
        kind = pd.to_numeric(stops["location_type"], errors="coerce").fillna(0)
        stops = stops[kind == 0]  # stations, entrances and nodes are not where trips stop
    for column in ("stop_lat", "stop_lon"):
        if column not in stops.columns:
            stops[column] = np.nan
    lat = pd.to_numeric(stops["stop_lat"], errors="coerce")
    lon = pd.to_numeric(stops["stop_lon"], errors="coerce")
    problems.rows("stops", lat.isna() | lon.isna(), "stop_lat/stop_lon missing or not a number")
    west, south, east, north = extent
    dlat = STOPS_NEAR_KM / 111.32
    dlon = STOPS_NEAR_KM / (111.32 * math.cos(math.radians((south + north) / 2)))
    far = ~lon.between(west - dlon, east + dlon) | ~lat.between(south - dlat, north + dlat)
    far &= lat.notna() & lon.notna()
    near = (~lon.between(west, east) | ~lat.between(south, north)) & ~far & lat.notna()
    box = f"{west:.2f}-{east:.2f} E, {south:.2f}-{north:.2f} N"
    hits = stops.index[far.to_numpy()]
    if len(hits):
        first = stops.loc[hits[0]]
        problems.rows(
            "stops",
            far,
            f"stop {_shown(first['stop_id'])} at {lat[hits[0]]:.4f} N, {lon[hits[0]]:.4f} E "
            f"lies outside the city ({box}, with {STOPS_NEAR_KM:g} km around): a feed of "
            "another place, or swapped stop_lat/stop_lon",
        )
    problems.rows(
        "stops",
        near,
        f"stop outside the city's extent ({box}) but within {STOPS_NEAR_KM:g} km: suburban, kept",
        error=False,
    )
    return pd.DataFrame(
        {
            "stop_id": stops["stop_id"].astype(str),
            "stop_name": stops["stop_name"] if "stop_name" in stops.columns else None,
            "lon": lon,
            "lat": lat,
            "wheelchair_boarding": _wheelchair_boarding(stops, problems),
        }
    )


def _wheelchair_boarding(stops: pd.DataFrame, problems: FeedProblems) -> pd.Series:
    """GTFS wheelchair_boarding (0 or empty unknown, 1 possible, 2 not possible); another value
    is a warning and reads as unknown."""
    if "wheelchair_boarding" not in stops.columns:
        return pd.Series(pd.NA, index=stops.index, dtype="Int64")
    code = pd.to_numeric(stops["wheelchair_boarding"], errors="coerce").astype("Float64")
    odd = code.notna() & ~code.isin([0, 1, 2])
    problems.rows(
        "stops",
        odd,
        "wheelchair_boarding is not 0, 1 or 2: read as unknown",
        error=False,
    )
    return code.where(~odd).astype("Int64")


def _routes(feed: gtfs_kit.Feed, problems: FeedProblems) -> pd.DataFrame:
    routes = feed.routes.copy()
    _ids(problems, "routes", routes, ["route_id"])
    route_type = pd.to_numeric(routes["route_type"], errors="coerce").astype("Int64")
    problems.rows("routes", route_type.isna(), "route_type is empty or not a number")
    short = routes.get("route_short_name", pd.Series(pd.NA, index=routes.index))
    long = routes.get("route_long_name", pd.Series(pd.NA, index=routes.index))
    modes = [
        route_mode(
            None if pd.isna(t) else int(t),
            None if pd.isna(s) else str(s),
            None if pd.isna(n) else str(n),
        )
        for t, s, n in zip(route_type, short, long, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "route_id": routes["route_id"].astype(str),
            "short_name": short.astype("string"),
            "long_name": long.astype("string"),
            "route_type": route_type,
            "mode": modes,
        }
    )
    unmodelled = frame["mode"].isna() & route_type.notna()
    if unmodelled.any():
        kinds = sorted({int(t) for t in route_type[unmodelled]})
        problems.warnings.append(
            f"routes.txt: {int(unmodelled.sum())} route(s) of route_type "
            f"{', '.join(map(str, kinds))} (rail, ferry, cable car, ...: not a mode the twin "
            "models) left out with their trips"
        )
    return frame


def _calendar(feed: gtfs_kit.Feed, problems: FeedProblems) -> tuple[pd.DataFrame, pd.DataFrame]:
    calendar = feed.calendar.copy() if feed.calendar is not None else None
    dates = feed.calendar_dates.copy() if feed.calendar_dates is not None else None
    if calendar is None:
        calendar = pd.DataFrame(columns=REQUIRED_COLUMNS["calendar"])
    if dates is None:
        dates = pd.DataFrame(columns=REQUIRED_COLUMNS["calendar_dates"])
    _ids(problems, "calendar", calendar, ["service_id"])
    start, end = _dates(calendar["start_date"]), _dates(calendar["end_date"])
    problems.values("calendar", calendar, start.isna(), "start_date", "is not a date (YYYYMMDD)")
    problems.values("calendar", calendar, end.isna(), "end_date", "is not a date (YYYYMMDD)")
    problems.rows("calendar", start > end, "start_date is after end_date")
    flags = {}
    for day in WEEKDAYS:
        value = pd.to_numeric(calendar[day], errors="coerce")
        problems.values("calendar", calendar, ~value.isin([0, 1]), day, "is not 0 or 1")
        flags[day] = value.fillna(0).astype(int) == 1
    when = _dates(dates["date"])
    kind = pd.to_numeric(dates["exception_type"], errors="coerce")
    problems.values("calendar_dates", dates, when.isna(), "date", "is not a date (YYYYMMDD)")
    problems.values("calendar_dates", dates, ~kind.isin([1, 2]), "exception_type", "is not 1 or 2")
    cal = pd.DataFrame(
        {
            "service_id": calendar["service_id"].astype(str),
            **flags,
            "start_date": start.dt.date,
            "end_date": end.dt.date,
        }
    )
    cal_dates = pd.DataFrame(
        {
            "service_id": dates["service_id"].astype(str),
            "date": when.dt.date,
            "exception_type": kind.astype("Int64"),
        }
    )
    return cal, cal_dates


def _stop_times(feed: gtfs_kit.Feed, problems: FeedProblems) -> pd.DataFrame:
    st = feed.stop_times
    _ids(problems, "stop_times", st, ["trip_id", "stop_sequence"])
    sequence = pd.to_numeric(st["stop_sequence"], errors="coerce")
    problems.values(
        "stop_times",
        st,
        sequence.isna() & st["stop_sequence"].notna(),
        "stop_sequence",
        "is not a whole number",
    )
    times = {}
    for column in ("arrival_time", "departure_time"):
        raw = st[column] if column in st.columns else pd.Series(pd.NA, index=st.index)
        seconds = parse_times(raw)
        problems.values(
            "stop_times",
            st.assign(**{column: raw}),
            seconds.isna() & raw.notna(),  # gtfs-kit reads blank cells as missing
            column,
            "is not a time (HH:MM:SS)",
        )
        problems.values(
            "stop_times",
            st.assign(**{column: raw}),
            seconds > MAX_TIME_S,
            column,
            "is past 48:00:00 (a trip may run past midnight, not two days on)",
        )
        times[column] = seconds
    arrival = times["arrival_time"].fillna(times["departure_time"])
    departure = times["departure_time"].fillna(times["arrival_time"])
    problems.rows("stop_times", departure < arrival, "departure_time before arrival_time")
    return pd.DataFrame(
        {
            "trip_id": st["trip_id"].astype(str),
            "stop_sequence": sequence.astype("Int64"),
            "stop_id": st["stop_id"].astype(str),
            "arrival_s": arrival,
            "departure_s": departure,
        },
        index=st.index,
    )


def _trip_times(stop_times: pd.DataFrame, problems: FeedProblems) -> pd.DataFrame:
    """Trips in stop order, untimed intermediate stops interpolated; trips without a time at
    either end, or whose times go back, are errors."""
    order = stop_times.sort_values(["trip_id", "stop_sequence"], kind="stable")
    first = ~order["trip_id"].duplicated(keep="first")
    last = ~order["trip_id"].duplicated(keep="last")
    ends = (first | last) & order["arrival_s"].isna()
    problems.rows(
        "stop_times", ends.reindex(stop_times.index), "the first or last stop of a trip has no time"
    )
    untimed = int(order["arrival_s"].isna().sum() - ends.sum())
    if untimed:
        problems.warnings.append(
            f"stop_times.txt: {untimed} stop time(s) without a time were interpolated between "
            "the timed stops around them"
        )
        for column in ("arrival_s", "departure_s"):
            order[column] = (
                order[column]
                .astype("Float64")
                .interpolate(limit_area="inside")
                .round()
                .astype("Int64")
            )
    back = (order["trip_id"] == order["trip_id"].shift()) & (
        order["arrival_s"] < order["departure_s"].shift()
    )
    problems.rows("stop_times", back.reindex(stop_times.index), "time goes back along the trip")
    return order


def _references(
    problems: FeedProblems,
    stops: pd.DataFrame,
    routes: pd.DataFrame,
    trips: pd.DataFrame,
    stop_times: pd.DataFrame,
    calendar: pd.DataFrame,
    calendar_dates: pd.DataFrame,
) -> None:
    problems.values(
        "stop_times",
        stop_times,
        ~stop_times["trip_id"].isin(trips["trip_id"]),
        "trip_id",
        "is not in trips.txt",
    )
    problems.values(
        "stop_times",
        stop_times,
        ~stop_times["stop_id"].isin(stops["stop_id"]),
        "stop_id",
        "is not a stop in stops.txt (location_type 0)",
    )
    problems.values(
        "trips",
        trips,
        ~trips["route_id"].isin(routes["route_id"]),
        "route_id",
        "is not in routes.txt",
    )
    services = set(calendar["service_id"]) | set(calendar_dates["service_id"])
    problems.values(
        "trips",
        trips,
        ~trips["service_id"].isin(services),
        "service_id",
        "is in neither calendar.txt nor calendar_dates.txt",
    )


def _frequencies(feed: gtfs_kit.Feed, problems: FeedProblems) -> gtfs_kit.Feed:
    """A feed that gives headways (frequencies.txt) instead of every trip: its trips are
    written out (gtfs-kit), so the engine reads one kind of timetable."""
    if feed.frequencies is None:
        return feed
    entries = len(feed.frequencies)
    templates = feed.frequencies["trip_id"].nunique()
    try:
        expanded = feed.expand_frequencies()
    except (ValueError, TypeError, KeyError) as exc:
        problems.errors.append(f"frequencies.txt cannot be expanded into trips: {error_line(exc)}")
        return feed
    problems.warnings.append(
        f"frequencies.txt: {entries} headway entries written out as "
        f"{len(expanded.trips) - len(feed.trips) + templates:,} trips (line numbers of "
        "stop_times.txt in later messages count the written-out rows)"
    )
    return expanded


def read_gtfs(path: Path | str, extent: tuple[float, float, float, float]) -> GtfsFeed:
    """Read and check the feed at `path` (a zip, or a folder of .txt files) against the city's
    `extent` (lon/lat W, S, E, N); refuse it (ImportFailed, every error listed) or return it."""
    path = Path(path)
    feed = _open(path)
    problems = FeedProblems()
    _columns(feed, problems)
    if problems.errors:
        raise _refusal(path, problems)
    feed = _frequencies(feed, problems)
    stops = _stops(feed, problems, extent)
    routes = _routes(feed, problems)
    raw_trips = feed.trips
    _ids(problems, "trips", raw_trips, ["trip_id"])
    for column in ("route_id", "service_id"):
        problems.rows("trips", raw_trips[column].isna(), f"{column} is empty")
    problems.rows("stop_times", feed.stop_times["stop_id"].isna(), "stop_id is empty")
    trips = pd.DataFrame(
        {
            "trip_id": raw_trips["trip_id"].astype(str),
            "route_id": raw_trips["route_id"].astype(str),
            "service_id": raw_trips["service_id"].astype(str),
            "direction_id": pd.to_numeric(
                raw_trips.get("direction_id", pd.Series(0, index=raw_trips.index)),
                errors="coerce",
            )
            .fillna(0)
            .astype(int),
            "shape_id": raw_trips.get("shape_id", pd.Series(None, index=raw_trips.index))
            .astype(object)
            .where(lambda s: s.notna(), None),
        },
        index=raw_trips.index,
    )
    calendar, calendar_dates = _calendar(feed, problems)
    stop_times = _stop_times(feed, problems)
    _references(problems, stops, routes, trips, stop_times, calendar, calendar_dates)
    if problems.errors:
        raise _refusal(path, problems)
    stop_times = _trip_times(stop_times, problems)
    days = service_days(calendar, calendar_dates)
    used = trips["service_id"].unique()
    running = set(days["service_id"])
    if not running & set(used):
        problems.errors.append(
            "calendar.txt/calendar_dates.txt: no trip runs on any day (every service has no "
            "weekday flagged between its start_date and end_date, and no date added)"
        )
    if problems.errors:
        raise _refusal(path, problems)
    idle = sorted(set(used) - running)
    if idle:
        problems.warnings.append(
            f"calendar.txt: service(s) {', '.join(idle[:EXAMPLES])}"
            f"{' ...' if len(idle) > EXAMPLES else ''} run on no day: their trips never run"
        )
    frames, shapes = _kept(
        feed, stops, routes, trips, stop_times, calendar, calendar_dates, problems
    )
    last_day = days["date"].max()
    if last_day < date.today():
        problems.warnings.append(
            f"the feed's service ended on {last_day.isoformat()}: it describes a past timetable"
        )
    facts = {
        "service_start": days["date"].min().isoformat(),
        "service_end": last_day.isoformat(),
        "agencies": sorted(feed.agency["agency_name"].dropna().astype(str).unique().tolist())
        if feed.agency is not None and "agency_name" in feed.agency.columns
        else [],
    }
    if feed.agency is None:
        problems.warnings.append("agency.txt is missing (required by GTFS; not needed here)")
    return GtfsFeed(frames=frames, shapes=shapes, warnings=problems.warnings, facts=facts)


def _kept(
    feed: gtfs_kit.Feed,
    stops: pd.DataFrame,
    routes: pd.DataFrame,
    trips: pd.DataFrame,
    stop_times: pd.DataFrame,
    calendar: pd.DataFrame,
    calendar_dates: pd.DataFrame,
    problems: FeedProblems,
) -> tuple[TimetableFrames, pd.DataFrame | None]:
    """What the twin keeps: routes of the modes it models, their trips with two stops or
    more, the stops those trips serve (each with the highest mode serving it)."""
    routes = routes[routes["mode"].notna()].reset_index(drop=True)
    trips = trips[trips["route_id"].isin(routes["route_id"])]
    counts = stop_times.groupby("trip_id").size()
    short = trips["trip_id"].map(counts).fillna(0) < 2
    if short.any():
        problems.warnings.append(
            f"trips.txt: {int(short.sum())} trip(s) with fewer than two stop times left out"
        )
    trips = trips[~short].reset_index(drop=True)
    stop_times = stop_times[stop_times["trip_id"].isin(trips["trip_id"])].reset_index(drop=True)
    served = stop_times[["trip_id", "stop_id"]].drop_duplicates()
    served = served.merge(trips[["trip_id", "route_id"]], on="trip_id").merge(
        routes[["route_id", "mode"]], on="route_id"
    )
    served["rank"] = served["mode"].map(MODE_RANK)
    best = served.sort_values("rank").drop_duplicates("stop_id").set_index("stop_id")["mode"]
    unserved = ~stops["stop_id"].isin(best.index)
    if unserved.any():
        problems.warnings.append(
            f"stops.txt: {int(unserved.sum())} stop(s) served by no kept trip left out"
        )
    stops = stops[~unserved].reset_index(drop=True)
    stops["mode"] = stops["stop_id"].map(best)
    shapes = None
    if feed.shapes is not None and {"shape_id", "shape_pt_lat", "shape_pt_lon"} <= set(
        feed.shapes.columns
    ):
        raw = feed.shapes
        shapes = pd.DataFrame(
            {
                "shape_id": raw["shape_id"].astype(str),
                "seq": pd.to_numeric(raw.get("shape_pt_sequence"), errors="coerce"),
                "lon": pd.to_numeric(raw["shape_pt_lon"], errors="coerce"),
                "lat": pd.to_numeric(raw["shape_pt_lat"], errors="coerce"),
            }
        ).dropna()
        shapes = shapes.sort_values(["shape_id", "seq"], kind="stable").reset_index(drop=True)
        unknown = trips["shape_id"].notna() & ~trips["shape_id"].isin(shapes["shape_id"])
        if unknown.any():
            problems.warnings.append(
                f"trips.txt: {int(unknown.sum())} trip(s) name a shape_id not in shapes.txt: "
                "their routes are drawn through their stops"
            )
            trips.loc[unknown, "shape_id"] = None
    else:
        trips["shape_id"] = None
    frames = TimetableFrames(
        stops=stops[["stop_id", "stop_name", "lon", "lat", "mode", "wheelchair_boarding"]],
        routes=routes,
        trips=trips,
        stop_times=stop_times.astype({"stop_sequence": int, "arrival_s": int, "departure_s": int}),
        calendar=calendar.reset_index(drop=True),
        calendar_dates=calendar_dates.reset_index(drop=True),
    )
    return frames, shapes


def _refusal(path: Path, problems: FeedProblems) -> ImportFailed:
    lines = [f"{path.name} was refused ({len(problems.errors)} error(s)), nothing was changed:"]
    lines += [f"  error: {e}" for e in problems.errors]
    lines += [f"  warning: {w}" for w in problems.warnings]
    return ImportFailed("\n".join(lines))

"""The programme's KPI 4 by walk + public transport, for `twin analyse`: per plot and H3 cell
the minutes to each of the six categories on foot or by PT, and per area the residents with
all six within 15 minutes that way, beside the walking-only figure; and the rapid-transit
catchment gap (residents beyond a 10-minute walk of a metro or BRT stop).

The period is one service day of the feed in use (TWIN_TRANSIT_DAY, or the first Tuesday of
the feed's service: a working day) and a departure window (TWIN_TRANSIT_WINDOW, 08:00-09:00
every 5 minutes by default), the median over the window's departures per node, as Conveyal
reports it (twin/transit/access.py). No feed loaded: no walk+PT figures (None), and the
layers' walk+PT columns stay empty.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg

from twin.analysis.city import CATEGORIES, CityModel, Places
from twin.analysis.fifteen import (
    LIMIT_MINUTES,
    NodeAccess,
    category_pass,
    place_access,
    place_minutes,
)
from twin.analysis.network import data_versions
from twin.errors import InvalidParameter, NotFound
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.transit.access import footpaths, transit_access, window_departures
from twin.transit.store import timetable_frames
from twin.transit.timetable import Timetable, build_timetable, service_range

LOG = logging.getLogger("twin.transit.figures")
RAPID_MODES = ("metro", "brt")
RAPID = "rapid_transit"  # the metro and BRT stops, as one source set
RAPID_WALK_MINUTES = 10.0  # S2 l.925: the catchment of metro, BRT and LRT
PT_COLUMNS = [f"min_{c}_walk_pt" for c in CATEGORIES] + ["categories_15_walk_pt", "all_six_walk_pt"]
FEED_LAYERS = ("transit_stops", "transit_routes", "streets", "terrain")
# A profile's walk+PT (on request, not in `twin analyse`): the published window's departures
# every 20 minutes (08:00, 08:20, 08:40: the median of three), a quarter of the work
PROFILE_STEP_S = 20 * 60


@dataclass(frozen=True)
class Period:
    """The service day and departure window the walk+PT figures are for."""

    day: date
    start_s: int
    end_s: int
    step_s: int

    @property
    def departures(self) -> np.ndarray:
        return window_departures(self.start_s, self.end_s, self.step_s)

    def label(self) -> str:
        def hhmm(s: int) -> str:
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

        return (
            f"{self.day.isoformat()} {hhmm(self.start_s)}-{hhmm(self.end_s)} "
            f"every {self.step_s // 60} min"
        )


def parse_window(text: str) -> tuple[int, int, int]:
    """ "08:00-09:00" or "08:00-09:00/5" (minutes between departures, default 5) → seconds."""
    match = re.fullmatch(
        r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*(?:/\s*(\d{1,3}))?\s*", text
    )
    if not match:
        raise InvalidParameter(
            f"a departure window is written 08:00-09:00 or 08:00-09:00/5, not {text!r}"
        )
    h0, m0, h1, m1, step = match.groups()
    start, end = int(h0) * 3600 + int(m0) * 60, int(h1) * 3600 + int(m1) * 60
    step_s = int(step or 5) * 60
    if not (0 <= start < end <= 48 * 3600 and int(m0) < 60 and int(m1) < 60 and step_s > 0):
        raise InvalidParameter(f"the departure window {text!r} must run forward within 48:00")
    return start, end, step_s


def typical_day(first: date | None, last: date | None) -> date:
    """The first Tuesday of the service range (a working day, away from Monday's exceptions)."""
    if first is None:
        raise InvalidParameter("the feed has no service days")
    day = first + timedelta(days=(1 - first.weekday()) % 7)
    return day if last is None or day <= last else first


def period(frames_range: tuple[date | None, date | None]) -> Period:
    settings = get_settings().analysis
    start, end, step = parse_window(settings.transit_window)
    if settings.transit_day:
        try:
            day = date.fromisoformat(settings.transit_day.strip())
        except ValueError:
            raise InvalidParameter(
                f"TWIN_TRANSIT_DAY={settings.transit_day!r} is not a date (YYYY-MM-DD)"
            ) from None
    else:
        day = typical_day(*frames_range)
    return Period(day, start, end, step)


def city_timetable(conn: psycopg.Connection, city: CityModel) -> tuple[Timetable, Period] | None:
    """The feed in use as the engine's timetable for the period, with footpath transfers on
    the city's walking network (None when no feed is loaded). Kept in the city's cache while
    the feed and the network stay the same."""
    version = data_versions(conn, FEED_LAYERS)
    key = ("transit_timetable", version)
    if key in city._cache:
        return city._cache[key]
    try:
        frames = timetable_frames(conn)
    except NotFound:
        return None
    when = period(service_range(frames))
    bare = build_timetable(frames, when.day)
    tt = bare.with_transfers(footpaths(city.network, bare))
    for old in [k for k in city._cache if isinstance(k, tuple) and k[:1] == key[:1]]:
        del city._cache[old]
    city._cache[key] = (tt, when)
    LOG.info(
        "transit timetable built",
        extra={"fields": {"day": when.day.isoformat(), "stops": tt.n_stops, "trips": tt.trips}},
    )
    return tt, when


def day_timetable(
    conn: psycopg.Connection, city: CityModel, day: date | None = None
) -> tuple[Timetable, date]:
    """The feed's timetable of `day` (default: the published figures' day) with footpaths,
    kept in the city's cache (the last few days asked for). NotFound without a feed;
    NoService (400) when the feed runs nothing that day."""
    if day is None:
        built = city_timetable(conn, city)
        if built is None:
            raise NotFound("no transit feed is loaded: `twin import-gtfs FEED.zip` imports one")
        return built[0], built[1].day
    version = data_versions(conn, FEED_LAYERS)
    key = ("transit_day", version, day)
    if key not in city._cache:
        days = [k for k in city._cache if isinstance(k, tuple) and k[:1] == key[:1]]
        for old in days[:-3]:  # a few days kept
            del city._cache[old]
        bare = build_timetable(timetable_frames(conn), day)
        city._cache[key] = bare.with_transfers(footpaths(city.network, bare))
    return city._cache[key], day


def walk_pt_columns(access: NodeAccess, places: Places) -> pd.DataFrame:
    """Per place: minutes to each category on foot or by PT, how many within 15, all six."""
    frame = place_minutes(access, places, describe=False)
    columns = {f"min_{c}_walk_pt": frame[f"min_{c}"].round(2) for c in CATEGORIES}
    columns["categories_15_walk_pt"] = frame["categories_15"]
    columns["all_six_walk_pt"] = frame["all_six"]
    return pd.DataFrame(columns)


@dataclass
class TransitFigures:
    """What `twin analyse` publishes of walk + PT: per plot, per cell, and the rapid-transit
    walk of each plot."""

    when: Period
    plots: pd.DataFrame
    cells: pd.DataFrame
    rapid_minutes: np.ndarray  # per plot: walking minutes to the nearest metro/BRT stop
    feed: dict

    def area_rows(self, city: CityModel, codes: np.ndarray, count: int) -> list[dict]:
        """Per area (plot codes 0..count-1): the share with all six by walk+PT, and the
        residents beyond a 10-minute walk of rapid transit."""
        residents = city.plots["residents"].to_numpy(float)
        ok = codes >= 0
        people = np.bincount(codes[ok], weights=residents[ok], minlength=count)
        six = np.bincount(
            codes[ok],
            weights=(residents * self.plots["all_six_walk_pt"].to_numpy(bool))[ok],
            minlength=count,
        )
        beyond = ~(self.rapid_minutes <= RAPID_WALK_MINUTES)
        gap = np.bincount(codes[ok], weights=(residents * beyond)[ok], minlength=count)
        return [
            {
                "share_all_six_walk_pt": round(float(six[k] / people[k]), 4) if people[k] else None,
                "rapid_transit_gap_residents": int(round(gap[k])),
                "rapid_transit_gap_share": round(float(gap[k] / people[k]), 4)
                if people[k]
                else None,
            }
            for k in range(count)
        ]


def rapid_transit_minutes(
    conn: psycopg.Connection,
    city: CityModel,
    walking_mode: str,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per plot: the walk to the nearest metro station or BRT stop (inf beyond 30 min), met
    on the streets as amenities are (twin.analysis.fifteen). `extra`: lon, lat of more rapid
    stops (a plan's new metro or BRT stops, twin.plans.evaluate)."""
    rows = conn.execute(query("transit/rapid_stops"), {"modes": list(RAPID_MODES)}).fetchall()
    if extra is not None and len(extra[0]):
        rows = rows + list(zip(extra[0].tolist(), extra[1].tolist()))
    if not rows:
        return np.full(len(city.plots), np.inf)
    lon, lat = (np.array(col, dtype=float) for col in zip(*rows))
    stops = city.network.snap_segment(lon, lat)
    minutes, origin = category_pass(city.network, stops, walking_mode)
    access = NodeAccess(
        {RAPID: minutes},
        {RAPID: origin},
        np.full(city.network.n, np.inf),
        walking_mode,
        sources={RAPID: stops},
        network=city.network,
    )
    value, _ = place_access(access, city.plot_places, RAPID)
    return np.where(value <= LIMIT_MINUTES, value, np.inf)


def transit_figures(
    conn: psycopg.Connection, city: CityModel, walking: NodeAccess
) -> TransitFigures | None:
    """Walk + PT per plot and cell for the period, or None when no feed is loaded."""
    built = city_timetable(conn, city)
    if built is None:
        return None
    tt, when = built
    access = transit_access(city, tt, when.departures, mode=walking.mode, walking=walking)
    from twin.transit.store import feed_summary

    summary = feed_summary(conn) or {}
    return TransitFigures(
        when=when,
        plots=walk_pt_columns(access, city.plot_places),
        cells=walk_pt_columns(access, city.cell_places),
        rapid_minutes=rapid_transit_minutes(conn, city, walking.mode),
        feed={
            "name": summary.get("name"),
            "synthetic": summary.get("synthetic"),
            "period": when.label(),
            "stops": int(tt.n_stops),
            "trips": int(tt.trips),
        },
    )


def _area_codes(city: CityModel) -> list[tuple[str, list[str], np.ndarray]]:
    """(area kind, names, plot code per plot) for districts, polycentres and the city."""
    areas = []
    for kind, column, names in (
        ("districts", "district", list(city.districts["name"])),
        ("polycentres", "polycentre", list(city.polycentres["name"])),
    ):
        lookup = {name: i for i, name in enumerate(names)}
        codes = np.array([lookup.get(v, -1) for v in city.plots[column]], dtype=np.int64)
        areas.append((kind, names, codes))
    areas.append(("city", ["city"], np.zeros(len(city.plots), np.int64)))
    return areas


def closed_stops(conn: psycopg.Connection, tt: Timetable, profile: str) -> np.ndarray | None:
    """The stops a wheelchair user cannot use (journey.step_free_closed on the stored stops:
    wheelchair_boarding 2 where the stored feed keeps the column), None for other profiles."""
    if profile != "wheelchair":
        return None
    from twin.transit.journey import step_free_closed

    cursor = conn.execute(query("transit/stops_all"))
    stops = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    return step_free_closed(stops, tt)


def profile_walk_pt(conn: psycopg.Connection, city: CityModel, profile: str) -> dict | None:
    """KPI 4 for one walking profile: the share of residents with all six within 15 minutes
    on foot or by PT (the profile's walks, its own footpath transfers, no stop it cannot use;
    the published period) per district, per polycentre and for the city, and each area's
    walking-only share beside it. Computed on request and kept in the city's cache (per data
    version, like the profile's walking figures) while the timetable stays; None without a
    feed."""
    from twin.analysis.profiles import engine_mode
    from twin.analysis.reports import baseline
    from twin.transit.access import profile_timetable

    built = city_timetable(conn, city)
    if built is None:
        return None
    tt, when = built
    key = ("profile_walk_pt", profile)
    kept = city._cache.get(key)
    if kept is not None and kept[0] is tt:
        return kept[1]
    mode = engine_mode(profile)
    walking = baseline(city, mode)
    closed = closed_stops(conn, tt, profile)
    sampled = Period(when.day, when.start_s, when.end_s, max(when.step_s, PROFILE_STEP_S))
    access = transit_access(
        city,
        profile_timetable(city, tt, profile),
        sampled.departures,
        mode=mode,
        walking=walking,
        closed=closed,
    )
    by_pt = place_minutes(access, city.plot_places, describe=False)["all_six"].to_numpy(bool)
    on_foot = place_minutes(walking, city.plot_places, describe=False)["all_six"].to_numpy(bool)
    residents = city.plots["residents"].to_numpy(float)
    result: dict = {
        "profile": profile,
        "period": sampled.label(),
        "closed_stops": int(closed.sum()) if closed is not None else 0,
    }
    for kind, names, codes in _area_codes(city):
        ok = codes >= 0
        count = len(names)

        def total(weights: np.ndarray, codes=codes, ok=ok, count=count) -> np.ndarray:
            return np.bincount(codes[ok], weights=weights[ok], minlength=count)

        people, pt, foot = total(residents), total(residents * by_pt), total(residents * on_foot)
        result[kind] = [
            {
                "name": name,
                "residents": int(round(people[k])),
                "share_all_six": round(float(foot[k] / people[k]), 4) if people[k] else None,
                "share_all_six_walk_pt": round(float(pt[k] / people[k]), 4) if people[k] else None,
            }
            for k, name in enumerate(names)
        ]
    result["city"] = result["city"][0]
    city._cache[key] = (tt, result)
    LOG.info("walk+PT for a profile", extra={"fields": {"profile": profile}})
    return result

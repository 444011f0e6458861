"""Mobility and safety indicators per district, beside the programme's targets.

Distances "within 300 m" and "within 50 m" are straight-line (a lane or camera is seen or
reached across the street); walks to police posts and gathering points are on the analysis
engine's walking network with its multi-source Dijkstra (`WalkingNetwork.nearest`), by day on
every walkable street and by night on lit streets only. Residents are the plots' residents,
counted where their plot meets the network (as in the 15-minute analysis).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from scipy.spatial import cKDTree

from twin.analysis.city import CityModel
from twin.analysis.fifteen import (
    category_pass,
    coverage,
    node_access,
    place_cost,
    place_minutes,
)
from twin.analysis.network import Snapped, WalkingNetwork
from twin.catalog import analysis_inputs, mobility_figure, programme
from twin.errors import InvalidParameter, TwinError
from twin.mobility.micromobility import cell_reach, reach_summary
from twin.sqlfiles import query

LANE_STATUSES = ("built", "planned_2025", "planned_2030")


class MobilityInputError(InvalidParameter):
    """A mobility question asked in a way the twin cannot answer (400)."""


# -- pure functions (arrays in metres), each checked on hand-built cases -------------------


def district_codes(names: np.ndarray, districts: list[str]) -> np.ndarray:
    """Position of each name in `districts`, -1 when it is none of them."""
    lookup = {name: i for i, name in enumerate(districts)}
    return np.array([lookup.get(n, -1) for n in names], dtype=np.int64)


def group_sum(values: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """Sum of values per group code 0..count-1 (code -1 ignored)."""
    keep = codes >= 0
    return np.bincount(codes[keep], weights=np.asarray(values, float)[keep], minlength=count)


def within_distance(
    x: np.ndarray, y: np.ndarray, features: np.ndarray, distance: float
) -> np.ndarray:
    """Which points lie within `distance` metres (straight line) of any feature."""
    near = np.zeros(len(x), dtype=bool)
    if len(features) == 0 or len(x) == 0:
        return near
    hit, _ = shapely.STRtree(features).query(
        shapely.points(x, y), predicate="dwithin", distance=distance
    )
    near[hit] = True
    return near


def points_in_districts(x: np.ndarray, y: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """District index of each point (-1 outside every district)."""
    codes = np.full(len(x), -1, dtype=np.int64)
    if len(x) and len(shapes):
        point, shape = shapely.STRtree(shapes).query(shapely.points(x, y), predicate="intersects")
        codes[point] = shape
    return codes


def line_length_by_district(lines: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Metres of each line inside each district: shape (len(lines), len(shapes)) summed over
    lines by the caller; lines crossing a boundary are split at it."""
    out = np.zeros((len(lines), len(shapes)))
    if len(lines) == 0 or len(shapes) == 0:
        return out
    line, shape = shapely.STRtree(shapes).query(lines, predicate="intersects")
    out[line, shape] = shapely.length(shapely.intersection(lines[line], shapes[shape]))
    return out


def lit_share(
    length_m: np.ndarray, lit: np.ndarray, codes: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street km, lit km and the lit share of street length per district (NaN without streets)."""
    total = group_sum(length_m, codes, count) / 1000
    lit_km = group_sum(np.where(lit, length_m, 0.0), codes, count) / 1000
    with np.errstate(invalid="ignore", divide="ignore"):
        return total, lit_km, np.where(total > 0, lit_km / total, np.nan)


def unlit_street_groups(
    names: np.ndarray, length_m: np.ndarray, lit: np.ndarray, district: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The unlit streets: per district and street name, the unlit length and segment count,
    longest first (unnamed segments are grouped as one "unnamed" street per district); with
    the group of each segment (-1 when lit), so the layer can draw each street."""
    frame = pd.DataFrame({"district": district, "name": names, "length_m": length_m})
    frame["name"] = frame["name"].fillna("unnamed")
    frame["district"] = frame["district"].fillna("outside the districts")
    unlit = frame[~np.asarray(lit, bool)]
    grouped = (
        unlit.groupby(["district", "name"])
        .agg(unlit_m=("length_m", "sum"), segments=("length_m", "size"))
        .reset_index()
    )
    grouped = grouped.sort_values(
        ["unlit_m", "district", "name"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)
    grouped["unlit_m"] = grouped["unlit_m"].astype(float).round(1)
    position = {key: i for i, key in enumerate(zip(grouped["district"], grouped["name"]))}
    group = np.full(len(frame), -1, dtype=np.int64)
    group[~np.asarray(lit, bool)] = [position[k] for k in zip(unlit["district"], unlit["name"])]
    return grouped, group


def unlit_streets(
    names: np.ndarray, length_m: np.ndarray, lit: np.ndarray, district: np.ndarray
) -> list[dict[str, Any]]:
    """The unlit streets listed (see `unlit_street_groups`)."""
    grouped, _ = unlit_street_groups(names, length_m, lit, district)
    return [
        {
            "district": r.district,
            "name": r.name,
            "unlit_m": float(r.unlit_m),
            "segments": int(r.segments),
        }
        for r in grouped.itertuples()
    ]


def cameras_by_district(
    codes: np.ndarray, integrated: np.ndarray, area_km2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cameras, integrated cameras, density per km2 and integrated share per district."""
    count = len(area_km2)
    total = group_sum(np.ones(len(codes)), codes, count)
    linked = group_sum(np.asarray(integrated, float), codes, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(area_km2 > 0, total / area_km2, np.nan)
        share = np.where(total > 0, linked / total, np.nan)
    return total, linked, density, share


def unwatched(
    site_x: np.ndarray,
    site_y: np.ndarray,
    camera_x: np.ndarray,
    camera_y: np.ndarray,
    radius_m: float = 50.0,
) -> np.ndarray:
    """Sites with no camera within `radius_m` metres."""
    return ~(nearest_camera_m(site_x, site_y, camera_x, camera_y) <= radius_m)


def nearest_camera_m(
    site_x: np.ndarray, site_y: np.ndarray, camera_x: np.ndarray, camera_y: np.ndarray
) -> np.ndarray:
    """Straight-line metres from each site to its nearest camera (inf without cameras)."""
    if len(camera_x) == 0 or len(site_x) == 0:
        return np.full(len(site_x), np.inf)
    distance, _ = cKDTree(np.column_stack([camera_x, camera_y])).query(
        np.column_stack([site_x, site_y])
    )
    return distance


def walk_minutes(
    network: WalkingNetwork,
    places: Snapped,
    source_x: np.ndarray,
    source_y: np.ndarray,
    *,
    mode: str = "slope",
    lit_only: bool = False,
    limit: float = 60.0,
) -> np.ndarray:
    """Minutes from each place to the nearest source over the walking network (one
    multi-source Dijkstra), inf when none within `limit`; `lit_only` walks lit streets only."""
    if len(source_x) == 0:
        return np.full(len(places), np.inf)
    sources = network.snap_segment_xy(np.asarray(source_x, float), np.asarray(source_y, float))
    cost, _ = category_pass(network, sources, mode, limit, lit_only)
    return place_cost(network, cost, None, places, sources, mode, lit_only)[0]


def residents_beyond(
    minutes: np.ndarray, residents: np.ndarray, codes: np.ndarray, count: int, limit_minutes: float
) -> tuple[np.ndarray, np.ndarray]:
    """Residents per district and those of them farther than `limit_minutes` away (minutes
    compared as published, to the hundredth)."""
    total = group_sum(residents, codes, count)
    beyond = group_sum(np.where(np.round(minutes, 2) > limit_minutes, residents, 0), codes, count)
    return total, beyond


# -- the document -------------------------------------------------------------------------


def _share(part: float, whole: float) -> float | None:
    return round(float(part) / float(whole), 4) if whole > 0 else None


def _round(value: float, digits: int = 2) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _rows(conn: psycopg.Connection, name: str, **identifiers: str) -> list[tuple]:
    return conn.execute(query(f"mobility/{name}", **identifiers)).fetchall()


def _points(rows: list[tuple], first: int = 1) -> np.ndarray:
    """(n, 2) UTM coordinates from the columns of rows starting at `first`."""
    return np.array([r[first : first + 2] for r in rows], float).reshape(-1, 2)


# -- the programme's figures (layers/_targets.yml) -------------------------------------------


def input_layers() -> tuple[str, ...]:
    """Every layer (and the terrain) the indicators read: `feeds: [mobility]` in the catalog."""
    return analysis_inputs("mobility")


def targets() -> dict[str, Any]:
    """The programme's figures as the document's `targets`: {figure: value}."""
    return {name: f.value for name, f in programme().mobility.items() if f.served}


def row_targets() -> dict[str, Any]:
    """The figures each district's row (and feature) carries, so a planner reads every figure
    beside the number it is measured against."""
    return {f.row: f.value for f in programme().mobility.values() if f.row}


# -- the computation, in steps: each reads its layers and gives per-district columns and
#    the city's members ------------------------------------------------------------------------


@dataclass
class Districts:
    """The districts and the residents counted in them (where their plot meets the network)."""

    names: list[str]
    shapes: np.ndarray
    area_km2: np.ndarray
    residents: np.ndarray  # per plot
    codes: np.ndarray  # district of each plot (-1: none)
    people: np.ndarray  # residents per district

    @property
    def count(self) -> int:
        return len(self.names)

    def name_of(self, codes: np.ndarray) -> np.ndarray:
        """District name of each code (None for -1)."""
        return np.where(codes >= 0, np.array(self.names + [None], dtype=object)[codes], None)


@dataclass
class Section:
    """One step's result: columns per district (in row order), the city's members, and what
    the published layers draw."""

    rows: dict[str, list[Any]]
    city: dict[str, Any]
    features: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def districts_of(conn: psycopg.Connection, city: CityModel) -> Districts:
    rows = _rows(conn, "district_areas")
    if not rows:
        raise TwinError("no districts loaded: load the demo (`twin load demo`) or import districts")
    names = [r[0] for r in rows]
    shapes = shapely.from_wkb([r[2] for r in rows])
    residents = city.plots["residents"].to_numpy(float)
    codes = district_codes(city.plots["district"].to_numpy(), names)
    return Districts(
        names=names,
        shapes=shapes,
        area_km2=shapely.area(shapes) / 1e6,
        residents=residents,
        codes=codes,
        people=group_sum(residents, codes, len(names)),
    )


def base_section(d: Districts) -> Section:
    return Section(
        rows={
            "residents": [int(v) for v in d.people],
            "area_km2": [_round(v, 2) for v in d.area_km2],
        },
        city={"residents": int(d.people.sum()), "area_km2": _round(float(d.area_km2.sum()))},
    )


def micromobility(conn: psycopg.Connection, city: CityModel, d: Districts) -> Section:
    """Residents within the bike catchment of a built lane or a bike-share station; lane km
    built and planned per district (split at district boundaries) and for the city."""
    n, places = d.count, city.plot_places
    lanes = _rows(conn, "lane_lines")
    status = np.array([r[0] for r in lanes], dtype=object)
    geoms = shapely.from_wkb([r[1] for r in lanes]) if lanes else np.array([], dtype=object)
    per_district = line_length_by_district(geoms, d.shapes)
    lane_km = {s: per_district[status == s].sum(axis=0) / 1000 for s in LANE_STATUSES}
    total = {s: float(shapely.length(geoms[status == s]).sum() / 1000) for s in LANE_STATUSES}
    stations = _rows(conn, "layer_points", table="bikeshare_stations")
    station_xy = _points(stations)
    near = within_distance(
        places.x,
        places.y,
        np.concatenate([geoms[status == "built"], shapely.points(station_xy)]),
        mobility_figure("bike_catchment_m"),
    )
    station_count = group_sum(
        np.ones(len(station_xy)),
        points_in_districts(station_xy[:, 0], station_xy[:, 1], d.shapes),
        n,
    )
    near_total = group_sum(np.where(near, d.residents, 0), d.codes, n)
    people = float(d.people.sum())
    return Section(
        rows={
            "residents_near_bike": [int(v) for v in near_total],
            "share_near_bike": [_share(near_total[k], d.people[k]) for k in range(n)],
            "bikeshare_stations": [int(v) for v in station_count],
            **{f"lane_km_{s}": [_round(v) for v in lane_km[s]] for s in LANE_STATUSES},
        },
        city={
            "residents_near_bike": int(near_total.sum()),
            "share_near_bike": _share(near_total.sum(), people),
            **{f"lane_km_{s}": _round(total[s]) for s in LANE_STATUSES},
            "lane_km_2025": _round(total["built"] + total["planned_2025"]),
            "lane_km_2030": _round(sum(total.values())),
            "bikeshare_stations": len(stations),
        },
    )


def lighting(conn: psycopg.Connection, d: Districts) -> Section:
    """Street km, lit km and the lit share per district, and the unlit streets (each street
    name and district with its unlit metres, longest first)."""
    streets = _rows(conn, "street_lighting")
    ids = np.array([r[0] for r in streets], dtype=np.int64)
    names = np.array([r[1] for r in streets], dtype=object)
    lit = np.array([r[3] for r in streets], dtype=bool)
    length = np.array([r[4] for r in streets], float)
    codes = points_in_districts(
        np.array([r[5] for r in streets], float), np.array([r[6] for r in streets], float), d.shapes
    )
    street_km, lit_km, ratio = lit_share(length, lit, codes, d.count)
    groups, group = unlit_street_groups(names, length, lit, d.name_of(codes))
    unlit = [
        {
            "district": r.district,
            "name": r.name,
            "unlit_m": float(r.unlit_m),
            "segments": int(r.segments),
        }
        for r in groups.itertuples()
    ]
    return Section(
        rows={
            "street_km": [_round(v) for v in street_km],
            "lit_km": [_round(v) for v in lit_km],
            "share_lit": [_round(v, 4) for v in ratio],
            "unlit_streets": [sum(1 for u in unlit if u["district"] == name) for name in d.names],
        },
        city={
            "street_km": _round(street_km.sum()),
            "lit_km": _round(lit_km.sum()),
            "share_lit": _share(lit_km.sum(), street_km.sum()),
            "unlit_streets": len(unlit),
        },
        features={"street_id": ids, "street_group": group, "unlit_groups": groups},
        lists={"unlit_streets": unlit},
    )


def cameras(conn: psycopg.Connection, d: Districts) -> Section:
    """Cameras, their density and integrated share per district, and the watched sites
    (schools, clinics, metro/BRT stations) without a camera within the watch radius."""
    n = d.count
    cams = _rows(conn, "camera_points")
    integrated = np.array([r[0] for r in cams], dtype=bool)
    cam_xy = _points(cams)
    total, linked, density, share = cameras_by_district(
        points_in_districts(cam_xy[:, 0], cam_xy[:, 1], d.shapes), integrated, d.area_km2
    )
    sites = _rows(conn, "watched_sites")
    site_xy = _points(sites, 4)
    near = nearest_camera_m(site_xy[:, 0], site_xy[:, 1], cam_xy[:, 0], cam_xy[:, 1])
    unwatched_ = ~(near <= mobility_figure("camera_watch_radius_m"))
    codes = points_in_districts(site_xy[:, 0], site_xy[:, 1], d.shapes)
    open_sites = [
        {
            "layer": r[0],
            "id": int(r[1]),
            "kind": r[2],
            "name": r[3],
            "district": d.names[c] if c >= 0 else None,
            "nearest_camera_m": _round(m, 1),
        }
        for r, c, o, m in zip(sites, codes, unwatched_, near)
        if o
    ]
    open_count = group_sum(unwatched_.astype(float), codes, n)
    site_count = group_sum(np.ones(len(sites)), codes, n)
    area = float(d.area_km2.sum())
    return Section(
        rows={
            "cameras": [int(v) for v in total],
            "cameras_integrated": [int(v) for v in linked],
            "camera_density_km2": [_round(v) for v in density],
            "camera_integrated_share": [_round(v, 4) for v in share],
            "watched_sites": [int(v) for v in site_count],
            "sites_without_camera": [int(v) for v in open_count],
        },
        city={
            "cameras": int(len(cams)),
            "cameras_integrated": int(integrated.sum()),
            "camera_density_km2": _round(len(cams) / area) if area else None,
            "camera_integrated_share": _share(integrated.sum(), len(cams)),
            "watched_sites": len(sites),
            "sites_without_camera": len(open_sites),
        },
        features={
            "sites": sites,
            "site_xy": site_xy,
            "site_near": near,
            "site_open": unwatched_,
            "site_district": d.name_of(codes),
        },
        lists={"sites_without_camera": open_sites},
    )


def _beyond(minutes: np.ndarray, d: Districts, limit: float) -> np.ndarray:
    _, beyond = residents_beyond(minutes, d.residents, d.codes, d.count, limit)
    return beyond


def police(conn: psycopg.Connection, city: CityModel, d: Districts, mode: str) -> Section:
    """Service centres and posts per district, and the residents farther than the police walk
    from any of them, by day and at night (lit streets only)."""
    n, places, network = d.count, city.plot_places, city.network
    posts = _rows(conn, "police_points")
    xy = _points(posts)
    codes = points_in_districts(xy[:, 0], xy[:, 1], d.shapes)
    kind = np.array([r[0] for r in posts], dtype=object)
    limit = mobility_figure("police_walk_minutes")
    day, night = (
        _beyond(
            walk_minutes(
                network,
                places.at,
                xy[:, 0],
                xy[:, 1],
                mode=mode,
                lit_only=lit,
                limit=limit + 1,
            ),
            d,
            limit,
        )
        for lit in (False, True)
    )
    people = float(d.people.sum())
    return Section(
        rows={
            "service_centres": [
                int(v) for v in group_sum((kind == "service_centre").astype(float), codes, n)
            ],
            "police_posts": [int(v) for v in group_sum((kind == "post").astype(float), codes, n)],
            "residents_beyond_police_15": [int(v) for v in day],
            "share_beyond_police_15": [_share(day[k], d.people[k]) for k in range(n)],
            "residents_beyond_police_15_night": [int(v) for v in night],
            "share_beyond_police_15_night": [_share(night[k], d.people[k]) for k in range(n)],
        },
        city={
            "service_centres": sum(1 for r in posts if r[0] == "service_centre"),
            "police_posts": sum(1 for r in posts if r[0] == "post"),
            "residents_beyond_police_15": int(day.sum()),
            "share_beyond_police_15": _share(day.sum(), people),
            "residents_beyond_police_15_night": int(night.sum()),
            "share_beyond_police_15_night": _share(night.sum(), people),
        },
    )


def gathering(conn: psycopg.Connection, city: CityModel, d: Districts, mode: str) -> Section:
    """Safe gathering points per district and the residents farther than the gathering walk."""
    n, places = d.count, city.plot_places
    points = _rows(conn, "layer_points", table="gathering_points")
    xy = _points(points)
    limit = mobility_figure("gathering_walk_minutes")
    beyond = _beyond(
        walk_minutes(city.network, places.at, xy[:, 0], xy[:, 1], mode=mode, limit=limit + 1),
        d,
        limit,
    )
    return Section(
        rows={
            "gathering_points": [
                int(v)
                for v in group_sum(
                    np.ones(len(xy)), points_in_districts(xy[:, 0], xy[:, 1], d.shapes), n
                )
            ],
            "residents_beyond_gathering_10": [int(v) for v in beyond],
            "share_beyond_gathering_10": [_share(beyond[k], d.people[k]) for k in range(n)],
        },
        city={
            "gathering_points": len(points),
            "residents_beyond_gathering_10": int(beyond.sum()),
            "share_beyond_gathering_10": _share(beyond.sum(), float(d.people.sum())),
        },
    )


def early_warning(conn: psycopg.Connection, d: Districts) -> Section:
    """Early-warning stations per district, and those of them existing (the rest planned)."""
    stations = _rows(conn, "eew_points")
    xy = _points(stations)
    codes = points_in_districts(xy[:, 0], xy[:, 1], d.shapes)
    existing = np.array([r[0] == "existing" for r in stations], dtype=bool)
    return Section(
        rows={
            "eew_stations": [int(v) for v in group_sum(np.ones(len(stations)), codes, d.count)],
            "eew_stations_existing": [
                int(v) for v in group_sum(existing.astype(float), codes, d.count)
            ],
        },
        city={"eew_stations": len(stations), "eew_stations_existing": int(existing.sum())},
    )


def fifteen_day_night(city: CityModel, d: Districts, mode: str) -> Section:
    """The share of residents with all six 15-minute categories by day and at night (walking
    lit streets only), per district and for the city."""
    everyone = (np.zeros(len(d.codes), np.int64), 1)
    day, night = (
        coverage(
            place_minutes(node_access(city, mode, lit_only=lit), city.plot_places, False),
            d.residents,
            [(d.codes, d.count), everyone],
        )
        for lit in (False, True)
    )
    return Section(
        rows={
            "share_all_six_day": [day[0][k]["share_all_six"] for k in range(d.count)],
            "share_all_six_night": [night[0][k]["share_all_six"] for k in range(d.count)],
        },
        city={
            "share_all_six_day": day[1][0]["share_all_six"],
            "share_all_six_night": night[1][0]["share_all_six"],
        },
    )


# The order of the members on each district's row and on the city's row.
ROW_ORDER = (
    "base",
    "micromobility",
    "lighting",
    "cameras",
    "police",
    "gathering",
    "early_warning",
    "fifteen",
)
CITY_ORDER = (
    "base",
    "micromobility",
    "lighting",
    "cameras",
    "police",
    "early_warning",
    "gathering",
    "fifteen",
)


def compute(conn: psycopg.Connection, city: CityModel, mode: str = "slope") -> dict[str, Any]:
    """Every mobility and safety indicator per district and for the city."""
    return compute_with_features(conn, city, mode)[0]


def compute_with_features(
    conn: psycopg.Connection, city: CityModel, mode: str = "slope"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The indicators document and what the published layers draw from it: each street's
    unlit-street group and the watched sites with their nearest camera. Each step is timed
    (`computed.section_s`, for `twin bench mobility`)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    d = districts_of(conn, city)
    sections = {"base": base_section(d), "micromobility": micromobility(conn, city, d)}
    lap("micromobility")
    sections["lighting"] = lighting(conn, d)
    lap("lighting")
    sections["cameras"] = cameras(conn, d)
    lap("cameras")
    sections["police"] = police(conn, city, d, mode)
    sections["gathering"] = gathering(conn, city, d, mode)
    lap("walks")
    sections["fifteen"] = fifteen_day_night(city, d, mode)
    lap("fifteen_day_night")
    sections["early_warning"] = early_warning(conn, d)
    document, features = _document(d, sections, mode, city, timings)
    # bike and scooter reach per cell (twin/mobility/micromobility.py): the cells' layer and
    # the medians, with the bike-lane plans compared
    cells, reach = cell_reach(conn, city)
    lanes = sections["micromobility"].city
    document["micromobility"] = reach_summary(
        cells,
        d.names,
        {p: lanes[f"lane_km_{s}"] for p, s in (("today", "built"), ("2025", 2025), ("2030", 2030))},
        reach,
    )
    features["micromobility_cells"] = cells
    lap("micromobility_reach")
    return document, features


def _document(
    d: Districts,
    sections: dict[str, Section],
    mode: str,
    city: CityModel,
    timings: dict[str, float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The steps' results as the document (rows per district with their targets, the city's
    row, the lists) and the features the published layers draw."""
    figures = row_targets()
    rows = [
        {
            "district": name,
            **{key: values[k] for part in ROW_ORDER for key, values in sections[part].rows.items()},
            **figures,
        }
        for k, name in enumerate(d.names)
    ]
    network = city.network
    document = {
        "city": {key: value for part in CITY_ORDER for key, value in sections[part].city.items()},
        "districts": rows,
        "targets": targets(),
        "unlit_streets": sections["lighting"].lists["unlit_streets"],
        "sites_without_camera": sections["cameras"].lists["sites_without_camera"],
        "computed": {
            "mode": mode if network.slope_aware else "flat",
            "slope_aware": bool(network.slope_aware and mode == "slope"),
            "residents_counted_at": "plots",
            "night": "lit streets only",
            "lit": "derived from the lighting network (twin/mobility/lighting.py)",
            "section_s": timings,
        },
    }
    return document, {**sections["lighting"].features, **sections["cameras"].features}

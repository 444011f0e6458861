"""Mobility and safety indicators per district, beside the programme's targets.

Distances "within 300 m" and "within 50 m" are straight-line (a lane or camera is seen or
reached across the street); walks to police posts and gathering points are on the analysis
engine's walking network with its multi-source Dijkstra (`WalkingNetwork.nearest`), by day on
every walkable street and by night on lit streets only. Residents are the plots' residents,
counted where their plot meets the network (as in the 15-minute analysis).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from scipy.spatial import cKDTree

from twin.analysis.city import CityModel, current_city
from twin.analysis.fifteen import coverage, node_access, place_minutes
from twin.analysis.network import WalkingNetwork, data_versions
from twin.errors import TwinError
from twin.sqlfiles import query

TARGETS: dict[str, Any] = {
    "bike_catchment_m": 300,
    "bike_lane_km_built_2022": 79.2, "bike_lane_km_added_2025": 60.0,
    "bike_lane_km_added_2030": 125.0,
    "lit_share_2025": 1.0, "unlit_share_baseline": 0.20,
    "camera_density_km2_baseline": 14.6, "camera_density_km2_2025": 50.0,
    "camera_density_km2_2030": 100.0, "camera_integrated_share_baseline": 0.239,
    "camera_watch_radius_m": 50,
    "service_centres_2024": 8, "police_posts_2026": 30, "police_walk_minutes": 15,
    "eew_stations_existing": 9, "eew_stations_2025": 28, "gathering_walk_minutes": 10,
}
LAYERS = ("bike_lanes", "bikeshare_stations", "scooter_parking", "scooter_zones", "cameras",
          "police_posts", "early_warning_stations", "gathering_points", "streets", "terrain",
          "districts", "plots", "amenities", "transit_stops", "parks", "buildings")
LANE_STATUSES = ("built", "planned_2025", "planned_2030")


class MobilityInputError(TwinError):
    status = 400


# -- pure functions (arrays in metres), each checked on hand-built cases -------------------

def district_codes(names: np.ndarray, districts: list[str]) -> np.ndarray:
    """Position of each name in `districts`, -1 when it is none of them."""
    lookup = {name: i for i, name in enumerate(districts)}
    return np.array([lookup.get(n, -1) for n in names], dtype=np.int64)


def group_sum(values: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """Sum of values per group code 0..count-1 (code -1 ignored)."""
    keep = codes >= 0
    return np.bincount(codes[keep], weights=np.asarray(values, float)[keep], minlength=count)


def within_distance(x: np.ndarray, y: np.ndarray, features: np.ndarray,
                    distance: float) -> np.ndarray:
    """Which points lie within `distance` metres (straight line) of any feature."""
    near = np.zeros(len(x), dtype=bool)
    if len(features) == 0 or len(x) == 0:
        return near
    hit, _ = shapely.STRtree(features).query(shapely.points(x, y), predicate="dwithin",
                                             distance=distance)
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


def lit_share(length_m: np.ndarray, lit: np.ndarray, codes: np.ndarray,
              count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street km, lit km and the lit share of street length per district (NaN without streets)."""
    total = group_sum(length_m, codes, count) / 1000
    lit_km = group_sum(np.where(lit, length_m, 0.0), codes, count) / 1000
    with np.errstate(invalid="ignore", divide="ignore"):
        return total, lit_km, np.where(total > 0, lit_km / total, np.nan)


def unlit_street_groups(names: np.ndarray, length_m: np.ndarray, lit: np.ndarray,
                        district: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The unlit streets: per district and street name, the unlit length and segment count,
    longest first (unnamed segments are grouped as one "unnamed" street per district); with
    the group of each segment (-1 when lit), so the layer can draw each street."""
    frame = pd.DataFrame({"district": district, "name": names, "length_m": length_m})
    frame["name"] = frame["name"].fillna("unnamed")
    frame["district"] = frame["district"].fillna("outside the districts")
    unlit = frame[~np.asarray(lit, bool)]
    grouped = unlit.groupby(["district", "name"]).agg(unlit_m=("length_m", "sum"),
                                                      segments=("length_m", "size")).reset_index()
    grouped = grouped.sort_values(["unlit_m", "district", "name"], ascending=[False, True, True],
                                  kind="stable").reset_index(drop=True)
    grouped["unlit_m"] = grouped["unlit_m"].astype(float).round(1)
    position = {key: i for i, key in enumerate(zip(grouped["district"], grouped["name"]))}
    group = np.full(len(frame), -1, dtype=np.int64)
    group[~np.asarray(lit, bool)] = [position[k] for k in zip(unlit["district"], unlit["name"])]
    return grouped, group


def unlit_streets(names: np.ndarray, length_m: np.ndarray, lit: np.ndarray,
                  district: np.ndarray) -> list[dict[str, Any]]:
    """The unlit streets listed (see `unlit_street_groups`)."""
    grouped, _ = unlit_street_groups(names, length_m, lit, district)
    return [{"district": r.district, "name": r.name, "unlit_m": float(r.unlit_m),
             "segments": int(r.segments)} for r in grouped.itertuples()]


def cameras_by_district(codes: np.ndarray, integrated: np.ndarray, area_km2: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cameras, integrated cameras, density per km2 and integrated share per district."""
    count = len(area_km2)
    total = group_sum(np.ones(len(codes)), codes, count)
    linked = group_sum(np.asarray(integrated, float), codes, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(area_km2 > 0, total / area_km2, np.nan)
        share = np.where(total > 0, linked / total, np.nan)
    return total, linked, density, share


def unwatched(site_x: np.ndarray, site_y: np.ndarray, camera_x: np.ndarray,
              camera_y: np.ndarray, radius_m: float = 50.0) -> np.ndarray:
    """Sites with no camera within `radius_m` metres."""
    return ~(nearest_camera_m(site_x, site_y, camera_x, camera_y) <= radius_m)


def nearest_camera_m(site_x: np.ndarray, site_y: np.ndarray, camera_x: np.ndarray,
                     camera_y: np.ndarray) -> np.ndarray:
    """Straight-line metres from each site to its nearest camera (inf without cameras)."""
    if len(camera_x) == 0 or len(site_x) == 0:
        return np.full(len(site_x), np.inf)
    distance, _ = cKDTree(np.column_stack([camera_x, camera_y])).query(
        np.column_stack([site_x, site_y]))
    return distance


def walk_minutes(network: WalkingNetwork, place_node: np.ndarray, place_snap_m: np.ndarray,
                 source_x: np.ndarray, source_y: np.ndarray, *, mode: str = "slope",
                 lit_only: bool = False, limit: float = 60.0) -> np.ndarray:
    """Minutes from each place to the nearest source over the walking network (one
    multi-source Dijkstra), inf when none within `limit`; `lit_only` walks lit streets only."""
    if len(source_x) == 0:
        return np.full(len(place_node), np.inf)
    nodes, snap = network.snap_xy(np.asarray(source_x, float), np.asarray(source_y, float))
    cost, _ = network.nearest(nodes, network.snap_cost(snap, mode), mode=mode, limit=limit,
                              towards=True, lit_only=lit_only)
    return cost[place_node] + network.snap_cost(np.asarray(place_snap_m, float), mode)


def residents_beyond(minutes: np.ndarray, residents: np.ndarray, codes: np.ndarray,
                     count: int, limit_minutes: float) -> tuple[np.ndarray, np.ndarray]:
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


def _row_targets() -> dict[str, Any]:
    """The programme's targets and baselines carried on each district's row (and feature), so
    a planner reads every figure beside the number it is measured against."""
    t = TARGETS
    return {"bike_catchment_m": t["bike_catchment_m"],
            "city_lane_km_built_2022": t["bike_lane_km_built_2022"],
            "city_lane_km_added_2025_target": t["bike_lane_km_added_2025"],
            "city_lane_km_added_2030_target": t["bike_lane_km_added_2030"],
            "lit_share_target_2025": t["lit_share_2025"],
            "unlit_share_baseline": t["unlit_share_baseline"],
            "camera_density_baseline_km2": t["camera_density_km2_baseline"],
            "camera_density_target_2025": t["camera_density_km2_2025"],
            "camera_density_target_2030": t["camera_density_km2_2030"],
            "camera_integrated_share_baseline": t["camera_integrated_share_baseline"],
            "camera_watch_radius_m": t["camera_watch_radius_m"],
            "service_centres_target_2024": 1,   # "in all districts" (S2 l.4861)
            "city_police_posts_target_2026": t["police_posts_2026"],
            "police_walk_minutes": t["police_walk_minutes"],
            "gathering_walk_minutes": t["gathering_walk_minutes"],
            "city_eew_stations_existing": t["eew_stations_existing"],
            "city_eew_stations_target_2025": t["eew_stations_2025"]}


def compute(conn: psycopg.Connection, city: CityModel, mode: str = "slope") -> dict[str, Any]:
    """Every mobility and safety indicator per district and for the city."""
    return compute_with_features(conn, city, mode)[0]


def compute_with_features(conn: psycopg.Connection, city: CityModel, mode: str = "slope"
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The indicators document and what the published layers draw from it: each street's
    unlit-street group and the watched sites with their nearest camera."""
    clock = [time.perf_counter()]
    timings: dict[str, float] = {}

    def lap(name: str) -> None:   # seconds per section, for `twin bench mobility`
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 4)
        clock[0] = now

    district_rows = _rows(conn, "district_areas")
    if not district_rows:
        raise TwinError("no districts loaded: load the demo (`twin load demo`) or import districts")
    names = [r[0] for r in district_rows]
    shapes = shapely.from_wkb([r[2] for r in district_rows])
    area_km2 = shapely.area(shapes) / 1e6
    n = len(names)
    network = city.network
    residents = city.plots["residents"].to_numpy(float)
    places = city.plot_places
    codes = district_codes(city.plots["district"].to_numpy(), names)

    # micromobility
    lanes = _rows(conn, "lane_lines")
    lane_status = np.array([r[0] for r in lanes], dtype=object)
    lane_geoms = shapely.from_wkb([r[1] for r in lanes]) if lanes else np.array([], dtype=object)
    per_district = line_length_by_district(lane_geoms, shapes)
    lane_km = {s: per_district[lane_status == s].sum(axis=0) / 1000 for s in LANE_STATUSES}
    lane_total = {s: float(shapely.length(lane_geoms[lane_status == s]).sum() / 1000)
                  for s in LANE_STATUSES}
    stations = _rows(conn, "layer_points", table="bikeshare_stations")
    station_xy = np.array([r[1:] for r in stations], float).reshape(-1, 2)
    bike_features = np.concatenate([lane_geoms[lane_status == "built"],
                                    shapely.points(station_xy)])
    near_bike = within_distance(places.x, places.y, bike_features, TARGETS["bike_catchment_m"])
    station_count = group_sum(np.ones(len(station_xy)),
                              points_in_districts(station_xy[:, 0], station_xy[:, 1], shapes), n)
    near_total = group_sum(np.where(near_bike, residents, 0), codes, n)
    people = group_sum(residents, codes, n)

    lap("micromobility")

    # lighting
    streets = _rows(conn, "street_lighting")
    s_id = np.array([r[0] for r in streets], dtype=np.int64)
    s_name = np.array([r[1] for r in streets], dtype=object)
    s_lit = np.array([r[3] for r in streets], dtype=bool)
    s_len = np.array([r[4] for r in streets], float)
    s_codes = points_in_districts(np.array([r[5] for r in streets], float),
                                  np.array([r[6] for r in streets], float), shapes)
    street_km, lit_km, lit_ratio = lit_share(s_len, s_lit, s_codes, n)
    s_district = np.where(s_codes >= 0, np.array(names + [None], dtype=object)[s_codes], None)
    unlit_groups, s_group = unlit_street_groups(s_name, s_len, s_lit, s_district)
    unlit = [{"district": r.district, "name": r.name, "unlit_m": float(r.unlit_m),
              "segments": int(r.segments)} for r in unlit_groups.itertuples()]

    lap("lighting")

    # cameras
    cams = _rows(conn, "camera_points")
    cam_integrated = np.array([r[0] for r in cams], dtype=bool)
    cam_xy = np.array([r[1:] for r in cams], float).reshape(-1, 2)
    cam_codes = points_in_districts(cam_xy[:, 0], cam_xy[:, 1], shapes)
    cam_total, cam_linked, density, linked_share = cameras_by_district(cam_codes, cam_integrated,
                                                                       area_km2)
    sites = _rows(conn, "watched_sites")
    site_xy = np.array([r[4:] for r in sites], float).reshape(-1, 2)
    site_near = nearest_camera_m(site_xy[:, 0], site_xy[:, 1], cam_xy[:, 0], cam_xy[:, 1])
    site_open = ~(site_near <= TARGETS["camera_watch_radius_m"])
    site_codes = points_in_districts(site_xy[:, 0], site_xy[:, 1], shapes)
    open_sites = [{"layer": r[0], "id": int(r[1]), "kind": r[2], "name": r[3],
                   "district": names[c] if c >= 0 else None,
                   "nearest_camera_m": _round(d, 1)}
                  for r, c, o, d in zip(sites, site_codes, site_open, site_near) if o]
    open_count = group_sum(site_open.astype(float), site_codes, n)
    site_count = group_sum(np.ones(len(sites)), site_codes, n)

    lap("cameras")

    # police posts (day and night) and gathering points
    posts = _rows(conn, "police_points")
    post_xy = np.array([r[1:] for r in posts], float).reshape(-1, 2)
    post_codes = points_in_districts(post_xy[:, 0], post_xy[:, 1], shapes)
    post_kind = np.array([r[0] for r in posts], dtype=object)
    police_limit = TARGETS["police_walk_minutes"]
    police_day = walk_minutes(network, places.node, places.snap_m, post_xy[:, 0], post_xy[:, 1],
                              mode=mode, limit=police_limit + 1)
    police_night = walk_minutes(network, places.node, places.snap_m, post_xy[:, 0],
                                post_xy[:, 1], mode=mode, lit_only=True, limit=police_limit + 1)
    _, beyond_police = residents_beyond(police_day, residents, codes, n, police_limit)
    _, beyond_police_night = residents_beyond(police_night, residents, codes, n, police_limit)
    gathering = _rows(conn, "layer_points", table="gathering_points")
    gather_xy = np.array([r[1:] for r in gathering], float).reshape(-1, 2)
    gather_count = group_sum(np.ones(len(gather_xy)),
                             points_in_districts(gather_xy[:, 0], gather_xy[:, 1], shapes), n)
    gather_limit = TARGETS["gathering_walk_minutes"]
    gather_min = walk_minutes(network, places.node, places.snap_m, gather_xy[:, 0],
                              gather_xy[:, 1], mode=mode, limit=gather_limit + 1)
    _, beyond_gather = residents_beyond(gather_min, residents, codes, n, gather_limit)

    lap("walks")

    # the 15-minute city by day and by night (lit streets only)
    day, night = (coverage(place_minutes(node_access(city, mode, lit_only=lit), places, False),
                           residents, [(codes, n), (np.zeros(len(codes), np.int64), 1)])
                  for lit in (False, True))

    lap("fifteen_day_night")
    eew = _rows(conn, "eew_points")
    eew_xy = np.array([r[1:] for r in eew], float).reshape(-1, 2)
    eew_codes = points_in_districts(eew_xy[:, 0], eew_xy[:, 1], shapes)
    eew_existing = np.array([r[0] == "existing" for r in eew], dtype=bool)
    eew_count = group_sum(np.ones(len(eew)), eew_codes, n)
    eew_existing_count = group_sum(eew_existing.astype(float), eew_codes, n)
    centre_count = group_sum((post_kind == "service_centre").astype(float), post_codes, n)
    post_count = group_sum((post_kind == "post").astype(float), post_codes, n)
    targets = _row_targets()
    rows = []
    for k, name in enumerate(names):
        rows.append({
            "district": name, "residents": int(people[k]), "area_km2": _round(area_km2[k], 2),
            "residents_near_bike": int(near_total[k]),
            "share_near_bike": _share(near_total[k], people[k]),
            "bikeshare_stations": int(station_count[k]),
            "lane_km_built": _round(lane_km["built"][k]),
            "lane_km_planned_2025": _round(lane_km["planned_2025"][k]),
            "lane_km_planned_2030": _round(lane_km["planned_2030"][k]),
            "street_km": _round(street_km[k]), "lit_km": _round(lit_km[k]),
            "share_lit": _round(lit_ratio[k], 4),
            "unlit_streets": sum(1 for u in unlit if u["district"] == name),
            "cameras": int(cam_total[k]), "cameras_integrated": int(cam_linked[k]),
            "camera_density_km2": _round(density[k]),
            "camera_integrated_share": _round(linked_share[k], 4),
            "watched_sites": int(site_count[k]), "sites_without_camera": int(open_count[k]),
            "service_centres": int(centre_count[k]), "police_posts": int(post_count[k]),
            "residents_beyond_police_15": int(beyond_police[k]),
            "share_beyond_police_15": _share(beyond_police[k], people[k]),
            "residents_beyond_police_15_night": int(beyond_police_night[k]),
            "share_beyond_police_15_night": _share(beyond_police_night[k], people[k]),
            "gathering_points": int(gather_count[k]),
            "residents_beyond_gathering_10": int(beyond_gather[k]),
            "share_beyond_gathering_10": _share(beyond_gather[k], people[k]),
            "eew_stations": int(eew_count[k]), "eew_stations_existing": int(eew_existing_count[k]),
            "share_all_six_day": day[0][k]["share_all_six"],
            "share_all_six_night": night[0][k]["share_all_six"],
            **targets,
        })
    total_people = float(people.sum())
    total_area = float(area_km2.sum())
    city_row = {
        "residents": int(total_people), "area_km2": _round(total_area),
        "residents_near_bike": int(near_total.sum()),
        "share_near_bike": _share(near_total.sum(), total_people),
        "lane_km_built": _round(lane_total["built"]),
        "lane_km_planned_2025": _round(lane_total["planned_2025"]),
        "lane_km_planned_2030": _round(lane_total["planned_2030"]),
        "lane_km_2025": _round(lane_total["built"] + lane_total["planned_2025"]),
        "lane_km_2030": _round(sum(lane_total.values())),
        "bikeshare_stations": len(stations),
        "street_km": _round(street_km.sum()), "lit_km": _round(lit_km.sum()),
        "share_lit": _share(lit_km.sum(), street_km.sum()), "unlit_streets": len(unlit),
        "cameras": int(len(cams)), "cameras_integrated": int(cam_integrated.sum()),
        "camera_density_km2": _round(len(cams) / total_area) if total_area else None,
        "camera_integrated_share": _share(cam_integrated.sum(), len(cams)),
        "watched_sites": len(sites), "sites_without_camera": len(open_sites),
        "service_centres": sum(1 for r in posts if r[0] == "service_centre"),
        "police_posts": sum(1 for r in posts if r[0] == "post"),
        "residents_beyond_police_15": int(beyond_police.sum()),
        "share_beyond_police_15": _share(beyond_police.sum(), total_people),
        "residents_beyond_police_15_night": int(beyond_police_night.sum()),
        "share_beyond_police_15_night": _share(beyond_police_night.sum(), total_people),
        "eew_stations": len(eew), "eew_stations_existing": int(eew_existing.sum()),
        "gathering_points": len(gathering),
        "residents_beyond_gathering_10": int(beyond_gather.sum()),
        "share_beyond_gathering_10": _share(beyond_gather.sum(), total_people),
        "share_all_six_day": day[1][0]["share_all_six"],
        "share_all_six_night": night[1][0]["share_all_six"],
    }
    document = {"city": city_row, "districts": rows, "targets": TARGETS,
                "unlit_streets": unlit, "sites_without_camera": open_sites,
                "computed": {"mode": mode if network.slope_aware else "flat",
                             "slope_aware": bool(network.slope_aware and mode == "slope"),
                             "residents_counted_at": "plots", "night": "lit streets only",
                             "lit": "derived from the lighting network (twin/mobility/lighting.py)",
                             "section_s": timings}}
    features = {"street_id": s_id, "street_group": s_group, "unlit_groups": unlit_groups,
                "sites": sites, "site_xy": site_xy, "site_near": site_near,
                "site_open": site_open, "site_district": np.where(
                    site_codes >= 0, np.array(names + [None], dtype=object)[site_codes], None)}
    return document, features


_cache: dict[tuple, dict[str, Any]] = {}
_lock = threading.Lock()


def mobility_safety_document(conn: psycopg.Connection) -> dict[str, Any]:
    """The indicators as `twin analyse` published them (twin/mobility/publish.py) while their
    inputs are current; computed afresh (cached per process) when a layer changed since."""
    from twin.mobility.publish import published_document

    versions = data_versions(conn, LAYERS + ("district_mobility_safety",))
    version = versions[:-1]
    with _lock:
        if versions in _cache:     # a new publication is a new key too
            return _cache[versions]
    document = published_document(conn, version)
    if document is None:
        document = compute(conn, current_city(conn))
        document["computed"]["inputs"] = dict(zip(LAYERS, version))
        document["computed"]["published"] = False
    with _lock:
        _cache.clear()
        _cache[versions] = document
    return document


def mobility_safety_member(conn: psycopg.Connection) -> dict[str, Any]:
    """The city's mobility and safety figures for `GET /indicators` ("mobility_safety"), with
    the link to the per-district document; a twin without these layers says why instead."""
    try:
        document = mobility_safety_document(conn)
    except TwinError as exc:
        return {"available": False, "reason": str(exc), "href": "indicators/mobility-safety"}
    return {"available": True, "city": document["city"], "targets": document["targets"],
            "href": "indicators/mobility-safety"}


def summary_line(conn: psycopg.Connection) -> str:
    """One line of the city's mobility and safety figures for `twin analyse`."""
    member = mobility_safety_member(conn)
    if not member["available"]:
        return f"mobility and safety: {member['reason']}"
    c = member["city"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    return (f"mobility and safety: {c['lane_km_built']} km of bike lanes built "
            f"(+{c['lane_km_planned_2025']} km 2025, +{c['lane_km_planned_2030']} km 2030), "
            f"{pct(c['share_lit'])} of street length lit (target 100%), "
            f"{c['camera_density_km2']} cameras/km2 (targets 50, 100; "
            f"{pct(c['camera_integrated_share'])} integrated), "
            f"{pct(c['share_beyond_police_15'])} of residents >15 min from a police post "
            f"({pct(c['share_beyond_police_15_night'])} at night), "
            f"{pct(c['share_beyond_gathering_10'])} >10 min from a gathering point; "
            f"GET /indicators/mobility-safety")

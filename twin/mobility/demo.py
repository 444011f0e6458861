"""Mobility and safety layers of the demo city, calibrated to the programme's figures.

Built on the demo city's own streets, stops, amenities, parks and plots (in metres), so lanes run
along streets, cameras watch schools and stops, and posts sit where people live. What the
documents give is exact (79.2 km of built lanes, +60 km and +125 km planned, 187 bike-share
stations, 15 key scooter sections, 8 service centres and 30 posts, 9 + 19 early-warning
stations, 23.9% of cameras integrated); what they do not give is a documented choice (see
MOBILITY_FIGURES and docs/mobility-safety.md).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from shapely import ops

from twin.demo.figures import apportion
from twin.demo.geo import METRIC_CRS, stream
from twin.progress import progress
from twin.store import Provenance, write_layer

MOBILITY_FIGURES: dict[str, Any] = {
    # S2 l.1047-1057, l.1143, l.1155: built 79.2 km; +60 km by 2025; +125 km by 2030
    "bike_lane_km": {"built": 79.2, "planned_2025": 60.0, "planned_2030": 125.0},
    "bikeshare_stations": 187,  # «Almaty Bike», S2
    "bikeshare_bikes": 1000,  # S2: 1 thousand bikes (docks below sum to it)
    "scooters": 15000,  # S2/S0: 15 thousand e-scooters
    "scooters_per_parking": 25,  # our choice: no figure for parking spots -> 600 spots
    "key_sections": 15,  # S1: 15 key network sections under monitoring
    "planned_duty_zones": 10,  # our choice: S1 says "more duty zones planned"
    # S2 l.4690: 14.6 cameras/km2 today; Annex 8: 23.9% of cameras integrated. The 128.2 k
    # total (188/km2 over 682 km2) contradicts the 14.6/km2 density; the demo maps the
    # density figure (public-space cameras) and the integration share, see docs/mobility-safety.md.
    "camera_density_km2": 14.6,
    "camera_integrated_share": 0.239,
    "service_centres": 8,  # S2 l.4861 (by 2024)
    "police_posts": 30,  # S2 l.4865 (by 2026)
    "eew_existing": 9,  # S2 l.5069 pilot
    "eew_total_2025": 28,  # S2 l.5141
    "gathering_min_park_ha": 1.0,  # our choice: parks of 1 ha or more, plus school yards
    "gathering_m2_per_person": 2.0,  # our choice: 2 m2 per person
    "school_yard_capacity": 800,  # our choice
}
LAYERS = (
    "bike_lanes",
    "bikeshare_stations",
    "scooter_parking",
    "scooter_zones",
    "cameras",
    "police_posts",
    "early_warning_stations",
    "gathering_points",
)
LANE_CLASSES = ("arterial", "primary", "secondary", "pedestrian")


def _frame(columns: dict[str, Any], geometry: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=np.asarray(geometry, dtype=object), crs=METRIC_CRS)


def _core(layers: dict[str, gpd.GeoDataFrame]) -> shapely.Point:
    centres = layers["polycentres"]
    historic = centres[centres.name == "Historic Centre"]
    shape = (
        historic.geometry.iloc[0]
        if len(historic)
        else shapely.union_all(layers["districts"].geometry.values)
    )
    return shape.centroid


def district_names_at(points: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    """The district each point lies in (nearest district when on no district)."""
    tree = shapely.STRtree(districts.geometry.values)
    return districts.name_en.to_numpy()[tree.nearest(points)]


def bike_lanes(
    streets: gpd.GeoDataFrame, core: shapely.Point, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Main streets nearest the centre first: built lanes until 79.2 km, then the 2025 and 2030
    plans outward; the last segment of each status is cut so the totals are exact."""
    quota = MOBILITY_FIGURES["bike_lane_km"]
    main = streets[streets.highway.isin(LANE_CLASSES)]
    rest = streets[streets.highway == "tertiary"]
    order = []
    for frame in (main, rest):
        distance = shapely.distance(frame.geometry.values, core) * rng.uniform(0.9, 1.1, len(frame))
        order.append(frame.iloc[np.argsort(distance, kind="stable")])
    candidates = pd.concat(order)
    geoms = candidates.geometry.values
    length = shapely.length(geoms)
    cumulative = np.cumsum(length)
    rows, start = [], 0.0
    for status, km in quota.items():
        end = start + km * 1000
        first = int(np.searchsorted(cumulative, start, side="right"))
        last = int(np.searchsorted(cumulative, end, side="left"))
        for i in range(first, min(last, len(geoms) - 1) + 1):
            before = cumulative[i] - length[i]
            lo, hi = max(start - before, 0.0), min(end - before, length[i])
            if hi - lo < 1e-6:
                continue
            piece = geoms[i] if lo <= 0 and hi >= length[i] else ops.substring(geoms[i], lo, hi)
            rows.append((status, candidates.name.iloc[i], candidates.highway.iloc[i], piece))
        start = end
    frame = pd.DataFrame(rows, columns=["status", "name", "highway", "geometry"])
    merged = []
    for (status, name), group in frame.groupby(["status", frame.name.fillna("")], sort=False):
        lines = (
            shapely.line_merge(shapely.union_all(group.geometry.values))
            if len(group) > 1
            else group.geometry.iloc[0]
        )
        kind = "path" if (group.highway == "pedestrian").all() else "lane"
        for part in shapely.get_parts(lines):
            merged.append((status, name or None, kind, part))
    lanes = pd.DataFrame(merged, columns=["status", "name", "kind", "geometry"])
    lanes["length_m"] = np.round(shapely.length(lanes.geometry.values), 2)
    return _frame(lanes.drop(columns="geometry").to_dict("list"), lanes.geometry.values)


def bikeshare_stations(lanes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """187 stations evenly along the built lanes (the network is where the bikes are)."""
    count = MOBILITY_FIGURES["bikeshare_stations"]
    built = lanes[lanes.status == "built"].geometry.values
    length = shapely.length(built)
    cumulative = np.cumsum(length)
    at = (np.arange(count) + 0.5) * cumulative[-1] / count
    which = np.searchsorted(cumulative, at)
    offset = at - (cumulative[which] - length[which])
    points = shapely.line_interpolate_point(built[which], offset)
    docks = apportion(MOBILITY_FIGURES["bikeshare_bikes"], np.ones(count))
    return _frame(
        {"name": [f"Almaty Bike {i + 1:03d}" for i in range(count)], "docks": docks}, points
    )


def _centre_weighted(
    points: np.ndarray, core: shapely.Point, count: int, scale_m: float, rng: np.random.Generator
) -> np.ndarray:
    """`count` distinct indices into points, favouring the centre (trips are up to 5 km)."""
    weight = np.exp(-shapely.distance(points, core) / scale_m)
    return rng.choice(
        len(points), size=min(count, len(points)), replace=False, p=weight / weight.sum()
    )


def scooter_layers(
    stops: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    lanes: gpd.GeoDataFrame,
    core: shapely.Point,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Parking spots at stops and shops near the centre; the 15 key sections are the lanes
    around the busiest hubs (metro and BRT nearest the centre), planned duty zones next."""
    spots = MOBILITY_FIGURES["scooters"] // MOBILITY_FIGURES["scooters_per_parking"]
    shops = amenities[amenities.category.isin(["commerce", "culture_sport"])]
    places = np.concatenate([stops.geometry.values, shops.geometry.values])
    chosen = _centre_weighted(places, core, spots, 4000.0, rng)
    angle = rng.uniform(0, 2 * np.pi, len(chosen))
    points = shapely.points(
        shapely.get_x(places[chosen]) + 12 * np.cos(angle),
        shapely.get_y(places[chosen]) + 12 * np.sin(angle),
    )
    capacity = apportion(MOBILITY_FIGURES["scooters"], rng.uniform(0.5, 1.5, len(chosen)))
    parking = _frame(
        {
            "name": [f"Scooter parking {i + 1:03d}" for i in range(len(chosen))],
            "capacity": capacity,
        },
        points,
    )

    hubs = stops[stops["mode"].isin(["metro", "brt"])]
    hubs = hubs.iloc[np.argsort(shapely.distance(hubs.geometry.values, core), kind="stable")]
    hub_points = list(hubs.geometry.values)
    if len(hub_points) < MOBILITY_FIGURES["key_sections"] + MOBILITY_FIGURES["planned_duty_zones"]:
        others = stops.iloc[np.argsort(shapely.distance(stops.geometry.values, core))]
        hub_points += list(others.geometry.values)
    # distinct hubs at least 400 m apart
    picked: list[shapely.Point] = []
    for point in hub_points:
        if all(point.distance(p) >= 400 for p in picked):
            picked.append(point)
        if len(picked) == MOBILITY_FIGURES["key_sections"] + MOBILITY_FIGURES["planned_duty_zones"]:
            break
    lane_union = shapely.union_all(lanes.geometry.values)
    zones, names, kinds, statuses = [], [], [], []
    for i, point in enumerate(picked):
        stretch = shapely.intersection(lane_union, point.buffer(300))
        zone = (
            shapely.union(stretch.buffer(40), point.buffer(80))
            if not stretch.is_empty
            else point.buffer(150)
        )
        zone = max(shapely.get_parts(zone), key=lambda g: g.area)
        key = i < MOBILITY_FIGURES["key_sections"]
        zones.append(zone)
        kinds.append("key_section" if key else "duty_zone")
        statuses.append("monitored" if key else "planned")
        names.append(
            f"Key section {i + 1}"
            if key
            else f"Duty zone {i + 1 - MOBILITY_FIGURES['key_sections']}"
        )
    zone_frame = _frame({"name": names, "kind": kinds, "status": statuses}, zones)
    return parking, zone_frame


def cameras(
    districts: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    core: shapely.Point,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """14.6 cameras per km2 of the city; most social objects and hubs watched, the rest along
    streets (denser in the centre); 23.9% integrated, social objects and hubs first."""
    area_km2 = float(shapely.area(districts.geometry.values).sum() / 1e6)
    total = int(round(MOBILITY_FIGURES["camera_density_km2"] * area_km2))
    social = amenities[amenities.kind.isin(["school", "kindergarten", "clinic", "hospital"])]
    social = social.geometry.values[rng.random(len(social)) < 0.7]
    hubs = stops[stops["mode"].isin(["metro", "brt"])].geometry.values
    bus = stops[~stops["mode"].isin(["metro", "brt"])].geometry.values
    transit = np.concatenate([hubs[rng.random(len(hubs)) < 0.8], bus[rng.random(len(bus)) < 0.2]])
    sited = np.concatenate([social, transit])
    radius = rng.uniform(5, 45, len(sited))
    angle = rng.uniform(0, 2 * np.pi, len(sited))
    sited = shapely.points(
        shapely.get_x(sited) + radius * np.cos(angle), shapely.get_y(sited) + radius * np.sin(angle)
    )
    site = np.array(["social_object"] * len(social) + ["transit"] * len(transit), dtype=object)
    remaining = max(total - len(sited), 0)
    roads = streets[streets.highway.isin(["arterial", "primary"])]
    road_count = remaining // 10
    road_geoms = roads.geometry.values[rng.integers(0, len(roads), road_count)]
    road_points = shapely.line_interpolate_point(
        road_geoms, rng.random(road_count), normalized=True
    )
    street_count = remaining - road_count
    weight = np.exp(
        -shapely.distance(streets.geometry.values, core) / 6000.0
    ) * streets.length_m.to_numpy(float)
    chosen = rng.choice(len(streets), size=street_count, p=weight / weight.sum())
    street_points = shapely.line_interpolate_point(
        streets.geometry.values[chosen], rng.random(street_count), normalized=True
    )
    points = np.concatenate([sited, road_points, street_points])[:total]
    site = np.concatenate([site, ["road"] * road_count, ["street"] * street_count])[:total]
    integrated_count = int(round(MOBILITY_FIGURES["camera_integrated_share"] * len(points)))
    score = np.isin(site, ["social_object", "transit"]) * 0.6 + rng.random(len(points))
    integrated = np.zeros(len(points), dtype=bool)
    integrated[np.argsort(-score, kind="stable")[:integrated_count]] = True
    owner = np.where(
        integrated,
        np.where(site == "road", "municipal", "police"),
        np.where(site == "social_object", "municipal", "private"),
    )
    return _frame({"integrated": integrated, "owner": owner, "site": site}, points)


def _weighted_centres(
    points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator, rounds: int = 20
) -> np.ndarray:
    """k centres of weighted points (Lloyd's k-means, seeded by weighted draws)."""
    if k <= 0 or len(points) == 0:
        return np.zeros((0, 2))
    weights = np.asarray(weights, float) + 1e-9
    centres = points[
        rng.choice(len(points), size=min(k, len(points)), replace=False, p=weights / weights.sum())
    ]
    for _ in range(rounds):
        nearest = np.argmin(((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1), axis=1)
        for j in range(len(centres)):
            mask = nearest == j
            if mask.any():
                centres[j] = np.average(points[mask], axis=0, weights=weights[mask])
    return centres


def police_posts(
    districts: gpd.GeoDataFrame,
    plots: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """A service centre per district at its residents' centre; 30 posts shared out by
    population and placed where the district's residents live (walking-distance principle)."""
    tree = shapely.STRtree(streets.geometry.values)
    residents = plots["residents"].to_numpy(float) if "residents" in plots else np.ones(len(plots))
    centroid = shapely.centroid(plots.geometry.values)
    xy = shapely.get_coordinates(centroid)
    posts = apportion(MOBILITY_FIGURES["police_posts"], districts.population.to_numpy(float))
    rows = []
    for (_, district), count in zip(districts.iterrows(), posts):
        mask = (plots.district == district.name_en).to_numpy()
        if not mask.any() or residents[mask].sum() <= 0:
            centre = np.array([[district.geometry.centroid.x, district.geometry.centroid.y]])
            sites = centre if count == 0 else np.repeat(centre, count, 0)
        else:
            centre = np.average(xy[mask], axis=0, weights=residents[mask])[None, :]
            sites = _weighted_centres(xy[mask], residents[mask], int(count), rng)
        rows.append(
            (
                f"{district.name_en} police service centre",
                "service_centre",
                "existing",
                2024,
                centre[0],
            )
        )
        for i, site in enumerate(sites[:count]):
            rows.append((f"{district.name_en} police post {i + 1}", "post", "existing", 2026, site))
    points = shapely.points(np.array([r[4] for r in rows]))
    # on the nearest street, where a post can be walked to
    nearest = tree.nearest(points)
    points = shapely.line_interpolate_point(
        streets.geometry.values[nearest],
        shapely.line_locate_point(streets.geometry.values[nearest], points),
    )
    return _frame(
        {
            "name": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "target_year": [r[3] for r in rows],
        },
        points,
    )


def early_warning_stations(
    outline: shapely.Geometry, core: shapely.Point, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """28 stations spread evenly over the city; the 9 of the pilot are the ones nearest the
    centre, the other 19 planned for 2025."""
    total = MOBILITY_FIGURES["eew_total_2025"]
    xmin, ymin, xmax, ymax = outline.bounds
    grid = np.mgrid[xmin:xmax:500.0, ymin:ymax:500.0].reshape(2, -1).T
    inside = shapely.contains_xy(outline, grid[:, 0], grid[:, 1])
    centres = _weighted_centres(grid[inside], np.ones(inside.sum()), total, rng)
    points = shapely.points(centres)
    order = np.argsort(shapely.distance(points, core), kind="stable")
    existing = np.zeros(len(points), dtype=bool)
    existing[order[: MOBILITY_FIGURES["eew_existing"]]] = True
    rank = np.empty(len(points), dtype=int)
    rank[order] = np.arange(len(points))
    return _frame(
        {
            "name": [f"EEW station {r + 1:02d}" for r in rank],
            "status": np.where(existing, "existing", "planned"),
            "target_year": np.where(existing, 2022, 2025),
        },
        points,
    )


def gathering_points(parks: gpd.GeoDataFrame, amenities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Open ground away from buildings: existing parks of 1 ha or more and school yards."""
    area = shapely.area(parks.geometry.values)
    big = parks[
        (parks.status == "existing").to_numpy()
        & (area >= MOBILITY_FIGURES["gathering_min_park_ha"] * 1e4)
    ]
    schools = amenities[amenities.kind == "school"]
    names = [f"{n or 'Park'} gathering point" for n in big.name] + [
        f"{n or 'School'} yard" for n in schools.name
    ]
    capacity = np.concatenate(
        [
            np.round(
                shapely.area(big.geometry.values) / MOBILITY_FIGURES["gathering_m2_per_person"]
            ),
            np.full(len(schools), MOBILITY_FIGURES["school_yard_capacity"]),
        ]
    ).astype(np.int64)
    points = np.concatenate(
        [shapely.point_on_surface(big.geometry.values), schools.geometry.values]
    )
    return _frame(
        {
            "name": names,
            "kind": ["park"] * len(big) + ["school_yard"] * len(schools),
            "capacity": capacity,
        },
        points,
    )


def generate_mobility(
    layers: dict[str, gpd.GeoDataFrame], seed: int
) -> dict[str, gpd.GeoDataFrame]:
    """Every mobility and safety layer (metres) from the demo city's layers (metres)."""
    core = _core(layers)
    districts = layers["districts"]
    streets = layers["streets"]
    lanes = bike_lanes(streets, core, stream(seed, "bike-lanes"))
    stations = bikeshare_stations(lanes)
    parking, zones = scooter_layers(
        layers["transit_stops"], layers["amenities"], lanes, core, stream(seed, "scooters")
    )
    outline = shapely.union_all(districts.geometry.values)
    result = {
        "bike_lanes": lanes,
        "bikeshare_stations": stations,
        "scooter_parking": parking,
        "scooter_zones": zones,
        "cameras": cameras(
            districts,
            streets,
            layers["transit_stops"],
            layers["amenities"],
            core,
            stream(seed, "cameras"),
        ),
        "police_posts": police_posts(districts, layers["plots"], streets, stream(seed, "police")),
        "early_warning_stations": early_warning_stations(outline, core, stream(seed, "eew")),
        "gathering_points": gathering_points(layers["parks"], layers["amenities"]),
    }
    for frame in result.values():
        where = (
            frame.geometry.values
            if frame.geom_type.iloc[0] == "Point"
            else shapely.point_on_surface(frame.geometry.values)
        )
        frame["district"] = district_names_at(where, districts)
    return result


def load_mobility(conn: psycopg.Connection, city: Any) -> dict[str, int]:
    """Generate the mobility and safety layers for a demo city and write them (one
    transaction with the caller's); returns rows written per layer."""
    frames = generate_mobility(city.layers, city.seed)
    counts = {}
    source = (
        f"Almaty Twin demo generator, mobility and safety (seed {city.seed}, scale {city.scale})"
    )
    with conn.transaction():
        for name in LAYERS:
            frame = frames[name].to_crs(4326)
            with progress(f"demo {name}", total=len(frame), unit="rows") as bar:
                counts[name] = write_layer(
                    conn,
                    name,
                    frame,
                    Provenance(
                        source=source,
                        licence="CC0-1.0",
                        synthetic=True,
                        details={
                            "seed": city.seed,
                            "scale": city.scale,
                            "layer": name,
                            "figures": "twin/mobility/demo.py MOBILITY_FIGURES",
                        },
                    ),
                    progress=bar.update,
                )
    return counts

"""Seismic hazard: about 30 fault traces, more than 60% of them in the mountains (S2 l.5065),
one crossing the West polycentre inside its 90 ha no-build green strip (S2 l.758, l.848), and
seismic microzones of intensity 9 and 10 covering the city (S2 l.5067).

Fault positions are synthetic (no fault is named or located in the documents): traces run
roughly along the mountain front (east-north-east), as the range-front faults of the
Trans-Ili Alatau do.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from twin.demo.figures import figures
from twin.demo.geo import METRIC_CRS, to_metric
from twin.demo.relief import Relief


def _trace(
    rng: np.random.Generator, start: np.ndarray, length: float, angle: float, vertices: int = 7
) -> np.ndarray:
    t = np.linspace(-0.5, 0.5, vertices) * length
    wiggle = np.cumsum(rng.normal(0, 0.03, vertices)) * length * 0.3
    wiggle -= wiggle.mean()
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    return start + t[:, None] * direction + wiggle[:, None] * normal


def _midpoint_class(line: shapely.LineString, relief: Relief) -> str:
    mid = line.interpolate(0.5, normalized=True)
    return str(relief.terrain_class(np.array([mid.x]), np.array([mid.y]))[0])


def faults(
    outline: shapely.Polygon, relief: Relief, west: shapely.Polygon, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, shapely.Polygon]:
    """The fault traces and the West polycentre's no-build strip around its fault."""
    spec = figures()["seismic"]
    minx, miny, maxx, maxy = outline.bounds
    rows: list[dict] = []
    geoms: list[shapely.LineString] = []

    # the West polycentre fault: straight through the polycentre, then bending away
    centre = np.array(west.centroid.coords[0])
    angle = np.deg2rad(rng.uniform(35, 50))
    direction = np.array([np.cos(angle), np.sin(angle)])
    section = 3000.0
    strip_width = spec["west_strip_ha"] * 1e4 / section
    core = np.array([centre - direction * section / 2, centre + direction * section / 2])
    tail = _trace(rng, centre, 9000, angle, 9)
    tail[3:6] = [core[0], centre, core[1]]
    west_line = shapely.intersection(shapely.LineString(tail), outline)
    west_line = max(shapely.get_parts(west_line), key=lambda g: g.length)
    strip = shapely.buffer(shapely.LineString(core), strip_width / 2, cap_style="flat")
    geoms.append(west_line)
    rows.append(
        {
            "name": "West polycentre fault",
            "terrain": _midpoint_class(west_line, relief),
            "active": True,
            "setback_m": 150.0,
        }
    )

    wanted = {
        "mountain": spec["mountain_faults"],
        "foothill": spec["foothill_faults"],
        "plain": spec["plain_faults"] - 1,
    }
    counts = {key: 0 for key in wanted}
    lengths = {"mountain": (5000, 16000), "foothill": (3500, 11000), "plain": (2500, 8000)}
    tries = 0
    while any(counts[k] < wanted[k] for k in wanted) and tries < 20000:
        tries += 1
        start = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        if not shapely.contains_xy(outline, *start):
            continue
        klass = str(relief.terrain_class(start[:1], start[1:])[0])
        if counts.get(klass, 99) >= wanted.get(klass, 0):
            continue
        angle = np.deg2rad(rng.uniform(5, 35) if rng.random() < 0.8 else rng.uniform(-60, -30))
        line = shapely.intersection(
            shapely.LineString(_trace(rng, start, rng.uniform(*lengths[klass]), angle)), outline
        )
        parts = [g for g in shapely.get_parts(line) if g.length > 1500]
        if not parts:
            continue
        line = max(parts, key=lambda g: g.length)
        if _midpoint_class(line, relief) != klass:
            continue
        if geoms and min(line.distance(g) for g in geoms) < 600:
            continue
        counts[klass] += 1
        geoms.append(line)
        rows.append(
            {
                "name": "",
                "terrain": klass,
                "active": bool(rng.random() < 0.6),
                "setback_m": float(rng.choice([50.0, 100.0, 100.0, 150.0, 200.0])),
            }
        )
    order = {"mountain": "M", "foothill": "F", "plain": "P"}
    seen: dict[str, int] = {}
    for row in rows[1:]:
        seen[row["terrain"]] = seen.get(row["terrain"], 0) + 1
        row["name"] = f"Fault {order[row['terrain']]}-{seen[row['terrain']]:02d}"
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=METRIC_CRS)
    frame["length_km"] = frame.geometry.length / 1000
    return frame, strip


def microzones(
    outline: shapely.Polygon,
    relief: Relief,
    fault_lines: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Intensity 9 and 10 microzones covering the city without gaps or overlaps: Voronoi
    cells typed by terrain and soil, with a 10-point band along every fault."""
    minx, miny, maxx, maxy = outline.bounds
    count = 70
    seeds = np.column_stack([rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)])
    cells = np.asarray(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline))
    )
    cells = shapely.intersection(cells, outline)
    cells = cells[~shapely.is_empty(cells) & (shapely.area(cells) > 1e4)]
    band = shapely.union_all(shapely.buffer(fault_lines.geometry.values, 400))
    band = shapely.intersection(band, outline)
    centre = shapely.point_on_surface(cells)
    z = relief(shapely.get_x(centre), shapely.get_y(centre))
    soil = np.where(
        z >= relief.mountain_from,
        "I",
        np.where(
            z >= relief.plain_below, "II", np.where(rng.random(len(cells)) < 0.4, "III", "II")
        ),
    )
    intensity = np.where((z >= 850) | (soil == "III"), 10, 9)
    pieces, inten, soils = [], [], []
    rest = shapely.difference(cells, band)
    near = shapely.intersection(cells, band)
    for geoms, values in ((rest, intensity), (near, np.full(len(cells), 10))):
        for geom, value, s in zip(geoms, values, soil):
            for part in shapely.get_parts(geom):
                if part.geom_type == "Polygon" and part.area > 2000:
                    pieces.append(part)
                    inten.append(int(value))
                    soils.append(s)
    return gpd.GeoDataFrame(
        {"intensity": inten, "soil_category": soils}, geometry=pieces, crs=METRIC_CRS
    )


# -- mudflow protection works (S2 l.5095-5097, l.5151) ----------------------------------------
# The two dams by 2023 sit in the Aksay and Ayusay gorges; the demo relief has no valley of its
# own for the Ayusay (a tributary gorge of the Small Almaty river at Medeu), so its dam stands on
# the Small Almaty valley floor. Positions are synthetic: on the valley floor where the terrain
# profile crosses DAM_ELEVATION_M, the gorge's mouth above the city.
DAMS = (("Aksay mudflow dam", "Aksay river"), ("Ayusay mudflow dam", "Small Almaty river"))
DAM_ELEVATION_M = 1450.0
WARNING_STATIONS = 31  # S2 l.5097: 31 monitoring and warning stations


def _valley_floor(relief: Relief, x: float, y: float, half_width: float = 1200.0) -> float:
    """The x of the lowest ground across the valley at y (the channel runs there)."""
    xs = np.linspace(x - half_width, x + half_width, 121)
    return float(xs[int(np.argmin(relief(xs, np.full_like(xs, y))))])


def _y_at_elevation(elevation: float) -> float:
    knots = np.asarray(figures()["terrain"]["profile"], dtype=float)  # lat, metres
    lat = float(np.interp(elevation, knots[:, 1], knots[:, 0]))  # metres rise southward
    return float(to_metric([[76.95, lat]])[0, 1])


def protection_works(relief: Relief) -> gpd.GeoDataFrame:
    """The two mudflow dams and the 31 warning stations along the gorges (working)."""
    gorges = {g["name"]: g["lon"] for g in figures()["terrain"]["gorges"]}
    rows: list[dict] = []
    points: list[shapely.Point] = []
    y = _y_at_elevation(DAM_ELEVATION_M)
    for name, gorge in DAMS:
        x = _valley_floor(relief, float(to_metric([[gorges[gorge], 43.1]])[0, 0]), y)
        rows.append(
            {"name": name, "kind": "dam", "status": "working", "gorge": gorge, "year": 2023}
        )
        points.append(shapely.Point(x, y))
    names = list(gorges)
    per_gorge = np.array_split(np.arange(WARNING_STATIONS), len(names))
    for gorge, numbers in zip(names, per_gorge):
        gx = float(to_metric([[gorges[gorge], 43.1]])[0, 0])
        for k, elevation in zip(numbers, np.linspace(1250, 3000, len(numbers))):
            sy = _y_at_elevation(float(elevation))
            rows.append(
                {
                    "name": f"Mudflow warning station {k + 1:02d}",
                    "kind": "warning_station",
                    "status": "working",
                    "gorge": gorge,
                    "year": 2022,
                }
            )
            points.append(shapely.Point(_valley_floor(relief, gx, sy), sy))
    return gpd.GeoDataFrame(rows, geometry=points, crs=METRIC_CRS)


# -- fire stations (S2 l.5111-5115, l.5153) ---------------------------------------------------
# 19 working stations, positions synthetic: the residents-weighted centres of 19 groups of the
# plots of the six older districts (the western and south-western districts grew later and are
# the ones the programme's new depots serve); the 4 fire depots planned in the polycentres by
# 2024 stand at the centres of the four new polycentres (not the Historic Centre).
FIRE_STATIONS = 19
OLDER_DISTRICTS_ONLY = ("Alatau", "Nauryzbay")  # no working station placed in these
DEPOT_POLYCENTRES = ("North", "West", "South-West", "East Gate")


def fire_stations(
    plots: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """The working fire stations and the planned polycentre depots (metric CRS)."""
    from scipy.cluster.vq import kmeans2

    older = plots[~plots.district.isin(OLDER_DISTRICTS_ONLY) & (plots.residents > 0)]
    points = shapely.get_coordinates(older.geometry.representative_point())
    weights = older.residents.to_numpy(float)
    # residents-weighted: sample plots in proportion to their residents, then group them
    pick = rng.choice(len(points), size=min(4000, len(points)), p=weights / weights.sum())
    groups, _ = kmeans2(points[pick], FIRE_STATIONS, minit="++", seed=rng, iter=20)
    rows = [
        {
            "name": f"Fire station {k + 1:02d}",
            "kind": "station",
            "status": "working",
            "polycentre": None,
            "year": None,
        }
        for k in range(len(groups))
    ]
    geoms = [shapely.Point(x, y) for x, y in groups]
    for name in DEPOT_POLYCENTRES:
        centre = centres[centres.name == name]
        if centre.empty:
            continue
        rows.append(
            {
                "name": f"{name} polycentre fire depot",
                "kind": "depot",
                "status": "planned",
                "polycentre": name,
                "year": 2024,
            }
        )
        geoms.append(centre.geometry.iloc[0].representative_point())
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=centres.crs or METRIC_CRS)

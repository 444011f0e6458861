"""Where the city is: its outline, the 8 districts and the 5 polycentres (metres, UTM 43N)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from twin.demo.figures import figures
from twin.demo.geo import METRIC_CRS, point_metric, to_metric
from twin.errors import TwinError


def city_outline() -> shapely.Polygon:
    return shapely.Polygon(to_metric(figures()["city"]["outline"]))


def metro_outline() -> shapely.Polygon:
    """The 2030 agglomeration (almaty.yml `agglomeration`): the city and its suburban belt,
    one polygon, for the `metro` scale."""
    belt = shapely.Polygon(to_metric(figures()["agglomeration"]["outline"]))
    merged = shapely.union(city_outline(), belt)
    if merged.geom_type != "Polygon":  # keep the one piece (the belt overlaps the city)
        merged = max(shapely.get_parts(merged), key=lambda g: g.area)
    return merged


def outline_for(scale: str) -> shapely.Polygon:
    """Where a scale builds: the city, or the agglomeration at `metro`."""
    return metro_outline() if scale == "metro" else city_outline()


def agglomeration_populations(districts) -> np.ndarray:
    """The eight districts' populations scaled to the agglomeration's 4 million (S2 l.424),
    whole people summing exactly: each suburb belongs to the nearest city district."""
    from twin.demo.figures import apportion

    total = int(figures()["agglomeration"]["population"])
    return apportion(total, districts["population"].to_numpy(float))


def synthetic_districts(outline: shapely.Polygon) -> gpd.GeoDataFrame:
    """The 8 districts as Voronoi regions of their seeds inside the outline: every point of the
    city belongs to exactly one district, each district sits where the real one is."""
    seeds, owner = [], []
    for index, district in enumerate(figures()["districts"]):
        for lonlat in district["seeds"]:
            seeds.append(lonlat)
            owner.append(index)
    points = to_metric(seeds)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=outline)
    cells = np.asarray(shapely.get_parts(cells))
    # voronoi_polygons does not keep input order: match cells to seeds by containment
    tree = shapely.STRtree(cells)
    seed_idx, cell_idx = tree.query(shapely.points(points), predicate="within")
    order = np.empty(len(points), dtype=np.int64)
    order[seed_idx] = cell_idx
    owner = np.asarray(owner)
    geoms = []
    for index in range(len(figures()["districts"])):
        merged = shapely.union_all(cells[order[owner == index]])
        geoms.append(shapely.intersection(merged, outline))
    return _district_frame(geoms)


def _district_frame(geoms: list) -> gpd.GeoDataFrame:
    rows = figures()["districts"]
    frame = gpd.GeoDataFrame(
        {
            "name_en": [d["name_en"] for d in rows],
            "name_kk": [d["name_kk"] for d in rows],
            "name_ru": [d["name_ru"] for d in rows],
            "population": [int(d["population"]) for d in rows],
            "cadastral": [int(d["cadastral"]) for d in rows],
        },
        geometry=geoms,
        crs=METRIC_CRS,
    )
    frame["area_km2"] = frame.geometry.area / 1e6
    return frame


def base_districts(directory: Path) -> gpd.GeoDataFrame:
    """The real districts from DIR/districts.geojson, with the programme's populations and
    English names matched by their Russian names."""
    path = directory / "districts.geojson"
    if not path.exists():
        raise TwinError(f"--base {directory}: districts.geojson is missing")
    real = gpd.read_file(path).to_crs(METRIC_CRS)
    if "name_ru" not in real.columns:
        raise TwinError(f"{path}: expected a name_ru column naming each district")
    geoms = []
    for district in figures()["districts"]:
        stem = district["name_ru"].split()[0][:6].lower()
        match = real[real["name_ru"].str.lower().str.startswith(stem)]
        if len(match) != 1:
            raise TwinError(f"{path}: cannot find district {district['name_ru']!r}")
        geoms.append(shapely.make_valid(match.geometry.iloc[0]))
    return _district_frame(geoms)


def polycentres(outline: shapely.Polygon, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The 5 polycentres as irregular areas of their planned size around their centres."""
    spec = figures()["polycentres"]
    rows, geoms = [], []
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    for item in spec["items"]:
        cx, cy = point_metric(*item["centre"])
        harmonics = rng.normal(0, 0.08, 4)
        phases = rng.uniform(0, 2 * np.pi, 4)
        radius = 1 + sum(
            h * np.cos((k + 2) * angles + p) for k, (h, p) in enumerate(zip(harmonics, phases))
        )
        target = item["area_ha"] * 1e4
        scale = np.sqrt(target / np.pi)
        shape = None
        for _ in range(6):  # grow until the part inside the city has the planned area
            ring = np.column_stack(
                [cx + scale * radius * np.cos(angles), cy + scale * radius * np.sin(angles)]
            )
            shape = shapely.intersection(shapely.Polygon(ring), outline)
            scale *= np.sqrt(target / shape.area)
        geoms.append(shape)
        rows.append(
            {
                "name": item["name"],
                "name_ru": item["name_ru"],
                "name_kk": item["name_kk"],
                "functions": item["functions"],
                "target_density_pph": float(spec["target_density_pph"]),
                "max_block_ha": float(spec["max_block_ha"]),
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=METRIC_CRS)
    frame["area_ha"] = frame.geometry.area / 1e4
    return frame


def historic_core(rng: np.random.Generator | None = None) -> shapely.Polygon:
    """The rectangle of the historic 140-250 m grid."""
    spec = figures()["historic_centre"]
    cx, cy = point_metric(*spec["centre"])
    return shapely.box(
        cx - spec["half_width_m"],
        cy - spec["half_height_m"],
        cx + spec["half_width_m"],
        cy + spec["half_height_m"],
    )

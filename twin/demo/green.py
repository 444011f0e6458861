"""Parks: the 2022 inventory by district and kind (S2 Annex 4-5) and the parks planned for
2025 and 2030 (S2 l.4501-4527), placed on blocks of their district. Areas are exact in metres
(UTM 43N); shapes and positions are synthetic."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import shapely

from twin.demo.figures import figures, split_area
from twin.demo.geo import METRIC_CRS

ASPECT = {
    "park": 1.6,
    "square": 1.3,
    "boulevard": 10.0,
    "embankment": 7.0,
    "green_zone": 2.5,
    "pedestrian_zone": 8.0,
}
KIND_NAMES = {
    "park": "Park",
    "square": "Square",
    "boulevard": "Boulevard",
    "embankment": "Embankment",
    "green_zone": "Green zone",
    "pedestrian_zone": "Pedestrian zone",
}


def _rectangle(x: float, y: float, area: float, aspect: float, angle: float) -> shapely.Polygon:
    width = np.sqrt(area * aspect)
    height = area / width
    corners = np.array(
        [
            [-width / 2, -height / 2],
            [width / 2, -height / 2],
            [width / 2, height / 2],
            [-width / 2, height / 2],
        ]
    )
    c, s = np.cos(angle), np.sin(angle)
    rotated = corners @ np.array([[c, s], [-s, c]])
    return shapely.Polygon(rotated + [x, y])


def parks(
    blocks: gpd.GeoDataFrame,
    quads: np.ndarray,
    districts: gpd.GeoDataFrame,
    polycentres: gpd.GeoDataFrame,
    west_strip: shapely.Polygon,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    spec = figures()["parks"]
    district_geom = dict(zip(districts.name_en, districts.geometry))
    centroid = shapely.centroid(blocks.geometry.values)
    bx, by = shapely.get_x(centroid), shapely.get_y(centroid)
    heading = np.arctan2(quads[:, 1, 1] - quads[:, 0, 1], quads[:, 1, 0] - quads[:, 0, 0])
    placed: list[shapely.Polygon] = [west_strip]
    rows: list[dict] = []
    geoms: list[shapely.Polygon] = []

    def place(
        district: str, area: float, kind: str, within: shapely.Geometry | None
    ) -> shapely.Polygon:
        region = district_geom[district]
        if within is not None:
            region = shapely.intersection(region, within)
        inner = shapely.buffer(region, -20)
        candidates = np.nonzero(shapely.contains_xy(inner, bx, by))[0]
        if candidates.size == 0:
            candidates = np.nonzero(shapely.contains_xy(region, bx, by))[0]
        shape = None
        for attempt in range(150):
            if candidates.size:
                index = candidates[rng.integers(candidates.size)]
                x, y, angle = bx[index], by[index], heading[index]
            else:
                point = region.point_on_surface()
                x, y, angle = point.x, point.y, 0.0
            if kind in ("embankment",):
                angle += np.pi / 2
            shape = _rectangle(x, y, area, ASPECT[kind], angle + rng.normal(0, 0.05))
            if not shapely.within(shape, shapely.buffer(region, 1)):
                continue
            if attempt < 120 and any(shape.intersects(other) for other in placed):
                continue
            break
        placed.append(shape)
        return shape

    reference = figures()["reference_year"]
    for district, groups in spec["existing"].items():
        for kind, group in groups.items():
            count, total = int(group[0]), float(group[1])
            names = [group[2]] if len(group) > 2 else []
            areas = split_area(total * 1e4, count, rng, spread=0.7)
            for k, area in enumerate(sorted(areas, reverse=True)):
                name = (
                    names[k] if k < len(names) else f"{district} {KIND_NAMES[kind].lower()} {k + 1}"
                )
                geoms.append(place(district, area, kind, None))
                opened = date(int(rng.integers(1950, reference + 1)), int(rng.integers(1, 13)), 1)
                rows.append(
                    {
                        "name": name,
                        "kind": kind,
                        "status": "existing",
                        "planned_year": None,
                        "area_ha": area / 1e4,
                        "district": district,
                        "opened_on": opened,
                    }
                )
    by_name = dict(zip(polycentres.name, polycentres.geometry))
    for item in spec["planned"]:
        area = float(item["area_ha"]) * 1e4
        if item.get("role") == "west_fault_strip":
            geom = west_strip
        else:
            geom = place(item["district"], area, item["kind"], by_name.get(item.get("polycentre")))
        geoms.append(geom)
        rows.append(
            {
                "name": item["name"],
                "kind": item["kind"],
                "status": "planned",
                "planned_year": int(item["year"]),
                "area_ha": geom.area / 1e4,
                "district": item["district"],
                "opened_on": None,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=METRIC_CRS)
    frame["planned_year"] = frame["planned_year"].astype("Int64")
    return frame

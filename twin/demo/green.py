"""Parks: the 2022 inventory by district and kind (S2 Annex 4-5), the rest of the city's
public-use green (S2 l.4385: 1,050.97 ha in all) and the parks planned for 2025 and 2030
(S2 l.4501-4527), placed on blocks of their district. Areas are exact in metres (UTM 43N);
shapes and positions are synthetic.

Public-use green is the inventory plus squares, boulevards, public gardens and embankments the
inventory does not list (`inventory` false): the programme counts 631.2 ha of parks (S2 l.4409)
but 1,050.97 ha of green open to the public (S2 l.4385), so both figures hold side by side."""

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


# Kinds of the public-use green outside the park inventory, and how often each is drawn
# (synthetic: the programme lists the categories, S2 l.4385, not their shares).
PUBLIC_GREEN_KINDS = {"square": 0.5, "boulevard": 0.3, "embankment": 0.1, "green_zone": 0.1}
SPREAD_TRIES = 20  # candidate blocks per public-use green feature (best-candidate sampling)


def placement(scale: str, base: bool) -> float:
    """How green is placed at this scale (almaty.yml parks.placement): the rank, from 0 (the
    nearest) to 1 (the farthest), of the block each feature takes among a few drawn, by distance
    from the green placed before."""
    modes = figures()["parks"]["placement"]
    value = float(modes["base"] if base else modes[scale])
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"parks.placement must lie in 0..1, not {value}")
    return value


def public_green_extra() -> dict[str, float]:
    """Hectares of public-use green each district has beyond its park inventory.

    Districts with a programme figure (m² per resident) get it; the remainder of the city total
    goes to `remainder` (Medeu); the others have their inventory only. The programme's own
    district figures cannot all hold with its total (docs/demo-city.md), so the total wins.
    """
    spec = figures()["parks"]
    public = spec["public_green"]
    people = {d["name_en"]: float(d["population"]) for d in figures()["districts"]}
    inventory = {k: float(v) for k, v in spec["district_totals_ha"].items()}
    extra = {
        name: per_person * people[name] / 1e4 - inventory[name]
        for name, per_person in public["m2_per_resident"].items()
    }
    rest = float(public["total_ha"]) - sum(inventory.values()) - sum(extra.values())
    extra[public["remainder"]] = extra.get(public["remainder"], 0.0) + rest
    if min(extra.values()) <= 0:
        raise ValueError(f"public-use green below the park inventory: {extra}")
    return extra


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


def _near_corner(
    corner: np.ndarray, centre: tuple[float, float], area: float
) -> tuple[float, float]:
    """A point inside the block just off one of its corners: squares and gardens sit at street
    crossings, where people walk in, not in the middle of a large block."""
    dx, dy = centre[0] - corner[0], centre[1] - corner[1]
    length = float(np.hypot(dx, dy))
    if length == 0:
        return centre
    pull = min(0.9, 0.75 * np.sqrt(area) / length)
    return corner[0] + dx * pull, corner[1] + dy * pull


def parks(
    blocks: gpd.GeoDataFrame,
    quads: np.ndarray,
    districts: gpd.GeoDataFrame,
    polycentres: gpd.GeoDataFrame,
    west_strip: shapely.Polygon,
    rng: np.random.Generator,
    placement: float = 1.0,
) -> gpd.GeoDataFrame:
    """The park and public-use green rows. `placement` (almaty.yml parks.placement, by scale):
    1 puts each feature on the farthest of a few drawn blocks from the green placed before
    (spread), 0 on the nearest (clustered), in between on the block of that rank. Spread green
    reaches more of the built-up territory, and how much more depends on the street fabric, so
    each scale has its own rank to hold the programme's ~70% without a walkable park (S2 l.676)."""
    spec = figures()["parks"]
    district_geom = dict(zip(districts.name_en, districts.geometry))
    centroid = shapely.centroid(blocks.geometry.values)
    bx, by = shapely.get_x(centroid), shapely.get_y(centroid)
    heading = np.arctan2(quads[:, 1, 1] - quads[:, 0, 1], quads[:, 1, 0] - quads[:, 0, 0])
    placed: list[shapely.Polygon] = [west_strip]
    rows: list[dict] = []
    geoms: list[shapely.Polygon] = []

    centres: list[tuple[float, float]] = []

    def spread_pick(candidates: np.ndarray) -> int:
        """One of a few random blocks, ranked by distance from the green placed so far: the
        farthest at `placement` 1, the nearest at 0, the block of that rank in between."""
        tries = candidates[rng.integers(candidates.size, size=SPREAD_TRIES)]
        if not centres:
            return int(tries[0])
        done = np.asarray(centres)
        gap = np.hypot(bx[tries, None] - done[:, 0], by[tries, None] - done[:, 1]).min(axis=1)
        if placement >= 1.0:
            return int(tries[np.argmax(gap)])
        if placement <= 0.0:
            return int(tries[np.argmin(gap)])
        rank = int(round(placement * (SPREAD_TRIES - 1)))
        return int(tries[np.argsort(gap, kind="stable")[rank]])

    def place(
        district: str,
        area: float,
        kind: str,
        within: shapely.Geometry | None,
        spread: bool = False,
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
                if spread and attempt < 20:
                    index = spread_pick(candidates)
                    x, y = _near_corner(quads[index, rng.integers(4)], (bx[index], by[index]), area)
                else:
                    index = candidates[rng.integers(candidates.size)]
                    x, y = bx[index], by[index]
                angle = heading[index]
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
        centres.append((shape.centroid.x, shape.centroid.y))
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
                geoms.append(place(district, area, kind, None, spread=True))
                opened = date(int(rng.integers(1950, reference + 1)), int(rng.integers(1, 13)), 1)
                rows.append(
                    {
                        "name": name,
                        "kind": kind,
                        "status": "existing",
                        "inventory": True,
                        "planned_year": None,
                        "area_ha": area / 1e4,
                        "district": district,
                        "opened_on": opened,
                    }
                )
    public_kinds = list(PUBLIC_GREEN_KINDS)
    public_p = np.array(list(PUBLIC_GREEN_KINDS.values()))
    for district, extra_ha in public_green_extra().items():
        count = max(1, int(round(extra_ha / float(spec["public_green"]["mean_feature_ha"]))))
        areas = split_area(extra_ha * 1e4, count, rng, spread=0.6)
        for k, area in enumerate(sorted(areas, reverse=True)):
            kind = str(rng.choice(public_kinds, p=public_p / public_p.sum()))
            geoms.append(place(district, area, kind, None, spread=True))
            opened = date(int(rng.integers(1950, reference + 1)), int(rng.integers(1, 13)), 1)
            rows.append(
                {
                    "name": f"{district} public {KIND_NAMES[kind].lower()} {k + 1}",
                    "kind": kind,
                    "status": "existing",
                    "inventory": False,
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
                "inventory": True,
                "planned_year": int(item["year"]),
                "area_ha": geom.area / 1e4,
                "district": item["district"],
                "opened_on": None,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=METRIC_CRS)
    frame["planned_year"] = frame["planned_year"].astype("Int64")
    return frame

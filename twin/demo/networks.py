"""Utility networks laid along the streets, and the facilities that feed them.

Each network's total length is the programme's figure (S2 l.1213: water 3,600, sewer 1,800,
heating 1,400, gas 5,900, power 8,500, lighting 4,800 km) times `length_factor`: 1 at city
scale and with --base, and at small scale the ratio of the small street grid's length to the
city grid's, so every network shrinks by the same factor as the streets and the ratios between
networks are the real ones. Length-weighted wear equals the programme's figure for each network
(55.8 / 57.5 / 60 / 36 / 65 %, S2 l.1251-1297; lighting 32%, our choice, see almaty.yml).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.demo.figures import figures
from twin.demo.geo import METRIC_CRS, SmoothField, to_metric

# how much each network prefers streets beside each kind of block (synthetic): heating mains
# serve apartment districts, not private houses; sewerage is missing in private-house areas
# of the annexed districts (S2 l.1251-1297: 286 thousand without sewerage)
PREFERENCE = {
    "water": {"private_housing": 0.0, "industrial": -0.2},
    "sewer": {"private_housing": -1.2, "vacant": -1.0},
    "heating": {
        "private_housing": -3.0,
        "vacant": -2.0,
        "industrial": -0.5,
        "centre_mixed": 0.8,
        "soviet_housing": 0.8,
        "new_housing": 0.5,
    },
    "gas": {"private_housing": 0.8, "centre_mixed": -0.3},
    "power": {},
    "lighting": {"industrial": -0.3},
}
DIAMETER = {"water": (100, 900), "sewer": (150, 1500), "heating": (100, 800), "gas": (50, 500)}
DEPTH = {
    "water": (2.0, 3.2),
    "sewer": (2.5, 5.0),
    "heating": (1.2, 2.2),
    "gas": (1.0, 1.6),
    "power": (0.7, 1.1),
    "lighting": (0.7, 0.9),
}


def _calibrate_wear(raw: np.ndarray, length: np.ndarray, target: float) -> np.ndarray:
    """Bend raw wear values in (0, 1) with a power so that their length-weighted mean is the
    target percentage exactly (monotone: worn lines stay the most worn)."""
    lo, hi = 0.02, 50.0
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        mean = np.average(100 * raw**mid, weights=length)
        if mean > target:
            lo = mid
        else:
            hi = mid
    return 100 * raw ** np.sqrt(lo * hi)


def street_sides(
    edges: pd.DataFrame, block_kind_at: np.ndarray, districts_at: np.ndarray, lit: np.ndarray
) -> pd.DataFrame:
    frame = edges[["x0", "y0", "x1", "y1", "highway"]].copy()
    frame["length"] = np.hypot(frame.x1 - frame.x0, frame.y1 - frame.y0)
    frame["kind"] = block_kind_at
    frame["district"] = districts_at
    frame["lit"] = lit
    return frame[frame.length > 1].reset_index(drop=True)


def utility_lines(
    sides: pd.DataFrame, length_factor: float, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    spec = figures()["utilities"]
    reference = int(spec["reference_year"])
    age_field = SmoothField(rng, (3000, 9000), 10)
    mx = ((sides.x0 + sides.x1) / 2).to_numpy()
    my = ((sides.y0 + sides.y1) / 2).to_numpy()
    dx = (sides.x1 - sides.x0).to_numpy()
    dy = (sides.y1 - sides.y0).to_numpy()
    length = sides.length.to_numpy()
    nxv, nyv = -dy / length, dx / length
    frames = []
    for network, net in spec["networks"].items():
        target = float(net["length_km"]) * 1000 * length_factor
        preference = np.array([PREFERENCE[network].get(k, 0.0) for k in sides.kind])
        if network == "lighting":
            preference = np.where(sides.lit.to_numpy(), preference, -np.inf)
        major = sides.highway.isin(["arterial", "primary", "secondary"]).to_numpy()
        chosen_edge, chosen_offset = [], []
        remaining = target
        for copy, offset in enumerate(net["offsets_m"]):
            score = preference + rng.normal(0, 0.6, len(sides)) + (0.8 * major if copy else 0)
            order = np.argsort(-score, kind="stable")
            order = order[np.isfinite(score[order])]
            cumulative = np.cumsum(length[order])
            take = int(np.searchsorted(cumulative, remaining)) + 1
            take = min(take, len(order))
            chosen_edge.append(order[:take])
            chosen_offset.append(np.full(take, float(offset)))
            remaining -= cumulative[take - 1] if take else 0
            if remaining <= 0:
                break
        edge = np.concatenate(chosen_edge)
        offset = np.concatenate(chosen_offset)
        # trim the overshoot of the last line so the total is the target to the metre
        lengths = length[edge].copy()
        overshoot = lengths.sum() - target
        keep_fraction = np.ones(len(edge))
        if overshoot > 0 and len(edge):
            keep_fraction[-1] = max(0.05, 1 - overshoot / lengths[-1])
        ox, oy = nxv[edge] * offset, nyv[edge] * offset
        x0 = sides.x0.to_numpy()[edge] + ox
        y0 = sides.y0.to_numpy()[edge] + oy
        x1 = x0 + dx[edge] * keep_fraction
        y1 = y0 + dy[edge] * keep_fraction
        seg_length = lengths * keep_fraction
        coords = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
        raw = np.clip(
            0.5 + 0.18 * age_field(mx[edge], my[edge]) + rng.normal(0, 0.18, len(edge)), 0.02, 0.995
        )
        wear = _calibrate_wear(raw, seg_length, float(net["wear_pct"]))
        life = float(net["service_life_years"])
        installed = reference - np.round(wear / 100 * life * rng.uniform(0.8, 1.2, len(edge)))
        depth = rng.uniform(*DEPTH[network], len(edge))
        if network == "lighting":  # ~4,000 of 4,800 km overhead (S2 l.1281): depth 0
            overhead = rng.random(len(edge)) < net["overhead_km"] / net["length_km"]
            depth = np.where(overhead, 0.0, depth)
        diameter = (
            np.round(rng.uniform(*DIAMETER[network], len(edge)) / 50) * 50
            if network in DIAMETER
            else np.full(len(edge), np.nan)
        )
        frames.append(
            gpd.GeoDataFrame(
                {
                    "network": network,
                    "wear_pct": np.round(wear, 3),
                    "diameter_mm": diameter,
                    "depth_m": np.round(depth, 2),
                    "installed_year": installed.astype(np.int64),
                    "length_m": seg_length,
                    "district": sides.district.to_numpy()[edge],
                },
                geometry=shapely.multilinestrings(
                    shapely.linestrings(coords), indices=np.arange(len(edge))
                ),
                crs=METRIC_CRS,
            )
        )
    return pd.concat(frames, ignore_index=True)


def facilities(sides: pd.DataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Pump stations, substations, boiler houses, CHP plants, gas regulators and lighting
    cabinets at street corners (named ones first, S2 §1.6 and §2)."""
    spec = figures()["utilities"]["facilities"]
    rows, points = [], []
    corners = sides[["x0", "y0"]].to_numpy()
    kind_at = sides.kind.to_numpy()
    district_at = sides.district.to_numpy()
    lit = sides.lit.to_numpy()
    capacity = {
        "pump_station": (200, 5000),
        "treatment_plant": (50000, 640000),
        "substation": (10, 250),
        "boiler_house": (5, 120),
        "chp_plant": (150, 510),
        "gas_regulator": (500, 20000),
        "lighting_cabinet": (5, 60),
    }
    from twin.demo.layout import city_outline  # the plants named outside the grid stay in the city

    outline = city_outline()
    for item in spec:
        names = list(item.get("names", []))
        fixed = to_metric(item["lonlat"]) if "lonlat" in item else np.zeros((0, 2))
        weight = np.ones(len(corners))
        if item["kind"] == "boiler_house":
            weight = np.where(np.isin(kind_at, ["soviet_housing", "centre_mixed"]), 4.0, 0.3)
        elif item["kind"] == "gas_regulator":
            weight = np.where(kind_at == "private_housing", 3.0, 1.0)
        elif item["kind"] == "lighting_cabinet":
            weight = np.where(lit, 1.0, 0.0)
        chosen = rng.choice(
            len(corners),
            size=item["count"],
            replace=item["count"] > len(corners),
            p=weight / weight.sum(),
        )
        for k in range(item["count"]):
            if k < len(fixed) and shapely.contains_xy(outline, *fixed[k]):
                x, y = fixed[k]
                district = None
            else:
                x, y = corners[chosen[k]] + rng.normal(0, 8, 2)
                district = district_at[chosen[k]]
            label = (
                names[k]
                if k < len(names)
                else f"{item['kind'].replace('_', ' ').title()} {item['network']} {k + 1}"
            )
            rows.append(
                {
                    "network": item["network"],
                    "kind": item["kind"],
                    "name": label,
                    "capacity": float(np.round(rng.uniform(*capacity[item["kind"]]), 1)),
                    "district": district,
                }
            )
            points.append((x, y))
    return gpd.GeoDataFrame(rows, geometry=shapely.points(np.asarray(points)), crs=METRIC_CRS)


# Steps and kerbs for the wheelchair profile (twin.analysis.profiles; synthetic): stairways
# where a minor street climbs steeper than STAIR_SLOPE (the southern foothills), and the kerbs
# at crossings: flush on footways and pedestrian streets, lowered or raised elsewhere, and a
# share not surveyed (unknown: the wheelchair profile assumes passable and counts them).
STAIR_SLOPE = 0.10
STAIR_SHARE = 0.4  # of the steep minor segments
KERB_SHARES = {"lowered": 0.55, "raised": 0.05, "unknown": 0.40}


def street_access(
    streets: gpd.GeoDataFrame, elevation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`steps` and `kerb` of each street segment (metric geometry, elevation at x, y)."""
    start = shapely.get_coordinates(shapely.get_point(streets.geometry.values, 0))
    end = shapely.get_coordinates(shapely.get_point(streets.geometry.values, -1))
    rise = np.asarray(elevation(end[:, 0], end[:, 1]), float) - np.asarray(
        elevation(start[:, 0], start[:, 1]), float
    )
    slope = np.abs(rise) / np.maximum(streets.length_m.to_numpy(float), 1.0)
    highway = streets.highway.to_numpy(str)
    minor = np.isin(highway, ["residential", "service", "pedestrian", "footway", "path"])
    steps = minor & (slope > STAIR_SLOPE) & (rng.random(len(streets)) < STAIR_SHARE)
    kerb = rng.choice(list(KERB_SHARES), size=len(streets), p=list(KERB_SHARES.values()))
    kerb = np.where(np.isin(highway, ["pedestrian", "footway", "path"]), "flush", kerb)
    return steps, kerb.astype(object)

"""Land: what kind of fabric each block is, the plots that subdivide it, the buildings on the
plots and the residents who live in them.

Block kinds come from each district's mix (almaty.yml `fabric`) drawn through smooth random
fields, so soviet microdistricts, private-house quarters and industrial belts form coherent
areas rather than a salt-and-pepper mix; the historic core and the polycentres shift the mix
towards what the programme says they hold.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.demo.figures import apportion, figures
from twin.demo.geo import METRIC_CRS, SmoothField

KINDS = [
    "private_housing",
    "soviet_housing",
    "new_housing",
    "centre_mixed",
    "industrial",
    "public",
    "vacant",
]
POLYCENTRE_BIAS = {  # log-weight boosts: what each polycentre holds today (S2 l.717-722)
    "North": {"industrial": 0.7, "private_housing": 0.2},
    "West": {"industrial": 1.1, "vacant": 0.6},
    "South-West": {"industrial": 0.6, "vacant": 0.8, "centre_mixed": 0.3},
    "East Gate": {"industrial": 0.8, "vacant": 1.2},
    "Historic Centre": {"centre_mixed": 1.6, "public": 0.6, "private_housing": -3.0},
}
ZONING_HEIGHT = {
    "R1": 12.0,
    "R2": 30.0,
    "R3": 80.0,
    "C1": 45.0,
    "C2": 110.0,
    "I1": 25.0,
    "P1": 30.0,
    "G1": 6.0,
    "T1": 20.0,
}


def block_kinds(
    blocks: gpd.GeoDataFrame, polycentres: gpd.GeoDataFrame, rng: np.random.Generator
) -> np.ndarray:
    centroid = shapely.centroid(blocks.geometry.values)
    x, y = shapely.get_x(centroid), shapely.get_y(centroid)
    mix = {d["name_en"]: d["fabric"] for d in figures()["districts"]}
    score = np.empty((len(blocks), len(KINDS)))
    for k, kind in enumerate(KINDS):
        weights = np.array([mix[d].get(kind, 0.0) for d in blocks.district])
        field = SmoothField(rng, (1200, 4500), 10)(x, y)
        with np.errstate(divide="ignore"):
            score[:, k] = np.log(weights) + 1.1 * field
    tree_index, poly_index = shapely.STRtree(polycentres.geometry.values).query(
        centroid, predicate="within"
    )
    for block, poly in zip(tree_index, poly_index):
        for kind, boost in POLYCENTRE_BIAS.get(polycentres.name.iloc[poly], {}).items():
            score[block, KINDS.index(kind)] += boost
    return np.asarray(KINDS, dtype=object)[np.argmax(score, axis=1)]


def subdivide(
    blocks: gpd.GeoDataFrame,
    quads: np.ndarray,
    kinds: np.ndarray,
    scale: dict,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Plots: each block's quad cut into a grid of nx x ny cells (bilinear), clipped to the
    block where the block is not the whole quad."""
    side_u = 0.5 * (
        np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
        + np.linalg.norm(quads[:, 2] - quads[:, 3], axis=1)
    )
    side_v = 0.5 * (
        np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
        + np.linalg.norm(quads[:, 2] - quads[:, 1], axis=1)
    )
    sizes = scale["plot_size_m"]
    low = np.array([sizes[k][0] for k in kinds], dtype=float)
    high = np.array([sizes[k][1] for k in kinds], dtype=float)
    width = rng.uniform(low, high)
    depth = rng.uniform(low, high) * np.where(kinds == "private_housing", 1.5, 1.0)
    long_is_u = side_u >= side_v
    # private houses front the longer side: narrow plots along it, deep ones across it
    size_u = np.where(long_is_u, width, depth)
    size_v = np.where(long_is_u, depth, width)
    cap = int(scale["max_plots_per_side"])
    nx = np.clip(np.rint(side_u / size_u), 1, cap).astype(np.int64)
    ny = np.clip(np.rint(side_v / size_v), 1, cap).astype(np.int64)
    count = nx * ny
    block_of = np.repeat(np.arange(len(blocks)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i = k % nx[block_of]
    j = k // nx[block_of]
    u0, u1 = i / nx[block_of], (i + 1) / nx[block_of]
    v0, v1 = j / ny[block_of], (j + 1) / ny[block_of]
    q = quads[block_of]

    def bilinear(u, v):
        return (
            ((1 - u) * (1 - v))[:, None] * q[:, 0]
            + (u * (1 - v))[:, None] * q[:, 1]
            + (u * v)[:, None] * q[:, 2]
            + ((1 - u) * v)[:, None] * q[:, 3]
        )

    ring = np.stack(
        [bilinear(u0, v0), bilinear(u1, v0), bilinear(u1, v1), bilinear(u0, v1), bilinear(u0, v0)],
        axis=1,
    )
    geoms = shapely.polygons(ring)
    clipped = ~blocks.exact.to_numpy()[block_of]
    if clipped.any():
        block_geoms = np.asarray(blocks.geometry.values, dtype=object)[block_of[clipped]]
        cut = shapely.intersection(shapely.make_valid(geoms[clipped]), block_geoms)
        geoms[clipped] = _largest(cut)
    area = shapely.area(geoms)
    full = shapely.area(shapely.polygons(ring))
    keep = (area > 60) & (area > 0.2 * full)
    plots = gpd.GeoDataFrame(
        {
            "block": block_of,
            "plot_no": k + 1,
            "kind": kinds[block_of],
            "district": blocks.district.to_numpy()[block_of],
            "block_code": blocks.block_code.to_numpy()[block_of],
            "side_u": (side_u / nx)[block_of],
            "side_v": (side_v / ny)[block_of],
            "clipped": clipped,
        },
        geometry=geoms,
        crs=METRIC_CRS,
    )
    plots = plots[keep].reset_index(drop=True)
    plots["area_m2"] = shapely.area(plots.geometry.values)
    plots["cadastral_number"] = plots.block_code + "-" + plots.plot_no.map(lambda n: f"{n:03d}")
    return plots


def _largest(geoms: np.ndarray) -> np.ndarray:
    out = geoms.copy()
    for index in np.nonzero(shapely.get_type_id(geoms) != 3)[0]:
        parts = [p for p in shapely.get_parts(geoms[index]) if p.geom_type == "Polygon"]
        out[index] = max(parts, key=lambda p: p.area) if parts else shapely.Polygon()
    return out


LAND_USE_MIX = {  # plot land use within each kind of block (synthetic)
    "private_housing": {"residential": 0.93, "commercial": 0.03, "public": 0.01, "vacant": 0.03},
    "soviet_housing": {"residential": 0.84, "public": 0.06, "commercial": 0.06, "green": 0.04},
    "new_housing": {
        "residential": 0.74,
        "mixed": 0.14,
        "commercial": 0.06,
        "public": 0.04,
        "green": 0.02,
    },
    "centre_mixed": {
        "mixed": 0.34,
        "commercial": 0.24,
        "residential": 0.22,
        "public": 0.17,
        "green": 0.03,
    },
    "industrial": {"industrial": 0.84, "commercial": 0.06, "vacant": 0.08, "transport": 0.02},
    "public": {"public": 0.82, "green": 0.12, "commercial": 0.06},
    "vacant": {"vacant": 0.88, "green": 0.07, "transport": 0.05},
}
OWNERS = {
    "residential": {"private": 0.72, "municipal": 0.2, "leased": 0.08},
    "mixed": {"private": 0.8, "leased": 0.2},
    "commercial": {"private": 0.68, "leased": 0.32},
    "industrial": {"private": 0.55, "leased": 0.3, "state": 0.15},
    "public": {"state": 0.7, "municipal": 0.3},
    "green": {"municipal": 1.0},
    "transport": {"state": 1.0},
    "vacant": {"municipal": 0.55, "state": 0.45},
}


def _choose(
    rng: np.random.Generator, keys: np.ndarray, table: dict[str, dict[str, float]]
) -> np.ndarray:
    out = np.empty(len(keys), dtype=object)
    for key, mix in table.items():
        mask = keys == key
        if mask.any():
            names = list(mix)
            probs = np.array([mix[n] for n in names])
            out[mask] = rng.choice(names, size=int(mask.sum()), p=probs / probs.sum())
    return out


def plot_land_use(plots: gpd.GeoDataFrame, rng: np.random.Generator) -> None:
    plots["land_use"] = _choose(rng, plots.kind.to_numpy(), LAND_USE_MIX)
    private = (plots.kind == "private_housing") & (plots.land_use == "residential")
    owner = _choose(rng, plots.land_use.to_numpy(), OWNERS)
    owner[private.to_numpy()] = np.where(rng.random(int(private.sum())) < 0.95, "private", "leased")
    plots["owner_type"] = owner
    start = date(1996, 1, 1).toordinal()
    end = date(2024, 12, 31).toordinal()
    later = np.where(plots.kind == "new_housing", 0.55, 0.0)
    days = start + ((end - start) * np.clip(rng.random(len(plots)) ** 0.8 + later, 0, 1)).astype(
        int
    )
    plots["registered_on"] = [date.fromordinal(int(d)) for d in days]


# levels and construction years by kind (synthetic, after S2 l.640-650: Soviet 2-storey
# houses of 1930-1975, 5- and 9-storey microdistricts; new housing since 2001)
def _levels_and_years(
    kind: np.ndarray, land_use: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = len(kind)
    levels = np.ones(n, dtype=np.int64)
    year = np.full(n, 1980, dtype=np.int64)
    r = rng.random(n)

    def set_(mask, lv, yr):
        levels[mask] = lv[mask] if isinstance(lv, np.ndarray) else lv
        year[mask] = yr[mask] if isinstance(yr, np.ndarray) else yr

    uniform_year = lambda a, b: rng.integers(a, b + 1, n)  # noqa: E731
    m = kind == "private_housing"
    set_(
        m,
        np.where(r < 0.6, 1, np.where(r < 0.95, 2, 3)),
        np.where(rng.random(n) < 0.55, uniform_year(1950, 2000), uniform_year(2001, 2023)),
    )
    m = kind == "soviet_housing"
    soviet_levels = np.select([r < 0.05, r < 0.5, r < 0.85, r < 0.95], [2, 5, 9, 12], 16)
    soviet_years = np.select(
        [r < 0.05, r < 0.5, r < 0.85],
        [uniform_year(1936, 1975), uniform_year(1957, 1976), uniform_year(1972, 1992)],
        uniform_year(1980, 2000),
    )
    set_(m, soviet_levels, soviet_years)
    m = kind == "new_housing"
    set_(
        m,
        rng.integers(9, 25, n),
        np.where(r < 0.15, uniform_year(1994, 2000), uniform_year(2001, 2024)),
    )
    m = kind == "centre_mixed"
    set_(
        m,
        rng.integers(2, 13, n),
        np.where(r < 0.7, uniform_year(1930, 2000), uniform_year(2001, 2023)),
    )
    m = kind == "industrial"
    set_(m, rng.integers(1, 4, n), uniform_year(1940, 2015))
    m = kind == "public"
    set_(m, rng.integers(2, 5, n), uniform_year(1950, 2022))
    m = kind == "vacant"
    set_(m, rng.integers(1, 3, n), uniform_year(1960, 2015))
    shop = land_use == "commercial"
    levels[shop] = np.where(
        kind[shop] == "centre_mixed",
        rng.integers(2, 20, shop.sum()),
        rng.integers(1, 4, shop.sum()),
    )
    public = land_use == "public"
    levels[public] = rng.integers(2, 5, public.sum())
    return levels, year


COVERAGE = {
    "private_housing": 0.5,
    "soviet_housing": 0.62,
    "new_housing": 0.58,
    "centre_mixed": 0.74,
    "industrial": 0.66,
    "public": 0.55,
    "vacant": 0.4,
}
BUILT_USES = {
    "residential": "residential",
    "mixed": "mixed",
    "commercial": "commercial",
    "public": "public",
    "industrial": "industrial",
}


def buildings(plots: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """One building per built plot, set back from the plot's edges; also sets each plot's
    zoning and height limit from what stands on it. Seismic statuses come later
    (seismic_status), once the buildings parks displace are gone, so the shares stay exact."""
    built = plots.land_use.isin(list(BUILT_USES)).to_numpy()
    sub = plots[built]
    kind = sub.kind.to_numpy()
    coverage = np.array([COVERAGE[k] for k in kind])
    setback = (1 - coverage) / 2 * np.minimum(sub.side_u.to_numpy(), sub.side_v.to_numpy())
    footprint = shapely.buffer(sub.geometry.values, -setback, join_style="mitre")
    footprint = _largest(footprint)
    ok = shapely.area(footprint) > 25
    sub, footprint = sub[ok], footprint[ok]
    kind = sub.kind.to_numpy()
    land_use = sub.land_use.to_numpy()
    levels, year = _levels_and_years(kind, land_use, rng)
    use = np.array([BUILT_USES[u] for u in land_use], dtype=object)
    storey = np.select([use == "residential", use == "industrial"], [3.0, 5.0], 3.6)
    height = np.round(levels * storey + rng.uniform(0.6, 2.0, len(sub)), 1)
    zoning = _zoning(land_use, levels, kind)
    limit = np.array([ZONING_HEIGHT[z] for z in zoning])
    height = np.minimum(height, limit)
    area = shapely.area(footprint)
    stock = building_stock(kind, use)
    frame = gpd.GeoDataFrame(
        {
            "plot_cadastral_number": sub.cadastral_number.to_numpy(),
            "use": use,
            "levels": levels,
            "height_m": height,
            "year_built": year,
            "floor_area_m2": np.round(area * levels, 1),
            "stock": stock,
            "seismic_status": np.full(len(sub), "compliant", dtype=object),  # seismic_status()
            "district": sub.district.to_numpy(),
            "plot_index": sub.index.to_numpy(),
        },
        geometry=footprint,
        crs=METRIC_CRS,
    )
    # plots: zoning follows what stands on them; unbuilt plots by land use
    plots["zoning"] = _zoning(
        plots.land_use.to_numpy(), np.full(len(plots), 2), plots.kind.to_numpy()
    )
    plots.loc[frame.plot_index.to_numpy(), "zoning"] = zoning
    plots["max_height_m"] = [ZONING_HEIGHT[z] for z in plots.zoning]
    return frame.reset_index(drop=True)


def _zoning(land_use: np.ndarray, levels: np.ndarray, kind: np.ndarray) -> np.ndarray:
    residential = np.where(levels <= 3, "R1", np.where(levels <= 9, "R2", "R3"))
    vacant = np.where(kind == "new_housing", "R3", "R2")
    return np.select(
        [
            land_use == "residential",
            land_use == "mixed",
            land_use == "commercial",
            land_use == "industrial",
            land_use == "public",
            land_use == "green",
            land_use == "transport",
        ],
        [residential, "C1", np.where(levels > 12, "C2", "C1"), "I1", "P1", "G1", "T1"],
        vacant,
    ).astype(object)


ATTESTED_STOCK = ("apartment", "public")


def building_stock(kind: np.ndarray, use: np.ndarray) -> np.ndarray:
    """What stock a building belongs to: the programme's seismic attestation covered the
    apartment and public buildings (S2 l.640, l.5071), not private houses, shops or works."""
    housing = (use == "residential") | (use == "mixed")
    return np.select(
        [use == "public", housing & (kind == "private_housing"), housing],
        ["public", "private_house", "apartment"],
        "other",
    ).astype(object)


def seismic_status(
    houses: gpd.GeoDataFrame, rng: np.random.Generator, scale: str = "small"
) -> np.ndarray:
    """The attested stock, drawn from the pre-2001 apartment and public buildings: 10,156 of
    them at city scale (S2 l.640, l.5071: >10 thousand), the same share of them at smaller
    scales (almaty.yml); exactly 70% of those need strengthening and 239 in 10,156 (2%)
    are strengthened (S2 l.5071), the
    older and taller ones likelier to need it. Pre-2001 buildings outside it (private houses
    above all) are `not_attested`: the programme's figure does not count them."""
    spec = figures()["seismic"]
    year = houses["year_built"].to_numpy()
    levels = houses["levels"].to_numpy()
    stock = houses["stock"].to_numpy(object)
    status = np.full(len(year), "compliant", dtype=object)
    old = year < spec["code_year"]
    status[old] = "not_attested"
    pool = np.nonzero(old & np.isin(stock, ATTESTED_STOCK))[0]
    if pool.size:
        count = (
            int(spec["attested_buildings"])
            if scale == "city"
            else int(round(spec["attested_share_of_old_stock"] * pool.size))
        )
        count = min(max(count, 1), pool.size)
        attested = np.sort(rng.permutation(pool)[:count])
        status[attested] = "compliant"
        risk = (
            rng.random(attested.size)
            + 0.25 * (year[attested] < 1976)
            + 0.1 * (levels[attested] >= 9)
        )
        order = attested[np.argsort(-risk, kind="stable")]
        need = int(round(spec["needs_strengthening_share"] * attested.size))
        share_done = spec["strengthened"] / spec["attested_buildings"]
        done = int(round(share_done * attested.size))
        status[order[:need]] = "needs_strengthening"
        status[order[need : need + done]] = "strengthened"
    return status


def residents(
    plots: gpd.GeoDataFrame,
    houses: gpd.GeoDataFrame,
    population: dict[str, int] | None = None,
) -> None:
    """Each district's population (S2 l.3814-3825, or `population` by district name: the
    agglomeration's at `metro`) shared among its plots by residential floor area; whole people,
    summing exactly to the district figure."""
    share = np.select([houses.use == "residential", houses.use == "mixed"], [1.0, 0.6], 0.0)
    weight = (
        pd.Series(houses.floor_area_m2.to_numpy() * share, index=houses.plot_index.to_numpy())
        .groupby(level=0)
        .sum()
    )
    plots["residents"] = 0
    w = np.zeros(len(plots))
    w[weight.index.to_numpy()] = weight.to_numpy()
    for district in figures()["districts"]:
        mask = (plots.district == district["name_en"]).to_numpy()
        if not mask.any():
            continue
        weights = w[mask]
        if weights.sum() == 0:
            weights = plots.area_m2.to_numpy()[mask]
        people = district["population"] if population is None else population[district["name_en"]]
        plots.loc[mask, "residents"] = apportion(int(people), weights)

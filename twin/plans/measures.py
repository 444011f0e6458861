"""Plan measures: the figures a plan changes beyond the 15-minute shares.

- the polycentre standards of the programme (S2 §1.1): residents per hectare, the street
  network's density and the blocks it cuts an area into, lit street share;
- plots and residents inside the active faults' setbacks (the twin's rule, seismic.py);
- school and kindergarten places against the children who walk to them;
- the fault setback and utility distances of new housing.

What depends only on the stored city (fault traces, utility lines, capacities, children per
district, area shapes in UTM, the base walking passes) is read once per data version into a
PlanContext, so each plan evaluation is array arithmetic over the plan's network and places.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
import shapely.geometry

from twin.analysis.city import CityModel, rows_at
from twin.analysis.fifteen import LIMIT_MINUTES, category_pass, place_cost
from twin.analysis.network import Snapped, WalkingNetwork, data_versions, to_utm
from twin.analysis.seismic import Hazards, utm_shapes
from twin.analysis.utilities import NETWORKS, SEARCH_M
from twin.sqlfiles import query

LOG = logging.getLogger("twin.plans.measures")

# S2 l.2791 (~320 thousand pupils in 301 schools) over l.3332 (2,135 thousand residents)
PUPILS_PER_RESIDENT = 320_000 / 2_135_000
# Assumed: six yearly cohorts (ages 1-6) of ~20 births per 1,000 residents (Kazakhstan's crude
# birth rate of the early 2020s) = 0.12 children of preschool age per resident; the programme
# gives the queue (43 thousand, l.305), not the age group.
PRESCHOOL_PER_RESIDENT = 6 * 20 / 1000
ASSUMPTIONS = {
    "schools": "pupils (7-17) = residents x 320,000 / 2,135,000 (S2 l.2791, l.3332)",
    "kindergartens": "children aged 1-6 = residents x 0.12 (6 cohorts of ~20 births per 1,000)",
}
# PLACES key -> (amenity kind, districts' children column, the programme ratio)
FACILITIES = {
    "schools": ("school", "children_school_age", PUPILS_PER_RESIDENT),
    "kindergartens": ("kindergarten", "children_preschool_age", PRESCHOOL_PER_RESIDENT),
}
MIN_BLOCK_M2 = 500.0  # faces under 0.05 ha are slivers (a median, a traffic island), no block
WINDOW_MARGIN_M = 150.0  # around the faces a plan's street edit touches, read anew
UTILITY_NETWORKS = tuple(n for n in NETWORKS if n != "lighting")  # lighting serves streets
# Layers the context reads besides the city model's own inputs
CONTEXT_LAYERS = ("seismic_faults", "utility_lines", "amenities", "districts", "plots")


def _utm(shapes_lonlat: np.ndarray) -> np.ndarray:
    if len(shapes_lonlat) == 0:
        return np.array([], dtype=object)
    return shapely.transform(
        np.asarray(shapes_lonlat, dtype=object),
        lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])),
    )


@dataclass
class PlanContext:
    """What plan measures read from PostGIS once per data version."""

    version: tuple
    hazards: Hazards  # active faults (UTM) with their setbacks
    plot_in_setback: np.ndarray  # bool per row of city.plots (its footprint, the twin's rule)
    utility_lines: dict[str, np.ndarray]  # network -> UTM lines
    capacity: dict[int, int]  # stored amenity id -> capacity
    median_capacity: dict[str, int]  # kind -> median capacity of the stored ones
    children: pd.DataFrame  # name, population, children_school_age, children_preschool_age
    district_names: list[str]
    district_utm: np.ndarray
    district_ha: np.ndarray
    polycentre_names: list[str]
    polycentre_utm: np.ndarray
    polycentre_ha: np.ndarray
    # the city the context was made from (a plan's city is compared with it)
    base_network: WalkingNetwork
    plot_x: np.ndarray  # the stored plots' places, in city.plots order
    plot_y: np.ndarray
    plot_codes: dict[str, np.ndarray]  # "district"/"polycentre" -> code per stored plot
    stored_facilities: dict[str, Snapped]  # kind -> where they meet the streets
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def default_capacity(self, kind: str) -> int | None:
        """The capacity a new amenity of `kind` gets when the plan names none."""
        return self.median_capacity.get(kind)

    def children_share(self, facilities: str) -> tuple[np.ndarray, float, bool]:
        """Children per resident in each district (aligned with district_names), the city's
        ratio for places in no district, and whether any of it is the assumed ratio."""
        _, column, ratio = FACILITIES[facilities]
        counts = pd.to_numeric(self.children[column], errors="coerce").to_numpy(float)
        population = pd.to_numeric(self.children["population"], errors="coerce").to_numpy(float)
        known = np.isfinite(counts) & (population > 0)
        share = np.where(known, counts / np.where(population > 0, population, 1.0), ratio)
        city = float(counts[known].sum() / population[known].sum()) if known.any() else ratio
        return share, city, not bool(known.all())


_contexts_lock = threading.Lock()


def plan_context(conn: psycopg.Connection, city: CityModel) -> PlanContext:
    """The context of `city`, read once per version of the city and of the layers it reads
    (kept on the city model, so it goes when the model is reloaded)."""
    version = tuple(city.version) + data_versions(conn, CONTEXT_LAYERS)
    with _contexts_lock:
        ctx = city._cache.get("plan_context")
        if ctx is not None and ctx.version == version:
            return ctx
        ctx = _load_context(conn, city, version)
        city._cache["plan_context"] = ctx
        return ctx


def _load_context(conn: psycopg.Connection, city: CityModel, version: tuple) -> PlanContext:
    hazards = Hazards.load(conn)
    in_setback_ids = {r[0] for r in conn.execute(query("plans/measures_plot_setback"))}
    plot_ids = city.plots["id"].to_numpy() if len(city.plots) else np.zeros(0, np.int64)
    plot_in_setback = np.fromiter((i in in_setback_ids for i in plot_ids), bool, len(plot_ids))

    rows = conn.execute(query("analysis/utility_line_shapes")).fetchall()
    names = np.array([r[0] for r in rows], dtype=object)
    lines = utm_shapes([r[1] for r in rows])
    utility_lines = {n: lines[names == n] for n in UTILITY_NETWORKS if (names == n).any()}

    capacities = conn.execute(query("plans/measures_amenity_capacities")).fetchall()
    capacity = {int(i): int(c) for i, _, c in capacities}
    by_kind: dict[str, list[int]] = {}
    for _, kind, c in capacities:
        by_kind.setdefault(kind, []).append(int(c))
    median_capacity = {k: int(round(float(np.median(v)))) for k, v in by_kind.items()}

    children = pd.DataFrame(
        conn.execute(query("plans/measures_district_children")).fetchall(),
        columns=["name", "population", "children_school_age", "children_preschool_age"],
    )
    district_names = list(city.districts["name"])
    children = children.set_index("name").reindex(district_names).reset_index()
    missing_population = children["population"].isna().to_numpy()
    if missing_population.any() and len(city.plots):  # no census: the plots' residents
        residents = city.plots.groupby("district")["residents"].sum()
        children.loc[missing_population, "population"] = (
            children.loc[missing_population, "name"].map(residents).fillna(0).to_numpy()
        )
    for facilities, (_, column, _) in FACILITIES.items():
        if children[column].isna().any():
            LOG.info("districts without %s: %s", column, ASSUMPTIONS[facilities])

    stored = city.amenities[city.amenities["layer"] == "amenities"]
    stored_facilities = {
        kind: rows_at(city.network, stored[stored["kind"] == kind])
        for kind, _, _ in FACILITIES.values()
    }
    district_utm = _utm(city.district_shapes)
    polycentre_utm = _utm(city.polycentre_shapes)
    for shapes in (district_utm, polycentre_utm):
        shapely.prepare(shapes)
    return PlanContext(
        version=version,
        hazards=hazards,
        plot_in_setback=plot_in_setback,
        utility_lines=utility_lines,
        capacity=capacity,
        median_capacity=median_capacity,
        children=children,
        district_names=district_names,
        district_utm=district_utm,
        district_ha=shapely.area(district_utm) / 10_000 if len(district_utm) else np.zeros(0),
        polycentre_names=list(city.polycentres["name"]),
        polycentre_utm=polycentre_utm,
        polycentre_ha=(
            shapely.area(polycentre_utm) / 10_000 if len(polycentre_utm) else np.zeros(0)
        ),
        base_network=city.network,
        plot_x=city.plot_places.x,
        plot_y=city.plot_places.y,
        plot_codes={
            "district": _codes(city.plots["district"], district_names),
            "polycentre": _codes(city.plots["polycentre"], list(city.polycentres["name"])),
        },
        stored_facilities=stored_facilities,
    )


# -- area measures: density, street fabric, lighting, faults -------------------------------


def _codes(values: Any, names: list[str]) -> np.ndarray:
    """Position of each value in `names` (-1: none of them)."""
    return pd.Categorical(np.asarray(values, dtype=object), categories=names).codes.astype(np.int64)


def _area_codes(areas: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The area (index) each point lies in, -1 outside all (the first when areas overlap)."""
    codes = np.full(len(x), -1, dtype=np.int64)
    for i in range(len(areas) - 1, -1, -1):
        codes[shapely.contains_xy(areas[i], x, y)] = i
    return codes


def _node_codes(ctx: PlanContext, network: WalkingNetwork, group: str) -> np.ndarray:
    """The area of each network node; cached for the first network seen, and a plan's network
    that keeps those nodes first (new ones appended) only has its new nodes placed."""
    areas = ctx.district_utm if group == "districts" else ctx.polycentre_utm
    key = ("node_codes", group)
    cached = ctx._cache.get(key)
    if cached is not None:
        x, y, codes = cached
        if network.x is x:
            return codes
        n = len(x)
        if network.n >= n and np.array_equal(network.x[:n], x) and np.array_equal(network.y[:n], y):
            tail = _area_codes(areas, network.x[n:], network.y[n:])
            return np.concatenate([codes, tail])
    codes = _area_codes(areas, network.x, network.y)
    if cached is None:
        ctx._cache[key] = (network.x, network.y, codes)
    return codes


def _segments(network: WalkingNetwork, edges: np.ndarray) -> np.ndarray:
    u, v = network.edge_u[edges], network.edge_v[edges]
    coords = np.stack(
        [
            np.column_stack([network.x[u], network.y[u]]),
            np.column_stack([network.x[v], network.y[v]]),
        ],
        axis=1,
    )
    return shapely.linestrings(coords) if len(edges) else np.array([], dtype=object)


def _edge_pieces(
    network: WalkingNetwork, areas: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edge, area, metres of it inside the area): whole edges whose ends lie in one area,
    the clipped part of edges that cross an area's edge (a segment crossing an area without
    an end in it is not counted)."""
    cu, cv = codes[network.edge_u], codes[network.edge_v]
    whole = np.flatnonzero((cu == cv) & (cu >= 0))
    crossing = np.flatnonzero(cu != cv)
    edges, area, metres = [whole], [cu[whole]], [network.edge_length[whole]]
    if len(crossing):
        lines = _segments(network, crossing)
        straight = np.maximum(shapely.length(lines), 1e-9)
        for side in (cu[crossing], cv[crossing]):
            chosen = side >= 0
            inside = shapely.length(shapely.intersection(lines[chosen], areas[side[chosen]]))
            edges.append(crossing[chosen])
            area.append(side[chosen])
            metres.append(network.edge_length[crossing[chosen]] * inside / straight[chosen])
    return np.concatenate(edges), np.concatenate(area), np.concatenate(metres)


def face_shapes(
    network: WalkingNetwork,
    area: shapely.Geometry,
    codes: np.ndarray,
    index: int,
    candidates: np.ndarray | None = None,
    window: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """The faces (UTM polygons) the street network cuts `area` into: the segments inside it
    and the crossing ones clipped to it, polygonized with the area's boundary; faces under
    0.05 ha are dropped. A new link across a block splits its face; a closure merges two.
    `candidates` limits the segments read and `window` (x0, y0, x1, y1) the stretch of the
    boundary (a local recompute)."""
    cu, cv = codes[network.edge_u], codes[network.edge_v]
    chosen = np.arange(len(cu)) if candidates is None else candidates
    inside = chosen[(cu[chosen] == index) & (cv[chosen] == index)]
    crossing = chosen[(cu[chosen] == index) != (cv[chosen] == index)]
    clipped = shapely.intersection(_segments(network, crossing), area)
    boundary = shapely.boundary(area)
    if window is not None:
        boundary = shapely.intersection(boundary, shapely.box(*window))
    rim = shapely.union_all(np.concatenate([[boundary], clipped]))
    faces = shapely.get_parts(
        shapely.polygonize(np.concatenate([_segments(network, inside), [rim]]))
    )
    if len(faces) == 0:
        return faces
    faces = faces[shapely.area(faces) >= MIN_BLOCK_M2]
    centre = shapely.get_coordinates(shapely.point_on_surface(faces))
    return faces[shapely.contains_xy(area, centre[:, 0], centre[:, 1])]


def _edge_keys(network: WalkingNetwork) -> np.ndarray:
    """One number per segment from its ends' coordinates (decimetres, either direction), so
    two networks built apart (a plan's) can be compared segment by segment."""
    key = np.round(network.x * 10).astype(np.int64) * 100_000_000 + np.round(network.y * 10).astype(
        np.int64
    )
    a, b = key[network.edge_u], key[network.edge_v]
    low, high = np.minimum(a, b).astype(np.uint64), np.maximum(a, b).astype(np.uint64)
    return low * np.uint64(1_000_003) + high  # wraps: a hash, collisions are negligible


def _base_faces(ctx: PlanContext, group: str) -> list[tuple[np.ndarray, Any]]:
    """The faces of every area of `group` on the city's own network (once per context)."""
    key = ("faces", group)
    if key not in ctx._cache:
        areas = ctx.district_utm if group == "districts" else ctx.polycentre_utm
        network = ctx.base_network
        codes = _node_codes(ctx, network, group)
        faces = [face_shapes(network, a, codes, i) for i, a in enumerate(areas)]
        ctx._cache[key] = [(f, shapely.STRtree(f)) for f in faces]
    return ctx._cache[key]


def _member(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """values in sorted_keys (np.isin hashes both sides on every call; this sorts once)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[at] == values


def _changed_segments(ctx: PlanContext, network: WalkingNetwork) -> np.ndarray:
    """Segments a plan's network adds to or removes from the city's (UTM lines)."""
    if "edge_keys" not in ctx._cache:
        keys = _edge_keys(ctx.base_network)
        ctx._cache["edge_keys"] = (keys, np.sort(keys))
    base, base_sorted = ctx._cache["edge_keys"]
    plan = _edge_keys(network)
    plan_sorted = np.sort(plan)
    added = np.flatnonzero(~_member(plan, base_sorted))
    removed = np.flatnonzero(~_member(base, plan_sorted))
    return np.concatenate([_segments(network, added), _segments(ctx.base_network, removed)])


def block_sizes(
    ctx: PlanContext, network: WalkingNetwork, group: str, changed: np.ndarray | None = None
) -> list[np.ndarray]:
    """Face areas (m²) per area of `group` on `network`: the city's faces, with those a plan's
    added or removed segments touch polygonized anew from the segments around them."""
    base = _base_faces(ctx, group)
    sizes = [shapely.area(faces) for faces, _ in base]
    if network is ctx.base_network:
        return sizes
    changed = _changed_segments(ctx, network) if changed is None else changed
    if len(changed) == 0:
        return sizes
    areas = ctx.district_utm if group == "districts" else ctx.polycentre_utm
    codes = _node_codes(ctx, network, group)
    for i, (faces, tree) in enumerate(base):
        touched = np.unique(tree.query(changed, predicate="intersects")[1])
        if len(touched) == 0:
            continue
        region = shapely.union_all(faces[touched])
        # the touched faces' box and a margin: a sliver merged in may reach a little beyond
        x0, y0, x1, y1 = shapely.bounds(region) + np.array([-1, -1, 1, 1]) * WINDOW_MARGIN_M
        near = (network.x >= x0) & (network.x <= x1) & (network.y >= y0) & (network.y <= y1)
        candidates = np.flatnonzero(near[network.edge_u] | near[network.edge_v])
        fresh = face_shapes(network, areas[i], codes, i, candidates, (x0, y0, x1, y1))
        if len(fresh):
            centre = shapely.get_coordinates(shapely.point_on_surface(fresh))
            shapely.prepare(region)
            fresh = fresh[shapely.contains_xy(region, centre[:, 0], centre[:, 1])]
        kept = np.ones(len(faces), dtype=bool)
        kept[touched] = False
        sizes[i] = np.concatenate([sizes[i][kept], shapely.area(fresh)])
    return sizes


def _plots_first(ctx: PlanContext, places: pd.DataFrame) -> int:
    """The number of stored plots when `places` starts with them in order (a plan's places:
    the plots, then new housing), else 0."""
    n = len(ctx.plot_x)
    if (
        n
        and len(places) >= n
        and np.array_equal(places["x"].to_numpy(float)[:n], ctx.plot_x)
        and np.array_equal(places["y"].to_numpy(float)[:n], ctx.plot_y)
    ):
        return n
    return 0


def _place_codes(ctx: PlanContext, places: pd.DataFrame, column: str, first: int) -> np.ndarray:
    """The district (polycentre) code of each place; the stored plots' own are coded once (a
    plan moves no plot to another district)."""
    names = ctx.district_names if column == "district" else ctx.polycentre_names
    if first == 0:
        return _codes(places[column], names)
    tail = _codes(places[column].to_numpy()[first:], names)
    return np.concatenate([ctx.plot_codes[column], tail])


def setback_flags(ctx: PlanContext, places: pd.DataFrame, first: int | None = None) -> np.ndarray:
    """Whether each place lies in an active fault's setback. The city's own plots (the first
    rows of `places` when they are city.plots in order) answer by their footprint, as the
    published figures do; the rest (new housing) by their point."""
    first = _plots_first(ctx, places) if first is None else first
    x = places["x"].to_numpy(float)
    y = places["y"].to_numpy(float)
    flags = np.zeros(len(places), dtype=bool)
    flags[:first] = ctx.plot_in_setback
    if first < len(places):
        flags[first:] = ctx.hazards.exposure(shapely.points(x[first:], y[first:]))[
            "in_fault_setback"
        ].to_numpy()
    return flags


def area_measures(
    ctx: PlanContext, city: CityModel, network: WalkingNetwork, places: pd.DataFrame
) -> dict[str, Any]:
    """The programme's area standards for the city, each district and each polycentre:
    density_pph, street_density_km_km2, mean_block_ha, lit_share, fault_plots, fault_residents.

    `places` = every place residents live at (the city's plots, then new housing), with x, y
    (UTM), residents, district and polycentre; `network` = the plan's walking network.
    """
    residents = places["residents"].to_numpy(float)
    first = _plots_first(ctx, places)
    in_setback = setback_flags(ctx, places, first) & (residents > 0)
    changed = None if network is ctx.base_network else _changed_segments(ctx, network)
    result: dict[str, Any] = {}
    city_faces: list[np.ndarray] = []
    city_ha = city_km = city_lit_km = 0.0
    for group, column, names, areas, hectares in (
        ("districts", "district", ctx.district_names, ctx.district_utm, ctx.district_ha),
        ("polycentres", "polycentre", ctx.polycentre_names, ctx.polycentre_utm, ctx.polycentre_ha),
    ):
        count = len(names)
        place_codes = _place_codes(ctx, places, column, first)
        kept = place_codes >= 0
        at_fault = kept & in_setback
        people = np.bincount(place_codes[kept], residents[kept], minlength=count)
        fault_plots = np.bincount(place_codes[at_fault], minlength=count)
        fault_people = np.bincount(place_codes[at_fault], residents[at_fault], minlength=count)
        edge, area, metres = _edge_pieces(network, areas, _node_codes(ctx, network, group))
        km = np.bincount(area, metres, minlength=count) / 1000
        lit_km = np.bincount(area, metres * network.edge_lit[edge], minlength=count) / 1000
        sizes = block_sizes(ctx, network, group, changed)
        result[group] = {
            name: _row(
                people[i], hectares[i], km[i], lit_km[i], sizes[i], fault_plots[i], fault_people[i]
            )
            for i, name in enumerate(names)
        }
        if group == "districts":  # the city is its districts
            city_faces, city_ha, city_km, city_lit_km = (
                sizes,
                hectares.sum(),
                km.sum(),
                lit_km.sum(),
            )
    result["city"] = _row(
        residents.sum(),
        city_ha,
        city_km,
        city_lit_km,
        np.concatenate(city_faces) if city_faces else np.zeros(0),
        int(in_setback.sum()),
        float(residents[in_setback].sum()),
    )
    return result


def _row(
    people: float,
    hectares: float,
    km: float,
    lit_km: float,
    face_m2: np.ndarray,
    fault_plots: int,
    fault_people: float,
) -> dict[str, float | int | None]:
    return {
        "density_pph": round(float(people / hectares), 1) if hectares > 0 else None,
        "street_density_km_km2": round(float(km / (hectares / 100)), 2) if hectares > 0 else None,
        "mean_block_ha": round(float(face_m2.mean() / 10_000), 3) if len(face_m2) else None,
        "lit_share": round(float(lit_km / km), 4) if km > 0 else None,
        "fault_plots": int(fault_plots),
        "fault_residents": int(round(float(fault_people))),
    }


# -- school and kindergarten places against the children ------------------------------------


def capacities(ctx: PlanContext, facilities: pd.DataFrame, kind: str) -> np.ndarray:
    """Capacity of each facility: its own (a plan's new school names one), the stored one, or
    the median of its kind."""
    own = (
        pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(float)
        if "capacity" in facilities
        else np.full(len(facilities), np.nan)
    )
    stored = np.array(
        [
            ctx.capacity.get(i, np.nan) if isinstance(i, int | np.integer) else np.nan
            for i in facilities["id"].to_numpy(object)
        ],
        dtype=float,
    )
    default = ctx.median_capacity.get(kind, 0)
    return np.where(np.isfinite(own), own, np.where(np.isfinite(stored), stored, default))


def _pass_key(sources: Snapped) -> np.ndarray:
    where = [sources.segment.astype(float), np.round(sources.fraction, 6)]
    return np.column_stack([*where, np.round(sources.snap_m, 3)])


def nearest_facility(
    ctx: PlanContext,
    network: WalkingNetwork,
    kind: str,
    sources: Snapped,
    mode: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Walking cost from every node to the nearest facility and its index (-1: none within
    30 minutes). On the city's own network the stored facilities' pass is kept, and a plan
    that only adds facilities walks from the new ones alone and keeps the nearer."""
    if network is not ctx.base_network:
        return category_pass(network, sources, mode)
    key = ("facility_pass", kind, mode)
    with ctx._lock:
        if key not in ctx._cache:
            stored = ctx.stored_facilities[kind]
            ctx._cache[key] = (_pass_key(stored), *category_pass(network, stored, mode))
        base_keys, base_cost, base_origin = ctx._cache[key]
    keys = _pass_key(sources)
    if len(keys) == len(base_keys) and np.array_equal(keys, base_keys):
        return base_cost, base_origin
    lookup: dict[tuple[float, float], int] = {}
    for i, k in enumerate(map(tuple, keys)):
        lookup.setdefault(k, i)
    old_to_new = np.array([lookup.get(tuple(k), -1) for k in base_keys], dtype=np.int64)
    distinct = len(np.unique(old_to_new)) == len(old_to_new)
    if len(base_keys) and ((old_to_new < 0).any() or not distinct):
        return category_pass(network, sources, mode)  # removed or moved: walk anew
    added = np.setdiff1d(np.arange(len(keys)), old_to_new)
    cost = base_cost.copy()
    origin = np.where(base_origin >= 0, old_to_new[np.maximum(base_origin, 0)], -1)
    if len(added):
        new_cost, new_origin = category_pass(network, sources.take(added), mode)
        nearer = new_cost < cost
        cost[nearer] = new_cost[nearer]
        origin[nearer] = added[new_origin[nearer]]
    return cost, origin


@dataclass
class Allocation:
    """Children of each place sent to their nearest facility of one kind."""

    facilities: pd.DataFrame  # the facilities (amenity rows) of the kind
    capacity: np.ndarray  # per facility
    load: np.ndarray  # children per facility
    children: np.ndarray  # per place
    facility: np.ndarray  # per place: index into facilities
    reach: np.ndarray  # per place: a facility within the 30-minute limit
    assumed: bool  # children from the programme's ratio (no district counts)


def allocate(
    ctx: PlanContext,
    network: WalkingNetwork,
    amenities: pd.DataFrame,
    places: pd.DataFrame,
    facilities_name: str,
    mode: str = "slope",
    district_codes: np.ndarray | None = None,
) -> Allocation:
    """Each place's children (residents x its district's children per resident) walk to the
    nearest facility of the kind (`facilities_name`: "schools" or "kindergartens")."""
    kind = FACILITIES[facilities_name][0]
    if district_codes is None:
        district_codes = _place_codes(ctx, places, "district", _plots_first(ctx, places))
    share, city_share, assumed = ctx.children_share(facilities_name)
    per_resident = np.where(district_codes >= 0, share[np.maximum(district_codes, 0)], city_share)
    children = places["residents"].to_numpy(float) * per_resident
    facilities = amenities[amenities["kind"] == kind]
    if "layer" in facilities:
        facilities = facilities[facilities["layer"] == "amenities"]
    capacity = capacities(ctx, facilities, kind)
    sources = rows_at(network, facilities)
    cost, origin = nearest_facility(ctx, network, kind, sources, mode)
    walked, facility = place_cost(network, cost, origin, rows_at(network, places), sources, mode)
    reach = (facility >= 0) & (walked <= LIMIT_MINUTES)
    load = np.bincount(facility[reach], children[reach], minlength=len(facilities))
    return Allocation(facilities, capacity, load, children, facility, reach, assumed)


def facility_loads(
    ctx: PlanContext,
    network: WalkingNetwork,
    amenities: pd.DataFrame,
    places: pd.DataFrame,
    facilities_name: str = "schools",
    mode: str = "slope",
) -> pd.DataFrame:
    """Each facility with its capacity and the children walking to it (where a new school
    would relieve an overloaded one)."""
    got = allocate(ctx, network, amenities, places, facilities_name, mode)
    frame = got.facilities[["id", "name", "lon", "lat"]].reset_index(drop=True)
    frame["capacity"] = got.capacity.astype(np.int64)
    frame["load"] = np.round(got.load).astype(np.int64)
    frame["overloaded"] = got.load > got.capacity
    return frame


def places_against_children(
    ctx: PlanContext,
    city: CityModel,
    network: WalkingNetwork,
    amenities: pd.DataFrame,
    places: pd.DataFrame,
    mode: str = "slope",
) -> dict[str, dict[str, Any]]:
    """School and kindergarten places against the children who walk to them.

    Each place's children = its residents x its district's children per resident (the
    district's children / its population; the programme's ratio where the districts carry no
    children, marked "assumed"). Every child goes to the nearest facility of the kind on foot
    (one multi-source pass over the plan's network, 30-minute limit). A facility is overloaded
    when its load exceeds its capacity; deficit = the places short where children can walk (the
    overflow of all facilities), as the programme counts its 19.6 thousand; the children with no
    facility within reach are counted apart (unserved_children: the periphery, whose children
    ride to school, S2 l.555-565). Per district: children and deficit by the CHILDREN's
    district (each child of an overloaded facility carries its share of the overflow), places
    and overloaded by the FACILITY's district (the places and overloaded facilities standing
    in it). `city` is the plan's city (unused beyond the contract: `places`, `amenities` and
    `network` already are the plan's).
    """
    district_codes = _place_codes(ctx, places, "district", _plots_first(ctx, places))
    count = len(ctx.district_names)
    kept = district_codes >= 0
    result: dict[str, dict[str, Any]] = {}
    for facilities_name in FACILITIES:
        got = allocate(ctx, network, amenities, places, facilities_name, mode, district_codes)
        capacity, load, children, reach = got.capacity, got.load, got.children, got.reach
        overflow = np.maximum(load - capacity, 0.0)
        overloaded = load > capacity
        placed_share = np.where(load > 0, np.minimum(capacity, load) / np.maximum(load, 1e-9), 0)
        unserved = children * ~reach
        short = np.zeros_like(children)
        short[reach] = children[reach] * (1 - placed_share[got.facility[reach]])
        fx, fy = to_utm(
            got.facilities["lon"].to_numpy(float), got.facilities["lat"].to_numpy(float)
        )
        facility_district = _area_codes(ctx.district_utm, fx, fy)
        in_district = facility_district >= 0
        by_district = {
            "children": np.bincount(district_codes[kept], children[kept], minlength=count),
            "deficit": np.bincount(district_codes[kept], short[kept], minlength=count),
            "unserved_children": np.bincount(district_codes[kept], unserved[kept], minlength=count),
            "places": np.bincount(
                facility_district[in_district], capacity[in_district], minlength=count
            ),
            "overloaded": np.bincount(facility_district[in_district & overloaded], minlength=count),
        }
        result[facilities_name] = {
            "children": int(round(children.sum())),
            "places": int(round(capacity.sum())),
            "facilities": int(len(got.facilities)),
            "overloaded": int(overloaded.sum()),
            "deficit": int(round(overflow.sum())),
            "unserved_children": int(round(unserved.sum())),
            "assumed": got.assumed,
            "assumption": ASSUMPTIONS[facilities_name] if got.assumed else None,
            "districts": {
                name: {key: int(round(by_district[key][i])) for key in by_district}
                for i, name in enumerate(ctx.district_names)
            },
        }
    return result


# -- new housing: fault setback and utility distances ---------------------------------------


def housing_facts(ctx: PlanContext, geometries_lonlat: list[Any]) -> list[dict[str, Any]]:
    """For each new housing footprint (shapely or GeoJSON, lon/lat): whether it comes within
    an active fault's setback, and metres to the nearest line of each utility network (None
    beyond 5 km or when the layer has no such network)."""
    shapes = np.array(
        [
            g if isinstance(g, shapely.Geometry) else shapely.geometry.shape(g)
            for g in geometries_lonlat
        ],
        dtype=object,
    )
    if len(shapes) == 0:
        return []
    footprints = _utm(shapes)
    in_setback = ctx.hazards.exposure(footprints)["in_fault_setback"].to_numpy()
    distances: dict[str, np.ndarray] = {}
    for network, lines in ctx.utility_lines.items():
        tree = ctx._cache.get(("utility_tree", network))
        if tree is None:
            tree = ctx._cache[("utility_tree", network)] = shapely.STRtree(lines)
        gap = np.full(len(footprints), np.nan)
        (which, _), metres = tree.query_nearest(
            footprints, max_distance=SEARCH_M, return_distance=True, all_matches=False
        )
        gap[which] = np.round(metres, 1)
        distances[network] = gap
    return [
        {
            "in_fault_setback": bool(in_setback[i]),
            "utility_m": {
                n: (None if np.isnan(d[i]) else float(d[i])) for n, d in distances.items()
            },
        }
        for i in range(len(shapes))
    ]


__all__ = [
    "ASSUMPTIONS",
    "PRESCHOOL_PER_RESIDENT",
    "PUPILS_PER_RESIDENT",
    "Allocation",
    "PlanContext",
    "allocate",
    "area_measures",
    "block_sizes",
    "face_shapes",
    "facility_loads",
    "housing_facts",
    "places_against_children",
    "plan_context",
]

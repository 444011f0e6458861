"""A plan's evaluation: the city's indicators with the plan's edits applied, beside today's.

The engine works on the in-memory city (twin.analysis.city.CityModel) and redoes only what the
edits touch:
- amenity and park edits rerun the categories whose sources moved (one multi-source Dijkstra
  each) over the stored network and refresh the baseline tables, as the what-if does;
- street edits change the graph: the edited network is made from the base arrays in memory (the
  same nodes, segments added, removed or lit; twin.analysis.network.WalkingNetwork.edited), so
  nothing is re-read, re-projected or re-sampled and every place keeps its node unless the
  network's main part changed (then places are re-snapped); all categories and the street
  fabric of the walkability score are recomputed on it;
- new housing adds places (points on a 50 m grid inside the area, twin.plans.edits
  .housing_places) appended to the plots, so every share, gain and count includes them;
  demolition sets the residents of the plots inside to 0.
twin.plans.reference computes the same from scratch; the tests hold the two equal.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import h3
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.city import (
    CATEGORIES,
    INPUT_LAYERS,
    SNAP_COLUMNS,
    CityModel,
    Places,
    park_entrances,
    snap_rows,
)
from twin.analysis.fifteen import THRESHOLD_MINUTES, coverage, node_access
from twin.analysis.indicators import (
    _codes,
    access_summaries,
    fabric,
    fifteen_tables,
    place_table,
    refresh_tables,
)
from twin.analysis.network import MODES, WalkingNetwork, data_versions, to_lonlat, to_utm
from twin.analysis.reports import baseline
from twin.analysis.walkability import StreetFabric
from twin.errors import InvalidParameter
from twin.plans.edits import PlanEdits, housing_places, parse_edits
from twin.plans.fire import fire_evaluation
from twin.settings import get_settings
from twin.transit.access import transit_access
from twin.transit.figures import (
    RAPID_MODES,
    TransitFigures,
    city_timetable,
    rapid_transit_minutes,
    transit_figures,
    walk_pt_columns,
)
from twin.transit.plan_trips import plan_timetable, route_lines

LOG = logging.getLogger("twin.plans.evaluate")

AREA_KEYS = (
    "density_pph",
    "mean_block_ha",
    "street_density_km_km2",
    "lit_share",
    "fault_plots",
    "fault_residents",
)
CHILD_KEYS = {
    "schools": ("children_school", "school_places", "school_deficit"),
    "kindergartens": ("children_preschool", "kindergarten_places", "kindergarten_deficit"),
}
GAIN_KEYS = (*CATEGORIES, "categories_15", "all_six")


def base_version(city: CityModel) -> str:
    """The data version the city was loaded at: the versions of every analysis input layer."""
    return "-".join(str(v) for v in city.version)


def current_base_version(conn: psycopg.Connection) -> str:
    """The database's data version now (cheap: no city load); a plan evaluated at another one
    is stale."""
    return "-".join(str(v) for v in data_versions(conn, ("streets", "terrain") + INPUT_LAYERS))


def _measures():
    """A2's measures module, or None while it is not there (its keys are then null)."""
    try:
        from twin.plans import measures
    except ImportError:
        return None
    return measures


def plan_context(conn: psycopg.Connection, city: CityModel) -> Any:
    """The measures' context (fault setbacks, utilities, capacities, children) for the city."""
    measures = _measures()
    return measures.plan_context(conn, city) if measures is not None else None


def places_frame(city: CityModel) -> pd.DataFrame:
    """One row per resident place (plots and new housing) as the measures read them."""
    places = city.plot_places
    return pd.DataFrame(
        {
            "lon": city.plots["lon"].to_numpy(float),
            "lat": city.plots["lat"].to_numpy(float),
            "x": places.x,
            "y": places.y,
            "node": places.node,
            "snap_m": places.snap_m,
            "segment": places.at.segment,
            "fraction": places.at.fraction,
            "residents": city.plots["residents"].to_numpy(np.int64),
            "district": city.plots["district"].to_numpy(object),
            "polycentre": city.plots["polycentre"].to_numpy(object),
        }
    )


def indicator_rows(
    city: CityModel,
    summaries: dict[str, Any],
    mode: str,
    context: Any,
    area: dict[str, Any] | None = None,
    children: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """ROWs of the city, districts and polycentres: the access summaries plus the measures
    (area standards, faults, places against children); keys are null without measures.
    `area` and `children` given are today's, reused when the plan cannot change them."""
    measures = _measures() if context is not None else None
    if measures is not None and (area is None or children is None):
        frame = places_frame(city)
        if area is None:
            area = measures.area_measures(context, city, city.network, frame)
        if children is None:
            children = measures.places_against_children(
                context, city, city.network, city.amenities, frame, mode
            )
    rows: dict[str, Any] = {"city": dict(summaries["city"]), "districts": {}, "polycentres": {}}
    for name, row in summaries["districts"].items():
        rows["districts"][name] = dict(row)
    for name, row in summaries["polycentres"].items():
        rows["polycentres"][name] = dict(row)
    for scope in ("city", "districts", "polycentres"):
        targets = [rows["city"]] if scope == "city" else list(rows[scope].values())
        names = [None] if scope == "city" else list(rows[scope])
        for name, row in zip(names, targets):
            got = area[scope] if area and scope == "city" else (area or {}).get(scope, {})
            got = got if scope == "city" else got.get(name, {})
            for key in AREA_KEYS:
                row[key] = (got or {}).get(key)
            for which, (k_children, k_places, k_deficit) in CHILD_KEYS.items():
                figures = None
                if children is not None and scope == "city":
                    figures = children[which]
                elif children is not None and scope == "districts":
                    figures = children[which].get("districts", {}).get(name)
                row[k_children] = (figures or {}).get("children")
                row[k_places] = (figures or {}).get("places")
                row[k_deficit] = (figures or {}).get("deficit")
    return rows, children


@dataclasses.dataclass
class _Applied:
    """The city with the plan's edits applied incrementally, and what changed."""

    city: CityModel
    categories: tuple[str, ...]  # categories whose sources moved (all after street edits)
    street: bool
    resnapped: bool
    stored_plots: int
    stored_cells: int
    new_edit: np.ndarray  # per new place: the index (in edits.edits) of its housing edit


def _edited_network(city: CityModel, edits: PlanEdits) -> WalkingNetwork:
    links = edits.of("street.link")
    closed = [e.edges for e in edits.of("street.close")]
    lit = [e.edges for e in edits.of("street.light")]
    return city.network.edited(
        add_u=np.array([e.nodes[0] for e in links], np.int64),
        add_v=np.array([e.nodes[1] for e in links], np.int64),
        add_length=np.array([e.length_m for e in links], float),
        add_lit=np.array([bool(e.properties["lit"]) for e in links], bool),
        remove=np.concatenate(closed) if closed else np.zeros(0, np.int64),
        light=np.concatenate(lit) if lit else np.zeros(0, np.int64),
    )


def _junctions(network: WalkingNetwork, nodes: np.ndarray) -> np.ndarray:
    """Whether each of `nodes` is a junction (3+ distinct streets), as
    WalkingNetwork.intersections counts, reading only the segments at those nodes."""
    touching = np.isin(network.edge_u, nodes) | np.isin(network.edge_v, nodes)
    pairs = np.column_stack([network.edge_u[touching], network.edge_v[touching]])
    pairs = np.unique(np.sort(pairs, axis=1), axis=0).ravel()
    return np.bincount(pairs, minlength=network.n)[nodes] >= 3


def plan_fabric(city: CityModel, network: WalkingNetwork, edits: PlanEdits) -> StreetFabric:
    """The street fabric of the edited network: today's rasters with the closed segments, the
    links and the junctions they make or unmake stamped in (no citywide convolution)."""
    base = city.network
    closed = [e.edges for e in edits.of("street.close")]
    removed = np.unique(np.concatenate(closed)) if closed else np.zeros(0, np.int64)
    links = edits.of("street.link")
    link_u = np.array([e.nodes[0] for e in links], np.int64)
    link_v = np.array([e.nodes[1] for e in links], np.int64)
    touched = np.unique(
        np.concatenate([base.edge_u[removed], base.edge_v[removed], link_u, link_v])
    )
    sign = _junctions(network, touched).astype(int) - _junctions(base, touched).astype(int)
    moved = sign != 0
    seg_u = np.concatenate([base.edge_u[removed], link_u])
    seg_v = np.concatenate([base.edge_v[removed], link_v])
    return fabric(city).changed(
        base.x[touched[moved]],
        base.y[touched[moved]],
        sign[moved],
        (base.x[seg_u] + base.x[seg_v]) / 2,
        (base.y[seg_u] + base.y[seg_v]) / 2,
        np.concatenate([base.edge_length[removed], [e.length_m for e in links]]),
        np.concatenate([-np.ones(len(removed)), np.ones(len(links))]),
    )


def _snap(network: WalkingNetwork, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if len(frame):
        x, y = to_utm(frame.lon.to_numpy(float), frame.lat.to_numpy(float))
        for column, values in snap_rows(network, x, y).items():
            frame[column] = values
    return frame


def plan_amenities(
    city: CityModel, edits: PlanEdits, network: WalkingNetwork, resnap: bool
) -> tuple[pd.DataFrame, set[str]]:
    """The plan's amenities (removed, moved, added; added ones with their capacity) and the
    categories whose sources moved."""
    amenities = city.amenities
    stored = (amenities.layer == "amenities").to_numpy()
    removed = {e.properties["amenity"] for e in edits.of("amenity.remove")}
    moves = {e.properties["amenity"]: e for e in edits.of("amenity.move")}
    touched = stored & amenities.id.isin(removed | set(moves)).to_numpy()
    categories = set(amenities.loc[touched, "category"])
    if not touched.any() and not edits.of("amenity.add") and not resnap:
        return amenities, categories
    gone = stored & amenities.id.isin(removed).to_numpy()
    kept = amenities[~gone].copy()
    moved = ((kept.layer == "amenities") & kept.id.isin(set(moves))).to_numpy()
    if moved.any():
        ids = kept.loc[moved, "id"].tolist()
        kept.loc[moved, "lon"] = [moves[i].geometry.x for i in ids]
        kept.loc[moved, "lat"] = [moves[i].geometry.y for i in ids]
        kept.loc[moved] = _snap(network, kept.loc[moved])
    added = pd.DataFrame(
        [
            {
                "layer": "amenities",  # a new amenity of the collection (negative id until stored)
                "id": -(e.index + 1),
                "category": e.properties["category"],
                "kind": e.properties["kind"],
                "name": e.properties["name"],
                "lon": e.geometry.x,
                "lat": e.geometry.y,
                "capacity": e.properties.get("capacity"),
            }
            for e in edits.of("amenity.add")
        ],
        columns=[c for c in amenities.columns if c not in SNAP_COLUMNS],
    )
    categories |= set(added["category"])
    if resnap:
        kept = _snap(network, kept)
    frame = pd.concat([kept, _snap(network, added)], ignore_index=True) if len(added) else kept
    return frame.reset_index(drop=True), categories


def plan_parks(
    city: CityModel, edits: PlanEdits, network: WalkingNetwork, resnap: bool
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, bool]:
    """The plan's parks, their UTM shapes and entrances, and whether they changed."""
    removed = {e.properties["park"] for e in edits.of("park.remove")}
    added = edits.of("park.add")
    if not removed and not added:
        if resnap:
            return (
                city.parks,
                city.park_shapes,
                park_entrances(network, city.park_shapes, city.parks.id.to_numpy()),
                False,
            )
        return city.parks, city.park_shapes, city.entrances, False
    keep = ~city.parks.id.isin(removed).to_numpy()
    new_rows = pd.DataFrame(
        [
            {
                "id": -(e.index + 1),
                "name": e.properties["name"],
                "kind": e.properties["kind"],
                "status": "existing",
                "district": None,
                "area_m2": e.utm.area,
            }
            for e in added
        ],
        columns=list(city.parks.columns),
    )
    new_shapes = np.array([e.utm for e in added], dtype=object)
    parks = (
        pd.concat([city.parks[keep], new_rows], ignore_index=True)
        if added
        else (city.parks[keep].reset_index(drop=True))
    )
    shapes = (
        np.concatenate([city.park_shapes[keep], new_shapes]) if added else (city.park_shapes[keep])
    )
    if resnap:
        entrances = park_entrances(network, shapes, parks.id.to_numpy())
    else:
        entrances = city.entrances[~city.entrances.park.isin(removed)]
        if added:
            entrances = pd.concat(
                [entrances, park_entrances(network, new_shapes, new_rows.id.to_numpy())],
                ignore_index=True,
            )
    return parks, shapes, entrances, True


def area_of(points_lon: np.ndarray, points_lat: np.ndarray, shapes: np.ndarray, names: Any):
    """The name of the (first) area each point lies in, None outside all."""
    found = np.full(len(points_lon), None, dtype=object)
    if len(shapes) and len(points_lon):
        points = shapely.points(points_lon, points_lat)
        which_point, which_area = shapely.STRtree(shapes).query(points, predicate="intersects")
        order = np.lexsort((which_area, which_point))
        which_point, which_area = which_point[order], which_area[order]
        first = np.ones(len(which_point), bool)
        first[1:] = which_point[1:] != which_point[:-1]
        found[which_point[first]] = np.asarray(names, dtype=object)[which_area[first]]
    return found


def new_housing(city: CityModel, edits: PlanEdits) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows (the plots' columns) of the places new housing adds, their UTM x/y, and the index of
    the edit each comes from."""
    xs, ys, residents, which = [], [], [], []
    for k, edit in enumerate(edits.edits):
        if edit.kind in ("housing.add", "building.add") and edit.residents > 0:
            x, y, people = housing_places(edit)
            xs.append(x), ys.append(y), residents.append(people)
            which.append(np.full(len(x), k, np.int64))
    if not xs:
        return city.plots.iloc[:0], np.zeros((0, 2)), np.zeros(0, np.int64)
    x, y = np.concatenate(xs), np.concatenate(ys)
    lon, lat = to_lonlat(x, y)
    rows = pd.DataFrame(
        {
            "id": -np.arange(1, len(x) + 1),
            "cadastral_number": None,
            "land_use": "residential",
            "zoning": None,
            "district": area_of(lon, lat, city.district_shapes, city.districts["name"]),
            "residents": np.concatenate(residents),
            "area_m2": None,
            "lon": lon,
            "lat": lat,
            "polycentre": area_of(lon, lat, city.polycentre_shapes, city.polycentres["name"]),
        },
        columns=list(city.plots.columns),
    )
    return rows, np.column_stack([x, y]), np.concatenate(which)


def demolished(city: CityModel, edits: PlanEdits) -> np.ndarray:
    """Mask of the plots whose point lies inside a housing.remove area."""
    mask = np.zeros(len(city.plots), bool)
    lon, lat = city.plots["lon"].to_numpy(float), city.plots["lat"].to_numpy(float)
    for edit in edits.of("housing.remove"):
        mask |= shapely.contains_xy(edit.geometry, lon, lat)
    return mask


def _plot_cells(city: CityModel) -> np.ndarray:
    """Index into city.cells of each plot's H3 cell (cached on the city)."""
    if "plan_plot_cells" not in city._cache:
        index = pd.Index(city.cells["h3"])
        ids = [
            h3.latlng_to_cell(lat, lon, 9)
            for lon, lat in zip(city.plots.lon.to_numpy(float), city.plots.lat.to_numpy(float))
        ]
        city._cache["plan_plot_cells"] = index.get_indexer(ids)
    return city._cache["plan_plot_cells"]


def _plan_cells(
    city: CityModel, gone: np.ndarray, new_rows: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells with the plan's residents (and, at their end, cells new housing opens), and
    the new cells' UTM centres."""
    cells = city.cells.copy()
    residents = cells["residents"].to_numpy(np.int64).copy()
    if gone.any():
        plot_cells = _plot_cells(city)
        np.subtract.at(residents, plot_cells[gone], city.plots["residents"].to_numpy()[gone])
    extra = pd.DataFrame(columns=cells.columns)
    if len(new_rows):
        ids = [
            h3.latlng_to_cell(lat, lon, 9)
            for lon, lat in zip(new_rows.lon.to_numpy(float), new_rows.lat.to_numpy(float))
        ]
        index = pd.Index(cells["h3"]).get_indexer(ids)
        people = new_rows["residents"].to_numpy(np.int64)
        known = index >= 0
        np.add.at(residents, index[known], people[known])
        plots = cells["plots"].to_numpy(np.int64).copy()
        np.add.at(plots, index[known], 1)
        cells["plots"] = plots
        if not known.all():
            fresh = pd.DataFrame(
                {
                    "h3": np.array(ids, dtype=object)[~known],
                    "residents": people[~known],
                    "district": new_rows["district"].to_numpy(object)[~known],
                }
            )
            fresh = fresh.groupby("h3", sort=True).agg(
                residents=("residents", "sum"),
                plots=("residents", "size"),
                district=("district", "first"),
            )
            centres = np.array([h3.cell_to_latlng(c) for c in fresh.index]).reshape(-1, 2)
            inside = area_of(
                centres[:, 1], centres[:, 0], city.district_shapes, city.districts.name
            )
            extra = pd.DataFrame(
                {
                    "h3": fresh.index.to_numpy(object),
                    "lon": centres[:, 1],
                    "lat": centres[:, 0],
                    "district": np.where(inside != None, inside, fresh["district"]),  # noqa: E711
                    "residents": fresh["residents"].to_numpy(np.int64),
                    "plots": fresh["plots"].to_numpy(np.int64),
                },
                columns=cells.columns,
            )
    cells["residents"] = residents
    cells = pd.concat([cells, extra], ignore_index=True) if len(extra) else cells
    x, y = to_utm(extra.lon.to_numpy(float), extra.lat.to_numpy(float))
    return cells, np.column_stack([x, y]) if len(extra) else np.zeros((0, 2))


def _concat_places(a: Places, b: Places) -> Places:
    return Places.concat([a, b])


def apply_incremental(
    city: CityModel, edits: PlanEdits, timing: dict[str, float] | None = None
) -> _Applied:
    """The plan's city, built from the base in memory with only what the edits change."""
    timing = {} if timing is None else timing
    started = time.perf_counter()
    network = city.network
    resnap = False
    if edits.street_edits:
        network = _edited_network(city, edits)
        resnap = True  # places meet street segments: their indices and the nearest move
        timing["network"] = (time.perf_counter() - started) * 1000
    amenities, categories = plan_amenities(city, edits, network, resnap)
    parks, park_shapes, entrances, parks_changed = plan_parks(city, edits, network, resnap)
    if parks_changed:
        categories.add("parks")
    gone = demolished(city, edits)
    plots = city.plots
    if gone.any():
        plots = plots.copy()
        plots.loc[gone, "residents"] = 0
    new_rows, new_xy, new_edit = new_housing(city, edits)
    if resnap:
        plot_places = Places.snapped(network, city.plot_places.x, city.plot_places.y)
        cell_places = Places.snapped(network, city.cell_places.x, city.cell_places.y)
    else:
        plot_places, cell_places = city.plot_places, city.cell_places
    if len(new_rows):
        plots = pd.concat([plots, new_rows], ignore_index=True)
        plot_places = _concat_places(plot_places, Places.snapped(network, *new_xy.T))
    cells, cell_xy = (city.cells, np.zeros((0, 2)))
    if gone.any() or len(new_rows):
        cells, cell_xy = _plan_cells(city, gone, new_rows)
        if len(cell_xy):
            cell_places = _concat_places(cell_places, Places.snapped(network, *cell_xy.T))
    plan = dataclasses.replace(
        city,
        network=network,
        amenities=amenities,
        parks=parks,
        park_shapes=park_shapes,
        entrances=entrances,
        plots=plots,
        plot_places=plot_places,
        cells=cells,
        cell_places=cell_places,
        _cache={},
    )
    codes = city._cache.get("area_codes")
    if codes is not None:
        plan._cache["area_codes"] = {
            "plot_district": np.concatenate(
                [
                    codes["plot_district"],
                    _codes(new_rows["district"].to_numpy(object), list(city.districts["name"])),
                ]
            ),
            "plot_polycentre": np.concatenate(
                [
                    codes["plot_polycentre"],
                    _codes(new_rows["polycentre"].to_numpy(object), list(city.polycentres["name"])),
                ]
            ),
            "cell_district": np.concatenate(
                [
                    codes["cell_district"],
                    _codes(
                        cells["district"].to_numpy(object)[len(city.cells) :],
                        list(city.districts["name"]),
                    ),
                ]
            ),
        }
    if not parks_changed and "green" in city._cache:
        plan._cache["green"] = city._cache["green"]
    street = edits.street_edits
    if not street:
        plan._cache["fabric"] = fabric(city)
    timing["apply"] = (time.perf_counter() - started) * 1000
    return _Applied(
        plan,
        tuple(CATEGORIES) if street else tuple(c for c in CATEGORIES if c in categories),
        street,
        resnap,
        len(city.plots),
        len(city.cells),
        new_edit,
    )


def _base(city: CityModel, mode: str, context: Any) -> dict[str, Any]:
    """Today's tables and indicator rows (cached on the city, per mode and context)."""
    key = ("plan_base", mode, id(context))
    if key not in city._cache:
        access = baseline(city, mode)
        tables_key = ("tables", mode)  # shared with the what-if (twin.analysis.scenario)
        if tables_key not in city._cache:
            plots, cells = fifteen_tables(city, access, describe=False)
            city._cache[tables_key] = (plots, cells, access_summaries(city, plots, cells))
        plots, cells, summaries = city._cache[tables_key]
        area = None
        if context is not None:
            area = _measures().area_measures(context, city, city.network, places_frame(city))
        rows, children = indicator_rows(city, summaries, mode, context, area=area)
        city._cache[key] = {
            "plots": plots,
            "cells": cells,
            "rows": rows,
            "children": children,
            "area": area,
        }
    return city._cache[key]


# Edits that move neither residents nor streets leave the area standards and faults as today;
# edits of parks alone leave the school and kindergarten places as today too.
SAME_AREA_KINDS = frozenset(
    {"amenity.add", "amenity.remove", "amenity.move", "park.add", "park.remove", "fire_station.add"}
)
SAME_CHILDREN_KINDS = frozenset({"park.add", "park.remove", "fire_station.add"})


def _within(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {c: frame[f"min_{c}"].to_numpy(float) <= THRESHOLD_MINUTES for c in CATEGORIES}
    out["all_six"] = frame["all_six"].to_numpy(bool)
    return out


def gains(
    city: CityModel, base: pd.DataFrame, plan: pd.DataFrame, plan_residents: np.ndarray
) -> dict[str, Any]:
    """Residents who gain and lose each category within 15 minutes (and more categories, and
    all six), for the city and by district. Only residents there both today and in the plan
    count (weights: today's residents of plots the plan does not demolish); the residents of
    new housing are reported in the plan's housing rows, not as gains."""
    n = len(base)
    weight = np.where(plan_residents[:n] > 0, city.plots["residents"].to_numpy(float), 0.0)
    districts = list(city.districts["name"])
    codes = city._cache.get("area_codes", {}).get("plot_district")
    if codes is None or len(codes) != n:
        codes = _codes(city.plots["district"].to_numpy(object), districts)
    b, p = _within(base), _within(plan.iloc[:n])
    count_b = base["categories_15"].to_numpy()
    count_p = plan["categories_15"].to_numpy()[:n]
    masks = {key: (p[key] & ~b[key], b[key] & ~p[key]) for key in (*CATEGORIES, "all_six")}
    masks["categories_15"] = (count_p > count_b, count_p < count_b)
    result: dict[str, Any] = {"city": {}, "districts": {name: {} for name in districts}}
    inside = codes >= 0
    for key in GAIN_KEYS:
        won, lost = masks[key]
        result["city"][key] = {
            "gain": int(round(weight[won].sum())),
            "lose": int(round(weight[lost].sum())),
        }
        by_won = np.bincount(codes[inside], (weight * won)[inside], len(districts))
        by_lost = np.bincount(codes[inside], (weight * lost)[inside], len(districts))
        for i, name in enumerate(districts):
            result["districts"][name][key] = {
                "gain": int(round(by_won[i])),
                "lose": int(round(by_lost[i])),
            }
    return result


def _number(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 2)


def changed_cells(
    city: CityModel, plan: CityModel, base: pd.DataFrame, tables: pd.DataFrame
) -> list[dict[str, Any]]:
    """Every H3 cell whose residents, categories within 15 minutes, all-six, walkability or
    park walk differ between today and the plan (cells new housing opens included)."""
    n = len(base)
    differs = city.cells["residents"].to_numpy() != plan.cells["residents"].to_numpy()[:n]
    for column in ("categories_15", "all_six", "walkability", "park_walk_m"):
        b, a = base[column].to_numpy(float), tables[column].to_numpy(float)[:n]
        differs |= ~((b == a) | (np.isnan(b) & np.isnan(a)))
    rows = []
    for i in np.flatnonzero(differs).tolist() + list(range(n, len(tables))):
        old = i < n
        rows.append(
            {
                "h3": plan.cells["h3"].iat[i],
                "district": plan.cells["district"].iat[i],
                "residents_base": int(city.cells["residents"].iat[i]) if old else 0,
                "residents_plan": int(plan.cells["residents"].iat[i]),
                "categories_15_base": int(base["categories_15"].iat[i]) if old else None,
                "categories_15_plan": int(tables["categories_15"].iat[i]),
                "all_six_base": bool(base["all_six"].iat[i]) if old else None,
                "all_six_plan": bool(tables["all_six"].iat[i]),
                "walkability_base": _number(base["walkability"].iat[i]) if old else None,
                "walkability_plan": _number(tables["walkability"].iat[i]),
                "park_walk_m_base": _number(base["park_walk_m"].iat[i]) if old else None,
                "park_walk_m_plan": _number(tables["park_walk_m"].iat[i]),
            }
        )
    return rows


def _housing_rows(
    edits: PlanEdits, applied: _Applied, tables: pd.DataFrame, context: Any
) -> list[dict[str, Any]]:
    """Each housing.add and building.add: its residents, where they live, what they reach."""
    chosen = [k for k, e in enumerate(edits.edits) if e.kind in ("housing.add", "building.add")]
    if not chosen:
        return []
    n = applied.stored_plots
    plots = applied.city.plots.iloc[n:]
    new_tables = tables.iloc[n:].reset_index(drop=True)
    position = {k: j for j, k in enumerate(chosen)}
    groups = np.array([position[k] for k in applied.new_edit.tolist()], dtype=np.int64)
    (reach,) = (
        coverage(new_tables, plots["residents"].to_numpy(float), [(groups, len(chosen))])
        if len(groups)
        else ([{} for _ in chosen],)
    )
    measures = _measures() if context is not None else None
    facts = (
        measures.housing_facts(context, [edits.edits[k].geometry for k in chosen])
        if measures is not None
        else [{"in_fault_setback": None, "utility_m": None} for _ in chosen]
    )
    rows = []
    for j, k in enumerate(chosen):
        edit = edits.edits[k]
        mine = groups == j
        people = plots["residents"].to_numpy()[mine]
        district = polycentre = None
        if mine.any():
            top = int(np.argmax(people))
            district = plots["district"].to_numpy(object)[mine][top]
            polycentre = plots["polycentre"].to_numpy(object)[mine][top]
        else:
            point = edit.geometry.representative_point()
            city = applied.city
            district = area_of(
                np.array([point.x]), np.array([point.y]), city.district_shapes, city.districts.name
            )[0]
            polycentre = area_of(
                np.array([point.x]),
                np.array([point.y]),
                city.polycentre_shapes,
                city.polycentres.name,
            )[0]
        rows.append(
            {
                "edit": edit.id,
                "kind": edit.kind,
                "residents": int(edit.residents),
                "places": int(mine.sum()),
                "district": district,
                "polycentre": polycentre,
                "in_fault_setback": facts[j].get("in_fault_setback"),
                "utility_m": facts[j].get("utility_m"),
                "reach": reach[j],
            }
        )
    return rows


WALK_PT_ROW = (
    "residents",
    "share_all_six",
    "share_all_six_walk_pt",
    "rapid_transit_gap_residents",
    "rapid_transit_gap_share",
)


def _walk_pt_base(conn: psycopg.Connection, city: CityModel, mode: str) -> dict[str, Any] | None:
    """Today's walk + PT figures (twin.transit.figures, as `twin analyse` publishes them), kept
    on the city while the timetable stays the same; None without a feed."""
    built = city_timetable(conn, city)
    if built is None:
        return None
    tt, _ = built
    key = ("plan_walk_pt_base", mode)
    kept = city._cache.get(key)
    if kept is None or kept["timetable"] is not tt:  # today's, as `twin analyse` makes them
        kept = {"timetable": tt, "figures": transit_figures(conn, city, baseline(city, mode))}
        city._cache[key] = kept
    return kept


def _walk_pt_rows(city: CityModel, figures: TransitFigures, rows: dict[str, Any]) -> dict[str, Any]:
    """KPI 4 by walk + PT for the city, each district and polycentre, beside the walking-only
    share of the same `rows` (the evaluation's indicator rows)."""
    codes = city._cache.get("area_codes") or {}
    districts, polycentres = list(city.districts["name"]), list(city.polycentres["name"])
    by_district = codes.get("plot_district")
    if by_district is None or len(by_district) != len(city.plots):
        by_district = _codes(city.plots["district"].to_numpy(object), districts)
    by_polycentre = codes.get("plot_polycentre")
    if by_polycentre is None or len(by_polycentre) != len(city.plots):
        by_polycentre = _codes(city.plots["polycentre"].to_numpy(object), polycentres)

    def row(figure: dict[str, Any], walking: dict[str, Any]) -> dict[str, Any]:
        out = {"residents": walking.get("residents"), "share_all_six": walking.get("share_all_six")}
        out.update(figure)
        return {k: out.get(k) for k in WALK_PT_ROW}

    (everyone,) = figures.area_rows(city, np.zeros(len(city.plots), np.int64), 1)
    return {
        "city": row(everyone, rows["city"]),
        "districts": {
            name: row(f, rows["districts"].get(name, {}))
            for name, f in zip(districts, figures.area_rows(city, by_district, len(districts)))
        },
        "polycentres": {
            name: row(f, rows["polycentres"].get(name, {}))
            for name, f in zip(
                polycentres, figures.area_rows(city, by_polycentre, len(polycentres))
            )
        },
    }


def _walk_pt_gains(
    city: CityModel, base: pd.DataFrame, plan: pd.DataFrame, plan_residents: np.ndarray
) -> dict[str, Any]:
    """Residents who come within (gain) or fall out of (lose) all six categories within 15
    minutes on foot or by PT; as `gains`, only residents there today and with the plan."""
    n = len(base)
    weight = np.where(plan_residents[:n] > 0, city.plots["residents"].to_numpy(float), 0.0)
    before = base["all_six_walk_pt"].to_numpy(bool)
    after = plan["all_six_walk_pt"].to_numpy(bool)[:n]
    districts = list(city.districts["name"])
    codes = _codes(city.plots["district"].to_numpy(object), districts)
    inside = codes >= 0
    won, lost = after & ~before, before & ~after
    by_won = np.bincount(codes[inside], (weight * won)[inside], len(districts))
    by_lost = np.bincount(codes[inside], (weight * lost)[inside], len(districts))
    return {
        "city": {"gain": int(round(weight[won].sum())), "lose": int(round(weight[lost].sum()))},
        "districts": {
            name: {"gain": int(round(by_won[i])), "lose": int(round(by_lost[i]))}
            for i, name in enumerate(districts)
        },
    }


def _walk_pt_cells(
    city: CityModel, plan: CityModel, base: pd.DataFrame, tables: pd.DataFrame
) -> list[dict[str, Any]]:
    """Every H3 cell whose categories within 15 minutes or all six by walk + PT differ."""
    n = len(base)
    differs = (
        base["categories_15_walk_pt"].to_numpy() != tables["categories_15_walk_pt"].to_numpy()[:n]
    ) | (base["all_six_walk_pt"].to_numpy() != tables["all_six_walk_pt"].to_numpy()[:n])
    return [
        {
            "h3": plan.cells["h3"].iat[i],
            "district": plan.cells["district"].iat[i],
            "residents": int(plan.cells["residents"].iat[i]),
            "categories_15_walk_pt_base": int(base["categories_15_walk_pt"].iat[i])
            if i < n
            else None,
            "categories_15_walk_pt_plan": int(tables["categories_15_walk_pt"].iat[i]),
            "all_six_walk_pt_base": bool(base["all_six_walk_pt"].iat[i]) if i < n else None,
            "all_six_walk_pt_plan": bool(tables["all_six_walk_pt"].iat[i]),
        }
        for i in np.flatnonzero(differs).tolist() + list(range(n, len(tables)))
    ]


def _walk_pt_plots(
    city: CityModel, plan: CityModel, base: pd.DataFrame, tables: pd.DataFrame, added: Any
) -> dict[str, Any]:
    """Today's plots whose walk + PT minutes to some category moved (by more than a second),
    their residents, and the farthest of them from the plan's new stops: how far the plan's
    transit reaches."""
    n = len(base)
    columns = [f"min_{c}_walk_pt" for c in CATEGORIES]
    before = base[columns].to_numpy(float)
    after = tables[columns].to_numpy(float)[:n]
    same = np.isclose(before, after, atol=1 / 60, rtol=0) | (np.isnan(before) & np.isnan(after))
    moved = ~same.all(axis=1)
    farthest = None
    if added is not None and len(added.new_stops) and moved.any():
        stops = added.new_stops
        dx = city.plot_places.x[moved][:, None] - stops["x"].to_numpy(float)[None, :]
        dy = city.plot_places.y[moved][:, None] - stops["y"].to_numpy(float)[None, :]
        farthest = round(float(np.hypot(dx, dy).min(axis=1).max()), 1)
    return {
        "plots": int(moved.sum()),
        "residents": int(city.plots["residents"].to_numpy(np.int64)[moved].sum()),
        "farthest_from_new_stops_m": farthest,
    }


def walk_pt_evaluation(
    conn: psycopg.Connection,
    city: CityModel,
    applied: Any,
    edits: PlanEdits,
    mode: str,
    walking: Any,
    rows: dict[str, Any],
    base_rows: dict[str, Any],
) -> tuple[dict[str, Any] | None, TransitFigures | None]:
    """KPI 4 by walk + PT of today and of the plan (its routes and stops merged into the
    day's timetable, twin.transit.plan_trips), by the code `twin analyse` publishes with
    (twin.transit.figures, twin.transit.access); (None, None) without a feed."""
    base = _walk_pt_base(conn, city, mode)
    if base is None:
        return None, None
    tt, today = base["timetable"], base["figures"]
    plan = applied.city
    added = plan_timetable(tt, edits, plan.network)
    plan_tt = tt if added is None else added.timetable
    if plan.network is city.network and added is None:
        # the same stops on the same streets: the node → stop walks are today's
        for key in [
            k for k in city._cache if isinstance(k, tuple) and k[:1] == ("transit_stop_access",)
        ]:
            plan._cache[key] = city._cache[key]
    access = transit_access(plan, plan_tt, today.when.departures, mode=mode, walking=walking)
    rapid = None
    if added is not None and len(added.new_stops):
        fast = added.new_stops[added.new_stops["mode"].isin(RAPID_MODES)]
        rapid = (fast["lon"].to_numpy(float), fast["lat"].to_numpy(float))
    figures = TransitFigures(
        when=today.when,
        plots=walk_pt_columns(access, plan.plot_places),
        cells=walk_pt_columns(access, plan.cell_places),
        rapid_minutes=rapid_transit_minutes(conn, plan, mode, rapid),
        feed={"stops": int(plan_tt.n_stops), "trips": int(plan_tt.trips)},
    )
    block = {
        "period": today.when.label(),
        "feed": today.feed,
        "routes": [] if added is None else added.routes,
        "stops": [] if added is None else added.stops,
        "timetable": {"stops": int(plan_tt.n_stops), "trips": int(plan_tt.trips)},
        "base": _walk_pt_rows(city, today, base_rows),
        "plan": _walk_pt_rows(plan, figures, rows),
        "gains": _walk_pt_gains(
            city, today.plots, figures.plots, plan.plots["residents"].to_numpy(np.int64)
        ),
        "changed_cells": _walk_pt_cells(city, plan, today.cells, figures.cells),
        "plots_changed": _walk_pt_plots(city, plan, today.plots, figures.plots, added),
    }
    block["delta"] = {
        "city": _delta(block["base"]["city"], block["plan"]["city"]),
        **{
            scope: {
                name: _delta(block["base"][scope].get(name), row)
                for name, row in block["plan"][scope].items()
            }
            for scope in ("districts", "polycentres")
        },
    }
    return block, figures


def _delta(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    from twin.plans.compare import delta

    return delta(a, b)


def _places(children: dict[str, Any] | None, which: str) -> dict[str, Any] | None:
    return children[which] if children is not None else None


def evaluate_plan(
    city: CityModel,
    edits: Any,
    mode: str = "slope",
    context: Any = None,
    conn: psycopg.Connection | None = None,
) -> dict[str, Any]:
    """THE EVALUATION of a plan (see the contract in the module's callers): the plan's and
    today's indicators, gains and losses, school and kindergarten places, new housing, the
    changed cells and where the time went. `edits` may be parsed PlanEdits or raw GeoJSON;
    `context` is the measures' context (twin.plans.measures.plan_context), made from `conn`
    when absent."""
    started = time.perf_counter()
    timing: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timing[name] = round((now - since) * 1000, 1)
        return now

    if mode not in MODES:
        raise InvalidParameter(f"unknown walking mode {mode!r}; use one of {', '.join(MODES)}")
    t = started
    if not isinstance(edits, PlanEdits):
        if conn is not None:
            route_lines(city, conn)  # the feed's routes a new stop is checked against
        edits = parse_edits(edits, city)
        t = lap("parse", t)
    if context is None and conn is not None:
        context = plan_context(conn, city)
    base = _base(city, mode, context)
    t = lap("base", t)
    applied = apply_incremental(city, edits, timing)
    timing["apply"] = round(timing["apply"], 1)
    if "network" in timing:
        timing["network"] = round(timing["network"], 1)
    t = time.perf_counter()
    plan = applied.city
    if applied.street:
        access = node_access(plan, mode)
        t = lap("access", t)
        plan._cache["fabric"] = plan_fabric(city, plan.network, edits)
        t = lap("fabric", t)
        plots_t, cells_t = fifteen_tables(plan, access, describe=False)
    else:
        access = baseline(city, mode)
        if applied.categories:
            access = node_access(plan, mode, applied.categories, base=access)
        t = lap("access", t)
        stored = (base["plots"], base["cells"])
        if applied.categories:
            stored = refresh_tables(city, stored, access, applied.categories)
        plots_t, cells_t = stored
        n, m = applied.stored_plots, applied.stored_cells
        if len(plan.plots) > n:
            extra = plan.plot_places.take(slice(n, None))
            plots_t = pd.concat(
                [plots_t, place_table(plan, access, extra, describe=False)], ignore_index=True
            )
        if len(plan.cells) > m:
            extra = plan.cell_places.take(slice(m, None))
            cells_t = pd.concat(
                [cells_t, place_table(plan, access, extra, describe=False)], ignore_index=True
            )
    t = lap("tables", t)
    summaries = access_summaries(plan, plots_t, cells_t)
    t = lap("summaries", t)
    kinds = {edit.kind for edit in edits.edits}
    rows, children = indicator_rows(
        plan,
        summaries,
        mode,
        context,
        area=base["area"] if kinds <= SAME_AREA_KINDS else None,
        children=base["children"] if kinds <= SAME_CHILDREN_KINDS else None,
    )
    t = lap("measures", t)
    plan_residents = plan.plots["residents"].to_numpy(np.int64)
    gained = gains(city, base["plots"], plots_t, plan_residents)
    cells = changed_cells(city, plan, base["cells"], cells_t)
    housing = _housing_rows(edits, applied, plots_t, context)
    t = lap("gains_cells_housing", t)
    walk_pt = None
    if conn is not None and (edits.transit_edits or get_settings().plans.walk_pt_every_plan):
        walk_pt, _ = walk_pt_evaluation(
            conn, city, applied, edits, mode, access, rows, base["rows"]
        )
        t = lap("walk_pt", t)
    elif edits.transit_edits:
        raise InvalidParameter("a plan with transit edits is evaluated against the stored feed")
    fire = None
    if conn is not None:
        fire = fire_evaluation(conn, city, plan, edits)
        if fire is not None:
            t = lap("fire", t)
    elif edits.of("fire_station.add"):
        raise InvalidParameter("a plan with a new fire station is evaluated against the database")
    timing["total"] = round((time.perf_counter() - started) * 1000, 1)
    result = {
        "mode": mode,
        "base_version": base_version(city),
        "indicators": rows,
        "base": base["rows"],
        "gains": gained,
        "schools": _school_block(base["children"], children, "schools"),
        "kindergartens": _school_block(base["children"], children, "kindergartens"),
        "housing": housing,
        "changed_cells": cells,
        "walk_pt": walk_pt,
        "fire": fire,
        "edits": {
            "count": len(edits.edits),
            "categories_recomputed": list(applied.categories),
            "network_edited": applied.street,
            "places_resnapped": applied.resnapped,
            "new_places": int(len(plan.plots) - applied.stored_plots),
        },
        "assumptions": list(edits.assumptions),
        "timing_ms": timing,
    }
    LOG.info(
        "plan evaluated: %d edits, %d changed cells in %.0f ms",
        len(edits.edits),
        len(cells),
        timing["total"],
    )
    return _plain(result)


def _school_block(
    base: dict[str, Any] | None, plan: dict[str, Any] | None, which: str
) -> dict[str, Any]:
    before, after = _places(base, which), _places(plan, which)
    closed = None
    if before is not None and after is not None:
        closed = int(before.get("deficit", 0) or 0) - int(after.get("deficit", 0) or 0)
    return {"base": before, "plan": after, "deficit_closed": closed}


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if np.isnan(value) else value
    return value


__all__ = [
    "base_version",
    "current_base_version",
    "evaluate_plan",
    "indicator_rows",
    "places_frame",
    "plan_context",
]

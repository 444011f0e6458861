"""Isochrones: the area reachable on foot from a point within N minutes.

One Dijkstra from the point, met on its nearest street segment and joined to both ends of it
with the partial walks (limited to the largest N); every street segment is walked as far as the
remaining minutes allow (the start's own segment from the point both ways), and the walked
pieces are widened by 40 m (the depth of a street's frontage) into one polygon per N, holes
filled. The widening is done on a 20 m raster
(points every 20 m along the walked pieces, a disc dilation, the outline traced by marching
squares with contourpy): a GEOS buffer-and-union of a thousand segments takes ~100 ms, the
raster a few.

Each band also answers who lives within it: the residents and plots reached (a plot is reached
when its own walk, to its segment and along it, fits in the minutes; the engine's plots.residents
as twin.analysis.city._plot_residents reads them), in total and by district. The data carry no
jobs figure, so no jobs are counted.

A request costs what the walk covers, not what the city holds (the metro demo: 554,201 nodes,
1.18 million plots). The search runs on the nodes within a disc around the point whose radius is
the limit times the fastest any arc is walked (its chord over its minutes): no node outside it
can be reached in time, so the costs are those of the whole graph. The arcs, plots and amenities
reached are then gathered through indexes by node, built once. And a fresh worker needs no city
model: what an isochrone reads (`Reach`, plain arrays) is kept on disk by data version
(TWIN_HOME/cache/reach-*, written whenever a city model is loaded, e.g. by `twin analyse`, or by
the first request that had to build it) and memory-mapped in milliseconds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import pickle
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contourpy
import numpy as np
import orjson
import psycopg
import shapely
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra

from twin.analysis import city as city_module
from twin.analysis.city import (
    INPUT_LAYERS,
    CityModel,
    _plot_residents,
    amenity_places,
    current_network,
    plot_rows,
    rows_at,
)
from twin.analysis.network import (
    MIN_COST,
    Snapped,
    WalkingNetwork,
    data_versions,
    to_lonlat,
    to_utm,
)
from twin.settings import get_settings
from twin.store import database_identity

LOG = logging.getLogger("twin.analysis.isochrones")

FRONTAGE_M = 40.0
CELL_M = 20.0
REACH_FORMAT = "reach-v1"  # the cache directory's prefix: a new layout, a new prefix
SLOPE_GRAPH = ("slope", False, False)  # WalkingNetwork.graph's key of the default walk
AMENITY_TEXT = ("layer", "category", "kind", "name")


# -- what an isochrone reads, as arrays --------------------------------------------------------


@dataclass
class Reach:
    """The network and, as plain arrays, the plots (where they meet the streets, residents,
    district) and the amenities (where, category, the row a feature is made of) with indexes
    by node and by segment: all an isochrone reads, light enough to persist and map."""

    network: WalkingNetwork
    plots: Snapped
    residents: np.ndarray
    district: np.ndarray  # codes into district_names
    district_names: list[str | None]
    amenities: Snapped
    amenity_code: np.ndarray  # codes into categories
    categories: list[str]
    amenity_id: np.ndarray
    amenity_lonlat: np.ndarray  # (k, 2)
    amenity_text: dict[str, np.ndarray]  # AMENITY_TEXT columns as fixed-width str arrays
    amenity_named: np.ndarray  # False where the name is NULL
    index: dict[str, np.ndarray]  # {plots,amenities}_{node,segment}_{ptr,rows}
    version: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False)

    def amenity_rows(self, rows: np.ndarray) -> list[tuple]:
        """(layer, id, category, kind, name, lon, lat) of the amenities `rows`, as Python
        values."""
        text = {c: self.amenity_text[c][rows].tolist() for c in AMENITY_TEXT}
        named = self.amenity_named[rows].tolist()
        return list(
            zip(
                text["layer"],
                self.amenity_id[rows].tolist(),
                text["category"],
                text["kind"],
                [n if k else None for n, k in zip(text["name"], named)],
                self.amenity_lonlat[rows, 0].tolist(),
                self.amenity_lonlat[rows, 1].tolist(),
            )
        )


def _by_key(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An index of rows by an integer key 0..size-1: (ptr, rows), rows of key k at
    rows[ptr[k]:ptr[k + 1]]; `keys` may list a row more than once (a plot by both its nodes)."""
    keys = np.asarray(keys, dtype=np.int64).ravel()
    ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=ptr[1:])
    return ptr, np.argsort(keys, kind="stable")


def _positions(ptr: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ptr[k]..ptr[k + 1] of each key in turn and how many each key has."""
    first = ptr[keys]
    count = ptr[keys + 1] - first
    if not len(keys):
        return np.zeros(0, dtype=np.int64), count
    return np.repeat(first - (np.cumsum(count) - count), count) + np.arange(count.sum()), count


def _gather(ptr: np.ndarray, rows: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of each key in turn and how many each key has."""
    position, count = _positions(ptr, keys)
    return rows[position], count


def _place_index(network: WalkingNetwork, at: Snapped, name: str) -> dict[str, np.ndarray]:
    """Rows of the places by either end node of their segment and by segment (a row index into
    `at`: the node index holds each place twice, once per end)."""
    k = len(at)
    node_ptr, node_order = _by_key(at.node.T.reshape(-1), network.n)
    segment_ptr, segment_rows = _by_key(at.segment, len(network.edge_u))
    return {
        f"{name}_node_ptr": node_ptr,
        f"{name}_node_rows": node_order % max(k, 1),  # position in [ends 0..., ends 1...]
        f"{name}_segment_ptr": segment_ptr,
        f"{name}_segment_rows": segment_rows,
    }


def _text_array(values: Any) -> np.ndarray:
    values = ["" if v is None or v != v else str(v) for v in values]  # None, NaN: ""
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def reach_from(
    network: WalkingNetwork, plots: Any, plot_at: Snapped, amenities: Any, version: tuple
) -> Reach:
    """The Reach of the plots and amenities frames (as twin.analysis.city reads them), met on
    `network` (plot_at: the plots' Snapped, amenities with their snap columns)."""
    names, codes = np.unique(plots["district"].fillna("").to_numpy(str), return_inverse=True)
    categories, category_code = (
        np.unique(amenities["category"].to_numpy(str), return_inverse=True)
        if len(amenities)
        else (np.array([]), np.zeros(0, dtype=np.int64))
    )
    amenity_at = rows_at(network, amenities)
    named = amenities["name"].notna().to_numpy(bool) if len(amenities) else np.zeros(0, bool)
    return Reach(
        network=network,
        plots=plot_at,
        residents=plots["residents"].to_numpy(np.int64),
        district=codes.astype(np.int64),
        district_names=[str(n) if n else None for n in names],
        amenities=amenity_at,
        amenity_code=category_code.astype(np.int64),
        categories=[str(c) for c in categories],
        amenity_id=amenities["id"].to_numpy(np.int64),
        amenity_lonlat=np.column_stack(
            [amenities["lon"].to_numpy(float), amenities["lat"].to_numpy(float)]
        ).reshape(-1, 2),
        amenity_text={c: _text_array(amenities[c]) for c in AMENITY_TEXT},
        amenity_named=named,
        index={
            **_place_index(network, plot_at, "plots"),
            **_place_index(network, amenity_at, "amenities"),
        },
        version=version,
    )


def reach_of(city: CityModel) -> Reach:
    """The Reach of a city model in memory (once per model)."""
    if "reach" not in city._cache:
        city._cache["reach"] = reach_from(
            city.network, city.plots, city.plot_places.at, city.amenities, city.version
        )
    return city._cache["reach"]


def build_reach(conn: psycopg.Connection, network: WalkingNetwork, version: tuple) -> Reach:
    """The Reach read from the database: only the plots and amenities, met on the streets
    (what load_city does for them, without the cells, parks and districts)."""
    plots = plot_rows(conn)
    plots["residents"] = _plot_residents(conn, plots) if len(plots) else []
    px, py = to_utm(plots.lon.to_numpy(float), plots.lat.to_numpy(float))
    plot_at = network.snap_segment_xy(px, py)
    return reach_from(network, plots, plot_at, amenity_places(conn, network), version)


# -- kept on disk by data version --------------------------------------------------------------

_SNAPPED = ("segment", "node", "fraction", "snap_m")


def _reach_dir(database: str, version: tuple) -> Path:
    """Where the Reach of `database` at `version` is kept (one per database: older versions are
    removed when a new one is written)."""
    digest = hashlib.sha256(database.encode()).hexdigest()[:12]
    of_version = hashlib.sha256(repr(tuple(version)).encode()).hexdigest()[:16]
    return get_settings().home / "cache" / f"{REACH_FORMAT}-{digest}-{of_version}"


def save_reach(reach: Reach, database: str) -> Path | None:
    """Write the Reach's arrays (one .npy each) for the next worker to map; a failure to write
    only costs that worker the build, so it is logged, not raised."""
    target = _reach_dir(database, reach.version)
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    arrays = {
        **{f"plots_{n}": getattr(reach.plots, n) for n in _SNAPPED},
        **{f"amenities_{n}": getattr(reach.amenities, n) for n in _SNAPPED},
        "residents": reach.residents,
        "district": reach.district,
        "amenity_code": reach.amenity_code,
        "amenity_id": reach.amenity_id,
        "amenity_lonlat": reach.amenity_lonlat,
        "amenity_named": reach.amenity_named,
        **{f"text_{c}": a for c, a in reach.amenity_text.items()},
        **reach.index,
    }
    if reach.network.n:  # built once here (kept on the network: its analysis uses it too)
        reach.network.graph(*SLOPE_GRAPH[:1], lit_only=False, towards=False)
    built = reach.network._graphs  # what the network built for itself: a fresh worker maps it
    if "segment_samples" in built:
        _, owner, edges = built["segment_samples"]
        arrays |= {"samples_owner": owner, "samples_edges": edges}
    if SLOPE_GRAPH in built:
        graph = built[SLOPE_GRAPH]
        arrays |= {"slope_indptr": graph.indptr, "slope_indices": graph.indices}
        arrays |= {"slope_data": graph.data}
    try:
        partial.mkdir(parents=True, exist_ok=True)
        if "samples_owner" in arrays:  # a KD-tree pickles with its nodes: 0.2 s, not 3 s
            with open(partial / "samples.pickle", "wb") as out:
                pickle.dump(built["segment_samples"][0], out, protocol=5)
        for name, array in arrays.items():
            np.save(partial / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (partial / "meta.json").write_text(
            json.dumps(
                {
                    "version": list(reach.version),
                    "network": list(reach.network.version),
                    "nodes": reach.network.n,
                    "segments": len(reach.network.edge_u),
                    "district_names": reach.district_names,
                    "categories": reach.categories,
                }
            )
        )
        for old in target.parent.glob(f"{target.name[: -len(target.name.split('-')[-1])]}*"):
            if old != partial and not old.name.endswith(".partial"):
                shutil.rmtree(old, ignore_errors=True)
        os.rename(partial, target)
    except OSError as exc:  # another worker won the rename, or the disk is full
        shutil.rmtree(partial, ignore_errors=True)
        if not target.exists():
            LOG.warning("isochrone arrays not kept in %s: %s", target, exc)
            return None
    return target


def _mapped(path: Path) -> np.ndarray:
    try:  # a plain ndarray over the map: a memmap's own indexing is slow in Python
        return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    except ValueError:  # an empty array has nothing to map
        return np.load(path, allow_pickle=False)


def _adopt(network: WalkingNetwork, where: Path, arrays: dict[str, np.ndarray]) -> None:
    """Hand a fresh network what was built for it before: the street samples' KD-tree a point
    is snapped with (3.2 s to build at 554k nodes) and the slope graph (1.1 s). The pickle is
    the twin's own file in TWIN_HOME/cache, written by save_reach, never a user's."""
    built = network._graphs
    if "segment_samples" not in built and (where / "samples.pickle").exists():
        with open(where / "samples.pickle", "rb") as saved:
            tree = pickle.load(saved)
        built["segment_samples"] = (tree, arrays["samples_owner"], arrays["samples_edges"])
    if SLOPE_GRAPH not in built and "slope_indptr" in arrays:
        built[SLOPE_GRAPH] = sparse.csr_matrix(
            (arrays["slope_data"], arrays["slope_indices"], arrays["slope_indptr"]),
            shape=(network.n, network.n),
        )


def load_reach(database: str, version: tuple, network: WalkingNetwork) -> Reach | None:
    """The Reach kept for `database` at `version`, its arrays memory-mapped (None when there is
    none, or it was made on another network)."""
    where = _reach_dir(database, version)
    try:
        meta = json.loads((where / "meta.json").read_text())
        if (
            tuple(meta["version"]) != tuple(version)
            or meta["nodes"] != network.n
            or meta["segments"] != len(network.edge_u)
        ):
            return None
        arrays = {p.stem: _mapped(p) for p in where.glob("*.npy")}
        _adopt(network, where, arrays)
        return Reach(
            network=network,
            plots=Snapped(*(arrays[f"plots_{n}"] for n in _SNAPPED)),
            residents=arrays["residents"],
            district=arrays["district"],
            district_names=meta["district_names"],
            amenities=Snapped(*(arrays[f"amenities_{n}"] for n in _SNAPPED)),
            amenity_code=arrays["amenity_code"],
            categories=meta["categories"],
            amenity_id=arrays["amenity_id"],
            amenity_lonlat=arrays["amenity_lonlat"],
            amenity_text={c: arrays[f"text_{c}"] for c in AMENITY_TEXT},
            amenity_named=arrays["amenity_named"],
            index={k: v for k, v in arrays.items() if k.endswith(("_ptr", "_rows"))},
            version=tuple(version),
        )
    except (OSError, KeyError, ValueError) as exc:
        if where.exists():
            LOG.warning("isochrone arrays in %s unreadable (%s): rebuilding", where, exc)
        return None


def keep_city(conn: psycopg.Connection, city: CityModel) -> None:
    """Keep the Reach of a freshly loaded city model on disk (the analysis' publish, refresh):
    the next worker maps it instead of loading the city."""
    if city.version and not _reach_dir(database_identity(conn), city.version).exists():
        save_reach(reach_of(city), database_identity(conn))


def reach_kept(conn: psycopg.Connection) -> bool:
    """Whether the Reach of the database's current data is kept on disk."""
    version = data_versions(conn, ("streets", "terrain") + INPUT_LAYERS)
    return _reach_dir(database_identity(conn), version).exists()


_current: dict[str, Reach] = {}
_lock = threading.Lock()


def current_reach(conn: psycopg.Connection) -> Reach:
    """This process's Reach, current with the data versions: from the city model it holds, else
    mapped from disk, else read from the database (and kept on disk for the next worker)."""
    version = data_versions(conn, ("streets", "terrain") + INPUT_LAYERS)
    with _lock:
        reach = _current.get("reach")
        if reach is not None and reach.version == version:
            return reach
        city = city_module._current.get("city")
        if city is not None and city.version == version:
            reach = reach_of(city)
        else:
            network = current_network(conn)
            database = database_identity(conn)
            reach = load_reach(database, version, network)
            if reach is None:
                reach = build_reach(conn, network, version)
                save_reach(reach, database)
        _current["reach"] = reach
        return reach


def warm_in_background() -> threading.Thread | None:
    """Ready this worker for its first isochrone in a daemon thread (twin.http.app.create_app):
    map the kept arrays, build the street samples a point is snapped with, the slope graph and
    its indexes (2.4 s of a cold request at 114k nodes). Only where the arrays are kept for the
    current data (an analysed city); a request arriving meanwhile waits only for what is not
    built yet (the same locks)."""

    def warm() -> None:
        from twin.db.pool import connect

        try:
            with connect() as conn:
                if not reach_kept(conn):
                    return
                reach = current_reach(conn)
            network = reach.network
            if network.n:
                network.snap_segment_xy(network.x[:1], network.y[:1])
                _top_speed(network, "slope", False)
                reached_arcs(network, np.zeros(0, np.int64), np.zeros(0), "slope", False)
        except Exception as exc:  # a database not up yet: the first request loads instead
            LOG.debug("isochrone warm-up skipped: %s", exc)

    thread = threading.Thread(target=warm, daemon=True, name="twin isochrone warm-up")
    thread.start()
    return thread


# -- one request -------------------------------------------------------------------------------


def _top_speed(network: WalkingNetwork, mode: str, lit_only: bool) -> float:
    """The fastest any arc of the graph is walked, as its chord (straight metres between its
    nodes) per unit of cost: no node farther than limit x this from where the walk leaves the
    street can be reached within the limit (a path is never shorter than its chords)."""
    key = ("top_speed", mode, lit_only)
    if key not in network._graphs:
        graph = network.graph(mode, lit_only=lit_only)
        row = np.repeat(np.arange(network.n), np.diff(graph.indptr))
        chord = np.hypot(
            network.x[graph.indices] - network.x[row], network.y[graph.indices] - network.y[row]
        )
        network._graphs[key] = float((chord / graph.data).max()) if len(chord) else 0.0
    return network._graphs[key]


def walk_from(
    network: WalkingNetwork,
    start: Snapped,
    x: float,
    y: float,
    limit: float,
    mode: str,
    lit_only: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The nodes reached within `limit` from the point (x, y) met at `start` (ascending) and
    their costs: network.nearest from the start's partial walks, on the sub-graph of the nodes
    that can be reached at all."""
    leave = network.leave_cost(start, mode, lit_only)[0]
    ends = start.node[0]
    usable = np.isfinite(leave) & (leave <= limit)
    if not usable.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    gap = np.hypot(network.x[ends] - x, network.y[ends] - y)
    radius = float(np.max((gap + (limit - leave) * _top_speed(network, mode, lit_only))[usable]))
    radius = radius * (1 + 1e-9) + 1e-6  # rounding: never one node short
    nodes = network.snap_nodes[network._tree.query_ball_point([x, y], radius)]
    nodes.sort()
    graph = network.graph(mode, lit_only=lit_only)
    targets, count = _positions(graph.indptr, nodes)
    column = np.minimum(np.searchsorted(nodes, graph.indices[targets]), len(nodes) - 1)
    inside = nodes[column] == graph.indices[targets]
    m = len(nodes)
    indptr = np.zeros(m + 2, dtype=np.int64)
    np.cumsum(np.bincount(np.repeat(np.arange(m), count)[inside], minlength=m), out=indptr[1:-1])
    joins = np.searchsorted(nodes, ends[usable])
    indptr[-1] = indptr[-2] + len(joins)
    sub = sparse.csr_matrix(
        (
            np.concatenate([graph.data[targets[inside]], np.maximum(leave[usable], MIN_COST)]),
            np.concatenate([column[inside], joins]).astype(np.int32),
            indptr,
        ),
        shape=(m + 1, m + 1),
    )
    cost = dijkstra(sub, directed=True, indices=m, limit=limit)[:m]
    reached = cost <= limit
    return nodes[reached], cost[reached]


def cost_at(nodes: np.ndarray, cost: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The cost of each of `which` (node indices): inf where not reached."""
    if not len(nodes):
        return np.full(len(which), np.inf)
    position = np.minimum(np.searchsorted(nodes, which), len(nodes) - 1)
    return np.where(nodes[position] == which, cost[position], np.inf)


def reached_arcs(
    network: WalkingNetwork, nodes: np.ndarray, cost: np.ndarray, mode: str, lit_only: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arcs leaving the reached nodes (u, v, arc cost, cost of u), lit ones with lit_only."""
    u, v, arc_cost, lit = network.arc_costs(mode)
    key = ("arcs_by_u", mode)
    if key not in network._graphs:
        network._graphs[key] = _by_key(u, network.n)
    arcs, count = _gather(*network._graphs[key], nodes)
    u_cost = np.repeat(cost, count)
    if lit_only:
        keep = lit[arcs]
        arcs, u_cost = arcs[keep], u_cost[keep]
    return u[arcs], v[arcs], arc_cost[arcs], u_cost


def reached_segments(
    network: WalkingNetwork,
    minutes: float,
    arcs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Pieces of street walked within `minutes` as an (k, 2, 2) array of UTM segments."""
    u, v, arc_cost, u_cost = arcs
    keep = u_cost <= minutes
    u, v, arc_cost, u_cost = u[keep], v[keep], arc_cost[keep], u_cost[keep]
    fraction = np.clip((minutes - u_cost) / np.maximum(arc_cost, 1e-9), 0.0, 1.0)
    x0, y0 = network.x[u], network.y[u]
    x1 = x0 + fraction * (network.x[v] - x0)
    y1 = y0 + fraction * (network.y[v] - y0)
    return np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)


def arrive(
    reach: Reach,
    which: str,
    nodes: np.ndarray,
    cost: np.ndarray,
    start: Snapped,
    mode: str,
    lit_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The places (`which`: plots or amenities) with a reached end of their segment or on the
    start's own segment (ascending rows) and the cost from the start to each: by the better end
    of the place's segment, or straight along the start's own segment."""
    network, at, index = reach.network, getattr(reach, which), reach.index
    by_node, _ = _gather(index[f"{which}_node_ptr"], index[f"{which}_node_rows"], nodes)
    own, _ = _gather(
        index[f"{which}_segment_ptr"], index[f"{which}_segment_rows"], start.segment[:1]
    )
    rows = np.unique(np.concatenate([by_node, own]).astype(np.int64))
    places = at.take(rows)
    to = network.reach_cost(places, mode, lit_only)
    total = np.minimum(
        cost_at(nodes, cost, places.node[:, 0]) + to[:, 0],
        cost_at(nodes, cost, places.node[:, 1]) + to[:, 1],
    )
    same = np.flatnonzero(places.segment == start.segment[0])
    if len(same):
        _, j, direct = network.along(start, places.take(same), mode, lit_only)
        total[same[j]] = np.minimum(total[same[j]], direct)
    return rows, total


def reached(reach: Reach, rows: np.ndarray, arrival: np.ndarray, minutes: float) -> dict[str, Any]:
    """Residents and plots within `minutes` (arrival: minutes to the plots `rows`), by
    district."""
    inside = rows[arrival <= minutes]
    district = reach.district[inside]
    residents = reach.residents[inside]
    names = reach.district_names
    people = np.bincount(district, residents, minlength=len(names))
    count = np.bincount(district, minlength=len(names))
    by_district = [
        {"district": name, "residents": int(round(p)), "plots": int(c)}
        for name, p, c in zip(names, people, count)
        if c
    ]
    by_district.sort(key=lambda d: -d["residents"])
    return {
        "residents": int(residents.sum()),
        "plots": int(len(inside)),
        "by_district": by_district,
    }


def _own_segment(network: WalkingNetwork, start: Snapped, minutes: float, mode: str) -> np.ndarray:
    """The pieces of the start's own segment walked from the point towards both ends."""
    e = int(start.segment[0])
    t = float(start.fraction[0])
    u, v = int(network.edge_u[e]), int(network.edge_v[e])
    left = minutes - float(network.snap_cost(start.snap_m, mode)[0])
    if left <= 0:
        return np.zeros((0, 2, 2))
    _, _, arc, _ = network.arc_costs(mode)
    m = len(network.edge_u)
    fx = network.x[u] + t * (network.x[v] - network.x[u])
    fy = network.y[u] + t * (network.y[v] - network.y[u])
    pieces = []
    for end, share, arc_cost in ((u, t, arc[e + m]), (v, 1 - t, arc[e])):
        whole = share * arc_cost
        if share <= 0 or not np.isfinite(whole):
            continue
        k = min(left / whole, 1.0) if whole > 0 else 1.0
        ex = fx + k * (network.x[end] - fx)
        ey = fy + k * (network.y[end] - fy)
        pieces.append([[fx, fy], [ex, ey]])
    return np.array(pieces, dtype=float).reshape(-1, 2, 2)


def _label(minutes: float) -> str:
    return str(int(minutes)) if float(minutes).is_integer() else str(minutes)


def walked_area(pieces: np.ndarray, x: float, y: float) -> shapely.Geometry:
    """The land within 40 m of the walked pieces (and of the start), as (Multi)Polygon in UTM."""
    start = np.array([[[x, y], [x, y]]])
    pieces = np.concatenate([pieces, start]) if len(pieces) else start
    a, b = pieces[:, 0], pieces[:, 1]
    steps = np.maximum(np.ceil(np.hypot(*(b - a).T) / CELL_M).astype(np.int64), 1)
    which = np.repeat(np.arange(len(pieces)), steps + 1)
    first = np.repeat(np.cumsum(steps + 1) - steps - 1, steps + 1)
    t = (np.arange(len(which)) - first) / np.repeat(steps, steps + 1)
    points = a[which] + (b - a)[which] * t[:, None]
    pad = FRONTAGE_M + 2 * CELL_M
    x0, y1 = points[:, 0].min() - pad, points[:, 1].max() + pad
    cols = int((points[:, 0].max() + pad - x0) / CELL_M) + 1
    rows = int((y1 - (points[:, 1].min() - pad)) / CELL_M) + 1
    grid = np.zeros((rows, cols), dtype=bool)
    grid[
        ((y1 - points[:, 1]) / CELL_M).astype(np.int64),
        ((points[:, 0] - x0) / CELL_M).astype(np.int64),
    ] = True
    r = int(round(FRONTAGE_M / CELL_M))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    grid = ndimage.binary_fill_holes(
        ndimage.binary_dilation(grid, structure=(xx**2 + yy**2) <= r * r)
    )
    # the outline of the reached cells, traced by marching squares (contourpy) at the 0.5 level
    z = grid[::-1].astype(np.float64)  # rows from south to north, as contourpy wants
    xs = x0 + (np.arange(cols) + 0.5) * CELL_M
    ys = y1 - (rows - np.arange(rows) - 0.5) * CELL_M
    outlines, offsets = contourpy.contour_generator(
        xs, ys, z, name="serial", fill_type=contourpy.FillType.OuterOffset
    ).filled(0.5, 2.0)
    polygons = [
        shapely.Polygon(
            points[offset[0] : offset[1]], [points[a:b] for a, b in itertools.pairwise(offset[1:])]
        )
        for points, offset in zip(outlines, offsets)
    ]
    shape = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    simple = shapely.simplify(shape, CELL_M / 2, preserve_topology=False)
    return (
        simple
        if shapely.is_valid(simple) and not simple.is_empty
        else shapely.simplify(shape, CELL_M / 2)
    )


def isochrone(
    reach: Reach,
    x: float,
    y: float,
    minutes: list[float],
    mode: str = "slope",
    lit_only: bool = False,
    ride: Callable[[np.ndarray, float], np.ndarray] | None = None,
) -> dict[str, Any]:
    """GeoJSON polygons (largest first) with the residents and plots reached within each, and
    the amenities reachable. `ride` turns the walking minutes per node into walk + public
    transport minutes (twin.transit.access.ride_from, bound to a timetable and departure)."""
    network = reach.network
    start = network.snap_segment_xy(np.array([x]), np.array([y]))
    limit = max(minutes)
    nodes, cost = walk_from(network, start, x, y, limit, mode, lit_only)
    if ride is not None:  # the ride reaches nodes anywhere: on every node, then back
        every = np.full(network.n, np.inf)
        every[nodes] = cost
        every = ride(every, limit)
        nodes = np.flatnonzero(every <= limit)
        cost = every[nodes]
    plot_rows_, plot_arrival = arrive(reach, "plots", nodes, cost, start, mode, lit_only)
    features = []
    arcs = reached_arcs(network, nodes, cost, mode, lit_only)
    for threshold in sorted(minutes, reverse=True):
        pieces = reached_segments(network, threshold, arcs)
        own = _own_segment(network, start, threshold, mode)
        area = walked_area(np.concatenate([pieces, own]) if len(own) else pieces, x, y)
        area_lonlat = shapely.transform(
            area, lambda xy: np.column_stack(to_lonlat(xy[:, 0], xy[:, 1]))
        )
        features.append(
            {
                "type": "Feature",
                "geometry": orjson.loads(shapely.to_geojson(area_lonlat)),
                "properties": {
                    "minutes": threshold,
                    "mode": mode,
                    "lit_only": lit_only,
                    "area_km2": round(float(area.area) / 1e6, 3),
                    "nodes_reached": int((cost <= threshold).sum()),
                    "reached": reached(reach, plot_rows_, plot_arrival, threshold),
                },
            }
        )
    rows, arrival = arrive(reach, "amenities", nodes, cost, start, mode, lit_only)
    inside = np.flatnonzero(arrival <= limit)
    inside = inside[np.argsort(arrival[inside])]
    places = []
    for i, row in zip(inside, reach.amenity_rows(rows[inside])):
        layer, fid, category, kind, name, lon, lat = row
        places.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "layer": layer,
                    "id": fid,
                    "category": category,
                    "kind": kind,
                    "name": name,
                    "minutes": round(float(arrival[i]), 2),
                },
            }
        )
    counts = {}
    for t in minutes:
        number = np.bincount(
            reach.amenity_code[rows[arrival <= t]], minlength=len(reach.categories)
        )
        counts[_label(t)] = {c: int(k) for c, k in zip(reach.categories, number) if k}
    return {
        "type": "FeatureCollection",
        "features": features,
        "amenities": {"type": "FeatureCollection", "features": places},
        "amenity_counts": counts,
        "start": {
            "snap_m": round(float(start.snap_m[0]), 1),
            "node": int(network.node_ids[start.nearer_node[0]]),
        },
    }

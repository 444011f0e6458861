"""The walking network: the streets layer as compact CSR graphs (scipy.sparse), cached by data
version, with slope-aware (Tobler) and flat walking times.

Costs are minutes for the walking modes and metres for `length`. Places (plots, cells,
amenities, a clicked point) meet the nearest point on a street segment of the network's largest
connected part (`snap_segment_xy` -> Snapped): the straight walk to the street is walked at the
flat speed, then the partial length along the segment to either end node at the segment's own
cost (slope-aware like its arcs). Many-to-nearest questions ("minutes from every node to the
nearest school") are one multi-source Dijkstra: each source becomes a virtual node joined to
both ends of its segment by its partial walks, and
`scipy.sparse.csgraph.dijkstra(min_only=True, limit=...)` runs once from all of them.
`snap_xy` (the nearest node) stays for what must start at a node (a route, a new street's ends).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import shapely
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from twin.analysis.profiles import (
    FLAT_SPEED_KMH,
    PROFILES,
    kerb_codes,
    profile_arcs,
    steps_codes,
    tobler_speed_kmh,
)
from twin.errors import ServiceUnavailable, TwinError
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import database_identity

LOG = logging.getLogger("twin.analysis.network")

FLAT_METRES_PER_MINUTE = FLAT_SPEED_KMH * 1000 / 60  # 80 m/min
# the walking profiles slow, wheelchair and night are modes too (twin.analysis.profiles)
MODES = ("slope", "flat", "length", "slow", "wheelchair", "night")
UTM = "EPSG:32643"
_to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
_to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
MIN_COST = 1e-9  # csgraph drops zero-weight edges; keep them as edges
SAMPLE_SPACING_M = 25.0  # segment snapping: candidate points along every segment
SNAP_CANDIDATES = 8  # nearest samples whose segments a point is projected onto
FEW_UNSURE = 64  # up to this many points left unsure: the samples near each, not an STRtree


class NetworkUnavailable(ServiceUnavailable):
    """The walking network is not built yet (503 with Retry-After)."""


def to_utm(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _to_utm.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon), np.asarray(lat)


@dataclass(frozen=True)
class Snapped:
    """Where points meet the network: the nearest point on a street segment of its main part.

    `node` holds the segment's two end nodes (edge_u, edge_v), `fraction` how far along from the
    first (0..1), `snap_m` the straight walk from the point to the street in metres.
    """

    segment: np.ndarray
    node: np.ndarray
    fraction: np.ndarray
    snap_m: np.ndarray

    @classmethod
    def empty(cls) -> Snapped:
        return cls(np.zeros(0, np.int64), np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.segment)

    @property
    def nearer_node(self) -> np.ndarray:
        """The end node nearer along the segment (the node a point is 'at')."""
        return self.node[np.arange(len(self)), (self.fraction > 0.5).astype(np.int64)]

    def take(self, rows: np.ndarray) -> Snapped:
        return Snapped(self.segment[rows], self.node[rows], self.fraction[rows], self.snap_m[rows])

    @classmethod
    def concat(cls, parts: list[Snapped]) -> Snapped:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.segment for p in parts]).astype(np.int64),
            np.concatenate([p.node for p in parts]).reshape(-1, 2).astype(np.int64),
            np.concatenate([p.fraction for p in parts]).astype(float),
            np.concatenate([p.snap_m for p in parts]).astype(float),
        )


@dataclass
class WalkingNetwork:
    """Nodes (UTM metres, lon/lat, elevation) and undirected street segments between them."""

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_lit: np.ndarray
    version: tuple = ()
    slope_aware: bool = True
    edge_steps: np.ndarray | None = None  # twin.analysis.profiles.STEPS codes (None: unknown)
    edge_kerb: np.ndarray | None = None  # twin.analysis.profiles.KERBS codes (None: unknown)
    _graphs: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n(self) -> int:
        return len(self.node_ids)

    def __post_init__(self) -> None:
        labels_count, labels = connected_components(
            self._matrix(np.ones(len(self.edge_u)), self.edge_u, self.edge_v), directed=False
        )
        if self.n:
            main = np.bincount(labels).argmax()
            self.snap_nodes = np.flatnonzero(labels == main)
        else:
            self.snap_nodes = np.zeros(0, dtype=np.int64)
        self._tree = (
            cKDTree(np.column_stack([self.x[self.snap_nodes], self.y[self.snap_nodes]]))
            if self.n
            else None
        )
        self.components = int(labels_count)

    def edited(
        self,
        add_u: np.ndarray,
        add_v: np.ndarray,
        add_length: np.ndarray,
        add_lit: np.ndarray,
        remove: np.ndarray,
        light: np.ndarray,
    ) -> WalkingNetwork:
        """This network with segments added, removed (indices) or lit (a plan's street edits),
        from the arrays in memory: the nodes (and so their heights) stay, nothing is re-read,
        re-projected or re-sampled; the graphs are built lazily as for any network."""
        keep = np.ones(len(self.edge_u), dtype=bool)
        keep[np.asarray(remove, dtype=np.int64)] = False
        lit = self.edge_lit.copy()
        lit[np.asarray(light, dtype=np.int64)] = True
        return WalkingNetwork(
            node_ids=self.node_ids,
            x=self.x,
            y=self.y,
            z=self.z,
            edge_u=np.concatenate([self.edge_u[keep], np.asarray(add_u, self.edge_u.dtype)]),
            edge_v=np.concatenate([self.edge_v[keep], np.asarray(add_v, self.edge_v.dtype)]),
            edge_length=np.concatenate([self.edge_length[keep], np.asarray(add_length, float)]),
            edge_lit=np.concatenate([lit[keep], np.asarray(add_lit, bool)]),
            version=self.version,
            slope_aware=self.slope_aware,
            **{  # a plan's new segments: steps and kerb unknown (code 0)
                name: np.concatenate([known[keep], np.zeros(len(add_u), np.int8)])
                for name in ("edge_steps", "edge_kerb")
                if (known := getattr(self, name)) is not None
            },
        )

    # -- graphs ---------------------------------------------------------------------------
    def _matrix(self, cost: np.ndarray, u: np.ndarray, v: np.ndarray) -> sparse.csr_matrix:
        """CSR of arcs u->v keeping the cheapest of parallel arcs (COO would sum them)."""
        order = np.lexsort((cost, v, u))
        u, v, cost = u[order], v[order], cost[order]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        return sparse.csr_matrix(
            (np.maximum(cost[first], MIN_COST), (u[first], v[first])), shape=(self.n, self.n)
        )

    def arc_costs(self, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directed arcs (both ways along every segment) and their costs in `mode` (cached)."""
        key = ("arcs", mode)
        if key not in self._graphs:
            self._graphs[key] = self._arc_costs(mode)
        return self._graphs[key]

    def _arc_costs(self, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if mode not in MODES:
            raise TwinError(f"unknown walking mode {mode!r}; use one of {', '.join(MODES)}")
        if mode in MODES[3:]:  # a walking profile
            return profile_arcs(self, mode)
        u = np.concatenate([self.edge_u, self.edge_v])
        v = np.concatenate([self.edge_v, self.edge_u])
        length = np.concatenate([self.edge_length, self.edge_length])
        lit = np.concatenate([self.edge_lit, self.edge_lit])
        if mode == "length":
            return u, v, length, lit
        if mode == "flat" or not self.slope_aware:
            return u, v, length / FLAT_METRES_PER_MINUTE, lit
        rise = self.z[v] - self.z[u]
        slope = np.where(length > 0, rise / np.maximum(length, 1e-6), 0.0)
        slope = np.nan_to_num(slope, nan=0.0)
        # slope along a segment is measured between its ends; the walked length stays the
        # map length (at 30% grade the 3D length is 4% longer, Tobler's speed drops 65%)
        minutes = length / (tobler_speed_kmh(slope) * 1000 / 60)
        return u, v, minutes, lit

    def graph(
        self, mode: str = "slope", *, lit_only: bool = False, towards: bool = False
    ) -> sparse.csr_matrix:
        """The CSR graph of `mode`; `towards` reverses it (cost of reaching a node, not leaving)."""
        key = (mode, lit_only, towards)
        with self._lock:
            if key not in self._graphs:
                u, v, cost, lit = self.arc_costs(mode)
                keep = np.isfinite(cost) & (lit if lit_only else True)  # a profile's inf: no arc
                u, v, cost = u[keep], v[keep], cost[keep]
                if towards:
                    u, v = v, u
                self._graphs[key] = self._matrix(cost, u, v)
            return self._graphs[key]

    # -- snapping -------------------------------------------------------------------------
    def snap_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node (index) of the main network and the straight distance in metres (for what
        starts at a node; places meet the streets with snap_segment_xy)."""
        if self._tree is None:
            raise NetworkUnavailable("the walking network is empty: load streets first")
        distance, position = self._tree.query(
            np.column_stack([np.asarray(x, float), np.asarray(y, float)])
        )
        return self.snap_nodes[position], distance

    def snap(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = to_utm(np.atleast_1d(lon), np.atleast_1d(lat))
        return self.snap_xy(x, y)

    def snap_cost(self, snap_m: np.ndarray, mode: str) -> np.ndarray:
        """The snap distance walked on the level (minutes) at the mode's own speed (a slow
        walker's 3 km/h, a wheelchair's 3.6; 4.8 for the others), or metres in `length`."""
        if mode == "length":
            return snap_m
        if mode in ("slope", "flat"):
            return snap_m / FLAT_METRES_PER_MINUTE
        return snap_m / (PROFILES[mode].level_kmh * 1000 / 60)

    def _segment_samples(self) -> tuple[cKDTree, np.ndarray, np.ndarray]:
        """Points every SAMPLE_SPACING_M along the main part's segments and the segment each lies
        on, in a KD-tree, and the main part's segments (built once, on first use)."""
        with self._lock:
            if "segment_samples" not in self._graphs:
                main = np.zeros(self.n, dtype=bool)
                main[self.snap_nodes] = True
                edges = np.flatnonzero(main[self.edge_u] & main[self.edge_v])
                u, v = self.edge_u[edges], self.edge_v[edges]
                straight = np.hypot(self.x[v] - self.x[u], self.y[v] - self.y[u])
                steps = np.maximum(np.ceil(straight / SAMPLE_SPACING_M).astype(np.int64), 1)
                owner = np.repeat(edges, steps + 1)
                first = np.repeat(np.cumsum(steps + 1) - steps - 1, steps + 1)
                t = (np.arange(len(owner)) - first) / np.repeat(steps, steps + 1)
                eu, ev = self.edge_u[owner], self.edge_v[owner]
                xy = np.column_stack(
                    [
                        self.x[eu] + t * (self.x[ev] - self.x[eu]),
                        self.y[eu] + t * (self.y[ev] - self.y[eu]),
                    ]
                )
                self._graphs["segment_samples"] = (cKDTree(xy), owner, edges)
            return self._graphs["segment_samples"]

    def _segment_tree(self) -> shapely.STRtree:
        """The main part's segments in an STRtree (built on first use: a bulk snap needs it, a
        few points do not; 0.7 s at 114k nodes)."""
        _, _, edges = self._segment_samples()
        with self._lock:
            if "segment_tree" not in self._graphs:
                u, v = self.edge_u[edges], self.edge_v[edges]
                lines = shapely.linestrings(
                    np.column_stack([self.x[u], self.y[u], self.x[v], self.y[v]]).reshape(-1, 2, 2)
                )
                self._graphs["segment_tree"] = shapely.STRtree(lines)
            return self._graphs["segment_tree"]

    def _project(
        self, x: np.ndarray, y: np.ndarray, segment: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The foot of each point on its segment: (fraction from edge_u, distance in metres)."""
        u, v = self.edge_u[segment], self.edge_v[segment]
        dx, dy = self.x[v] - self.x[u], self.y[v] - self.y[u]
        squared = dx * dx + dy * dy
        along = (x - self.x[u]) * dx + (y - self.y[u]) * dy
        fraction = np.clip(along / np.where(squared > 0, squared, 1.0), 0.0, 1.0)
        return fraction, np.hypot(x - self.x[u] - fraction * dx, y - self.y[u] - fraction * dy)

    def snap_segment_xy(self, x: np.ndarray, y: np.ndarray) -> Snapped:
        """The nearest point on a street segment of the main part: the segment, how far along it
        (0 at edge_u, 1 at edge_v) and the straight walk to it, so a place between two nodes
        walks the partial lengths, not a detour through the nearer node.

        Exact and vectorised: the segments of the 8 nearest sample points are projected onto;
        a segment nearer than the best of those has a sample within best + spacing/2, so where
        the 8th sample is nearer than that (a few percent of points) the segments of every
        sample within that bound answer (up to FEW_UNSURE such points: a request's one point
        needs no STRtree), else an STRtree of the segments (0.26 s of CPU for 114k points on
        the small demo; the STRtree alone 0.43 s, 0.7 s to build at 114k nodes).
        """
        if self._tree is None:
            raise NetworkUnavailable("the walking network is empty: load streets first")
        x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
        if len(x) == 0:
            return Snapped.empty()
        tree, owner, edges = self._segment_samples()
        k = min(SNAP_CANDIDATES, tree.n)
        sample_d, sample = tree.query(np.column_stack([x, y]), k=k)
        candidates = owner[sample.reshape(len(x), k)]
        fraction, distance = self._project(x[:, None], y[:, None], candidates)
        best = np.argmin(distance, axis=1)
        rows = np.arange(len(x))
        segment, fraction, distance = (
            candidates[rows, best],
            fraction[rows, best],
            distance[rows, best],
        )
        bound = distance + SAMPLE_SPACING_M / 2
        unsure = np.flatnonzero(sample_d.reshape(len(x), k)[:, -1] < bound)
        if len(unsure) and k < tree.n and len(unsure) <= FEW_UNSURE:
            # every sample within the bound: their segments hold the nearest (first by index)
            for row, near in zip(
                unsure,
                tree.query_ball_point(np.column_stack([x[unsure], y[unsure]]), bound[unsure]),
            ):
                candidates = np.unique(owner[near])
                f, d = self._project(x[row], y[row], candidates)
                best = int(np.argmin(d))
                segment[row], fraction[row], distance[row] = candidates[best], f[best], d[best]
        elif len(unsure) and k < tree.n:
            which, nearest = self._segment_tree().query_nearest(
                shapely.points(x[unsure], y[unsure]), all_matches=False
            )
            rows = unsure[which]
            segment[rows] = edges[nearest]
            fraction[rows], distance[rows] = self._project(x[rows], y[rows], segment[rows])
        u, v = self.edge_u[segment], self.edge_v[segment]
        return Snapped(segment, np.column_stack([u, v]), fraction, distance)

    def snap_segment(self, lon: np.ndarray, lat: np.ndarray) -> Snapped:
        x, y = to_utm(np.atleast_1d(lon), np.atleast_1d(lat))
        return self.snap_segment_xy(x, y)

    def _partial(
        self, at: Snapped, mode: str, fraction: np.ndarray, forward: bool, lit_only: bool
    ) -> np.ndarray:
        """`fraction` of each snapped segment walked forward (edge_u -> edge_v) or backward, as
        its arc costs in `mode` (slope-aware like the arc: the slope is the segment's).
        `lit_only`: an unlit segment is walked only to its nearer end (a place must leave its
        own street; at night not the long way along it)."""
        _, _, cost, lit = self.arc_costs(mode)
        arc = at.segment + (0 if forward else len(self.edge_u))
        with np.errstate(invalid="ignore"):  # 0 x inf (a closed arc, nothing walked): NaN, unused
            walked = np.where(fraction > 0, fraction * cost[arc], 0.0)
        if lit_only:
            walked = np.where(lit[arc] | (fraction <= 0.5), walked, np.inf)
        return walked

    def leave_cost(self, at: Snapped, mode: str, lit_only: bool = False) -> np.ndarray:
        """(n, 2): walking from each point to its segment's two end nodes (the straight walk to
        the street at the flat speed, then back or forward along the segment)."""
        on = self.snap_cost(at.snap_m, mode)
        back = self._partial(at, mode, at.fraction, False, lit_only)
        ahead = self._partial(at, mode, 1.0 - at.fraction, True, lit_only)
        return np.column_stack([on + back, on + ahead])

    def reach_cost(self, at: Snapped, mode: str, lit_only: bool = False) -> np.ndarray:
        """(n, 2): walking from each end node of the segment to the point (leave_cost reversed)."""
        on = self.snap_cost(at.snap_m, mode)
        ahead = self._partial(at, mode, at.fraction, True, lit_only)
        back = self._partial(at, mode, 1.0 - at.fraction, False, lit_only)
        return np.column_stack([on + ahead, on + back])

    def along(
        self, start: Snapped, end: Snapped, mode: str, lit_only: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs of a start point and an end point on the same segment and the direct walk between
        them along it (both straight walks to the street included), which passes no node:
        (start index, end index, cost)."""
        order = np.argsort(end.segment, kind="stable")
        per_segment = np.bincount(end.segment, minlength=len(self.edge_u))
        count = per_segment[start.segment]  # gathers, not searches: many starts, few ends
        first = (np.cumsum(per_segment) - per_segment)[start.segment]
        i = np.repeat(np.arange(len(start)), count)
        within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        j = order[np.repeat(first, count) + within]
        if len(i) == 0:
            return i, j, np.zeros(0)
        segment = start.segment[i]
        step = end.fraction[j] - start.fraction[i]
        _, _, cost, lit = self.arc_costs(mode)
        arc = np.where(step >= 0, segment, segment + len(self.edge_u))
        with np.errstate(invalid="ignore"):  # 0 x inf, as in _partial
            walked = np.where(step != 0, np.abs(step) * cost[arc], 0.0)
        if lit_only:  # as _partial: at most half an unlit segment
            walked = np.where(lit[arc] | (np.abs(step) <= 0.5), walked, np.inf)
        on = self.snap_cost(start.snap_m[i], mode) + self.snap_cost(end.snap_m[j], mode)
        return i, j, on + walked

    # -- shortest paths -------------------------------------------------------------------
    def nearest(
        self,
        source_nodes: np.ndarray,
        source_cost: np.ndarray,
        *,
        mode: str = "slope",
        limit: float = np.inf,
        towards: bool = True,
        lit_only: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cost from every node to the nearest source (towards=True) or from it (False).

        Returns (cost per node, index into the sources of the nearest one, -1 when none within
        `limit`). One multi-source Dijkstra over virtual source nodes carrying `source_cost`;
        with (k, 2) nodes and costs a source joins both ends of its street segment (a source
        between two nodes, `reach_cost`/`leave_cost` of its Snapped).
        """
        source_nodes = np.asarray(source_nodes, dtype=np.int64)
        k = len(source_nodes)
        if k == 0:
            return np.full(self.n, np.inf), np.full(self.n, -1, dtype=np.int64)
        base = self.graph(mode, lit_only=lit_only, towards=towards)
        joins = source_nodes.reshape(k, -1)
        join_cost = np.asarray(source_cost, float).reshape(k, -1)
        usable = np.isfinite(join_cost)  # an end the profile cannot walk to: no arc
        indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(usable.sum(axis=1))])
        indices = np.concatenate([base.indices, joins[usable].astype(base.indices.dtype)])
        data = np.concatenate([base.data, np.maximum(join_cost[usable], MIN_COST)])
        augmented = sparse.csr_matrix((data, indices, indptr), shape=(self.n + k, self.n + k))
        cost, _, origin = dijkstra(
            augmented,
            directed=True,
            indices=np.arange(self.n, self.n + k),
            limit=limit,
            min_only=True,
            return_predecessors=True,
        )
        origin = origin[: self.n].astype(np.int64)
        origin = np.where(origin >= self.n, origin - self.n, -1)
        return cost[: self.n], origin

    def from_node(
        self, node: int, *, mode: str = "slope", limit: float = np.inf, lit_only: bool = False
    ) -> np.ndarray:
        """Cost of walking from one node to every node (inf beyond `limit`)."""
        return dijkstra(
            self.graph(mode, lit_only=lit_only), directed=True, indices=int(node), limit=limit
        )

    def intersections(self) -> np.ndarray:
        """Nodes where three or more distinct streets meet."""
        pairs = np.unique(np.sort(np.column_stack([self.edge_u, self.edge_v]), axis=1), axis=0)
        degree = np.bincount(pairs.ravel(), minlength=self.n)
        return np.flatnonzero(degree >= 3)


def build_network(
    source: np.ndarray,
    target: np.ndarray,
    length: np.ndarray,
    lon0: np.ndarray,
    lat0: np.ndarray,
    lon1: np.ndarray,
    lat1: np.ndarray,
    lit: np.ndarray | None = None,
    elevation: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    version: tuple = (),
) -> WalkingNetwork:
    """A network from segment arrays; node coordinates are the segments' end points."""
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    ids, inverse = np.unique(np.concatenate([source, target]), return_inverse=True)
    m = len(source)
    lon = np.empty(len(ids))
    lat = np.empty(len(ids))
    lon[inverse[:m]], lat[inverse[:m]] = lon0, lat0
    lon[inverse[m:]], lat[inverse[m:]] = lon1, lat1
    x, y = to_utm(lon, lat)
    z = np.zeros(len(ids))
    slope_aware = False
    if elevation is not None:
        sampled = np.asarray(elevation(lon, lat), dtype=float)
        if np.isfinite(sampled).any():
            z = np.where(np.isfinite(sampled), sampled, np.nanmean(sampled))
            slope_aware = True
    return WalkingNetwork(
        node_ids=ids,
        x=x,
        y=y,
        z=z,
        edge_u=inverse[:m],
        edge_v=inverse[m:],
        edge_length=np.asarray(length, dtype=float),
        edge_lit=np.zeros(m, bool) if lit is None else np.asarray(lit, bool),
        version=version,
        slope_aware=slope_aware,
    )


# -- loading from the database, cached by data version ------------------------------------


def data_versions(conn: psycopg.Connection, names: tuple[str, ...]) -> tuple[int, ...]:
    rows = dict(conn.execute(query("analysis/data_versions"), {"names": list(names)}).fetchall())
    return tuple(int(rows.get(name, 0)) for name in names)


def _terrain_elevation(conn: psycopg.Connection):
    try:
        from twin.terrain import elevation_at, terrain_path
    except ImportError:
        LOG.warning("no terrain module: walking times are flat (4.8 km/h)")
        return None
    if terrain_path(conn) is None:
        LOG.warning(
            "no terrain loaded: walking times are flat (4.8 km/h); load one with "
            "`twin import-dem` or the demo to make them slope-aware"
        )
        return None
    return elevation_at


def _cache_file(database: str, version: tuple) -> Path:
    """The cached network of `database` at `version`: the data versions alone would hand one
    database's network to another analysed from the same TWIN_HOME."""
    digest = hashlib.sha256(database.encode()).hexdigest()[:12]
    # v2: with the segments' steps and kerbs (an older file lacks them: not read)
    name = f"walking-v2-{digest}-" + "-".join(map(str, version)) + ".npz"
    return get_settings().home / "cache" / name


def load_network(conn: psycopg.Connection) -> WalkingNetwork:
    """The walking network of the database's streets, from the cache when the version matches."""
    version = data_versions(conn, ("streets", "terrain"))
    path = _cache_file(database_identity(conn), version)
    if path.exists():
        try:
            with np.load(path) as saved:
                return WalkingNetwork(
                    node_ids=saved["node_ids"],
                    x=saved["x"],
                    y=saved["y"],
                    z=saved["z"],
                    edge_u=saved["edge_u"],
                    edge_v=saved["edge_v"],
                    edge_length=saved["edge_length"],
                    edge_lit=saved["edge_lit"],
                    version=version,
                    slope_aware=bool(saved["slope_aware"]),
                    edge_steps=saved["edge_steps"],
                    edge_kerb=saved["edge_kerb"],
                )
        except (OSError, KeyError, ValueError):
            LOG.warning("walking network cache %s unreadable: rebuilding", path.name)
    rows = conn.execute(query("analysis/walking_edges")).fetchall()
    if not rows:
        raise NetworkUnavailable(
            "the streets layer has no walkable segments: load the demo "
            "(`twin load demo`) or import streets first"
        )
    s, t, length, lit, x0, y0, x1, y1, steps, kerb = (np.array(col) for col in zip(*rows))
    network = build_network(
        s,
        t,
        length.astype(float),
        x0.astype(float),
        y0.astype(float),
        x1.astype(float),
        y1.astype(float),
        lit.astype(bool),
        elevation=_terrain_elevation(conn),
        version=version,
    )

    network.edge_steps, network.edge_kerb = steps_codes(steps), kerb_codes(kerb)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("walking-*.npz"):
        old.unlink(missing_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez(
        temporary,
        node_ids=network.node_ids,
        x=network.x,
        y=network.y,
        z=network.z,
        edge_u=network.edge_u,
        edge_v=network.edge_v,
        edge_length=network.edge_length,
        edge_lit=network.edge_lit,
        slope_aware=network.slope_aware,
        edge_steps=network.edge_steps,
        edge_kerb=network.edge_kerb,
    )
    temporary.replace(path)
    return network

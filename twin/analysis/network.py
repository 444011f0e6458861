"""The walking network: the streets layer as compact CSR graphs (scipy.sparse), cached by data
version, with slope-aware (Tobler) and flat walking times.

Costs are minutes for the walking modes and metres for `length`. Places (plots, cells,
amenities, a clicked point) are snapped to the nearest node of the network's largest connected
part, and the snap distance is walked at the flat speed and added to every time. Many-to-nearest
questions ("minutes from every node to the nearest school") are one multi-source Dijkstra: each
source becomes a virtual node joined to its snap node by its snap time, and
`scipy.sparse.csgraph.dijkstra(min_only=True, limit=...)` runs once from all of them.
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
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from twin.errors import ServiceUnavailable, TwinError
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import database_identity

LOG = logging.getLogger("twin.analysis.network")

FLAT_SPEED_KMH = 4.8
FLAT_METRES_PER_MINUTE = FLAT_SPEED_KMH * 1000 / 60  # 80 m/min
MODES = ("slope", "flat", "length")
UTM = "EPSG:32643"
_to_utm = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
_to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
MIN_COST = 1e-9  # csgraph drops zero-weight edges; keep them as edges


class NetworkUnavailable(ServiceUnavailable):
    """The walking network is not built yet (503 with Retry-After)."""


def to_utm(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _to_utm.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _to_lonlat.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon), np.asarray(lat)


def tobler_speed_kmh(slope: np.ndarray) -> np.ndarray:
    """Tobler's hiking function scaled so level ground walks at 4.8 km/h.

    Tobler: 6·exp(-3.5·|s + 0.05|) km/h, fastest on a gentle 5% descent; dividing by its value
    at s = 0 and multiplying by 4.8 keeps flat and slope-aware times equal on level ground.
    """
    slope = np.asarray(slope, dtype=float)
    return FLAT_SPEED_KMH * np.exp(-3.5 * (np.abs(slope + 0.05) - 0.05))


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
                if lit_only:
                    u, v, cost = u[lit], v[lit], cost[lit]
                if towards:
                    u, v = v, u
                self._graphs[key] = self._matrix(cost, u, v)
            return self._graphs[key]

    # -- snapping -------------------------------------------------------------------------
    def snap_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node (index) of the main network and the straight snap distance in metres."""
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
        """The snap distance walked at the flat speed (minutes), or metres in `length` mode."""
        return snap_m if mode == "length" else snap_m / FLAT_METRES_PER_MINUTE

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
        `limit`). One multi-source Dijkstra over virtual source nodes carrying `source_cost`.
        """
        source_nodes = np.asarray(source_nodes, dtype=np.int64)
        k = len(source_nodes)
        if k == 0:
            return np.full(self.n, np.inf), np.full(self.n, -1, dtype=np.int64)
        base = self.graph(mode, lit_only=lit_only, towards=towards)
        indptr = np.concatenate([base.indptr, base.indptr[-1] + np.arange(1, k + 1)])
        indices = np.concatenate([base.indices, source_nodes.astype(base.indices.dtype)])
        data = np.concatenate([base.data, np.maximum(np.asarray(source_cost, float), MIN_COST)])
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
    name = f"walking-{digest}-" + "-".join(map(str, version)) + ".npz"
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
                )
        except (OSError, KeyError, ValueError):
            LOG.warning("walking network cache %s unreadable: rebuilding", path.name)
    rows = conn.execute(query("analysis/walking_edges")).fetchall()
    if not rows:
        raise NetworkUnavailable(
            "the streets layer has no walkable segments: load the demo "
            "(`twin load demo`) or import streets first"
        )
    s, t, length, lit, x0, y0, x1, y1 = (np.array(col) for col in zip(*rows))
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
    )
    temporary.replace(path)
    return network

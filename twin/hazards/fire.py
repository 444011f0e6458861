"""Fire-station reach: drive minutes over the streets from the nearest station to every plot,
and the residents beyond 10 minutes by district, with the working stations only and with the
planned depots too (the programme's 4 polycentre depots by 2024; S2 l.5111-5115, l.5153).

Rules (docs/hazards.md): the drive graph is the street network minus pedestrian ways,
footways and paths, each segment at its class's speed (SPEEDS_KMH, both ways); a station
starts at its nearest street node; a plot is reached at its nearest node plus the straight
distance at ACCESS_KMH. Multi-source Dijkstra (scipy) from all stations at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import psycopg
from scipy.sparse.csgraph import dijkstra

from twin.analysis.network import WalkingNetwork, build_network, to_utm
from twin.sqlfiles import query

# Emergency-vehicle average speeds by street class, junctions included (assumed, docs).
SPEEDS_KMH = {
    "motorway": 70.0,
    "arterial": 50.0,
    "primary": 45.0,
    "secondary": 40.0,
    "tertiary": 35.0,
    "residential": 25.0,
    "service": 15.0,
}
ACCESS_KMH = 15.0  # from the nearest street node to the plot (a yard, a lane)
REACH_MINUTES = 10.0  # the arrival norm the programme reads fire stations against
WORKING = ("working",)
LOG = logging.getLogger("twin.hazards")


@dataclass
class DriveNetwork:
    """The drive graph: the nodes of the drivable streets and each segment's minutes."""

    network: WalkingNetwork  # its nodes, edges and snapping (built by build_network)
    edge_minutes: np.ndarray

    def minutes_from(self, stations_xy: np.ndarray, places_xy: np.ndarray) -> np.ndarray:
        """Drive minutes from the nearest of `stations_xy` to each of `places_xy` (metres);
        inf where no station is reachable or there is none."""
        places_xy = np.asarray(places_xy, float).reshape(-1, 2)
        stations_xy = np.asarray(stations_xy, float).reshape(-1, 2)
        if not len(stations_xy) or not self.network.n:
            return np.full(len(places_xy), np.inf)
        net = self.network
        u = np.concatenate([net.edge_u, net.edge_v])
        v = np.concatenate([net.edge_v, net.edge_u])
        graph = net._matrix(np.concatenate([self.edge_minutes, self.edge_minutes]), u, v)
        sources, _ = net.snap_xy(stations_xy[:, 0], stations_xy[:, 1])
        at_node = dijkstra(graph, directed=True, indices=np.unique(sources), min_only=True)
        node, snap_m = net.snap_xy(places_xy[:, 0], places_xy[:, 1])
        return at_node[node] + snap_m / (ACCESS_KMH * 1000 / 60)


def drive_network(
    source: np.ndarray,
    target: np.ndarray,
    length_m: np.ndarray,
    highway: np.ndarray,
    lon0: np.ndarray,
    lat0: np.ndarray,
    lon1: np.ndarray,
    lat1: np.ndarray,
) -> DriveNetwork:
    """The drive graph of street segments (the walking network's CSR building, drive costs)."""
    network = build_network(source, target, length_m, lon0, lat0, lon1, lat1)
    speed = np.array([SPEEDS_KMH.get(str(h), SPEEDS_KMH["service"]) for h in highway])
    return DriveNetwork(network, np.asarray(length_m, float) / (speed * 1000 / 60))


def load_drive_network(conn: psycopg.Connection) -> DriveNetwork:
    rows = conn.execute(query("hazards/drive_edges")).fetchall()
    if not rows:
        return drive_network(*(np.zeros(0) for _ in range(8)))
    s, t, length, highway, x0, y0, x1, y1 = (np.array(c) for c in zip(*rows))
    return drive_network(
        s, t, length.astype(float), highway, *(c.astype(float) for c in (x0, y0, x1, y1))
    )


def stations(conn: psycopg.Connection) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the working stations and of all stations, planned depots included."""
    if not conn.execute(query("hazards/has_fire_stations")).fetchone()[0]:
        LOG.warning("no fire_stations layer: run `twin migrate`; fire reach counts no station")
        return np.zeros((0, 2)), np.zeros((0, 2))
    rows = conn.execute(query("hazards/fire_stations")).fetchall()
    xy = np.array([(x, y) for _, _, x, y in rows], float).reshape(-1, 2)
    working = np.array([status in WORKING for _, status, _, _ in rows], bool)
    return xy[working], xy


def fire_reach(
    conn: psycopg.Connection, known: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[dict[str, dict[str, int]], dict[str, int | None]]:
    """Residents beyond REACH_MINUTES of a working station, and with the planned depots too,
    by district and for the city. `known`: (working, all) station positions in metres instead
    of the fire_stations layer's (a benchmark's, a plan's)."""
    plots = conn.execute(query("hazards/plot_homes")).fetchall()
    residents = np.array([r[0] for r in plots], float)
    district = np.array([r[1] for r in plots], dtype=object)
    lonlat = np.array([(r[2], r[3]) for r in plots], float).reshape(-1, 2)
    xy = np.column_stack(to_utm(lonlat[:, 0], lonlat[:, 1]))
    working, every = known if known is not None else stations(conn)
    return reach_by_district(load_drive_network(conn), working, every, residents, district, xy)


def reach_by_district(
    network: DriveNetwork,
    working: np.ndarray,
    every: np.ndarray,
    residents: np.ndarray,
    district: np.ndarray,
    xy: np.ndarray,
) -> tuple[dict[str, dict[str, int]], dict[str, int | None]]:
    """The residents of the places at `xy` (metres) beyond REACH_MINUTES of the `working`
    stations and of `every` station, by district and for the city: the one counting rule of
    `twin analyse` and of a plan's evaluation."""
    if not len(every):  # no station known: no figure (not "everyone beyond 10 minutes")
        return {}, {
            "fire_stations_working": 0,
            "fire_depots_planned": 0,
            "fire_beyond_10_residents": None,
            "fire_beyond_10_with_depots": None,
        }
    beyond_now = network.minutes_from(working, xy) > REACH_MINUTES
    beyond_planned = network.minutes_from(every, xy) > REACH_MINUTES
    by_district = {
        name: {
            "fire_beyond_10_residents": int(residents[(district == name) & beyond_now].sum()),
            "fire_beyond_10_with_depots": int(residents[(district == name) & beyond_planned].sum()),
        }
        for name in set(district.tolist())
    }
    city = {
        "fire_stations_working": int(len(working)),
        "fire_depots_planned": int(len(every) - len(working)),
        "fire_beyond_10_residents": int(residents[beyond_now].sum()),
        "fire_beyond_10_with_depots": int(residents[beyond_planned].sum()),
    }
    return by_district, city

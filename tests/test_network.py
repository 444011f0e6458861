"""The walking network agrees with networkx and pandana, and walks uphill slower than down.

Graphs here are hand-built or read from the OSM extract that pyrosm ships, so the numbers come
from an independent implementation, not from our own code run twice.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from twin.analysis.network import FLAT_METRES_PER_MINUTE, build_network, to_lonlat, tobler_speed_kmh

ORIGIN_X, ORIGIN_Y = 630_000.0, 4_785_000.0  # central Almaty in UTM 43N


def grid_city(rows: int = 6, cols: int = 7, seed: int = 3, hill: float = 0.0):
    """A street grid with jittered lengths, a few missing and doubled segments, on a hill
    rising `hill` metres per metre northwards. Returns the network and the raw segments."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows * cols).reshape(rows, cols) * 10 + 1000
    xy = {
        int(ids[r, c]): (
            ORIGIN_X + 150 * c + rng.uniform(-20, 20),
            ORIGIN_Y + 120 * r + rng.uniform(-20, 20),
        )
        for r in range(rows)
        for c in range(cols)
    }
    segments = []
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols and rng.random() > 0.1:
                segments.append((ids[r, c], ids[r, c + 1]))
            if r + 1 < rows and rng.random() > 0.1:
                segments.append((ids[r, c], ids[r + 1, c]))
    segments.append(segments[0])  # a parallel street: the shorter one must win
    frame = pd.DataFrame(segments, columns=["u", "v"])
    frame["length"] = [math.dist(xy[u], xy[v]) * rng.uniform(1.0, 1.3) for u, v in segments]
    frame.loc[len(frame) - 1, "length"] *= 0.5
    x0, y0 = np.array([xy[u][0] for u in frame.u]), np.array([xy[u][1] for u in frame.u])
    x1, y1 = np.array([xy[v][0] for v in frame.v]), np.array([xy[v][1] for v in frame.v])
    lon0, lat0 = to_lonlat(x0, y0)
    lon1, lat1 = to_lonlat(x1, y1)

    def elevation(lon, lat):
        from twin.analysis.network import to_utm

        _, y = to_utm(lon, lat)
        return 700 + hill * (y - ORIGIN_Y)

    network = build_network(
        frame.u,
        frame.v,
        frame.length,
        lon0,
        lat0,
        lon1,
        lat1,
        lit=np.arange(len(frame)) % 3 != 0,
        elevation=elevation if hill else None,
    )
    heights = {u: 700 + hill * (xy[u][1] - ORIGIN_Y) for u in xy}
    return network, frame, heights


def reference_graph(frame: pd.DataFrame, heights: dict, mode: str) -> nx.DiGraph:
    """networkx graph with weights computed here, from the segments, independently."""
    graph = nx.DiGraph()
    for u, v, length in frame.itertuples(index=False):
        for a, b in ((u, v), (v, u)):
            if mode == "length":
                w = length
            elif mode == "flat":
                w = length / (4.8 * 1000 / 60)
            else:
                s = (heights[b] - heights[a]) / length
                kmh = 6 * math.exp(-3.5 * abs(s + 0.05)) * 4.8 / (6 * math.exp(-3.5 * 0.05))
                w = length / (kmh * 1000 / 60)
            if not graph.has_edge(a, b) or graph[a][b]["weight"] > w:
                graph.add_edge(a, b, weight=w)
    return graph


@pytest.mark.parametrize("mode", ["flat", "slope", "length"])
def test_times_from_a_node_equal_networkx(mode):
    network, frame, heights = grid_city(hill=0.08)
    graph = reference_graph(frame, heights, mode)
    index = {int(i): k for k, i in enumerate(network.node_ids)}
    for start in (1000, 1130, 1410):
        ours = network.from_node(index[start], mode=mode)
        theirs = nx.single_source_dijkstra_path_length(graph, start)
        for node, cost in theirs.items():
            assert ours[index[node]] == pytest.approx(cost, rel=1e-9, abs=1e-9)
        unreachable = set(index) - set(theirs)
        assert all(np.isinf(ours[index[n]]) for n in unreachable)


def test_nearest_amenity_with_snap_walks_equals_networkx_multi_source():
    network, frame, heights = grid_city(hill=0.05)
    graph = reference_graph(frame, heights, "slope").reverse()  # time *to* the amenity
    index = {int(i): k for k, i in enumerate(network.node_ids)}
    # three schools standing 0, 40 and 90 m off the street, snapped to these nodes
    schools = [(1000, 0.0), (1250, 40.0), (1400, 90.0)]
    for node, snap in schools:
        graph.add_edge(("school", node), node, weight=snap / FLAT_METRES_PER_MINUTE)
    theirs = nx.multi_source_dijkstra_path_length(graph, {("school", n) for n, _ in schools})
    ours, origin = network.nearest(
        np.array([index[n] for n, _ in schools]),
        np.array([s for _, s in schools]) / FLAT_METRES_PER_MINUTE,
        mode="slope",
        towards=True,
    )
    for node, k in index.items():
        if node in theirs:
            assert ours[k] == pytest.approx(theirs[node], rel=1e-9, abs=1e-9)
            assert origin[k] in (0, 1, 2)
        else:
            assert np.isinf(ours[k]) and origin[k] == -1
    # a limit leaves the far nodes unreached
    limited, origin = network.nearest(np.array([index[1000]]), np.zeros(1), mode="flat", limit=3)
    assert np.isfinite(limited).sum() < np.isfinite(ours).sum()
    assert np.all(limited[np.isfinite(limited)] <= 3) and np.all(origin[np.isinf(limited)] == -1)


def test_uphill_takes_longer_than_downhill_and_flat_ignores_the_hill():
    network, _frame, _heights = grid_city(hill=0.10)
    index = {int(i): k for k, i in enumerate(network.node_ids)}
    bottom, top = index[1000], index[1000 + 10 * 7 * 5]  # same column, five rows up
    up = network.from_node(bottom, mode="slope")[top]
    down = network.from_node(top, mode="slope")[bottom]
    flat_up = network.from_node(bottom, mode="flat")[top]
    assert up > flat_up * 1.2 and down < flat_up
    assert network.from_node(top, mode="flat")[bottom] == pytest.approx(flat_up)
    assert tobler_speed_kmh(0.0) == pytest.approx(4.8)
    assert tobler_speed_kmh(-0.05) > 4.8 > tobler_speed_kmh(0.05)


def test_lit_only_network_is_a_subset_and_never_faster():
    network, _, _ = grid_city()
    all_streets = network.from_node(0, mode="flat")
    lit_streets = network.from_node(0, mode="flat", lit_only=True)
    assert network.graph("flat", lit_only=True).nnz < network.graph("flat").nnz
    reachable = np.isfinite(lit_streets)
    assert np.all(lit_streets[reachable] >= all_streets[reachable] - 1e-9)


def test_snapping_picks_the_nearest_node_of_the_main_network():
    network, _, _ = grid_city()
    x, y = network.x[5] + 30.0, network.y[5] - 40.0
    node, distance = network.snap_xy(np.array([x]), np.array([y]))
    expected = np.hypot(network.x[network.snap_nodes] - x, network.y[network.snap_nodes] - y)
    assert distance[0] == pytest.approx(expected.min())
    assert node[0] in network.snap_nodes


def test_nearest_distances_agree_with_pandana_on_pyrosms_osm_extract():
    pyrosm = pytest.importorskip("pyrosm")
    pandana = pytest.importorskip("pandana")
    osm = pyrosm.OSM(pyrosm.get_data("test_pbf"))
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    nodes = nodes.drop_duplicates("id").set_index("id")
    edges = edges[edges.u.isin(nodes.index) & edges.v.isin(nodes.index) & (edges.u != edges.v)]
    network = build_network(
        edges.u,
        edges.v,
        edges["length"],
        nodes.loc[edges.u, "lon"],
        nodes.loc[edges.u, "lat"],
        nodes.loc[edges.v, "lon"],
        nodes.loc[edges.v, "lat"],
    )
    used = nodes.loc[network.node_ids]
    net = pandana.Network(used.lon, used.lat, edges.u, edges.v, edges[["length"]], twoway=True)
    rng = np.random.default_rng(7)
    pois = rng.choice(network.snap_nodes, size=12, replace=False)
    maxdist = 1500.0
    net.set_pois("school", maxdist, 1, used.lon.iloc[pois], used.lat.iloc[pois])
    theirs = net.nearest_pois(maxdist, "school", num_pois=1)[1]
    ours, _ = network.nearest(pois, np.zeros(len(pois)), mode="length", limit=maxdist)
    ours = pd.Series(np.where(np.isfinite(ours), ours, maxdist), index=network.node_ids)
    theirs = theirs.reindex(ours.index)
    assert len(ours) > 900 and (ours < maxdist).sum() > 300
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), atol=0.02)

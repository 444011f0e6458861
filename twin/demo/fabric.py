"""The street grid and the blocks it encloses.

Synthetic mode: a lattice whose lines are 140-250 m apart in the historic core (S2 l.601) and
coarser towards the edges, bent by a smooth warp and jittered more the further out it is, so
the periphery is irregular. Named avenues sit on their approximate lines. Blocks are the
lattice cells inside the built-up city, split where a district boundary crosses them.
Base mode: the real blocks of DIR/blocks.geojson, with a walking network along their edges.

Streets are a routable network: LineString segments between integer node ids; segments that
share a node id share the exact end coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from twin.demo.figures import figures
from twin.demo.geo import METRIC_CRS, SmoothField, point_metric
from twin.demo.relief import Relief
from twin.errors import TwinError


@dataclass
class Fabric:
    blocks: gpd.GeoDataFrame  # geometry, district, block_code, name, exact (geometry == quad)
    quads: np.ndarray  # (n, 4, 2) corner points used to subdivide each block
    edges: pd.DataFrame  # street edges between junctions: x0 y0 x1 y1 length name highway
    streets: gpd.GeoDataFrame  # routable segments (pieces of edges) with node ids
    core_centre: tuple[float, float]
    sides: pd.DataFrame | None = None  # base mode: block sides that utilities follow


def _lines(
    centre: float,
    low: float,
    high: float,
    half_core: float,
    core: tuple,
    edge: tuple,
    rng: np.random.Generator,
) -> np.ndarray:
    """Positions of parallel lattice lines from `centre` outwards to both limits."""
    ramp = 5000.0

    def walk(direction: int, limit: float) -> list[float]:
        out, pos = [], centre
        while (pos - limit) * direction < 0:
            distance = abs(pos - centre)
            t = float(np.clip((distance - half_core) / ramp, 0, 1))
            spacing = (1 - t) * rng.uniform(*core) + t * rng.uniform(*edge)
            pos += direction * spacing
            out.append(pos)
        return out

    upward = walk(+1, high)
    downward = walk(-1, low)
    return np.array(sorted(downward + [centre] + upward))


def _snap_names(positions: np.ndarray, wanted: list[tuple[float, dict]]) -> dict[int, dict]:
    """Give each named avenue the nearest free lattice line."""
    taken: dict[int, dict] = {}
    for coordinate, spec in sorted(wanted, key=lambda w: w[0]):
        order = np.argsort(np.abs(positions - coordinate))
        for index in order[:3]:
            if int(index) not in taken:
                taken[int(index)] = spec
                break
    return taken


def _line_classes(
    positions: np.ndarray,
    centre: float,
    named: dict[int, dict],
    pool: list[str],
    offset: int,
    suffix: str,
) -> tuple[list[str], list[str]]:
    names, classes = [], []
    for index, pos in enumerate(positions):
        if index in named:
            names.append(named[index]["name"])
            classes.append(named[index]["highway"])
            continue
        distance = abs(pos - centre)
        if distance % 3200 < (positions[min(index + 1, len(positions) - 1)] - pos or 300):
            classes.append("secondary")
        elif distance < 3000:
            classes.append("tertiary")
        else:
            classes.append("residential")
        base = pool[(index * 7 + offset) % len(pool)]
        round_ = (index * 7 + offset) // len(pool)
        ordinal = round_ + 1
        tail = {1: "st", 2: "nd", 3: "rd"}.get(ordinal if ordinal < 20 else ordinal % 10, "th")
        names.append(f"{ordinal}{tail} {base} {suffix}" if round_ else f"{base} {suffix}")
    return names, classes


def synthetic_fabric(
    scale: dict,
    outline: shapely.Polygon,
    districts: gpd.GeoDataFrame,
    relief: Relief,
    rng: np.random.Generator,
) -> Fabric:
    spec = figures()
    core = spec["historic_centre"]
    cx, cy = point_metric(*core["centre"])
    minx, miny, maxx, maxy = outline.bounds
    xs = _lines(
        cx,
        minx - 200,
        maxx + 200,
        core["half_width_m"],
        tuple(scale["centre_spacing_m"]),
        tuple(scale["edge_spacing_m"]),
        rng,
    )
    ys = _lines(
        cy,
        miny - 200,
        maxy + 200,
        core["half_height_m"],
        tuple(scale["centre_spacing_m"]),
        tuple(scale["edge_spacing_m"]),
        rng,
    )
    nx, ny = len(xs), len(ys)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")  # (nx, ny)
    # irregularity grows outside the core: a smooth bend plus per-junction jitter
    outside = np.clip(
        (
            np.maximum(
                np.abs(gx - cx) - core["half_width_m"], np.abs(gy - cy) - core["half_height_m"]
            )
        )
        / 5000,
        0,
        1,
    )
    bend_x = SmoothField(rng, (5000, 14000), 8)
    bend_y = SmoothField(rng, (5000, 14000), 8)
    local = np.mean(scale["edge_spacing_m"])
    px = gx + outside * 0.3 * local * bend_x(gx, gy)
    py = gy + outside * 0.3 * local * bend_y(gx, gy)
    # jitter in proportion to the spacing of the lines the junction sits on
    step_x = np.gradient(xs)[:, None]
    step_y = np.gradient(ys)[None, :]
    px += outside * rng.uniform(-0.1, 0.1, px.shape) * step_x
    py += outside * rng.uniform(-0.1, 0.1, py.shape) * step_y
    node_id = np.arange(nx * ny, dtype=np.int64).reshape(nx, ny) + 1

    # cells (i, j) with corners (i,j) (i+1,j) (i+1,j+1) (i,j+1)
    quads = np.stack(
        [
            np.stack([px[:-1, :-1], py[:-1, :-1]], -1),
            np.stack([px[1:, :-1], py[1:, :-1]], -1),
            np.stack([px[1:, 1:], py[1:, 1:]], -1),
            np.stack([px[:-1, 1:], py[:-1, 1:]], -1),
        ],
        axis=2,
    )  # (nx-1, ny-1, 4, 2)
    centre = quads.mean(axis=2)
    inside = shapely.contains_xy(outline, centre[..., 0], centre[..., 1])
    elevation = relief(centre[..., 0], centre[..., 1])
    limit = spec["urban_limit_m"]
    fringe = SmoothField(rng, (1500, 5000), 10)(centre[..., 0], centre[..., 1])
    urban = inside & (elevation + 60 * fringe < limit)
    ci, cj = np.nonzero(urban)
    cell_quads = quads[ci, cj]

    # street edges: lattice edges next to an urban cell with both ends inside the city
    edge_frames = []
    names_x, classes_x = _line_classes(
        xs,
        cx,
        _snap_names(
            xs, [(point_metric(a["lon"], 43.25)[0], a) for a in spec["avenues"]["north_south"]]
        ),
        spec["street_names"],
        0,
        "St.",
    )
    names_y, classes_y = _line_classes(
        ys,
        cy,
        _snap_names(
            ys, [(point_metric(76.95, a["lat"])[1], a) for a in spec["avenues"]["east_west"]]
        ),
        spec["street_names"],
        3,
        "St.",
    )
    cell_names = np.array(
        [
            f"{names_y[j]} – {names_y[j + 1]}, {names_x[i]} – {names_x[i + 1]}"
            for i, j in zip(ci, cj)
        ],
        dtype=object,
    )
    blocks, block_quads = _blocks_in_districts(cell_quads, districts, cell_names)
    pad = np.pad(urban, 1)  # cell (i, j) -> pad[i+1, j+1]
    # vertical edges along column i between rows j and j+1: cells (i-1, j) and (i, j)
    vi, vj = np.meshgrid(np.arange(nx), np.arange(ny - 1), indexing="ij")
    keep_v = pad[vi, vj + 1] | pad[vi + 1, vj + 1]
    edge_frames.append(
        pd.DataFrame(
            {
                "a": node_id[vi, vj][keep_v],
                "b": node_id[vi, vj + 1][keep_v],
                "x0": px[vi, vj][keep_v],
                "y0": py[vi, vj][keep_v],
                "x1": px[vi, vj + 1][keep_v],
                "y1": py[vi, vj + 1][keep_v],
                "name": np.asarray(names_x, dtype=object)[vi[keep_v]],
                "highway": np.asarray(classes_x, dtype=object)[vi[keep_v]],
                "axis": "ns",
            }
        )
    )
    hi, hj = np.meshgrid(np.arange(nx - 1), np.arange(ny), indexing="ij")
    keep_h = pad[hi + 1, hj] | pad[hi + 1, hj + 1]
    edge_frames.append(
        pd.DataFrame(
            {
                "a": node_id[hi, hj][keep_h],
                "b": node_id[hi + 1, hj][keep_h],
                "x0": px[hi, hj][keep_h],
                "y0": py[hi, hj][keep_h],
                "x1": px[hi + 1, hj][keep_h],
                "y1": py[hi + 1, hj][keep_h],
                "name": np.asarray(names_y, dtype=object)[hj[keep_h]],
                "highway": np.asarray(classes_y, dtype=object)[hj[keep_h]],
                "axis": "ew",
            }
        )
    )
    edges = pd.concat(edge_frames, ignore_index=True)
    city = shapely.buffer(outline, 60)
    both_inside = shapely.contains_xy(city, edges.x0, edges.y0) & shapely.contains_xy(
        city, edges.x1, edges.y1
    )
    edges = edges[both_inside].reset_index(drop=True)
    _pedestrian_sections(edges, spec)
    streets = _split_edges(edges, float(scale["max_segment_m"]), int(node_id.max()) + 1)
    return Fabric(
        blocks=blocks, quads=block_quads, edges=edges, streets=streets, core_centre=(cx, cy)
    )


def _pedestrian_sections(edges: pd.DataFrame, spec: dict) -> None:
    """Panfilov St. and part of Zhibek Zholy are pedestrian streets (S2 l.4289)."""
    mx = (edges.x0 + edges.x1) / 2
    my = (edges.y0 + edges.y1) / 2
    for avenue in spec["avenues"]["north_south"] + spec["avenues"]["east_west"]:
        if "pedestrian_lat" in avenue:
            lo = point_metric(avenue["lon"], avenue["pedestrian_lat"][0])[1]
            hi = point_metric(avenue["lon"], avenue["pedestrian_lat"][1])[1]
            mask = (edges.name == avenue["name"]) & (my >= lo) & (my <= hi)
            edges.loc[mask, "highway"] = "pedestrian"
        if "pedestrian_lon" in avenue:
            lo = point_metric(avenue["pedestrian_lon"][0], avenue["lat"])[0]
            hi = point_metric(avenue["pedestrian_lon"][1], avenue["lat"])[0]
            mask = (edges.name == avenue["name"]) & (mx >= lo) & (mx <= hi)
            edges.loc[mask, "highway"] = "pedestrian"


def _blocks_in_districts(
    cell_quads: np.ndarray, districts: gpd.GeoDataFrame, cell_names: np.ndarray
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """One block per cell and district it falls in; cells crossed by a boundary are split."""
    polygons = shapely.polygons(cell_quads)
    invalid = ~shapely.is_valid(polygons)
    polygons[invalid] = _largest_polygon(shapely.make_valid(polygons[invalid]))
    district_array = np.asarray(districts.geometry.values, dtype=object)
    tree = shapely.STRtree(district_array)
    cell_idx, district_idx = tree.query(polygons, predicate="intersects")
    district_geoms = district_array[district_idx]
    within = shapely.within(polygons[cell_idx], district_geoms) & ~invalid[cell_idx]
    pieces = np.where(
        within, polygons[cell_idx], shapely.intersection(polygons[cell_idx], district_geoms)
    )
    pieces = _largest_polygon(pieces)
    area = shapely.area(pieces)
    keep = area > 1500
    cell_idx, district_idx, pieces, within = (
        cell_idx[keep],
        district_idx[keep],
        pieces[keep],
        within[keep],
    )
    order = np.lexsort((cell_idx, district_idx))
    cell_idx, district_idx, pieces, within = (
        cell_idx[order],
        district_idx[order],
        pieces[order],
        within[order],
    )
    blocks = gpd.GeoDataFrame(
        {
            "district": districts.name_en.values[district_idx],
            "exact": within,
        },
        geometry=pieces,
        crs=METRIC_CRS,
    )
    blocks["block_code"] = _block_codes(blocks.district.values, districts)
    blocks["name"] = cell_names[cell_idx]  # the streets around the block
    return blocks.reset_index(drop=True), cell_quads[cell_idx]


def _largest_polygon(geoms: np.ndarray) -> np.ndarray:
    """Reduce multi-part or collection pieces to their largest polygon."""
    kinds = shapely.get_type_id(geoms)
    out = geoms.copy()
    for index in np.nonzero(kinds != 3)[0]:
        parts = [p for p in shapely.get_parts(geoms[index]) if p.geom_type == "Polygon"]
        out[index] = max(parts, key=lambda p: p.area) if parts else shapely.Polygon()
    return out


def _block_codes(district_of_block: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    """Cadastral quarter codes 20-3NN-QQQ (region 20 = Almaty; 3NN synthetic per district)."""
    code_of = dict(zip(districts.name_en, districts.cadastral))
    counters: dict[str, int] = {}
    codes = []
    for district in district_of_block:
        counters[district] = counters.get(district, 0) + 1
        codes.append(f"20-{code_of[district]}-{counters[district]:03d}")
    return np.asarray(codes, dtype=object)


def _split_edges(edges: pd.DataFrame, max_segment: float, first_free_id: int) -> gpd.GeoDataFrame:
    """Cut each edge into pieces of at most max_segment metres with new intermediate nodes."""
    dx = (edges.x1 - edges.x0).to_numpy()
    dy = (edges.y1 - edges.y0).to_numpy()
    length = np.hypot(dx, dy)
    pieces = np.maximum(1, np.ceil(length / max_segment)).astype(np.int64)
    edge_of = np.repeat(np.arange(len(edges)), pieces)
    start = np.cumsum(pieces) - pieces
    k = np.arange(pieces.sum()) - np.repeat(start, pieces)  # piece index within its edge
    n = pieces[edge_of]
    t0 = k / n
    t1 = (k + 1) / n
    x0 = edges.x0.to_numpy()[edge_of] + dx[edge_of] * t0
    y0 = edges.y0.to_numpy()[edge_of] + dy[edge_of] * t0
    x1 = edges.x0.to_numpy()[edge_of] + dx[edge_of] * t1
    y1 = edges.y0.to_numpy()[edge_of] + dy[edge_of] * t1
    # the far end of the last piece is exactly the edge's end node
    last = k == n - 1
    x1[last] = edges.x1.to_numpy()[edge_of][last]
    y1[last] = edges.y1.to_numpy()[edge_of][last]
    # intermediate nodes: ids first_free_id..., one per interior split point
    interior = np.cumsum(pieces - 1) - (pieces - 1)  # first interior id per edge
    inner_id = first_free_id + interior[edge_of] + k  # id of the point at t1 (k < n-1)
    source = np.where(k == 0, edges.a.to_numpy()[edge_of], inner_id - 1)
    target = np.where(last, edges.b.to_numpy()[edge_of], inner_id)
    coords = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
    return gpd.GeoDataFrame(
        {
            "edge": edge_of,
            "source_node": source,
            "target_node": target,
            "length_m": np.hypot(x1 - x0, y1 - y0),
            "name": edges.name.to_numpy()[edge_of],
            "highway": edges.highway.to_numpy()[edge_of],
        },
        geometry=shapely.linestrings(coords),
        crs=METRIC_CRS,
    )


def base_fabric(
    directory: Path, districts: gpd.GeoDataFrame, scale: dict, rng: np.random.Generator
) -> Fabric:
    """Real blocks from DIR/blocks.geojson; streets along their edges, crossings between them."""
    path = directory / "blocks.geojson"
    if not path.exists():
        raise TwinError(f"--base {directory}: blocks.geojson is missing")
    real = gpd.read_file(path).to_crs(METRIC_CRS)
    geoms = _largest_polygon(shapely.make_valid(real.geometry.values))
    keep = shapely.area(geoms) > 500
    real, geoms = real[keep].reset_index(drop=True), geoms[keep]
    centroids = shapely.centroid(geoms)
    tree = shapely.STRtree(districts.geometry.values)
    nearest = tree.nearest(centroids)
    district = districts.name_en.values[nearest]
    code_of = dict(zip(districts.name_en, districts.cadastral))
    ids = real["block_id"].to_numpy() if "block_id" in real.columns else np.arange(len(real)) + 1
    codes = [f"20-{code_of[d]}-{int(i):03d}" for d, i in zip(district, ids)]
    names = (
        real["name"].fillna("").astype(object).to_numpy()
        if "name" in real.columns
        else np.full(len(real), "", dtype=object)
    )
    names = np.where(names == "", np.asarray([f"Block {c}" for c in codes], dtype=object), names)
    blocks = gpd.GeoDataFrame(
        {"district": district, "exact": False, "block_code": codes, "name": names},
        geometry=geoms,
        crs=METRIC_CRS,
    )
    blocks = blocks.drop_duplicates("block_code").reset_index(drop=True)
    envelopes = shapely.oriented_envelope(blocks.geometry.values)
    quads = shapely.get_coordinates(shapely.get_exterior_ring(envelopes)).reshape(
        len(blocks), 5, 2
    )[:, :4]
    edges = _block_edge_network(blocks, rng)
    streets = _split_edges(
        edges, float(scale["max_segment_m"]), int(edges[["a", "b"]].max().max()) + 1
    )
    cx, cy = point_metric(*figures()["historic_centre"]["centre"])
    # utilities follow whole block sides (the real blocks' own vertices), not 80 m pieces
    coords, ring = shapely.get_coordinates(
        shapely.get_exterior_ring(blocks.geometry.values), return_index=True
    )
    same = ring[1:] == ring[:-1]
    sides = pd.DataFrame(
        {
            "x0": coords[:-1, 0][same],
            "y0": coords[:-1, 1][same],
            "x1": coords[1:, 0][same],
            "y1": coords[1:, 1][same],
            "block": ring[:-1][same],
            "highway": "residential",
        }
    )
    return Fabric(
        blocks=blocks, quads=quads, edges=edges, streets=streets, core_centre=(cx, cy), sides=sides
    )


def _street_class_by_width(
    blocks: gpd.GeoDataFrame, start: np.ndarray, end: np.ndarray, block: np.ndarray
) -> np.ndarray:
    """Class of the street a pavement runs along, from the gap to the block across it: the
    wider the gap, the bigger the street (avenues are 50 m and more between blocks)."""
    points, owner = shapely.get_coordinates(
        shapely.get_exterior_ring(shapely.segmentize(blocks.geometry.values, 20)), return_index=True
    )
    tree = cKDTree(points)
    middle = (start + end) / 2
    distance, index = tree.query(middle, k=24, distance_upper_bound=150)
    gap = np.full(len(middle), 150.0)
    for column in range(index.shape[1]):
        found = index[:, column] < len(points)
        other = np.zeros(len(middle), dtype=bool)
        other[found] = owner[index[found, column]] != block[found]
        take = other & (gap == 150.0)
        gap[take] = distance[take, column]
    return np.select(
        [gap > 55, gap > 38, gap > 26, gap > 16],
        ["arterial", "primary", "secondary", "tertiary"],
        "footway",
    ).astype(object)


def _block_edge_network(blocks: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Walkways along every block's edge (the pavements), joined across the street to the
    nearest corner of a neighbouring block (crossings)."""
    rings = shapely.get_exterior_ring(shapely.segmentize(blocks.geometry.values, 80))
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    snapped = np.round(coords * 2) / 2  # 0.5 m: equal points, equal ids
    keys, node = np.unique(snapped, axis=0, return_inverse=True)
    node = node.ravel() + 1
    same_ring = ring_index[1:] == ring_index[:-1]
    a, b = node[:-1][same_ring], node[1:][same_ring]
    block_of = ring_index[:-1][same_ring]
    frame = pd.DataFrame({"a": a, "b": b, "block": block_of})
    frame = frame[frame.a != frame.b]
    frame["block"] = frame["block"].astype(np.int64)
    names = np.asarray(
        [
            str(n).replace("–", "-").split("-")[0].split(",")[0].strip() or str(n)
            for n in blocks["name"]
        ],
        dtype=object,
    )
    frame["name"] = names[frame.block.to_numpy()]
    frame["highway"] = _street_class_by_width(
        blocks, keys[frame.a.to_numpy() - 1], keys[frame.b.to_numpy() - 1], frame.block.to_numpy()
    )
    # crossings: each corner to the nearest corner of another block within 80 m
    corner_block = np.full(len(keys), -1)
    corner_block[node - 1] = ring_index
    kd = cKDTree(keys)
    dist, nearest = kd.query(keys, k=6, distance_upper_bound=80)
    partner = np.full(len(keys), -1)
    for column in range(1, 6):  # the nearest corner that belongs to another block
        other = nearest[:, column]
        ok = (partner < 0) & np.isfinite(dist[:, column]) & (other < len(keys))
        ok[ok] &= corner_block[other[ok]] != corner_block[np.nonzero(ok)[0]]
        partner[ok] = other[ok]
    linked = np.nonzero(partner >= 0)[0]
    crossing = pd.DataFrame({"a": linked + 1, "b": partner[linked] + 1})
    crossing = crossing[crossing.a != crossing.b]
    crossing[["a", "b"]] = np.sort(crossing[["a", "b"]].to_numpy(), axis=1)
    crossing = crossing.drop_duplicates()
    crossing["name"] = "Crossing"
    crossing["highway"] = "residential"
    crossing["block"] = -1
    edges = pd.concat([frame, crossing], ignore_index=True)
    edges[["x0", "y0"]] = keys[edges.a.to_numpy() - 1]
    edges[["x1", "y1"]] = keys[edges.b.to_numpy() - 1]
    edges["axis"] = "any"
    return edges.reset_index(drop=True)

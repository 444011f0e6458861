"""Meshes of the city in 3D: the ground, closed building solids, draped lines and surfaces,
tubes at depth.

Coordinates are local metres around a scene origin with Z up (x east, y north, z up); the
glTF writer turns them Y-up. Meshes are (vertices (n, 3) float64, triangles (m, 3) int64)
with counter-clockwise triangles seen from outside, so solids are closed and outward facing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyvista as pv
import rasterio
import shapely
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import from_bounds
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from twin.terrain import sample

Mesh = tuple[np.ndarray, np.ndarray]
EMPTY: Mesh = (np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))

# Hypsometric tints for the ground: Almaty runs from ~600 m on the plain to glaciers above 3500 m.
HYPSOMETRY = (
    (500.0, (156, 183, 122)),
    (900.0, (190, 196, 138)),
    (1300.0, (201, 184, 140)),
    (1900.0, (176, 150, 116)),
    (2700.0, (150, 150, 150)),
    (3500.0, (245, 245, 245)),
)


@dataclass
class Ground:
    """Elevation over a rectangle of the scene, on a regular grid (north-up, UTM metres)."""

    elevation: np.ndarray  # (rows, cols) float32, no NaN
    transform: Affine
    from_terrain: bool = True

    @property
    def cell(self) -> float:
        return abs(self.transform.a)

    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.elevation.shape
        west, north = self.transform * (0, 0)
        east, south = self.transform * (cols, rows)
        return west, south, east, north

    def height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ground elevation (bilinear) at UTM points; points off the grid take its edge."""
        west, south, east, north = self.bounds()
        x = np.clip(np.asarray(x, dtype=float), west, east)
        y = np.clip(np.asarray(y, dtype=float), south, north)
        return sample(self.elevation, self.transform, x, y)

    def mesh(self, origin: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ground as a triangle mesh around `origin`, with hypsometric vertex colours."""
        rows, cols = self.elevation.shape
        col, row = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
        x, y = self.transform * (col.ravel(), row.ravel())
        z = self.elevation.ravel().astype(float)
        vertices = np.column_stack([x - origin[0], y - origin[1], z - origin[2]])
        index = np.arange(rows * cols).reshape(rows, cols)
        nw, ne = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
        sw, se = index[1:, :-1].ravel(), index[1:, 1:].ravel()
        # rows run south, so (sw, se, ne) is counter-clockwise seen from above
        triangles = np.concatenate([np.column_stack([sw, se, ne]), np.column_stack([sw, ne, nw])])
        return vertices, triangles, hypsometric_colours(z)

    @classmethod
    def flat(
        cls, bounds: tuple[float, float, float, float], cell: float, elevation: float = 0.0
    ) -> Ground:
        """Level ground for scenes when no terrain model is loaded."""
        west, south, east, north = bounds
        cols = max(2, math.ceil((east - west) / cell))
        rows = max(2, math.ceil((north - south) / cell))
        return cls(
            np.full((rows, cols), elevation, dtype=np.float32),
            Affine(cell, 0, west, 0, -cell, north),
            from_terrain=False,
        )


def hypsometric_colours(z: np.ndarray) -> np.ndarray:
    """RGBA (uint8) for elevations, interpolated between HYPSOMETRY stops."""
    stops = np.array([s[0] for s in HYPSOMETRY])
    rgb = np.array([s[1] for s in HYPSOMETRY], dtype=float)
    channels = [np.interp(z, stops, rgb[:, k]) for k in range(3)]
    return np.column_stack([*channels, np.full(len(z), 255.0)]).round().astype(np.uint8)


def read_ground(
    path: str, bounds: tuple[float, float, float, float], max_cells: int
) -> Ground | None:
    """The terrain COG over `bounds` (UTM), averaged to at most `max_cells` along the longer
    side (the scene's level of detail), holes filled from the nearest known cell."""
    west, south, east, north = bounds
    with rasterio.open(path) as dataset:
        d_west, d_south, d_east, d_north = dataset.bounds
        if west >= d_east or east <= d_west or south >= d_north or north <= d_south:
            return None
        resolution = max(abs(dataset.res[0]), max(east - west, north - south) / max_cells)
        cols = max(2, math.ceil((east - west) / resolution))
        rows = max(2, math.ceil((north - south) / resolution))
        window = from_bounds(
            west,
            north - rows * resolution,
            west + cols * resolution,
            north,
            transform=dataset.transform,
        )
        elevation = dataset.read(
            1,
            window=window,
            out_shape=(rows, cols),
            boundless=True,
            fill_value=np.nan,
            resampling=Resampling.average,
            masked=False,
        ).astype(np.float32)
    known = np.isfinite(elevation)
    if not known.any():
        return None
    if not known.all():
        nearest = ndimage.distance_transform_edt(
            ~known, return_distances=False, return_indices=True
        )
        elevation = elevation[tuple(nearest)]
    return Ground(elevation, Affine(resolution, 0, west, 0, -resolution, north))


def _counter_clockwise(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    a, b, c = xy[triangles[:, 0]], xy[triangles[:, 1]], xy[triangles[:, 2]]
    cross = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
    triangles = triangles.copy()
    triangles[cross < 0] = triangles[cross < 0][:, ::-1]
    return triangles[cross != 0]


def _polygons(geometry: BaseGeometry) -> list[shapely.Polygon]:
    """The polygons of a geometry, repaired if invalid, exteriors counter-clockwise."""
    if not shapely.is_valid(geometry):
        geometry = shapely.make_valid(geometry)
    geometry = shapely.orient_polygons(shapely.remove_repeated_points(geometry))
    if geometry.is_empty:
        return []
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    return [
        g
        for g in getattr(geometry, "geoms", [])
        if isinstance(g, shapely.Polygon) and not g.is_empty
    ]


def _triangle_coords(polygon: BaseGeometry) -> np.ndarray:
    """(k, 3, 2) corners of the constrained Delaunay triangles of a polygon."""
    triangles = shapely.constrained_delaunay_triangles(polygon)
    coords = shapely.get_coordinates(triangles)
    return coords.reshape(-1, 4, 2)[:, :3]


def building_solid(
    footprint: BaseGeometry, base: float, top: float, origin: tuple[float, float, float]
) -> Mesh:
    """A footprint (UTM) extruded from `base` to `top` (metres above sea level) as a closed,
    outward-facing solid: floor, roof and one pair of triangles per wall."""
    vertices: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    offset = 0
    for polygon in _polygons(footprint):
        rings = [polygon.exterior, *polygon.interiors]
        ring_xy = [np.asarray(r.coords)[:-1, :2] for r in rings]
        xy = np.vstack(ring_xy)
        n = len(xy)
        index = {(float(px), float(py)): i for i, (px, py) in enumerate(xy)}
        corners = _triangle_coords(polygon)
        try:
            cap = np.array(
                [[index[(float(p[0]), float(p[1]))] for p in t] for t in corners], dtype=np.int64
            ).reshape(-1, 3)
        except KeyError:  # a corner the triangulation added: keep the footprint's own points
            continue
        cap = _counter_clockwise(xy, cap)
        walls = []
        start = 0
        for ring in ring_xy:
            k = len(ring)
            i = start + np.arange(k)
            j = start + (np.arange(k) + 1) % k
            walls += [np.column_stack([i, j, j + n]), np.column_stack([i, j + n, i + n])]
            start += k
        local = xy - np.array(origin[:2])
        vertices += [
            np.column_stack([local, np.full(n, base - origin[2])]),
            np.column_stack([local, np.full(n, top - origin[2])]),
        ]
        faces += [f + offset for f in (cap[:, ::-1], cap + n, *walls)]
        offset += 2 * n
    if not vertices:
        return EMPTY
    return np.vstack(vertices), np.vstack(faces)


def draped_tubes(
    lines: list[tuple[int, BaseGeometry]],
    radius: np.ndarray,
    lift: np.ndarray,
    ground: Ground,
    step: float,
    origin: tuple[float, float, float],
    sides: int = 8,
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Closed tubes along (multi)lines, following the ground `lift` metres above it (negative:
    below), every `step` metres: {feature key: (vertices, triangles, normals)}.

    One pass of VTK's tube filter (through pyvista) for all lines together, with each line's
    radius as a point scalar, then split by feature: a district's thousands of pipes cost one
    filter run instead of thousands."""
    keys, geometries = [], []
    for index, (_key, geometry) in enumerate(lines):
        if geometry is None or geometry.is_empty:
            continue
        for line in getattr(geometry, "geoms", [geometry]):
            if isinstance(line, shapely.LineString) and line.length > 0:
                keys.append(index)
                geometries.append(line)
    if not geometries:
        return {}
    dense = shapely.segmentize(np.array(geometries, dtype=object), step)
    xy, owner = shapely.get_coordinates(dense, return_index=True)
    keep = np.ones(len(xy), dtype=bool)  # drop repeated points: the tube filter needs a step
    keep[1:] = (owner[1:] != owner[:-1]) | np.any(xy[1:] != xy[:-1], axis=1)
    xy, owner = xy[keep], owner[keep]
    feature = np.asarray(keys)[owner]
    z = ground.height(xy[:, 0], xy[:, 1]) + np.asarray(lift, dtype=float)[feature]
    points = np.column_stack([xy[:, 0] - origin[0], xy[:, 1] - origin[1], z - origin[2]])
    counts = np.bincount(owner, minlength=len(geometries))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    usable = counts >= 2
    cells = np.concatenate(
        [np.concatenate([[c], np.arange(s, s + c)]) for s, c in zip(starts[usable], counts[usable])]
    )
    polylines = pv.PolyData(points, lines=cells)
    polylines.point_data["radius"] = np.asarray(radius, dtype=float)[feature]
    polylines.cell_data["feature"] = np.asarray(keys)[usable]
    solid = (
        polylines.tube(scalars="radius", absolute=True, n_sides=sides, capping=True)
        .triangulate()
        .clean(tolerance=0.0)
    )  # caps shut
    faces = solid.regular_faces.astype(np.int64)
    owners = np.asarray(solid.cell_data["feature"])
    vertices = np.asarray(solid.points, dtype=float)
    normals = np.asarray(solid.point_data["TubeNormals"], dtype=np.float32)
    order = np.argsort(owners, kind="stable")
    bounds = np.flatnonzero(np.diff(owners[order])) + 1
    result = {}
    for group in np.split(order, bounds):
        if len(group) == 0:
            continue
        used, local = np.unique(faces[group], return_inverse=True)
        result[lines[int(owners[group[0]])][0]] = (
            vertices[used],
            local.reshape(-1, 3),
            normals[used],
        )
    return result


def draped_surface(
    area: BaseGeometry, ground: Ground, lift: float, origin: tuple[float, float, float]
) -> Mesh:
    """A (multi)polygon laid on the ground `lift` metres above it: cut along the ground's grid
    so every triangle follows the slope, then triangulated."""
    polygons = _polygons(area)
    if not polygons:
        return EMPTY
    west, south, east, north = shapely.MultiPolygon(polygons).bounds
    cell = ground.cell
    xs = np.arange(math.floor(west / cell) * cell, east + cell, cell)
    ys = np.arange(math.floor(south / cell) * cell, north + cell, cell)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
    corners = []
    for polygon in polygons:
        candidates = cells[shapely.intersects(cells, polygon)]
        pieces = shapely.intersection(candidates, polygon)
        for piece in pieces:
            for part in _polygons(piece):
                corners.append(_triangle_coords(part))
    if not corners:
        return EMPTY
    flat = np.concatenate(corners).reshape(-1, 2)
    xy, inverse = np.unique(flat.round(3), axis=0, return_inverse=True)
    triangles = _counter_clockwise(xy, inverse.reshape(-1, 3).astype(np.int64))
    z = ground.height(xy[:, 0], xy[:, 1]) + lift
    vertices = np.column_stack([xy[:, 0] - origin[0], xy[:, 1] - origin[1], z - origin[2]])
    return vertices, triangles


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Smooth unit normals (pyvista) for surfaces meant to look continuous (ground, tubes)."""
    mesh = pv.PolyData.from_regular_faces(vertices, triangles)
    mesh = mesh.compute_normals(
        point_normals=True,
        cell_normals=False,
        split_vertices=False,
        consistent_normals=False,
        auto_orient_normals=False,
    )
    return np.asarray(mesh.point_data["Normals"], dtype=np.float32)


def flat_shaded(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each triangle with its own three corners and its face normal: crisp edges in viewers
    that light a mesh only from its normals (CesiumJS)."""
    corners = vertices[triangles]  # (m, 3, 3)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = normal / np.where(length == 0, 1, length)
    return corners.reshape(-1, 3), np.repeat(normal, 3, axis=0)

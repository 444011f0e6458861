"""A 3D scene of an area of the city, read from PostGIS and the terrain model.

One Scene feeds the GLB export, the off-screen render and (per tile) the 3D Tiles, so the
three show the same city: buildings stand on the same ground, faults lie on it, pipes run
under it at their recorded depth.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import shapely

from twin.catalog import get_layer
from twin.scene3d.area import SCENE_CRS, SceneArea, SceneRequestError, finite
from twin.scene3d.geometry import (
    Ground,
    building_solid,
    draped_surface,
    draped_tubes,
    read_ground,
    vertex_normals,
)
from twin.sqlfiles import query
from twin.terrain import terrain_path

LOG = logging.getLogger("twin.scene3d")

# What a scene may hold: --include names -> the catalog layer each comes from.
INCLUDES: dict[str, str] = {
    "terrain": "terrain",
    "buildings": "buildings",
    "faults": "seismic_faults",
    "utilities": "utility_lines",
    "parks": "parks",
}
GROUND_CELLS = 300  # the ground grid's cells along the area's longer side, at most
STOREY_M = 3.0  # height of a storey when a building has levels but no height
DEFAULT_HEIGHT_M = 9.0  # a building with neither height nor levels
DEFAULT_DEPTH_M = 1.5  # a utility line with no recorded depth
FAULT_LIFT_M = 2.0  # faults float this far above the ground so they are never buried in it
PARK_LIFT_M = 0.5
GROUND_COLOUR = "#c9c08a"


@dataclass
class Part:
    """One named mesh of the scene (a building, a fault, a pipe, a park or the ground)."""

    group: str  # the --include name: terrain, buildings, faults, utilities, parks
    name: str  # buildings/123: the layer and the feature's id
    vertices: np.ndarray  # (n, 3) local metres, Z up
    triangles: np.ndarray  # (m, 3)
    colour: str  # '#rrggbb'
    opacity: float = 1.0
    normals: np.ndarray | None = None  # smooth surfaces only; solids are flat shaded
    colours: np.ndarray | None = None  # (n, 4) uint8 per vertex
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scene:
    area: SceneArea
    origin: tuple[float, float, float]  # UTM 43N easting, northing, elevation (m)
    ground: Ground
    parts: list[Part]
    include: tuple[str, ...]
    sources: dict[str, dict[str, Any]]

    def count(self, group: str) -> int:
        return sum(1 for part in self.parts if part.group == group)

    def placement(self) -> dict[str, Any]:
        """Where the scene sits on Earth, for tools that place it (stored in the glTF)."""
        return {
            "crs": SCENE_CRS,
            "origin": {
                "easting": self.origin[0],
                "northing": self.origin[1],
                "elevation": self.origin[2],
            },
            "axes": "glTF Y-up: +x east, +y up, -z north, metres from the origin; "
            "easting = origin.easting + x, northing = origin.northing - z, "
            "elevation = origin.elevation + y",
            "vertical_datum": "terrain model heights (metres above sea level)"
            if self.ground.from_terrain
            else "none (no terrain loaded)",
            "area": {
                "kind": self.area.kind,
                "name": self.area.name,
                "bbox": [round(v, 7) for v in self.area.geometry.bounds],
            },
            "include": list(self.include),
            "counts": {group: self.count(group) for group in self.include},
            "layers": self.sources,
        }


def parse_include(text: str | None) -> tuple[str, ...]:
    """`terrain,buildings,...` -> the groups in INCLUDES order; unknown names are an error."""
    if text is None or not text.strip():
        return tuple(INCLUDES)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in INCLUDES]
    if unknown:
        raise SceneRequestError(
            f"include: unknown part(s) {', '.join(unknown)}; choose from {', '.join(INCLUDES)}"
        )
    return tuple(n for n in INCLUDES if n in names)


def _palette(layer: str) -> Callable[[object], str]:
    """The layer's colour for a value of its `style.by` property (from layers/*.yml)."""
    style = get_layer(layer).style
    palette = style.get("palette") or {}
    default = str(style.get("color", "#888888"))
    return lambda value: str(palette.get(value, default))


def building_height(height_m: object, levels: object) -> tuple[float, bool]:
    """Metres of a building, and whether the height was assumed (from levels or a default)."""
    height = finite(height_m, math.nan)
    if math.isfinite(height) and height > 0:
        return height, False
    storeys = finite(levels, math.nan)
    if math.isfinite(storeys) and storeys > 0:
        return storeys * STOREY_M, True
    return DEFAULT_HEIGHT_M, True


def load_ground(
    conn: psycopg.Connection,
    bounds: tuple[float, float, float, float],
    max_cells: int = GROUND_CELLS,
) -> Ground:
    """The terrain under `bounds` (UTM) at the scene's level of detail, or level ground at
    0 m when no terrain model is loaded or it does not reach the area."""
    path = terrain_path(conn)
    ground = read_ground(str(path), bounds, max_cells) if path is not None else None
    if ground is None:
        LOG.warning(
            "no terrain under the scene: buildings stand on level ground at 0 m",
            extra={"bounds": bounds},
        )
        west, south, east, north = bounds
        ground = Ground.flat(bounds, max(east - west, north - south, 1.0) / max_cells)
    return ground


def _sources(conn: psycopg.Connection, include: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        query("scene3d/sources"), {"names": [INCLUDES[n] for n in include]}
    ).fetchall()
    return {
        name: {"version": version, "source": source, "licence": licence, "synthetic": synthetic}
        for name, version, source, licence, synthetic in rows
    }


def _rows(conn: psycopg.Connection, name: str, area: SceneArea) -> list[tuple]:
    return conn.execute(
        query(f"scene3d/{name}"), {"area": shapely.to_wkb(area.geometry)}
    ).fetchall()


def building_parts(
    rows: list[tuple], ground: Ground, origin: tuple[float, float, float]
) -> list[Part]:
    """Closed solids, one per building, standing on the ground, coloured by seismic status.

    A building stands from the lowest ground under its outline (sunk 0.2 m so no gap shows
    on a slope) and its height counts from the mean ground under it."""
    if not rows:
        return []
    colour = _palette("buildings")
    footprints = shapely.from_wkb([bytes(row[-1]) for row in rows])
    xy, owner = shapely.get_coordinates(footprints, return_index=True)
    ground_z = ground.height(xy[:, 0], xy[:, 1])
    counts = np.bincount(owner, minlength=len(rows))
    lowest = np.full(len(rows), np.nan)
    np.fmin.at(lowest, owner, ground_z)
    mean = np.bincount(owner, weights=ground_z, minlength=len(rows)) / np.maximum(counts, 1)
    parts = []
    for (bid, height_m, levels, use, status, year, district, _), footprint, low, middle in zip(
        rows, footprints, lowest, mean
    ):
        height, assumed = building_height(height_m, levels)
        try:
            vertices, triangles = building_solid(footprint, low - 0.2, middle + height, origin)
        except shapely.errors.GEOSException:
            triangles = []
        if len(triangles) == 0:
            LOG.warning("building footprint could not be triangulated", extra={"id": bid})
            continue
        parts.append(
            Part(
                group="buildings",
                name=f"buildings/{bid}",
                vertices=vertices,
                triangles=triangles,
                colour=colour(status),
                extras={
                    "layer": "buildings",
                    "id": bid,
                    "height_m": round(height, 2),
                    "height_assumed": assumed,
                    "levels": levels,
                    "use": use,
                    "seismic_status": status,
                    "year_built": year,
                    "district": district,
                    "ground_m": round(float(low), 2),
                },
            )
        )
    return parts


def _tube_parts(
    group: str,
    layer: str,
    rows: list[tuple],
    ground: Ground,
    origin: tuple[float, float, float],
    *,
    step: float,
    sides: int,
    look: Any,
) -> list[Part]:
    """Lines as tubes, one part per feature: `look(row)` gives (radius, lift, colour, extras)
    and each row ends with the geometry's WKB."""
    looks = {row[0]: look(row) for row in rows}
    tubes = draped_tubes(
        [(row[0], shapely.from_wkb(bytes(row[-1]))) for row in rows],
        radius=np.array([looks[row[0]][0] for row in rows]),
        lift=np.array([looks[row[0]][1] for row in rows]),
        ground=ground,
        step=step,
        origin=origin,
        sides=sides,
    )
    parts = []
    for row in rows:
        if row[0] not in tubes:
            continue
        vertices, triangles, normals = tubes[row[0]]
        _, _, colour, extras = looks[row[0]]
        parts.append(
            Part(
                group=group,
                name=f"{layer}/{row[0]}",
                vertices=vertices,
                triangles=triangles,
                colour=colour,
                normals=normals,
                extras=extras,
            )
        )
    return parts


def _fault_parts(
    rows: list[tuple], ground: Ground, origin: tuple[float, float, float]
) -> list[Part]:
    radius = max(2.0, ground.cell / 10)
    colour = get_layer("seismic_faults").style.get("color", "#d63031")

    def look(row: tuple) -> tuple[float, float, str, dict[str, Any]]:
        fid, name, active, setback, terrain, _ = row
        return (
            radius,
            FAULT_LIFT_M,
            colour,
            {
                "layer": "seismic_faults",
                "id": fid,
                "name": name,
                "active": active,
                "setback_m": setback,
                "terrain": terrain,
                "radius_m": radius,
            },
        )

    return _tube_parts(
        "faults", "seismic_faults", rows, ground, origin, step=ground.cell / 2, sides=8, look=look
    )


def _utility_parts(
    rows: list[tuple], ground: Ground, origin: tuple[float, float, float]
) -> list[Part]:
    palette = _palette("utility_lines")

    def look(row: tuple) -> tuple[float, float, str, dict[str, Any]]:
        uid, network, depth_m, diameter_mm, wear, installed, _ = row
        depth = finite(depth_m, math.nan)
        assumed = not (math.isfinite(depth) and depth >= 0)
        depth = DEFAULT_DEPTH_M if assumed else depth
        radius = max(finite(diameter_mm, 200.0) / 2000.0, 0.1)
        return (
            radius,
            -depth,
            palette(network),
            {
                "layer": "utility_lines",
                "id": uid,
                "network": network,
                "depth_m": depth,
                "depth_assumed": assumed,
                "diameter_mm": diameter_mm,
                "radius_m": radius,
                "wear_pct": wear,
                "installed_year": installed,
            },
        )

    return _tube_parts(
        "utilities",
        "utility_lines",
        rows,
        ground,
        origin,
        step=max(ground.cell / 2, 5.0),
        sides=6,
        look=look,
    )


def _park_parts(
    rows: list[tuple], ground: Ground, origin: tuple[float, float, float]
) -> list[Part]:
    colour = _palette("parks")
    parts = []
    for pid, name, kind, status, area_ha, wkb in rows:
        vertices, triangles = draped_surface(
            shapely.from_wkb(bytes(wkb)), ground, PARK_LIFT_M, origin
        )
        if len(triangles) == 0:
            continue
        parts.append(
            Part(
                group="parks",
                name=f"parks/{pid}",
                vertices=vertices,
                triangles=triangles,
                colour=colour(status),
                opacity=0.9,
                extras={
                    "layer": "parks",
                    "id": pid,
                    "name": name,
                    "kind": kind,
                    "status": status,
                    "area_ha": area_ha,
                },
            )
        )
    return parts


def build_scene(
    conn: psycopg.Connection, area: SceneArea, include: tuple[str, ...], bar: Any = None
) -> Scene:
    """Read the area's layers and the ground, and mesh them around a rounded origin."""
    west, south, east, north = area.utm_bounds()
    margin = max(50.0, 0.03 * max(east - west, north - south))
    ground = load_ground(conn, (west - margin, south - margin, east + margin, north + margin))
    origin = (
        float(round((west + east) / 2)),
        float(round((south + north) / 2)),
        float(math.floor(ground.elevation.min())),
    )
    builders = {
        "buildings": ("buildings", building_parts),
        "faults": ("faults", _fault_parts),
        "utilities": ("utility_lines", _utility_parts),
        "parks": ("parks", _park_parts),
    }
    parts: list[Part] = []
    if "terrain" in include:
        vertices, triangles, colours = ground.mesh(origin)
        parts.append(
            Part(
                group="terrain",
                name="terrain",
                vertices=vertices,
                triangles=triangles,
                colour=GROUND_COLOUR,
                normals=vertex_normals(vertices, triangles),
                colours=colours,
                extras={
                    "layer": "terrain",
                    "cell_m": round(ground.cell, 2),
                    "from_terrain_model": ground.from_terrain,
                },
            )
        )
        if bar is not None:
            bar.update(1)
    for group in include:
        if group == "terrain":
            continue
        sql_name, builder = builders[group]
        parts += builder(_rows(conn, sql_name, area), ground, origin)
        if bar is not None:
            bar.update(1)
    return Scene(
        area=area,
        origin=origin,
        ground=ground,
        parts=parts,
        include=include,
        sources=_sources(conn, include),
    )

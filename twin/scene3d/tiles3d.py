"""The buildings as OGC 3D Tiles 1.1 for CesiumJS: tileset.json plus one GLB per tile.

Tree: a quadtree over the buildings' lon/lat extent with additive refinement. Each tile holds
the most voluminous buildings of its cell that no ancestor holds (at most `tile_buildings`),
so from afar the towers show first and zooming in adds the rest; each building is in exactly
one tile. A tile's geometric error is the size (metres) of the largest building left to its
descendants, so a tile refines when that building would cover enough pixels; leaves have 0.

Content: glTF in the tile's own east-north-up frame (tile.transform holds the frame relative
to the parent's), one mesh per tile, flat-shaded, coloured by seismic status, with the
building ids and properties as EXT_mesh_features feature ids + an EXT_structural_metadata
property table, so a click in CesiumJS names the building. Bounding volumes are regions
(radians, metres) computed from the content's own vertices.

Heights are the terrain model's (above sea level) used as ellipsoidal heights: no geoid
model ships with the twin, so over a global ellipsoid the city sits tens of metres off;
over the twin's own terrain it matches.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from pyproj import Transformer

from twin.catalog import analysis_inputs
from twin.errors import NotFound
from twin.progress import progress
from twin.scene3d.area import TO_LONLAT, SceneArea
from twin.scene3d.geometry import flat_shaded
from twin.scene3d.gltf import FLOAT, GlbWriter
from twin.scene3d.scene import building_parts, load_ground
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import layer_versions

TILE_BUILDINGS = 1000  # most buildings in one tile's content
MAX_DEPTH = 12
GROUND_CELLS = 4000  # terrain detail for the whole city (the terrain's own resolution if finer)
PAD_RADIANS = 2e-7  # ~1 m: float32 positions and chords never poke out of a region
PAD_METRES = 1.0
TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_build_lock = threading.Lock()


class TilesetUnavailable(NotFound):
    """No buildings to make 3D Tiles of (404)."""


def tileset_dir() -> Path:
    """Where the server reads the buildings' tileset from (built on demand when stale)."""
    return get_settings().home / "3dtiles" / "buildings"


@dataclass
class Building:
    """A building's solid in geographic terms: what a tile needs to place and bound it."""

    id: int
    lon: np.ndarray  # per vertex, degrees
    lat: np.ndarray
    height: np.ndarray  # per vertex, metres
    triangles: np.ndarray
    colour: str
    size: float  # metres: the larger of its height and its footprint's width
    volume: float
    properties: dict[str, Any]

    @cached_property
    def centre(self) -> tuple[float, float]:
        return float(self.lon.mean()), float(self.lat.mean())


@dataclass
class Tile:
    key: str  # quadkey: "" for the root, then one digit 0-3 per level
    bounds: tuple[float, float, float, float]  # the quadtree cell, degrees
    content: list[Building] = field(default_factory=list)
    children: list[Tile] = field(default_factory=list)
    error: float = 0.0

    @property
    def depth(self) -> int:
        return len(self.key)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def buildings(self):
        for tile in self.walk():
            yield from tile.content


def _colour_rgba(colour: str) -> tuple[int, int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16), 255


def _buildings(conn: psycopg.Connection, bar: Any, area: SceneArea | None = None) -> list[Building]:
    """The buildings of `area` (default: all of them) as solids on the terrain."""
    if area is None:
        extent = conn.execute(query("scene3d/buildings_extent")).fetchone()
        if extent is None or not extent[4]:
            raise _no_buildings()
        west, south, east, north, _count = extent
        pad = 1e-6
        area = SceneArea(
            "bbox", "buildings", shapely.box(west - pad, south - pad, east + pad, north + pad)
        )
    ground = load_ground(
        conn, tuple(np.add(area.utm_bounds(), (-200, -200, 200, 200))), GROUND_CELLS
    )
    rows = conn.execute(
        query("scene3d/buildings"), {"area": shapely.to_wkb(area.geometry)}
    ).fetchall()
    if not rows:
        raise _no_buildings()
    bar.total = len(rows)
    buildings = []
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        parts = building_parts(chunk, ground, (0.0, 0.0, 0.0))
        for part in parts:
            v = part.vertices
            lon, lat = TO_LONLAT.transform(v[:, 0], v[:, 1])
            footprint = max(np.ptp(v[:, 0]), np.ptp(v[:, 1]))
            tall = float(np.ptp(v[:, 2]))
            props = part.extras
            buildings.append(
                Building(
                    id=int(props["id"]),
                    lon=np.asarray(lon),
                    lat=np.asarray(lat),
                    height=v[:, 2].copy(),
                    triangles=part.triangles,
                    colour=part.colour,
                    size=float(max(tall, footprint)),
                    volume=float(footprint * footprint * tall),
                    properties=props,
                )
            )
        bar.update(len(chunk))
    return buildings


def _no_buildings() -> TilesetUnavailable:
    return TilesetUnavailable(
        "no buildings are loaded, so there is no 3D Tiles tileset: "
        "load some (`twin load demo` or `twin import`) first"
    )


def _split(tile: Tile, candidates: list[Building], tile_buildings: int) -> None:
    """Fill `tile` with its largest buildings and push the rest down to four children."""
    if len(candidates) <= tile_buildings or tile.depth >= MAX_DEPTH:
        tile.content = candidates
        return
    ranked = sorted(candidates, key=lambda b: (-b.volume, b.id))
    tile.content = ranked[:tile_buildings]
    rest = ranked[tile_buildings:]
    west, south, east, north = tile.bounds
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    quadrants: dict[int, list[Building]] = {0: [], 1: [], 2: [], 3: []}
    for building in rest:
        x, y = building.centre
        quadrants[(x >= mid_x) + 2 * (y < mid_y)].append(building)
    cells = {
        0: (west, mid_y, mid_x, north),
        1: (mid_x, mid_y, east, north),
        2: (west, south, mid_x, mid_y),
        3: (mid_x, south, east, mid_y),
    }
    for quadrant, members in quadrants.items():
        if members:
            child = Tile(key=tile.key + str(quadrant), bounds=cells[quadrant])
            _split(child, members, tile_buildings)
            tile.children.append(child)
    tile.error = max(b.size for b in rest)


def _region(buildings: list[Building]) -> list[float]:
    lon = np.concatenate([b.lon for b in buildings])
    lat = np.concatenate([b.lat for b in buildings])
    height = np.concatenate([b.height for b in buildings])
    return [
        math.radians(lon.min()) - PAD_RADIANS,
        math.radians(lat.min()) - PAD_RADIANS,
        math.radians(lon.max()) + PAD_RADIANS,
        math.radians(lat.max()) + PAD_RADIANS,
        float(height.min()) - PAD_METRES,
        float(height.max()) + PAD_METRES,
    ]


def enu_frame(lon: float, lat: float, height: float) -> np.ndarray:
    """The 4x4 matrix taking east-north-up metres at a point to Earth-centred (ECEF) metres."""
    x, y, z = TO_ECEF.transform(lon, lat, height)
    lam, phi = math.radians(lon), math.radians(lat)
    east = [-math.sin(lam), math.cos(lam), 0.0]
    north = [-math.sin(phi) * math.cos(lam), -math.sin(phi) * math.sin(lam), math.cos(phi)]
    up = [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)]
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2], frame[:3, 3] = east, north, up, (x, y, z)
    return frame


def _string_column(writer: GlbWriter, values: list[Any]) -> dict[str, Any]:
    encoded = [("" if v is None else str(v)).encode("utf-8") for v in values]
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.uint32)
    return {
        "values": writer.buffer_view(b"".join(encoded)),
        "stringOffsets": writer.buffer_view(offsets.tobytes()),
        "stringOffsetType": "UINT32",
    }


METADATA_SCHEMA: dict[str, Any] = {
    "id": "almaty_twin_buildings",
    "classes": {
        "building": {
            "name": "Building",
            "properties": {
                "id": {
                    "type": "SCALAR",
                    "componentType": "INT64",
                    "required": True,
                    "description": "Feature id in /collections/buildings/items/{id}",
                },
                "height_m": {"type": "SCALAR", "componentType": "FLOAT32", "required": True},
                "height_assumed": {"type": "BOOLEAN", "required": True},
                "levels": {"type": "SCALAR", "componentType": "INT32", "noData": -1},
                "year_built": {"type": "SCALAR", "componentType": "INT32", "noData": -1},
                "use": {"type": "STRING", "noData": ""},
                "seismic_status": {"type": "STRING", "noData": ""},
                "district": {"type": "STRING", "noData": ""},
            },
        }
    },
}


def _property_table(writer: GlbWriter, buildings: list[Building]) -> dict[str, Any]:
    props = [b.properties for b in buildings]

    def ints(name: str, dtype: Any, missing: int = -1) -> int:
        column = np.array(
            [missing if p.get(name) is None else int(p[name]) for p in props], dtype=dtype
        )
        return writer.buffer_view(column.tobytes())

    flags = np.packbits(np.array([bool(p["height_assumed"]) for p in props]), bitorder="little")
    return {
        "class": "building",
        "count": len(buildings),
        "properties": {
            "id": {"values": ints("id", np.int64)},
            "height_m": {
                "values": writer.buffer_view(
                    np.array([p["height_m"] for p in props], dtype=np.float32).tobytes()
                )
            },
            "height_assumed": {"values": writer.buffer_view(flags.tobytes())},
            "levels": {"values": ints("levels", np.int32)},
            "year_built": {"values": ints("year_built", np.int32)},
            "use": _string_column(writer, [p.get("use") for p in props]),
            "seismic_status": _string_column(writer, [p.get("seismic_status") for p in props]),
            "district": _string_column(writer, [p.get("district") for p in props]),
        },
    }


def tile_glb(buildings: list[Building], frame: np.ndarray) -> bytes:
    """One tile's buildings as GLB in the east-north-up frame `frame`."""
    sizes = np.array([len(b.lon) for b in buildings])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    x, y, z = TO_ECEF.transform(
        np.concatenate([b.lon for b in buildings]),
        np.concatenate([b.lat for b in buildings]),
        np.concatenate([b.height for b in buildings]),
    )
    local = (np.column_stack([x, y, z, np.ones(len(x))]) @ np.linalg.inv(frame).T)[:, :3]
    triangles = np.vstack([b.triangles + o for b, o in zip(buildings, offsets)])
    owner = np.repeat(np.arange(len(buildings)), [len(b.triangles) for b in buildings])
    vertices, normals = flat_shaded(local, triangles)
    feature = np.repeat(owner, 3).astype(np.float32)
    rgba = np.array([_colour_rgba(b.colour) for b in buildings], dtype=np.uint8)
    writer = GlbWriter()
    material = writer.material("#ffffff", vertex_colours=True)
    feature_ids = writer.accessor(feature, "SCALAR", FLOAT)
    primitive = writer.primitive(
        vertices,
        np.arange(len(vertices)).reshape(-1, 3),
        material,
        normals_zup=normals,
        colours=rgba[feature.astype(np.int64)],
        attributes={"_FEATURE_ID_0": feature_ids},
    )
    primitive["extensions"] = {
        "EXT_mesh_features": {
            "featureIds": [{"featureCount": len(buildings), "attribute": 0, "propertyTable": 0}]
        }
    }
    node = writer.node("buildings", mesh=writer.mesh("buildings", [primitive]))
    metadata = {"schema": METADATA_SCHEMA, "propertyTables": [_property_table(writer, buildings)]}
    return writer.to_bytes(
        [node],
        scene_name="buildings",
        extensions={"EXT_structural_metadata": metadata},
        extensions_used=["EXT_mesh_features"],
    )


def _tile_json(
    tile: Tile, parent_frame: np.ndarray, directory: Path, bar: Any, stats: dict[str, int]
) -> dict[str, Any]:
    members = list(tile.buildings())
    region = _region(members)
    centre_lon = math.degrees((region[0] + region[2]) / 2)
    centre_lat = math.degrees((region[1] + region[3]) / 2)
    frame = enu_frame(centre_lon, centre_lat, (region[4] + region[5]) / 2)
    node: dict[str, Any] = {
        "boundingVolume": {"region": region},
        "geometricError": round(tile.error, 3),
        "transform": [float(v) for v in (np.linalg.inv(parent_frame) @ frame).T.ravel()],
    }
    if tile.content:
        uri = f"content/{tile.key or 'root'}.glb"
        data = tile_glb(tile.content, frame)
        (directory / uri).write_bytes(data)
        node["content"] = {"uri": uri, "boundingVolume": {"region": _region(tile.content)}}
        stats["content_tiles"] += 1
        stats["bytes"] += len(data)
        bar.update(len(tile.content))
    stats["tiles"] += 1
    stats["depth"] = max(stats["depth"], tile.depth)
    if tile.children:
        node["children"] = [
            _tile_json(child, frame, directory, bar, stats) for child in tile.children
        ]
    return node


def _current_versions(conn: psycopg.Connection) -> dict[str, int]:
    """Data versions of what the tiles are built from (`feeds: [scene3d]` in the catalog)."""
    versions = layer_versions(conn)
    return {name: int(versions.get(name, 0)) for name in analysis_inputs("scene3d")}


def build_tileset(
    conn: psycopg.Connection,
    out: Path,
    tile_buildings: int = TILE_BUILDINGS,
    show_progress: bool = False,
    area: SceneArea | None = None,
) -> dict[str, Any]:
    """Write tileset.json and its content under `out`, replacing what was there at once
    (the buildings of `area` only when given: a part of the city, e.g. to check one)."""
    versions = _current_versions(conn)

    def bar(description: str, total: int | None = None):
        if show_progress:
            return progress(description, total=total, unit="building")
        return nullcontext(_SilentBar())

    with bar("3D Tiles: buildings meshed") as meshed:
        buildings = _buildings(conn, meshed, area)
    lon = np.concatenate([b.lon for b in buildings])
    lat = np.concatenate([b.lat for b in buildings])
    root = Tile(
        key="", bounds=(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    )
    _split(root, buildings, tile_buildings)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / "content").mkdir()
        stats = {"tiles": 0, "content_tiles": 0, "bytes": 0, "depth": 0}
        with bar("3D Tiles: tiles written", total=len(buildings)) as written:
            root_json = _tile_json(root, np.eye(4), staging, written, stats)
        root_json["refine"] = "ADD"
        tileset = {
            "asset": {
                "version": "1.1",
                "generator": "Almaty Twin",
                "extras": {
                    "almaty_twin": {
                        "versions": versions,
                        "buildings": len(buildings),
                        "tile_buildings": tile_buildings,
                        "built_at": datetime.now(UTC).isoformat(),
                        "heights": "terrain model heights above sea level, used as "
                        "ellipsoidal heights (no geoid correction)",
                    }
                },
            },
            "geometricError": round(max(b.size for b in buildings), 3),
            "root": root_json,
        }
        payload = json.dumps(tileset, separators=(",", ":")).encode()
        (staging / "tileset.json").write_bytes(payload)
        stats["bytes"] += len(payload)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"buildings": len(buildings), **stats, "versions": versions}


class _SilentBar:
    """Stands in for a progress bar when the server builds a tileset."""

    total: int | None = None

    def update(self, n: int = 1) -> None:
        pass


def _swap(staging: Path, out: Path) -> None:
    """Put the new tileset in place; the old one goes in the same breath."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}-old-{os.getpid()}-{threading.get_ident()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def tileset_versions(directory: Path) -> dict[str, int] | None:
    """The data versions a built tileset was made from, or None when there is none."""
    path = directory / "tileset.json"
    try:
        tileset = json.loads(path.read_text(encoding="utf-8"))
        return tileset["asset"]["extras"]["almaty_twin"]["versions"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_tileset(conn: psycopg.Connection, directory: Path | None = None) -> Path:
    """The served tileset, rebuilt first when missing or older than the buildings/terrain."""
    directory = directory or tileset_dir()
    with _build_lock:
        if tileset_versions(directory) != _current_versions(conn):
            build_tileset(conn, directory)
    return directory

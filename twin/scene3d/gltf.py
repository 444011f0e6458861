"""Binary glTF 2.0 (GLB) written straight from the scene's meshes.

pyvista's own exporter (vtkGLTFExporter) writes JSON glTF with three base64 buffers and one
material per actor and names nodes mesh0, mesh1...; a district of 5,000 buildings took 8 s to
add as actors, and pygltflib needed 14 s to load the result and could not merge its 15,000
buffers into one GLB blob. So the twin packs its meshes itself: one binary chunk, one
material per colour, nodes named by feature id with the feature's properties in extras.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5121, 5123, 5125
TRIANGLES = 4


def y_up(vertices: np.ndarray) -> np.ndarray:
    """Z-up (east, north, up) to glTF's Y-up (east, up, south), as float32."""
    v = np.asarray(vertices, dtype=np.float64)
    return np.column_stack([v[:, 0], v[:, 2], -v[:, 1]]).astype(np.float32)


def _rgb(colour: str) -> list[float]:
    colour = colour.lstrip("#")
    return [int(colour[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]


def _clean(value: Any) -> Any:
    """JSON-safe extras: numpy scalars become Python numbers, NaN becomes null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class GlbWriter:
    """Accumulates meshes, materials and nodes; `to_bytes` returns the GLB file."""

    def __init__(self, generator: str = "Almaty Twin") -> None:
        self.doc: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": generator},
            "scenes": [],
            "nodes": [],
            "meshes": [],
            "materials": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }
        self.blob = bytearray()
        self._materials: dict[tuple, int] = {}

    def _view(self, data: bytes, target: int | None, align: int = 4) -> int:
        while len(self.blob) % align:
            self.blob.append(0)
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob += data
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def buffer_view(self, data: bytes) -> int:
        """A plain view (no target) on an 8-byte boundary, as property table columns need."""
        return self._view(data, None, align=8)

    def accessor(
        self,
        array: np.ndarray,
        kind: str,
        component: int,
        *,
        target: int | None = ARRAY_BUFFER,
        normalized: bool = False,
        bounds: bool = False,
    ) -> int:
        array = np.ascontiguousarray(array)
        accessor: dict[str, Any] = {
            "bufferView": self._view(array.tobytes(), target),
            "componentType": component,
            "count": int(len(array)),
            "type": kind,
        }
        if normalized:
            accessor["normalized"] = True
        if bounds:
            accessor["min"] = [float(v) for v in array.min(axis=0)]
            accessor["max"] = [float(v) for v in array.max(axis=0)]
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1

    def material(
        self,
        colour: str,
        opacity: float = 1.0,
        *,
        double_sided: bool = False,
        vertex_colours: bool = False,
    ) -> int:
        key = (colour, opacity, double_sided, vertex_colours)
        if key not in self._materials:
            base = [1.0, 1.0, 1.0] if vertex_colours else _rgb(colour)
            material: dict[str, Any] = {
                "name": f"{colour}{'' if opacity >= 1 else f'@{opacity:g}'}",
                "pbrMetallicRoughness": {
                    "baseColorFactor": [*base, float(opacity)],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.9,
                },
                "doubleSided": double_sided,
            }
            if opacity < 1:
                material["alphaMode"] = "BLEND"
            self.doc["materials"].append(material)
            self._materials[key] = len(self.doc["materials"]) - 1
        return self._materials[key]

    def primitive(
        self,
        vertices_zup: np.ndarray,
        triangles: np.ndarray,
        material: int,
        *,
        normals_zup: np.ndarray | None = None,
        colours: np.ndarray | None = None,
        attributes: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """A triangle primitive; positions and normals are given Z-up and written Y-up."""
        attrs = {"POSITION": self.accessor(y_up(vertices_zup), "VEC3", FLOAT, bounds=True)}
        if normals_zup is not None:
            attrs["NORMAL"] = self.accessor(y_up(normals_zup), "VEC3", FLOAT)
        if colours is not None:
            attrs["COLOR_0"] = self.accessor(
                np.asarray(colours, dtype=np.uint8), "VEC4", UNSIGNED_BYTE, normalized=True
            )
        attrs.update(attributes or {})
        small = len(vertices_zup) < 65535  # 16-bit indices halve most meshes' index bytes
        indices = np.asarray(triangles, dtype=np.uint16 if small else np.uint32).ravel()
        return {
            "attributes": attrs,
            "material": material,
            "mode": TRIANGLES,
            "indices": self.accessor(
                indices,
                "SCALAR",
                UNSIGNED_SHORT if small else UNSIGNED_INT,
                target=ELEMENT_ARRAY_BUFFER,
            ),
        }

    def mesh(
        self, name: str, primitives: list[dict[str, Any]], extras: dict[str, Any] | None = None
    ) -> int:
        mesh: dict[str, Any] = {"name": name, "primitives": primitives}
        if extras:
            mesh["extras"] = _clean(extras)
        self.doc["meshes"].append(mesh)
        return len(self.doc["meshes"]) - 1

    def node(
        self,
        name: str,
        *,
        mesh: int | None = None,
        children: list[int] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> int:
        node: dict[str, Any] = {"name": name}
        if mesh is not None:
            node["mesh"] = mesh
        if children:
            node["children"] = children
        if extras:
            node["extras"] = _clean(extras)
        self.doc["nodes"].append(node)
        return len(self.doc["nodes"]) - 1

    def to_bytes(
        self,
        roots: list[int],
        *,
        scene_name: str = "scene",
        extras: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
        extensions_used: list[str] | None = None,
    ) -> bytes:
        doc = dict(self.doc)
        scene: dict[str, Any] = {"name": scene_name, "nodes": roots}
        if extras:
            scene["extras"] = _clean(extras)
            doc["asset"] = {**doc["asset"], "extras": _clean(extras)}
        doc["scenes"] = [scene]
        doc["scene"] = 0
        if extensions:
            doc["extensions"] = extensions
        used = sorted(set(extensions_used or []) | set(extensions or {}))
        if used:
            doc["extensionsUsed"] = used
        while len(self.blob) % 8:
            self.blob.append(0)
        doc["buffers"] = [{"byteLength": len(self.blob)}]
        doc = {key: value for key, value in doc.items() if value != []}
        payload = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
        payload += b" " * (-len(payload) % 4)
        total = 12 + 8 + len(payload) + 8 + len(self.blob)
        return b"".join(
            [
                struct.pack("<III", GLB_MAGIC, 2, total),
                struct.pack("<II", len(payload), CHUNK_JSON),
                payload,
                struct.pack("<II", len(self.blob), CHUNK_BIN),
                bytes(self.blob),
            ]
        )

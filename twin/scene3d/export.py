"""An area of the city as one binary glTF (GLB) for Blender, QGIS 3D, CesiumJS or Unreal.

Node tree: the scene's root (named after the area, with the placement in extras) holds one
node per part group (terrain, buildings, faults, utilities, parks), which holds one node per
feature named `layer/id` (e.g. `buildings/1234`) with the feature's properties in extras.
Coordinates are metres in UTM 43N around the origin recorded in the asset's and the scene's
extras, in glTF's Y-up axes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from twin.progress import progress
from twin.scene3d.area import SceneArea
from twin.scene3d.gltf import GlbWriter
from twin.scene3d.scene import INCLUDES, Scene, build_scene

GROUP_TITLES = {
    "terrain": "Terrain",
    "buildings": "Buildings",
    "faults": "Seismic faults",
    "utilities": "Utility networks",
    "parks": "Parks and green spaces",
}


@dataclass(frozen=True)
class ExportedScene:
    glb: bytes
    scene: Scene

    @property
    def summary(self) -> dict[str, Any]:
        return {
            "area": self.scene.area.label,
            "bytes": len(self.glb),
            "origin": self.scene.origin,
            **{group: self.scene.count(group) for group in self.scene.include},
        }


def scene_glb(scene: Scene) -> bytes:
    """The scene as GLB bytes."""
    writer = GlbWriter()
    groups = []
    for group in scene.include:
        children = []
        for part in (p for p in scene.parts if p.group == group):
            surface = group in ("terrain", "parks")
            material = writer.material(
                part.colour,
                part.opacity,
                double_sided=surface,
                vertex_colours=part.colours is not None,
            )
            primitive = writer.primitive(
                part.vertices,
                part.triangles,
                material,
                normals_zup=part.normals,
                colours=part.colours,
            )
            mesh = writer.mesh(part.name, [primitive])
            children.append(writer.node(part.name, mesh=mesh, extras=part.extras))
        groups.append(
            writer.node(
                group,
                children=children,
                extras={
                    "title": GROUP_TITLES[group],
                    "layer": INCLUDES[group],
                    "count": len(children),
                },
            )
        )
    placement = scene.placement()
    root = writer.node(
        f"Almaty Twin: {scene.area.label}", children=groups, extras={"almaty_twin": placement}
    )
    return writer.to_bytes([root], scene_name=scene.area.label, extras={"almaty_twin": placement})


def export_scene(
    conn: psycopg.Connection,
    area: SceneArea,
    include: tuple[str, ...] = tuple(INCLUDES),
    show_progress: bool = False,
) -> ExportedScene:
    if show_progress:
        with progress(f"scene {area.label}", total=len(include), unit="layer") as bar:
            scene = build_scene(conn, area, include, bar)
    else:
        scene = build_scene(conn, area, include)
    return ExportedScene(glb=scene_glb(scene), scene=scene)


def write_scene(exported: ExportedScene, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.part")
    temporary.write_bytes(exported.glb)
    temporary.replace(out)


def scene_etag(area: SceneArea, include: tuple[str, ...], versions: dict[str, int]) -> str:
    """A validator that changes when the area, the parts or any of their data change (the
    terrain always counts: everything stands on it)."""
    layers = {INCLUDES[g] for g in include} | {"terrain"}
    key = json.dumps(
        {
            "area": area.label,
            "include": include,
            "versions": {name: versions.get(name, 0) for name in sorted(layers)},
            "format": 1,
        },
        sort_keys=True,
    )
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'

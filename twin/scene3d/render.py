"""An off-screen picture of a scene for reports (pyvista with EGL/OSMesa: no display needed)."""

from __future__ import annotations

import math
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the CLI imports CAMERAS at start-up: keep pyvista and VTK out of it
    from twin.scene3d.scene import Part, Scene

# Camera presets: compass direction the camera looks FROM (azimuth, degrees clockwise from
# north) and its elevation angle above the horizon. Oblique from the south-west is the
# planners' habit: the mountains behind, shadows on the facades facing the viewer.
CAMERAS: dict[str, tuple[float, float]] = {
    "south-west": (225.0, 35.0),
    "south": (180.0, 35.0),
    "south-east": (135.0, 35.0),
    "west": (270.0, 35.0),
    "east": (90.0, 35.0),
    "north-west": (315.0, 35.0),
    "north": (0.0, 35.0),
    "north-east": (45.0, 35.0),
    "top": (180.0, 89.0),
}
BACKGROUND = "#eef2f5"
_render_lock = threading.Lock()  # VTK rendering is not thread-safe


def _merged(parts: list[Part]):
    """Parts of one look merged into one pyvista mesh (one actor instead of thousands)."""
    import pyvista as pv

    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    vertices = np.vstack([p.vertices for p in parts])
    triangles = np.vstack([p.triangles + o for p, o in zip(parts, offsets)])
    mesh = pv.PolyData.from_regular_faces(vertices, triangles)
    if parts[0].colours is not None:
        mesh.point_data["rgba"] = np.vstack([p.colours for p in parts])
    return mesh


def _camera(scene: Scene, preset: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    azimuth, elevation = CAMERAS[preset]
    points = np.vstack(
        [p.vertices for p in scene.parts if p.group != "terrain"]
        or [p.vertices for p in scene.parts]
    )
    west, south, east, north = scene.area.utm_bounds()
    focus_xy = ((west + east) / 2 - scene.origin[0], (south + north) / 2 - scene.origin[1])
    focus_z = float(np.median(points[:, 2])) if len(points) else 0.0
    size = max(east - west, north - south, 200.0)
    distance = size * 1.8
    a, e = math.radians(azimuth), math.radians(elevation)
    position = (
        focus_xy[0] + distance * math.cos(e) * math.sin(a),
        focus_xy[1] + distance * math.cos(e) * math.cos(a),
        focus_z + distance * math.sin(e),
    )
    return position, (focus_xy[0], focus_xy[1], focus_z)


def render_scene(
    scene: Scene,
    out: Path,
    *,
    width: int = 1600,
    height: int = 1000,
    camera: str = "south-west",
    title: bool = True,
) -> np.ndarray:
    """Write a PNG of the scene; return its pixels (rows, cols, 3)."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {', '.join(CAMERAS)}")
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
    if not os.environ.get("DISPLAY"):  # straight to EGL, without VTK's failed try at X first
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    looks: dict[tuple, list[Part]] = defaultdict(list)
    for part in scene.parts:
        looks[(part.group, part.colour, part.opacity, part.colours is not None)].append(part)
    underground = "utilities" in scene.include
    with _render_lock:
        plotter = pv.Plotter(off_screen=True, window_size=(width, height), lighting="light_kit")
        try:
            plotter.set_background(BACKGROUND)
            for (group, colour, opacity, per_vertex), parts in looks.items():
                mesh = _merged(parts)
                if group == "terrain" and underground:
                    opacity = 0.55  # see the pipes through the ground
                if per_vertex:
                    plotter.add_mesh(
                        mesh,
                        scalars="rgba",
                        rgba=True,
                        opacity=opacity,
                        smooth_shading=True,
                        show_scalar_bar=False,
                    )
                else:
                    plotter.add_mesh(
                        mesh,
                        color=colour,
                        opacity=opacity,
                        smooth_shading=group in ("faults", "utilities"),
                        show_edges=False,
                    )
            position, focus = _camera(scene, camera)
            plotter.camera_position = [position, focus, (0.0, 0.0, 1.0)]
            plotter.camera.view_angle = 30.0
            plotter.camera.clipping_range = (1.0, 1e6)
            if title:
                plotter.add_text(
                    f"Almaty Twin: {scene.area.label}  ({scene.count('buildings')} buildings)",
                    position="upper_left",
                    font_size=10,
                    color="#2d3436",
                )
            out.parent.mkdir(parents=True, exist_ok=True)
            image = plotter.screenshot(str(out), return_img=True)
        finally:
            plotter.close()
    return image

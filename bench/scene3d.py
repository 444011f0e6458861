"""`twin bench scene3d`: a district as GLB — the twin's writer against pyvista's own exporter.

Same scene (the district's terrain, buildings, faults, utilities and parks, meshed once), in
one run, each timed --runs times:
- scene: reading the district from PostGIS and meshing it (build_scene), for scale;
- ours: the scene to GLB bytes with the twin's writer (one binary buffer, one material per
  colour, nodes named by feature id);
- stock: what pyvista offers: one actor per part in a Plotter, `export_gltf` (JSON glTF with
  base64 buffers, vtkGLTFExporter), then trimesh to turn it into GLB (pygltflib cannot merge
  the exporter's many buffers into one blob);
- render: `twin render`'s off-screen picture of the same scene (1600x1000).
Prints ONE JSON line: medians and p95 in ms, bytes, and stock/ours ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin.db.pool import connect
from twin.scene3d.area import count_buildings, resolve_area
from twin.scene3d.export import scene_glb
from twin.scene3d.render import render_scene
from twin.scene3d.scene import INCLUDES, Scene, build_scene
from twin.sqlfiles import query


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "median_ms": round(float(np.median(ms)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "runs": len(ms),
    }


def _timed(runs: int, work) -> tuple[list[float], Any]:
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def pyvista_glb(scene: Scene, directory: Path) -> bytes:
    """The stock route: pyvista Plotter + vtkGLTFExporter, converted to GLB by trimesh."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv
    import trimesh

    plotter = pv.Plotter(off_screen=True)
    try:
        for part in scene.parts:
            mesh = pv.PolyData.from_regular_faces(part.vertices, part.triangles)
            plotter.add_mesh(mesh, color=part.colour, opacity=part.opacity, name=part.name)
        path = directory / "stock.gltf"
        plotter.export_gltf(str(path), inline_data=True, rotate_scene=True)
    finally:
        plotter.close()
    return trimesh.load(str(path), force="scene").export(file_type="glb")


def _busiest_district(conn) -> str:
    names = [r[0] for r in conn.execute(query("scene3d/district_names")).fetchall()]
    if not names:
        raise SystemExit("no districts loaded: run `twin load demo` first")
    counts = {name: count_buildings(conn, resolve_area(conn, district=name)) for name in names}
    return max(counts, key=counts.get)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench scene3d")
    parser.add_argument("--district", help="default: the district with the most buildings")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stock-runs", type=int, default=3, help="runs of the slow stock exporter")
    args = parser.parse_args(argv)
    with connect() as conn:
        name = args.district or _busiest_district(conn)
        area = resolve_area(conn, district=name)
        scene_s, scene = _timed(args.runs, lambda: build_scene(conn, area, tuple(INCLUDES)))
    ours_s, ours = _timed(args.runs, lambda: scene_glb(scene))
    with tempfile.TemporaryDirectory() as tmp:
        stock_s, stock = _timed(args.stock_runs, lambda: pyvista_glb(scene, Path(tmp)))
        render_s, _ = _timed(args.runs, lambda: render_scene(scene, Path(tmp) / "view.png"))
    result = {
        "benchmark": "scene3d",
        "district": name,
        "buildings": scene.count("buildings"),
        "parts": len(scene.parts),
        "scene": _stats(scene_s),
        "ours_glb": _stats(ours_s),
        "stock_glb": _stats(stock_s),
        "render": _stats(render_s),
        "ours_bytes": len(ours),
        "stock_bytes": len(stock),
        "ratio_stock_over_ours": round(float(np.median(stock_s) / np.median(ours_s)), 1),
        "ratio_export_stock_over_ours": round(
            float(
                (np.median(scene_s) + np.median(stock_s)) / (np.median(scene_s) + np.median(ours_s))
            ),
            2,
        ),
    }
    print(json.dumps(result))

"""A planner takes a district into a 3D tool (GLB), a picture into a report (PNG), and the
whole city into CesiumJS (3D Tiles) — checked with independent readers (trimesh, pygltflib,
pyproj, Pillow), never with the twin's own code."""

from __future__ import annotations

import io
import json
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh
from PIL import Image
from pygltflib import GLTF2
from pyproj import Transformer

from conftest import Server, run_twin

UTM_TO_LONLAT = Transformer.from_crs("EPSG:32643", "EPSG:4326", always_xy=True)
ECEF_TO_LLH = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
Y_UP_TO_Z_UP = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)


@pytest.fixture(scope="module")
def district(demo_city, db_module) -> dict:
    """The demo district with the fewest buildings (at least 10): a quick, real scene."""
    row = db_module.execute(
        "SELECT d.name_en, count(b.id) AS n, ST_AsBinary(d.geom) "
        "FROM districts d JOIN buildings b ON ST_Intersects(d.geom, ST_PointOnSurface(b.geom)) "
        "GROUP BY d.id HAVING count(b.id) >= 10 ORDER BY n, d.name_en LIMIT 1"
    ).fetchone()
    assert row, "the demo city has no district with buildings"
    ids = {
        r[0]
        for r in db_module.execute(
            "SELECT b.id FROM buildings b JOIN districts d "
            "ON ST_Intersects(d.geom, ST_PointOnSurface(b.geom)) WHERE d.name_en = %s",
            (row[0],),
        ).fetchall()
    }
    return {"name": row[0], "ids": ids, "polygon": shapely.from_wkb(bytes(row[2]))}


@pytest.fixture(scope="module")
def db_module(database_url):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def district_glb(district, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scene") / "district.glb"
    result = run_twin("export3d", "--district", district["name"], "--out", str(out))
    assert f"{len(district['ids'])} buildings" in result.stdout
    return out


def glb_document(glb: Path | bytes) -> dict:
    """The JSON chunk of a GLB, read by the container's spec (pygltflib takes ~40 s on a
    district's 4,000 nodes)."""
    data = glb.read_bytes() if isinstance(glb, Path) else glb
    magic, version, total = struct.unpack_from("<III", data, 0)
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    length, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A
    return json.loads(data[20 : 20 + length])


def placement(gltf: GLTF2 | dict) -> dict:
    if isinstance(gltf, dict):
        return gltf["scenes"][gltf.get("scene", 0)]["extras"]["almaty_twin"]
    return gltf.scenes[gltf.scene].extras["almaty_twin"]


def to_lonlat(points_yup: np.ndarray, origin: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """glTF Y-up metres around the recorded origin -> lon, lat, elevation."""
    easting = origin["easting"] + points_yup[:, 0]
    northing = origin["northing"] - points_yup[:, 2]
    lon, lat = UTM_TO_LONLAT.transform(easting, northing)
    return np.asarray(lon), np.asarray(lat), origin["elevation"] + points_yup[:, 1]


def test_district_glb_has_one_closed_solid_per_building_inside_the_district(
    district, district_glb, db_module
):
    document = glb_document(district_glb)
    where = placement(document)
    assert where["crs"] == "EPSG:32643" and set(where["origin"]) == {
        "easting",
        "northing",
        "elevation",
    }
    assert document["asset"]["extras"]["almaty_twin"]["origin"] == where["origin"]
    names = [node["name"] for node in document["nodes"]]
    building_nodes = [n for n in names if n.startswith("buildings/")]
    assert len(building_nodes) == len(set(building_nodes)) == len(district["ids"])
    assert {int(n.split("/")[1]) for n in building_nodes} == district["ids"]
    assert "terrain" in names

    scene = trimesh.load(str(district_glb), force="scene")
    heights = dict(
        db_module.execute(
            "SELECT id, coalesce(height_m, levels * 3.0, 9.0) FROM buildings WHERE id = ANY(%s)",
            (list(district["ids"]),),
        ).fetchall()
    )
    footprints = {
        bid: shapely.from_wkb(bytes(wkb))
        for bid, wkb in db_module.execute(
            "SELECT id, ST_AsBinary(geom) FROM buildings WHERE id = ANY(%s)",
            (list(district["ids"]),),
        ).fetchall()
    }
    outline = district["polygon"].buffer(0.002)  # the walls may lean out of it a little
    shapely.prepare(outline)
    for name in building_nodes:
        mesh = scene.geometry[name]
        assert mesh.is_watertight and mesh.is_winding_consistent, name
        assert mesh.volume > 0, f"{name} faces inwards"
        bid = int(name.split("/")[1])
        lon, lat, elevation = to_lonlat(np.asarray(mesh.vertices), where["origin"])
        # the solid stands on its own footprint, within centimetres ...
        west, south, east, north = footprints[bid].bounds
        assert lon.min() == pytest.approx(west, abs=1e-6)
        assert lat.max() == pytest.approx(north, abs=1e-6)
        assert lon.max() == pytest.approx(east, abs=1e-6)
        assert lat.min() == pytest.approx(south, abs=1e-6)
        # ... as tall as the building, at least
        assert np.ptp(elevation) >= heights[bid] - 0.01
        # ... and inside the district
        assert outline.contains(shapely.MultiPoint(np.column_stack([lon, lat])))


def test_buildings_stand_on_the_terrain(district_glb, demo_city):
    from twin.terrain import elevation_at  # the terrain model, independently of the scene

    where = placement(glb_document(district_glb))
    scene = trimesh.load(str(district_glb), force="scene")
    floors, grounds = [], []
    for name, mesh in scene.geometry.items():
        if name.startswith("buildings/"):
            lon, lat, elevation = to_lonlat(np.asarray(mesh.vertices), where["origin"])
            floors.append(elevation.min())
            grounds.append((lon, lat))
    lon = np.concatenate([g[0] for g in grounds])
    lat = np.concatenate([g[1] for g in grounds])
    ground = elevation_at(lon, lat)
    owner = np.repeat(np.arange(len(grounds)), [len(g[0]) for g in grounds])
    lowest = np.full(len(grounds), np.inf)
    np.minimum.at(lowest, owner, ground)
    on_terrain = np.isfinite(lowest)
    assert on_terrain.sum() > 0, "no building of the district lies on the terrain model"
    # the floor is at (or a little below) the lowest ground under the walls
    gap = np.abs(np.asarray(floors)[on_terrain] - lowest[on_terrain])
    assert gap.max() < 10, f"a building floats or sinks by {gap.max():.1f} m"


def test_faults_lie_on_the_ground_and_pipes_run_beneath_it(db_module, demo_city, tmp_path):
    from twin.terrain import elevation_at

    pipe = db_module.execute(
        "SELECT id, depth_m, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
        "FROM utility_lines WHERE depth_m > 0.5 AND ST_Length(geom::geography) > 100 "
        "ORDER BY id LIMIT 1"
    ).fetchone()
    fault = db_module.execute(
        "SELECT id, ST_X(p), ST_Y(p) FROM (SELECT id, ST_LineInterpolatePoint("
        "ST_GeometryN(geom, 1), 0.5) AS p FROM seismic_faults ORDER BY id LIMIT 1) f"
    ).fetchone()
    assert pipe and fault, "the demo city has utility lines with depths and faults"
    pid, depth, west, south, east, north = pipe
    out = tmp_path / "pipe.glb"
    run_twin(
        "export3d",
        "--bbox",
        f"{west - 0.002},{south - 0.002},{east + 0.002},{north + 0.002}",
        "--include",
        "terrain,utilities",
        "--out",
        str(out),
    )
    gltf = GLTF2().load(str(out))
    scene = trimesh.load(str(out), force="scene")
    mesh = scene.geometry[f"utility_lines/{pid}"]
    lon, lat, elevation = to_lonlat(np.asarray(mesh.vertices), placement(gltf)["origin"])
    below = elevation_at(lon, lat) - elevation
    assert np.nanmedian(below) == pytest.approx(depth, abs=1.0)
    assert (below > 0).mean() > 0.95, "a pipe surfaces above the ground"

    fid, lon0, lat0 = fault
    out = tmp_path / "fault.glb"
    run_twin(
        "export3d",
        "--bbox",
        f"{lon0 - 0.01},{lat0 - 0.01},{lon0 + 0.01},{lat0 + 0.01}",
        "--include",
        "terrain,faults",
        "--out",
        str(out),
    )
    gltf = GLTF2().load(str(out))
    scene = trimesh.load(str(out), force="scene")
    mesh = scene.geometry[f"seismic_faults/{fid}"]
    lon, lat, elevation = to_lonlat(np.asarray(mesh.vertices), placement(gltf)["origin"])
    above = elevation - elevation_at(lon, lat)
    assert np.nanmedian(above) == pytest.approx(2.0, abs=3.0), "the fault is not on the ground"


def test_render_writes_a_picture_of_the_district(district, tmp_path):
    out = tmp_path / "view.png"
    result = run_twin(
        "render",
        "--district",
        district["name"],
        "--out",
        str(out),
        "--width",
        "640",
        "--height",
        "400",
    )
    assert "south-west" in result.stdout
    image = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert image.shape == (400, 640, 3)
    assert image.std() > 15, "the picture is blank"
    background = np.array([0xEE, 0xF2, 0xF5], float)
    drawn = np.abs(image - background).sum(axis=2) > 30
    assert drawn.mean() > 0.2, "the scene fills too little of the picture"

    top = tmp_path / "top.png"
    run_twin(
        "render",
        "--district",
        district["name"],
        "--out",
        str(top),
        "--camera",
        "top",
        "--width",
        "320",
        "--height",
        "200",
        "--no-title",
    )
    top_image = np.asarray(Image.open(top).convert("RGB"), dtype=float)
    assert top_image.shape == (200, 320, 3) and top_image.std() > 15


def test_export_refuses_an_unknown_area_or_part(district, tmp_path):
    out = tmp_path / "never.glb"
    result = run_twin("export3d", "--district", "Atlantis", "--out", str(out), check=False)
    assert result.returncode == 1 and "no district named 'Atlantis'" in result.stderr
    assert district["name"] in result.stderr  # it lists the names it knows
    result = run_twin(
        "export3d",
        "--district",
        district["name"],
        "--include",
        "roads",
        "--out",
        str(out),
        check=False,
    )
    assert result.returncode == 1 and "roads" in result.stderr
    assert not out.exists()


def _walk(tile: dict, parent_world: np.ndarray, depth: int = 0):
    world = parent_world @ np.array(tile.get("transform", np.eye(4).ravel()), float).reshape(4, 4).T
    yield tile, world, depth
    for child in tile.get("children", []):
        yield from _walk(child, world, depth + 1)


def _feature_ids(gltf: GLTF2, blob: bytes) -> list[int]:
    table = gltf.extensions["EXT_structural_metadata"]["propertyTables"][0]
    view = gltf.bufferViews[table["properties"]["id"]["values"]]
    return np.frombuffer(
        blob, dtype="<i8", count=table["count"], offset=view.byteOffset or 0
    ).tolist()


def test_tileset_is_valid_and_bounds_its_content(demo_city, db_module):
    # built where the server serves it from (the server test below then finds it current)
    result = run_twin("tiles3d", "build", "--tile-buildings", "500")
    written = re.search(r"wrote (\S+)/tileset.json: (\d+) buildings", result.stdout)
    assert written, result.stdout
    out = Path(written.group(1))
    tileset = json.loads((out / "tileset.json").read_text())
    assert tileset["asset"]["version"] in ("1.0", "1.1")
    assert tileset["root"]["refine"] in ("ADD", "REPLACE")
    assert tileset["geometricError"] >= tileset["root"]["geometricError"] > 0

    all_ids = {r[0] for r in db_module.execute("SELECT id FROM buildings").fetchall()}
    seen: list[int] = []
    errors_by_depth: dict[int, list[float]] = {}
    for tile, world, depth in _walk(tileset["root"], np.eye(4)):
        errors_by_depth.setdefault(depth, []).append(tile["geometricError"])
        west, south, east, north, low, high = tile["boundingVolume"]["region"]
        assert -math.pi <= west < east <= math.pi and -math.pi / 2 <= south < north <= math.pi / 2
        assert low < high
        for child in tile.get("children", []):
            assert child["geometricError"] <= tile["geometricError"]
            c_west, c_south, c_east, c_north, c_low, c_high = child["boundingVolume"]["region"]
            assert west <= c_west and c_east <= east and south <= c_south and c_north <= north
            assert low <= c_low and c_high <= high
        if not tile.get("children"):
            assert tile["geometricError"] == 0
        if "content" not in tile:
            continue
        path = out / tile["content"]["uri"]
        gltf = GLTF2().load(str(path))
        blob = gltf.binary_blob()
        seen += _feature_ids(gltf, blob)
        primitive = gltf.meshes[0].primitives[0]
        features = primitive.extensions["EXT_mesh_features"]["featureIds"][0]
        assert features["featureCount"] == len(_feature_ids(gltf, blob))
        accessor = gltf.accessors[primitive.attributes.POSITION]
        view = gltf.bufferViews[accessor.bufferView]
        points = np.frombuffer(
            blob,
            dtype="<f4",
            count=accessor.count * 3,
            offset=(view.byteOffset or 0) + (accessor.byteOffset or 0),
        ).reshape(-1, 3)
        ecef = np.column_stack([points, np.ones(len(points))]) @ (world @ Y_UP_TO_Z_UP).T
        lon, lat, height = ECEF_TO_LLH.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        lon, lat = np.radians(lon), np.radians(lat)
        for region in (
            tile["boundingVolume"]["region"],
            tile["content"]["boundingVolume"]["region"],
        ):
            west, south, east, north, low, high = region
            assert west <= lon.min() and lon.max() <= east, path.name
            assert south <= lat.min() and lat.max() <= north, path.name
            assert low <= height.min() and height.max() <= high, path.name
    assert len(seen) == len(set(seen)) and set(seen) == all_ids  # each building once
    assert max(errors_by_depth) >= 1, "a tree of one tile is not a tileset to stream"
    for depth in range(1, max(errors_by_depth) + 1):
        assert max(errors_by_depth[depth]) <= max(errors_by_depth[depth - 1])


def test_server_exports_the_district_as_glb(district, district_glb, server):
    response = server.get("/collections/buildings/scene.glb", params={"district": district["name"]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "model/gltf-binary"
    assert response.headers["content-disposition"].endswith('.glb"')
    scene = trimesh.load(io.BytesIO(response.content), file_type="glb", force="scene")
    served = {name for name in scene.geometry if name.startswith("buildings/")}
    assert {int(n.split("/")[1]) for n in served} == district["ids"]
    again = server.get(
        "/collections/buildings/scene.glb",
        params={"district": district["name"]},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304

    west, south, east, north = district["polygon"].bounds
    box = server.get(
        "/collections/buildings/scene.glb",
        params={"bbox": f"{west},{south},{east},{north}", "include": "buildings"},
    )
    assert box.status_code == 200
    names = [node["name"] for node in glb_document(box.content)["nodes"]]
    assert [n for n in names if n.startswith("terrain")] == []
    assert len([n for n in names if n.startswith("buildings/")]) >= len(district["ids"])


@pytest.mark.parametrize(
    "params, status, code, words",
    [
        ({"bbox": "76.70,43.00,77.20,43.40"}, 400, "AreaTooLarge", "km2"),
        ({"district": "Atlantis"}, 404, "NotFound", "Atlantis"),
        ({"bbox": "76.9,43.2,76.95"}, 400, "InvalidParameterValue", "bbox"),
        ({"bbox": "200,43.2,201,43.3"}, 400, "InvalidParameterValue", "degrees"),
        (
            {"district": "Medeu", "bbox": "76.9,43.2,76.95,43.25"},
            400,
            "InvalidParameterValue",
            "exactly one",
        ),
        ({}, 400, "InvalidParameterValue", "exactly one"),
        ({"distrct": "Medeu"}, 400, "InvalidParameterValue", "distrct"),
        (
            {"bbox": "76.9,43.2,76.95,43.25", "include": "roads"},
            400,
            "InvalidParameterValue",
            "roads",
        ),
    ],
)
def test_server_refuses_bad_scene_requests_with_json(
    server, demo_city, params, status, code, words
):
    response = server.get("/collections/buildings/scene.glb", params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and words in body["description"]


def test_server_refuses_a_scene_with_too_many_buildings(district, demo_city):
    small = Server({"TWIN_SCENE_MAX_BUILDINGS": "3"})
    try:
        response = small.get(
            "/collections/buildings/scene.glb", params={"district": district["name"]}
        )
    finally:
        small.stop()
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "AreaTooLarge" and body["buildings"] == len(district["ids"])
    assert body["limit_buildings"] == 3


def test_server_streams_3d_tiles_and_rebuilds_them_when_buildings_change(
    server, db_module, demo_city
):
    response = server.get("/3dtiles/buildings/tileset.json")
    assert response.status_code == 200, response.text
    tileset = response.json()
    root = tileset["root"]
    first = (
        root
        if "content" in root
        else next(t for t, _, _ in _walk(root, np.eye(4)) if "content" in t)
    )
    content = server.get(f"/3dtiles/buildings/{first['content']['uri']}")
    assert content.status_code == 200
    assert content.headers["content-type"] == "model/gltf-binary"
    assert content.content[:4] == b"glTF"
    assert server.get("/3dtiles/buildings/content/nothing.glb").status_code == 404

    before = tileset["asset"]["extras"]["almaty_twin"]["versions"]["buildings"]
    db_module.execute(
        "UPDATE buildings SET height_m = height_m WHERE id = (SELECT min(id) FROM buildings)"
    )
    rebuilt = server.get("/3dtiles/buildings/tileset.json").json()
    assert rebuilt["asset"]["extras"]["almaty_twin"]["versions"]["buildings"] > before

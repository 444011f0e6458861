"""Every glTF the twin writes is valid for any 3D tool: a scene of a few blocks (terrain,
buildings, a fault, pipes, parks) and the 3D Tiles content of the same blocks pass the Khronos
glTF validator (npm `gltf-validator`, run by node) with no error and no warning. The 3D Tiles
extensions the validator does not know (EXT_mesh_features, EXT_structural_metadata) and the
tileset.json are checked here against their specifications by hand: CesiumGS's
3d-tiles-validator is not in the npm registry this project reaches (docs/scenes3d.md)."""

from __future__ import annotations

import json
import math
import struct
import subprocess
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely

from conftest import ROOT

VALIDATE_GLTF = ROOT / "web" / "tools" / "validate-gltf.mjs"
# what the validator may say of the tiles' content: it knows neither extension, so it calls
# the property table's buffer views unused (checked below against the extension instead)
TILE_INFOS = {"UNSUPPORTED_EXTENSION", "UNUSED_OBJECT"}


def validate(paths: list[Path]) -> dict[str, dict]:
    result = subprocess.run(
        ["node", str(VALIDATE_GLTF), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT / "web",
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    assert report.pop("validator").startswith("2.")
    return report


def chunks(data: bytes) -> tuple[dict, bytes]:
    """The JSON and binary chunks of a GLB (read by the container's layout)."""
    magic, version, total = struct.unpack_from("<III", data, 0)
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    length, _ = struct.unpack_from("<II", data, 12)
    document = json.loads(data[20 : 20 + length])
    bin_length, kind = struct.unpack_from("<II", data, 20 + length)
    assert kind == 0x004E4942
    start = 28 + length
    return document, data[start : start + bin_length]


@pytest.fixture(scope="module")
def blocks(demo_city: str):
    """A box of about 800 x 900 m around the point of a fault nearest to a building."""
    from twin.scene3d.area import SceneArea

    with psycopg.connect(demo_city) as conn:
        lon, lat = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_ClosestPoint(f.geom, b.geom), "
            "4326) p, ST_Distance(f.geom, b.geom) d FROM seismic_faults f CROSS JOIN LATERAL "
            "(SELECT geom FROM buildings ORDER BY geom <-> f.geom LIMIT 1) b ORDER BY d "
            "LIMIT 1) s"
        ).fetchone()
    box = shapely.box(lon - 0.005, lat - 0.004, lon + 0.005, lat + 0.004)
    return SceneArea("bbox", "fault blocks", box)


def test_a_scene_passes_the_khronos_validator(demo_city: str, blocks, tmp_path: Path) -> None:
    from twin.scene3d.export import export_scene

    with psycopg.connect(demo_city) as conn:
        exported = export_scene(conn, blocks)
    counts = exported.summary
    assert counts["buildings"] > 10 and counts["faults"] >= 1 and counts["terrain"] == 1
    assert counts["utilities"] > 0, counts
    scene = tmp_path / "scene.glb"
    scene.write_bytes(exported.glb)
    # the same scene with one accessor reading past its buffer: the validator must say so
    document, blob = chunks(exported.glb)
    document["accessors"][0]["count"] *= 1000
    payload = json.dumps(document).encode()
    payload += b" " * (-len(payload) % 4)
    broken = tmp_path / "broken.glb"
    broken.write_bytes(
        struct.pack("<III", 0x46546C67, 2, 28 + len(payload) + len(blob))
        + struct.pack("<II", len(payload), 0x4E4F534A)
        + payload
        + struct.pack("<II", len(blob), 0x004E4942)
        + blob
    )

    report = validate([scene, broken])
    assert report[str(broken)]["errors"] > 0
    result = report[str(scene)]
    assert (result["errors"], result["warnings"], result["infos"]) == (0, 0, 0), result


def check_property_table(document: dict, blob: bytes) -> set[int]:
    """EXT_structural_metadata and EXT_mesh_features of one tile, as their specifications
    say: every column as long as the table, offsets aligned to 8, string offsets rising to the
    end of their values, feature ids whole and below the feature count. Returns the buffer
    views the table uses."""
    metadata = document["extensions"]["EXT_structural_metadata"]
    classes = metadata["schema"]["classes"]
    (table,) = metadata["propertyTables"]
    definition = classes[table["class"]]["properties"]
    count = table["count"]
    views = document["bufferViews"]
    sizes = {"INT64": 8, "FLOAT32": 4, "INT32": 4}
    used = set()
    assert set(table["properties"]) <= set(definition)
    for name, column in table["properties"].items():
        kind = definition[name]
        view = views[column["values"]]
        used.add(column["values"])
        assert view["byteOffset"] % 8 == 0, name
        if kind["type"] == "STRING":
            offsets_view = views[column["stringOffsets"]]
            used.add(column["stringOffsets"])
            assert column["stringOffsetType"] == "UINT32"
            start = offsets_view["byteOffset"]
            offsets = np.frombuffer(blob, np.uint32, count + 1, start)
            assert offsets[0] == 0 and np.all(np.diff(offsets.astype(np.int64)) >= 0), name
            assert offsets[-1] == view["byteLength"], name
        elif kind["type"] == "BOOLEAN":
            assert view["byteLength"] == math.ceil(count / 8), name
        else:
            assert view["byteLength"] == count * sizes[kind["componentType"]], name
    (mesh,) = document["meshes"]
    for primitive in mesh["primitives"]:
        (ids,) = primitive["extensions"]["EXT_mesh_features"]["featureIds"]
        assert ids["featureCount"] == count and ids["propertyTable"] == 0
        accessor = document["accessors"][primitive["attributes"][f"_FEATURE_ID_{ids['attribute']}"]]
        view = views[accessor["bufferView"]]
        values = np.frombuffer(blob, np.float32, accessor["count"], view["byteOffset"])
        assert np.all(values == np.round(values)) and values.min() >= 0
        assert values.max() < count
        assert len(np.unique(values)) == count  # every building has triangles
    return used


def check_tile(tile: dict, directory: Path, parent_error: float, found: list[Path]) -> None:
    """A tile as 3D Tiles 1.1 requires it (boundingVolume, geometricError, content.uri,
    transform), no more precise than its parent."""
    west, south, east, north, low, high = tile["boundingVolume"]["region"]
    assert -math.pi <= west < east <= math.pi and -math.pi / 2 <= south < north <= math.pi / 2
    assert low <= high
    assert 0 <= tile["geometricError"] <= parent_error
    if "transform" in tile:
        assert len(tile["transform"]) == 16 and all(math.isfinite(v) for v in tile["transform"])
    if "content" in tile:
        path = directory / tile["content"]["uri"]
        assert path.is_file(), tile["content"]["uri"]
        found.append(path)
        assert len(tile["content"]["boundingVolume"]["region"]) == 6
    assert tile.get("refine", "ADD") in ("ADD", "REPLACE")
    assert "children" not in tile or tile["children"], "an empty children array"
    for child in tile.get("children", []):
        check_tile(child, directory, tile["geometricError"], found)


def test_3d_tiles_of_the_blocks_are_valid(demo_city: str, blocks, tmp_path: Path) -> None:
    """A small tileset of the same blocks (at most 5 buildings a tile, so it has levels):
    tileset.json as the specification requires, every content GLB without error or warning,
    its property table as EXT_structural_metadata requires."""
    from twin.scene3d.tiles3d import build_tileset

    out = tmp_path / "tiles"
    with psycopg.connect(demo_city) as conn:
        stats = build_tileset(conn, out, tile_buildings=5, area=blocks)
    assert stats["depth"] >= 1 and stats["content_tiles"] >= 2

    tileset = json.loads((out / "tileset.json").read_text())
    assert tileset["asset"]["version"] == "1.1"
    assert tileset["root"]["refine"] in ("ADD", "REPLACE")
    contents: list[Path] = []
    check_tile(tileset["root"], out, tileset["geometricError"], contents)
    assert len(contents) == stats["content_tiles"]

    report = validate(contents)
    for path in contents:
        result = report[str(path)]
        assert (result["errors"], result["warnings"]) == (0, 0), result["messages"]
        assert set(result["extensions"]) == {"EXT_mesh_features", "EXT_structural_metadata"}
        document, blob = chunks(path.read_bytes())
        table_views = check_property_table(document, blob)
        infos = {(m["code"], m["pointer"]) for m in result["messages"] if m["severity"] == 2}
        assert {code for code, _ in infos} <= TILE_INFOS
        unused = {int(p.rsplit("/", 1)[1]) for code, p in infos if code == "UNUSED_OBJECT"}
        assert unused <= table_views, "a buffer view nothing reads"

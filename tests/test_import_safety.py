"""Imports that cannot wreck the twin (issue #14), told as a planner's stories with the real
Almaty files: a GeoPackage whose CRS label is wrong, an OpenStreetMap extract of Helsinki, the
city's hospitals imported into a layer of all amenities, the same file appended twice, the
rejected features nobody could see, an import taken back, GDAL's advice about options the twin
cannot pass, and the real districts of `load demo --base` marked as real. Then the twin as
`make demo` leaves it, the synthetic demo city: the real hospitals supersede the demo's
hospitals (and nothing else of it), an editor's hospitals stay, and an undo brings the demo's
back; over `load demo --base`, the real districts are real data, replaced by source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pyrosm
import pytest
from shapely.geometry import Point

from conftest import shared_data_or_skip
from import_target import own_database
from twin.importers.ogr import layer_checksum

HELSINKI_PBF = pyrosm.get_data("helsinki_pbf")  # shipped with pyrosm: 60.17 N, 24.94 E
# `target` and `db`: this module's own database (tests/import_target.py), so the demo city
# the rest of the session relies on is never disturbed
pytestmark = pytest.mark.own_database


def twin(target, *args: str, check: bool = True):
    return target.twin(*args, check=check)


def state(db, layer: str) -> tuple:
    """Everything a refused import must not change: rows, their digest, version, provenance."""
    meta = db.execute(
        "SELECT version, source, licence, synthetic, details FROM twin_layers WHERE name = %s",
        (layer,),
    ).fetchone()
    return layer_checksum(db, layer), meta


def assert_refused(result, *words: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in message[0], message[0]
    return message[0]


def count(db, sql: str, *params) -> int:
    return db.execute(sql, params).fetchone()[0]


def hospitals(db) -> int:
    return count(db, "SELECT count(*) FROM amenities WHERE kind = 'hospital'")


SCHOOLS = gpd.GeoDataFrame(
    {
        "name": ["School No. 12", "School No. 54", "Gymnasium No. 159"],
        "category": ["education"] * 3,
        "kind": ["school"] * 3,
    },
    geometry=[Point(76.9458, 43.2567), Point(76.8752, 43.2203), Point(76.9123, 43.2389)],
    crs=4326,
)


@pytest.fixture()
def almaty(target, db, tmp_path):
    """The real districts, parks and hospitals, and a school register beside the hospitals:
    the twin as a planner has it before the imports of these stories."""
    data = shared_data_or_skip()
    twin(
        target,
        "import",
        str(data / "districts.geojson"),
        "--mapping",
        "almaty_districts",
        "--replace-layer",
    )
    twin(
        target,
        "import",
        str(data / "park_projects.geojson"),
        "--mapping",
        "almaty_park_projects",
        "--replace-layer",
    )
    schools = tmp_path / "schools.geojson"
    pyogrio.write_dataframe(SCHOOLS, schools)
    twin(
        target,
        "import",
        str(schools),
        "--layer",
        "amenities",
        "--source",
        "school register",
        "--licence",
        "CC-BY-4.0",
        "--replace-layer",
    )
    twin(target, "import", str(data / "hospitals.geojson"), "--mapping", "almaty_hospitals")
    assert count(db, "SELECT count(*) FROM amenities") == 3 + 53
    return data


def wrongly_labelled(data, tmp_path):
    """The districts reprojected to UTM 43N (metres) and then labelled EPSG:4326, as the
    GeoPackage that reached the twin was."""
    frame = gpd.read_file(data / "districts.geojson").to_crs(32643)
    frame = frame.set_crs(4326, allow_override=True)
    path = tmp_path / "districts_utm_labelled_wgs84.gpkg"
    pyogrio.write_dataframe(frame, path, layer="districts")
    return path


# --- a file outside the city is refused ------------------------------------------------------


def test_a_geopackage_with_a_wrong_crs_label_is_refused_naming_the_fix(
    target, db, almaty, tmp_path
):
    before = state(db, "districts")
    path = wrongly_labelled(almaty, tmp_path)
    for extra in ((), ("--strict",)):
        result = twin(
            target, "import", str(path), "--mapping", "almaty_districts", *extra, check=False
        )
        assert_refused(
            result,
            "8 of 8 features",
            "outside Almaty's extent",
            "CRS label may be wrong",
            "it says EPSG:4326",
            "coordinates look like metres",
            "--crs EPSG:32643",
            "--force",
            "nothing was changed",
        )
    assert state(db, "districts") == before

    # the override the message names: the districts come in right, with their real areas
    fixed = twin(
        target, "import", str(path), "--mapping", "almaty_districts", "--crs", "EPSG:32643"
    )
    assert "districts (replace): 8 loaded" in fixed.stdout
    area, bounds_ok = db.execute(
        "SELECT sum(area_km2), bool_and(ST_Within(geom, ST_MakeEnvelope(76.6, 42.9, 77.3, 43.5,"
        " 4326))) FROM districts"
    ).fetchone()
    assert area == pytest.approx(704, rel=0.01) and bounds_ok


def test_swapped_longitude_and_latitude_are_named(target, db, almaty, tmp_path):
    frame = gpd.read_file(almaty / "hospitals.geojson")
    frame.geometry = gpd.points_from_xy(frame.geometry.y, frame.geometry.x, crs=4326)
    path = tmp_path / "hospitals_swapped.geojson"
    pyogrio.write_dataframe(frame, path)
    before = state(db, "amenities")
    result = twin(target, "import", str(path), "--mapping", "almaty_hospitals", check=False)
    assert_refused(result, "53 of 53 features", "longitude and latitude look swapped")
    assert state(db, "amenities") == before


def test_a_helsinki_extract_is_refused_and_cannot_wipe_almaty(target, db, almaty):
    layers = ("streets", "buildings", "amenities", "parks", "transit_stops")
    before = {name: state(db, name) for name in layers}
    result = twin(target, "import-osm", HELSINKI_PBF, check=False)
    message = assert_refused(
        result,
        "features of the extract Helsinki.osm.pbf lie outside Almaty's extent",
        "another place",
        "--bbox",
        "--force",
        "nothing was changed",
    )
    assert re.search(r"centre on 60\.1\d N, 24\.9\d E", message), message
    assert {name: state(db, name) for name in layers} == before
    assert hospitals(db) == 53 and count(db, "SELECT count(*) FROM parks") == 53

    # forced, it adds Helsinki's parks and amenities beside Almaty's, replacing none of them
    forced = twin(target, "import-osm", HELSINKI_PBF, "--layers", "amenities,parks", "--force")
    assert "--force: imported although" in forced.stdout
    assert count(db, "SELECT count(*) FROM amenities WHERE ST_Y(geom) > 60") > 500
    assert count(db, "SELECT count(*) FROM amenities WHERE ST_Y(geom) < 44") == 3 + 53
    assert count(db, "SELECT count(*) FROM parks WHERE ST_YMax(geom) < 44") == 53
    assert count(db, "SELECT count(*) FROM amenities WHERE name = 'School No. 12'") == 1
    source = db.execute("SELECT source FROM twin_layers WHERE name = 'parks'").fetchone()[0]
    assert source.startswith("Almaty park and square improvement projects")
    assert source.endswith(" + OpenStreetMap extract Helsinki.osm.pbf")
    twin(target, "import", "undo")
    assert {name: state(db, name)[0] for name in layers} == {
        name: before[name][0] for name in layers
    }


# --- replace is scoped; whole-layer replace is explicit --------------------------------------


def test_importing_hospitals_keeps_every_other_amenity(target, db, almaty):
    result = twin(
        target, "import", str(almaty / "hospitals.geojson"), "--mapping", "almaty_hospitals"
    )
    assert "amenities (replace): 53 loaded" in result.stdout
    assert (
        "added 53, removed 53 (replaces the rows from 'Almaty medical organisations"
        in result.stdout
        and "in category healthcare; 3 other rows kept)" in result.stdout
    )
    assert "synthetic demo rows" not in result.stdout  # no demo here: nothing of it named
    assert count(db, "SELECT count(*) FROM amenities") == 3 + 53  # not 53, not 109
    assert count(db, "SELECT count(*) FROM amenities WHERE category = 'education'") == 3
    provenance = db.execute(
        "SELECT source, licence FROM twin_layers WHERE name = 'amenities'"
    ).fetchone()
    assert provenance[0] == (
        "school register + Almaty medical organisations receiving "
        "emergency patients, 2023 (Almaty health-accessibility dashboard, "
        "March 2026)"
    )
    assert provenance[1].startswith("CC-BY-4.0 + ")

    whole = twin(
        target,
        "import",
        str(almaty / "hospitals.geojson"),
        "--mapping",
        "almaty_hospitals",
        "--replace-layer",
    )
    assert "every row of the layer replaced (--replace-layer)" in whole.stdout
    assert count(db, "SELECT count(*) FROM amenities") == 53


def test_one_source_replaces_only_the_categories_it_brings(target, db, almaty, tmp_path):
    clinics = gpd.GeoDataFrame(
        {"name": ["Clinic No. 1"], "category": ["healthcare"], "kind": ["clinic"]},
        geometry=[Point(76.93, 43.25)],
        crs=4326,
    )
    path = tmp_path / "register_clinics.geojson"
    pyogrio.write_dataframe(clinics, path)
    twin(target, "import", str(path), "--layer", "amenities", "--source", "school register")
    assert count(db, "SELECT count(*) FROM amenities WHERE category = 'education'") == 3
    assert count(db, "SELECT count(*) FROM amenities WHERE kind = 'clinic'") == 1


# --- append does not duplicate ----------------------------------------------------------------


def test_appending_the_same_file_twice_is_refused(target, db, almaty, tmp_path):
    before = state(db, "amenities")
    again = twin(
        target,
        "import",
        str(almaty / "hospitals.geojson"),
        "--mapping",
        "almaty_hospitals",
        "--append",
        check=False,
    )
    assert_refused(
        again,
        "all 53 feature(s) are already in the layer",
        "the same geometry, within 1 cm, and the same name",
        "unchanged",
    )
    assert state(db, "amenities") == before

    one_new = gpd.GeoDataFrame(
        {
            "name": ["School No. 12", "Lyceum No. 134"],
            "category": ["education"] * 2,
            "kind": ["school"] * 2,
        },
        geometry=[Point(76.9458, 43.2567), Point(76.95, 43.26)],
        crs=4326,
    )
    path = tmp_path / "more_schools.geojson"
    pyogrio.write_dataframe(one_new, path)
    result = twin(
        target,
        "import",
        str(path),
        "--layer",
        "amenities",
        "--append",
        "--source",
        "school register",
    )
    assert "added 1, removed 0, skipped 1 already in the layer" in result.stdout
    assert count(db, "SELECT count(*) FROM amenities WHERE name = 'School No. 12'") == 1
    assert count(db, "SELECT count(*) FROM amenities WHERE category = 'education'") == 4


# --- a dry run says what would change ---------------------------------------------------------


def test_dry_run_lists_what_would_be_added_changed_removed_and_rejected(
    target, db, almaty, tmp_path
):
    frame = gpd.read_file(almaty / "hospitals.geojson").iloc[3:].copy()  # 3 closed
    frame.loc[frame.index[0], "geometry"] = Point(76.9001, 43.2001)  # 1 moved
    frame = with_row(
        frame, {"medical_organization_id": 999, "address": "new"}, Point(76.91, 43.21)
    )  # 1 opened
    frame = with_row(frame, {"medical_organization_id": 998}, None)  # 1 with no place
    path = tmp_path / "hospitals_2024.geojson"
    pyogrio.write_dataframe(frame, path)
    before = state(db, "amenities")
    result = twin(target, "import", str(path), "--mapping", "almaty_hospitals", "--dry-run")
    assert "would add 1, change 1, remove 3, leave 49 unchanged, reject 1" in result.stdout, (
        result.stdout.splitlines()[1][:60]
    )
    assert "rejected 1: no geometry" in result.stdout
    assert "dry run: checked only, nothing was written" in result.stdout
    assert state(db, "amenities") == before


def with_row(frame: gpd.GeoDataFrame, values: dict, geometry) -> gpd.GeoDataFrame:
    row = gpd.GeoDataFrame([values], geometry=[geometry], crs=frame.crs)
    return gpd.GeoDataFrame(pd.concat([frame, row], ignore_index=True), crs=frame.crs)


# --- rejected features can be seen ------------------------------------------------------------


def test_rejected_features_go_to_a_geojson_file_with_their_reasons(target, db, almaty, tmp_path):
    named = tmp_path / "parks_rejected.geojson"
    result = twin(
        target,
        "import",
        str(almaty / "park_projects.geojson"),
        "--mapping",
        "almaty_park_projects",
        "--rejected",
        str(named),
    )
    assert f"rejected features written to {named}" in result.stdout
    features = json.loads(named.read_text(encoding="utf-8"))["features"]
    reasons = [f["properties"]["reason"] for f in features]
    assert len(features) == 16
    assert reasons.count("point-only: no area") == 3 and reasons.count("no geometry") == 12
    assert "status: 'Отменен' maps to no value" in reasons
    assert all({"name", "status"} <= set(f["properties"]) for f in features)  # source fields
    assert sum(f["geometry"] is not None for f in features) == 4

    default = twin(
        target,
        "import",
        str(almaty / "park_projects.geojson"),
        "--mapping",
        "almaty_park_projects",
        "--dry-run",
    )
    path = re.search(r"rejected features written to (\S+)", default.stdout).group(1)
    assert path.startswith(str(target.home / "rejected")) and path.endswith(".geojson")
    assert len(json.loads(Path(path).read_text(encoding="utf-8"))["features"]) == 16

    strict = twin(
        target,
        "import",
        str(almaty / "park_projects.geojson"),
        "--mapping",
        "almaty_park_projects",
        "--strict",
        check=False,
    )
    assert_refused(strict, "--strict", "16 feature(s) rejected", "the rejected features are in")


# --- an import can be undone ------------------------------------------------------------------


def test_undo_brings_the_layer_back_as_it_was(target, db, almaty, tmp_path):
    before = state(db, "amenities")
    frame = gpd.read_file(almaty / "hospitals.geojson").iloc[:10]
    path = tmp_path / "ten_hospitals.geojson"
    pyogrio.write_dataframe(frame, path)
    result = twin(target, "import", str(path), "--mapping", "almaty_hospitals")
    batch = re.search(r"import (\d+): `twin import undo`", result.stdout).group(1)
    assert hospitals(db) == 10
    log = twin(target, "import", "log").stdout
    assert log.startswith(f"{batch}  ") and "ten_hospitals.geojson" in log

    undone = twin(target, "import", "undo")
    assert f"undid import {batch}" in undone.stdout
    assert "amenities: removed the 10 row(s) it added, put back the 53" in undone.stdout
    assert state(db, "amenities")[0] == before[0]  # same ids, values, geometries
    assert state(db, "amenities")[1][1:] == before[1][1:]  # and the same provenance
    assert "[undone" in twin(target, "import", "log").stdout.splitlines()[0]

    # an import the layer was edited after is not undone behind the editor's back
    twin(target, "import", str(path), "--mapping", "almaty_hospitals")
    db.execute("UPDATE amenities SET capacity = 120 WHERE name = 'School No. 12'")
    edited = state(db, "amenities")
    refused = twin(target, "import", "undo", check=False)
    assert_refused(refused, "layer amenities changed after import", "--force")
    assert state(db, "amenities") == edited
    twin(target, "import", "undo", "--force")
    assert hospitals(db) == 53
    assert count(db, "SELECT capacity FROM amenities WHERE name = 'School No. 12'") == 120


def test_undo_out_of_order_or_of_no_import_is_refused(target, db, almaty):
    twin(target, "import", str(almaty / "districts.geojson"), "--mapping", "almaty_districts")
    log = [
        line
        for line in twin(target, "import", "log").stdout.splitlines()
        if "districts.geojson" in line
    ]
    newer, older = log[0].split()[0], log[1].split()[0]
    before = state(db, "districts")
    assert_refused(
        twin(target, "import", "undo", older, check=False),
        f"import {older} cannot be undone before import {newer}",
        f"undo {newer} first",
    )
    assert state(db, "districts") == before
    assert_refused(twin(target, "import", "undo", "999999", check=False), "no import 999999")


# --- GDAL's advice, translated ----------------------------------------------------------------


def test_a_shapefile_without_its_index_gets_advice_the_user_can_follow(target, db, tmp_path):
    path = tmp_path / "schools.shp"
    pyogrio.write_dataframe(SCHOOLS, path)
    path.with_suffix(".shx").unlink()
    result = twin(target, "import", str(path), "--layer", "amenities", check=False)
    message = assert_refused(
        result, "schools.shx is missing", "copy schools.shx beside schools.shp", "GeoPackage"
    )
    assert "SHAPE_RESTORE_SHX" not in message


# --- provenance of `load demo --base` ---------------------------------------------------------


def test_demo_on_real_base_marks_real_districts_and_blocks_as_real():
    from twin.demo.generator import DemoCity, provenance

    data = shared_data_or_skip()
    city = DemoCity(
        scale="small",
        seed=3,
        layers={},
        elevation=None,
        transform=None,
        details={"seed": 3, "scale": "small", "base": str(data)},
    )
    districts, blocks, plots = (provenance(city, name) for name in ("districts", "blocks", "plots"))
    for real, file in ((districts, "districts.geojson"), (blocks, "blocks.geojson")):
        assert real.synthetic is False and real.licence.startswith("ODbL 1.0")
        assert real.source.endswith(f"from {data / file}") and "CC0" not in real.licence
    assert districts.source.startswith("Almaty district boundaries")
    assert plots.synthetic is True and plots.licence == "CC0-1.0"


# --- real data supersedes the demo's stand-ins -----------------------------------------------

MEDICAL = (
    "Almaty medical organisations receiving emergency patients, 2023 (Almaty "
    "health-accessibility dashboard, March 2026)"
)
DISTRICTS = "Almaty district boundaries (Almaty health-accessibility dashboard, March 2026)"


@pytest.fixture(scope="module")
def demo_twin(database_url, tmp_path_factory):
    """The twin as `make demo` leaves it: the small demo city, seed 1 (the session's
    demo_city), in a database of its own, so importing over it disturbs no other module."""
    for twin in own_database(database_url, tmp_path_factory.mktemp("demo-import-home")):
        twin.twin("load", "demo", "--scale", "small", "--seed", "1")
        yield twin


def kinds(db) -> dict[tuple[str, str], int]:
    return {
        (category, kind): n
        for category, kind, n in db.execute(
            "SELECT category, kind, count(*) FROM amenities GROUP BY 1, 2"
        ).fetchall()
    }


def hospital_rows(db) -> list[tuple]:
    return db.execute(
        "SELECT id, name, capacity, district, address, ST_AsEWKB(geom) "
        "FROM amenities WHERE kind = 'hospital' ORDER BY id"
    ).fetchall()


def provenance_of(db, layer: str) -> tuple:
    return db.execute(
        "SELECT source, licence, synthetic FROM twin_layers WHERE name = %s", (layer,)
    ).fetchone()


def test_real_hospitals_supersede_the_demos_hospitals_and_nothing_else(demo_twin):
    hospitals_file = str(shared_data_or_skip() / "hospitals.geojson")
    with demo_twin.connect() as db:
        before_kinds, before = kinds(db), layer_checksum(db, "amenities")
        demo_hospitals, demo_provenance = hospital_rows(db), provenance_of(db, "amenities")
    assert len(demo_hospitals) == 53 and demo_provenance[2] is True
    others = before[0] - len(demo_hospitals)

    dry = demo_twin.twin("import", hospitals_file, "--mapping", "almaty_hospitals", "--dry-run")
    assert (
        "would add 53, change 0, remove 53 synthetic demo rows (twin load demo), leave 0 "
        "unchanged, reject 0"
    ) in dry.stdout
    assert (
        f"and the demo's rows in category/kind healthcare/hospital; {others:,} other rows kept"
    ) in dry.stdout
    with demo_twin.connect() as db:
        assert layer_checksum(db, "amenities") == before

    result = demo_twin.twin("import", hospitals_file, "--mapping", "almaty_hospitals")
    accepted = int(re.search(r"amenities \(replace\): (\d+) loaded", result.stdout).group(1))
    assert "added 53, removed 53 synthetic demo rows (twin load demo)" in result.stdout
    with demo_twin.connect() as db:
        after = kinds(db)
        total, real, demo_left = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE name LIKE 'Medical organisation %%'), "
            "count(*) FILTER (WHERE id = ANY(%s)) FROM amenities WHERE kind = 'hospital'",
            ([row[0] for row in demo_hospitals],),
        ).fetchone()
        source, licence, synthetic = provenance_of(db, "amenities")
    assert total == real == accepted == 53 and demo_left == 0  # not 106: no demo hospital
    hospital = ("healthcare", "hospital")
    assert {k: n for k, n in after.items() if k != hospital} == {
        k: n for k, n in before_kinds.items() if k != hospital
    }  # clinics, schools, shops...
    assert source == f"{demo_provenance[0]} + {MEDICAL}"
    assert licence.startswith("CC0-1.0 + as published by the dashboard")
    assert synthetic is True  # the demo's other amenities are still synthetic

    undone = demo_twin.twin("import", "undo")
    assert (
        "amenities: removed the 53 row(s) it added, put back the 53 it had removed" in undone.stdout
    )
    with demo_twin.connect() as db:
        assert layer_checksum(db, "amenities") == before  # same ids, values, geometries
        assert hospital_rows(db) == demo_hospitals
        assert provenance_of(db, "amenities") == demo_provenance
    # the hospitals put back are the demo's still: the next import supersedes them again
    again = demo_twin.twin("import", hospitals_file, "--mapping", "almaty_hospitals", "--dry-run")
    assert "remove 53 synthetic demo rows (twin load demo)" in again.stdout


def test_real_districts_replace_the_demos_and_the_layer_says_real(demo_twin):
    data = shared_data_or_skip()
    with demo_twin.connect() as db:
        before, demo_provenance = layer_checksum(db, "districts"), provenance_of(db, "districts")
    result = demo_twin.twin(
        "import", str(data / "districts.geojson"), "--mapping", "almaty_districts"
    )
    assert "added 8, removed 8 synthetic demo rows (twin load demo)" in result.stdout
    assert "0 other rows kept" in result.stdout
    with demo_twin.connect() as db:
        assert db.execute("SELECT count(*) FROM districts").fetchone()[0] == 8
        source, licence, synthetic = provenance_of(db, "districts")
    assert source == DISTRICTS and licence.startswith("ODbL 1.0") and synthetic is False
    demo_twin.twin("import", "undo")
    with demo_twin.connect() as db:
        assert layer_checksum(db, "districts") == before
        assert provenance_of(db, "districts") == demo_provenance


def test_keep_demo_leaves_the_demo_and_import_osm_supersedes_it_too(demo_twin):
    hospitals_file = str(shared_data_or_skip() / "hospitals.geojson")
    kept = demo_twin.twin(
        "import", hospitals_file, "--mapping", "almaty_hospitals", "--keep-demo", "--dry-run"
    )
    assert "would add 53, change 0, remove 0, leave 0 unchanged" in kept.stdout
    assert "synthetic demo rows" not in kept.stdout
    assert_refused(
        demo_twin.twin(
            "import",
            hospitals_file,
            "--mapping",
            "almaty_hospitals",
            "--keep-demo",
            "--replace-layer",
            check=False,
        ),
        "--keep-demo narrows --replace",
    )

    with demo_twin.connect() as db:
        before_kinds, before = kinds(db), layer_checksum(db, "amenities")
    osm = demo_twin.twin(
        "import-osm", pyrosm.get_data("test_pbf"), "--layers", "amenities", "--force"
    )
    assert "synthetic demo rows (twin load demo)" in osm.stdout
    with demo_twin.connect() as db:
        brought = {
            (category, kind): n
            for category, kind, n in db.execute(
                "SELECT a.category, a.kind, count(*) FROM amenities a JOIN twin_import_rows r "
                "ON r.layer = 'amenities' AND r.feature_id = a.id AND r.batch_id = "
                "(SELECT max(id) FROM twin_import_batches) GROUP BY 1, 2"
            ).fetchall()
        }
        after = kinds(db)
    assert brought and ("education", "school") in brought
    # the demo's rows of the kinds the extract brings are gone; every other kind is as it was
    assert after == {**{k: n for k, n in before_kinds.items() if k not in brought}, **brought}
    demo_twin.twin("import", "undo")
    with demo_twin.connect() as db:
        assert layer_checksum(db, "amenities") == before


def test_hospitals_editors_added_or_changed_stay_when_the_real_ones_come(demo_twin):
    hospitals_file = str(shared_data_or_skip() / "hospitals.geojson")
    key = (
        demo_twin.twin(
            "users", "add", "hospital-editor", "--role", "editor", "--layers", "amenities"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    headers = {"X-API-Key": key, "Content-Type": "application/geo+json"}
    with demo_twin.connect() as db:
        demo_id = db.execute("SELECT min(id) FROM amenities WHERE kind = 'hospital'").fetchone()[0]
    server = demo_twin.server()
    try:
        created = httpx.post(
            f"{server.url}/collections/amenities/items",
            headers=headers,
            timeout=60,
            content=json.dumps(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [76.9, 43.25]},
                    "properties": {
                        "name": "City Hospital No. 7 (new wing)",
                        "category": "healthcare",
                        "kind": "hospital",
                    },
                }
            ),
        )
        assert created.status_code == 201, created.text
        changed = httpx.patch(
            f"{server.url}/collections/amenities/items/{demo_id}",
            headers=headers,
            timeout=60,
            content=json.dumps({"type": "Feature", "properties": {"capacity": 420}}),
        )
        assert changed.status_code == 200, changed.text
    finally:
        server.stop()

    result = demo_twin.twin("import", hospitals_file, "--mapping", "almaty_hospitals")
    assert "added 53, removed 52 synthetic demo rows (twin load demo)" in result.stdout
    assert (
        "2 row(s) in category/kind healthcare/hospital that editors added or changed on "
        "top of the demo stay"
    ) in result.stdout
    with demo_twin.connect() as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM amenities WHERE kind = 'hospital' AND name NOT LIKE "
                "'Medical organisation %' ORDER BY id"
            ).fetchall()
        ]
        capacity = db.execute("SELECT capacity FROM amenities WHERE id = %s", (demo_id,)).fetchone()
    assert len(names) == 2 and names[-1] == "City Hospital No. 7 (new wing)"
    assert capacity == (420,)
    demo_twin.twin("import", "undo")


@pytest.fixture(scope="module")
def base_twin(database_url, tmp_path_factory):
    """The demo on the real districts and blocks (`twin load demo --base DIR`), loaded after
    an import of the real hospitals, in a database of its own."""
    data = shared_data_or_skip()
    for twin in own_database(database_url, tmp_path_factory.mktemp("base-import-home")):
        twin.twin("import", str(data / "hospitals.geojson"), "--mapping", "almaty_hospitals")
        twin.twin("load", "demo", "--scale", "small", "--seed", "1", "--base", str(data))
        yield twin


def test_load_demo_leaves_earlier_imports_nothing_to_undo(base_twin):
    log = base_twin.twin("import", "log").stdout.splitlines()
    assert len(log) == 1 and "[replaced by twin load demo" in log[0], log
    with base_twin.connect() as db:
        before = layer_checksum(db, "amenities")
    assert_refused(
        base_twin.twin("import", "undo", log[0].split()[0], check=False),
        "nothing left to undo",
        "`twin load demo` replaced its layers",
    )
    assert_refused(base_twin.twin("import", "undo", check=False), "no import to undo")
    with base_twin.connect() as db:
        assert layer_checksum(db, "amenities") == before  # no old hospitals beside the demo's


def test_over_the_real_base_districts_are_replaced_by_source_not_as_synthetic(base_twin):
    districts = str(shared_data_or_skip() / "districts.geojson")
    with base_twin.connect() as db:
        before, base_provenance = layer_checksum(db, "districts"), provenance_of(db, "districts")
    assert base_provenance[0].startswith(f"{DISTRICTS}, from ") and base_provenance[2] is False

    other = base_twin.twin(
        "import",
        districts,
        "--mapping",
        "almaty_districts",
        "--source",
        "district survey 2026",
        "--licence",
        "ODbL 1.0",
    )
    assert (
        "added 8, removed 0 (replaces the rows from 'district survey 2026'; 8 other rows "
        "kept)" in other.stdout
    )  # real rows of another source: not the demo's
    with base_twin.connect() as db:
        assert db.execute("SELECT count(*) FROM districts").fetchone()[0] == 16
        assert provenance_of(db, "districts")[0] == f"{base_provenance[0]} + district survey 2026"
    base_twin.twin("import", "undo")

    same = base_twin.twin("import", districts, "--mapping", "almaty_districts")
    assert (
        f"added 8, removed 8 (replaces the rows from '{DISTRICTS}'; 0 other rows kept)"
        in same.stdout
    )  # the same real data, from the same source
    assert "synthetic demo rows" not in same.stdout
    with base_twin.connect() as db:
        assert db.execute("SELECT count(*) FROM districts").fetchone()[0] == 8
        assert provenance_of(db, "districts")[::2] == (DISTRICTS, False)
    base_twin.twin("import", "undo")
    with base_twin.connect() as db:
        assert layer_checksum(db, "districts") == before
        assert provenance_of(db, "districts") == base_provenance

"""`twin import` as a planner uses it: the real Almaty files through the twin's mappings, then
the ways an import can go wrong (a corrupt file, a wrong mapping, a wrong geometry type, a
missing required field), each refused in one line with the database left exactly as it was,
and round trips through the formats desktop GIS tools write."""

from __future__ import annotations

import json

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from conftest import shared_data_or_skip
from twin.catalog import load_catalog
from twin.importers.ogr import layer_checksum

# `target` and `db`: this module's own database (tests/import_target.py), so the demo city
# the rest of the session relies on is never disturbed
pytestmark = pytest.mark.own_database

ENGLISH = {"Alatau", "Almaly", "Auezov", "Bostandyk", "Zhetysu", "Medeu", "Nauryzbay", "Turksib"}


@pytest.fixture()
def twin_import(target):
    """`twin import …` as a user runs it, against this module's database."""

    def run(*args: str, check: bool = True):
        return target.twin("import", *args, check=check)

    return run


@pytest.fixture(scope="module")
def server(target):
    srv = target.server()
    yield srv
    srv.stop()


def layer_state(db, layer: str) -> tuple:
    """Everything a failed import must not change: rows, their digest, version, provenance."""
    meta = db.execute(
        "SELECT version, source, loaded_at FROM twin_layers WHERE name = %s", (layer,)
    ).fetchone()
    return layer_checksum(db, layer), meta


def assert_refused(result, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in message[0], message[0]


def write_features(path, frame: gpd.GeoDataFrame, **kwargs) -> None:
    pyogrio.write_dataframe(frame, path, **kwargs)


# --- the real Almaty files ------------------------------------------------------------------


def test_real_districts_keep_both_scripts_and_add_english_names(db, twin_import):
    data = shared_data_or_skip()
    result = twin_import(
        str(data / "districts.geojson"), "--layer", "districts", "--mapping", "almaty_districts"
    )
    assert "districts (replace): 8 loaded, 0 repaired, 0 rejected (of 8 read)" in result.stdout

    source = json.loads((data / "districts.geojson").read_text(encoding="utf-8"))
    expected = {
        (f["properties"]["name_kz"], f["properties"]["name_ru"]) for f in source["features"]
    }
    rows = db.execute(
        "SELECT name_en, name_kk, name_ru, population, area_km2, "
        "ST_Area(ST_Transform(geom, 32643)) / 1e6 FROM districts"
    ).fetchall()
    assert {(r[1], r[2]) for r in rows} == expected  # byte for byte, both scripts
    assert {r[0] for r in rows} == ENGLISH
    auezov = next(r for r in rows if r[0] == "Auezov")
    assert auezov[1].startswith("\u018f")  # the source's Latin schwa, kept
    assert sum(r[5] for r in rows) == pytest.approx(704, rel=0.01)
    assert sum(r[4] for r in rows) == pytest.approx(sum(r[5] for r in rows), rel=1e-6)
    assert sum(r[3] for r in rows) == 2_042_942  # the programme's district figures
    assert dict((r[0], r[3]) for r in rows)["Bostandyk"] == 368_048


def test_real_blocks_all_2531_with_english_district_names(db, twin_import):
    data = shared_data_or_skip()
    result = twin_import(str(data / "blocks.geojson"), "--mapping", "almaty_blocks")
    assert "blocks (replace): 2531 loaded, 0 repaired, 0 rejected" in result.stdout
    count, districts, codes, valid = db.execute(
        "SELECT count(*), array_agg(DISTINCT district), count(DISTINCT block_code), "
        "bool_and(ST_IsValid(geom)) FROM blocks"
    ).fetchone()
    assert count == 2531 and codes == 2531 and valid
    assert set(districts) == ENGLISH
    source = gpd.read_file(data / "blocks.geojson")
    first = source.iloc[0]
    name, area = db.execute(
        "SELECT name, area_m2 FROM blocks WHERE block_code = %s", (str(first["block_id"]),)
    ).fetchone()
    assert name == first["name"] and area == pytest.approx(first["area_m2"])


def test_real_hospitals_become_healthcare_amenities(db, twin_import):
    data = shared_data_or_skip()
    result = twin_import(str(data / "hospitals.geojson"), "--mapping", "almaty_hospitals")
    assert "amenities (replace): 53 loaded" in result.stdout
    rows = db.execute(
        "SELECT category, kind, count(*), count(address), "
        "count(*) FILTER (WHERE district = 'Almaly') FROM amenities "
        "GROUP BY 1, 2"
    ).fetchall()
    source = gpd.read_file(data / "hospitals.geojson")
    with_address = int(source["address"].notna().sum())
    in_almaly = int((source["district"] == "Алмалинский район").sum())
    assert rows == [("healthcare", "hospital", 53, with_address, in_almaly)]
    assert in_almaly == 12


def test_real_park_projects_reject_point_only_projects_with_reasons(db, twin_import):
    data = shared_data_or_skip()
    result = twin_import(str(data / "park_projects.geojson"), "--mapping", "almaty_park_projects")
    out = result.stdout
    assert "parks (replace): 53 loaded, 2 repaired, 16 rejected (of 69 read)" in out
    assert "rejected 3: point-only: no area" in out
    assert "rejected 12: no geometry" in out
    assert "rejected 1: status: 'Отменен' maps to no value" in out
    assert "repaired 1: Self-intersection" in out
    count, valid, statuses, smallest = db.execute(
        "SELECT count(*), bool_and(ST_IsValid(geom)), array_agg(DISTINCT status), "
        "min(area_ha) FROM parks"
    ).fetchone()
    assert count == 53 and valid and smallest > 0
    assert set(statuses) == {"existing", "planned", "under_construction"}
    assert (
        db.execute(
            "SELECT count(*) FROM parks WHERE status = 'existing' AND opened_on IS NULL"
        ).fetchone()[0]
        == 0
    )
    details = db.execute("SELECT details FROM twin_layers WHERE name = 'parks'").fetchone()[0]
    assert details["rejected"]["point-only: no area"] == 3 and details["loaded"] == 53


# --- refusals leave the database as it was ---------------------------------------------------


def test_corrupt_file_is_refused_and_changes_nothing(db, tmp_path, twin_import):
    data = shared_data_or_skip()
    twin_import(str(data / "blocks.geojson"), "--mapping", "almaty_blocks")
    before = layer_state(db, "blocks")
    corrupt = tmp_path / "blocks.geojson"
    corrupt.write_bytes((data / "blocks.geojson").read_bytes()[:40_000])  # cut mid-feature
    assert_refused(
        twin_import(str(corrupt), "--mapping", "almaty_blocks", check=False),
        "cannot read blocks.geojson",
    )
    garbage = tmp_path / "blocks.gpkg"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    assert_refused(twin_import(str(garbage), "--layer", "blocks", check=False), "cannot read")
    assert layer_state(db, "blocks") == before


def test_wrong_mapping_is_refused_and_changes_nothing(db, tmp_path, twin_import):
    data = shared_data_or_skip()
    twin_import(str(data / "districts.geojson"), "--mapping", "almaty_districts")
    before = layer_state(db, "districts")
    districts = str(data / "districts.geojson")
    absent_field = tmp_path / "absent_field.yml"
    absent_field.write_text(
        "layer: districts\nproperties:\n  name_en: name_english\n  name_kk: name_kz\n",
        encoding="utf-8",
    )
    assert_refused(
        twin_import(districts, "--mapping", str(absent_field), check=False),
        "name_english",
        "name_kz",
    )  # names the field and lists the real ones
    unknown_target = tmp_path / "unknown_target.yml"
    unknown_target.write_text("properties:\n  mayor: akim_id\n", encoding="utf-8")
    assert_refused(
        twin_import(
            districts, "--layer", "districts", "--mapping", str(unknown_target), check=False
        ),
        "mayor",
    )
    broken_yaml = tmp_path / "broken.yml"
    broken_yaml.write_text("properties: {name_en: [\n", encoding="utf-8")
    assert_refused(
        twin_import(districts, "--layer", "districts", "--mapping", str(broken_yaml), check=False),
        "not valid YAML",
    )
    other_layer = twin_import(
        districts, "--layer", "districts", "--mapping", "almaty_blocks", check=False
    )
    assert_refused(other_layer, "is for layer blocks")
    every_row_bad = tmp_path / "every_row_bad.yml"
    every_row_bad.write_text(
        "layer: districts\nproperties:\n  name_en: {value: ''}\n  name_kk: name_kz\n",
        encoding="utf-8",
    )
    assert_refused(
        twin_import(districts, "--mapping", str(every_row_bad), check=False),
        "all 8 feature(s) were rejected",
        "name_en: required value missing",
    )
    assert layer_state(db, "districts") == before


def test_wrong_geometry_type_is_refused(db, twin_import):
    data = shared_data_or_skip()
    before = layer_state(db, "parks")
    result = twin_import(str(data / "hospitals.geojson"), "--layer", "parks", check=False)
    assert_refused(result, "wrong geometry type", "Point", "MultiPolygon")
    assert layer_state(db, "parks") == before


def test_missing_required_field_is_refused_naming_it(db, tmp_path, twin_import):
    frame = gpd.GeoDataFrame(
        {"district": ["Almaly"], "name": ["Abay - Dostyk"]},
        geometry=[Polygon([(76.94, 43.24), (76.95, 43.24), (76.95, 43.25), (76.94, 43.24)])],
        crs=4326,
    )
    path = tmp_path / "blocks_without_codes.geojson"
    write_features(path, frame)
    before = layer_state(db, "blocks")
    result = twin_import(str(path), "--layer", "blocks", check=False)
    assert_refused(result, "required property block_code", "district, name")
    assert layer_state(db, "blocks") == before


def test_unknown_and_computed_layers_are_refused(tmp_path, twin_import):
    frame = gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(76.9, 43.2)], crs=4326)
    path = tmp_path / "x.geojson"
    write_features(path, frame)
    assert_refused(
        twin_import(str(path), "--layer", "no_such_layer", check=False),
        "unknown layer 'no_such_layer'",
        "known layers: amenities",
        "blocks",
    )
    for layer in (layer for layer in load_catalog().values() if layer.analysis):
        assert_refused(
            twin_import(str(path), "--layer", layer.name, check=False),
            "computed by the analysis engine",
        )


# --- repair, conversion, append / replace, formats -------------------------------------------


def amenity_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": ["School No. 12", "Green Bazaar", "Pharmacy", "Mystery"],
            "category": ["education", "commerce", "Healthcare", "education"],
            "kind": ["School", "market", "pharmacy", "spaceport"],
            "capacity": ["1 200", "", "12.0", "7"],
        },
        geometry=[
            Point(76.9458, 43.2567),
            Point(76.9479, 43.2651),
            Point(76.9200, 43.2400),
            Point(76.9300, 43.2500),
        ],
        crs=4326,
    )


def test_values_are_converted_and_bad_ones_rejected_with_reasons(db, tmp_path, twin_import):
    path = tmp_path / "amenities.geojson"
    write_features(path, amenity_frame())
    result = twin_import(str(path), "--layer", "amenities")
    assert "3 loaded, 0 repaired, 1 rejected" in result.stdout
    assert "kind: 'spaceport' is not one of" in result.stdout
    rows = dict(
        (r[0], r[1:])
        for r in db.execute("SELECT name, category, kind, capacity FROM amenities").fetchall()
    )
    assert rows["School No. 12"] == ("education", "school", 1200)  # case and spaces fixed
    assert rows["Pharmacy"] == ("healthcare", "pharmacy", 12)
    assert rows["Green Bazaar"][2] is None
    strict = twin_import(str(path), "--layer", "amenities", "--strict", check=False)
    assert_refused(strict, "--strict", "spaceport")


def test_invalid_polygons_are_repaired_or_rejected(db, tmp_path, twin_import):
    bowtie = Polygon([(76.90, 43.20), (76.91, 43.21), (76.91, 43.20), (76.90, 43.21)])
    sliver = Polygon([(76.92, 43.20), (76.93, 43.20), (76.92, 43.20)])  # collapses to a line
    square = Polygon([(76.94, 43.20), (76.95, 43.20), (76.95, 43.21), (76.94, 43.21)])
    frame = gpd.GeoDataFrame(
        {"block_code": ["B1", "B2", "B3", "B4"]},
        geometry=[bowtie, sliver, square, Point(76.96, 43.2)],
        crs=4326,
    )
    path = tmp_path / "blocks.gpkg"
    write_features(path, frame)
    result = twin_import(str(path), "--layer", "blocks")
    assert "2 loaded, 1 repaired, 2 rejected" in result.stdout
    assert "repaired 1: Self-intersection" in result.stdout
    assert "point-only: no area" in result.stdout
    assert "nothing left after repair" in result.stdout
    rows = db.execute(
        "SELECT block_code, ST_IsValid(geom), ST_NumGeometries(geom), "
        "GeometryType(geom) FROM blocks WHERE block_code LIKE 'B_' "
        "ORDER BY block_code"
    ).fetchall()
    assert rows == [("B1", True, 2, "MULTIPOLYGON"), ("B3", True, 1, "MULTIPOLYGON")]


def test_append_adds_and_replace_replaces_with_provenance(db, tmp_path, twin_import):
    first = tmp_path / "first.geojson"
    write_features(first, amenity_frame().iloc[:2])
    twin_import(
        str(first),
        "--layer",
        "amenities",
        "--source",
        "school register",
        "--licence",
        "CC-BY-4.0",
        "--replace-layer",
    )
    second = tmp_path / "second.geojson"
    write_features(second, amenity_frame().iloc[2:3])
    result = twin_import(
        str(second),
        "--layer",
        "amenities",
        "--append",
        "--source",
        "pharmacy list",
        "--licence",
        "CC0-1.0",
    )
    assert "amenities (append): 1 loaded" in result.stdout
    assert db.execute("SELECT count(*) FROM amenities").fetchone()[0] == 3
    source, licence, synthetic, details = db.execute(
        "SELECT source, licence, synthetic, details FROM twin_layers WHERE name = 'amenities'"
    ).fetchone()
    assert source == "school register + pharmacy list" and licence == "CC-BY-4.0 + CC0-1.0"
    assert synthetic is False and details["appended_to"]["rows"] == 2
    # a replace replaces what the same source brought before; --replace-layer, every row
    twin_import(str(second), "--layer", "amenities", "--replace", "--source", "pharmacy list")
    assert db.execute("SELECT count(*) FROM amenities").fetchone()[0] == 3
    twin_import(str(second), "--layer", "amenities", "--replace-layer")
    assert db.execute("SELECT count(*) FROM amenities").fetchone()[0] == 1


def test_unique_conflict_on_append_is_refused_and_changes_nothing(db, tmp_path, twin_import):
    plot = MultiPolygon(
        [Polygon([(76.94, 43.24), (76.941, 43.24), (76.941, 43.241), (76.94, 43.241)])]
    )
    frame = gpd.GeoDataFrame(
        {"cadastral_number": ["20-311-004-123"], "land_use": ["residential"]},
        geometry=[plot],
        crs=4326,
    )
    path = tmp_path / "plot.geojson"
    write_features(path, frame)
    twin_import(str(path), "--layer", "plots")
    before = layer_state(db, "plots")
    moved = frame.assign(geometry=frame.geometry.translate(0.001, 0))  # same number, elsewhere
    other = tmp_path / "plot_moved.geojson"
    write_features(other, moved)
    result = twin_import(str(other), "--layer", "plots", "--append", check=False)
    assert_refused(result, "nothing was changed", "cadastral_number")
    assert layer_state(db, "plots") == before


@pytest.mark.parametrize(
    "suffix, options", [(".shp", {}), (".gpkg", {"layer": "amenities"}), (".fgb", {}), (".csv", {})]
)
def test_round_trip_through_desktop_formats(db, tmp_path, suffix, options, twin_import):
    frame = amenity_frame().iloc[:3]
    path = tmp_path / f"amenities{suffix}"
    if suffix == ".csv":  # CSV with a WKT column and no CRS: read as lon/lat
        table = frame.drop(columns="geometry").assign(wkt=frame.geometry.to_wkt())
        table.to_csv(path, index=False)
    elif suffix == ".gpkg":  # stored in UTM 43N: the importer reprojects to the layer's CRS
        write_features(path, frame.to_crs(32643), **options)
    else:
        write_features(path, frame, **options)
    result = twin_import(str(path), "--layer", "amenities", "--replace-layer")
    assert "amenities (replace-layer): 3 loaded, 0 repaired, 0 rejected" in result.stdout
    if suffix == ".csv":
        assert "read as WGS 84 longitude/latitude" in result.stdout
    rows = db.execute(
        "SELECT name, kind, ST_X(geom), ST_Y(geom) FROM amenities ORDER BY name"
    ).fetchall()
    expected = frame.sort_values("name")
    assert [r[0] for r in rows] == list(expected["name"])
    for row, point in zip(rows, expected.geometry):
        assert shapely.Point(row[2], row[3]).distance(point) < 1e-7


def test_dry_run_checks_without_writing(db, tmp_path, twin_import):
    path = tmp_path / "amenities.geojson"
    write_features(path, amenity_frame())
    before = layer_state(db, "amenities")
    result = twin_import(str(path), "--layer", "amenities", "--dry-run")
    assert "amenities (replace): 3 would load, 0 repaired, 1 rejected" in result.stdout
    assert layer_state(db, "amenities") == before


def test_shapefile_without_codepage_needs_its_encoding(db, tmp_path, twin_import):
    frame = amenity_frame().iloc[:1].assign(name=["Школа № 12 имени Абая"])
    path = tmp_path / "schools.shp"
    write_features(path, frame, encoding="cp1251")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as many municipal files come
    guessed = twin_import(str(path), "--layer", "amenities")
    assert "give --encoding cp1251" in guessed.stdout
    twin_import(str(path), "--layer", "amenities", "--encoding", "cp1251")
    names = {r[0] for r in db.execute("SELECT name FROM amenities WHERE kind = 'school'")}
    assert "Школа № 12 имени Абая" in names  # and the misread one was replaced:
    assert not any("Ø" in name or "Ê" in name for name in names if name)
    assert_refused(
        twin_import(str(path), "--layer", "amenities", "--encoding", "klingon", check=False),
        "unknown text encoding",
    )


def test_multi_layer_geopackage_needs_a_source_layer(db, tmp_path, twin_import):
    path = tmp_path / "city.gpkg"
    write_features(path, amenity_frame().iloc[:2], layer="schools")
    write_features(path, amenity_frame().iloc[2:3], layer="pharmacies")
    assert_refused(
        twin_import(str(path), "--layer", "amenities", check=False), "2 layers", "--source-layer"
    )
    result = twin_import(str(path), "--layer", "amenities", "--source-layer", "pharmacies")
    assert "1 loaded" in result.stdout


# --- provenance in the collection metadata ---------------------------------------------------


def test_collection_metadata_shows_provenance(db, server, twin_import):
    data = shared_data_or_skip()
    twin_import(str(data / "districts.geojson"), "--mapping", "almaty_districts")
    collection = server.get("/collections/districts", params={"f": "json"})
    assert collection.status_code == 200
    provenance = collection.json()["provenance"]
    assert provenance["source"].startswith("Almaty district boundaries")
    assert provenance["licence"].startswith("ODbL 1.0")
    assert provenance["synthetic"] is False
    assert provenance["loaded_at"].endswith("Z") and provenance["data_version"] >= 1
    assert provenance["details"]["file"] == "districts.geojson"
    assert provenance["details"]["loaded"] == 8
    assert int(collection.headers["content-length"]) == len(collection.content)

    listing = server.get("/collections", params={"f": "json"}).json()["collections"]
    by_id = {c["id"]: c for c in listing}
    assert by_id["districts"]["provenance"]["source"] == provenance["source"]
    assert all("provenance" in c for c in listing)
    assert "details" not in by_id["districts"]["provenance"]  # the list stays compact

    page = server.get("/collections/districts", params={"f": "html"}).text
    assert "<h3>Provenance</h3>" in page and "Almaty district boundaries" in page
    assert "real data" in page
    assert (
        "Provenance: Almaty district boundaries"
        in server.get("/collections", params={"f": "html"}).text
    )

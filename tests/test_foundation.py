"""The backbone as a user meets it: CLI, migrations, collections, items, health."""

from __future__ import annotations

import socket

import psycopg
import pytest

from conftest import Server, run_twin

LAYERS = {
    "districts",
    "polycentres",
    "blocks",
    "plots",
    "buildings",
    "utility_lines",
    "utility_facilities",
    "seismic_faults",
    "seismic_zones",
    "parks",
    "amenities",
    "streets",
    "transit_stops",
}


def test_committed_pygeoapi_config_is_in_sync_with_layers():
    result = run_twin("config", "--check", check=False)
    assert result.returncode == 0, result.stderr + result.stdout


def test_migrate_twice_changes_nothing(database_url):
    first = run_twin("migrate").stdout
    assert "up to date" in first
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT count(*), max(applied_at) FROM twin_migrations").fetchone()
    assert "up to date" in run_twin("migrate").stdout
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT count(*), max(applied_at) FROM twin_migrations").fetchone()
    assert before == after and before[0] >= 1 + len(LAYERS)


def test_a_database_made_before_a_new_value_takes_it_after_migrate(db):
    """The catalog gained a value (buildings' seismic status `not_attested`) after a twin's
    database was made: `twin migrate` replaces the column's check, so loading the demo again
    no longer fails on the new value."""
    check = "buildings_seismic_status_check"
    db.execute(f"ALTER TABLE buildings DROP CONSTRAINT {check}")
    db.execute(
        f"ALTER TABLE buildings ADD CONSTRAINT {check} CHECK (seismic_status IN "
        "('compliant', 'needs_strengthening', 'strengthened')) NOT VALID"
    )
    db.execute("UPDATE twin_migrations SET checksum = 'older' WHERE id = 'layer:buildings'")
    assert "layer:buildings" in run_twin("migrate").stdout
    (definition,) = db.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (check,)
    ).fetchone()
    assert "not_attested" in definition
    assert "up to date" in run_twin("migrate").stdout


def test_migrate_names_a_numbered_migration_edited_after_it_was_applied(db):
    """A developer edits 0001_core.sql after this database applied it: `twin migrate` does not
    apply it again and says so, naming the file (numbered migrations are history)."""
    recorded = db.execute("SELECT checksum FROM twin_migrations WHERE id = '0001_core'").fetchone()[
        0
    ]
    db.execute("UPDATE twin_migrations SET checksum = 'edited' WHERE id = '0001_core'")
    try:
        result = run_twin("migrate")
        assert "up to date" in result.stdout
        assert "0001_core.sql was edited after this database applied it" in result.stderr
    finally:
        db.execute("UPDATE twin_migrations SET checksum = %s WHERE id = '0001_core'", (recorded,))
    assert "edited" not in run_twin("migrate").stderr


def test_schema_enforces_the_catalog(db):
    geometry = db.execute(
        "SELECT type, srid FROM geometry_columns WHERE f_table_name = 'plots'"
    ).fetchone()
    assert geometry == ("MULTIPOLYGON", 4326)
    assert (
        db.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'plots' "
            "AND indexdef ILIKE '%USING gist (geom)%'"
        ).fetchone()[0]
        == 1
    )
    with pytest.raises(psycopg.errors.NotNullViolation):
        db.execute(
            "INSERT INTO plots (land_use, geom) VALUES ('residential', "
            "ST_Multi(ST_MakeEnvelope(76.9, 43.2, 76.901, 43.201, 4326)))"
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO plots (cadastral_number, land_use, geom) VALUES ('X', 'casino', "
            "ST_Multi(ST_MakeEnvelope(76.9, 43.2, 76.901, 43.201, 4326)))"
        )
    with pytest.raises(psycopg.errors.InvalidParameterValue):  # wrong geometry type
        db.execute(
            "INSERT INTO plots (cadastral_number, land_use, geom) VALUES ('X', "
            "'residential', ST_SetSRID(ST_MakePoint(76.9, 43.2), 4326))"
        )


def test_every_layer_is_a_collection_with_queryables(server):
    collections = server.get("/collections", params={"f": "json"}).json()["collections"]
    assert LAYERS.issubset({c["id"] for c in collections})
    for name in LAYERS:
        queryables = server.get(f"/collections/{name}/queryables", params={"f": "json"})
        assert queryables.status_code == 200, name
        assert "geometry" in queryables.json()["properties"] or name


def test_a_feature_inserted_with_sql_comes_back_through_the_api(server, db):
    fid = db.execute(
        "INSERT INTO amenities (name, category, kind, district, geom) VALUES "
        "('School No. 159', 'education', 'school', 'Bostandyk', "
        "ST_SetSRID(ST_MakePoint(76.9286, 43.2389), 4326)) RETURNING id"
    ).fetchone()[0]
    try:
        page = server.get(
            "/collections/amenities/items", params={"f": "json", "name": "School No. 159"}
        ).json()
        found = [f for f in page["features"] if f["id"] == fid]
        assert found and found[0]["properties"]["name"] == "School No. 159"
        item = server.get(f"/collections/amenities/items/{fid}", params={"f": "json"})
        assert item.status_code == 200
        body = item.json()
        assert body["properties"]["category"] == "education"
        assert body["geometry"]["type"] == "Point"
        assert body["geometry"]["coordinates"] == pytest.approx([76.9286, 43.2389])
    finally:
        db.execute("DELETE FROM amenities WHERE id = %s", (fid,))


def test_unknown_collection_and_item_are_json_404(server):
    missing = server.get("/collections/casinos", params={"f": "json"})
    assert missing.status_code == 404 and missing.json()["description"]
    item = server.get("/collections/plots/items/999999999", params={"f": "json"})
    assert item.status_code == 404 and "description" in item.json()


def test_healthz_reports_the_database(server):
    health = server.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "up"


def test_healthz_says_503_when_the_database_is_down(database_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    srv = Server({"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead_port}/twin"})
    try:
        health = srv.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"] == "down"
        # the catalogue a GIS client opens first says so too, in the one error model
        listed = srv.get("/collections", params={"f": "json"})
        assert listed.status_code == 503, listed.text
        assert listed.json()["code"] == "DatabaseUnavailable"
    finally:
        srv.stop()


def test_database_url_mode_uses_that_server(database_url, tmp_path):
    # A fresh TWIN_HOME with no embedded cluster: the twin must use DATABASE_URL only.
    result = run_twin("db", "url", TWIN_HOME=str(tmp_path), DATABASE_URL=database_url)
    assert result.stdout.strip() == database_url
    run_twin("migrate", TWIN_HOME=str(tmp_path), DATABASE_URL=database_url)
    assert not (tmp_path / "pg").exists()


def test_commands_without_a_database_say_how_to_start_it(tmp_path):
    env = {"TWIN_HOME": str(tmp_path), "DATABASE_URL": ""}
    result = run_twin("migrate", check=False, **env)
    assert result.returncode == 1
    assert "twin db start" in result.stderr and "Traceback" not in result.stderr


def test_serve_says_when_the_port_is_taken(database_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_twin("serve", "--port", str(port), check=False, timeout=60)
    assert result.returncode == 1
    assert "taken" in result.stderr and "--port 0" in result.stderr


def test_viewer_is_served(server):
    page = server.get("/viewer/")
    assert page.status_code == 200 and "Almaty Twin" in page.text

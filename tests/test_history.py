"""Nothing is lost by an edit: every version is kept, listed, restorable, and queryable as of
any instant, whichever way the change was made."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from conftest import run_twin
from test_editing import add_user, plot, square, write


@pytest.fixture(scope="module")
def editor(database_url) -> str:
    return add_user("editor", "plots,amenities")


def create_plot(server, key: str, **properties) -> tuple[str, int]:
    response = write(server, "POST", "/collections/plots/items", key, plot(**properties))
    assert response.status_code == 201, response.text
    path = response.headers["Location"].removeprefix(server.url)
    return path, int(path.rsplit("/", 1)[1])


def instant() -> str:
    time.sleep(0.05)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return moment


def test_an_edited_plot_keeps_its_old_version_with_who_and_when(server, editor):
    path, _ = create_plot(server, editor, zoning="R1", residents=40)
    user = run_twin("users", "list").stdout
    owner = next(
        line.split("\t")[0] for line in user.splitlines() if f"twin_{editor.split('_')[1]}_" in line
    )
    moved = {
        "type": "Feature",
        "geometry": square(76.95, 43.26),
        "properties": {"zoning": "C2", "residents": None},
    }
    assert write(server, "PATCH", path, editor, moved).status_code == 200
    listing = server.get(f"{path}/history")
    assert listing.status_code == 200
    versions = listing.json()["versions"]
    assert [v["operation"] for v in versions] == ["create", "update"]
    assert {v["actor"] for v in versions} == {owner}
    assert all(v["changed_at"] for v in versions)
    first = server.get(f"{path}/history/1").json()
    second = server.get(f"{path}/history/2").json()
    assert first["previous"] is None and first["current"]["properties"]["zoning"] == "R1"
    assert second["previous"]["properties"]["zoning"] == "R1"
    assert second["previous"]["properties"]["residents"] == 40
    assert second["current"]["properties"]["zoning"] == "C2"
    old_ring = second["previous"]["geometry"]["coordinates"][0][0]
    assert old_ring[0] == [76.93, 43.24]  # the old geometry, exactly
    assert second["current"]["geometry"]["coordinates"][0][0][0] == [76.95, 43.26]


def test_a_deleted_plot_can_be_restored_with_its_id(server, editor):
    path, fid = create_plot(server, editor, land_use="green", owner_type="municipal")
    assert write(server, "DELETE", path, editor).status_code == 204
    assert server.get(path, params={"f": "json"}).status_code == 404
    versions = server.get(f"{path}/history").json()
    assert versions["exists"] is False
    deletion = versions["versions"][-1]
    assert deletion["operation"] == "delete"
    anonymous = httpx.post(f"{server.url}{path}/history/{deletion['version']}/restore", timeout=30)
    assert anonymous.status_code == 401
    restored = httpx.post(
        f"{server.url}{path}/history/{deletion['version']}/restore",
        headers={"X-API-Key": editor},
        timeout=30,
    )
    assert restored.status_code == 201, restored.text
    assert restored.headers["Location"].endswith(f"/collections/plots/items/{fid}")
    back = server.get(path, params={"f": "json"}).json()
    assert back["properties"]["land_use"] == "green"
    assert back["properties"]["owner_type"] == "municipal"
    operations = [v["operation"] for v in server.get(f"{path}/history").json()["versions"]]
    assert operations == ["create", "delete", "restore"]


def test_an_older_version_can_be_brought_back_over_a_newer_one(server, editor):
    path, _ = create_plot(server, editor, max_height_m=21.0)
    write(server, "PATCH", path, editor, {"properties": {"max_height_m": 75.0}})
    restored = httpx.post(
        f"{server.url}{path}/history/1/restore", headers={"X-API-Key": editor}, timeout=30
    )
    assert restored.status_code == 200
    assert restored.json()["properties"]["max_height_m"] == 21.0
    assert restored.headers["ETag"] == '"v3"'


def test_the_layer_as_of_an_instant(server, editor, db):
    path, fid = create_plot(server, editor, land_use="vacant")
    as_vacant = instant()
    write(server, "PATCH", path, editor, {"properties": {"land_use": "commercial"}})
    as_commercial = instant()
    write(server, "DELETE", path, editor)

    def as_of(moment: str) -> dict:
        response = server.get(
            "/collections/plots/asof",
            params={"datetime": moment, "bbox": "76.929,43.239,76.932,43.242", "limit": 10000},
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/geo+json")
        return {f["id"]: f for f in response.json()["features"]}

    assert as_of(as_vacant)[fid]["properties"]["land_use"] == "vacant"
    assert as_of(as_commercial)[fid]["properties"]["land_use"] == "commercial"
    assert fid not in as_of(datetime.now(UTC).isoformat())
    assert fid not in as_of("2000-01-01T00:00:00Z")
    # the same through the Python entry point and the SQL function
    from twin.editing.history import as_of_rows

    rows, _ = as_of_rows(
        db,
        "plots",
        datetime.fromisoformat(as_vacant),
        bbox=(76.929, 43.239, 76.932, 43.242),
        limit=10000,
    )
    assert {r["id"]: r for r in rows}[fid]["properties"]["land_use"] == "vacant"
    sql_row = db.execute(
        "SELECT properties ->> 'land_use' FROM twin_layer_as_of('plots', %s) WHERE id = %s",
        (as_commercial, fid),
    ).fetchone()
    assert sql_row == ("commercial",)


def test_as_of_needs_an_instant(server):
    for bad in ["", "yesterday", "2024-13-45"]:
        response = server.get("/collections/plots/asof", params={"datetime": bad})
        assert response.status_code == 400 and "RFC 3339" in response.json()["description"]
    assert (
        server.get(
            "/collections/streets/asof", params={"datetime": "2024-01-01T00:00:00Z"}
        ).status_code
        == 404
    )


def test_a_change_made_with_plain_sql_is_kept_too(server, db):
    fid = db.execute(
        "INSERT INTO amenities (name, category, kind, geom) VALUES "
        "('Kok-Bazar', 'commerce', 'market', "
        "ST_SetSRID(ST_MakePoint(76.9455, 43.2635), 4326)) RETURNING id"
    ).fetchone()[0]
    db.execute("UPDATE amenities SET capacity = 3000 WHERE id = %s", (fid,))
    with db.transaction():
        db.execute("SELECT set_config('twin.user', 'akimat-gis-team', true)")
        db.execute("DELETE FROM amenities WHERE id = %s", (fid,))
    versions = server.get(f"/collections/amenities/items/{fid}/history").json()["versions"]
    assert [(v["operation"], v["actor"]) for v in versions] == [
        ("insert", "sql:postgres"),
        ("update", "sql:postgres"),
        ("delete", "akimat-gis-team"),
    ]


def test_the_change_feed_of_a_layer(server, editor):
    since = instant()
    path, fid = create_plot(server, editor)
    write(server, "PATCH", path, editor, {"properties": {"residents": 12}})
    feed = server.get("/collections/plots/changes", params={"datetime": f"{since}/.."}).json()
    mine = [(c["id"], c["operation"]) for c in feed["changes"] if c["id"] == fid]
    assert mine == [(fid, "update"), (fid, "create")]
    assert (
        server.get("/collections/plots/changes", params={"datetime": "soon/later"}).status_code
        == 400
    )


def test_a_failed_edit_leaves_no_history(server, editor, db):
    path, fid = create_plot(server, editor)
    before = db.execute(
        "SELECT count(*) FROM twin_history WHERE layer = 'plots' AND feature_id = %s", (fid,)
    ).fetchone()[0]
    taken = db.execute(
        "SELECT cadastral_number FROM plots WHERE id <> %s LIMIT 1", (fid,)
    ).fetchone()[0]
    clash = write(server, "PATCH", path, editor, {"properties": {"cadastral_number": taken}})
    assert clash.status_code == 409
    after = db.execute(
        "SELECT count(*) FROM twin_history WHERE layer = 'plots' AND feature_id = %s", (fid,)
    ).fetchone()[0]
    assert after == before


def test_a_bulk_loaded_feature_without_history_is_reported_unchanged(server, db):
    with db.transaction():
        db.execute("SELECT set_config('twin.history', 'off', true)")
        fid = db.execute(
            "INSERT INTO amenities (name, category, kind, geom) VALUES "
            "('Green Bazaar pharmacy', 'healthcare', 'pharmacy', "
            "ST_SetSRID(ST_MakePoint(76.9452, 43.2632), 4326)) RETURNING id"
        ).fetchone()[0]
    listing = server.get(f"/collections/amenities/items/{fid}/history")
    assert listing.status_code == 200
    assert listing.json()["versions"] == [] and listing.json()["exists"] is True
    db.execute("DELETE FROM amenities WHERE id = %s", (fid,))  # recorded: history is on again
    after = server.get(f"/collections/amenities/items/{fid}/history").json()["versions"]
    assert [v["operation"] for v in after] == ["delete"]
    assert server.get("/collections/amenities/items/999999999/history").status_code == 404

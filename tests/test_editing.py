"""Editing the city through OGC API Features Part 4, as an editor, an admin and a stranger."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from conftest import new_user, run_twin

GEOJSON = {"Content-Type": "application/geo+json"}


def square(lon: float, lat: float, size: float = 0.001) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def plot(number: str | None = None, land_use: str = "residential", **properties) -> dict:
    return {
        "type": "Feature",
        "geometry": square(76.93, 43.24),
        "properties": {
            "cadastral_number": number or f"20-{uuid.uuid4().hex[:10]}",
            "land_use": land_use,
            **properties,
        },
    }


def add_user(role: str, layers: str = "") -> str:
    """The key of a new user (conftest.new_user)."""
    return new_user(role, layers)[1]


@pytest.fixture(scope="module")
def plot_editor(database_url) -> str:
    """The key of an editor of plots and parks (printed once by `twin users add`)."""
    return add_user("editor", "plots,parks")


@pytest.fixture(scope="module")
def admin(database_url) -> str:
    return add_user("admin")


def write(
    server, method: str, path: str, key: str | None = None, body=None, headers: dict | None = None
) -> httpx.Response:
    sent = dict(GEOJSON) | ({"X-API-Key": key} if key else {}) | (headers or {})
    content = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return httpx.request(method, f"{server.url}{path}", content=content, headers=sent, timeout=60)


def plot_count(db) -> int:
    return db.execute("SELECT count(*) FROM plots").fetchone()[0]


def test_a_reader_without_a_key_can_read_but_not_write(server, db):
    before = plot_count(db)
    response = write(server, "POST", "/collections/plots/items", body=plot())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "API key" in response.json()["description"]
    wrong = write(
        server, "POST", "/collections/plots/items", key="twin_000000000000_guess", body=plot()
    )
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert write(server, "DELETE", "/collections/plots/items/1").status_code == 401
    assert server.get("/collections/plots/items", params={"f": "json"}).status_code == 200
    assert plot_count(db) == before


def test_an_editor_creates_a_plot_and_reads_it_back(server, plot_editor):
    feature = plot(land_use="mixed", zoning="C1", max_height_m=45, registered_on="2024-03-01")
    created = write(server, "POST", "/collections/plots/items", plot_editor, feature)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith(f"{server.url}/collections/plots/items/")
    assert created.headers["ETag"] == '"v1"'
    read = httpx.get(location, params={"f": "json"}, timeout=30)
    assert read.status_code == 200
    body = read.json()
    assert body["properties"]["cadastral_number"] == feature["properties"]["cadastral_number"]
    assert body["properties"]["zoning"] == "C1"
    assert body["geometry"]["type"] == "MultiPolygon"  # the layer's type, promoted from Polygon


def test_bearer_tokens_work_like_api_keys(server, plot_editor):
    response = write(
        server,
        "POST",
        "/collections/parks/items",
        body={
            "type": "Feature",
            "geometry": square(76.95, 43.25),
            "properties": {
                "name": "Bauyrzhan Momyshuly boulevard",
                "kind": "boulevard",
                "status": "planned",
                "planned_year": 2027,
            },
        },
        headers={"Authorization": f"Bearer {plot_editor}"},
    )
    assert response.status_code == 201, response.text


def test_an_editor_of_plots_may_not_touch_buildings_but_an_admin_may(server, plot_editor, admin):
    building = {
        "type": "Feature",
        "geometry": square(76.94, 43.25, 0.0002),
        "properties": {
            "use": "residential",
            "levels": 9,
            "height_m": 28.0,
            "seismic_status": "needs_strengthening",
        },
    }
    denied = write(server, "POST", "/collections/buildings/items", plot_editor, building)
    assert denied.status_code == 403
    assert "may not edit buildings" in denied.json()["description"]
    allowed = write(server, "POST", "/collections/buildings/items", admin, building)
    assert allowed.status_code == 201, allowed.text


def test_reference_layers_are_read_only(server, admin):
    response = write(
        server,
        "POST",
        "/collections/streets/items",
        admin,
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[76.9, 43.2], [76.91, 43.21]]},
            "properties": {},
        },
    )
    assert response.status_code == 405 and "read-only" in response.json()["description"]
    assert (
        write(server, "POST", "/collections/no_such_layer/items", admin, plot()).status_code == 404
    )


@pytest.mark.parametrize(
    "change, status, words",
    [
        (lambda f: f["properties"].update(casino=True), 400, "unknown property 'casino'"),
        (lambda f: f["properties"].update(land_use="casino"), 400, "must be one of"),
        (lambda f: f["properties"].update(residents="many"), 400, "must be an integer"),
        (lambda f: f["properties"].update(registered_on="yesterday"), 400, "must be a date"),
        (lambda f: f["properties"].pop("land_use"), 400, "'land_use' is required"),
        (
            lambda f: f.update(geometry={"type": "Point", "coordinates": [76.93, 43.24]}),
            400,
            "takes MultiPolygon or Polygon",
        ),
        (
            lambda f: f.update(
                geometry={
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [76.93, 43.24],
                            [76.94, 43.25],
                            [76.94, 43.24],
                            [76.93, 43.25],
                            [76.93, 43.24],
                        ]
                    ],
                }
            ),
            400,
            "Self-intersection",
        ),
        (lambda f: f.update(geometry=square(2.35, 48.85)), 400, "outside the city"),
        (lambda f: f.update(geometry=None), 400, "`geometry` is required"),
    ],
)
def test_a_bad_feature_is_refused_with_the_reason_and_changes_nothing(
    server, db, plot_editor, change, status, words
):
    feature = plot()
    change(feature)
    before = plot_count(db)
    response = write(server, "POST", "/collections/plots/items", plot_editor, feature)
    assert response.status_code == status, response.text
    assert words in response.json()["description"]
    assert plot_count(db) == before


def test_wrong_media_type_bad_json_and_duplicates_are_client_errors(server, plot_editor):
    path = "/collections/plots/items"
    as_text = write(server, "POST", path, plot_editor, "{}", {"Content-Type": "text/plain"})
    assert as_text.status_code == 415
    broken = write(server, "POST", path, plot_editor, b'{"type": "Feature", ')
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["description"]
    nan = write(
        server,
        "POST",
        path,
        plot_editor,
        b'{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[NaN,43.2],'
        b'[76.9,43.2],[76.9,43.3],[NaN,43.2]]]},"properties":{}}',
    )
    assert nan.status_code == 400
    utm = write(
        server,
        "POST",
        path,
        plot_editor,
        plot(),
        {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/32643>"},
    )
    assert utm.status_code == 400 and "Content-Crs" in utm.json()["description"]
    feature = plot()
    assert (
        write(
            server,
            "POST",
            path,
            plot_editor,
            feature,
            {"Content-Crs": "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"},
        ).status_code
        == 201
    )
    again = write(server, "POST", path, plot_editor, feature)
    assert again.status_code == 409 and "already has this value" in again.json()["description"]


def test_replace_update_and_delete_follow_part_4(server, plot_editor):
    created = write(
        server, "POST", "/collections/plots/items", plot_editor, plot(zoning="R2", residents=120)
    )
    item = created.headers["Location"].removeprefix(server.url)
    patched = write(
        server,
        "PATCH",
        item,
        plot_editor,
        {"properties": {"residents": 150}},
        {"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert {"residents": 150, "zoning": "R2"}.items() <= patched.json()["properties"].items()
    assert patched.headers["ETag"] == '"v2"'
    stale = write(server, "PUT", item, plot_editor, plot(), {"If-Match": '"v1"'})
    assert stale.status_code == 412  # someone changed it since v1: no lost update
    replacement = plot(land_use="public")
    replaced = write(server, "PUT", item, plot_editor, replacement, {"If-Match": '"v2"'})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["properties"]["zoning"] is None  # replace: absent means cleared
    assert replaced.json()["properties"]["land_use"] == "public"
    deleted = write(server, "DELETE", item, plot_editor)
    assert deleted.status_code == 204
    assert httpx.get(f"{server.url}{item}", params={"f": "json"}, timeout=30).status_code == 404
    assert write(server, "DELETE", item, plot_editor).status_code == 404
    assert (
        write(
            server, "PATCH", "/collections/plots/items/abc", plot_editor, {"properties": {}}
        ).status_code
        == 404
    )


def test_a_revoked_key_stops_working_at_once(server, database_url):
    key = add_user("editor", "plots")
    name = run_twin("users", "list").stdout
    user = next(
        line.split("\t")[0] for line in name.splitlines() if f"twin_{key.split('_')[1]}_" in line
    )
    assert write(server, "POST", "/collections/plots/items", key, plot()).status_code == 201
    run_twin("users", "revoke", user)
    assert write(server, "POST", "/collections/plots/items", key, plot()).status_code == 401
    listed = run_twin("users", "list").stdout
    assert any(line.startswith(user) and "revoked" in line for line in listed.splitlines())
    assert key not in listed  # only the key id is shown, never the key


def test_keys_are_stored_hashed(db, database_url):
    key = add_user("editor", "amenities")
    stored = db.execute(
        "SELECT key_id, key_hash, key_salt FROM twin_users WHERE key_id = %s", (key.split("_")[1],)
    ).fetchone()
    assert stored is not None
    assert key.split("_", 2)[2].encode() not in bytes(stored[1]) + bytes(stored[2])


def test_an_edit_bumps_the_layer_version_that_tiles_key_on(server, db, plot_editor):
    before = db.execute("SELECT version FROM twin_layers WHERE name = 'plots'").fetchone()[0]
    assert write(server, "POST", "/collections/plots/items", plot_editor, plot()).status_code == 201
    after = db.execute("SELECT version FROM twin_layers WHERE name = 'plots'").fetchone()[0]
    assert after > before


def test_openapi_and_conformance_advertise_transactions(server):
    document = server.get("/openapi", params={"f": "json"}).json()
    items = document["paths"]["/collections/plots/items"]
    assert "post" in items
    assert {"put", "delete"} <= set(document["paths"]["/collections/plots/items/{featureId}"])
    # POST to a read-only layer's items is a CQL2 search, never a create
    search = document["paths"]["/collections/streets/items"].get("post", {})
    assert "application/geo+json" not in search.get("requestBody", {}).get("content", {})
    assert "text/cql2" in search["requestBody"]["content"] and "security" not in search
    conformance = server.get("/conformance", params={"f": "json"}).json()["conformsTo"]
    assert any("ogcapi-features-4" in c for c in conformance)


def test_browsers_may_call_the_api_from_other_sites_with_safe_headers(server):
    preflight = httpx.options(
        f"{server.url}/collections/plots/items",
        timeout=30,
        headers={
            "Origin": "https://planner.almaty.kz",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 204
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert "X-API-Key" in preflight.headers["Access-Control-Allow-Headers"]
    page = server.get(
        "/collections", params={"f": "json"}, headers={"Origin": "https://planner.almaty.kz"}
    )
    assert page.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in page.headers
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]

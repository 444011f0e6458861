"""Plans as stored objects over HTTP, as planners, colleagues, readers and admins use them.

A planner makes plans, lists them, changes them with If-Match, copies and deletes them; a
colleague may copy but not change them; a reader without a key reads but cannot write; a
private plan is nobody else's business (404). Bad edits are refused naming the edit, and
nothing is stored. An evaluated plan's cells are a layer (items and tiles with ?plan=ID); a
plan compares with today; a layer edit makes it stale; quick changes evaluate it once; and it
all survives a restart. Real PostGIS, real servers, no mocks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import h3
import httpx
import mapbox_vector_tile
import morecantile
import psycopg
import pytest

from conftest import Server, new_user

pytestmark = pytest.mark.timeout(900)
DELAY_S = 1.0


@pytest.fixture(scope="module")
def admin(analysed_city: str) -> tuple[str, str]:
    return new_user("admin")


@pytest.fixture(scope="module")
def srv(analysed_city: str) -> Iterator[Server]:
    server = Server(extra_env={"TWIN_PLANS_EVALUATE_DELAY_S": str(DELAY_S)})
    yield server
    server.stop()


def call(
    server: Server, method: str, path: str, key: str | None = None, body=None, **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json"} | headers
    if key:
        sent["X-API-Key"] = key
    return httpx.request(method, f"{server.url}{path}", json=body, headers=sent, timeout=180)


def square(lon: float, lat: float, size: float = 0.004) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def housing(residents: int, lon: float = 76.85, lat: float = 43.22, fid: str = "homes") -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": square(lon, lat),
        "properties": {"edit": "housing.add", "residents": residents, "name": "New quarter"},
    }


def edits(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        plans = conn.execute("SELECT count(*) FROM plans").fetchone()[0]
        changes = conn.execute("SELECT count(*) FROM plan_history").fetchone()[0]
    return plans, changes


def wait_for(server: Server, pid: int, status: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        plan = httpx.get(f"{server.url}/plans/{pid}", timeout=60).json()
        if plan["status"] == status or time.monotonic() > deadline:
            return plan
        time.sleep(0.3)


def test_a_planner_makes_lists_changes_copies_and_deletes_a_plan(srv, planner, colleague):
    author, key = planner
    other, other_key = colleague
    made = call(srv, "POST", "/plans", key, {"title": "Quiet streets", "description": "draft"})
    assert made.status_code == 201, made.text
    plan = made.json()
    pid = plan["id"]
    assert made.headers["Location"].endswith(f"/plans/{pid}")
    assert made.headers["ETag"] == '"v1"'
    assert plan["author"] == author and plan["version"] == 1 and plan["status"] == "new"
    assert plan["edits"] == edits() and plan["stale"] is False and plan["base_version"]

    got = httpx.get(f"{srv.url}/plans/{pid}")
    assert got.status_code == 200 and got.json()["title"] == "Quiet streets"
    assert got.headers["ETag"] == '"v1"'

    call(srv, "POST", "/plans", other_key, {"title": "Someone else's"})
    everyone = httpx.get(f"{srv.url}/plans", params={"limit": "1000"}).json()
    assert {p["author"] for p in everyone["plans"]} >= {author, other}
    mine = call(srv, "GET", "/plans?mine=true", key).json()
    assert mine["plans"] and {p["author"] for p in mine["plans"]} == {author}
    by_author = httpx.get(f"{srv.url}/plans", params={"author": author}).json()
    assert [p["id"] for p in by_author["plans"]] == [p["id"] for p in mine["plans"]]
    assert call(srv, "GET", "/plans?mine=true").status_code == 401

    renamed = call(
        srv, "PATCH", f"/plans/{pid}", key, {"title": "Quiet streets 2030"}, **{"If-Match": '"v1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == 2 and renamed.headers["ETag"] == '"v2"'
    late = call(srv, "PATCH", f"/plans/{pid}", key, {"title": "lost"}, **{"If-Match": '"v1"'})
    assert late.status_code == 412 and late.headers["ETag"] == '"v2"'
    assert httpx.get(f"{srv.url}/plans/{pid}").json()["title"] == "Quiet streets 2030"

    copied = call(srv, "POST", f"/plans/{pid}/copy", other_key)
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert copy["title"] == "Quiet streets 2030 (copy)" and copy["author"] == other
    assert copy["id"] != pid and copy["version"] == 1

    assert call(srv, "DELETE", f"/plans/{pid}", key, **{"If-Match": '"v1"'}).status_code == 412
    assert call(srv, "DELETE", f"/plans/{pid}", key).status_code == 204
    assert httpx.get(f"{srv.url}/plans/{pid}").status_code == 404
    history = httpx.get(f"{srv.url}/plans/{pid}/history").json()
    assert history["exists"] is False
    assert [v["action"] for v in history["versions"]] == ["delete", "update", "create"]
    assert history["versions"][0]["snapshot"]["title"] == "Quiet streets 2030"
    assert httpx.get(f"{srv.url}/plans/{copy['id']}").status_code == 200


def test_who_may_read_and_change_a_plan(srv, planner, colleague, admin, analysed_city):
    author, key = planner
    _, other_key = colleague
    admin_name, admin_key = admin
    before = counts(analysed_city)
    anonymous = call(srv, "POST", "/plans", None, {"title": "No key"})
    assert anonymous.status_code == 401 and "API key" in anonymous.json()["description"]
    assert call(srv, "POST", "/plans", "twin_000000000000_guess", {"title": "x"}).status_code == 401
    assert counts(analysed_city) == before

    pid = call(srv, "POST", "/plans", key, {"title": "Shared"}).json()["id"]
    assert call(srv, "PATCH", f"/plans/{pid}", None, {"title": "x"}).status_code == 401
    assert call(srv, "PATCH", f"/plans/{pid}", other_key, {"title": "mine"}).status_code == 403
    assert call(srv, "DELETE", f"/plans/{pid}", other_key).status_code == 403
    assert call(srv, "POST", f"/plans/{pid}/evaluate", other_key).status_code == 403
    assert httpx.get(f"{srv.url}/plans/{pid}").json()["title"] == "Shared"
    by_admin = call(srv, "PATCH", f"/plans/{pid}", admin_key, {"title": "Shared (checked)"})
    assert by_admin.status_code == 200 and by_admin.json()["author"] == author
    history = httpx.get(f"{srv.url}/plans/{pid}/history").json()["versions"]
    assert (history[0]["action"], history[0]["author"]) == ("update", admin_name)

    secret = call(srv, "POST", "/plans", key, {"title": "Secret", "private": True}).json()
    sid = secret["id"]
    for reader in (None, other_key):
        assert call(srv, "GET", f"/plans/{sid}", reader).status_code == 404
        assert call(srv, "GET", f"/plans/{sid}/history", reader).status_code == 404
        assert call(srv, "POST", f"/plans/{sid}/copy", reader).status_code in (401, 404)
        listed = call(srv, "GET", "/plans?limit=1000", reader).json()["plans"]
        assert sid not in {p["id"] for p in listed}
    assert call(srv, "PATCH", f"/plans/{sid}", other_key, {"title": "x"}).status_code == 404
    assert call(srv, "GET", f"/plans/{sid}", key).status_code == 200
    assert call(srv, "GET", f"/plans/{sid}", admin_key).status_code == 200
    assert sid in {p["id"] for p in call(srv, "GET", "/plans?mine=true", key).json()["plans"]}


def test_bad_input_is_refused_by_name_and_nothing_is_stored(srv, planner, analysed_city):
    _, key = planner
    before = counts(analysed_city)
    outside = {
        "type": "Feature",
        "id": "far",
        "geometry": {"type": "Point", "coordinates": [70.0, 40.0]},
        "properties": {"edit": "amenity.add", "category": "education", "kind": "school"},
    }
    unknown = {
        "type": "Feature",
        "id": "odd",
        "geometry": {"type": "Point", "coordinates": [76.9, 43.25]},
        "properties": {"edit": "amenity.add", "category": "casinos"},
    }
    for bad, name in ((outside, "far"), (unknown, "odd"), (housing(-5, fid="minus"), "minus")):
        refused = call(srv, "POST", "/plans", key, {"title": "Bad", "edits": edits(bad)})
        assert refused.status_code == 400, refused.text
        answer = refused.json()
        assert f"edit {name}" in answer["description"] and answer["edit"] == name
    for body in ({"title": ""}, {"title": "x" * 201}, {"title": "ok", "colour": "red"}, [1]):
        assert call(srv, "POST", "/plans", key, body).status_code == 400
    assert call(srv, "POST", "/plans", key, {"title": "ok", "mode": "fly"}).status_code == 400
    # a NUL in any text (title, or an edit's name) is no text PostgreSQL can store: 400, not 500
    nul = housing(100, fid="nul")
    nul["properties"]["name"] = "a\u0000b"
    for body in ({"title": "a\u0000b"}, {"title": "ok", "edits": edits(nul)}):
        refused = call(srv, "POST", "/plans", key, body)
        assert refused.status_code == 400 and "NUL" in refused.json()["description"]
    assert httpx.get(f"{srv.url}/plans", params={"author": "a\u0000b"}).status_code == 400
    raw = httpx.post(
        f"{srv.url}/plans",
        content=b'{"title": ',
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert raw.status_code == 400 and "JSON" in raw.json()["description"]
    huge = httpx.post(
        f"{srv.url}/plans",
        content=b" " * (2 * 1024 * 1024 + 1),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert counts(analysed_city) == before

    pid = call(srv, "POST", "/plans", key, {"title": "Kept as it was"}).json()["id"]
    after_create = counts(analysed_city)
    patched = call(srv, "PATCH", f"/plans/{pid}", key, {"edits": edits(outside)})
    assert patched.status_code == 400 and patched.json()["edit"] == "far"
    assert counts(analysed_city) == after_create
    assert httpx.get(f"{srv.url}/plans/{pid}").json()["version"] == 1

    for path in ("/plans/999999999", "/plans/abc", "/plans/012", "/plans/-1", "/plans/1.5"):
        assert httpx.get(f"{srv.url}{path}").status_code == 404, path
    assert httpx.get(f"{srv.url}/plans/999999999/compare/base").status_code == 404
    assert httpx.get(f"{srv.url}/plans/{pid}/report", params={"f": "xls"}).status_code == 400
    assert httpx.get(f"{srv.url}/plans/{pid}/report", params={"lang": "de"}).status_code == 400
    assert httpx.get(f"{srv.url}/plans", params={"limit": "0"}).status_code == 400


def cell_tile(h3_cell: str, zoom: int = 14) -> morecantile.Tile:
    lat, lon = h3.cell_to_latlng(h3_cell)
    return morecantile.tms.get("WebMercatorQuad").tile(lon, lat, zoom)


def tile_plans(server: Server, tile: morecantile.Tile, **params: str) -> set[int]:
    path = f"/collections/plan_cells/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    answer = httpx.get(f"{server.url}{path}", params=params, timeout=60)
    assert answer.status_code in (200, 204), answer.text
    if answer.status_code == 204:
        return set()
    layer = mapbox_vector_tile.decode(answer.content).get("plan_cells", {"features": []})
    return {f["properties"]["plan"] for f in layer["features"]}


def test_an_evaluated_plan_is_a_layer_and_compares_with_today(srv, planner, analysed_city):
    _, key = planner
    body = {"title": "West homes", "edits": edits(housing(6000))}
    pid = call(srv, "POST", "/plans", key, body).json()["id"]
    evaluated = call(srv, "POST", f"/plans/{pid}/evaluate", key)
    assert evaluated.status_code == 200, evaluated.text
    plan = evaluated.json()
    assert plan["status"] == "evaluated" and plan["stale"] is False
    evaluation = plan["evaluation"]
    gained = evaluation["indicators"]["city"]["residents"] - evaluation["base"]["city"]["residents"]
    assert gained == 6000
    assert "changed_cells" not in evaluation
    count = plan["changed_cells"]["count"]
    assert count > 0

    cells = httpx.get(
        f"{srv.url}/collections/plan_cells/items",
        params={"plan": str(pid), "limit": "10000", "f": "json"},
    ).json()
    assert cells["numberMatched"] == count
    assert {f["properties"]["plan"] for f in cells["features"]} == {pid}
    assert sum(f["properties"]["residents_plan"] - f["properties"]["residents_base"]
               for f in cells["features"]) == 6000  # fmt: skip

    # a second plan over the same ground: each tile with ?plan= holds that plan's cells only
    other = call(srv, "POST", "/plans", key, {"title": "Denser", "edits": edits(housing(9000))})
    oid = other.json()["id"]
    assert call(srv, "POST", f"/plans/{oid}/evaluate", key).status_code == 200
    tile = cell_tile(cells["features"][0]["properties"]["h3"])
    assert tile_plans(srv, tile, plan=str(pid)) == {pid}
    assert tile_plans(srv, tile, plan=str(oid)) == {oid}
    assert {pid, oid} <= tile_plans(srv, tile)
    assert tile_plans(srv, tile, plan="999999999") == set()
    bad = httpx.get(
        f"{srv.url}/collections/plan_cells/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}",
        params={"plan": "x1"},
    )
    assert bad.status_code == 400

    compared = httpx.get(f"{srv.url}/plans/base/compare/{pid}", timeout=120)
    assert compared.status_code == 200, compared.text
    doc = compared.json()
    assert doc["a"]["id"] == "base" and doc["b"]["id"] == pid
    assert doc["city"]["delta"]["residents"] == 6000
    assert doc["city"]["a"] == evaluation["base"]["city"]
    both = httpx.get(f"{srv.url}/plans/{pid}/compare/{oid}", timeout=120).json()
    assert both["city"]["delta"]["residents"] == 3000
    assert {row["district"] for row in both["districts"]} == set(evaluation["base"]["districts"])

    # made private: its cells leave the public layer; public again, they are back
    hidden = call(srv, "PATCH", f"/plans/{pid}", key, {"private": True}).json()
    assert hidden["changed_cells"]["items"] is None
    assert tile_plans(srv, tile, plan=str(pid)) == set()
    shown = call(srv, "PATCH", f"/plans/{pid}", key, {"private": False}).json()
    assert shown["status"] == "evaluated" and shown["changed_cells"]["count"] == count
    assert tile_plans(srv, tile, plan=str(pid)) == {pid}

    # deleted: its cells go with it
    assert call(srv, "DELETE", f"/plans/{oid}", key).status_code == 204
    with psycopg.connect(analysed_city) as conn:
        left = conn.execute("SELECT count(*) FROM plan_cells WHERE plan = %s", (oid,)).fetchone()
    assert left[0] == 0


def test_quick_changes_evaluate_once_and_a_layer_edit_makes_plans_stale(
    srv, planner, admin, analysed_city
):
    _, key = planner
    _, admin_key = admin
    pid = call(srv, "POST", "/plans", key, {"title": "Growing"}).json()["id"]
    for residents in (1000, 2000, 3000):
        changed = call(srv, "PATCH", f"/plans/{pid}", key, {"edits": edits(housing(residents))})
        assert changed.status_code == 200 and changed.json()["status"] == "pending"
    plan = wait_for(srv, pid, "evaluated")
    assert plan["status"] == "evaluated", plan.get("failure")
    evaluation = plan["evaluation"]
    assert (
        evaluation["indicators"]["city"]["residents"] - evaluation["base"]["city"]["residents"]
        == 3000
    )
    time.sleep(DELAY_S + 0.5)
    actions = [v["action"] for v in httpx.get(f"{srv.url}/plans/{pid}/history").json()["versions"]]
    assert actions == ["evaluate", "update", "update", "update", "create"]

    # an editor moves an amenity: the base changes, the plan is stale until evaluated again
    school = httpx.get(
        f"{srv.url}/collections/amenities/items", params={"kind": "school", "limit": "1"}
    ).json()["features"][0]
    lon, lat = school["geometry"]["coordinates"][:2]
    moved = httpx.patch(
        f"{srv.url}/collections/amenities/items/{school['id']}",
        json={"geometry": {"type": "Point", "coordinates": [lon + 0.0005, lat]}},
        headers={"X-API-Key": admin_key, "Content-Type": "application/merge-patch+json"},
        timeout=60,
    )
    assert moved.status_code == 200, moved.text
    stale = httpx.get(f"{srv.url}/plans/{pid}").json()
    assert stale["stale"] is True
    listed = {p["id"]: p for p in httpx.get(f"{srv.url}/plans?limit=1000").json()["plans"]}
    assert listed[pid]["stale"] is True
    fresh = call(srv, "POST", f"/plans/{pid}/evaluate", key).json()
    assert fresh["stale"] is False and fresh["base_version"] != stale["base_version"]


def test_plans_survive_a_restart_and_are_in_openapi(srv, planner, analysed_city):
    _, key = planner
    pid = call(srv, "POST", "/plans", key, {"title": "Kept", "edits": edits(housing(500))}).json()[
        "id"
    ]
    evaluated = call(srv, "POST", f"/plans/{pid}/evaluate", key).json()
    again = Server()
    try:
        reopened = httpx.get(f"{again.url}/plans/{pid}").json()
        assert reopened["title"] == "Kept" and reopened["status"] == "evaluated"
        assert reopened["evaluation"] == evaluated["evaluation"]
        document = httpx.get(f"{again.url}/openapi", params={"f": "json"}, timeout=60).json()
        paths = document["paths"]
        assert {"get", "post"} <= set(paths["/plans"])
        assert {"get", "patch", "delete"} <= set(paths["/plans/{planId}"])
        body = paths["/plans"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["title"] and "edits" in body["properties"]
        assert "/plans/{a}/compare/{b}" in paths and "/plans/{planId}/report" in paths
    finally:
        again.stop()

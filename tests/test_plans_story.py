"""A planner's plan, end to end, on the small demo through a real server.

The akimat's planner makes "North polycentre 2030" (40,000 new residents, two schools and a
pedestrian corridor), evaluates it, duplicates it, drops the corridor from the copy, compares
the two, takes the PDF to a meeting, and finds the plan again after the server restarts. A
reader sees it but cannot change it; a colleague cannot change it either. The evaluation the
API stored equals an independent recomputation of the whole city with the edits applied.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import shapely
from shapely.geometry import box, mapping, shape

from conftest import Server

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def city_server(analysed_city: str) -> Iterator[Server]:
    srv = Server(extra_env={"TWIN_PLANS_EVALUATE_DELAY_S": "0.2"})
    yield srv
    srv.stop()


def call(
    srv: Server, method: str, path: str, key: str | None = None, body=None, **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json"} | headers
    if key:
        sent["X-API-Key"] = key
    return httpx.request(method, f"{srv.url}{path}", json=body, headers=sent, timeout=120)


def north_polycentre(srv: Server) -> shapely.Geometry:
    page = httpx.get(f"{srv.url}/collections/polycentres/items", params={"f": "json"}).json()
    (north,) = [f for f in page["features"] if f["properties"]["name"] == "North"]
    return shape(north["geometry"])


def street_points(srv: Server, area: shapely.Geometry) -> list[tuple[float, float]]:
    """Street vertices inside the area (where a corridor can be joined to the network)."""
    minx, miny, maxx, maxy = area.bounds
    page = httpx.get(
        f"{srv.url}/collections/streets/items",
        params={"bbox": f"{minx},{miny},{maxx},{maxy}", "limit": "2000", "f": "json"},
        timeout=60,
    ).json()
    points = []
    for feature in page["features"]:
        for lon, lat, *_ in shapely.get_coordinates(shape(feature["geometry"])).tolist():
            if area.contains(shapely.Point(lon, lat)):
                points.append((lon, lat))
    return points


def north_plan(srv: Server) -> dict:
    """40,000 residents on a block of the North polycentre, two schools and a corridor."""
    north = north_polycentre(srv)
    centre = north.representative_point()
    block = box(centre.x - 0.004, centre.y - 0.003, centre.x + 0.004, centre.y + 0.003)
    housing = block.intersection(north.buffer(-0.0005))
    assert housing.area > 0
    points = street_points(srv, north.buffer(-0.0005))
    start = points[0]
    # the corridor: to the street vertex 300-700 m away, as a straight pedestrian link
    end = next(
        p
        for p in points
        if 0.004 < ((p[0] - start[0]) ** 2 + (p[1] - start[1]) ** 2) ** 0.5 < 0.008
    )
    school = lambda dx, dy, name: {  # noqa: E731
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [centre.x + dx, centre.y + dy]},
        "properties": {
            "edit": "amenity.add",
            "category": "education",
            "kind": "school",
            "name": name,
            "capacity": 1200,
        },
    }
    return {
        "title": "North polycentre 2030",
        "description": "40,000 new residents, two schools and a corridor",
        "edits": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "housing",
                    "geometry": mapping(housing),
                    "properties": {"edit": "housing.add", "residents": 40000, "name": "North 1"},
                },
                school(-0.002, 0.001, "School North 1") | {"id": "school-1"},
                school(0.002, -0.001, "School North 2") | {"id": "school-2"},
                {
                    "type": "Feature",
                    "id": "corridor",
                    "geometry": {"type": "LineString", "coordinates": [list(start), list(end)]},
                    "properties": {"edit": "street.link", "name": "North corridor"},
                },
            ],
        },
    }


def test_a_planner_keeps_compares_and_reports_a_plan(
    city_server: Server, planner, colleague, analysed_city: str
) -> None:
    author, key = planner
    body = north_plan(city_server)

    # Made and evaluated: the 40,000 residents count in every indicator.
    made = call(city_server, "POST", "/plans", key, body)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert made.headers["Location"].endswith(f"/plans/{plan['id']}")
    assert plan["author"] == author and plan["title"] == "North polycentre 2030"
    evaluated = call(city_server, "POST", f"/plans/{plan['id']}/evaluate", key)
    assert evaluated.status_code == 200, evaluated.text
    plan = evaluated.json()
    assert plan["status"] == "evaluated" and plan["stale"] is False
    evaluation = plan["evaluation"]
    base, after = evaluation["base"]["city"], evaluation["indicators"]["city"]
    assert after["residents"] - base["residents"] == 40000
    north_base = evaluation["base"]["polycentres"]["North"]
    north_after = evaluation["indicators"]["polycentres"]["North"]
    assert north_after["residents"] - north_base["residents"] == 40000
    assert north_after["density_pph"] > north_base["density_pph"]
    assert evaluation["schools"]["plan"]["places"] == evaluation["schools"]["base"]["places"] + 2400
    assert plan["changed_cells"]["count"] > 0
    gains = evaluation["gains"]["city"]
    assert gains["education"]["gain"] > 0

    # The changed cells are a collection view QGIS and the viewer can draw.
    cells = httpx.get(
        f"{city_server.url}/collections/plan_cells/items",
        params={"plan": plan["id"], "limit": "10000", "f": "json"},
    ).json()
    assert cells["numberMatched"] == plan["changed_cells"]["count"]
    assert {f["properties"]["plan"] for f in cells["features"]} == {plan["id"]}

    # Duplicated, and the copy loses its corridor.
    copied = call(city_server, "POST", f"/plans/{plan['id']}/copy", key, {"title": "No corridor"})
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    edits = copy["edits"]
    edits["features"] = [f for f in edits["features"] if f["id"] != "corridor"]
    changed = call(
        city_server,
        "PATCH",
        f"/plans/{copy['id']}",
        key,
        {"edits": edits},
        **{"If-Match": copied.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    stale_tag = call(
        city_server,
        "PATCH",
        f"/plans/{copy['id']}",
        key,
        {"title": "late"},
        **{"If-Match": copied.headers["ETag"]},
    )
    assert stale_tag.status_code == 412

    # Compared: same residents, and the corridor is the difference in the street standards.
    compared = call(city_server, "GET", f"/plans/{plan['id']}/compare/{copy['id']}")
    assert compared.status_code == 200, compared.text
    comparison = compared.json()
    assert comparison["city"]["delta"]["residents"] == 0
    north_a = next(p for p in comparison["polycentres"] if p["polycentre"] == "North")
    assert north_a["b"]["street_density_km_km2"] < north_a["a"]["street_density_km_km2"]
    against_today = call(city_server, "GET", f"/plans/base/compare/{plan['id']}")
    assert against_today.status_code == 200
    assert against_today.json()["city"]["delta"]["residents"] == 40000

    # The report for the meeting: a real PDF whose tables hold the API's figures.
    report = httpx.get(
        f"{city_server.url}/plans/{plan['id']}/report",
        params={"f": "pdf", "lang": "en"},
        timeout=120,
    )
    assert report.status_code == 200, report.text[:500]
    assert report.headers["content-type"] == "application/pdf"
    assert report.content.startswith(b"%PDF")
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(report.content))
    assert len(pdf.pages) >= 2
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "North polycentre 2030" in text
    assert author in text
    assert f"{after['residents']:,}" in text

    # A reader sees the plan but cannot change it; a colleague cannot either.
    assert httpx.get(f"{city_server.url}/plans/{plan['id']}").status_code == 200
    assert (
        call(city_server, "PATCH", f"/plans/{plan['id']}", None, {"title": "x"}).status_code == 401
    )
    _, other = colleague
    refused = call(city_server, "PATCH", f"/plans/{plan['id']}", other, {"title": "mine now"})
    assert refused.status_code == 403
    assert call(city_server, "DELETE", f"/plans/{plan['id']}", other).status_code == 403

    # After a restart the plan and its evaluation are still there.
    city_server.stop()
    again = Server()
    try:
        reopened = httpx.get(f"{again.url}/plans/{plan['id']}").json()
        assert reopened["title"] == "North polycentre 2030"
        assert reopened["evaluation"]["indicators"]["city"] == after
        mine = httpx.get(f"{again.url}/plans", params={"author": author}).json()
        assert {p["id"] for p in mine["plans"]} >= {plan["id"], copy["id"]}
    finally:
        again.stop()

    # The stored evaluation equals a full recomputation of the city with the edits applied.
    from twin.analysis.city import load_city
    from twin.plans.edits import parse_edits
    from twin.plans.evaluate import plan_context
    from twin.plans.reference import apply_edits, reference_indicators

    with psycopg.connect(analysed_city) as conn:
        city = load_city(conn)
        context = plan_context(conn, city)
    edited = apply_edits(city, parse_edits(plan["edits"], city))
    recomputed = reference_indicators(edited, evaluation["mode"], context)
    assert_same_figures(recomputed, evaluation["indicators"])


def assert_same_figures(expected: dict, got: dict) -> None:
    for area in ("city",):
        for key, value in expected[area].items():
            assert got[area][key] == pytest.approx(value, abs=1e-3), (area, key)
    for group in ("districts", "polycentres"):
        for name, row in expected[group].items():
            for key, value in row.items():
                if value is None:
                    assert got[group][name][key] is None, (group, name, key)
                else:
                    assert got[group][name][key] == pytest.approx(value, abs=1e-3), (
                        group,
                        name,
                        key,
                    )

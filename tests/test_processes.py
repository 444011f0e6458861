"""The four OGC API processes as a planner calls them over HTTP on the small demo."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

CATEGORIES = ("education", "healthcare", "commerce", "culture_sport", "parks", "transit")


def execute(server, process: str, inputs: dict):
    return server.post(f"/processes/{process}/execution", json={"inputs": inputs})


@pytest.fixture()
def central_plot(analysed_city, db):
    """A lived-in plot with all six within 15 minutes, and its point on the ground."""
    return db.execute(
        "SELECT m.plot_id, ST_X(ST_PointOnSurface(p.geom)), ST_Y(ST_PointOnSurface(p.geom)) "
        "FROM plot_metrics m JOIN plots p ON p.id = m.plot_id WHERE m.all_six "
        "ORDER BY m.walkability DESC, m.plot_id LIMIT 1"
    ).fetchone()


def test_processes_are_described_by_pygeoapi(server, analysed_city):
    listed = server.get("/processes", params={"f": "json"}).json()["processes"]
    assert {"isochrone", "fifteen-minute-report", "plot-report", "scenario"} <= {
        p["id"] for p in listed
    }
    description = server.get("/processes/isochrone", params={"f": "json"}).json()
    assert {"lon", "lat", "minutes", "mode", "lit_only"} <= set(description["inputs"])


def test_isochrones_nest_and_list_the_amenities_reached(server, central_plot):
    _, lon, lat = central_plot
    response = execute(server, "isochrone", {"lon": lon, "lat": lat, "minutes": [5, 10, 15]})
    assert response.status_code == 200, response.text
    body = response.json()
    areas = {f["properties"]["minutes"]: shape(f["geometry"]) for f in body["features"]}
    assert sorted(areas) == [5, 10, 15]
    assert areas[5].contains(shapely.Point(lon, lat))
    assert areas[5].area < areas[10].area < areas[15].area
    assert areas[15].buffer(1e-6).contains(areas[5])
    reached = body["amenities"]["features"]
    assert reached and all(a["properties"]["minutes"] <= 15 for a in reached)
    assert [a["properties"]["minutes"] for a in reached] == sorted(
        a["properties"]["minutes"] for a in reached
    )
    # the nearest school of the 15-minute report is the first school the isochrone reaches
    report = execute(server, "fifteen-minute-report", {"lon": lon, "lat": lat}).json()
    first_school = next(a for a in reached if a["properties"]["category"] == "education")
    assert first_school["properties"]["minutes"] == pytest.approx(
        report["minutes"]["education"], abs=0.01
    )
    assert body["amenity_counts"]["15"]["education"] >= 1


def test_night_and_flat_isochrones_differ_from_the_default(server, central_plot):
    _, lon, lat = central_plot
    default = execute(server, "isochrone", {"lon": lon, "lat": lat, "minutes": 15}).json()
    night = execute(
        server, "isochrone", {"lon": lon, "lat": lat, "minutes": 15, "lit_only": True}
    ).json()
    flat = execute(
        server, "isochrone", {"lon": lon, "lat": lat, "minutes": 15, "mode": "flat"}
    ).json()
    day_area = default["features"][0]["properties"]["area_km2"]
    assert night["features"][0]["properties"]["area_km2"] <= day_area
    assert flat["features"][0]["properties"]["area_km2"] != day_area


def test_fifteen_minute_report_of_a_plot_matches_its_published_metrics(server, db, central_plot):
    plot_id = central_plot[0]
    report = execute(server, "fifteen-minute-report", {"plot_id": plot_id})
    assert report.status_code == 200, report.text
    body = report.json()
    row = db.execute(
        "SELECT min_education, min_healthcare, min_commerce, min_culture_sport, "
        "min_parks, min_transit, categories_15, walkability FROM plot_metrics "
        "WHERE plot_id = %s",
        (plot_id,),
    ).fetchone()
    for category, published in zip(CATEGORIES, row[:6]):
        assert body["minutes"][category] == pytest.approx(published, abs=0.01)
        assert body["nearest"][category]["minutes"] == body["minutes"][category]
    assert body["categories_15"] == row[6] == 6 and body["missing"] == []
    assert body["score"] == pytest.approx(row[7], abs=0.05)


def test_plot_report_gathers_what_a_planner_asks(server, db, analysed_city):
    plot_id, in_setback, fault_m, intensity, water_m = db.execute(
        "SELECT plot_id, in_fault_setback, fault_distance_m, seismic_intensity, water_m "
        "FROM plot_metrics ORDER BY in_fault_setback DESC, plot_id LIMIT 1"
    ).fetchone()
    response = execute(server, "plot-report", {"plot_id": plot_id})
    assert response.status_code == 200, response.text
    body = response.json()
    land_use = db.execute("SELECT land_use FROM plots WHERE id = %s", (plot_id,)).fetchone()[0]
    assert body["plot"]["land_use"] == land_use
    assert body["seismic"]["in_fault_setback"] is in_setback is True
    assert body["seismic"]["fault_distance_m"] == pytest.approx(fault_m, abs=0.2)
    assert body["seismic"]["intensity"] == intensity
    assert body["utilities"]["water_m"] == pytest.approx(water_m, abs=0.2)
    assert set(body["fifteen_minute"]["minutes"]) == set(CATEGORIES)
    assert 0 <= body["walkability"]["score"] <= 100 and "park_300" in body["parks"]


def test_a_school_scenario_improves_education_without_touching_stored_data(
    server, db, analysed_city
):
    under_served = db.execute(
        "SELECT m.plot_id, ST_X(ST_PointOnSurface(p.geom)), ST_Y(ST_PointOnSurface(p.geom)) "
        "FROM plot_metrics m JOIN plots p ON p.id = m.plot_id WHERE m.residents > 0 "
        "AND m.min_education > 15 "  # under-served, yet on the walking network
        "AND EXISTS (SELECT 1 FROM streets s WHERE s.walkable AND ST_DWithin(s.geom, "
        "ST_PointOnSurface(p.geom), 0.0007)) "
        "ORDER BY m.min_education DESC LIMIT 1"
    ).fetchone()
    assert under_served, "the demo city should have plots beyond 15 minutes of a school"
    plot_id, lon, lat = under_served
    versions = db.execute("SELECT name, version FROM twin_layers ORDER BY name").fetchall()
    school = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"category": "education", "kind": "school", "name": "New school"},
    }
    response = execute(
        server, "scenario", {"add": {"type": "FeatureCollection", "features": [school]}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["categories_recomputed"] == ["education"] and not body["stored_data_changed"]
    assert body["city"]["delta"]["share_education"] > 0
    assert body["affected"]["residents_gaining_categories"] > 0
    district = db.execute("SELECT district FROM plots WHERE id = %s", (plot_id,)).fetchone()[0]
    row = next(d for d in body["districts"] if d["district"] == district)
    assert row["after"]["share_education"] > row["before"]["share_education"]
    assert all(d["delta"]["share_healthcare"] == 0 for d in body["districts"])
    changed = body["changed_cells"]["features"]
    assert changed and all(
        c["properties"]["categories_15_after"] >= c["properties"]["categories_15_before"]
        for c in changed
    )
    assert any(shape(c["geometry"]).contains(shapely.Point(lon, lat)) for c in changed)
    assert db.execute("SELECT name, version FROM twin_layers ORDER BY name").fetchall() == versions


def test_removing_schools_and_adding_a_park(server, db, analysed_city):
    schools = [
        r[0]
        for r in db.execute(
            "SELECT id FROM amenities WHERE category = 'education' ORDER BY id LIMIT 25"
        ).fetchall()
    ]
    removed = execute(server, "scenario", {"remove_amenities": schools}).json()
    assert removed["city"]["delta"]["share_education"] <= 0
    assert removed["affected"]["residents_losing_categories"] >= 0
    lon, lat = db.execute(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c "
        "FROM plot_metrics WHERE park_walk_m IS NULL OR park_walk_m > 600 "
        "ORDER BY residents DESC LIMIT 1) t"
    ).fetchone()
    d = 0.002
    park = {
        "type": "Feature",
        "properties": {"kind": "square", "name": "New square"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
            ],
        },
    }
    added = execute(
        server, "scenario", {"add": {"type": "FeatureCollection", "features": [park]}}
    ).json()
    assert added["categories_recomputed"] == ["parks"]
    assert added["city"]["delta"]["share_park_500"] > 0
    assert added["city"]["delta"]["public_green_m2"] > 10_000


@pytest.mark.parametrize(
    "process, inputs, says",
    [
        ("isochrone", {"lon": 10.0, "lat": 10.0}, "outside the city"),
        ("isochrone", {"lon": 76.94, "lat": 43.24, "minutes": 500}, "out of range"),
        ("isochrone", {"lon": 76.94, "lat": 43.24, "minutes": [0, 5]}, "out of range"),
        ("isochrone", {"lon": 76.94}, "missing input 'lat'"),
        ("isochrone", {"lon": 76.94, "lat": 43.24, "mode": "bicycle"}, "mode"),
        ("isochrone", {"lon": "east", "lat": 43.24}, "must be a number"),
        ("isochrone", {"lon": 76.94, "lat": 43.24, "speed": 5}, "unknown input"),
        ("fifteen-minute-report", {}, "give a point"),
        ("fifteen-minute-report", {"plot_id": 987654321}, "unknown plot id 987654321"),
        ("plot-report", {"plot_id": 987654321}, "unknown plot id 987654321"),
        ("plot-report", {"plot_id": "north"}, "integer id"),
        ("scenario", {"add": {"type": "Feature"}}, "FeatureCollection"),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [76.94, 43.24]},
                            "properties": {"category": "casino"},
                        }
                    ],
                }
            },
            "unknown category 'casino'",
        ),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Polygon", "coordinates": [[1, 2]]},
                            "properties": {},
                        }
                    ],
                }
            },
            "invalid GeoJSON",
        ),
        ("scenario", {"remove_amenities": [987654321]}, "unknown amenity ids [987654321]"),
        ("scenario", {"remove_parks": "all"}, "list of integer ids"),
        ("scenario", {}, "changes nothing"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(server, analysed_city, process, inputs, says):
    response = execute(server, process, inputs)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and says in body["description"]


# Ids a planner might paste: only canonical ASCII digits within PostgreSQL's bigint are ids.
# "²" and "١" are digits to str.isdigit (the first made int() fail, a 500; the second read as
# plot 1), and int() of 5,000 digits raises: each is a 400 naming plot_id.
@pytest.mark.parametrize(
    "process, inputs, says",
    [
        ("plot-report", {"plot_id": "²"}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": "١"}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": "9" * 5000}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": "007"}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": " 7"}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": "-1"}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": 2**63}, "input 'plot_id' = 9223372036854775808 is not an id"),
        ("plot-report", {"plot_id": -5}, "input 'plot_id' = -5 is not an id"),
        ("plot-report", {"plot_id": 1.0}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": True}, "input 'plot_id' must be an integer id"),
        ("plot-report", {"plot_id": None}, "missing input 'plot_id'"),
        ("fifteen-minute-report", {"plot_id": "²"}, "input 'plot_id' must be an integer id"),
        ("fifteen-minute-report", {"plot_id": "9" * 5000}, "input 'plot_id' must be an integer id"),
        ("fifteen-minute-report", {"plot_id": 2**63}, "is not an id"),
        ("scenario", {"remove_amenities": ["²"]}, "input 'remove_amenities[0]' must be an integer"),
        ("scenario", {"remove_amenities": [1, 2**63]}, "input 'remove_amenities[1]' = 92233720"),
        ("scenario", {"remove_parks": [1.5]}, "input 'remove_parks[0]' must be an integer id"),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [76.94, 43.24]},
                            "properties": "school",
                        }
                    ],
                }
            },
            "add.features[0].properties must be an object",
        ),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {"type": "Point", "coordinates": [76.94, 43.24]},
                            "properties": {"category": "education", "kind": {"a": 1}},
                        }
                    ],
                }
            },
            "add.features[0].properties.kind must be text",
        ),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [[76.94, 43.24], [76.95, 43.24], [76.95, 43.25], [76.94, 43.24]]
                                ],
                            },
                            "properties": {"kind": ["park"]},
                        }
                    ],
                }
            },
            "add.features[0].properties.kind must be text",
        ),
        (
            "scenario",
            {
                "add": {
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "geometry": None, "properties": None}],
                }
            },
            "add.features[0].geometry must be a GeoJSON geometry object",
        ),
        ("isochrone", {"lon": 76.94, "lat": 43.24, "mode": ["slope"]}, "input 'mode' must be one"),
    ],
)
def test_ids_and_values_that_only_look_right_are_a_400(
    server, analysed_city, process, inputs, says
):
    response = execute(server, process, inputs)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and says in body["description"], body
    assert len(body["description"]) < 400  # a 5,000-digit id is not quoted back whole


def test_an_id_in_canonical_digits_is_still_read(server, central_plot):
    plot_id, _, _ = central_plot
    response = execute(server, "plot-report", {"plot_id": str(plot_id)})
    assert response.status_code == 200 and response.json()["plot_id"] == plot_id


# JavaScript's and Python's encoders write NaN and Infinity; 1e309 is infinity as a double.
@pytest.mark.parametrize(
    "process, body, says",
    [
        ("isochrone", b'{"inputs": {"lon": 1e309, "lat": 43.24}}', "input 'lon' must be a finite"),
        ("isochrone", b'{"inputs": {"lon": NaN, "lat": 43.24}}', "input 'lon' must be a finite"),
        ("isochrone", b'{"inputs": {"lon": 76.94, "lat": -Infinity}}', "input 'lat' must be a fin"),
        (
            "isochrone",
            b'{"inputs": {"lon": 76.94, "lat": 43.24, "minutes": [5, Infinity]}}',
            "input 'minutes' = inf is out of range",
        ),
        ("fifteen-minute-report", b'{"inputs": {"lon": NaN, "lat": 43.24}}', "input 'lon'"),
        ("plot-report", b'{"inputs": {"plot_id": 1e309}}', "input 'plot_id' must be an integer"),
    ],
)
def test_numbers_json_cannot_hold_are_named(server, analysed_city, process, body, says):
    response = server.post(
        f"/processes/{process}/execution",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["description"]


def test_a_body_that_is_not_json_is_a_400(server, analysed_city):
    response = server.post(
        "/processes/isochrone/execution",
        content=b"{lon: 76",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and "not JSON" in response.json()["description"]


def test_closing_streets_is_seen_without_restarting_the_server(server, db, central_plot):
    _, lon, lat = central_plot
    before = execute(server, "isochrone", {"lon": lon, "lat": lat, "minutes": 10}).json()
    closed = [
        r[0]
        for r in db.execute(
            "UPDATE streets SET walkable = false WHERE walkable AND ST_DWithin(geom::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, 400) RETURNING id",
            (lon, lat),
        ).fetchall()
    ]
    assert closed
    try:
        after = execute(server, "isochrone", {"lon": lon, "lat": lat, "minutes": 10})
        if after.status_code == 200:
            assert (
                after.json()["features"][0]["properties"]["nodes_reached"]
                < before["features"][0]["properties"]["nodes_reached"]
            )
        else:
            assert after.status_code == 400 and "no walkable street" in after.text
    finally:
        db.execute("UPDATE streets SET walkable = true WHERE id = ANY(%s)", (closed,))
    again = execute(server, "isochrone", {"lon": lon, "lat": lat, "minutes": 10}).json()
    assert (
        again["features"][0]["properties"]["nodes_reached"]
        == before["features"][0]["properties"]["nodes_reached"]
    )

"""Mobility and safety: each indicator on a small hand-built case whose answer is known, the
demo city's calibrated totals as a planner reads them over HTTP, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely

from conftest import run_twin
from twin.analysis.network import build_network, to_lonlat
from twin.mobility.indicators import (
    cameras_by_district,
    district_codes,
    group_sum,
    line_length_by_district,
    lit_share,
    nearest_camera_m,
    points_in_districts,
    residents_beyond,
    unlit_streets,
    unwatched,
    walk_minutes,
    within_distance,
)
from twin.mobility.lighting import LIT_MIN_SHARE, LIT_REACH_M, lit_length, street_lit

# Two square districts side by side in metres (UTM 43N near Almaty):
# West [0,1000]², East [1000,2000]×[0,1000]
X0, Y0 = 630000.0, 4790000.0
WEST = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)
EAST = shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)
SHAPES = np.array([WEST, EAST], dtype=object)


def test_residents_within_300_m_of_a_lane_or_station():
    lane = shapely.LineString([(X0, Y0 + 500), (X0 + 1000, Y0 + 500)])  # across West
    station = shapely.Point(X0 + 1500, Y0 + 900)  # in East
    x = np.array([X0 + 100, X0 + 100, X0 + 1500, X0 + 1500])
    y = np.array([Y0 + 750, Y0 + 900, Y0 + 650, Y0 + 100])  # 250 m, 400 m, 250 m, 800 m away
    near = within_distance(x, y, np.array([lane, station], dtype=object), 300)
    assert near.tolist() == [True, False, True, False]
    residents = np.array([10, 20, 30, 40])
    codes = district_codes(np.array(["West", "West", "East", "East"]), ["West", "East"])
    assert group_sum(np.where(near, residents, 0), codes, 2).tolist() == [10, 30]


def test_lane_km_per_district_splits_lines_at_the_boundary():
    lanes = np.array(
        [
            shapely.LineString([(X0 + 500, Y0 + 100), (X0 + 1800, Y0 + 100)]),
            shapely.LineString([(X0 + 100, Y0 + 200), (X0 + 100, Y0 + 500)]),
        ],
        dtype=object,
    )
    metres = line_length_by_district(lanes, SHAPES)
    assert metres.sum(axis=0) == pytest.approx([800.0, 800.0])
    assert metres[1].tolist() == pytest.approx([300.0, 0.0])


def test_share_of_street_length_lit_and_the_unlit_streets_listed():
    length = np.array([100.0, 300.0, 600.0, 50.0, 50.0])
    lit = np.array([True, False, True, False, False])
    codes = np.array([0, 0, 1, 1, 1])
    total_km, _lit_km, share = lit_share(length, lit, codes, 2)
    assert total_km.tolist() == pytest.approx([0.4, 0.7])
    assert share.tolist() == pytest.approx([0.25, 600 / 700])
    listed = unlit_streets(
        np.array(["Abay", "Satpaev", "Abay", "Zhandosov", "Zhandosov"], dtype=object),
        length,
        lit,
        np.array(["West", "West", "East", "East", "East"], dtype=object),
    )
    assert listed == [
        {"district": "West", "name": "Satpaev", "unlit_m": 300.0, "segments": 1},
        {"district": "East", "name": "Zhandosov", "unlit_m": 100.0, "segments": 2},
    ]


def test_a_street_is_lit_from_the_lighting_lines_along_it():
    assert (LIT_REACH_M, LIT_MIN_SHARE) == (15.0, 0.75)
    street = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    half = shapely.MultiLineString([[(X0, Y0 + 5), (X0 + 50, Y0 + 5)]])  # first half, 5 m off
    most = shapely.MultiLineString([[(X0, Y0 - 6), (X0 + 80, Y0 - 6)]])  # 80 m, 6 m off
    across = shapely.MultiLineString([[(X0 + 6, Y0 - 200), (X0 + 6, Y0 + 200)]])  # cross street
    far = shapely.MultiLineString([[(X0, Y0 + 20), (X0 + 100, Y0 + 20)]])  # 20 m away
    streets = np.array([street], dtype=object)
    # the line's reach ends where the 15 m circle round its end meets the street: 50 + √(15²-5²)
    assert lit_length(streets, np.array([half], dtype=object)) == pytest.approx(
        [50 + np.sqrt(15**2 - 5**2)], abs=0.3
    )
    assert lit_length(streets, np.array([most], dtype=object)) == pytest.approx(
        [80 + np.sqrt(15**2 - 6**2)], abs=0.3
    )
    assert lit_length(streets, np.array([across], dtype=object)) == pytest.approx([21.0], abs=0.3)
    assert lit_length(streets, np.array([far], dtype=object)) == pytest.approx([0.0])
    # two lines overlapping along the street count once: 0-64 and 0-94 m -> 94 m
    assert lit_length(streets, np.array([half, most], dtype=object)) == pytest.approx(
        [80 + np.sqrt(15**2 - 6**2)], abs=0.3
    )
    # 64% is not lit, 94% is; a cross street's lamps light the first 21 m only
    verdict = [
        street_lit(streets, np.array([line], dtype=object))[0] for line in (half, most, across, far)
    ]
    assert verdict == [False, True, False, False]
    assert street_lit(streets, np.array([], dtype=object)).tolist() == [False]


def test_camera_density_and_integration_share_per_district():
    x = np.array([X0 + 10, X0 + 20, X0 + 30, X0 + 40, X0 + 1500])
    y = np.full(5, Y0 + 10)
    codes = points_in_districts(x, y, SHAPES)
    assert codes.tolist() == [0, 0, 0, 0, 1]
    total, linked, density, share = cameras_by_district(
        codes, np.array([True, False, False, False, True]), np.array([1.0, 1.0])
    )
    assert total.tolist() == [4, 1] and linked.tolist() == [1, 1]
    assert density.tolist() == [4.0, 1.0]
    assert share.tolist() == [0.25, 1.0]


def test_schools_clinics_and_hubs_without_a_camera_within_50_m():
    sites_x = np.array([X0, X0 + 500, X0 + 900])
    sites_y = np.array([Y0, Y0, Y0])
    cams_x = np.array([X0 + 30, X0 + 560])  # 50 m (exactly) from the first, 60 m from the second
    cams_y = np.array([Y0 + 40, Y0])
    assert unwatched(sites_x, sites_y, cams_x, cams_y, 50).tolist() == [False, True, True]
    assert unwatched(sites_x, sites_y, np.array([]), np.array([]), 50).tolist() == [True] * 3
    # a school 40 m from a camera is watched, one 60 m away is not
    school_x, school_y = np.array([X0, X0 + 1000]), np.array([Y0, Y0])
    camera_x, camera_y = np.array([X0 + 40, X0 + 1060]), np.array([Y0, Y0])
    assert nearest_camera_m(school_x, school_y, camera_x, camera_y) == pytest.approx([40, 60])
    assert unwatched(school_x, school_y, camera_x, camera_y, 50).tolist() == [False, True]


def _line_network(lit: list[bool]):
    """Nodes 0..4 along a street, 400 m apart (5 minutes each at 80 m/min, flat)."""
    xs = X0 + 400.0 * np.arange(5)
    lon, lat = to_lonlat(xs, np.full(5, Y0))
    return build_network(
        np.arange(4),
        np.arange(1, 5),
        np.full(4, 400.0),
        lon[:-1],
        lat[:-1],
        lon[1:],
        lat[1:],
        np.array(lit),
    ), xs


def test_residents_farther_than_a_walk_from_a_post_by_day_and_by_night():
    network, xs = _line_network([True, True, False, True])
    homes = network.snap_segment_xy(xs, np.full(5, Y0))
    post_x, post_y = np.array([xs[0]]), np.array([Y0])
    day = walk_minutes(network, homes, post_x, post_y, mode="flat", limit=60)
    assert day == pytest.approx([0, 5, 10, 15, 20], abs=1e-6)
    night = walk_minutes(network, homes, post_x, post_y, mode="flat", lit_only=True, limit=60)
    assert night[:3] == pytest.approx([0, 5, 10], abs=1e-6) and np.isinf(night[3:]).all()
    residents = np.array([100, 100, 100, 100, 100])
    codes = np.array([0, 0, 0, 1, 1])
    total, beyond = residents_beyond(day, residents, codes, 2, 10.0)
    assert total.tolist() == [300, 200] and beyond.tolist() == [0, 200]
    _, beyond_night = residents_beyond(night, residents, codes, 2, 15.0)
    assert beyond_night.tolist() == [0, 200]
    _, beyond_day_15 = residents_beyond(day, residents, codes, 2, 15.0)
    assert beyond_day_15.tolist() == [0, 100]
    # a place 80 m off the street walks one more minute to it
    home = network.snap_segment_xy(np.array([xs[1]]), np.array([Y0 + 80]))
    assert walk_minutes(network, home, post_x, post_y, mode="flat") == pytest.approx(
        [6.0], abs=1e-6
    )
    # halfway along a segment, 40 m off it: 40 m, then 200 m back to node 1, then 400 m
    between = network.snap_segment_xy(np.array([xs[1] + 200]), np.array([Y0 - 40]))
    assert walk_minutes(network, between, post_x, post_y, mode="flat") == pytest.approx(
        [(40 + 200 + 400) / 80], abs=1e-6
    )
    assert np.isinf(walk_minutes(network, homes, np.array([]), np.array([]))).all()


# -- the demo city, as a planner reads it --------------------------------------------------


def _matched(server, layer: str, **params) -> int:
    response = server.get(f"/collections/{layer}/items", params={"f": "json", "limit": 1, **params})
    assert response.status_code == 200, response.text
    return response.json()["numberMatched"]


def test_demo_layers_are_calibrated_to_the_programme(server, demo_city, db):
    assert _matched(server, "bikeshare_stations") == 187
    assert _matched(server, "police_posts", kind="service_centre") == 8
    assert _matched(server, "police_posts", kind="post") == 30
    assert _matched(server, "early_warning_stations", status="existing") == 9
    assert _matched(server, "early_warning_stations", status="planned") == 19
    assert _matched(server, "scooter_zones", kind="key_section") == 15
    lengths = dict(
        db.execute(
            "SELECT status, sum(ST_Length(geom::geography)) / 1000 FROM bike_lanes GROUP BY status"
        ).fetchall()
    )
    assert lengths["built"] == pytest.approx(79.2, rel=0.01)
    assert lengths["planned_2025"] == pytest.approx(60.0, rel=0.01)
    assert lengths["planned_2030"] == pytest.approx(125.0, rel=0.01)
    share = db.execute("SELECT avg(integrated::int) FROM cameras").fetchone()[0]
    assert float(share) == pytest.approx(0.239, abs=0.001)
    # tiles serve the new layers like every other
    tile = server.get("/collections/cameras/tiles/WebMercatorQuad/12/1500/2923")
    assert tile.status_code == 200 and len(tile.content) > 1000, tile.text  # the city centre


def test_mobility_safety_indicators_over_http(server, demo_city):
    response = server.get("/indicators/mobility-safety")
    assert response.status_code == 200, response.text
    body = response.json()
    city = body["city"]
    assert city["lane_km_built"] == pytest.approx(79.2, rel=0.01)
    assert city["lane_km_2030"] == pytest.approx(79.2 + 60 + 125, rel=0.01)
    assert city["bikeshare_stations"] == 187
    assert (city["service_centres"], city["police_posts"], city["eew_stations"]) == (8, 30, 28)
    assert city["camera_integrated_share"] == pytest.approx(0.239, abs=0.001)
    assert city["camera_density_km2"] == pytest.approx(14.6, abs=0.1)
    assert city["share_lit"] == pytest.approx(0.80, abs=0.03)  # ~20% unlit (S2 l.1281)
    assert body["targets"]["camera_density_km2_2025"] == 50.0
    assert body["targets"]["camera_density_km2_2030"] == 100.0
    assert body["targets"]["lit_share_2025"] == 1.0
    assert len(body["districts"]) == 8
    assert sum(d["residents"] for d in body["districts"]) == city["residents"] > 0
    assert sum(d["lane_km_built"] for d in body["districts"]) == pytest.approx(79.2, rel=0.01)
    in_districts = sum(d["cameras"] for d in body["districts"])  # a few watch sites at the edge
    assert city["cameras"] * 0.995 <= in_districts <= city["cameras"]
    assert len(body["unlit_streets"]) == city["unlit_streets"] > 0
    assert all(u["unlit_m"] > 0 for u in body["unlit_streets"])
    assert len(body["sites_without_camera"]) == city["sites_without_camera"]
    for d in body["districts"]:
        # by night, walking only on lit streets never brings anything closer
        assert d["residents_beyond_police_15_night"] >= d["residents_beyond_police_15"]
        if d["share_all_six_day"] is not None:
            assert d["share_all_six_night"] <= d["share_all_six_day"]
    one = server.get("/indicators/mobility-safety", params={"district": "Medeu"}).json()
    assert [d["district"] for d in one["districts"]] == ["Medeu"]
    assert all(u["district"] == "Medeu" for u in one["unlit_streets"])


def _lit_share_by_rule(db) -> float:
    """The lighting rule as a GIS analyst writes it in PostGIS: the share of street length
    whose segments have >= 75% of their length within 15 m of a lighting line (each segment
    against the lines its box reaches, found by the index: one union of the city's lines would
    take minutes)."""
    return float(
        db.execute("""
        WITH s AS (SELECT id, length_m, geom, ST_Transform(geom, 32643) AS g FROM streets),
             covered AS (
                SELECT min(s.length_m) AS length_m, ST_Length(s.g) AS length,
                       ST_Length(ST_Intersection(
                           s.g, ST_Union(ST_Buffer(ST_Transform(u.geom, 32643), 15)))) AS lit
                FROM s JOIN utility_lines u
                  ON u.network = 'lighting' AND u.geom && ST_Expand(s.geom, 0.0005)
                GROUP BY s.id, s.g)
        SELECT sum(length_m) FILTER (WHERE lit >= 0.75 * length)
               / (SELECT sum(length_m) FROM streets)
        FROM covered""").fetchone()[0]
    )


def test_street_lighting_comes_from_the_lighting_network(demo_city, db):
    lit = db.execute(
        "SELECT sum(length_m) FILTER (WHERE lit) / sum(length_m) FROM streets"
    ).fetchone()[0]
    assert float(lit) == pytest.approx(0.80, abs=0.003)  # ~20% unlit (S2 l.1281)
    assert _lit_share_by_rule(db) == pytest.approx(float(lit), abs=0.002)
    # every lit segment has a lighting line along it, no unlit one does
    near = db.execute("""
        WITH mid AS (SELECT lit, ST_LineInterpolatePoint(geom, 0.5) AS p FROM streets)
        SELECT m.lit, count(*) FROM mid m
        WHERE EXISTS (SELECT 1 FROM utility_lines u WHERE u.network = 'lighting'
                      AND u.geom && ST_Expand(m.p, 0.0003)
                      AND ST_DWithin(u.geom::geography, m.p::geography, 15))
        GROUP BY 1""").fetchall()
    counts = dict(near)
    total = dict(db.execute("SELECT lit, count(*) FROM streets GROUP BY 1").fetchall())
    assert counts.get(True) == total[True]
    assert counts.get(False, 0) < 0.02 * total[False]


def test_adding_a_lighting_line_and_re_analysing_lights_the_street(server, demo_city, db):
    run_twin("analyse")
    before = server.get("/indicators/mobility-safety").json()
    assert before["computed"]["published"] is True
    street_id, name, length = db.execute(
        "SELECT id, name, length_m FROM streets WHERE NOT lit AND length_m > 200 "
        "ORDER BY id LIMIT 1"
    ).fetchone()
    line = db.execute(
        "SELECT ST_AsGeoJSON(ST_Multi(ST_Transform(ST_OffsetCurve("
        "ST_Transform(geom, 32643), 5), 4326))) FROM streets WHERE id = %s",
        (street_id,),
    ).fetchone()[0]
    key = (
        run_twin(
            "users", "add", f"lighting-{street_id}", "--role", "editor", "--layers", "utility_lines"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    headers = {"Content-Type": "application/geo+json", "X-API-Key": key}
    feature = {
        "type": "Feature",
        "geometry": json.loads(line),
        "properties": {"network": "lighting", "installed_year": 2025, "length_m": length},
    }
    created = httpx.post(
        f"{server.url}/collections/utility_lines/items",
        headers=headers,
        content=json.dumps(feature),
        timeout=60,
    )
    assert created.status_code == 201, created.text
    try:
        assert (
            db.execute("SELECT lit FROM streets WHERE id = %s", (street_id,)).fetchone()[0] is False
        )  # derived by the analysis, not at once
        out = run_twin("analyse").stdout
        assert (
            db.execute("SELECT lit FROM streets WHERE id = %s", (street_id,)).fetchone()[0] is True
        )
        after = server.get("/indicators/mobility-safety").json()
        assert after["computed"]["lighting"]["changed"] == 1, out
        assert after["city"]["lit_km"] == pytest.approx(
            before["city"]["lit_km"] + length / 1000, abs=0.011
        )
        # the night-time network follows: the street is walkable at night now
        unlit_before = {(u["district"], u["name"]): u for u in before["unlit_streets"]}
        unlit_after = {(u["district"], u["name"]): u for u in after["unlit_streets"]}
        changed = [k for k in unlit_before if unlit_before[k] != unlit_after.get(k)]
        assert len(changed) == 1 and changed[0][1] == (name or "unnamed")
        matched = server.get(
            "/collections/streets/items", params={"lit": "false", "limit": 1}
        ).json()["numberMatched"]
        assert matched == sum(u["segments"] for u in after["unlit_streets"])
    finally:
        deleted = httpx.delete(created.headers["Location"], headers=headers, timeout=60)
        assert deleted.status_code in (200, 204), deleted.text
        run_twin("analyse")
    assert db.execute("SELECT lit FROM streets WHERE id = %s", (street_id,)).fetchone()[0] is False


def test_indicators_are_published_as_collections(server, demo_city, db):
    run_twin("analyse")
    document = server.get("/indicators/mobility-safety").json()
    assert document["computed"]["published"] is True
    items = server.get(
        "/collections/district_mobility_safety/items", params={"f": "json", "limit": 50}
    ).json()
    assert items["numberMatched"] == 8
    by_name = {f["properties"]["district"]: f["properties"] for f in items["features"]}
    for row in document["districts"]:
        published = by_name[row["district"]]
        for key, value in row.items():
            assert published[key] == (
                pytest.approx(value) if isinstance(value, float) else value
            ), key
        assert published["lit_share_target_2025"] == 1.0
        assert published["camera_density_target_2025"] == 50.0
        assert published["camera_density_target_2030"] == 100.0
        assert published["camera_integrated_share_baseline"] == 0.239
        assert published["city_eew_stations_target_2025"] == 28
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in items["features"])
    # the published figures are what a fresh computation gives
    from twin.analysis.city import load_city
    from twin.mobility.indicators import compute

    fresh = compute(db, load_city(db))
    assert fresh["city"] == document["city"]
    assert fresh["unlit_streets"] == document["unlit_streets"]
    assert fresh["sites_without_camera"] == document["sites_without_camera"]
    # camera gaps: one feature per listed site, each farther than 50 m from any camera
    gaps = server.get("/collections/camera_gaps/items", params={"limit": 1000}).json()
    assert gaps["numberMatched"] == document["city"]["sites_without_camera"] > 0
    assert {
        (f["properties"]["site_layer"], f["properties"]["site_id"]) for f in gaps["features"]
    } == {(s["layer"], s["id"]) for s in document["sites_without_camera"]}
    assert all(f["properties"]["nearest_camera_m"] > 50 for f in gaps["features"])
    school = next(f for f in gaps["features"] if f["properties"]["kind"] == "school")
    lon, lat = school["geometry"]["coordinates"]
    nearest = db.execute(
        "SELECT min(ST_Distance(geom::geography, ST_Point(%s, %s, 4326)::geography)) FROM cameras",
        (lon, lat),
    ).fetchone()[0]
    assert nearest == pytest.approx(school["properties"]["nearest_camera_m"], abs=0.5)
    schools = server.get(
        "/collections/camera_gaps/items",
        params={"filter": "kind = 'school' AND nearest_camera_m > 50", "limit": 1},
    ).json()["numberMatched"]
    assert schools == sum(1 for s in document["sites_without_camera"] if s["kind"] == "school")
    # unlit streets: one feature per street and district, and the segments by filter
    unlit = server.get("/collections/unlit_streets/items", params={"limit": 1}).json()
    assert (
        unlit["numberMatched"]
        == len(document["unlit_streets"])
        == document["city"]["unlit_streets"]
    )
    longest = unlit["features"][0]["properties"]
    assert longest == document["unlit_streets"][0]
    segments = server.get(
        "/collections/streets/items", params={"filter": "lit = false", "limit": 1}
    ).json()["numberMatched"]
    assert segments == sum(u["segments"] for u in document["unlit_streets"])
    # tiles and the catalog
    for layer in ("district_mobility_safety", "unlit_streets", "camera_gaps"):
        tile = server.get(f"/collections/{layer}/tiles/WebMercatorQuad/10/375/730")
        assert tile.status_code == 200 and len(tile.content) > 100, (layer, tile.status_code)
        meta = server.get(f"/collections/{layer}", params={"f": "json"})
        assert meta.status_code == 200, meta.text


@pytest.mark.parametrize(
    "layer, params, status",
    [
        ("district_mobility_safety", {"bbox": "1,2,3"}, 400),
        ("district_mobility_safety", {"filter": "share_lit >="}, 400),
        ("district_mobility_safety", {"filter": "no_such_property = 1"}, 400),
        ("camera_gaps", {"bbox": "a,b,c,d"}, 400),
        ("camera_gaps", {"limit": "-5"}, 400),
        ("unlit_streets", {"filter": "unlit_m > 'x' AND"}, 400),
        ("unlit_streets", {"bbox-crs": "EPSG:99999", "bbox": "0,0,1,1"}, 400),
        ("camera_gaps", {"crs": "http://www.opengis.net/def/crs/EPSG/0/99999"}, 400),
    ],
)
def test_bad_input_to_the_new_collections_is_a_4xx(server, demo_city, layer, params, status):
    response = server.get(f"/collections/{layer}/items", params=params)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["description"]


@pytest.mark.parametrize(
    "params, words",
    [
        ({"district": "Atlantis"}, "unknown district"),
        ({"colour": "red"}, "unknown query parameter"),
        ({"f": "html"}, "only json"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(server, demo_city, params, words):
    response = server.get("/indicators/mobility-safety", params=params)
    assert response.status_code == 400, response.text
    assert words in response.json()["description"]


def test_bad_features_on_the_new_layers_are_refused(server, demo_city):
    response = server.get("/collections/cameras/items", params={"bbox": "1,2,3"})
    assert response.status_code == 400, response.text


# -- the viewer ----------------------------------------------------------------------------


def test_the_viewer_shows_the_group_and_the_dashboard_section(server, demo_city):
    from conftest import run_twin
    from twin.viewer import HeadlessChromium

    layers = server.get("/viewer/layers.json")
    assert layers.status_code == 200, layers.text
    groups = {g["name"]: [layer["name"] for layer in g["layers"]] for g in layers.json()["groups"]}
    assert set(groups["Mobility and Safety"]) == {
        "bike_lanes",
        "bikeshare_stations",
        "scooter_parking",
        "scooter_zones",
        "cameras",
        "police_posts",
        "early_warning_stations",
        "gathering_points",
        # scooter operations and road safety (docs/scooters.md, docs/road-safety.md)
        "parking_disorder",
        "key_section_occupancy",
        "crashes",
        "scooter_injuries",
    }
    analysed = run_twin("analyse").stdout  # the analysis, and our line after its summary
    assert "mobility and safety: 79.2 km of bike lanes built" in analysed, analysed
    assert "23.9% integrated" in analysed
    member = server.get("/indicators").json()["mobility_safety"]
    assert member["available"] is True and member["href"] == "indicators/mobility-safety"
    assert member["city"]["bikeshare_stations"] == 187
    assert member["targets"]["camera_integrated_share_baseline"] == 0.239
    chromium = HeadlessChromium()
    try:
        chromium.call("goto", url=f"{server.url}/viewer/")
        chromium.wait("document.body.dataset.ready === '1'", timeout=240)
        summary = chromium.eval("return document.getElementById('layer-groups').innerText")
        assert "Mobility and Safety" in summary and "CCTV cameras" in summary
        chromium.call("click", selector="button[data-mode='indicators']")
        chromium.wait(
            "document.querySelector('#mobility-kpis') || "
            "document.querySelector('#dashboard-body .error-text')",
            timeout=60,
        )
        text = chromium.eval("return document.getElementById('dashboard-body').innerText")
        assert "Mobility and safety" in text, text[-2000:]
        assert "50 (2025)" in text and "23.9%" in text and "target 100% by 2025" in text
        body = server.get("/indicators/mobility-safety").json()
        assert chromium.eval(
            "return document.querySelectorAll('[data-chart=\"lit\"] svg rect').length"
        ) >= len(body["districts"])
        chromium.eval("return document.getElementById('mobility-dashboard').scrollIntoView(), true")
        artifacts = Path(__file__).resolve().parents[1] / "test-artifacts" / "viewer"
        artifacts.mkdir(parents=True, exist_ok=True)
        chromium.call("screenshot", path=str(artifacts / "mobility-safety.png"))
        # the night-time (lit streets only) isochrone toggle sits in the isochrone mode
        chromium.call("click", selector="button[data-mode='isochrone']")
        chromium.wait("document.querySelector('#iso-lit')", timeout=30)
    finally:
        chromium.close()

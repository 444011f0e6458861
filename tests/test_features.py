"""OGC API Features as a developer meets it: paging, bbox, datetime, sortby, properties, CRS,
item by id, bad input, and the hot path answering exactly what pygeoapi would."""

from __future__ import annotations

import psycopg
import pytest
from pyproj import Transformer

import features_city
from conftest import Server

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


# the files the twin's items also answer (twin.features.downloads), linked as alternates
DOWNLOAD_TYPES = ("text/csv", "application/geopackage+sqlite3", "application/vnd.apache.parquet")


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, database_url: str) -> str:
    return features_city.city(request, database_url)


def sql_ids(url: str, statement: str, params: dict | None = None) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(statement, params or {})]


def test_items_page_has_links_counts_and_crs_header(city, server):
    response = server.get("/collections/amenities/items?limit=5")
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{CRS84}>"
    page = response.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberReturned"] == 5 and len(page["features"]) == 5
    total = len(sql_ids(city, "SELECT id FROM amenities"))
    assert page["numberMatched"] == total and page["numberMatchedKind"] == "exact"
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert rels["self"].startswith(f"{server.url}/collections/amenities/items?f=json")
    assert rels["next"] == f"{server.url}/collections/amenities/items?offset=5&limit=5"
    assert "prev" not in rels and rels["collection"] == f"{server.url}/collections/amenities"
    feature = page["features"][0]
    assert set(feature) == {"type", "id", "geometry", "properties"}
    assert feature["geometry"]["type"] == "Point"
    assert set(feature["properties"]) == {
        "name",
        "category",
        "kind",
        "capacity",
        "district",
        "address",
    }


def test_next_links_walk_every_amenity_once(city, server):
    seen: list[int] = []
    url = "/collections/amenities/items?limit=70"
    while url:
        page = server.get(url.replace(server.url, "")).json()
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == sql_ids(city, "SELECT id FROM amenities ORDER BY id")


def test_bbox_equality_temporal_filter_sortby_and_properties_match_sql(city, server):
    bbox = (76.87, 43.205, 76.90, 43.215)
    query = (
        f"/collections/plots/items?limit=10000&bbox={','.join(map(str, bbox))}"
        "&land_use=residential&filter=registered_on >= DATE('2000-01-01')"
        "&sortby=-area_m2,id"
        "&properties=area_m2,district&skipGeometry=true"
    )
    page = server.get(query).json()
    expected = sql_ids(
        city,
        "SELECT id FROM plots WHERE ST_Intersects(geom, "
        "ST_MakeEnvelope(%s, %s, %s, %s, 4326)) AND land_use = 'residential'"
        " AND registered_on >= '2000-01-01' ORDER BY area_m2 DESC, id",
        list(bbox),
    )
    assert expected, "the query should select some plots"
    assert [f["id"] for f in page["features"]] == expected
    assert page["numberMatched"] == len(expected)
    assert all(f["geometry"] is None for f in page["features"])
    assert all(list(f["properties"]) == ["area_m2", "district"] for f in page["features"])


def test_plots_temporal_property_is_filtered_with_cql2(city, server):
    # datetime on plots answers "as of" from the history (tests/test_asof.py); the plot's own
    # registration date is a queryable like any other
    day = sql_ids(city, "SELECT registered_on::text FROM plots ORDER BY id LIMIT 1")[0]
    page = server.get(
        f"/collections/plots/items?filter=registered_on = DATE('{day}')&limit=1000"
    ).json()
    expected = sql_ids(city, "SELECT id FROM plots WHERE registered_on = %s ORDER BY id", [day])
    assert [f["id"] for f in page["features"]] == expected
    assert all(f["properties"]["registered_on"] == day for f in page["features"])


def test_output_crs_and_bbox_crs(city, server):
    fid = sql_ids(city, "SELECT id FROM amenities ORDER BY id LIMIT 1")[0]
    lonlat = server.get(f"/collections/amenities/items/{fid}").json()["geometry"]["coordinates"]
    latlon = server.get(f"/collections/amenities/items/{fid}?crs={EPSG}4326")
    assert latlon.headers["content-crs"] == f"<{EPSG}4326>"
    assert latlon.json()["geometry"]["coordinates"] == [lonlat[1], lonlat[0]]
    for epsg in (3857, 32643):
        response = server.get(f"/collections/amenities/items?crs={EPSG}{epsg}&limit=1")
        assert response.headers["content-crs"] == f"<{EPSG}{epsg}>"
        x, y = response.json()["features"][0]["geometry"]["coordinates"]
        ex, ey = Transformer.from_crs(4326, epsg, always_xy=True).transform(*lonlat)
        assert abs(x - ex) < 0.01 and abs(y - ey) < 0.01
    # the same box in Web Mercator selects the same features
    box84 = (76.87, 43.205, 76.90, 43.215)
    to3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y0, y1) = to3857.transform([box84[0], box84[2]], [box84[1], box84[3]])
    a = server.get(f"/collections/plots/items?limit=5000&bbox={','.join(map(str, box84))}")
    b = server.get(
        f"/collections/plots/items?limit=5000&bbox={x0},{y0},{x1},{y1}&bbox-crs={EPSG}3857"
    )
    c = server.get(
        f"/collections/plots/items?limit=5000&bbox={box84[1]},{box84[0]},"
        f"{box84[3]},{box84[2]}&bbox-crs={EPSG}4326"
    )
    ids = [[f["id"] for f in r.json()["features"]] for r in (a, b, c)]
    assert ids[0] and ids[0] == ids[1] == ids[2]


def test_item_by_id_and_missing_items(city, server):
    fid = sql_ids(city, "SELECT id FROM plots ORDER BY id DESC LIMIT 1")[0]
    item = server.get(f"/collections/plots/items/{fid}")
    assert item.status_code == 200
    body = item.json()
    assert body["id"] == fid and body["type"] == "Feature"
    assert {link["rel"] for link in body["links"]} >= {"self", "collection", "root"}
    for missing in (fid + 1000, "not-a-number"):
        response = server.get(f"/collections/plots/items/{missing}")
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound"
        assert str(missing) in response.json()["description"]


@pytest.mark.parametrize(
    "query, names",
    [
        ("limit=10001", "maximum of 10000"),
        ("limit=0", "limit"),
        ("offset=-3", "offset"),
        ("bbox=76.9,43.2,77", "bbox"),
        ("bbox=76.9,43.3,77,43.2", "miny"),
        ("bbox=a,b,c,d", "bbox"),
        ("crs=EPSG:4326", "crs 'EPSG:4326'"),
        (f"bbox=1,2,3,4&bbox-crs={EPSG}2154", "bbox-crs"),
        ("sortby=height", "'height'"),
        ("sortby=id;DROP TABLE plots", "sortby"),
        ("properties=area_m2,owner", "'owner'"),
        ("datetime=2021-13-45", "datetime"),
        ("datetime=2022-01-01/2021-01-01", "starts after it ends"),
        ("residents=many", "residents"),
        ("skipGeometry=perhaps", "skipGeometry"),
        ("filter-lang=ecql&filter=id=1", "filter-lang"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(city, server, query, names):
    response = server.get(f"/collections/plots/items?{query}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == body["type"] == "InvalidParameterValue"
    assert names in body["description"]
    assert sql_ids(city, "SELECT count(*) FROM plots")[0] > 0  # nothing was dropped


AGREEMENT = [
    "/collections/plots/items?limit=7",
    "/collections/plots/items?limit=5&offset=10&sortby=-residents",
    "/collections/plots/items?limit=50&bbox=76.87,43.205,76.9,43.215&land_use=mixed",
    "/collections/plots/items?limit=3&datetime=2000-01-01/2010-12-31&properties=district"
    "&skipGeometry=true",
    f"/collections/plots/items?limit=4&crs={EPSG}4326",
    f"/collections/amenities/items?limit=4&crs={EPSG}32643",
    # a filter that CQL2 text and pygeoapi's ECQL read alike (bypassed, pygeoapi parses it)
    "/collections/amenities/items?limit=20&filter=category%3D%27education%27%20AND%20"
    "capacity%20%3E%20500",
    "/collections/amenities/items?resulttype=hits",
    "/collections/plots/items/3",
    f"/collections/amenities/items/5?crs={EPSG}3857",
    "/collections/plots/items/999999999",
    "/collections/plots/items?filter=nonsense%3D%3D1",
]


@pytest.mark.parametrize("path", AGREEMENT)
def test_hot_path_answers_what_pygeoapi_answers(city, server, path):
    ours = server.get(path)
    theirs = server.get(path, headers={"X-Twin-Path": "pygeoapi"})
    assert ours.status_code == theirs.status_code

    def comparable(response) -> dict:
        body = response.json()
        body.pop("timeStamp", None)  # the clock
        if response.status_code >= 400:
            body.pop("description")
        return body

    mine, stock = comparable(ours), comparable(theirs)
    if mine.get("type") == "FeatureCollection":  # the twin adds its downloads to item pages
        files = [link for link in mine["links"] if link.get("type") in DOWNLOAD_TYPES]
        assert sorted(link["type"] for link in files) == sorted(DOWNLOAD_TYPES)
        mine["links"] = [link for link in mine["links"] if link not in files]
    assert mine == stock
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    if ours.status_code == 200:
        assert ours.headers["content-crs"] == theirs.headers["content-crs"]


def test_every_format_of_items_sees_the_filter_and_its_links_carry_it(city, server):
    """HTML, JSON-LD and CSV are the same query as JSON, rendered by pygeoapi; a page's next
    link names `filter` as the client sent it (no parameter renamed on the way)."""
    schools = "filter=category%3D%27education%27"
    wanted = sql_ids(city, "SELECT id FROM amenities WHERE category = 'education' ORDER BY id")
    assert len(wanted) > 3
    html = server.get(f"/collections/amenities/items?f=html&limit=3&{schools}")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert f"?offset=3&amp;limit=3&amp;{schools}" in html.text and "x-twin" not in html.text
    for fid in wanted[:3]:
        assert f'/collections/amenities/items/{fid}"' in html.text
    page = server.get(f"/collections/amenities/items?f=json&limit=3&{schools}").json()
    next_link = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert next_link.endswith(f"/collections/amenities/items?offset=3&limit=3&{schools}")
    ld = server.get(f"/collections/amenities/items?f=jsonld&limit=5000&{schools}")
    assert ld.status_code == 200 and ld.headers["content-type"] == "application/ld+json"
    ids = sorted(int(item["@id"].rsplit("/", 1)[1]) for item in ld.json()["features"])
    assert ids == wanted
    csv = server.get(f"/collections/amenities/items?f=csv&limit=5000&{schools}")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="amenities.csv"'
    header, *rows = csv.text.splitlines()
    assert header.startswith("id,name,category") and header.endswith(",lon,lat,wkt")
    assert len(rows) == len(wanted) and all(",education," in row for row in rows)


def test_estimated_counts_are_said_to_be_estimates(city):
    server = Server({"TWIN_EXACT_COUNT_MAX": "0"})
    try:
        page = server.get("/collections/plots/items?limit=10").json()
    finally:
        server.stop()
    assert page["numberMatchedKind"] == "estimated"
    assert "numberMatched" not in page and page["numberMatchedEstimate"] > 0
    assert any(link["rel"] == "next" for link in page["links"])


def test_conformance_lists_filter_and_cql2(server):
    classes = server.get("/conformance?f=json").json()["conformsTo"]
    for name in (
        "ogcapi-features-3/1.0/conf/filter",
        "cql2/1.0/conf/cql2-text",
        "cql2/1.0/conf/cql2-json",
        "cql2/1.0/conf/basic-spatial-functions",
        "cql2/1.0/conf/temporal-functions",
        "ogcapi-features-2/1.0/conf/crs",
    ):
        assert f"http://www.opengis.net/spec/{name}" in classes


def test_a_layer_the_database_lacks_is_a_503_that_says_migrate(city, server, db):
    """A database older than the catalog (a new layer since the last `twin migrate`): the
    collection answers 503 naming the fix, never a 500."""
    db.execute("ALTER TABLE camera_gaps RENAME TO camera_gaps_elsewhere")
    try:
        for path in (
            "/collections/camera_gaps/items?limit=1",
            "/collections/camera_gaps/items?limit=1&f=html",
            "/collections/camera_gaps/items?limit=1&f=csv",
            "/collections/camera_gaps/items/1",
        ):
            response = server.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "twin migrate" in response.json()["description"]
    finally:
        db.execute("ALTER TABLE camera_gaps_elsewhere RENAME TO camera_gaps")
    assert server.get("/collections/camera_gaps/items?limit=1").status_code == 200

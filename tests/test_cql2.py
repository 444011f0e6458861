"""CQL2 as a developer writes it: text and JSON, by GET and POST, checked against the same
question asked of PostGIS directly; mistakes and injection attempts are plain 400s."""

from __future__ import annotations

import json
import urllib.parse

import psycopg
import pytest

import features_city

POINT = (76.9, 43.21)


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, database_url: str) -> str:
    return features_city.city(request, database_url)


def sql_ids(url: str, where: str, params: list | None = None, table: str = "plots") -> list[int]:
    statement = psycopg.sql.SQL("SELECT id FROM {} WHERE {} ORDER BY id").format(
        psycopg.sql.Identifier(table), psycopg.sql.SQL(where)
    )
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(statement, params or [])]


def api_ids(server, collection: str, cql: str, lang: str = "cql2-text") -> list[int]:
    """Every id the filter selects, following the next links as a client does."""
    query = urllib.parse.urlencode({"filter": cql, "filter-lang": lang, "limit": 10000})
    path: str | None = f"/collections/{collection}/items?{query}"
    ids: list[int] = []
    while path:
        response = server.get(path)
        assert response.status_code == 200, response.text
        ids += [f["id"] for f in response.json()["features"]]
        path = next(
            (
                link["href"].replace(server.url, "")
                for link in response.json()["links"]
                if link["rel"] == "next"
            ),
            None,
        )
    return ids


CASES = [
    (
        "plots",
        "land_use = 'residential' AND area_m2 > 1000",
        "land_use = 'residential' AND area_m2 > 1000",
    ),
    ("plots", "residents <> 5 AND residents <= 12", "residents <> 5 AND residents <= 12"),
    ("plots", "block_code LIKE 'B1%'", "block_code LIKE 'B1%%'"),
    (
        "plots",
        "district IN ('Медеуский', 'Ауэзовский') AND NOT (owner_type = 'state')",
        "district IN ('Медеуский', 'Ауэзовский') AND NOT owner_type = 'state'",
    ),
    (
        "plots",
        "area_m2 BETWEEN 500 AND 700 OR zoning IS NULL",
        "area_m2 BETWEEN 500 AND 700 OR zoning IS NULL",
    ),
    (
        "plots",
        "max_height_m IS NULL AND residents > 250",
        "max_height_m IS NULL AND residents > 250",
    ),
    ("plots", "residents > max_height_m", "residents > max_height_m"),
    ("plots", "area_m2 / 2 >= residents + 400", "area_m2 / 2 >= residents + 400"),
    ("amenities", "CASEI(name) LIKE 'школа%'", "lower(name COLLATE \"und-x-icu\") LIKE 'школа%%'"),
    (
        "plots",
        "S_INTERSECTS(geometry, BBOX(76.87, 43.205, 76.9, 43.215))",
        "ST_Intersects(geom, ST_MakeEnvelope(76.87, 43.205, 76.9, 43.215, 4326))",
    ),
    (
        "plots",
        "S_WITHIN(geometry, POLYGON((76.86 43.2, 76.9 43.2, 76.9 43.23, 76.86 43.23, 76.86 43.2)))",
        "ST_Within(geom, ST_GeomFromText('POLYGON((76.86 43.2, 76.9 43.2, 76.9 43.23, "
        "76.86 43.23, 76.86 43.2))', 4326))",
    ),
    (
        "plots",
        "S_CONTAINS(geometry, POINT(76.8805 43.2103))",
        "ST_Contains(geom, ST_SetSRID(ST_MakePoint(76.8805, 43.2103), 4326))",
    ),
    (
        "amenities",
        f"S_DWITHIN(geometry, POINT({POINT[0]} {POINT[1]}), 600)",
        f"ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint({POINT[0]}, {POINT[1]}), 4326)"
        "::geography, 600)",
    ),
    ("plots", "T_AFTER(registered_on, DATE('2020-06-01'))", "registered_on > '2020-06-01'"),
    ("plots", "T_BEFORE(registered_on, DATE('1996-01-01'))", "registered_on < '1996-01-01'"),
    (
        "plots",
        "T_DURING(registered_on, INTERVAL('2001-01-01', '2002-01-01'))",
        "registered_on > '2001-01-01' AND registered_on < '2002-01-01'",
    ),
    (
        "plots",
        "T_INTERSECTS(registered_on, INTERVAL('2010-03-01', '..'))",
        "registered_on >= '2010-03-01'",
    ),
    (
        "plots",
        "registered_on >= DATE('2010-01-01') AND registered_on < TIMESTAMP('2011-01-01T00:00:00Z')",
        "registered_on >= '2010-01-01' AND registered_on < '2011-01-01'",
    ),
]


@pytest.mark.parametrize("collection, cql, where", CASES, ids=[c[1][:40] for c in CASES])
def test_cql2_text_selects_what_sql_selects(city, server, collection, cql, where):
    expected = sql_ids(city, where, table=collection)
    assert api_ids(server, collection, cql) == expected


def test_cql2_json_by_get_and_post_agrees_with_text(city, server):
    text = "land_use = 'mixed' AND S_DWITHIN(geometry, POINT(76.9 43.21), 900)"
    document = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "land_use"}, "mixed"]},
            {
                "op": "s_dwithin",
                "args": [
                    {"property": "geometry"},
                    {"type": "Point", "coordinates": [76.9, 43.21]},
                    900,
                ],
            },
        ],
    }
    by_text = api_ids(server, "plots", text)
    assert by_text, "the filter should select some plots"
    assert api_ids(server, "plots", json.dumps(document), "cql2-json") == by_text
    posted = server.post(
        "/collections/plots/items?limit=10000",
        content=json.dumps(document),
        headers={"Content-Type": "application/cql2+json"},
    )
    assert posted.status_code == 200, posted.text
    assert [f["id"] for f in posted.json()["features"]] == by_text
    posted_text = server.post(
        "/collections/plots/items?limit=10000", content=text, headers={"Content-Type": "text/cql2"}
    )
    assert [f["id"] for f in posted_text.json()["features"]] == by_text


def test_filter_crs_takes_geometries_in_utm(city, server):
    # the BBOX above, given in EPSG:32643 corners, selects at least what the lon/lat box does
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 32643, always_xy=True)
    (x0, x1), (y0, y1) = to_utm.transform([76.87, 76.9], [43.205, 43.215])
    query = urllib.parse.urlencode(
        {
            "filter": f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))",
            "limit": 10000,
            "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/32643",
        }
    )
    utm = [f["id"] for f in server.get(f"/collections/plots/items?{query}").json()["features"]]
    lonlat = api_ids(server, "plots", "S_INTERSECTS(geometry, BBOX(76.87, 43.205, 76.9, 43.215))")
    assert set(lonlat) <= set(utm) and len(utm) < len(lonlat) * 1.5


@pytest.mark.parametrize(
    "cql, lang, says",
    [
        ("height > 10", "cql2-text", "unknown property 'height'"),
        ("land_use = = 'residential'", "cql2-text", "1:12"),
        ("land_use = 'x'; DROP TABLE plots; --", "cql2-text", "not valid cql2-text"),
        ("land_use = 'x' OR 1=1) --", "cql2-text", "not valid cql2-text"),
        (
            '{"op": "=", "args": [{"property": "plots; DROP TABLE plots"}, 1]}',
            "cql2-json",
            "unknown property",
        ),
        ('{"op": "=", "args": [{"property": "residents"}, "many"]}', "cql2-json", "residents"),
        ('{"op": "=", "args": [', "cql2-json", "not valid cql2-json"),
        ("registered_on > DATE('2021-02-30')", "cql2-text", "2021-02-30"),
        ("S_DWITHIN(geometry, POINT(76.9 43.2), 5, feet)", "cql2-text", "feet"),
        ("S_INTERSECTS(geometry, POLYGON((1 1, 2 2)))", "cql2-text", "geometry"),
        ("A_CONTAINS(land_use, ('a'))", "cql2-text", "A_CONTAINS"),
    ],
)
def test_filter_mistakes_and_injections_are_400s(city, server, cql, lang, says):
    query = urllib.parse.urlencode({"filter": cql, "filter-lang": lang})
    response = server.get(f"/collections/plots/items?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "InvalidParameterValue"
    assert says in response.json()["description"]
    assert sql_ids(city, "TRUE")  # the plots are still there


def test_queryables_name_what_filters_accept(server):
    queryables = server.get("/collections/plots/queryables?f=json").json()
    assert {"land_use", "registered_on", "geometry"} <= set(queryables["properties"])
    assert queryables["properties"]["land_use"]["enum"][0] == "residential"

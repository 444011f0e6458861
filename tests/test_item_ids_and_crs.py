"""A plot has one address, and a bbox or filter in a projected CRS must lie where that CRS is
defined: odd spellings of an id are not aliases (404), and a box a million kilometres off
the UTM zone is the caller's mistake (400 naming the bounds), never a database error (500)."""

from __future__ import annotations

import psycopg
import pytest

from test_editing import add_user, write

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
UTM = f"{EPSG}32643"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(scope="module")
def editor(database_url) -> str:
    return add_user("editor", "plots")


def is_refusal(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    problem = response.json()
    assert problem["code"] and problem["description"]
    for word in words:
        assert word in problem["description"], (word, problem["description"])


@pytest.fixture(scope="module")
def real_plot(demo_city, server) -> int:
    """A plot that exists, with an id of two digits or more (other tests add and delete plots,
    so the city's first ids are not certain to be there)."""
    page = server.get(
        "/collections/plots/items", params={"sortby": "id", "limit": 100, "skipGeometry": "true"}
    ).json()
    return next(feature["id"] for feature in page["features"] if feature["id"] >= 10)


@pytest.mark.parametrize(
    "spell",
    [
        lambda text: text.translate(ARABIC_INDIC),  # the issue's /items/١٢
        lambda text: f"{text[0]}_{text[1:]}",  # the issue's /items/1_0
        lambda text: f"%20{text}%20",  # the issue's /items/%201%20
    ],
    ids=["arabic-indic", "underscore", "spaces"],
)
def test_the_issue_s_id_aliases_are_not_found(server, real_plot, spell):
    assert server.get(f"/collections/plots/items/{real_plot}").status_code == 200
    alias = spell(str(real_plot))
    for params in ({}, {"f": "json"}, {"f": "html"}, {"f": "jsonld"}):
        is_refusal(
            server.get(f"/collections/plots/items/{alias}", params=params),
            404,
            "plain decimal integers",
        )


def aliases(fid: int) -> list[str]:
    text = str(fid)
    return [
        text.translate(ARABIC_INDIC),
        text.translate(FULLWIDTH),
        f"{text[0]}_{text[1:]}",
        f"%20{text}%20",
        f"%09{text}",
        f"0{text}",
        f"+{text}",
        f"{text}.0",
        f"{text}e0",
        "1" * 5000,
        "9223372036854775808",
        f"-{text}",
    ]


def test_no_spelling_of_an_id_but_its_own_reaches_a_plot(server, editor, real_plot):
    path = "/collections/plots/items"
    real = server.get(f"{path}/{real_plot}")
    assert real.status_code == 200
    before = real.json()["properties"]
    for alias in aliases(real_plot):
        is_refusal(server.get(f"{path}/{alias}"), 404)
        is_refusal(server.get(f"{path}/{alias}", params={"f": "html"}), 404)
        is_refusal(server.get(f"{path}/{alias}/history"), 404)
        is_refusal(server.get(f"{path}/{alias}/history/1"), 404)
        patched = write(
            server,
            "PATCH",
            f"{path}/{alias}",
            editor,
            {"properties": {"residents": 77}},
            {"Content-Type": "application/merge-patch+json"},
        )
        is_refusal(patched, 404, "plain decimal integers")
        is_refusal(
            write(
                server,
                "PUT",
                f"{path}/{alias}",
                editor,
                {"type": "Feature", "geometry": real.json()["geometry"], "properties": before},
            ),
            404,
        )
        is_refusal(write(server, "DELETE", f"{path}/{alias}", editor), 404)
    is_refusal(server.get(f"{path}/{real_plot}/history/٢"), 404)
    after = server.get(f"{path}/{real_plot}")
    assert after.status_code == 200 and after.json()["properties"] == before


@pytest.mark.parametrize(
    "alias",
    [
        "1_0",
        "١٢",
        "１２",
        " 12 ",
        "%2012",
        "012",
        "+12",
        "12.0",
        "1e1",
        "-0",
        "9223372036854775808",
        "1" * 5000,
    ],
)
def test_the_issue_s_query_parameter_aliases_are_400s_naming_the_parameter(
    demo_city, server, alias
):
    """`?id=1_0` read as id 10 (Python's int()): a filter has one spelling, like an address."""
    items = "/collections/plots/items"
    for f in ("json", "html"):
        for name in ("id", "residents", "limit", "offset"):
            sent = alias.replace("%20", " ")
            is_refusal(server.get(items, params={name: sent, "f": f}), 400, name, "integer")
    is_refusal(
        server.get("/collections/plots/changes", params={"limit": alias}), 400, "limit", "integer"
    )
    is_refusal(
        server.get("/collections/plots/changes", params={"offset": alias}), 400, "offset", "integer"
    )


def test_integers_in_their_own_spelling_still_filter_and_page(server, real_plot):
    items = "/collections/plots/items"
    one = server.get(items, params={"id": str(real_plot)}).json()["features"]
    assert [feature["id"] for feature in one] == [real_plot]
    assert server.get(items, params={"id": f"-{real_plot}"}).status_code == 400  # no sign
    page = server.get(items, params={"limit": 100, "skipGeometry": "true"}).json()["features"]
    lived_in = next(f for f in page if (f["properties"]["residents"] or 0) > 0)
    same = server.get(
        items,
        params={
            "residents": str(lived_in["properties"]["residents"]),
            "limit": "10000",
            "skipGeometry": "true",
        },
    ).json()
    assert lived_in["id"] in [feature["id"] for feature in same["features"]]
    assert server.get(items, params={"residents": "-1"}).status_code == 200  # signed property
    assert server.get(items, params={"limit": "5", "offset": "0"}).json()["numberReturned"] == 5
    assert server.get("/collections/plots/changes", params={"limit": "3"}).status_code == 200


ISSUE_BBOX = f"/collections/plots/items?bbox=0,0,1e9,1e9&bbox-crs={UTM}"


def test_the_issue_s_bbox_far_outside_the_utm_zone_is_a_400_naming_the_bounds(demo_city, server):
    for suffix in (
        "",
        "&f=json",
        "&f=html",
        "&f=jsonld",
        "&resulttype=hits",
        "&datetime=2024-01-01T00:00:00Z",
    ):
        is_refusal(server.get(ISSUE_BBOX + suffix), 400, "bbox", UTM, "166021", "9329005")
    is_refusal(
        server.get(
            "/collections/plots/asof",
            params={"datetime": "2024-01-01T00:00:00Z", "bbox": "0,0,1e9,1e9", "bbox-crs": UTM},
        ),
        400,
        UTM,
    )
    is_refusal(
        server.get(
            "/collections/plots/items", params={"bbox": "0,0,1e9,1e9", "bbox-crs": f"{EPSG}3857"}
        ),
        400,
        "20037508",
    )
    # inside the zone's area of use: the plots of Almaty, as with the same box in degrees
    whole_zone = server.get(
        "/collections/plots/items",
        params={"bbox": "166022,1,833978,9329000", "bbox-crs": UTM, "limit": 1},
    )
    assert whole_zone.status_code == 200 and whole_zone.json()["features"]


@pytest.mark.parametrize(
    "filter_text",
    [
        "S_INTERSECTS(geometry,POINT(1000000000 1000000000))",
        "S_INTERSECTS(geometry,BBOX(0,0,1000000000,1000000000))",
        "S_WITHIN(geometry,POLYGON((0 0,1000000000 0,1000000000 1000000000,0 0)))",
    ],
)
def test_a_filter_geometry_outside_its_filter_crs_is_a_400(demo_city, server, filter_text):
    for f in ("json", "html"):
        is_refusal(
            server.get(
                "/collections/plots/items",
                params={"filter": filter_text, "filter-crs": UTM, "f": f},
            ),
            400,
            "filter-crs",
            UTM,
        )
    body = {
        "op": "s_intersects",
        "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [1e9, 1e9]}],
    }
    is_refusal(
        server.post(
            "/collections/plots/items",
            params={"filter-crs": UTM},
            json=body,
            headers={"Content-Type": "application/cql2+json"},
        ),
        400,
        UTM,
    )


@pytest.mark.parametrize(
    "bbox",
    [
        "NaN,0,1,1",
        "0,0,Infinity,1",
        "0,0,1e309,1",
        "0,0,inf,1",
        "0,1,1,0",
        "1,0,0,1",
        "1_0,0,20,20",
        "١,0,2,2",
        "0x1,0,2,2",
        "1,,2,2",
        " ,0,1,1",
    ],
)
def test_a_bbox_that_is_not_four_ordered_finite_numbers_is_a_400(server, bbox):
    is_refusal(server.get("/collections/plots/items", params={"bbox": bbox}), 400, "bbox")
    is_refusal(
        server.get("/collections/plots/items", params={"bbox": bbox, "bbox-crs": UTM}), 400, "bbox"
    )


def test_minus_zero_is_zero_and_a_box_beyond_the_world_is_the_world(demo_city, server):
    assert server.get("/collections/plots/items", params={"bbox": "-0,-0,0,0"}).status_code == 200
    world = server.get(
        "/collections/plots/items", params={"bbox": "-180,-90,180,90", "resulttype": "hits"}
    ).json()
    beyond = server.get(
        "/collections/plots/items", params={"bbox": "-200,-100,200,100", "resulttype": "hits"}
    ).json()
    assert beyond["numberMatched"] == world["numberMatched"] > 0


def test_the_statement_itself_turns_a_failed_transform_into_a_400(demo_city):
    """The bounds check runs before the SQL; should anything slip past it, the place that runs
    the statement still answers the caller's mistake, without PostGIS's text."""
    from twin.catalog import get_layer
    from twin.features.crs import crs_by_uri
    from twin.features.errors import FeatureQueryError
    from twin.features.pages import fetch_page
    from twin.features.params import ItemsQuery

    query = ItemsQuery(
        layer=get_layer("plots"), bbox=(0.0, 0.0, 1e9, 1e9), bbox_crs=crs_by_uri(UTM)
    )  # built by hand: no validator ran
    with psycopg.connect(demo_city, autocommit=True) as conn:
        with pytest.raises(FeatureQueryError) as refused:
            fetch_page(conn, query)
        assert "projection" not in str(refused.value)  # no database text echoed
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable


@pytest.mark.parametrize(
    "bbox",
    [
        "7_6.9,43.2,76.95,43.25",
        "٧٦.9,43.2,76.95,43.25",
        "76.9,43.2,infinity,43.25",
        "76.9,43.2,76.95,0x2B",
    ],
)
def test_a_terrain_coverage_bbox_is_written_in_decimal_numbers(server, bbox):
    is_refusal(server.get("/collections/terrain/coverage", params={"bbox": bbox}), 400, "bbox")

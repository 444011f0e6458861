"""What a plot looked like on a date: `datetime` on the items of a versioned layer answers "as
of" from the change history, with bbox, paging, properties, CRS and CQL2 filters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from test_editing import add_user, square, write
from test_history import instant

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture(scope="module", autouse=True)
def plots_left_as_found(database_url):
    """Other modules count the demo's plots and residents: the plots made here go at the end
    (their history stays, as every deletion's does)."""
    yield
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM plots WHERE cadastral_number LIKE 'ASOF-%'")


@pytest.fixture(scope="module")
def editor(database_url) -> str:
    return add_user("editor", "plots,amenities")


def new_plot(server, key: str, lon: float, lat: float, **properties) -> tuple[str, int]:
    feature = {
        "type": "Feature",
        "geometry": square(lon, lat),
        "properties": {
            "cadastral_number": f"ASOF-{uuid.uuid4().hex[:10]}",
            "land_use": "residential",
            **properties,
        },
    }
    response = write(server, "POST", "/collections/plots/items", key, feature)
    assert response.status_code == 201, response.text
    path = response.headers["Location"].removeprefix(server.url)
    return path, int(path.rsplit("/", 1)[1])


def items(server, **params) -> dict:
    response = server.get("/collections/plots/items", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


def by_id(page: dict) -> dict[int, dict]:
    return {f["id"]: f for f in page["features"]}


def test_items_as_of_a_date_show_the_plot_before_and_after_an_edit(server, editor):
    path, fid = new_plot(server, editor, 76.9401, 43.2301, land_use="vacant", residents=0)
    before = instant()
    moved = {
        "type": "Feature",
        "geometry": square(76.9421, 43.2321),
        "properties": {"land_use": "commercial", "residents": 12},
    }
    assert write(server, "PATCH", path, editor, moved).status_code == 200
    after = instant()
    box = "76.939,43.229,76.944,43.234"

    old = by_id(items(server, datetime=before, bbox=box))[fid]
    assert old["properties"]["land_use"] == "vacant" and old["properties"]["residents"] == 0
    assert old["geometry"]["coordinates"][0][0][0] == [76.9401, 43.2301]
    new = by_id(items(server, datetime=after, bbox=box))[fid]
    assert new["properties"]["land_use"] == "commercial"
    assert new["geometry"]["coordinates"][0][0][0] == [76.9421, 43.2321]
    # the old footprint's bbox finds the plot only while it stood there
    old_box = "76.9400,43.2300,76.9412,43.2312"
    assert fid in by_id(items(server, datetime=before, bbox=old_box))
    assert fid not in by_id(items(server, datetime=after, bbox=old_box))
    # properties, output CRS and a CQL2 filter apply to the past as they do today
    past = items(
        server,
        datetime=before,
        bbox=box,
        properties="land_use",
        crs=f"{EPSG}4326",
        filter="land_use = 'vacant'",
    )
    assert fid in by_id(past)
    assert by_id(past)[fid]["properties"] == {"land_use": "vacant"}
    assert by_id(past)[fid]["geometry"]["coordinates"][0][0][0] == [43.2301, 76.9401]
    assert fid not in by_id(items(server, datetime=after, bbox=box, filter="land_use = 'vacant'"))
    # a future instant is the twin as it is now; before the plot was created it did not exist
    future = by_id(items(server, datetime="2999-01-01T00:00:00Z", bbox=box))[fid]
    assert future["properties"]["land_use"] == "commercial"
    assert fid not in by_id(items(server, datetime="2001-01-01T00:00:00Z", bbox=box))


def test_a_deleted_plot_is_still_there_in_the_past(server, editor):
    path, fid = new_plot(server, editor, 76.9441, 43.2341, land_use="mixed")
    standing = instant()
    assert write(server, "DELETE", path, editor).status_code == 204
    gone = instant()
    box = "76.943,43.233,76.946,43.236"
    assert (
        by_id(items(server, datetime=standing, bbox=box))[fid]["properties"]["land_use"] == "mixed"
    )
    assert fid not in by_id(items(server, datetime=gone, bbox=box))
    assert fid not in by_id(items(server, bbox=box))
    # an interval holds every plot that existed at any time in it, in its latest version
    assert fid in by_id(items(server, datetime=f"{standing}/{gone}", bbox=box))
    assert fid in by_id(items(server, datetime=f"{standing}/..", bbox=box))
    assert fid not in by_id(items(server, datetime=f"../{'2001-01-01T00:00:00Z'}", bbox=box))
    # a date is that whole UTC day
    today = datetime.now(UTC).date().isoformat()
    assert fid in by_id(items(server, datetime=today, bbox=box))
    # the item itself is gone now, and the old /asof route answers like items?datetime=
    assert server.get(f"{path}?f=json").status_code == 404
    alias = server.get(
        "/collections/plots/asof", params={"datetime": standing, "bbox": box, "limit": 1000}
    )
    assert alias.status_code == 200
    assert alias.headers["content-type"].startswith("application/geo+json")
    assert by_id(alias.json())[fid]["properties"]["land_use"] == "mixed"


def test_paging_through_the_past_keeps_the_date(server, editor):
    tag = f"ASOF-PAGE-{uuid.uuid4().hex[:6]}"
    made = []
    for k in range(5):
        path, fid = new_plot(
            server, editor, 76.9461 + k * 0.0012, 43.2361, cadastral_number=f"{tag}-{k}"
        )
        made.append((path, fid))
    then = instant()
    for path, _ in made:
        assert write(server, "DELETE", path, editor).status_code == 204
    seen: list[int] = []
    url: str | None = "/collections/plots/items?" + urlencode(
        {"limit": 2, "datetime": then, "filter": f"cadastral_number LIKE '{tag}%'"}
    )
    pages = 0
    while url:
        response = server.get(url.replace(server.url, ""))
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["numberMatched"] == 5 and page["numberReturned"] <= 2, page
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        if url:
            assert "datetime=" in url
        pages += 1
    assert pages == 3
    assert seen == sorted(fid for _, fid in made)
    assert items(server, filter=f"cadastral_number LIKE '{tag}%'")["features"] == []


def test_a_bulk_loaded_plot_edited_later_shows_its_loaded_version_before_the_edit(server, db):
    with db.transaction():  # as the demo and imports load: no history rows
        db.execute("SELECT set_config('twin.history', 'off', true)")
        fid = db.execute(
            "INSERT INTO plots (cadastral_number, land_use, geom) VALUES (%s, 'industrial', "
            "ST_Multi(ST_GeomFromGeoJSON(%s))) RETURNING id",
            (f"ASOF-{uuid.uuid4().hex[:10]}", json.dumps(square(76.9481, 43.2381))),
        ).fetchone()[0]
    loaded = instant()
    db.execute("UPDATE plots SET land_use = 'green' WHERE id = %s", (fid,))
    box = "76.947,43.237,76.950,43.240"
    assert (
        by_id(items(server, datetime=loaded, bbox=box))[fid]["properties"]["land_use"]
        == "industrial"
    )
    assert (
        by_id(items(server, datetime="2001-01-01T00:00:00Z", bbox=box))[fid]["properties"][
            "land_use"
        ]
        == "industrial"
    )
    assert by_id(items(server, bbox=box))[fid]["properties"]["land_use"] == "green"
    # SQL clients get the same answer from the database function
    assert db.execute(
        "SELECT properties ->> 'land_use' FROM twin_layer_as_of('plots', %s) WHERE id = %s",
        (loaded, fid),
    ).fetchone() == ("industrial",)


@pytest.mark.parametrize(
    "value, names",
    [
        ("yesterday", "RFC 3339"),
        ("2024-13-45", "RFC 3339"),
        ("2025-01-01T00:00:00Z/2024-01-01T00:00:00Z", "starts after it ends"),
        ("../..", "at least one closed end"),
        ("2024-01-01/2024-02-01/2024-03-01", "start/end"),
    ],
)
def test_a_bad_datetime_is_a_400_naming_the_problem(server, value, names):
    for route in ("items", "asof"):
        response = server.get(f"/collections/plots/{route}", params={"datetime": value})
        assert response.status_code == 400, response.text
        body = response.json()
        assert names in body["description"] and "datetime" in body["description"]


def test_datetime_is_as_of_in_the_schema_and_openapi(server):
    for name in ("plots", "buildings", "parks", "amenities", "utility_lines"):
        assert "'as of'" in server.get(f"/collections/{name}?f=json").json()["description"]
    assert "as of" not in server.get("/collections/streets?f=json").json()["description"]
    schema = server.get("/collections/plots/schema?f=json").json()
    assert "as of" in schema["properties"]["registered_on"]["description"]
    queryables = server.get("/collections/plots/queryables?f=json").json()
    assert queryables["properties"]["registered_on"].get("x-ogc-role") != "primary-instant"
    openapi = server.get("/openapi?f=json").json()
    parameters = openapi["paths"]["/collections/buildings/items"]["get"]["parameters"]
    assert any("datetime" in str(p) for p in parameters)

"""A map of the past: `datetime` on a layer's tiles means what it means on the layer's items.
A plot edited through the API shows in its tile as it was before the edit, exactly as the
as-of items list it; the change events' tiles keep the events of an interval; a dated tile is
never served for the undated one (nor the other way round); a bad datetime is a 400."""

from __future__ import annotations

import math
import uuid

import mapbox_vector_tile
import pytest

from test_editing import add_user, square, write
from test_history import instant

Z = 15


def tile_of(lon: float, lat: float, z: int = Z) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_bbox(z: int, x: int, y: int, margin: float = 64 / 4096) -> str:
    """The tile's bounds in degrees, with the tile buffer's margin."""
    n = 2**z

    def lon(col: float) -> float:
        return col / n * 360 - 180

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return f"{lon(x - margin)},{lat(y + 1 + margin)},{lon(x + 1 + margin)},{lat(y - margin)}"


def tile(server, layer: str, address: tuple[int, int, int], **params):
    z, x, y = address
    return server.get(f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}", params=params)


def features(response) -> dict[int, dict]:
    assert response.status_code in (200, 204), response.text
    if response.status_code == 204:
        return {}
    layers = mapbox_vector_tile.decode(response.content)
    return {f["id"]: f["properties"] for layer in layers.values() for f in layer["features"]}


@pytest.fixture(scope="module", autouse=True)
def plots_left_as_found(database_url):
    yield
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM plots WHERE cadastral_number LIKE 'TDT-%'")


def test_a_plot_tile_as_of_a_date_is_the_as_of_items(server, demo_city):
    editor = add_user("editor", "plots")
    lon, lat = 76.9603, 43.2602
    feature = {
        "type": "Feature",
        "geometry": square(lon, lat),
        "properties": {"cadastral_number": f"TDT-{uuid.uuid4().hex[:10]}", "land_use": "vacant"},
    }
    created = write(server, "POST", "/collections/plots/items", editor, feature)
    assert created.status_code == 201, created.text
    path = created.headers["Location"].removeprefix(server.url)
    fid = int(path.rsplit("/", 1)[1])
    before = instant()
    patch = {"type": "Feature", "properties": {"land_use": "commercial"}}
    assert write(server, "PATCH", path, editor, patch).status_code == 200
    after = instant()
    address = tile_of(lon + 0.0005, lat + 0.0005)

    undated = tile(server, "plots", address)
    assert features(undated)[fid]["land_use"] == "commercial"
    past = tile(server, "plots", address, datetime=before)
    assert past.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert features(past)[fid]["land_use"] == "vacant"
    now = tile(server, "plots", address, datetime=after)
    assert features(now)[fid]["land_use"] == "commercial"
    # nothing changed since `after`: the layer as of then is the layer now, the undated tile
    assert now.content == undated.content and now.headers["etag"] == undated.headers["etag"]
    assert fid not in features(tile(server, "plots", address, datetime="2001-01-01"))
    # a low zoom reads the tile overview for what did not change, the history for what did
    overview = tile_of(lon + 0.0005, lat + 0.0005, 13)
    assert features(tile(server, "plots", overview, datetime=before))[fid]["land_use"] == "vacant"
    assert features(tile(server, "plots", overview))[fid]["land_use"] == "commercial"

    # every plot of the tile, as of `before`, is the as-of items of the tile's bounds
    items = server.get(
        "/collections/plots/items",
        params={"datetime": before, "bbox": tile_bbox(*address), "limit": 10000, "f": "json"},
    ).json()
    by_id = {f["id"]: f["properties"] for f in items["features"]}
    in_tile = features(past)
    assert set(in_tile) == set(by_id)
    assert all(in_tile[i]["land_use"] == by_id[i]["land_use"] for i in in_tile)

    # the dated and undated tiles live apart: each asked again is itself, from its cache
    again = tile(server, "plots", address)
    assert again.content == undated.content and again.headers["etag"] == undated.headers["etag"]
    cached_past = tile(server, "plots", address, datetime=before)
    assert cached_past.content == past.content
    assert cached_past.headers["x-tile-cache"] in ("hit", "memory")
    assert past.headers["etag"] != undated.headers["etag"]
    assert tile(server, "plots", address).content == undated.content


def test_change_event_tiles_keep_the_events_of_an_interval(server, db, demo_city):
    fid, at, lon, lat = db.execute(
        "SELECT id, happened_at, ST_X(geom), ST_Y(geom) FROM change_events "
        "WHERE synthetic ORDER BY happened_at LIMIT 1"
    ).fetchone()
    address = tile_of(lon, lat, 14)
    start = at.replace(microsecond=0).isoformat()
    during = tile(server, "change_events", address, datetime=f"{start}/..")
    assert fid in features(during)
    later = f"{at.replace(year=at.year + 5).isoformat()}/.."
    assert fid not in features(tile(server, "change_events", address, datetime=later))
    assert fid in features(tile(server, "change_events", address))
    tilejson = server.get("/collections/change_events/tiles/WebMercatorQuad/tilejson.json")
    assert "happened_at" in tilejson.json()["datetime"]
    assert (
        "as of"
        in server.get("/collections/plots/tiles/WebMercatorQuad/tilejson.json").json()["datetime"]
    )


@pytest.mark.parametrize(
    "path, value, names",
    [
        ("/collections/plots/tiles/WebMercatorQuad/14/6135/11003", "yesterday", "RFC 3339"),
        (
            "/collections/parks/tiles/WebMercatorQuad/14/6135/11003",
            "2025-01-01T00:00:00Z/2024-01-01T00:00:00Z",
            "starts after it ends",
        ),
        (
            "/collections/streets/tiles/WebMercatorQuad/14/6135/11003",
            "2025-01-01",
            "no temporal property",
        ),
        ("/tiles/WebMercatorQuad/14/6135/11003", "2025-01-01", "one collection's tiles"),
    ],
)
def test_a_bad_tile_datetime_is_a_400_naming_it(server, path, value, names):
    response = server.get(path, params={"datetime": value})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert names in response.json()["description"]

"""A map of the past: `datetime` on a layer's tiles means what it means on the layer's items.
A plot edited through the API shows in its tile as it was before the edit, exactly as the
as-of items list it; the change events' tiles keep the events of an interval; a dated tile is
never served for the undated one (nor the other way round); a bad datetime is a 400."""

from __future__ import annotations

import datetime as dt
import json
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
        conn.execute("DELETE FROM parks WHERE name LIKE 'TDT-%'")


@pytest.fixture(scope="module")
def editor(database_url) -> str:
    """The key of an editor of plots (one `twin users add` for the module's stories)."""
    return add_user("editor", "plots")


def test_a_plot_tile_as_of_a_date_is_the_as_of_items(server, demo_city, editor):
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


def west_south(z: int, x: int, y: int) -> tuple[float, float]:
    """A tile's south-west corner in degrees."""
    n = 2**z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))


def west_edge(response, fid: int, z: int, x: int) -> float:
    """The westmost longitude of feature `fid`'s drawing in a tile (tile units back to degrees)."""
    layers = mapbox_vector_tile.decode(response.content)
    (feature,) = [f for layer in layers.values() for f in layer["features"] if f["id"] == fid]
    polygons = feature["geometry"]["coordinates"]
    if feature["geometry"]["type"] == "Polygon":
        polygons = [polygons]
    units = min(point[0] for polygon in polygons for ring in polygon for point in ring)
    return (x + units / 4096) / 2**z * 360 - 180


def test_an_edited_plot_is_drawn_where_it_was_before_the_edit(server, demo_city, editor):
    """A plot moved 200 m east through the API: the map of the day before the move draws it at
    its old place, at a street zoom (the layer table) and at a district zoom (the tile overview
    beside the history), exactly where the as-of items put it."""
    z, x, y = tile_of(76.9811, 43.2311, 16)
    west, south = west_south(z, x, y)
    lon, lat = west + 0.0008, south + 0.001
    feature = {
        "type": "Feature",
        "geometry": square(lon, lat, 0.0006),
        "properties": {"cadastral_number": f"TDT-{uuid.uuid4().hex[:10]}", "land_use": "mixed"},
    }
    created = write(server, "POST", "/collections/plots/items", editor, feature)
    assert created.status_code == 201, created.text
    path = created.headers["Location"].removeprefix(server.url)
    fid = int(path.rsplit("/", 1)[1])
    before = instant()
    moved = {"type": "Feature", "geometry": square(lon + 0.0025, lat, 0.0006)}
    assert write(server, "PATCH", path, editor, moved).status_code == 200
    for zoom in (16, 13):
        address = tile_of(lon, lat, zoom)
        unit = 360 / 2**zoom / 4096  # one tile unit in degrees of longitude
        then = tile(server, "plots", address, datetime=before)
        assert abs(west_edge(then, fid, zoom, address[1]) - lon) < 2 * unit, zoom
        now = tile(server, "plots", address)
        assert abs(west_edge(now, fid, zoom, address[1]) - (lon + 0.0025)) < 2 * unit, zoom
    items = server.get(
        "/collections/plots/items",
        params={"datetime": before, "bbox": tile_bbox(z, x, y), "limit": 10000, "f": "json"},
    ).json()
    (old,) = [f for f in items["features"] if f["id"] == fid]
    assert old["geometry"]["coordinates"][0][0][0] == pytest.approx([lon, lat])


def test_a_park_is_on_the_map_of_a_month_from_its_opening(server, db, demo_city):
    """Parks keep a history (an editable layer) AND their own opening date (`temporal:
    opened_on`): a month's map shows what the layer held then, of the parks open by then.
    Two parks loaded without history (as the demo and the imports load): a square opened in
    June 2024 and a park planned to open in two years' time."""
    z, x, y = tile_of(76.9911, 43.2211, 15)
    west, south = west_south(z, x, y)
    lon, lat = west + 0.002, south + 0.002
    planned_on = dt.date(dt.date.today().year + 2, 5, 1)
    with db.transaction():
        db.execute("SELECT set_config('twin.history', 'off', true)")
        square_id, park_id = (
            db.execute(
                "INSERT INTO parks (name, kind, status, opened_on, geom) VALUES (%s, %s, %s, %s, "
                "ST_Multi(ST_GeomFromGeoJSON(%s))) RETURNING id",
                (f"TDT-{uuid.uuid4().hex[:8]}", kind, status, opened, json.dumps(shape)),
            ).fetchone()[0]
            for kind, status, opened, shape in (
                ("square", "existing", dt.date(2024, 6, 15), square(lon, lat, 0.001)),
                ("park", "planned", planned_on, square(lon + 0.002, lat, 0.001)),
            )
        )
    ours = {square_id, park_id}

    def on_map(address: tuple[int, int, int], when: str | None) -> set[int]:
        drawn = features(tile(server, "parks", address, **({"datetime": when} if when else {})))
        return set(drawn) & ours

    def listed(when: str) -> set[int]:
        page = server.get(
            "/collections/parks/items",
            params={"datetime": when, "bbox": tile_bbox(z, x, y), "limit": 10000, "f": "json"},
        ).json()
        return {f["id"] for f in page["features"]} & ours

    address = (z, x, y)
    assert on_map(address, None) == ours  # the map of today holds the plan too
    months = {
        "../2024-03-31T23:59:59Z": set(),  # the slider's month before the opening
        "../2024-07-31T23:59:59Z": {square_id},  # the month after it
        "2024-06-15": {square_id},  # its opening day
        "2024-06-14": set(),
        dt.datetime.now(dt.UTC).isoformat(): {square_id},  # the planned park is not open yet
        f"{planned_on.year}-06-01": ours,  # a month after the planned opening
    }
    for when, expected in months.items():
        assert on_map(address, when) == expected, when
        assert listed(when) == expected, when
    # a district zoom draws unchanged parks from the tile overview: the same answer
    district = tile_of(lon + 0.0005, lat + 0.0005, 12)
    assert on_map(district, "../2024-03-31T23:59:59Z") == set()
    assert on_map(district, "../2024-07-31T23:59:59Z") == {square_id}
    assert on_map(district, None) == ours
    # after the planned opening the layer as of then is the layer now: the undated tile
    later = tile(server, "parks", address, datetime=f"{planned_on.year}-06-01")
    assert later.headers["etag"] == tile(server, "parks", address).headers["etag"]
    tilejson = server.get("/collections/parks/tiles/WebMercatorQuad/tilejson.json").json()
    assert "opened_on" in tilejson["datetime"] and "as of" in tilejson["datetime"]

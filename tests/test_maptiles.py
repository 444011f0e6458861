"""Map tiles (PNG) and maps, as an ArcGIS-style client, GDAL and a planner editing plots see them.

The twin draws the viewer's style server-side with MapLibre Native (twin/maps): a tile of the
plots has the colour the style gives a plot's land use where that plot is, follows an edit made
through the API at once, revalidates with 304, and GDAL's OGCAPI driver reads the maps.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import morecantile
import psycopg
import pytest
from PIL import Image

from conftest import Server, run_twin

TMS = morecantile.tms.get("WebMercatorQuad")
GROUND = (0xEE, 0xF0, 0xE6)  # the viewer's ground colour (twin.styles.BACKGROUND)
COMMERCIAL = (0xFF, 0x76, 0x75)  # layers/plots.yml style.palette.commercial
GREEN = (0x55, 0xEF, 0xC4)  # ... and green
PLOTS_OPACITY = 0.6  # the viewer's fill opacity of plots


@pytest.fixture(scope="module")
def map_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("map-tile-cache")


@pytest.fixture(scope="module")
def maps_server(demo_city: str, map_cache: Path) -> Iterator[Server]:
    """The twin's server with a tile cache of its own."""
    srv = Server({"TWIN_TILE_CACHE": str(map_cache)})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def big_plot(demo_city: str) -> tuple[int, float, float]:
    """The biggest commercial plot of the demo: its id and a point inside it."""
    with psycopg.connect(demo_city) as conn:
        return conn.execute(
            "SELECT id, ST_X(p), ST_Y(p) FROM (SELECT id, ST_PointOnSurface(geom) p FROM plots "
            "WHERE land_use = 'commercial' ORDER BY ST_Area(geom) DESC, id LIMIT 1) s"
        ).fetchone()


def blend(colour: tuple[int, ...], opacity: float = PLOTS_OPACITY) -> tuple[float, ...]:
    return tuple(opacity * c + (1 - opacity) * g for c, g in zip(colour, GROUND, strict=True))


def pixel_of(tile: morecantile.Tile, lon: float, lat: float, size: int = 256) -> tuple[int, int]:
    bounds = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    return (
        int((x - bounds.left) / (bounds.right - bounds.left) * size),
        int((bounds.top - y) / (bounds.top - bounds.bottom) * size),
    )


def near(actual: tuple[int, ...], expected: tuple[float, ...], tolerance: float = 10) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def tile_path(tile: morecantile.Tile) -> str:
    return f"/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}.png?collections=plots"


def test_a_map_tile_has_the_plots_colour_where_a_plot_is_and_follows_an_edit(
    maps_server: Server, big_plot: tuple[int, float, float]
) -> None:
    """A 256 px PNG of zoom 16 over the biggest commercial plot is the style's commercial red
    (at the viewer's opacity, over its ground colour) at the plot's inner point; it is cached
    (hit, then 304 on its ETag); the plot made green through the editing API changes the
    tile's ETag and its colour there at once."""
    _, lon, lat = big_plot
    tile = TMS.tile(lon, lat, 16)
    first = maps_server.get(tile_path(tile))
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(first.content)).convert("RGB")
    assert image.size == (256, 256)
    px = pixel_of(tile, lon, lat)
    assert near(image.getpixel(px), blend(COMMERCIAL)), (image.getpixel(px), blend(COMMERCIAL))
    corner = image.getpixel((0, 0))  # somewhere: some plot's colour or the ground
    assert corner != (0, 0, 0)

    etag = first.headers["etag"]
    again = maps_server.get(tile_path(tile))  # from the hot-tile memory, before any middleware
    assert again.headers["x-tile-cache"] == "memory" and again.content == first.content
    assert again.headers["etag"] == etag and again.headers["content-type"] == "image/png"
    revalidated = httpx.get(
        maps_server.url + tile_path(tile), headers={"If-None-Match": etag}, timeout=60
    )
    assert revalidated.status_code == 304 and revalidated.headers["etag"] == etag

    wide = maps_server.get(tile_path(tile) + "&size=512")
    assert Image.open(io.BytesIO(wide.content)).size == (512, 512)

    key = (
        run_twin(
            "users", "add", f"maps-{uuid.uuid4().hex[:6]}", "--role", "editor", "--layers", "plots"
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    plot_id = big_plot[0]
    item = f"{maps_server.url}/collections/plots/items/{plot_id}"
    headers = {"Content-Type": "application/geo+json", "X-API-Key": key}

    def land_use(value: str) -> httpx.Response:
        change = {"type": "Feature", "properties": {"land_use": value}}
        return httpx.patch(item, content=json.dumps(change), headers=headers, timeout=60)

    changed = land_use("green")
    assert changed.status_code == 200, changed.text
    try:
        after = maps_server.get(tile_path(tile))
        assert after.headers["etag"] != etag and after.headers["x-tile-cache"] == "miss"
        drawn = Image.open(io.BytesIO(after.content)).convert("RGB").getpixel(px)
        assert near(drawn, blend(GREEN)), (drawn, blend(GREEN))
    finally:
        assert land_use("commercial").status_code == 200


def test_a_map_tile_asked_again_comes_from_memory_and_is_kept_on_disk(
    maps_server: Server, map_cache: Path, big_plot: tuple[int, float, float]
) -> None:
    """A client panning asks for the same tiles again: the second answer of the dataset's map
    tile, and of a layer's PNG and JPEG tile, comes from the hot-tile memory (X-Tile-Cache:
    memory) with the same bytes, ETag and type; a revalidation is a 304 from there too; and
    the tile is on disk under its ETag, where a restarted server reads it."""
    _, lon, lat = big_plot
    tile = TMS.tile(lon, lat, 15)
    address = f"WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    for path, media in (
        (f"/map/tiles/{address}.png", "image/png"),
        (f"/collections/plots/map/tiles/{address}.png", "image/png"),
        (f"/collections/plots/map/tiles/{address}.jpg", "image/jpeg"),
    ):
        first = maps_server.get(path)
        assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss", path
        again = maps_server.get(path)
        assert again.headers["x-tile-cache"] == "memory", path
        assert again.content == first.content and again.headers["content-type"] == media
        assert again.headers["etag"] == first.headers["etag"]
        revalidated = httpx.get(
            maps_server.url + path, headers={"If-None-Match": first.headers["etag"]}, timeout=60
        )
        assert revalidated.status_code == 304 and revalidated.content == b""
        assert revalidated.headers["x-tile-cache"] == "revalidated"
    key = first.headers["etag"].strip('"')
    on_disk = list(map_cache.glob(f"map~plots~ground/{key}/{tile.z}/{tile.x}/{tile.y}.256.jpg"))
    assert len(on_disk) == 1 and on_disk[0].read_bytes() == first.content
    # the dataset's tile without collections= shows the first-view layers only: its own tileset
    assert list(map_cache.glob(f"map~_shown~ground/*/{tile.z}/{tile.x}/{tile.y}.256.png"))


def test_a_map_of_the_first_view_layers_leaves_every_layers_vector_tiles_their_key(
    maps_server: Server, demo_city: str, big_plot: tuple[int, float, float]
) -> None:
    """The dataset's map shows the first-view layers; the dataset's vector tiles hold every
    layer. Drawn first, the map must not make the vector tiles' key (their ETag) forget the
    layers it does not show, or an edit of a hidden layer would leave their tiles stale."""
    from twin.catalog import load_catalog
    from twin.store import database_identity, layer_versions
    from twin.tiles.cache import tileset_key
    from twin.tiles.vector import policy_fingerprint

    _, lon, lat = big_plot
    tile = TMS.tile(lon, lat, 16)
    address = f"WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    assert maps_server.get(f"/map/tiles/{address}.png").status_code == 200
    every = [(layer.name, policy_fingerprint(layer)) for layer in load_catalog().values()]
    # a live twin: a derived layer (change events, sensors) may have moved a moment ago, and
    # the server reads the versions at most a second late; the key must come to hold them all
    for _ in range(20):
        vector = maps_server.get(f"/tiles/{address}")
        with psycopg.connect(demo_city) as conn:
            key = tileset_key(database_identity(conn), every, layer_versions(conn))
        if vector.headers["etag"] == f'"{key}"':
            break
        time.sleep(0.5)
    assert vector.headers["etag"] == f'"{key}"'


def test_a_collection_map_tile_is_transparent_around_its_features(
    maps_server: Server, big_plot: tuple[int, float, float]
) -> None:
    _, lon, lat = big_plot
    tile = TMS.tile(lon, lat, 16)
    path = f"/collections/plots/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}.png"
    image = Image.open(io.BytesIO(maps_server.get(path).content))
    assert image.mode == "RGBA"
    red, green, blue, alpha = image.getpixel(pixel_of(tile, lon, lat))
    assert abs(alpha - 255 * PLOTS_OPACITY) <= 12 and near((red, green, blue), COMMERCIAL, 12)
    jpeg = maps_server.get(path.replace(".png", ".jpg"))
    assert jpeg.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"


def test_a_map_of_a_bbox_in_either_crs(
    maps_server: Server, big_plot: tuple[int, float, float]
) -> None:
    """/map draws a bbox at the asked size: the plot's inner point, put where its
    coordinates fall in the image, has the plot's colour (CRS84 and Web Mercator output)."""
    _, lon, lat = big_plot
    box = (lon - 0.004, lat - 0.003, lon + 0.006, lat + 0.003)
    query = {"collections": "plots", "bbox": ",".join(map(str, box)), "width": 400}
    query["transparent"] = "false"  # one collection is transparent around its features
    for crs in ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:3857"):
        answer = httpx.get(maps_server.url + "/map", params={**query, "crs": crs}, timeout=120)
        assert answer.status_code == 200, answer.text
        image = Image.open(io.BytesIO(answer.content)).convert("RGB")
        width, height = image.size
        assert width == 400
        if crs == "EPSG:3857":
            x0, y0 = TMS.xy(box[0], box[1])
            x1, y1 = TMS.xy(box[2], box[3])
            x, y = TMS.xy(lon, lat)
            assert abs(height - round(400 * (y1 - y0) / (x1 - x0))) <= 1
            assert answer.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/3857>"
        else:
            x0, y0, x1, y1, x, y = box[0], box[1], box[2], box[3], lon, lat
            assert abs(height - round(400 * (y1 - y0) / (x1 - x0))) <= 1
        px = (int((x - x0) / (x1 - x0) * width), int((y1 - y) / (y1 - y0) * height))
        assert near(image.getpixel(px), blend(COMMERCIAL), 14), (crs, image.getpixel(px))


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/map?width=4097&height=10", 400, "4096"),
        ("/map?height=0", 400, "4096"),
        ("/map?width=abc", 400, "width"),
        ("/map?f=gif", 400, "f=png"),
        ("/map?crs=EPSG:32643", 400, "crs"),
        ("/map?bbox=1,2,3", 400, "bbox"),
        ("/map?collections=nowhere", 400, "nowhere"),
        ("/collections/nowhere/map", 404, "nowhere"),
        ("/collections/plots/map/tiles/WebMercatorQuad/15/1/1.png?size=300", 400, "256 or 512"),
        ("/collections/plots/map/tiles/WebMercatorQuad/9/1/1.png", 404, "12-20"),
        ("/collections/plots/map/tiles/WebMercatorQuad/15/1/1.gif", 400, "gif"),
        ("/map/tiles/WebMercatorQuad/13/1/1.png?transparent=maybe", 400, "transparent"),
    ],
)
def test_bad_map_requests_are_refused_naming_the_problem(
    maps_server: Server, path: str, status: int, words: str
) -> None:
    answer = httpx.get(maps_server.url + path, timeout=60)
    assert answer.status_code == status, (path, answer.text)
    assert words in answer.json()["description"], answer.text


def test_map_tiles_are_declared_and_gdal_reads_the_map(
    maps_server: Server, big_plot: tuple[int, float, float], tmp_path: Path
) -> None:
    """What an ArcGIS-style client follows: conformance, the collection's map links, the map
    tileset; and GDAL's OGCAPI driver (Debian's gdal_translate) reads the plots' map."""
    base = maps_server.url
    conformance = httpx.get(f"{base}/conformance", params={"f": "json"}, timeout=60).json()
    assert "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/core" in conformance["conformsTo"]
    collection = httpx.get(f"{base}/collections/plots", params={"f": "json"}, timeout=60).json()
    rels = {link["rel"]: link["href"] for link in collection["links"]}
    tilesets = httpx.get(
        rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"], timeout=60
    ).json()
    assert tilesets["tilesets"][0]["dataType"] == "map"
    tileset = httpx.get(f"{base}/collections/plots/map/tiles/WebMercatorQuad", timeout=60).json()
    assert tileset["dataType"] == "map"
    items = [link for link in tileset["links"] if link["rel"] == "item"]
    assert {link["type"] for link in items} == {"image/png", "image/jpeg"}

    _, lon, lat = big_plot
    out = tmp_path / "plots.png"
    window = [str(v) for v in (lon - 0.003, lat + 0.002, lon + 0.003, lat - 0.002)]
    subprocess.run(
        ["gdal_translate", f"OGCAPI:{base}/collections/plots", "-oo", "API=MAP"]
        + ["-projwin", *window, "-outsize", "300", "0", "-of", "PNG", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=tmp_path,  # GDAL's WMS cache (gdalwmscache/) goes beside the output, not into the repo
    )
    image = Image.open(out).convert("RGBA")
    assert image.size[0] == 300
    red, green, blue, alpha = image.getpixel((150, image.size[1] // 2))
    assert alpha > 100 and near((red, green, blue), COMMERCIAL, 16), image.getpixel((150, 100))


def test_a_map_tile_reads_only_the_quarter_of_each_vector_tile_it_shows(
    maps_server: Server, map_cache: Path
) -> None:
    """An uncached z14 map tile is drawn at MapLibre zoom 13 from the z13 vector tiles of the
    first-view layers, of which it shows one quarter: it asks for that quarter alone (kept in
    the cache under the map tile's own address as `.part.mvt`), never a whole z13 tile, and
    nothing coarser (MapLibre Native's placeholder prefetch of a parent tile, z12 here, would
    be PostGIS work no still image shows)."""

    def vector_tiles() -> set[tuple[str, int, int, int, str]]:
        return {
            (file.parts[-5], int(file.parts[-3]), int(file.parts[-2]), *_address(file.name))
            for file in map_cache.glob("*/*/*/*/*.mvt")
        }

    def _address(name: str) -> tuple[int, str]:
        row, kind = name.split(".", 1)
        return int(row), kind

    tile = TMS.tile(76.87, 43.28, 14)  # a corner no other story here draws
    before = vector_tiles()
    answer = maps_server.get(f"/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}.png")
    assert answer.status_code == 200 and answer.headers["X-Tile-Cache"] == "miss"
    read = vector_tiles() - before
    assert {"plots", "buildings", "streets"} <= {name for name, *_ in read}, sorted(read)
    assert {address[1:] for address in read} == {(14, tile.x, tile.y, "part.mvt")}, sorted(read)


def test_a_quarter_of_a_vector_tile_holds_the_tiles_own_features_that_touch_it(
    demo_city: str,
) -> None:
    """What the renderer reads for one map tile, from the tile overview (z13) and from the
    layer table (z14): of the vector tile, the features the whole tile holds (the same ones
    under the same cap, the same coordinates and properties) that touch the quarter the map
    tile shows, with a margin for strokes drawn across its edge; a feature inside the quarter
    is never left out, one far from it never read."""
    import mapbox_vector_tile

    from twin.catalog import get_layer
    from twin.tiles.matrix import TileAddress
    from twin.tiles.vector import PART_MARGIN, render_tile

    plots = get_layer("plots")
    half = 2048  # a quarter's side in the tile's 4096 units
    margin = PART_MARGIN * half
    with psycopg.connect(demo_city) as conn:
        for zoom in (13, 14):
            centre = TMS.tile(76.93, 43.24, zoom)
            address = TileAddress(zoom, centre.x, centre.y)
            quarter = TileAddress(zoom + 1, 2 * centre.x + 1, 2 * centre.y)  # top right
            options = {"y_coord_down": True}
            whole = mapbox_vector_tile.decode(
                render_tile(conn, [plots], address), default_options=options
            )["plots"]["features"]
            part = mapbox_vector_tile.decode(
                render_tile(conn, [plots], address, part=quarter), default_options=options
            )["plots"]["features"]
            by_id = {feature["id"]: feature for feature in whole}
            assert 0 < len(part) < len(whole), (zoom, len(part), len(whole))
            assert all(feature == by_id[feature["id"]] for feature in part), zoom

            def box(feature: dict) -> tuple[float, float, float, float]:
                xs: list[float] = []
                ys: list[float] = []

                def walk(coordinates: list) -> None:
                    if isinstance(coordinates[0], int | float):
                        xs.append(coordinates[0])
                        ys.append(coordinates[1])
                    else:
                        for inner in coordinates:
                            walk(inner)

                walk(feature["geometry"]["coordinates"])
                return min(xs), min(ys), max(xs), max(ys)

            kept = {feature["id"] for feature in part}
            for feature in whole:
                left, top, right, bottom = box(feature)
                inside = left > half and right < 2 * half and top > 0 and bottom < half
                far = right < half - 2 * margin or top > half + 2 * margin
                assert not inside or feature["id"] in kept, (zoom, feature["id"], "left out")
                assert not far or feature["id"] not in kept, (zoom, feature["id"], "read")

"""The city is where its districts are (issue #19): a suburb imported as a district becomes part
of the twin, and taking the import back shrinks the city again.

A planner's twin holds the small demo city. The Talgar road suburb (77.25-77.35 E, 43.42-43.50
N) lies beyond the fixed box the twin once used for "the city" (76.74-77.17 E, 43.03-43.40 N):
until its district is imported, a school drawn there is refused, the tiles say they stop short of
it and a scenario cannot place a school there. Once `twin import` appends the district, the
same school is taken, the tileset limits, TileJSON bounds, style sources and collection extents
cover the suburb, its boundary is drawn on the map tiles there, and a scenario places a school
in it. The module works in a database of its own (tests/import_target.py): the suburb never
reaches the demo city the other modules share.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import pytest
from PIL import Image

from conftest import Server

pytestmark = pytest.mark.own_database

SUBURB = [[77.25, 43.42], [77.35, 43.42], [77.35, 43.50], [77.25, 43.50], [77.25, 43.42]]
SCHOOL = (77.30, 43.46)  # in the suburb: east and north of the fixed box
EDGE = (77.25, 43.46)  # on the suburb's western boundary
TMS = morecantile.tms.get("WebMercatorQuad")
GEOJSON = {"Content-Type": "application/geo+json"}


@pytest.fixture(scope="module")
def city(target) -> Any:
    """The small demo city in the module's own database, with an editor of amenities."""
    target.twin("load", "demo", "--scale", "small", "--seed", "1")
    key = target.twin("users", "add", "extent-editor", "--role", "editor", "--layers", "amenities")
    return key.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(target, city) -> Iterator[Server]:
    srv = target.server()
    yield srv
    srv.stop()


def school(server: Server, key: str) -> httpx.Response:
    """An editor draws a school in the suburb."""
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(SCHOOL)},
        "properties": {"name": "Talgar road school", "category": "education", "kind": "school"},
    }
    return server.post(
        "/collections/amenities/items",
        content=json.dumps(feature),
        headers={**GEOJSON, "X-API-Key": key},
    )


def scenario(server: Server) -> httpx.Response:
    add = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(SCHOOL)},
                "properties": {"category": "education", "kind": "school", "name": "New school"},
            }
        ],
    }
    return server.post("/processes/scenario/execution", json={"inputs": {"add": add}}, timeout=600)


def covers(bounds: list[float], lon: float, lat: float) -> bool:
    return bounds[0] <= lon <= bounds[2] and bounds[1] <= lat <= bounds[3]


def limits_hold(document: dict[str, Any], lon: float, lat: float, zoom: int = 14) -> bool:
    """Whether the tileset's tileMatrixSetLimits at `zoom` hold the tile of lon/lat."""
    tile = TMS.tile(lon, lat, zoom)
    (limit,) = [row for row in document["tileMatrixSetLimits"] if row["tileMatrix"] == str(zoom)]
    return (
        limit["minTileRow"] <= tile.y <= limit["maxTileRow"]
        and limit["minTileCol"] <= tile.x <= limit["maxTileCol"]
    )


def what_the_twin_says(server: Server) -> dict[str, bool]:
    """Whether each published document covers the suburb's school."""
    tilejson = server.get("/collections/amenities/tiles/WebMercatorQuad/tilejson.json").json()
    dataset_tilejson = server.get("/tiles/WebMercatorQuad/tilejson.json").json()
    tileset = server.get("/collections/amenities/tiles/WebMercatorQuad").json()
    map_tileset = server.get("/map/tiles/WebMercatorQuad").json()
    style = server.get("/styles/twin", params={"f": "mapbox"})
    collection = server.get("/collections/amenities", params={"f": "json"}).json()
    return {
        "tilejson bounds": covers(tilejson["bounds"], *SCHOOL),
        "dataset tilejson bounds": covers(dataset_tilejson["bounds"], *SCHOOL),
        "tileset limits": limits_hold(tileset, *SCHOOL),
        "tileset bounding box": covers(
            tileset["boundingBox"]["lowerLeft"] + tileset["boundingBox"]["upperRight"], *SCHOOL
        ),
        "map tileset limits": limits_hold(map_tileset, *SCHOOL),
        "style sources": style.status_code == 200
        and all(covers(s["bounds"], *SCHOOL) for s in style.json()["sources"].values()),
        "collection extent": covers(collection["extent"]["spatial"]["bbox"][0], *SCHOOL),
    }


def boundary_pixels(server: Server) -> int:
    """Drawn pixels of the districts' map tile on the suburb's western boundary (z13)."""
    tile = TMS.tile(*EDGE, 13)
    answer = server.get(f"/collections/districts/map/tiles/WebMercatorQuad/13/{tile.y}/{tile.x}")
    assert answer.status_code == 200, answer.text  # a map tile there is drawn, not refused
    alpha = np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGBA"))[:, :, 3]
    return int((alpha > 64).sum())


def test_before_any_district_the_city_is_the_configured_box(target) -> None:
    """An empty twin (migrated, nothing loaded) has no districts to say where the city is: its
    extent is the configured box, and it widens to the districts once they are loaded."""
    from twin.catalog import CITY_BBOX
    from twin.extent import MARGIN_DEG, city_extent

    with target.connect() as conn:
        assert conn.execute("SELECT count(*) FROM districts").fetchone()[0] == 0
        assert city_extent(conn) == CITY_BBOX
        conn.execute(
            "INSERT INTO districts (name_en, name_ru, name_kk, geom) VALUES "
            "('Test', 'Тест', 'Тест', ST_Multi(ST_MakeEnvelope(76.9, 43.2, 77.0, 43.3, 4326)))"
        )
        try:
            west, south, east, north = city_extent(conn)
            assert (west, south) == pytest.approx((76.9 - MARGIN_DEG, 43.2 - MARGIN_DEG))
            assert (east, north) == pytest.approx((77.0 + MARGIN_DEG, 43.3 + MARGIN_DEG))
        finally:
            conn.execute("DELETE FROM districts")
        assert city_extent(conn) == CITY_BBOX


def test_a_suburb_imported_as_a_district_becomes_part_of_the_city(
    target, city: str, server: Server, tmp_path: Path
) -> None:
    # Before: the suburb lies outside the city, and everything the twin publishes says so.
    refused = school(server, city)
    assert refused.status_code == 400, refused.text
    assert "outside the city" in refused.json()["description"]
    assert not any(what_the_twin_says(server).values()), what_the_twin_says(server)
    assert boundary_pixels(server) == 0
    not_placed = scenario(server)
    assert not_placed.status_code == 400, not_placed.text
    assert "outside the city" in not_placed.json()["description"]

    # The planner imports the suburb's district, as any district file is imported.
    path = tmp_path / "talgar-road.geojson"
    district = {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": [[SUBURB]]},
        "properties": {
            "name_en": "Talgar road",
            "name_ru": "Талгарский тракт",
            "name_kk": "Талғар жолы",
            "population": 40000,
        },
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [district]}))
    imported = target.twin(
        "import", str(path), "--layer", "districts", "--append", "--source", "Talgar road"
    )
    assert "1 loaded" in imported.stdout, imported.stdout

    # After: the school is taken, the documents cover the suburb, its boundary is on the map.
    taken = school(server, city)
    assert taken.status_code == 201, taken.text
    says = what_the_twin_says(server)
    assert all(says.values()), says
    assert boundary_pixels(server) > 100
    placed = scenario(server)
    assert placed.status_code == 200, placed.text
    assert "delta" in placed.text

    # Taking the import back shrinks the city again: a second school there is refused.
    target.twin("import", "undo")
    again = school(server, city)
    assert again.status_code == 400, again.text
    assert "outside the city" in again.json()["description"]

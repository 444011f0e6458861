"""A GIS user styles the twin's tiles from its own style URL: OGC API Styles lists the
styles, each stylesheet is a MapLibre style with absolute URLs that the MapLibre style-spec
validator (npm, run by node) accepts without one error, the viewer draws the same layers,
and every property a style reads at a zoom is in the tiles GDAL's MVT driver reads there."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import httpx
import psycopg
import pytest

from conftest import ROOT, Server

MAPBOX_STYLE = "application/vnd.mapbox.style+json"
REL_STYLES = "http://www.opengis.net/def/rel/ogc/1.0/styles"
VALIDATE_STYLE = ROOT / "web" / "tools" / "validate-style.mjs"


def catalog_names() -> list[str]:
    from twin.catalog import load_catalog

    return list(load_catalog())


def validate_styles(paths: list[Path]) -> dict[str, list[dict]]:
    """The style-spec validator's errors per file (node, the pinned npm package)."""
    result = subprocess.run(
        ["node", str(VALIDATE_STYLE), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "web",
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def follow(href: str) -> httpx.Response:
    """A link as a client follows it: its absolute URL as given."""
    return httpx.get(href, timeout=60)


def gets(expression: object, found: set[str] | None = None) -> set[str]:
    """The feature properties a style expression reads (`get`, `has`)."""
    found = set() if found is None else found
    if isinstance(expression, list):
        if (
            len(expression) >= 2
            and expression[0] in ("get", "has")
            and isinstance(expression[1], str)
        ):
            found.add(expression[1])
        for item in expression:
            gets(item, found)
    elif isinstance(expression, dict):
        for item in expression.values():
            gets(item, found)
    return found


def read(layer: dict) -> set[str]:
    return gets([layer.get("paint"), layer.get("layout"), layer.get("filter")])


def test_a_client_finds_the_styles_from_the_collections_and_tilesets(server: Server) -> None:
    """From a collection or a tileset to its style, and from the style to tiles and glyphs
    that answer: every URL absolute, on this server."""
    plots = server.get("/collections/plots?f=json").json()
    listed = next(link for link in plots["links"] if link["rel"] == REL_STYLES)
    assert listed["href"] == f"{server.url}/collections/plots/styles?f=json"
    tileset = server.get("/collections/plots/tiles/WebMercatorQuad").json()
    assert any(link["rel"] == REL_STYLES for link in tileset["links"])
    sheet = next(link for link in tileset["links"] if link["rel"] == "stylesheet")
    assert sheet["type"] == MAPBOX_STYLE
    dataset = server.get("/tiles/WebMercatorQuad").json()
    assert {link["href"] for link in dataset["links"] if link["rel"] == REL_STYLES} == {
        f"{server.url}/styles?f=json"
    }
    conformance = server.get("/conformance").json()["conformsTo"]
    for part in ("core", "mapbox-styles", "style-info"):
        assert f"http://www.opengis.net/spec/ogcapi-styles-1/1.0/conf/{part}" in conformance

    styles = server.get("/styles").json()
    assert styles["default"] == "twin"
    links = {link["rel"]: link for link in styles["styles"][0]["links"]}
    response = follow(links["stylesheet"]["href"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(MAPBOX_STYLE)
    style = response.json()
    assert style["version"] == 8
    assert {layer.get("source-layer") for layer in style["layers"]} - {None} == set(catalog_names())
    for source in style["sources"].values():
        assert all(url.startswith(f"{server.url}/collections/") for url in source["tiles"])
    plots_source = style["sources"]["twin-plots"]
    z = 14
    x = int((76.95 + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(43.24))) / math.pi) / 2 * 2**z)
    tile = follow(plots_source["tiles"][0].format(z=z, x=x, y=y))
    assert tile.status_code in (200, 204)
    glyphs = style["glyphs"].format(fontstack="DejaVu Sans Book", range="0-255")
    assert glyphs.startswith(server.url)
    assert follow(glyphs).status_code == 200

    metadata = follow(links["describedby"]["href"]).json()
    assert [layer["id"] for layer in metadata["layers"]] == catalog_names()
    assert metadata["stylesheets"][0]["link"]["href"] == links["stylesheet"]["href"]


def test_unknown_styles_collections_and_formats_are_named(server: Server) -> None:
    cases = {
        "/styles/night": (404, "'night'"),
        "/styles/twin?f=sld": (400, "f=mapbox"),
        "/styles?f=xml": (400, "f=json"),
        "/collections/nowhere/styles": (404, "'nowhere'"),
        "/collections/plots/styles/twin": (404, "'default'"),
        "/collections/plots/styles/default/metadata?f=html": (400, "f=json"),
    }
    for path, (status, named) in cases.items():
        response = server.get(path)
        assert response.status_code == status, path
        assert named in response.json()["description"], path


def test_every_style_passes_the_maplibre_style_spec_validator(
    server: Server, tmp_path: Path
) -> None:
    """The dataset's style and each collection's, as served, with zero errors; the same
    validator finds the errors of a broken style (so the check can fail)."""
    files = [tmp_path / "twin.json"]
    files[0].write_bytes(server.get("/styles/twin?f=mapbox").content)
    for name in catalog_names():
        path = tmp_path / f"{name}.json"
        response = server.get(f"/collections/{name}/styles/default?f=mapbox")
        assert response.status_code == 200, name
        path.write_bytes(response.content)
        files.append(path)
    broken = json.loads(files[1].read_text())
    broken["layers"][0]["source"] = "nowhere"
    broken["layers"][0]["paint"] = {"fill-color": 7}
    (tmp_path / "broken.json").write_text(json.dumps(broken))

    report = validate_styles([*files, tmp_path / "broken.json"])
    assert len(report.pop(str(tmp_path / "broken.json"))) == 2
    assert {Path(name).stem: errors for name, errors in report.items() if errors} == {}
    assert len(report) == len(catalog_names()) + 1


def test_the_viewer_draws_the_published_style(server: Server) -> None:
    """One source of symbology: the layers in /viewer/layers.json are the style's layers."""
    style = server.get("/styles/twin?f=mapbox").json()
    published = {layer["id"]: layer for layer in style["layers"]}
    catalog = server.get("/viewer/layers.json").json()
    entries = [entry for group in catalog["groups"] for entry in group["layers"]]
    drawn = [layer for entry in entries for layer in entry["style_layers"]]
    assert len(drawn) == len(published) - 1  # the published one has the ground under all
    for layer in drawn:
        assert layer == published[layer["id"]], layer["id"]


def test_a_style_reads_only_what_the_tiles_carry_at_its_zooms() -> None:
    """Below zoom 14 a tile carries only a layer's style properties: every property a style
    layer reads from its minzoom on must be among them, or the map draws defaults."""
    from twin.catalog import CITY_BBOX, load_catalog
    from twin.styles import stylesheet
    from twin.tiles.vector import ALL_PROPERTIES_ZOOM, tile_properties

    catalog = load_catalog()
    missing = {}
    for layer in stylesheet("http://twin", extent=CITY_BBOX)["layers"][1:]:
        source = catalog[layer["source-layer"]]
        for zoom in range(int(layer.get("minzoom") or 0), ALL_PROPERTIES_ZOOM):
            lost = read(layer) - set(tile_properties(source, zoom))
            if lost:
                missing[layer["id"], zoom] = sorted(lost)
    assert missing == {}


@pytest.fixture()
def building_tile(demo_city: str) -> tuple[int, int, int]:
    """The z13 tile of a building with its levels and no height (drawn from `levels`)."""
    with psycopg.connect(demo_city) as conn:
        row = conn.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p "
            "FROM buildings WHERE levels IS NOT NULL ORDER BY id LIMIT 1) s"
        ).fetchone()
    assert row, "the demo city has buildings with levels"
    lon, lat = row
    z = 13
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    return z, x, y


def test_gdal_reads_every_property_the_style_uses_from_a_z13_tile(
    server: Server, building_tile: tuple[int, int, int], tmp_path: Path
) -> None:
    """GDAL's MVT driver (the one QGIS reads vector tiles with) opens a z13 buildings tile:
    its fields hold what the buildings' style layers read at z13 (height and levels)."""
    import pyogrio

    z, x, y = building_tile
    response = server.get(f"/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert response.status_code == 200
    path = tmp_path / f"{z}-{x}-{y}.pbf"
    path.write_bytes(response.content)
    info = pyogrio.read_info(f"MVT:{path}", layer="buildings", X=x, Y=y, Z=z)
    fields = set(info["fields"])
    style = server.get("/collections/buildings/styles/default?f=mapbox").json()
    used = set().union(*(read(layer) for layer in style["layers"] if layer["minzoom"] <= z))
    assert {"height_m", "levels", "seismic_status"} <= used
    assert used <= fields, used - fields

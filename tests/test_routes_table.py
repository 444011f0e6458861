"""One table of routes (twin/http/routes.py): every URL of the API has one owner, the twin or
pygeoapi, and everything about a URL follows from its row.

A newcomer reads docs/routes.md (generated from the table) to find who serves an address; a
maintainer adding a route adds a row. These stories check that the table is the truth: the
served OpenAPI document names no address the table does not own, no pygeoapi resource is
answered by a twin route without a stated reason, every row is reachable and names a
handler that exists, and the tile fast path matches exactly the tile rows' canonical URLs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from starlette.routing import Match, Route

from conftest import ROOT
from twin.http import routes as table
from twin.http.app import resolve, twin_routes
from twin.http.table import RouteSpec

# A value for each path parameter, to make a concrete URL of a row.
SAMPLES = {
    "collection_id": "plots",
    "collection": "plots",
    "layer": "plots",
    "item_id": "1",
    "fid": "1",
    "version": "1",
    "tms": "WebMercatorQuad",
    "z": "14",
    "y": "6000",
    "x": "11690",
    "path": "content/a.glb",
    "name": "a.js",
    "rest": "x/y",
    "process_id": "isochrone",
    "plan_id": "1",
    "a": "base",
    "b": "1",
    "fontstack": "DejaVu Sans Book",
    "range": "0-255",
    "style": "twin",
    # SensorThings (twin.sensors): an entity set, an id, a navigation path
    "entity_set": "Things",
    "entity_id": "1",
    "datastream_id": "1",
    "navigation": "Datastreams",
    # scooters (twin.scooters): a demo operator, a GBFS feed
    "operator": "jet",
    "feed": "system_information",
}


def concrete(path: str) -> str:
    return re.sub(r"{([A-Za-z_]+)(?::[a-z_]+)?}", lambda m: SAMPLES[m.group(1)], path)


def scope(path: str, method: str) -> dict:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def compiled_rows() -> list[tuple[RouteSpec, Route]]:
    """Each twin row as its own Starlette route, in the table's order."""
    return [
        (row, Route(row.path, resolve(row.handler), methods=list(row.methods)))
        for row in table.twin_rows()
    ]


def twin_owner(rows: list[tuple[RouteSpec, Route]], path: str, method: str) -> RouteSpec | None:
    """The twin row that answers `method path`, as the app's router picks it (first full
    match; a row of the right path but another method leaves it to pygeoapi's mount)."""
    for row, route in rows:
        match, _ = route.matches(scope(path, method))
        if match == Match.FULL:
            return row
    return None


def pygeoapi_owners(path: str, method: str) -> list[RouteSpec]:
    return [
        row
        for row in table.ROUTES
        if row.owner == "pygeoapi"
        and method in row.methods
        and table.path_pattern(row.path).match(path)
    ]


# --- the table itself (no server) -------------------------------------------------------------


def test_every_twin_row_names_a_callable_handler():
    for row in table.twin_rows():
        assert callable(resolve(row.handler)), row.handler
    assert {row.owner for row in table.ROUTES} == {"twin", "pygeoapi"}


def test_the_app_serves_the_table_in_its_order():
    served = [(route.path, set(route.methods)) for route in twin_routes()]
    listed = []
    for row in table.twin_rows():
        methods = set(row.methods) | ({"HEAD"} if "GET" in row.methods else set())
        if listed and listed[-1][0] == row.path:
            listed[-1][1].update(methods)
        else:
            listed.append((row.path, methods))
    assert served == listed


def test_every_row_is_reachable():
    """No row hides behind an earlier one (the old /collections/terrain was served twice,
    one implementation unreachable)."""
    rows = compiled_rows()
    for row in table.twin_rows():
        for method in row.methods:
            owner = twin_owner(rows, concrete(row.path), method)
            assert owner is row, f"{method} {row.path} is answered by {owner}"


def test_the_route_page_is_current():
    page = ROOT / "docs" / "routes.md"
    assert page.read_text(encoding="utf-8") == table.routes_page(), (
        "docs/routes.md is stale: run `python -m twin.http.routes --write`"
    )
    assert "routes.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/routes.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_fast_path_answers_exactly_the_canonical_tile_urls():
    from twin.tiles.fastpath import match_tile

    fast_rows = [row for row in table.ROUTES if row.fast_path]
    assert {row.path for row in fast_rows} == {
        "/tiles/{tms}/{z}/{y}/{x}",
        "/collections/{layer}/tiles/{tms}/{z}/{y}/{x}",
        "/map/tiles/{tms}/{z}/{y}/{x}",
        "/collections/{layer}/map/tiles/{tms}/{z}/{y}/{x}",
    }
    rows = compiled_rows()
    for url in (
        "/tiles/WebMercatorQuad/14/6000/11690",
        "/tiles/WebMercatorQuad/0/0/0",
        "/collections/plots/tiles/WebMercatorQuad/14/6000/11690.mvt",
        "/collections/streets/tiles/WebMercatorQuad/13/2999/5845.pbf",
        "/map/tiles/WebMercatorQuad/14/6000/11690.png",
        "/collections/plots/map/tiles/WebMercatorQuad/14/6000/11690.jpg",
    ):
        match = match_tile(url)
        assert match is not None, url
        row = twin_owner(rows, url, "GET")
        assert row is not None and row.fast_path, url  # the same row the routes would use
        assert match.groupdict().get("layer") == (
            url.split("/")[2] if "/collections/" in url else None
        )
    for url in (
        "/tiles/WebMercatorQuad/014/6000/11690",
        "/tiles/WebMercatorQuad/١٤/1/1",
        "/tiles/WorldCRS84Quad/1/0/0",
        "/tiles/WebMercatorQuad/14/6000/11690.png",
        "/map/tiles/WebMercatorQuad/14/6000/11690.mvt",
        "/collections/plots/tiles/WebMercatorQuad/14/6000",
        "/collections/plots/tiles/WebMercatorQuad/tilejson.json",
        "/collections/plots/items/1",
    ):
        assert match_tile(url) is None, url


def test_the_openapi_paths_of_the_twin_rows():
    paths = table.openapi_paths()
    assert (
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/"
        "{tileCol}" in paths
    )
    assert not any(path.startswith("/viewer") for path in paths)
    for path, operations in paths.items():
        declared = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            assert method in ("get", "post", "put", "patch", "delete"), (path, method)
            names = {p["name"] for p in operation["parameters"] if "name" in p}
            assert declared <= names, (path, method)
            for parameter in operation["parameters"]:
                if "$ref" in parameter:
                    name = parameter["$ref"].removeprefix("#/components/parameters/")
                    assert name in table.STANDARD_PARAMETERS, parameter
    writes = paths["/collections/{collectionId}/items/{featureId}"]
    assert all(writes[m]["security"] == [{"ApiKey": []}] for m in ("put", "patch", "delete"))
    assert "security" not in writes["get"]
    expanded = table.openapi_paths(expand=True)
    assert "put" in expanded["/collections/plots/items/{featureId}"]
    assert "/collections/streets/items/{featureId}/history" not in expanded  # not editable
    assert "post" in expanded["/processes/isochrone/execution"]


# --- the served API ---------------------------------------------------------------------------


def test_every_path_of_the_openapi_document_has_exactly_one_owner(server):
    document = server.get("/openapi", params={"f": "json"}).json()
    rows = compiled_rows()
    unowned = []
    for path, operations in document["paths"].items():
        for method in operations:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            twin = twin_owner(rows, path, method.upper())
            pygeoapi = pygeoapi_owners(path, method.upper())
            if twin is None and not pygeoapi:
                unowned.append(f"{method.upper()} {path}")
            elif twin is not None and pygeoapi:
                # the twin's row comes first: a choice the row must explain
                assert twin.replaces, f"{method.upper()} {path}: {twin.path} shadows pygeoapi"
    assert not unowned, f"addresses in /openapi that no row of the table owns: {unowned}"


@pytest.fixture(scope="module")
def pygeoapi_paths(tmp_path_factory) -> list[tuple[str, frozenset[str]]]:
    """pygeoapi's own routes, from its app built over the committed configuration (in this
    test process: the bridge imports pygeoapi, which reads its environment once)."""
    from twin.http import bridge

    openapi = tmp_path_factory.mktemp("openapi") / "openapi.json"
    openapi.write_text("{}", encoding="utf-8")
    os.environ.setdefault("PYGEOAPI_CONFIG", str(ROOT / "pygeoapi-config.yml"))
    os.environ.setdefault("PYGEOAPI_OPENAPI", str(openapi))
    os.environ.setdefault("TWIN_SERVER_URL", "http://localhost:5000")
    return bridge.pygeoapi_paths()


def configured_resources() -> dict[str, str]:
    import yaml

    config = yaml.safe_load(Path(ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8"))
    return {name: resource["type"] for name, resource in config["resources"].items()}


PYGEOAPI_SAMPLES = {
    "item_id": "1",
    "tileMatrixSetId": "WebMercatorQuad",
    "tile_matrix": "14",
    "tileRow": "6000",
    "tileCol": "11690",
    "style_id": "default",
    "instance_id": "i",
    "location_id": "l",
}


def test_no_configured_pygeoapi_resource_is_shadowed_by_accident(pygeoapi_paths):
    """Each address pygeoapi would answer for a configured collection or process is either
    pygeoapi's, or taken by a twin row that says why (`replaces`): the terrain collection's
    description, the tiles, the items and the twin's processes, nothing by accident."""
    resources = configured_resources()
    assert "terrain" in resources and "plots" in resources
    rows = compiled_rows()
    shadowed, taken = [], set()
    for template, methods in pygeoapi_paths:
        kind = (
            "collection"
            if "{collection_id" in template
            else "process"
            if "{process_id}" in template
            else None
        )
        if kind is None:
            continue
        for name, resource_type in resources.items():
            if resource_type != kind:
                continue
            samples = {**PYGEOAPI_SAMPLES, "collection_id": name, "process_id": name}
            path = re.sub(r"{([A-Za-z_]+)(?::path)?}", lambda m, s=samples: s[m.group(1)], template)
            for method in methods - {"HEAD", "OPTIONS"}:
                row = twin_owner(rows, path, method)
                if row is None:
                    continue
                taken.add(row.path)
                if not row.replaces:
                    shadowed.append(f"{method} {path} -> {row.handler}")
    assert not shadowed, f"pygeoapi resources answered by twin routes without a reason: {shadowed}"
    # the one terrain description is the twin's (pygeoapi's is not reachable, on purpose)
    assert "/collections/terrain" in taken


def test_an_operator_asks_who_serves_each_url():
    """`twin routes` prints the table in its order: path, methods, owner and handler."""
    from conftest import run_twin

    printed = run_twin("routes").stdout.splitlines()
    assert len(printed) == len(table.ROUTES)
    for line, row in zip(printed, table.ROUTES, strict=True):
        assert line.split()[0] == row.path and line.split()[-1] == row.handler
        assert row.owner in line.split()

"""The OpenAPI document a client reads at /openapi is complete, valid and self-contained.

A client (GDAL, QGIS, a code generator, schemathesis) reads one document and learns every
address of the twin from it: pygeoapi's OGC paths and the twin's own routes (tiles, terrain,
indicators, history, as-of, scenes, writes). Checked here on a running server: a maintained
OpenAPI validator and an OGC API structural checker find no error, every reference resolves
inside the document (nothing to fetch from schemas.opengis.net), the items of every feature
collection declare the filter and paging parameters GDAL acts on, and the API-key scheme the
document names is the header the server takes.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from ogcapi_registry import parse_conformance_classes, validate_ogc_api
from openapi_spec_validator import OpenAPIV30SpecValidator

from conftest import run_twin
from twin.http import openapi
from twin.http.routes import openapi_path, twin_rows

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture(scope="module")
def document(server) -> dict[str, Any]:
    response = server.get("/openapi", params={"f": "json"})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].replace(" ", "") == OPENAPI_MEDIA
    return response.json()


@pytest.fixture(scope="module")
def conformance(server) -> list[str]:
    return server.get("/conformance", params={"f": "json"}).json()["conformsTo"]


@pytest.fixture(scope="module")
def feature_collections(server) -> list[str]:
    collections = server.get("/collections", params={"f": "json"}).json()["collections"]
    return [c["id"] for c in collections if c.get("itemType") == "feature"]


def test_a_maintained_openapi_validator_finds_no_error(document):
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}"
        for e in OpenAPIV30SpecValidator(document).iter_errors()
    ]
    assert errors == []


def test_every_reference_is_inside_the_document(document):
    """Nothing points at schemas.opengis.net or GitHub: a client offline (or a CI runner)
    resolves every $ref from the document alone."""
    assert sorted(set(openapi.unresolved_refs(document))) == []
    assert "schemas.opengis.net" not in str(document)
    assert "raw.githubusercontent.com" not in str(document)


# What the OGC checker says that the twin leaves as it is, with the reason:
# - single-item paths (`/items/{featureId}...`) without `filter`: the checker's filter rule
#   looks at any path with "/items" and a template, and filter selects among items only;
# - history without `crs`: the checker takes every path under /items/ for one returning
#   features; a feature's history is the twin's own document (versions with their changes).
def _expected(finding: dict[str, Any]) -> bool:
    path = finding["path"]
    if "filter" in finding["message"] and "/items/{featureId}" in path:
        return True
    return "'crs'" in finding["message"] and "/history" in path


def test_the_ogc_api_checker_finds_no_error(document, conformance):
    """ogcapi-registry (PyPI; static: the document and the conformance classes, no network)
    checks the paths, operations and parameters each declared OGC API standard requires:
    Features (Core, CRS, Filter), Tiles, Processes."""
    result = validate_ogc_api(document, parse_conformance_classes(conformance))
    findings = [*result.errors, *result.warnings]
    assert result.critical_errors == ()
    assert [f for f in findings if not _expected(f)] == []


def test_items_declare_filter_and_a_limit_gdal_pages_with(document, feature_collections):
    """Every feature collection's items take filter, filter-lang (cql2-text, cql2-json and
    GDAL's name cql-text) and filter-crs; limit comes by reference (GDAL 3.8 and later only
    reads it there) with the server's default and maximum, so GDAL pages at 1,000."""
    assert len(feature_collections) >= 20
    limits = {}
    for collection in feature_collections:
        operation = document["paths"][f"/collections/{collection}/items"]["get"]
        query = openapi.parameter_names(document, operation)
        assert {"filter", "filter-lang", "filter-crs", "limit", "bbox", "datetime"} <= set(query)
        assert {"cql2-text", "cql2-json", "cql-text"} <= set(query["filter-lang"]["schema"]["enum"])
        refs = [p["$ref"] for p in operation["parameters"] if "limit" in p.get("$ref", "")]
        assert len(refs) == 1, collection
        schema = query["limit"]["schema"]
        limits[collection] = (schema["default"], schema["maximum"])
        # GDAL's page size from the document (ogroapifdriver.cpp, DeterminePageSizeFromAPI)
        assert min(max(1000, schema["default"]), schema["maximum"]) == 1000
    assert set(limits.values()) == {(10, 10000)}  # pygeoapi-config.yml server.limits


def test_filter_lang_values_the_document_offers_are_taken(server, document):
    """Each filter-lang the document lists is one the items accept."""
    values = document["components"]["parameters"]["filter-lang"]["schema"]["enum"]
    texts = {"cql2-json": '{"op": "=", "args": [{"property": "land_use"}, "green"]}'}
    for value in values:
        response = server.get(
            "/collections/plots/items",
            params={
                "filter": texts.get(value, "land_use = 'green'"),
                "filter-lang": value,
                "limit": 1,
            },
        )
        assert response.status_code == 200, (value, response.text[:300])


def test_schemas_say_enum_not_values(document):
    leftovers = [
        node
        for node in openapi.walk(document)
        if isinstance(node.get("values"), list) and "type" in node
    ]
    assert leftovers == []
    land_use = openapi.parameter_names(
        document, document["paths"]["/collections/plots/items"]["get"]
    )["land_use"]
    assert "green" in land_use["schema"]["enum"]


def test_terrain_is_a_coverage_not_a_feature_collection(document):
    assert "/collections/terrain" in document["paths"]
    assert "/collections/terrain/coverage" in document["paths"]
    assert [p for p in document["paths"] if p.startswith("/collections/terrain/items")] == []


def test_the_twins_own_routes_are_in_the_document(document):
    """Every twin row of the route table that belongs in /openapi is there, as written or
    for each collection it exists for: tiles, tile matrix sets, terrain, indicators, history,
    as-of, the 3D scene and the writes (PATCH included)."""
    paths = document["paths"]
    for row in twin_rows():
        if not row.in_openapi:
            continue
        template = openapi_path(row.path)
        concrete = [p for p in paths if openapi.template_matches(template, p)]
        assert concrete, template
        for method in row.methods:
            if method not in ("HEAD", "OPTIONS"):
                assert any(method.lower() in paths[p] for p in concrete), (method, template)
    for path in (
        "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        "/tileMatrixSets",
        "/terrain/tilejson.json",
        "/indicators",
        "/indicators/mobility-safety",
        "/collections/plots/asof",
        "/collections/plots/items/{featureId}/history",
        "/collections/buildings/scene.glb",
        "/collections/plots/tiles",
    ):
        assert path in paths, path
    assert "patch" in paths["/collections/plots/items/{featureId}"]
    assert "patch" not in paths["/collections/streets/items/{featureId}"]


def test_writes_name_the_api_key_the_server_takes(server, document):
    """The document's security schemes are the headers the server reads: a PATCH without a
    key is refused (401), with the key in either header it gets past the check (404: no such
    plot), as the document says."""
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        **schemes["ApiKey"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    for path, method, operation in openapi.operations(document):
        if path.startswith("/collections/") and "/items" in path and method in openapi.WRITES:
            body = operation.get("requestBody", {}).get("content", {})
            if method == "post" and path.endswith("/items") and "application/geo+json" not in body:
                # a read-only layer: POST items is a search, and a search needs no key
                assert "security" not in operation, path
                continue
            names = {name for requirement in operation["security"] for name in requirement}
            assert {"ApiKey", "Bearer"} <= names, (method, path)
            optional = {} in operation["security"]
            assert optional == (method == "post" and path.endswith("/items")), (method, path)
    assert "security" not in document["paths"]["/collections/plots/items"]["get"]

    key = (
        run_twin(
            "users",
            "add",
            f"openapi-{uuid.uuid4().hex[:6]}",
            "--role",
            "editor",
            "--layers",
            "plots",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    url = f"{server.url}/collections/plots/items/999999999"
    body = {"properties": {"zoning": "R2"}}
    headers = {"Content-Type": "application/merge-patch+json"}
    answers = [
        httpx.patch(url, json=body, headers={**headers, **extra}, timeout=30)
        for extra in ({}, {schemes["ApiKey"]["name"]: key}, {"Authorization": f"Bearer {key}"})
    ]
    assert [a.status_code for a in answers] == [401, 404, 404], [a.text for a in answers]
    assert answers[0].json()["code"] and answers[1].json()["code"]

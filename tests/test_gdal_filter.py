"""GDAL filters on the server: `ogr2ogr -where` reaches the twin as a CQL2 filter.

GDAL's OAPIF driver (as QGIS and ogr2ogr use it) reads /openapi before it filters: when the
items of a collection list `cql-text` among the values of `filter-lang` (the name it knows
for cql2-text) and the property among their parameters, it sends the -where as `filter=`
and takes the answer as it is; otherwise it fetches every feature and filters them itself.
The page size it asks for is 10 before GDAL 3.8 (the PAGE_SIZE open option changes it) and,
from 3.8, the one it derives from the `limit` the document declares.

The requests GDAL makes are read from its debug output (CPL_DEBUG), the counts checked
against the server's numberMatched and against PostGIS.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

import features_city
from twin.http import openapi


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, database_url: str) -> str:
    return features_city.city(request, database_url)


def gdal_version() -> tuple[int, int]:
    out = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout
    major, minor = re.search(r"GDAL (\d+)\.(\d+)", out).groups()
    return int(major), int(minor)


def page_size(document: dict[str, Any], collection: str, version: tuple[int, int]) -> int:
    """The page size GDAL asks for, from the document (ogroapifdriver.cpp): 10 before 3.8;
    from 3.8 (DeterminePageSizeFromAPI) 1,000 within the limit's default and maximum."""
    if version < (3, 8):
        return 10
    operation = document["paths"][f"/collections/{collection}/items"]["get"]
    schema = openapi.parameter_names(document, operation)["limit"]["schema"]
    return min(max(1000, schema["default"]), schema["maximum"])


def ogr2ogr(server, tmp_path, layer: str, *options: str) -> tuple[int, list[dict[str, list]]]:
    """Run ogr2ogr with GDAL's debug output on: the features written, and the query of each
    request GDAL made for the layer's items."""
    target = tmp_path / f"{layer}.geojson"
    target.unlink(missing_ok=True)
    result = subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(target), f"OAPIF:{server.url}", layer, *options],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CPL_DEBUG": "ON"},
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr[-3000:]
    assert "client side" not in result.stderr and "Only part of the filter" not in result.stderr
    urls = re.findall(r"HTTP: Fetch\((\S+?)\)\s*$", result.stderr, flags=re.M)
    items = [
        parse_qs(urlsplit(url).query)
        for url in urls
        if urlsplit(url).path.endswith(f"/collections/{layer}/items")
    ]
    return len(json.loads(target.read_text(encoding="utf-8"))["features"]), items


# OGR SQL -where clauses that read the same in CQL2 and in PostgreSQL
@pytest.mark.parametrize(
    "where", ["land_use = 'green'", "land_use = 'residential' AND residents > 250"]
)
def test_ogr2ogr_where_is_sent_to_the_twin_as_a_filter(city, server, tmp_path, where):
    document = server.get("/openapi", params={"f": "json"}).json()
    features, requests = ogr2ogr(server, tmp_path, "plots", "-where", where)
    filtered = [q for q in requests if "filter" in q]
    assert filtered, requests
    assert all(q["filter-lang"] == ["cql-text"] for q in filtered)
    assert len(requests) == len(filtered) + 1  # the first page, unfiltered: GDAL's schema probe

    matched = server.get("/collections/plots/items", params={"filter": where, "limit": 1}).json()[
        "numberMatched"
    ]
    with psycopg.connect(city) as conn:
        rows = conn.execute(f"SELECT count(*) FROM plots WHERE {where}").fetchone()[0]
    assert 0 < matched == rows == features

    size = page_size(document, "plots", gdal_version())
    assert {int(q["limit"][0]) for q in filtered} == {size}
    assert len(filtered) == math.ceil(matched / size)


def test_gdal_lists_no_terrain_layer(server):
    """terrain is a coverage: GDAL leaves out a collection that says so (layerDataType), and
    would otherwise ask /collections/terrain/items for features and get a 400."""
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{server.url}"], capture_output=True, text=True, timeout=300
    )
    assert listing.returncode == 0, listing.stderr
    assert ": plots" in listing.stdout
    assert ": terrain" not in listing.stdout

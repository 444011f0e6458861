"""Real clients read the twin: GDAL's OAPIF driver (ogrinfo/ogr2ogr, as QGIS does) and OWSLib's
Features, with what they get checked against PostGIS."""

from __future__ import annotations

import json
import subprocess

import psycopg
import psycopg.sql
import pytest
from owslib.ogcapi.features import Features

import features_city
from twin.catalog import load_catalog


@pytest.fixture(scope="module")
def city(request: pytest.FixtureRequest, database_url: str) -> str:
    return features_city.city(request, database_url)


def sql_count(url: str, statement: str, params: list | None = None) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params or []).fetchone()[0]


def gdal(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ogr2ogr_features(server, tmp_path, layer: str, *options: str) -> list[dict]:
    target = tmp_path / f"{layer}.geojson"
    gdal("ogr2ogr", "-f", "GeoJSON", str(target), f"OAPIF:{server.url}", layer, *options)
    return json.loads(target.read_text())["features"]


def test_ogrinfo_lists_and_counts_every_layer(city, server):
    listing = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{server.url}")
    for name in load_catalog():
        assert f": {name}" in listing, f"GDAL does not list {name}"
    for name in ("plots", "amenities"):
        summary = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{server.url}", name)
        rows = sql_count(
            city, psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(name))
        )
        assert f"Feature Count: {rows}" in summary


def test_ogr2ogr_pages_through_every_plot(city, server, tmp_path):
    features = ogr2ogr_features(server, tmp_path, "plots", "-oo", "PAGE_SIZE=700")
    numbers = [f["properties"]["cadastral_number"] for f in features]
    assert len(features) == sql_count(city, "SELECT count(*) FROM plots")
    assert len(set(numbers)) == len(numbers)  # each plot once


def test_ogr2ogr_with_bbox_and_where(city, server, tmp_path):
    box = (76.87, 43.205, 76.91, 43.22)
    features = ogr2ogr_features(
        server,
        tmp_path,
        "plots",
        "-oo",
        "PAGE_SIZE=1000",
        "-spat",
        *map(str, box),
        "-where",
        "land_use = 'residential' AND residents > 100",
    )
    expected = sql_count(
        city,
        "SELECT count(*) FROM plots WHERE ST_Intersects(geom, "
        "ST_MakeEnvelope(%s, %s, %s, %s, 4326)) AND land_use = "
        "'residential' AND residents > 100",
        list(box),
    )
    assert expected > 0 and len(features) == expected
    assert all(f["properties"]["land_use"] == "residential" for f in features)


def test_owslib_collections_queryables_and_cql2_items(city, server):
    api = Features(server.url)
    names = {c["id"] for c in api.collections()["collections"]}
    assert set(load_catalog()) <= names
    queryables = api.collection_queryables("amenities")["properties"]
    assert {"category", "capacity", "geometry"} <= set(queryables)
    expected = sql_count(
        city, "SELECT count(*) FROM amenities WHERE category = 'education' AND capacity > 150"
    )
    assert expected > 0
    by_text = api.collection_items(
        "amenities", filter="category = 'education' AND capacity > 150", limit=1000
    )
    by_json = api.collection_items(
        "amenities",
        limit=1000,
        cql={
            "op": "and",
            "args": [
                {"op": "=", "args": [{"property": "category"}, "education"]},
                {"op": ">", "args": [{"property": "capacity"}, 150]},
            ],
        },
    )
    for page in (by_text, by_json):
        assert page["numberMatched"] == page["numberReturned"] == expected
    assert [f["id"] for f in by_text["features"]] == [f["id"] for f in by_json["features"]]


def layer_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            name: conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}").format(
                    psycopg.sql.Identifier(layer.table)
                )
            ).fetchone()[0]
            for name, layer in load_catalog().items()
        }


def test_gdal_and_owslib_read_every_layer_with_its_count(analysed_city, server):
    """Every published collection (data and analysis layers) opens in GDAL's OAPIF driver and
    in OWSLib, with the feature count PostGIS has."""
    expected = layer_counts(analysed_city)
    assert sum(1 for rows in expected.values() if rows) >= len(expected) - 3, expected
    # one ogrinfo for all of them, named (GDAL 3.6 would also open the terrain coverage)
    result = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{server.url}", *expected],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    gdal_counts: dict[str, int] = {}
    layer = None
    for line in result.stdout.splitlines():
        if line.startswith("Layer name: "):
            layer = line.removeprefix("Layer name: ").strip()
        elif line.startswith("Feature Count: ") and layer:
            gdal_counts[layer] = int(line.removeprefix("Feature Count: "))
    assert {name: gdal_counts.get(name) for name in expected} == expected

    api = Features(server.url)
    owslib_counts = {}
    for name, rows in expected.items():
        assert api.collection(name)["id"] == name
        page = api.collection_items(name, limit=2)
        assert page["numberReturned"] == min(rows, 2)
        assert len(page["features"]) == min(rows, 2)
        owslib_counts[name] = page["numberMatched"]
    assert owslib_counts == expected

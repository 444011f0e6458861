"""Downloads: a planner takes the plots the API selects home as CSV, GeoPackage or GeoParquet
(`items?f=csv|gpkg|parquet`) and opens them in GDAL (QGIS's reader) and geopandas: the same
features as the JSON items of the same request, with the same properties and geometry, in the
CRS asked for; a whole collection beyond the row limit is refused with advice."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from shapely.geometry import shape

from conftest import Server

EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
GREEN = "filter=land_use%3D%27green%27"  # land_use='green': over 1,000 plots in the small demo
# residential plots of central Almaty, largest first, two properties, in Web Mercator
SELECTION = (
    "filter=land_use%3D%27residential%27%20AND%20area_m2%20%3E%20500"
    "&bbox=76.90,43.22,76.96,43.26&properties=land_use,area_m2&sortby=-area_m2"
    f"&crs={EPSG_3857}"
)
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
}


def _json_items(server: Server, query: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    page = server.get(f"/collections/plots/items?f=json&limit=10000&{query}").json()
    assert page["numberMatchedKind"] == "exact" and page["numberMatched"] == len(page["features"])
    return page, page["features"]


def _download(server: Server, fmt: str, query: str, folder: Path) -> Path:
    response = server.get(f"/collections/plots/items?f={fmt}&{query}")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == MEDIA[fmt]
    assert response.headers["content-disposition"] == f'attachment; filename="plots.{fmt}"'
    path = folder / f"plots.{fmt}"
    path.write_bytes(response.content)
    return path


def _read(fmt: str, path: Path) -> gpd.GeoDataFrame:
    """The file as geopandas reads it (GeoPackage and CSV through GDAL, via pyogrio;
    GeoParquet through pyarrow: neither GDAL here has the Parquet driver)."""
    if fmt == "parquet":
        return gpd.read_parquet(path)
    if fmt == "gpkg":
        return gpd.read_file(path, engine="pyogrio")
    frame = pyogrio.read_dataframe(path)  # GDAL's CSV driver finds the geometry in `wkt`
    assert frame.geometry.notna().all()
    return frame


def _same_value(read: Any, expected: Any) -> bool:
    if expected is None:
        return read is None or read == "" or read != read  # CSV's empty field, NaN
    if isinstance(expected, bool):
        return str(read).lower() == str(expected).lower()
    if isinstance(expected, (int, float)):
        return float(read) == float(expected)
    return str(read)[:10] == expected[:10] if len(expected) == 10 else str(read) == expected


def _assert_same_features(
    frame: gpd.GeoDataFrame, features: list[dict[str, Any]], names: list[str], tolerance: float
) -> None:
    assert [int(v) for v in frame["id"]] == [f["id"] for f in features]
    columns = [c for c in frame.columns if c not in ("id", "geometry", "wkt", "bbox")]
    assert columns == names
    for (_, row), feature in zip(frame.iterrows(), features, strict=True):
        for name in names:
            assert _same_value(row[name], feature["properties"][name]), (name, row[name])
        assert shapely.equals_exact(row.geometry, shape(feature["geometry"]), tolerance)


def test_each_format_reads_back_as_the_json_items(demo_city, server, tmp_path):
    page, features = _json_items(server, GREEN)
    names = list(features[0]["properties"])
    assert len(features) > 1000
    alternates = {link["type"]: link["href"] for link in page["links"]}
    for fmt in ("csv", "gpkg", "parquet"):
        assert alternates[MEDIA[fmt].split(";")[0]].endswith(f"f={fmt}&limit=10000&{GREEN}")
        path = _download(server, fmt, GREEN, tmp_path)
        # the files hold full precision; the JSON (and CSV's WKT) 7 decimals of a degree
        _assert_same_features(_read(fmt, path), features, names, 1.01e-7)
    # Debian's GDAL (the one QGIS uses here) reads the GeoPackage too
    info = subprocess.run(
        ["ogrinfo", "-so", "-al", str(tmp_path / "plots.gpkg")], capture_output=True, text=True
    )
    assert f"Feature Count: {page['numberMatched']}" in info.stdout, info.stdout + info.stderr
    assert "Geometry: Multi Polygon" in info.stdout
    # GeoParquet's metadata: WKB, the CRS as PROJJSON, a bbox holding every geometry
    geo = json.loads(pq.read_schema(tmp_path / "plots.parquet").metadata[b"geo"])
    column = geo["columns"][geo["primary_column"]]
    assert column["encoding"] == "WKB" and column["geometry_types"] == ["MultiPolygon"]
    assert column["crs"]["id"] == {"authority": "OGC", "code": "CRS84"}
    frame = gpd.read_parquet(tmp_path / "plots.parquet")
    assert column["bbox"] == pytest.approx(list(frame.total_bounds))
    # a collection's page lists the downloads of its items
    collection = server.get("/collections/plots?f=json").json()
    listed = {link["href"].split("/collections/")[-1] for link in collection["links"]}
    assert {"plots/items?f=csv", "plots/items?f=gpkg", "plots/items?f=parquet"} <= listed


def test_filter_bbox_properties_sortby_and_crs_hold_in_each_format(demo_city, server, tmp_path):
    page, features = _json_items(server, SELECTION)
    assert 10 < len(features) < page["numberMatched"] + 1
    assert features[0]["properties"]["area_m2"] >= features[-1]["properties"]["area_m2"]
    for fmt in ("csv", "gpkg", "parquet"):
        response = server.get(f"/collections/plots/items?f={fmt}&{SELECTION}")
        assert response.headers["content-crs"] == f"<{EPSG_3857}>"
        path = _download(server, fmt, SELECTION, tmp_path)
        frame = _read(fmt, path)
        # x/y in metres, as the JSON gives them to the millimetre
        _assert_same_features(frame, features, ["land_use", "area_m2"], 1.01e-3)
        assert frame.total_bounds[0] > 8_000_000  # Web Mercator metres, not degrees
    geo = json.loads(pq.read_schema(tmp_path / "plots.parquet").metadata[b"geo"])
    assert geo["columns"]["geometry"]["crs"]["id"] == {"authority": "EPSG", "code": 3857}
    assert pyogrio.read_info(tmp_path / "plots.gpkg")["crs"] == "EPSG:3857"


def test_points_in_csv_have_lon_lat_and_quoted_addresses(demo_city, server):
    query = "filter=category%3D%27education%27&limit=50"
    features = server.get(f"/collections/amenities/items?{query}").json()["features"]
    text = server.get(f"/collections/amenities/items?f=csv&{query}").text
    header = text.splitlines()[0].split(",")
    assert header[0] == "id" and header[-3:] == ["lon", "lat", "wkt"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 50 and any("," in row["address"] for row in rows)  # RFC 4180 quotes
    for row, feature in zip(rows, features, strict=True):
        assert row["address"] == feature["properties"]["address"]
        lon, lat = feature["geometry"]["coordinates"]
        assert (float(row["lon"]), float(row["lat"])) == (lon, lat)
        assert row["wkt"] == f"POINT({row['lon']} {row['lat']})"
    bare = server.get(f"/collections/amenities/items?f=csv&skipGeometry=true&{query}").text
    assert bare.splitlines()[0] == "id,name,category,kind,capacity,district,address"


def test_a_download_again_is_not_modified_until_the_layer_changes(demo_city, server):
    first = server.get(f"/collections/plots/items?f=parquet&{GREEN}")
    tag = first.headers["etag"]
    again = server.get(
        f"/collections/plots/items?f=parquet&{GREEN}", headers={"If-None-Match": tag}
    )
    assert again.status_code == 304 and again.headers["etag"] == tag
    other = server.get(f"/collections/plots/items?f=csv&{GREEN}", headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag


def test_bad_format_is_a_400_naming_the_formats(demo_city, server):
    response = server.get("/collections/plots/items?f=shp")
    assert response.status_code == 400
    description = response.json()["description"]
    assert all(name in description for name in ("csv", "gpkg", "parquet"))
    hits = server.get("/collections/plots/items?f=csv&resulttype=hits")
    assert hits.status_code == 400 and "hits" in hits.json()["description"]


def test_a_whole_collection_beyond_the_row_limit_is_a_413_with_advice(demo_city):
    limited = Server({"TWIN_DOWNLOAD_MAX_ROWS": "1000"})
    try:
        refused = limited.get("/collections/plots/items?f=parquet")
        assert refused.status_code == 413, refused.text[:300]
        description = refused.json()["description"]
        assert "1,000" in description and "limit" in description and "offset" in description
        matched = limited.get(f"/collections/plots/items?limit=1&{GREEN}").json()["numberMatched"]
        green = limited.get(f"/collections/plots/items?f=csv&{GREEN}")
        assert matched > 1000 and green.status_code == 413
        paged = limited.get(f"/collections/plots/items?f=csv&{GREEN}&limit=1000&offset=1000")
        assert paged.status_code == 200
        assert len(paged.text.splitlines()) == 1 + min(1000, matched - 1000)
        schools = "filter=category%3D%27education%27%20AND%20district%3D%27Medeu%27"
        assert limited.get(f"/collections/amenities/items?f=gpkg&{schools}").status_code == 200
        over = limited.get("/collections/plots/items?f=csv&limit=1001")
        assert over.status_code == 400 and "1000" in over.json()["description"]
    finally:
        limited.stop()

"""`twin import-dem`: a planner's elevation model of the foothill basin becomes the twin's
terrain (reprojected to UTM 43N, a Cloud-Optimized GeoTIFF in the database); files that are not
elevation models are refused and the terrain stays as it was."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from import_target import own_database
from twin.terrain import elevation_at, terrain_path


@pytest.fixture(scope="module")
def target(database_url, tmp_path_factory):
    """This module's own database: the demo city's terrain elsewhere in the session stays."""
    yield from own_database(database_url, tmp_path_factory.mktemp("dem-home"))


WEST, NORTH, STEP = 76.85, 43.30, 0.001  # a lon/lat grid over central Almaty


def basin(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """600 m on the northern plain rising 100 m per km of latitude towards the mountains."""
    return 600.0 + (NORTH - lat) * 10_000.0


def write_dem(path, crs="EPSG:4326", nodata=-9999.0, **overrides) -> None:
    lon = WEST + STEP * (np.arange(200) + 0.5)
    lat = NORTH - STEP * (np.arange(150) + 0.5)
    elevation = basin(*np.meshgrid(lon, lat)).astype("float32")
    elevation[:10, :10] = nodata  # a corner the survey did not cover
    profile = {
        "driver": "GTiff",
        "width": 200,
        "height": 150,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "nodata": nodata,
        "transform": from_origin(WEST, NORTH, STEP, STEP),
    }
    profile.update(overrides)
    data = overrides.pop("data", None)
    with rasterio.open(path, "w", **{k: v for k, v in profile.items() if k != "data"}) as dst:
        for band in range(1, profile["count"] + 1):
            dst.write(elevation if data is None else data, band)


def terrain_state(target) -> tuple:
    with target.connect() as db:
        return db.execute(
            "SELECT count(*), md5(string_agg(md5(cog), ',' ORDER BY id)), "
            "(SELECT version FROM twin_layers WHERE name = 'terrain') "
            "FROM terrain_models"
        ).fetchone()


@pytest.fixture(scope="module")
def good_dem(target, tmp_path_factory):
    """A valid model, imported once, that the refused files must leave in place."""
    path = tmp_path_factory.mktemp("dem") / "good.tif"
    write_dem(path)
    target.twin("import-dem", str(path))
    return path


def test_elevation_model_becomes_the_terrain(target, tmp_path, monkeypatch):
    path = tmp_path / "almaty_dem.tif"
    write_dem(path)
    result = target.twin(
        "import-dem", str(path), "--source", "city survey 2024", "--licence", "CC-BY-4.0"
    )
    assert "almaty_dem.tif (EPSG:4326, 200 x 150)" in result.stdout
    assert "Cloud-Optimized GeoTIFF in EPSG:32643" in result.stdout

    for name, value in target.env.items():  # this process reads the terrain as the server
        monkeypatch.setenv(name, value)  # would: from the module's database
    cog = terrain_path()
    with rasterio.open(cog) as dataset:
        assert dataset.crs.to_epsg() == 32643
        assert dataset.profile["tiled"]  # cloud-optimized
        assert dataset.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    lon = np.array([76.90, 76.95, 77.00, 76.8505])
    lat = np.array([43.28, 43.22, 43.16, 43.2995])
    heights = elevation_at(lon, lat)
    assert heights[:3] == pytest.approx(basin(lon[:3], lat[:3]), abs=2.0)
    assert np.isnan(heights[3])  # the no-data corner stays unknown
    assert np.isnan(elevation_at(np.array([76.5]), np.array([43.25])))[0]  # outside

    with target.connect() as db:
        source, licence, synthetic, details = db.execute(
            "SELECT source, licence, synthetic, details FROM twin_layers WHERE name = 'terrain'"
        ).fetchone()
    assert (source, licence, synthetic) == ("city survey 2024", "CC-BY-4.0", False)
    assert details["file"] == "almaty_dem.tif" and details["no_data_cells"] == 100


def test_projected_model_is_stored_at_its_own_grid(target, tmp_path):
    path = tmp_path / "utm.tif"
    x0, y0 = 640_000.0, 4_795_000.0  # UTM 43N, central Almaty
    rows, _ = np.mgrid[0:120, 0:100]
    data = (700.0 + rows * 5.0).astype("float32")  # 5 m per 30 m row, rising southwards
    write_dem(
        path,
        crs="EPSG:32643",
        width=100,
        height=120,
        transform=from_origin(x0, y0, 30.0, 30.0),
        data=data,
    )
    result = target.twin("import-dem", str(path))
    assert "100 x 120 cells at 30.0 m, elevation 700-1295 m" in result.stdout
    assert "licence" not in result.stderr


@pytest.mark.parametrize(
    "case, words",
    [
        ("truncated", "cannot read"),
        ("text", "cannot read"),
        ("no_crs", "no coordinate reference system"),
        ("rgb_image", "looks like an image"),
        ("elsewhere", "none of Almaty"),
        ("undeclared_nodata", "not elevations in metres"),
        ("band", "no band 2"),
    ],
)
def test_unusable_rasters_are_refused_and_terrain_kept(target, good_dem, tmp_path, case, words):
    good = good_dem
    before = terrain_state(target)
    assert before[0] == 1  # a terrain is there to be kept
    path = tmp_path / f"{case}.tif"
    args = []
    if case == "truncated":
        path.write_bytes(good.read_bytes()[:2000])
    elif case == "text":
        path.write_text("elevation,lon,lat\n640,76.9,43.2\n")
    elif case == "no_crs":
        write_dem(path, crs=None)
    elif case == "rgb_image":
        write_dem(
            path, count=3, dtype="uint8", nodata=None, data=np.full((150, 200), 128, dtype="uint8")
        )
    elif case == "elsewhere":
        write_dem(path, transform=from_origin(24.9, 60.2, STEP, STEP))  # Helsinki
    elif case == "undeclared_nodata":
        write_dem(
            path,
            nodata=None,
            data=np.where(np.arange(200)[None, :] < 20, -32768.0, 700.0)
            .repeat(150, 0)
            .astype("float32"),
        )
    elif case == "band":
        write_dem(path)
        args = ["--band", "2"]
    result = target.twin("import-dem", str(path), *args, check=False)
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().startswith("Error: ") and words in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert terrain_state(target) == before

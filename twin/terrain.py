"""The twin's terrain model: one elevation raster for terrain tiles, 3D scenes and slope-aware
walking times.

Stored as a Cloud-Optimized GeoTIFF (EPSG:32643, float32 metres, NaN where unknown) inside the
database (table terrain_models), so the twin's data lives in one place and a dump carries it.
Readers get a file: `terrain_path()` materialises the COG under TWIN_HOME/cache/ named by the
terrain's data version (twin_layers row 'terrain'), so a new terrain is a new file and caches
keyed on the version stay correct.
"""

from __future__ import annotations

import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import psycopg
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.io import MemoryFile
from rasterio.shutil import copy as raster_copy
from rasterio.warp import Resampling, calculate_default_transform, reproject

from twin.errors import ImportFailed
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import Provenance, record_provenance

TERRAIN_CRS = "EPSG:32643"
LAYER_NAME = "terrain"
_materialise_lock = threading.Lock()


def _to_utm(elevation: np.ndarray, transform: Affine, crs: CRS) -> tuple[np.ndarray, Affine]:
    """Reproject to UTM 43N at about the source's own resolution (bilinear, NaN outside)."""
    height, width = elevation.shape
    left, top = transform.c, transform.f
    right, bottom = transform.c + transform.a * width, transform.f + transform.e * height
    dst_transform, dst_width, dst_height = calculate_default_transform(
        crs.to_wkt(),
        TERRAIN_CRS,
        width,
        height,
        left=min(left, right),
        bottom=min(top, bottom),
        right=max(left, right),
        top=max(top, bottom),
    )
    target = np.full((dst_height, dst_width), np.nan, dtype=np.float32)
    reproject(
        elevation.astype(np.float32),
        target,
        src_transform=transform,
        src_crs=crs.to_wkt(),
        dst_transform=dst_transform,
        dst_crs=TERRAIN_CRS,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return target, dst_transform


def _cog_bytes(elevation: np.ndarray, transform: Affine) -> bytes:
    """Encode a float32 raster as a Cloud-Optimized GeoTIFF (deflate, internal overviews)."""
    height, width = elevation.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": TERRAIN_CRS,
        "transform": transform,
        "nodata": np.nan,
    }
    with MemoryFile() as plain, MemoryFile() as cog:
        with plain.open(**profile) as dataset:
            dataset.write(elevation.astype(np.float32), 1)
            dataset.update_tags(1, UNITS="metre")
        with plain.open() as source:
            raster_copy(
                source,
                cog.name,
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="3",
                BLOCKSIZE="256",
                OVERVIEW_RESAMPLING="AVERAGE",
            )
        return cog.read()


def store_terrain(
    conn: psycopg.Connection,
    elevation: np.ndarray,
    transform: Affine,
    crs: str | CRS,
    provenance: Provenance,
) -> int:
    """Make `elevation` (metres, NaN = no data) the twin's terrain; return the model's id.

    Replaces the previous terrain in one transaction and bumps the 'terrain' data version.
    """
    if elevation.ndim != 2 or min(elevation.shape) < 2:
        raise ImportFailed(f"terrain: expected a 2-D elevation grid, got shape {elevation.shape}")
    crs = CRS.from_user_input(crs)
    elevation = np.asarray(elevation, dtype=np.float32)
    if crs != CRS.from_user_input(TERRAIN_CRS):
        elevation, transform = _to_utm(elevation, transform, crs)
    finite = elevation[np.isfinite(elevation)]
    if finite.size == 0:
        raise ImportFailed("terrain: the elevation grid holds no values")
    height, width = elevation.shape
    minx, maxy = transform.c, transform.f
    maxx, miny = transform.c + transform.a * width, transform.f + transform.e * height
    cog = _cog_bytes(elevation, transform)
    params = {
        "crs": TERRAIN_CRS,
        "width": width,
        "height": height,
        "resolution_m": float(abs(transform.a)),
        "minx": min(minx, maxx),
        "miny": min(miny, maxy),
        "maxx": max(minx, maxx),
        "maxy": max(miny, maxy),
        "min_elevation": float(finite.min()),
        "max_elevation": float(finite.max()),
        "cog": cog,
    }
    details = dict(provenance.details)
    details.update(
        {
            "crs": TERRAIN_CRS,
            "resolution_m": params["resolution_m"],
            "width": width,
            "height": height,
            "min_elevation_m": round(params["min_elevation"], 1),
            "max_elevation_m": round(params["max_elevation"], 1),
            "format": "Cloud-Optimized GeoTIFF",
        }
    )
    with conn.transaction():
        conn.execute(query("terrain/replace_model"))
        model_id = conn.execute(query("terrain/insert_model"), params).fetchone()[0]
        record_provenance(
            conn,
            LAYER_NAME,
            Provenance(
                source=provenance.source,
                licence=provenance.licence,
                synthetic=provenance.synthetic,
                details=details,
            ),
        )
        conn.execute(query("terrain/bump_version"))
    return int(model_id)


def _cache_dir() -> Path:
    return get_settings().home / "cache"


def _materialise(conn: psycopg.Connection) -> Path | None:
    row = conn.execute(query("terrain/current_version")).fetchone()
    if row is None:
        return None
    version, model_id, loaded_at = row
    path = _cache_dir() / f"terrain-{version or 0}.tif"
    # the sidecar names the model the file holds: two databases sharing one TWIN_HOME (tests,
    # DATABASE_URL) can both be at version 1 with different terrain
    stamp = f"{model_id} {loaded_at.isoformat()}"
    sidecar = path.with_suffix(".model")
    if path.exists() and sidecar.exists() and sidecar.read_text() == stamp:
        return path
    with _materialise_lock:
        if path.exists() and sidecar.exists() and sidecar.read_text() == stamp:
            return path
        cog = conn.execute(query("terrain/current_cog"), {"id": model_id}).fetchone()[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".terrain-", suffix=".tif")
        with os.fdopen(handle, "wb") as out:
            out.write(cog)
        os.replace(temporary, path)
        sidecar.write_text(stamp)
        for old in path.parent.glob("terrain-*.tif"):
            if old != path:
                old.unlink(missing_ok=True)
                old.with_suffix(".model").unlink(missing_ok=True)
    return path


def terrain_path(conn: psycopg.Connection | None = None) -> Path | None:
    """The current terrain as a local COG file, or None when no terrain is loaded."""
    if conn is not None:
        return _materialise(conn)
    from twin.db.pool import connection

    with connection() as pooled:
        return _materialise(pooled)


@lru_cache(maxsize=2)
def _raster(path: str, modified_ns: int) -> tuple[np.ndarray, Affine]:
    with rasterio.open(path) as dataset:
        return dataset.read(1).astype(np.float32), dataset.transform


_to_terrain_crs = Transformer.from_crs("EPSG:4326", TERRAIN_CRS, always_xy=True)


def sample(elevation: np.ndarray, transform: Affine, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear elevation at projected points x, y of a raster (NaN outside)."""
    inverse = ~transform
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    col = inverse.a * x + inverse.b * y + inverse.c - 0.5
    row = inverse.d * x + inverse.e * y + inverse.f - 0.5
    height, width = elevation.shape
    inside = (col >= -0.5) & (row >= -0.5) & (col <= width - 0.5) & (row <= height - 0.5)
    col = np.clip(col, 0, width - 1)
    row = np.clip(row, 0, height - 1)
    c0 = np.minimum(np.floor(col).astype(np.int64), max(width - 2, 0))
    r0 = np.minimum(np.floor(row).astype(np.int64), max(height - 2, 0))
    fc = col - c0
    fr = row - r0
    c1 = np.minimum(c0 + 1, width - 1)
    r1 = np.minimum(r0 + 1, height - 1)
    top = elevation[r0, c0] * (1 - fc) + elevation[r0, c1] * fc
    bottom = elevation[r1, c0] * (1 - fc) + elevation[r1, c1] * fc
    value = (top * (1 - fr) + bottom * fr).astype(float)
    return np.where(inside, value, np.nan)


def elevation_at(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Terrain elevation in metres at lon/lat points (bilinear; NaN outside or with no terrain)."""
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    path = terrain_path()
    if path is None:
        return np.full(lon.shape, np.nan)
    elevation, transform = _raster(str(path), path.stat().st_mtime_ns)
    x, y = _to_terrain_crs.transform(lon, lat)
    return sample(elevation, transform, x, y)

"""Raster-DEM tiles of the terrain model: Terrarium-encoded PNG on WebMercatorQuad.

Terrarium: elevation = R * 256 + G + B / 256 - 32768 (metres), what MapLibre's raster-dem
source reads with `"encoding": "terrarium"`. Each tile is the terrain COG (twin/terrain.py)
reprojected bilinearly into the tile's Web Mercator grid with rasterio; cells beyond the model's
edge take the nearest known elevation, so the terrain has no cliff at its border; a tile wholly
outside the model is not there (404).
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, reproject, transform_bounds
from scipy import ndimage

from twin.tiles.matrix import EARTH_CIRCUMFERENCE_M, TileAddress

TILE_SIZE = 256
MAX_TERRAIN_ZOOM = 16  # deeper zooms add nothing to a metre-scale model: clients overzoom
ENCODING = "terrarium"
# Bumped when the rendering changes, so cached terrain tiles of the old rendering are not served.
TERRAIN_POLICY_VERSION = 1


def encode_terrarium(elevation: np.ndarray) -> np.ndarray:
    """float metres (H, W) -> uint8 RGB (H, W, 3)."""
    value = np.clip(elevation.astype(np.float64) + 32768.0, 0, 65535.996)
    whole = np.floor(value)
    red = np.floor(whole / 256)
    green = whole - red * 256
    blue = np.floor((value - whole) * 256)
    return np.dstack([red, green, blue]).astype(np.uint8)


def decode_terrarium(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> metres (used by the tests and by anyone checking a tile)."""
    rgb = rgb.astype(np.float64)
    return rgb[..., 0] * 256 + rgb[..., 1] + rgb[..., 2] / 256 - 32768


@lru_cache(maxsize=4)
def terrain_extent(path: str) -> tuple[tuple[float, float, float, float], float]:
    """(lon/lat bounds, resolution in metres) of a terrain COG."""
    with rasterio.open(path) as dataset:
        bounds = transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21)
        return bounds, float(abs(dataset.transform.a))


def native_zoom(resolution_m: float, latitude: float) -> int:
    """The zoom whose 256-px tiles have about the model's resolution (TileJSON maxzoom)."""
    ground = EARTH_CIRCUMFERENCE_M * math.cos(math.radians(latitude)) / TILE_SIZE
    return max(0, min(MAX_TERRAIN_ZOOM, math.ceil(math.log2(ground / resolution_m))))


def _fill_nearest(elevation: np.ndarray) -> np.ndarray:
    missing = ~np.isfinite(elevation)
    if not missing.any():
        return elevation
    indices = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
    return elevation[tuple(indices)]


def render_terrain_tile(path: str, address: TileAddress) -> bytes | None:
    """The Terrarium PNG of a tile, or None when the tile is wholly outside the model."""
    (west, south, east, north), _ = terrain_extent(path)
    tw, ts, te, tn = address.lonlat_bounds()
    if tw >= east or te <= west or ts >= north or tn <= south:
        return None
    left, bottom, right, top = address.mercator_bounds()
    elevation = np.full((TILE_SIZE, TILE_SIZE), np.nan, dtype=np.float32)
    with rasterio.open(path) as dataset:
        reproject(
            rasterio.band(dataset, 1),
            elevation,
            dst_transform=from_bounds(left, bottom, right, top, TILE_SIZE, TILE_SIZE),
            dst_crs="EPSG:3857",
            src_nodata=np.nan,
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    if not np.isfinite(elevation).any():
        return None
    buffer = io.BytesIO()
    Image.fromarray(encode_terrarium(_fill_nearest(elevation)), "RGB").save(
        buffer, "PNG", compress_level=6
    )
    return buffer.getvalue()

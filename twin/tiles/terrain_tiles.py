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


# Shaded relief as ready-made raster tiles. MapLibre's `hillshade` layer shades a raster-dem
# source in the browser: a second DEM source and a render-to-texture pass per tile on every
# first view, which under software WebGL was about a quarter of the viewer's first idle. The
# same shading computed once here (and cached like the DEM tiles) is one drape of a PNG.
HILLSHADE_POLICY_VERSION = 1
SUN_AZIMUTH_DEG = 315.0  # light from the north-west, the cartographic convention (and MapLibre's)
SUN_ALTITUDE_DEG = 45.0
# Opacity of the fullest shadow or light: side by side with MapLibre's hillshade layer at the
# `hillshade-exaggeration` 0.45 the viewer used, about as strong.
HILLSHADE_OPACITY = 0.85
SHADOW_RGB = (0x5A, 0x6B, 0x5D)
HIGHLIGHT_RGB = (0xFF, 0xFF, 0xFF)


def _elevation_grid(path: str, address: TileAddress, border: int, model_m: float) -> np.ndarray:
    """Elevation of a tile on its 256-px grid plus `border` pixels on every side (NaN outside);
    cubic where the tile's pixels are finer than the model's cells (smooth slopes: bilinear ones
    shade in blocks), the cells' average where coarser (no aliasing of the model's roughness)."""
    left, bottom, right, top = address.mercator_bounds()
    pixel = (right - left) / TILE_SIZE
    (_, south, _, north), _ = terrain_extent(path)
    finer = pixel * math.cos(math.radians((south + north) / 2)) < model_m
    size = TILE_SIZE + 2 * border
    elevation = np.full((size, size), np.nan, dtype=np.float32)
    with rasterio.open(path) as dataset:
        reproject(
            rasterio.band(dataset, 1),
            elevation,
            dst_transform=from_bounds(
                left - border * pixel,
                bottom - border * pixel,
                right + border * pixel,
                top + border * pixel,
                size,
                size,
            ),
            dst_crs="EPSG:3857",
            src_nodata=np.nan,
            dst_nodata=np.nan,
            resampling=Resampling.cubic if finer else Resampling.average,
        )
    return elevation


def hillshade(elevation: np.ndarray, pixel_m: float) -> np.ndarray:
    """Lambertian shading (0 dark .. 1 lit) of an elevation grid with `pixel_m` metre cells,
    one cell smaller on every side (the gradient needs the neighbours)."""
    dz_dy, dz_dx = np.gradient(elevation.astype(np.float64), pixel_m)
    # rows run south: dz_dy is the rise southwards, as in Horn's / ESRI's formula
    dz_dx, dz_dy = dz_dx[1:-1, 1:-1], dz_dy[1:-1, 1:-1]
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(dz_dy, -dz_dx)
    zenith = math.radians(90.0 - SUN_ALTITUDE_DEG)
    azimuth = math.radians(360.0 - SUN_AZIMUTH_DEG + 90.0)
    lit = math.cos(zenith) * np.cos(slope) + math.sin(zenith) * np.sin(slope) * np.cos(
        azimuth - aspect
    )
    return np.clip(lit, 0.0, 1.0)


def render_hillshade_tile(path: str, address: TileAddress) -> bytes | None:
    """A translucent PNG of the shaded relief (shadows dark green-grey, slopes to the sun
    white, flat ground clear), or None when the tile is wholly outside the model."""
    (west, south, east, north), _ = terrain_extent(path)
    tw, ts, te, tn = address.lonlat_bounds()
    if tw >= east or te <= west or ts >= north or tn <= south:
        return None
    elevation = _elevation_grid(path, address, 1, terrain_extent(path)[1])
    if not np.isfinite(elevation).any():
        return None
    left, _, right, _ = address.mercator_bounds()
    latitude = math.radians((ts + tn) / 2)
    pixel_m = (right - left) / TILE_SIZE * math.cos(latitude)
    lit = hillshade(_fill_nearest(elevation), pixel_m)
    flat = math.cos(math.radians(90.0 - SUN_ALTITUDE_DEG))
    shadow = np.clip((flat - lit) / flat, 0.0, 1.0)
    highlight = np.clip((lit - flat) / (1.0 - flat), 0.0, 1.0)
    rgba = np.zeros((TILE_SIZE, TILE_SIZE, 4), dtype=np.uint8)
    dark = shadow >= highlight
    for channel, (s, h) in enumerate(zip(SHADOW_RGB, HIGHLIGHT_RGB, strict=True)):
        rgba[..., channel] = np.where(dark, s, h)
    strength = np.where(dark, shadow, highlight) * HILLSHADE_OPACITY * 255
    rgba[..., 3] = np.clip(np.round(strength), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()

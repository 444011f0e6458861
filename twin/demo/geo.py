"""Coordinates and smooth random fields shared by the demo generator.

All generation happens in metres (UTM 43N, EPSG:32643, the twin's metric CRS); layers are
converted to lon/lat only when written.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

METRIC_CRS = "EPSG:32643"
_forward = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
_inverse = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


def to_metric(lonlat) -> np.ndarray:
    """(n, 2) lon/lat -> (n, 2) metres."""
    arr = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    x, y = _forward.transform(arr[:, 0], arr[:, 1])
    return np.column_stack([x, y])


def to_lonlat(xy) -> np.ndarray:
    arr = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon, lat = _inverse.transform(arr[:, 0], arr[:, 1])
    return np.column_stack([lon, lat])


def point_metric(lon: float, lat: float) -> tuple[float, float]:
    x, y = _forward.transform(lon, lat)
    return float(x), float(y)


def latitude_of(xy: np.ndarray) -> np.ndarray:
    return to_lonlat(xy)[:, 1]


def geometries_to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Vectorised reprojection of shapely geometries from metres to lon/lat."""
    return shapely.transform(np.asarray(geoms, dtype=object), lambda c: to_lonlat(c))


class SmoothField:
    """A deterministic smooth random field: a sum of plane waves with wavelengths in a band.

    Used wherever the city needs spatially coherent variation (which kind of block grows
    where, how old a network is, how irregular the street grid gets)."""

    def __init__(
        self, rng: np.random.Generator, wavelength_m: tuple[float, float], waves: int = 12
    ) -> None:
        angles = rng.uniform(0, 2 * np.pi, waves)
        lengths = rng.uniform(*wavelength_m, waves)
        self.kx = 2 * np.pi * np.cos(angles) / lengths
        self.ky = 2 * np.pi * np.sin(angles) / lengths
        self.phase = rng.uniform(0, 2 * np.pi, waves)
        self.scale = np.sqrt(2.0 / waves)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values with mean ~0 and standard deviation ~1."""
        x = np.asarray(x, dtype=float)[..., None]
        y = np.asarray(y, dtype=float)[..., None]
        return self.scale * np.cos(x * self.kx + y * self.ky + self.phase).sum(axis=-1)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per part of the city, so changing one part's draws
    leaves the others as they were."""
    key = [seed] + [ord(c) for c in name]
    return np.random.default_rng(key)

"""Walkability 0-100, Walk Score-like (the formula is documented in docs/walkability.md).

    distance_c = walking minutes to the nearest category-c amenity × 80 m/min
                 (slope-aware minutes turned back into level-ground metres)
    decay(d)   = 1                                  d ≤ 400 m
                 ½·(1 + cos(π·(d − 400) / 1200))    400 m < d < 1600 m
                 0                                  d ≥ 1600 m
    raw        = 100 · Σ w_c · decay(distance_c) / Σ w_c
    score      = raw · (1 − p_intersections) · (1 − p_blocks)

Penalties, each up to 10%: intersection density (3+-way junctions within 400 m) of 80 per km²
or more costs nothing, falling linearly to the full 10% at 25 per km² or fewer; mean street-
segment (block face) length within 400 m of 120 m or less costs nothing, rising linearly to
10% at 240 m or more.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from twin.analysis.network import FLAT_METRES_PER_MINUTE, WalkingNetwork

WEIGHTS = {
    "commerce": 3.0,
    "education": 2.0,
    "transit": 2.0,
    "healthcare": 1.5,
    "parks": 1.5,
    "culture_sport": 1.0,
}
FULL_CREDIT_M = 400.0
NO_CREDIT_M = 1600.0
RADIUS_M = 400.0
GRID_M = 50.0
DENSITY_GOOD, DENSITY_POOR = 80.0, 25.0  # intersections per km²
BLOCK_GOOD, BLOCK_POOR = 120.0, 240.0  # metres
MAX_PENALTY = 0.10


def decay(distance_m: np.ndarray) -> np.ndarray:
    d = np.asarray(distance_m, dtype=float)
    middle = 0.5 * (1 + np.cos(np.pi * (d - FULL_CREDIT_M) / (NO_CREDIT_M - FULL_CREDIT_M)))
    value = np.where(d <= FULL_CREDIT_M, 1.0, np.where(d >= NO_CREDIT_M, 0.0, middle))
    return np.where(np.isnan(d), 0.0, value)


def _ramp(value: np.ndarray, good: float, poor: float) -> np.ndarray:
    """0 at `good` or better, 1 at `poor` or worse, linear between (NaN counts as poor)."""
    fraction = (np.asarray(value, float) - good) / (poor - good)
    return np.where(np.isnan(fraction), 1.0, np.clip(fraction, 0.0, 1.0))


class StreetFabric:
    """Intersection density and mean segment length within 400 m, on a 50 m grid.

    Counting points in a disc around 200,000 plots one by one is slow; summing a 50 m raster
    with a disc kernel once and reading it at each place is not.
    """

    def __init__(self, network: WalkingNetwork) -> None:
        nodes = network.intersections()
        mid_x = (network.x[network.edge_u] + network.x[network.edge_v]) / 2
        mid_y = (network.y[network.edge_u] + network.y[network.edge_v]) / 2
        self.x0 = min(network.x.min(), mid_x.min()) - RADIUS_M - GRID_M if network.n else 0.0
        self.y0 = min(network.y.min(), mid_y.min()) - RADIUS_M - GRID_M if network.n else 0.0
        width = int((network.x.max() - self.x0 + RADIUS_M) / GRID_M) + 2 if network.n else 1
        height = int((network.y.max() - self.y0 + RADIUS_M) / GRID_M) + 2 if network.n else 1
        shape = (height, width)
        r = int(RADIUS_M / GRID_M)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        kernel = ((xx**2 + yy**2) * GRID_M**2 <= RADIUS_M**2).astype(float)
        self.disc_km2 = kernel.sum() * (GRID_M / 1000) ** 2

        def raster(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
            grid = np.zeros(shape)
            np.add.at(grid, self._index(x, y), weight)
            return ndimage.convolve(grid, kernel, mode="constant")

        self.junctions = raster(network.x[nodes], network.y[nodes], np.ones(len(nodes)))
        self.length_sum = raster(mid_x, mid_y, network.edge_length)
        self.segments = raster(mid_x, mid_y, np.ones(len(mid_x)))
        self.shape = shape
        self.kernel = kernel

    def changed(
        self,
        junction_x: np.ndarray,
        junction_y: np.ndarray,
        junction_sign: np.ndarray,
        segment_x: np.ndarray,
        segment_y: np.ndarray,
        segment_length: np.ndarray,
        segment_sign: np.ndarray,
    ) -> StreetFabric:
        """A copy with a few junctions and segments (midpoints) added (+1) or removed (-1): the
        disc kernel added around each, instead of convolving the whole city again (a plan's
        street edits)."""
        new = object.__new__(StreetFabric)
        new.__dict__.update(self.__dict__)
        new.junctions = self.junctions.copy()
        new.length_sum = self.length_sum.copy()
        new.segments = self.segments.copy()
        r = self.kernel.shape[0] // 2

        def stamp(grid: np.ndarray, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> None:
            rows, cols = self._index(x, y)
            for row, col, w in zip(rows.tolist(), cols.tolist(), np.asarray(weight).tolist()):
                r0, r1 = max(row - r, 0), min(row + r + 1, self.shape[0])
                c0, c1 = max(col - r, 0), min(col + r + 1, self.shape[1])
                if r0 >= r1 or c0 >= c1:
                    continue
                k = self.kernel[r0 - row + r : r1 - row + r, c0 - col + r : c1 - col + r]
                grid[r0:r1, c0:c1] += w * k

        stamp(new.junctions, junction_x, junction_y, junction_sign)
        stamp(new.length_sum, segment_x, segment_y, np.asarray(segment_sign) * segment_length)
        stamp(new.segments, segment_x, segment_y, segment_sign)
        return new

    def _index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col = np.clip(((np.asarray(x) - self.x0) / GRID_M).astype(np.int64), 0, None)
        row = np.clip(((np.asarray(y) - self.y0) / GRID_M).astype(np.int64), 0, None)
        return row, col

    def at(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(intersections per km², mean segment length m) around each point."""
        row, col = self._index(x, y)
        inside = (row < self.shape[0]) & (col < self.shape[1])
        row = np.minimum(row, self.shape[0] - 1)
        col = np.minimum(col, self.shape[1] - 1)
        density = np.where(inside, self.junctions[row, col] / self.disc_km2, 0.0)
        segments = self.segments[row, col]
        mean_length = np.where(
            inside & (segments > 0), self.length_sum[row, col] / np.maximum(segments, 1), np.nan
        )
        return density, mean_length


def walk_parts(
    minutes: dict[str, np.ndarray], density: np.ndarray, mean_block_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(raw 0-1 weighted decay, street-fabric factor); the score is 100 · raw · factor."""
    total = sum(WEIGHTS.values())
    raw = (
        sum(
            WEIGHTS[c] * decay(np.asarray(m, float) * FLAT_METRES_PER_MINUTE)
            for c, m in minutes.items()
            if c in WEIGHTS
        )
        / total
    )
    penalty_density = MAX_PENALTY * _ramp(density, DENSITY_GOOD, DENSITY_POOR)
    penalty_block = MAX_PENALTY * _ramp(mean_block_m, BLOCK_GOOD, BLOCK_POOR)
    return np.asarray(raw, float), (1 - penalty_density) * (1 - penalty_block)


def score(raw: np.ndarray, factor: np.ndarray) -> np.ndarray:
    return np.round(100 * raw * factor, 1)


def walkability(
    minutes: dict[str, np.ndarray], density: np.ndarray, mean_block_m: np.ndarray
) -> np.ndarray:
    """The 0-100 score from minutes per category (NaN = beyond reach) and the street fabric."""
    return score(*walk_parts(minutes, density, mean_block_m))


def credit_change(
    category: str, before_minutes: np.ndarray, after_minutes: np.ndarray
) -> np.ndarray:
    """How much one category's new minutes move the raw score (a scenario's update)."""
    weight = WEIGHTS[category] / sum(WEIGHTS.values())
    return weight * (
        decay(np.asarray(after_minutes, float) * FLAT_METRES_PER_MINUTE)
        - decay(np.asarray(before_minutes, float) * FLAT_METRES_PER_MINUTE)
    )

"""The terrain of the foothill basin: the lower city north of Raiymbek Avenue (600-700 m at the
northern edge), the upper city on the foothill fan, the Trans-Ili Alatau above 2,000 m in the
south, cut by river gorges. A smooth function of position, sampled into the terrain raster."""

from __future__ import annotations

import numpy as np
from affine import Affine

from twin.demo.figures import figures
from twin.demo.geo import SmoothField, to_metric


class Relief:
    """Elevation (m) at metric points; deterministic for a seed."""

    def __init__(self, rng: np.random.Generator) -> None:
        spec = figures()["terrain"]
        knots = np.asarray(spec["profile"], dtype=float)
        meridian = np.full(len(knots), 76.95)
        self._knot_y = to_metric(np.column_stack([meridian, knots[:, 0]]))[:, 1]
        self._knot_z = knots[:, 1]
        order = np.argsort(self._knot_y)
        self._knot_y, self._knot_z = self._knot_y[order], self._knot_z[order]
        self._plain_wobble = SmoothField(rng, (6000, 18000), 10)
        self._ridges = SmoothField(rng, (1800, 6000), 16)
        self._fine = SmoothField(rng, (600, 1600), 12)
        self._gorges = [
            (to_metric([[g["lon"], 43.1]])[0, 0], g["depth_m"], g["width_m"])
            for g in spec["gorges"]
        ]
        self.plain_below = float(spec["plain_below_m"])
        self.mountain_from = float(spec["mountain_from_m"])

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        base = np.interp(y, self._knot_y, self._knot_z)
        # the foothill front is not a straight line: it wobbles a few hundred metres
        z = base + 25 * self._plain_wobble(x, y)
        mountain = np.clip((base - 1000) / 900, 0, 1.6)
        z = z + mountain * (260 * self._ridges(x, y) + 60 * self._fine(x, y))
        for gx, depth, width in self._gorges:
            valley = np.exp(-(((x - gx) / width) ** 2))
            z = z - depth * np.clip((base - 950) / 800, 0, 1) * valley
        return z

    def terrain_class(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = self(x, y)
        return np.where(
            z >= self.mountain_from,
            "mountain",
            np.where(z >= self.plain_below, "foothill", "plain"),
        )

    def raster(
        self, bounds: tuple[float, float, float, float], resolution: float
    ) -> tuple[np.ndarray, Affine]:
        """The relief sampled at cell centres over bounds (metres), north-up."""
        minx, miny, maxx, maxy = bounds
        width = int(np.ceil((maxx - minx) / resolution))
        height = int(np.ceil((maxy - miny) / resolution))
        transform = Affine(resolution, 0, minx, 0, -resolution, miny + height * resolution)
        cols = minx + (np.arange(width) + 0.5) * resolution
        rows = transform.f - (np.arange(height) + 0.5) * resolution
        elevation = np.empty((height, width), dtype=np.float32)
        step = 256
        for start in range(0, height, step):
            xx, yy = np.meshgrid(cols, rows[start : start + step])
            elevation[start : start + step] = self(xx, yy)
        return elevation, transform

"""Avalanche zones: slopes of 30-45 degrees above 1,500 m in the avalanche basins (the Small
and Big Almaty river basins, S2 l.5101). A basin is the catchment of a derived mudflow channel
network (every cell draining to it, twin/hazards/hydrology.py), chosen by its gorge's name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.hazards.hydrology import Mudflow

AVALANCHE_BASINS = ("Big Almaty river", "Small Almaty river")


@dataclass(frozen=True)
class AvalancheRules:
    above_m: float = 1500.0
    slope_min_deg: float = 30.0
    slope_max_deg: float = 45.0


def slope_degrees(elevation: np.ndarray, cell_m: float) -> np.ndarray:
    gy, gx = np.gradient(elevation, cell_m)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def catchments(mudflow: Mudflow) -> np.ndarray:
    """The basin number each cell drains to (0: none of the channel networks)."""
    drains = mudflow.drains_to.ravel()
    basin = np.zeros(drains.size, dtype=np.int64)
    has = drains >= 0
    basin[has] = mudflow.channel.ravel()[drains[has]]
    return basin.reshape(mudflow.channel.shape)


def avalanche_zones(
    mudflow: Mudflow,
    terrain: np.ndarray,
    rules: AvalancheRules | None = None,
    basins: tuple[str, ...] = AVALANCHE_BASINS,
) -> np.ndarray:
    """Int grid: the avalanche basin's number where a cell is an avalanche slope, 0 elsewhere.
    `terrain`: the raw DEM (the filled one has flattened pits); holes count as no slope."""
    rules = rules or AvalancheRules()
    wanted = [i + 1 for i, name in enumerate(mudflow.basins) if name in basins]
    slope = slope_degrees(
        np.where(np.isfinite(terrain), terrain, mudflow.elevation), mudflow.cell_m
    )
    steep = (
        (slope >= rules.slope_min_deg)
        & (slope <= rules.slope_max_deg)
        & (mudflow.elevation >= rules.above_m)
        & ~mudflow.holes
    )
    basin = catchments(mudflow)
    return np.where(steep & np.isin(basin, wanted), basin, 0)

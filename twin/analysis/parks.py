"""Parks and green: who lives within a 300 m / 500 m walk of a park, public green per resident
per district against the norm and the programme's targets, and how much of the city has no park
within walking distance (S2 §5.2: about 70% of the territory in 2022)."""

from __future__ import annotations

import numpy as np
import shapely

from twin.analysis.network import to_utm
from twin.catalog import figure

# The norm and the programme's targets and baseline (layers/_targets.yml, with their sources)
GREEN_NORM_M2 = figure("green_m2_per_resident", "norm")
GREEN_TARGET_2025_M2 = figure("green_m2_per_resident", "target_2025")
GREEN_TARGET_2030_M2 = figure("green_m2_per_resident", "target_2030")
NO_PARK_BASELINE_SHARE = figure("no_park_share", "baseline_2022")
WALKING_DISTANCE_M = 500.0  # "within walking distance" of a park


def green_by_area(park_shapes_utm: np.ndarray, areas_lonlat: np.ndarray) -> np.ndarray:
    """Square metres of (existing, public) park inside each area."""
    result = np.zeros(len(areas_lonlat))
    if len(park_shapes_utm) == 0 or len(areas_lonlat) == 0:
        return result
    areas = shapely.transform(areas_lonlat, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))
    which_park, which_area = shapely.STRtree(areas).query(park_shapes_utm, predicate="intersects")
    if len(which_park):
        pieces = shapely.area(shapely.intersection(park_shapes_utm[which_park], areas[which_area]))
        np.add.at(result, which_area, pieces)
    return result


def green_per_resident(green_m2: float, residents: float) -> float | None:
    return round(green_m2 / residents, 2) if residents > 0 else None


def built_up(plot_counts: np.ndarray) -> np.ndarray:
    """The cells that are the programme's "territory" (S2 l.676): those holding a plot, i.e.
    the built-up city, not the mountain slopes and gorges inside the boundary that nobody
    lives or works on (their share would otherwise swamp the figure)."""
    return np.asarray(plot_counts, dtype=float) > 0


def no_park_share(park_walk_m: np.ndarray, territory: np.ndarray | None = None) -> float | None:
    """Share of the territory's cells (equal-area H3 hexagons) with no park within a 500 m walk
    (`territory`: a mask of the built-up cells; all cells when absent)."""
    walk = np.asarray(park_walk_m, dtype=float)
    if territory is not None:
        walk = walk[np.asarray(territory, dtype=bool)]
    if len(walk) == 0:
        return None
    return round(float(np.mean(~(walk <= WALKING_DISTANCE_M))), 4)


def green_summary(green_m2: float, residents: float) -> dict[str, float | None]:
    return {
        "public_green_m2": round(float(green_m2), 1),
        "green_m2_per_resident": green_per_resident(green_m2, residents),
        "green_norm_m2": GREEN_NORM_M2,
        "green_target_2025_m2": GREEN_TARGET_2025_M2,
        "green_target_2030_m2": GREEN_TARGET_2030_M2,
    }


__all__ = [
    "GREEN_NORM_M2",
    "GREEN_TARGET_2025_M2",
    "GREEN_TARGET_2030_M2",
    "NO_PARK_BASELINE_SHARE",
    "built_up",
    "green_by_area",
    "green_summary",
    "no_park_share",
]

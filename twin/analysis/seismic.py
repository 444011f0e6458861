"""Seismic exposure of plots and buildings: intensity zone, nearest active fault, fault setback.

A place lies in a fault's setback when its footprint comes within that fault's `setback_m`
(default 100 m each side) of the trace. Distances are in UTM 43N metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.network import to_utm
from twin.sqlfiles import query

DEFAULT_SETBACK_M = 100.0


def utm_shapes(wkb: list[bytes]) -> np.ndarray:
    """WKB in lon/lat -> shapely geometries in UTM 43N."""
    shapes = shapely.from_wkb(wkb) if wkb else np.array([], dtype=object)
    return shapely.transform(shapes, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))


@dataclass
class Hazards:
    fault_names: np.ndarray
    fault_setback: np.ndarray
    faults_utm: np.ndarray
    zone_intensity: np.ndarray
    zones: np.ndarray  # lon/lat, strongest first

    @classmethod
    def load(cls, conn: psycopg.Connection) -> Hazards:
        faults = conn.execute(query("analysis/fault_lines")).fetchall()
        zones = conn.execute(query("analysis/seismic_zone_shapes")).fetchall()
        return cls(
            fault_names=np.array([r[1] for r in faults], dtype=object),
            fault_setback=np.array([float(r[2]) for r in faults]),
            faults_utm=utm_shapes([r[3] for r in faults]),
            zone_intensity=np.array([int(r[0]) for r in zones], dtype=np.int64),
            zones=shapely.from_wkb([r[1] for r in zones]) if zones else np.array([], dtype=object),
        )

    def intensity(self, points_lonlat: np.ndarray) -> np.ndarray:
        """The strongest microzone intensity at each point (0 where no zone covers it)."""
        result = np.zeros(len(points_lonlat), dtype=np.int64)
        if len(self.zones) == 0 or len(points_lonlat) == 0:
            return result
        which_point, which_zone = shapely.STRtree(self.zones).query(
            points_lonlat, predicate="within"
        )
        np.maximum.at(result, which_point, self.zone_intensity[which_zone])
        return result

    def exposure(self, footprints_utm: np.ndarray) -> pd.DataFrame:
        """Nearest fault, its distance, and whether any fault's setback reaches the footprint."""
        n = len(footprints_utm)
        frame = pd.DataFrame(
            {
                "nearest_fault": np.full(n, None, dtype=object),
                "fault_distance_m": np.full(n, np.nan),
                "in_fault_setback": np.zeros(n, dtype=bool),
            }
        )
        if len(self.faults_utm) == 0 or n == 0:
            return frame
        tree = shapely.STRtree(self.faults_utm)
        (which, fault), distance = tree.query_nearest(
            footprints_utm, return_distance=True, all_matches=False
        )
        frame.loc[which, "nearest_fault"] = self.fault_names[fault]
        frame.loc[which, "fault_distance_m"] = np.round(distance, 1)
        near_place, near_fault = tree.query(
            footprints_utm, predicate="dwithin", distance=float(self.fault_setback.max())
        )
        if len(near_place):
            gap = shapely.distance(footprints_utm[near_place], self.faults_utm[near_fault])
            inside = near_place[gap <= self.fault_setback[near_fault]]
            frame.loc[np.unique(inside), "in_fault_setback"] = True
        return frame


def building_exposure(conn: psycopg.Connection, hazards: Hazards) -> pd.DataFrame:
    """Every building with its intensity, nearest fault, setback flag and strengthening need."""
    rows = conn.execute(query("analysis/building_shapes")).fetchall()
    frame = pd.DataFrame.from_records(
        [r[:7] for r in rows],
        columns=[
            "building_id",
            "plot_cadastral_number",
            "use",
            "seismic_status",
            "year_built",
            "district",
            "stock",
        ],
    )
    shapes = shapely.from_wkb([r[7] for r in rows]) if rows else np.array([], dtype=object)
    frame["geometry"] = shapes
    points = shapely.point_on_surface(shapes)
    frame["seismic_intensity"] = hazards.intensity(points)
    footprints = shapely.transform(shapes, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))
    exposure = hazards.exposure(footprints)
    for column in exposure.columns:
        frame[column] = exposure[column].to_numpy()
    frame["needs_strengthening"] = frame["seismic_status"].to_numpy() == "needs_strengthening"
    return frame


ATTESTED_STATUSES = ("compliant", "needs_strengthening", "strengthened")


def attested(frame: pd.DataFrame, code_year: int = 2001) -> np.ndarray:
    """The programme's attested stock (S2 l.5071): pre-2001 apartment and public buildings
    with a seismic assessment; private houses and the rest are counted apart."""
    return (
        (frame["year_built"].to_numpy(float) < code_year)
        & frame["stock"].isin(["apartment", "public"]).to_numpy()
        & frame["seismic_status"].isin(ATTESTED_STATUSES).to_numpy()
    )

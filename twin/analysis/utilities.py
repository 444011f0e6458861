"""Utility networks: can a plot connect (metres to the nearest line of each network), and how
worn is each network per district against the programme's 2030 targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.seismic import utm_shapes
from twin.catalog import figures_by
from twin.sqlfiles import query

NETWORKS = ("water", "sewer", "heating", "gas", "power", "lighting")
# S2 §1.3: length-weighted wear by 2030 and in 2022, per network (layers/_targets.yml)
WEAR_TARGET_2030 = figures_by("wear_{}_pct", "target_2030", NETWORKS)
WEAR_BASELINE_2022 = figures_by("wear_{}_pct", "baseline_2022", NETWORKS)
SEARCH_M = 5000.0  # farther than 5 km counts as "no line" (null)


def line_distances(conn: psycopg.Connection, footprints_utm: np.ndarray) -> pd.DataFrame:
    """Metres from each footprint to the nearest line of every network (NaN beyond 5 km)."""
    rows = conn.execute(query("analysis/utility_line_shapes")).fetchall()
    networks = np.array([r[0] for r in rows], dtype=object)
    lines = utm_shapes([r[1] for r in rows])
    result = {}
    for network in NETWORKS:
        distance = np.full(len(footprints_utm), np.nan)
        chosen = lines[networks == network] if len(lines) else lines
        if len(chosen) and len(footprints_utm):
            tree = shapely.STRtree(chosen)
            (which, _), gap = tree.query_nearest(
                footprints_utm, max_distance=SEARCH_M, return_distance=True, all_matches=False
            )
            distance[which] = np.round(gap, 1)
        result[f"{network}_m"] = distance
    return pd.DataFrame(result)


def wear(conn: psycopg.Connection) -> pd.DataFrame:
    """Length-weighted wear (%) and length (km) per network and district ('*city*': all)."""
    rows = conn.execute(query("analysis/utility_wear")).fetchall()
    frame = (
        pd.DataFrame.from_records(rows, columns=["network", "district", "wear_pct", "length_km"])
        if rows
        else pd.DataFrame(columns=["network", "district", "wear_pct", "length_km"])
    )
    frame["wear_pct"] = pd.to_numeric(frame["wear_pct"]).round(2)
    frame["length_km"] = pd.to_numeric(frame["length_km"]).round(2)
    return frame

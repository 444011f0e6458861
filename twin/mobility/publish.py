"""The mobility and safety indicators as OGC collections, written by `twin analyse`.

One computation (`compute_with_features`) gives the `GET /indicators/mobility-safety` document
and three analysis layers, so a GIS client and the dashboard read the same figures:
- district_mobility_safety: each district's polygon with every indicator and its target;
- unlit_streets: one feature per street name and district with its unlit segments;
- camera_gaps: the schools, clinics and metro/BRT stations without a camera within 50 m.
The city's row, the targets and the input versions are kept in the provenance of
district_mobility_safety; twin/mobility/document.py serves the published document while those
inputs are current and computes afresh when a layer changed since.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.city import CityModel, cell_polygons
from twin.analysis.network import data_versions, to_lonlat
from twin.catalog import mobility_figure
from twin.errors import TwinError
from twin.mobility.indicators import compute_with_features, input_layers, targets
from twin.sqlfiles import query
from twin.store import Provenance, write_layer

LOG = logging.getLogger("twin.mobility.publish")

PUBLISHED = ("district_mobility_safety", "unlit_streets", "camera_gaps", "micromobility_cells")
SOURCE = (
    "twin analyse (twin/mobility): computed from bike_lanes, bikeshare_stations, streets "
    "(lit derived from utility_lines 'lighting'), cameras, amenities, transit_stops, "
    "police_posts, gathering_points, early_warning_stations, plots, districts; bike and "
    "scooter reach per cell from streets, bike_lanes, scooter_parking (twin/mobility/"
    "micromobility.py)"
)


def district_layer(conn: psycopg.Connection, document: dict[str, Any]) -> gpd.GeoDataFrame:
    shapes = dict(
        (name, wkb) for name, _, wkb in conn.execute(query("analysis/district_shapes")).fetchall()
    )
    rows = document["districts"]
    return gpd.GeoDataFrame(
        pd.DataFrame(rows),
        geometry=shapely.from_wkb([shapes[r["district"]] for r in rows]),
        crs=4326,
    )


def unlit_street_layer(conn: psycopg.Connection, features: dict[str, Any]) -> gpd.GeoDataFrame:
    groups: pd.DataFrame = features["unlit_groups"]
    group = features["street_group"]
    unlit = group >= 0
    order = np.argsort(group[unlit], kind="stable")
    ids = features["street_id"][unlit][order]
    wkb = dict(conn.execute(query("mobility/street_lines"), {"ids": ids.tolist()}).fetchall())
    lines = shapely.from_wkb([wkb[i] for i in ids.tolist()])
    geometry = shapely.multilinestrings(lines, indices=group[unlit][order]) if len(lines) else []
    return gpd.GeoDataFrame(
        groups[["district", "name", "unlit_m", "segments"]].reset_index(drop=True),
        geometry=list(geometry),
        crs=4326,
    )


def camera_gap_layer(features: dict[str, Any]) -> gpd.GeoDataFrame:
    open_ = features["site_open"]
    sites = [r for r, o in zip(features["sites"], open_) if o]
    xy = features["site_xy"][open_]
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1]) if len(xy) else (np.zeros(0), np.zeros(0))
    near = features["site_near"][open_]
    frame = pd.DataFrame(
        {
            "site_layer": [r[0] for r in sites],
            "site_id": [int(r[1]) for r in sites],
            "kind": [r[2] for r in sites],
            "name": [r[3] for r in sites],
            "district": features["site_district"][open_],
            "nearest_camera_m": np.where(np.isfinite(near), np.round(near, 1), np.nan),
            "watch_radius_m": float(mobility_figure("camera_watch_radius_m")),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=4326)


def micromobility_cell_layer(features: dict[str, Any]) -> gpd.GeoDataFrame:
    """The cells' bike and scooter reach (twin/mobility/micromobility.py) as hexagons."""
    cells: pd.DataFrame = features["micromobility_cells"]
    return gpd.GeoDataFrame(
        cells.reset_index(drop=True),
        geometry=list(cell_polygons(cells["h3"].tolist())),
        crs=4326,
    )


def publish_mobility(
    conn: psycopg.Connection,
    city: CityModel,
    mode: str = "slope",
    lighting: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute the indicators on the analysis' city model and write the three layers; return
    the document (as `GET /indicators/mobility-safety` serves it) with the timings."""
    started = time.perf_counter()
    layers = input_layers()
    version = data_versions(conn, layers)
    try:
        document, features = compute_with_features(conn, city, mode)
    except TwinError as exc:  # e.g. no districts: the rest of the analysis still publishes
        LOG.warning("mobility and safety layers not published: %s", exc)
        return {"available": False, "reason": str(exc)}
    document["computed"]["inputs"] = dict(zip(layers, version))
    if lighting is not None:
        document["computed"]["lighting"] = lighting
    computed_s = time.perf_counter() - started
    synthetic = bool(
        conn.execute(
            query("analysis/input_provenance"), {"names": ["plots", "streets", "cameras"]}
        ).fetchone()[0]
    )
    layers = {
        "district_mobility_safety": district_layer(conn, document),
        "unlit_streets": unlit_street_layer(conn, features),
        "camera_gaps": camera_gap_layer(features),
        "micromobility_cells": micromobility_cell_layer(features),
    }
    summary = {
        "city": document["city"],
        "targets": targets(),
        "computed": document["computed"],
        "micromobility": document["micromobility"],
    }
    with conn.transaction():
        for name, frame in layers.items():
            write_layer(
                conn,
                name,
                frame,
                Provenance(
                    source=SOURCE,
                    licence="CC-BY-4.0",
                    synthetic=synthetic,
                    details=summary
                    if name == "district_mobility_safety"
                    else {"computed": document["computed"]},
                ),
            )
    document["computed"]["timings"] = {
        "compute_s": round(computed_s, 3),
        "publish_s": round(time.perf_counter() - started - computed_s, 3),
    }
    return document


def mobility_current(conn: psycopg.Connection) -> bool:
    """Whether the published mobility layers were computed from the current data (a twin
    without districts has nothing to publish, so it counts as current)."""
    if not conn.execute(query("analysis/district_shapes")).fetchone():
        return True
    row = conn.execute(query("mobility/published_summary")).fetchone()
    inputs = ((row[0] or {}).get("computed") or {}).get("inputs") if row else None
    layers = input_layers()
    return inputs == dict(zip(layers, data_versions(conn, layers)))


def published_document(conn: psycopg.Connection, version: tuple[int, ...]) -> dict[str, Any] | None:
    """The document as `twin analyse` published it, when its inputs are still the current
    data (None otherwise: the caller computes afresh)."""
    row = conn.execute(query("mobility/published_summary")).fetchone()
    if row is None or row[0] is None:
        return None
    summary = row[0]
    if (summary.get("computed") or {}).get("inputs") != dict(zip(input_layers(), version)):
        return None
    districts = [r[0] for r in conn.execute(query("mobility/published_districts")).fetchall()]
    unlit = [
        {"district": d, "name": n, "unlit_m": float(m), "segments": int(s)}
        for d, n, m, s in conn.execute(query("mobility/published_unlit")).fetchall()
    ]
    sites = [
        {
            "layer": layer,
            "id": int(i),
            "kind": k,
            "name": n,
            "district": d,
            "nearest_camera_m": None if m is None else float(m),
        }
        for layer, i, k, n, d, m in conn.execute(query("mobility/published_gaps")).fetchall()
    ]
    computed = dict(summary["computed"], published=True, published_at=row[1].isoformat())
    return {
        "city": summary["city"],
        "districts": districts,
        "targets": summary["targets"],
        "unlit_streets": unlit,
        "sites_without_camera": sites,
        "micromobility": summary.get("micromobility"),
        "computed": computed,
    }

"""The city the Features tests read: the demo city when `twin load demo` exists, else a small
grid of plots and amenities written through the store (real PostGIS either way)."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
from shapely.geometry import MultiPolygon, Point, box

from conftest import run_twin

DISTRICTS = ["Алмалинский", "Медеуский", "Бостандыкский", "Ауэзовский"]
LAND_USES = [
    "residential",
    "mixed",
    "commercial",
    "industrial",
    "public",
    "green",
    "transport",
    "vacant",
]


def _grid_city(url: str) -> None:
    from twin.catalog import get_layer
    from twin.store import Provenance, write_layer

    n = 2400
    i = np.arange(n)
    x = 76.86 + (i % 60) * 0.0012
    y = 43.20 + (i // 60) * 0.0009
    plots = gpd.GeoDataFrame(
        {
            "cadastral_number": [f"20-311-{k:05d}" for k in i],
            "land_use": [LAND_USES[k % 8] for k in i],
            "area_m2": (i % 97) * 20.5 + 100,
            "zoning": [None if k % 11 == 0 else "R2" for k in i],
            "max_height_m": np.where(i % 5 == 0, np.nan, 9 + i % 60),
            "owner_type": [["state", "municipal", "private", "leased"][k % 4] for k in i],
            "district": [DISTRICTS[k % 4] for k in i],
            "block_code": [f"B{k // 100}" for k in i],
            "residents": i % 300,
            "registered_on": [dt.date(1995, 1, 1) + dt.timedelta(days=int(k) * 5) for k in i],
        },
        geometry=[MultiPolygon([box(a, b, a + 0.001, b + 0.0007)]) for a, b in zip(x, y)],
        crs=4326,
    )
    amenities = gpd.GeoDataFrame(
        {
            "name": [f"Школа №{k}" if k % 3 == 0 else f"Shop {k}" for k in range(300)],
            "category": ["education" if k % 3 == 0 else "commerce" for k in range(300)],
            "kind": ["school" if k % 3 == 0 else "shop" for k in range(300)],
            "capacity": pd.array(
                [None if k % 7 == 0 else 100 + k for k in range(300)], dtype="Int64"
            ),
            "district": [DISTRICTS[k % 4] for k in range(300)],
            "address": [f"ул. Абая {k}" for k in range(300)],
        },
        geometry=[Point(76.86 + (k % 20) * 0.0035, 43.20 + (k // 20) * 0.0025) for k in range(300)],
        crs=4326,
    )
    provenance = Provenance("features test grid", "CC0", True, {})
    with psycopg.connect(url) as conn:
        write_layer(conn, get_layer("plots"), plots, provenance, mode="replace")
        write_layer(conn, get_layer("amenities"), amenities, provenance, mode="replace")


def city(request: pytest.FixtureRequest, url: str) -> str:
    """Load the demo city if the loader exists, otherwise the grid; returns the URL."""
    if run_twin("load", "--help", check=False).returncode == 0:
        return request.getfixturevalue("demo_city")
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM plots").fetchone()[0]
    if not have:
        _grid_city(url)
    return url

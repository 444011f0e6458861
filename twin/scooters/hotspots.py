"""Crash hotspots by year: H3 cells with an empirical-Bayes excess over their streets' expectation.

A raw count ranks busy arterials first and is noisy where counts are small. The method of
the Highway Safety Manual (Part B, network screening; Hauer 1997, "Observational Before-After
Studies in Road Safety"), on H3 cells of resolution 9 (~0.1 km²):

1. exposure: the drivable street length of each class in each cell (points every <= 100 m);
2. expected count mu of a cell in a year: sum over classes of its km x the city's crashes per
   km of that class that year (a one-variable safety performance function per class);
3. overdispersion k of a negative binomial (Var = mu + k mu²) by the method of moments over
   all cells: k = sum((y - mu)² - y) / sum(mu²), at least 0.01;
4. the empirical-Bayes estimate EB = w mu + (1 - w) y with w = 1 / (1 + k mu); the excess
   EB - mu (the "potential for safety improvement") ranks the cells;
5. a hotspot: a cell with at least MIN_CRASHES crashes and a positive excess, the TOP_PER_YEAR
   largest each year.

Each hotspot carries its street parameters: the main street (most crashes) and its class, the
speed limit - signed where the streets carry it (max_speed_kmh: `speed_limit_source` attested),
else assumed by class (SPEED_LIMIT_KMH: assumed) - the lit share of its street length, its
crossings (derived: crashes/crossings.sql), cameras within 50 m and transit stops within
150 m of the cell. docs/road-safety.md states the method and assumptions.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from h3.api import basic_int as h3int

from twin.scooters.trips import H3_RESOLUTION, cell_polygons
from twin.sqlfiles import query
from twin.store import Provenance, write_layer

LOG = logging.getLogger("twin.scooters.hotspots")

MIN_CRASHES = 3
TOP_PER_YEAR = 30
MIN_OVERDISPERSION = 0.01
DRIVABLE = ("motorway", "arterial", "primary", "secondary", "tertiary", "residential", "service")
# Kazakhstan's rules of the road: 60 km/h in a settlement unless signed, 20 km/h in residential
# zones and yards; city expressways signed 80. Assumed by class where a street has no signed limit.
SPEED_LIMIT_KMH = {
    "motorway": 80,
    "arterial": 60,
    "primary": 60,
    "secondary": 60,
    "tertiary": 60,
    "residential": 60,
    "service": 20,
}


def _cells(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.fromiter(
        (h3int.latlng_to_cell(y, x, H3_RESOLUTION) for x, y in zip(lon, lat, strict=True)),
        dtype=np.int64,
        count=len(lon),
    )


def speed_limit(crashes: list[tuple], street_class: str | None) -> tuple[int | None, str | None]:
    """A hotspot's speed limit and whether it is `attested` (the signed limit of the streets
    its crashes happened on, the most common by crashes; streets.max_speed_kmh) or `assumed`
    (by its main street's class, SPEED_LIMIT_KMH); (None, None) when neither is known."""
    signed = Counter(c[9] for c in crashes if c[9] is not None)
    if signed:
        return int(signed.most_common(1)[0][0]), "attested"
    assumed = SPEED_LIMIT_KMH.get(street_class or "")
    return (assumed, "assumed") if assumed is not None else (None, None)


def empirical_bayes(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, float]:
    """The EB estimates of cells with `observed` counts and `expected` means, and the
    overdispersion k fitted by the method of moments."""
    k = float(((observed - expected) ** 2 - observed).sum() / max((expected**2).sum(), 1e-9))
    k = max(k, MIN_OVERDISPERSION)
    weight = 1.0 / (1.0 + k * expected)
    return weight * expected + (1.0 - weight) * observed, k


def compute_hotspots(conn: psycopg.Connection, top: int = TOP_PER_YEAR) -> list[dict[str, Any]]:
    """The hotspots of every year of the crashes layer (rows of crash_hotspots)."""
    exposure = np.array(
        conn.execute(query("crashes/street_exposure"), {"classes": list(DRIVABLE)}).fetchall(),
        dtype=object,
    )
    crashes = conn.execute(query("crashes/crash_points")).fetchall()
    if not crashes or not len(exposure):
        return []
    street_cell = _cells(exposure[:, 3].astype(float), exposure[:, 4].astype(float))
    street_class = exposure[:, 0]
    street_lit = exposure[:, 1].astype(bool)
    street_km = exposure[:, 2].astype(float) / 1000
    km: dict[tuple[int, str], float] = defaultdict(float)  # (cell, class) -> km
    for cell, cls, length in zip(street_cell, street_class, street_km, strict=True):
        km[(int(cell), cls)] += length
    class_km = Counter()
    for (_, cls), length in km.items():
        class_km[cls] += length
    cell_km = Counter()
    lit_km = Counter()
    for cell, length, lit in zip(street_cell, street_km, street_lit, strict=True):
        cell_km[int(cell)] += length
        if lit:
            lit_km[int(cell)] += length
    crossing_points = np.array(conn.execute(query("crashes/crossings")).fetchall(), dtype=float)
    crossings = Counter(
        _cells(crossing_points[:, 0], crossing_points[:, 1]).tolist()
        if len(crossing_points)
        else []
    )
    crash_cell = _cells(np.array([c[1] for c in crashes]), np.array([c[2] for c in crashes]))
    by_year: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(crashes):
        by_year[row[0]].append(i)
    cells_with_streets = sorted(cell_km)
    hotspots = []
    for year in sorted(by_year):
        rows = by_year[year]
        per_class = Counter(crashes[i][7] for i in rows if crashes[i][7])
        rate = {cls: per_class[cls] / class_km[cls] for cls in class_km if class_km[cls] > 0}
        observed_by_cell = Counter(int(crash_cell[i]) for i in rows)
        cells = sorted(set(cells_with_streets) | set(observed_by_cell))
        mu = np.array([sum(km.get((c, cls), 0.0) * r for cls, r in rate.items()) for c in cells])
        y = np.array([observed_by_cell.get(c, 0) for c in cells], dtype=float)
        eb, k = empirical_bayes(y, mu)
        excess = eb - mu
        order = [i for i in np.argsort(-excess) if y[i] >= MIN_CRASHES and excess[i] > 0][:top]
        members: dict[int, list[int]] = defaultdict(list)
        for i in rows:
            members[int(crash_cell[i])].append(i)
        for rank, i in enumerate(order, 1):
            cell = cells[i]
            mine = [crashes[j] for j in members[cell]]
            street, _ = (
                Counter(c[6] for c in mine if c[6]).most_common(1)[0]
                if any(c[6] for c in mine)
                else (None, 0)
            )
            classes = Counter(c[7] for c in mine if c[7])
            main_class = classes.most_common(1)[0][0] if classes else None
            districts = Counter(c[8] for c in mine if c[8])
            limit, limit_source = speed_limit(mine, main_class)
            hotspots.append(
                {
                    "year": year,
                    "h3": h3int.int_to_str(cell),
                    "cell": cell,
                    "rank": rank,
                    "crashes": int(y[i]),
                    "killed": sum(c[3] for c in mine),
                    "injured": sum(c[4] for c in mine),
                    "pedestrian_crashes": sum(1 for c in mine if c[5]),
                    "expected": round(float(mu[i]), 3),
                    "eb_estimate": round(float(eb[i]), 3),
                    "excess": round(float(excess[i]), 3),
                    "overdispersion": k,
                    "street": street,
                    "street_class": main_class,
                    "speed_limit_kmh": limit,
                    "speed_limit_source": limit_source,
                    "lit_share": round(lit_km[cell] / cell_km[cell], 3) if cell_km[cell] else None,
                    "crossings": crossings.get(cell, 0),
                    "district": districts.most_common(1)[0][0] if districts else None,
                }
            )
    return hotspots


def publish_hotspots(conn: psycopg.Connection, top: int = TOP_PER_YEAR) -> int:
    """Recompute crash_hotspots from the crashes layer; returns the hotspots written."""
    started = time.perf_counter()
    hotspots = compute_hotspots(conn, top)
    if not hotspots:
        conn.execute(query("crashes/forget_hotspots"))
        return 0
    shapes = cell_polygons({h["cell"] for h in hotspots})
    geometry = shapely.from_wkb([shapes[h["cell"]] for h in hotspots])
    near = {
        n: (cameras, stops)
        for n, cameras, stops in conn.execute(
            query("crashes/cell_neighbours"),
            {
                "n": list(range(len(hotspots))),
                "g": [bytes.fromhex(shapes[h["cell"]]) for h in hotspots],
            },
        )
    }
    for n, h in enumerate(hotspots):
        h["cameras_50m"], h["stops_150m"] = near[n]
    frame = gpd.GeoDataFrame(
        [{k: v for k, v in h.items() if k not in {"cell", "overdispersion"}} for h in hotspots],
        geometry=geometry,
        crs=4326,
    )
    written = write_layer(
        conn,
        "crash_hotspots",
        frame,
        Provenance(
            source="twin/scooters/hotspots.py: H3 cells, empirical Bayes over street classes",
            licence="CC0-1.0",
            details={
                "min_crashes": MIN_CRASHES,
                "top_per_year": top,
                "overdispersion": sorted({round(h["overdispersion"], 4) for h in hotspots}),
            },
        ),
    )
    LOG.info(
        "crash hotspots published",
        extra={"fields": {"hotspots": written, "s": round(time.perf_counter() - started, 2)}},
    )
    return written

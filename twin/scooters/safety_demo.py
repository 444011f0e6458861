"""The demo's day of scooter trips and five years of crashes, calibrated to the seeds, synthetic.

Trips (S1, S2 §1.2): up to 100 thousand a day from the single operator and its partners
(Jet, Yandex Go, Whoosh; 15 thousand scooters), up to 5 km, concentrated in the centre (they
start at the centre-weighted scooter parking of the demo), over the day's micromobility curve
(a morning bump, an evening peak). The `small` demo writes a tenth of them. They go through
the same ingest as an operator's file (twin/scooters/trips.py), so trip_cells is built the
same way; 20 in 100,000 report an injury at a point of their route (scooter_injuries).

Crashes (S2 §7.2, Annex 9): the yearly totals of 2019-2021 as given, 2017 and 2018 splitting
what the 2017-2021 totals leave (20.6 thousand crashes, 24.3 thousand injured, 598 killed);
62% of the dead and 40% of the injured are pedestrians. Crashes fall on street segments by a
risk weight (class, nearness to the centre, no lighting at night), half of them at the
segment's junction ends, where real crashes gather. docs/road-safety.md lists the figures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.catalog import CITY_BBOX
from twin.demo.geo import stream
from twin.scooters.hotspots import publish_hotspots
from twin.scooters.trips import TripReport, ingest_trips, refresh_trip_cells
from twin.sqlfiles import query
from twin.store import Provenance, write_layer

DEMO_DAY = datetime(2025, 7, 15, tzinfo=UTC)  # a summer weekday of the single operator (S1)
LOCAL_OFFSET_H = 5  # Almaty, UTC+5
TRIPS_PER_DAY = {"city": 100_000, "small": 10_000}
SCOOTERS = {"city": 15_000, "small": 1_500}
OPERATORS = {"Jet": 0.40, "Yandex Go": 0.35, "Whoosh": 0.25}  # as the GBFS demo (scooters.md)
# share of the day's trips by local hour: quiet night, a morning bump, the evening peak
HOURLY = np.array(
    [1.0, 0.6, 0.4, 0.3, 0.2, 0.3, 0.8, 2.5, 4.5, 4.0, 3.5, 4.0]
    + [5.0, 5.5, 5.5, 6.0, 6.5, 7.5, 8.5, 9.0, 8.5, 7.0, 4.5, 2.2]
)
# injury reports with the trips: 20 injured riders per 100,000 trips (Austin Public Health and
# CDC, "Dockless Electric Scooter-Related Injuries Study", 2019); 15% serious (assumed)
INJURIES_PER_TRIP = 20 / 100_000
INJURY_SERIOUS_SHARE = 0.15
MAX_TRIP_M = 5_000.0
M_PER_DEG_LAT = 111_132.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(43.25))

# year: (crashes, injured, killed); 2017-2018 share what 2017-2021 leaves after 2019-2021
CRASH_YEARS = {
    2017: (4_818, 5_713, 135),
    2018: (4_818, 5_713, 134),
    2019: (4_489, 5_308, 161),
    2020: (3_245, 3_807, 84),
    2021: (3_230, 3_759, 84),
}
PEDESTRIAN_SHARE_KILLED = 0.62
PEDESTRIAN_SHARE_INJURED = 0.40
SERIOUS_SHARE = 0.25  # of the crashes with injured only (assumed)
CLASS_RISK = {
    "motorway": 3.0,
    "arterial": 4.0,
    "primary": 3.0,
    "secondary": 2.0,
    "tertiary": 1.2,
    "residential": 0.4,
    "service": 0.2,
}
# crash hour (local): daytime and evening heavy, as the city's traffic
CRASH_HOURLY = np.array(
    [1.5, 1.0, 0.8, 0.6, 0.5, 0.8, 2.0, 4.0, 5.5, 5.0, 4.5, 4.5]
    + [5.0, 5.0, 5.0, 5.5, 6.0, 7.0, 7.5, 7.0, 6.0, 5.0, 3.5, 2.5]
)
VEHICLES = ["car", "car,car", "car,bus", "car,truck", "car,motorcycle", "car,e-scooter"]
VEHICLE_SHARES = [0.45, 0.30, 0.07, 0.08, 0.05, 0.05]


def _centre(conn: psycopg.Connection) -> tuple[float, float]:
    row = conn.execute(query("crashes/parking_centre")).fetchone()
    return (row[0], row[1]) if row and row[0] is not None else (76.945, 43.25)


def demo_trip_rows(conn: psycopg.Connection, scale: str, seed: int) -> list[dict[str, Any]]:
    """The demo's day of trips as MDS 2.0 trips (times in ms, routes as [lon, lat] lists)."""
    rng = stream(seed, "scooter-trips")
    count = TRIPS_PER_DAY.get(scale, TRIPS_PER_DAY["small"])
    parking = np.array(conn.execute(query("crashes/parking_points")).fetchall(), dtype=float)
    if len(parking):  # the operators' zone is the city: the metro demo's suburbs lie beyond it
        minx, miny, maxx, maxy = CITY_BBOX
        lon, lat = parking[:, 0], parking[:, 1]
        parking = parking[(lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)]
    if not len(parking):
        cx, cy = _centre(conn)
        parking = np.array([[cx, cy]])
    start = parking[rng.integers(0, len(parking), count)]
    start += rng.normal(0, 40, (count, 2)) / [M_PER_DEG_LON, M_PER_DEG_LAT]
    length = np.clip(rng.lognormal(np.log(1_600), 0.6, count), 300, MAX_TRIP_M)
    angle = rng.uniform(0, 2 * np.pi, count)
    cos, sin = np.cos(angle), np.sin(angle)
    dx = length * cos / (np.abs(cos) + np.abs(sin))  # along the grid: |dx| + |dy| = length
    dy = length * sin / (np.abs(cos) + np.abs(sin))
    end = start + np.column_stack([dx / M_PER_DEG_LON, dy / M_PER_DEG_LAT])
    minx, miny, maxx, maxy = CITY_BBOX
    outside = (end[:, 0] < minx) | (end[:, 0] > maxx) | (end[:, 1] < miny) | (end[:, 1] > maxy)
    end[outside] = start[outside] - (end[outside] - start[outside])  # turn back into the city
    speed = np.clip(rng.normal(13.0, 2.5, count), 7.0, 22.0) / 3.6
    local_hour = rng.choice(24, count, p=HOURLY / HOURLY.sum())
    offset_s = (local_hour - LOCAL_OFFSET_H) * 3600 + rng.uniform(0, 3600, count)
    begin_ms = (DEMO_DAY.timestamp() + offset_s) * 1000
    end_ms = begin_ms + (length / speed + 30) * 1000
    names = list(OPERATORS)
    operator = rng.choice(len(names), count, p=list(OPERATORS.values()))
    device = rng.integers(0, SCOOTERS.get(scale, SCOOTERS["small"]), count)
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.demo.almaty-twin")) for name in names}
    rows = []
    start_list, end_list = start.tolist(), end.tolist()
    for i in range(count):
        name = names[operator[i]]
        sx, sy = start_list[i]
        ex, ey = end_list[i]
        rows.append(
            {
                "provider_id": ids[name],
                "provider_name": name,
                "device_id": str(uuid.UUID(int=(int(operator[i]) + 1) << 64 | int(device[i]))),
                "trip_id": str(uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | i)),
                "start_time": int(begin_ms[i]),
                "end_time": int(end_ms[i]),
                "start_location": {"lat": sy, "lng": sx},
                "end_location": {"lat": ey, "lng": ex},
                "route": [[sx, sy], [ex, sy], [ex, ey]],
                "distance": round(float(length[i])),  # MDS 2.0: integers, m and s
                "duration": round(float((end_ms[i] - begin_ms[i]) / 1000)),
            }
        )
    _add_injuries(rows, seed)
    return rows


def _add_injuries(rows: list[dict[str, Any]], seed: int) -> None:
    """A calibrated few trips report an injury, at a point along their route (synthetic)."""
    rng = stream(seed, "scooter-injuries")
    count = max(1, round(len(rows) * INJURIES_PER_TRIP))
    for i in rng.choice(len(rows), count, replace=False).tolist():
        trip = rows[i]
        (ax, ay), (bx, by) = trip["route"][0], trip["route"][1]
        share = float(rng.uniform(0.2, 0.9))
        trip["injury"] = {
            "severity": "serious" if rng.random() < INJURY_SERIOUS_SHARE else "slight",
            "location": {"lat": ay + (by - ay) * share, "lng": ax + (bx - ax) * share},
            "time": int(trip["start_time"] + (trip["end_time"] - trip["start_time"]) * share),
        }


def load_demo_trips(conn: psycopg.Connection, scale: str, seed: int) -> TripReport:
    """Replace the demo's day of trips (the ingest refuses a trip id twice: the day's
    partition is emptied first)."""
    conn.execute(query("crashes/forget_demo_trips"), {"from": DEMO_DAY})
    # the ingest adds to trip_cells: the hours of the trips forgotten are recounted without them
    refresh_trip_cells(
        conn, DEMO_DAY - timedelta(days=1), DEMO_DAY + timedelta(days=3), synthetic=True
    )
    conn.execute(query("crashes/forget_demo_injuries"), {"from": DEMO_DAY})
    rows = demo_trip_rows(conn, scale, seed)
    return ingest_trips(
        conn,
        rows,
        synthetic=True,
        source=f"Almaty Twin demo generator, scooter trips (seed {seed}, scale {scale})",
    )


def demo_crashes(conn: psycopg.Connection, seed: int) -> gpd.GeoDataFrame:
    """Five years of crashes on the demo's streets (lon/lat), calibrated to CRASH_YEARS."""
    rng = stream(seed, "crashes")
    streets = pd.DataFrame(
        conn.execute(query("crashes/risk_streets")).fetchall(),
        columns=["id", "name", "highway", "lit", "district", "length_m", "core_m", "wkb"],
    )
    streets = streets[streets.highway.isin(list(CLASS_RISK))].reset_index(drop=True)
    lines = shapely.from_wkb(streets.wkb.map(bytes).to_numpy())
    base = (
        streets.highway.map(CLASS_RISK).to_numpy()
        * np.maximum(streets.length_m.to_numpy(), 20.0)
        * np.exp(-streets.core_m.to_numpy() / 4_000.0)
    )
    frames = []
    for year, (crashes, injured, killed) in CRASH_YEARS.items():
        local_hour = rng.choice(24, crashes, p=CRASH_HOURLY / CRASH_HOURLY.sum())
        night = (local_hour >= 21) | (local_hour < 6)
        unlit = ~streets.lit.fillna(True).to_numpy().astype(bool)
        day_p = base / base.sum()
        night_w = base * np.where(unlit, 2.5, 1.0)
        night_p = night_w / night_w.sum()
        segment = np.where(
            night,
            rng.choice(len(streets), crashes, p=night_p),
            rng.choice(len(streets), crashes, p=day_p),
        )
        at_junction = rng.random(crashes) < 0.5
        fraction = np.where(at_junction, rng.choice([0.0, 1.0], crashes), rng.random(crashes))
        points = shapely.line_interpolate_point(lines[segment], fraction, normalized=True)
        points = shapely.set_coordinates(
            points, shapely.get_coordinates(points) + rng.normal(0, 0.00004, (crashes, 2))
        )
        dead = np.zeros(crashes, dtype=int)
        dead[rng.choice(crashes, killed, replace=False)] = 1
        hurt = np.where(dead == 0, 1, 0)
        extra = injured - int(hurt.sum())
        if extra > 0:
            np.add.at(hurt, rng.choice(crashes, extra), 1)
        pedestrian = np.zeros(crashes, dtype=bool)
        fatal = np.flatnonzero(dead)
        pedestrian[rng.choice(fatal, round(PEDESTRIAN_SHARE_KILLED * killed), replace=False)] = True
        others = np.flatnonzero(dead == 0)
        pedestrian[
            rng.choice(others, round(PEDESTRIAN_SHARE_INJURED * len(others)), replace=False)
        ] = True
        severity = np.where(
            dead > 0, "fatal", np.where(rng.random(crashes) < SERIOUS_SHARE, "serious", "slight")
        )
        day_of_year = rng.integers(0, 365, crashes)
        occurred = (
            pd.Timestamp(year=year, month=1, day=1, tz="UTC")
            + pd.to_timedelta(day_of_year, unit="D")
            + pd.to_timedelta(local_hour - LOCAL_OFFSET_H, unit="h")
            + pd.to_timedelta(rng.integers(0, 3600, crashes), unit="s")
        )
        vehicles = rng.choice(VEHICLES, crashes, p=VEHICLE_SHARES)
        frames.append(
            gpd.GeoDataFrame(
                {
                    "occurred_at": occurred,
                    "year": year,
                    "severity": severity,
                    "killed": dead,
                    "injured": hurt,
                    "pedestrian": pedestrian,
                    "vehicle_types": vehicles,
                    "street_id": streets.id.to_numpy()[segment],
                    "street": streets.name.to_numpy()[segment],
                    "district": streets.district.to_numpy()[segment],
                    "placed_by": "coordinates",
                },
                geometry=points,
                crs=4326,
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_road_safety(conn: psycopg.Connection, city: Any) -> dict[str, int]:
    """The demo's day of trips, five years of crashes and their hotspots (rows per layer)."""
    trips = load_demo_trips(conn, city.scale, city.seed)
    frame = demo_crashes(conn, city.seed)
    source = f"Almaty Twin demo generator, crash records (seed {city.seed}, scale {city.scale})"
    crashes = write_layer(
        conn,
        "crashes",
        frame.assign(source=source),
        Provenance(
            source=source,
            licence="CC0-1.0",
            synthetic=True,
            details={"years": {y: list(t) for y, t in CRASH_YEARS.items()}},
        ),
    )
    return {"trip_cells": trips.cells, "crashes": crashes, "crash_hotspots": publish_hotspots(conn)}

"""Mudflow and avalanche layers and district exposure, written by `twin analyse`.

The hydrology runs only when the terrain changed: its grids are kept on disk under
TWIN_HOME/cache named by a digest of the DEM and the rules (the demo reloaded with the same seed
is the same DEM), and the whole publish is skipped while every input's data version is the one
it was computed from (provenance of district_hazards).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import rasterio
import shapely
from rasterio import features

from twin.analysis.network import data_versions
from twin.catalog import figure
from twin.hazards.avalanche import avalanche_zones
from twin.hazards.hydrology import Mudflow, MudflowRules, derive, downstream
from twin.hazards.protection import Dam, Protection, protect
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import Provenance, write_layer
from twin.terrain import TERRAIN_CRS, terrain_path

LOG = logging.getLogger("twin.hazards")
INPUTS = (
    "terrain",
    "protection_works",
    "plots",
    "districts",
    "amenities",
    "buildings",
    "streets",
    "gathering_points",
)
PUBLISHED = ("mudflow_channels", "mudflow_zones", "avalanche_zones", "district_hazards")
SOURCE = (
    "twin analyse (twin/hazards): mudflow channels and zones from the terrain (pysheds), "
    "protection_works, avalanche slopes; exposure of plots, amenities, gathering_points, "
    "buildings and streets by district"
)
DAM_SNAP_M = 250.0  # a dam within this of a channel cell stands on it


def _gorges() -> list[tuple[str, float]]:
    from twin.demo.figures import figures
    from twin.demo.geo import to_metric

    return [
        (g["name"], float(to_metric([[g["lon"], 43.1]])[0, 0]))
        for g in figures()["terrain"]["gorges"]
    ]


def mudflow_for(elevation: np.ndarray, transform, rules: MudflowRules | None = None) -> Mudflow:
    """`derive` through the on-disk cache keyed by the DEM's digest and the rules."""
    rules = rules or MudflowRules()
    digest = hashlib.sha1(np.ascontiguousarray(elevation, dtype=np.float32).tobytes())
    digest.update(repr((tuple(transform), asdict(rules), _gorges())).encode())
    path = get_settings().home / "cache" / f"hazards-{digest.hexdigest()[:16]}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as saved:
                grids = {k: saved[k] for k in saved.files}
            result = Mudflow(
                transform=transform,
                basins=[str(b) for b in grids.pop("basins")],
                unreliable={int(b) for b in grids.pop("unreliable")},
                **grids,
            )
            result.warnings = [
                f"mudflow basin {result.basins[b - 1]!r}: the terrain has no data in its "
                "catchment or zone; its channels and zones are marked reliable=false"
                for b in sorted(result.unreliable)
            ]
            return result
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    result = derive(elevation, transform, rules, _gorges())
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary,
        elevation=result.elevation,
        holes=result.holes,
        flowdir=result.flowdir,
        mountain_km2=result.mountain_km2,
        channel=result.channel,
        hand=result.hand,
        drains_to=result.drains_to,
        zone=result.zone,
        basins=np.array(result.basins, dtype=str),
        unreliable=np.array(sorted(result.unreliable), dtype=np.int64),
    )
    temporary.replace(path)
    return result


def _polygons(labels: np.ndarray, transform) -> dict[int, shapely.MultiPolygon]:
    """{label: MultiPolygon} of a label grid's non-zero cells (metres)."""
    parts: dict[int, list] = {}
    for geom, value in features.shapes(
        labels.astype(np.int32), mask=labels > 0, transform=transform, connectivity=8
    ):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    return {
        k: shapely.make_valid(shapely.MultiPolygon(v)) if len(v) > 1 else shapely.MultiPolygon(v)
        for k, v in parts.items()
    }


def zone_layer(mudflow: Mudflow, protection: Protection, dams: list[Dam]) -> gpd.GeoDataFrame:
    """Mudflow zones by basin, band of height above the channel and protecting dam."""
    rules = MudflowRules()
    bands = np.asarray(rules.bands_m)
    band = np.clip(np.searchsorted(bands, np.nan_to_num(mudflow.hand, nan=1e9)), 0, len(bands) - 1)
    key = np.where(
        mudflow.zone > 0, (mudflow.zone * 100 + band * 10) * 100 + protection.protected_by, 0
    )
    rows = []
    for value, geom in _polygons(key, mudflow.transform).items():
        basin, rest = divmod(value, 10000)
        b, dam = divmod(rest, 100)
        rows.append(
            {
                "basin": mudflow.basins[basin - 1],
                "above_channel_m": float(bands[b // 10]),
                "protected": dam > 0,
                "protected_by": dams[dam - 1].name if dam > 0 else None,
                "reliable": basin not in mudflow.unreliable,
                "area_ha": round(geom.area / 1e4, 2),
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=TERRAIN_CRS)


def channel_layer(mudflow: Mudflow, protection: Protection) -> gpd.GeoDataFrame:
    """Channel cells joined to their receivers, merged per basin and protected state."""
    receiver = downstream(mudflow.flowdir)
    flat = mudflow.channel.ravel()
    cells = np.flatnonzero(flat > 0)
    to = receiver[cells]
    keep = to >= 0
    cells, to = cells[keep], to[keep]
    keep = flat[to] == flat[cells]
    cells, to = cells[keep], to[keep]
    width = mudflow.channel.shape[1]
    t = mudflow.transform

    def xy(index: np.ndarray) -> np.ndarray:
        r, c = np.divmod(index, width)
        return np.column_stack([t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e])

    below = protection.below.ravel()[cells] > 0
    segments = shapely.linestrings(np.stack([xy(cells), xy(to)], axis=1))
    rows = []
    for basin in np.unique(flat[cells]):
        for state in (False, True):
            pick = (flat[cells] == basin) & (below == state)
            if not pick.any():
                continue
            merged = shapely.line_merge(shapely.union_all(segments[pick]))
            lines = shapely.get_parts(merged)
            rows.append(
                {
                    "basin": mudflow.basins[basin - 1],
                    "catchment_km2": round(
                        float(mudflow.mountain_km2.ravel()[cells[pick]].max()), 2
                    ),
                    "length_km": round(float(shapely.length(lines).sum()) / 1000, 2),
                    "protected": bool(state),
                    "reliable": int(basin) not in mudflow.unreliable,
                    "geometry": shapely.MultiLineString(list(lines)),
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=TERRAIN_CRS)


def _lookup(grid: np.ndarray, transform, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The grid's value at metric points (0 outside)."""
    inverse = ~transform
    col = np.floor(inverse.a * x + inverse.b * y + inverse.c).astype(np.int64)
    row = np.floor(inverse.d * x + inverse.e * y + inverse.f).astype(np.int64)
    inside = (row >= 0) & (row < grid.shape[0]) & (col >= 0) & (col < grid.shape[1])
    out = np.zeros(len(x), dtype=grid.dtype)
    out[inside] = grid[row[inside], col[inside]]
    return out


def avalanche_layer(
    mudflow: Mudflow, zones: np.ndarray, streets: np.ndarray, buildings_xy: np.ndarray
) -> gpd.GeoDataFrame:
    """Avalanche zones by basin with the street segments and buildings inside them."""
    rows = []
    inside_building = _lookup(zones, mudflow.transform, buildings_xy[:, 0], buildings_xy[:, 1])
    tree = shapely.STRtree(streets) if len(streets) else None
    for value, geom in _polygons(zones, mudflow.transform).items():
        crossing = tree.query(geom, predicate="intersects") if tree is not None else []
        inside = shapely.intersection(streets[crossing], geom) if len(crossing) else []
        rows.append(
            {
                "basin": mudflow.basins[value - 1],
                "area_ha": round(geom.area / 1e4, 2),
                "roads_crossing": len(crossing),
                "road_km": round(float(shapely.length(inside).sum()) / 1000, 3)
                if len(crossing)
                else 0.0,
                "buildings": int((inside_building == value).sum()),
                "reliable": value not in mudflow.unreliable,
                "geometry": geom,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=TERRAIN_CRS)
    return (
        frame
        if len(frame)
        else gpd.GeoDataFrame({"basin": []}, geometry=gpd.GeoSeries([], crs=TERRAIN_CRS))
    )


def exposure(
    conn: psycopg.Connection, mudflow: Mudflow, protection: Protection, avalanche: np.ndarray
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per district: residents, schools, hospitals and gathering points exposed."""
    t = mudflow.transform
    plots = conn.execute(query("hazards/plot_points")).fetchall()
    frame = pd.DataFrame(plots, columns=["id", "residents", "district", "x", "y"])
    x, y = frame.x.to_numpy(float), frame.y.to_numpy(float)
    frame["mudflow"] = _lookup(mudflow.zone, t, x, y) > 0
    frame["protected"] = _lookup(protection.protected_by, t, x, y) > 0
    frame["avalanche"] = _lookup(avalanche, t, x, y) > 0
    sites = pd.DataFrame(
        conn.execute(query("hazards/site_points")).fetchall(), columns=["what", "x", "y"]
    )
    sx, sy = sites.x.to_numpy(float), sites.y.to_numpy(float)
    sites["mudflow"] = _lookup(mudflow.zone, t, sx, sy) > 0
    sites["avalanche"] = _lookup(avalanche, t, sx, sy) > 0
    districts = conn.execute(query("analysis/district_shapes")).fetchall()
    shapes = shapely.from_wkb([r[2] for r in districts])
    # sites have no district column: the district polygon they fall in
    from twin.analysis.network import to_lonlat

    lon, lat = to_lonlat(sx, sy) if len(sites) else (np.zeros(0), np.zeros(0))
    which, where = shapely.STRtree(shapes).query(shapely.points(lon, lat), predicate="within")
    sites["district"] = None
    sites.loc[which, "district"] = np.array([r[0] for r in districts], dtype=object)[where]
    res = frame.residents.to_numpy(float)
    rows = []
    for name, *_ in districts:
        p = frame.district.to_numpy() == name
        s = sites.district.to_numpy() == name
        exposed = int(res[p & frame.mudflow.to_numpy()].sum())
        protected = int(res[p & frame.mudflow.to_numpy() & frame.protected.to_numpy()].sum())
        rows.append(
            {
                "district": name,
                "residents": int(res[p].sum()),
                "mudflow_residents": exposed,
                "mudflow_protected": protected,
                "share_protected": round(protected / exposed, 4) if exposed else None,
                "target_protected_2025": float(figure("share_protected", "target_2025")),
                "target_protected_2030": float(figure("share_protected", "target_2030")),
                **{
                    f"mudflow_{kind}s": int(
                        (s & sites.mudflow.to_numpy() & (sites.what == kind)).sum()
                    )
                    for kind in ("school", "hospital", "gathering_point")
                },
                "avalanche_residents": int(res[p & frame.avalanche.to_numpy()].sum()),
                "avalanche_buildings": int(
                    (s & sites.avalanche.to_numpy() & (sites.what == "building")).sum()
                ),
            }
        )
    table = pd.DataFrame(rows)
    exposed = int(res[frame.mudflow.to_numpy()].sum())
    protected = int(res[frame.mudflow.to_numpy() & frame.protected.to_numpy()].sum())
    city = {
        "mudflow_residents": exposed,
        "mudflow_protected": protected,
        "share_protected": round(protected / exposed, 4) if exposed else None,
        "target_protected_2025": float(figure("share_protected", "target_2025")),
        "target_protected_2030": float(figure("share_protected", "target_2030")),
        "avalanche_residents": int(res[frame.avalanche.to_numpy()].sum()),
    }
    table["geometry"] = shapes
    return table, city


def hazards_current(conn: psycopg.Connection) -> bool:
    """Whether the published hazard layers were computed from the current data."""
    row = conn.execute(query("hazards/published")).fetchone()
    inputs = (row[0] or {}).get("inputs") if row else None
    return inputs == dict(zip(INPUTS, data_versions(conn, INPUTS)))


def publish_hazards(conn: psycopg.Connection, force: bool = False) -> dict[str, Any]:
    """Derive and write the hazard layers unless they are current; return the city's figures."""
    if not force and hazards_current(conn):
        return {"published": False, "reason": "current"}
    started = time.perf_counter()
    inputs = dict(zip(INPUTS, data_versions(conn, INPUTS)))
    path = terrain_path(conn)
    if path is None or not conn.execute(query("analysis/district_shapes")).fetchone():
        LOG.warning("hazard layers not published: no terrain or no districts")
        return {"published": False, "reason": "no terrain or no districts"}
    with rasterio.open(path) as dataset:
        elevation, transform = dataset.read(1).astype(np.float32), dataset.transform
    mudflow = mudflow_for(elevation, transform)
    derived = time.perf_counter()
    dams = [
        Dam(name, x, y, status)
        for name, status, x, y in conn.execute(query("hazards/dams")).fetchall()
    ]
    protection = protect(mudflow, dams, max(DAM_SNAP_M, 1.5 * mudflow.cell_m))
    avalanche = avalanche_zones(mudflow, elevation)
    buildings = conn.execute(query("hazards/site_points")).fetchall()
    building_xy = np.array([(x, y) for what, x, y in buildings if what == "building"], float)
    streets = shapely.from_wkb([r[0] for r in conn.execute(query("hazards/street_lines"))])
    table, city = exposure(conn, mudflow, protection, avalanche)
    layers = {
        "mudflow_channels": channel_layer(mudflow, protection),
        "mudflow_zones": zone_layer(mudflow, protection, dams),
        "avalanche_zones": avalanche_layer(
            mudflow, avalanche, np.asarray(streets), building_xy.reshape(-1, 2)
        ),
        "district_hazards": gpd.GeoDataFrame(table, geometry="geometry", crs=4326),
    }
    warnings = mudflow.warnings + protection.warnings
    computed = {
        "inputs": inputs,
        "rules": asdict(MudflowRules()),
        "basins": mudflow.basins,
        "warnings": warnings,
        "hydrology_s": round(derived - started, 3),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    synthetic = bool(
        conn.execute(
            query("analysis/input_provenance"), {"names": ["plots", "protection_works"]}
        ).fetchone()[0]
    )
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
                    details={"city": city, **computed} if name == "district_hazards" else computed,
                ),
            )
    city["warnings"] = warnings
    city["seconds"] = round(time.perf_counter() - started, 3)
    LOG.info("hazard layers published", extra={"fields": city})
    return {"published": True, "city": city, "computed": computed}

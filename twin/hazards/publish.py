"""Mudflow and avalanche layers and district exposure, written by `twin analyse`.

The hydrology runs only when the terrain changed: its grids are kept on disk under
TWIN_HOME/cache named by a digest of the DEM and the rules (the demo reloaded with the same seed
is the same DEM), and the whole publish is skipped while every input's data version is the one
it was computed from (provenance of district_hazards).
"""

from __future__ import annotations

import hashlib
import json
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
from twin.hazards.fire import fire_reach
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
    "fire_stations",
)
PUBLISHED = (
    "mudflow_channels",
    "mudflow_zones",
    "avalanche_zones",
    "district_hazards",
    "building_hazards",
)
SOURCE = (
    "twin analyse (twin/hazards): mudflow channels and zones from the terrain (pysheds), "
    "protection_works, avalanche slopes; exposure of plots, amenities, gathering_points, "
    "buildings and streets by district"
)
DAM_SNAP_M = 250.0  # a dam within this of a channel cell stands on it
DERIVE_VERSION = 2  # part of the grids' cache key: raise it when `derive` changes its answer
# raise it when `exposure` adds or changes a figure: the next publish recounts the exposure
# (not the terrain) in a twin whose published figures are otherwise current
EXPOSURE_VERSION = 2


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
    digest.update(repr((DERIVE_VERSION, tuple(transform), asdict(rules), _gorges())).encode())
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
        fan_bed=result.fan_bed,
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
    on_fan = mudflow.fan_bed >= 0 if mudflow.fan_bed is not None else np.zeros_like(mudflow.zone)
    key = np.where(
        mudflow.zone > 0,
        ((mudflow.zone * 100 + band * 10) * 100 + protection.protected_by) * 2 + on_fan,
        0,
    )
    rows = []
    for value, geom in _polygons(key, mudflow.transform).items():
        value, fan = divmod(value, 2)
        basin, rest = divmod(value, 10000)
        b, dam = divmod(rest, 100)
        rows.append(
            {
                "basin": mudflow.basins[basin - 1],
                "above_channel_m": float(bands[b // 10]),
                "on_fan": bool(fan),
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


def avalanche_layer(mudflow: Mudflow, zones: np.ndarray) -> gpd.GeoDataFrame:
    """Avalanche zones by basin; the streets and buildings inside are counted in SQL
    (`avalanche_crossings`), again whenever they change."""
    rows = [
        {
            "basin": mudflow.basins[value - 1],
            "area_ha": round(geom.area / 1e4, 2),
            "roads_crossing": 0,
            "road_km": 0.0,
            "buildings": 0,
            "reliable": value not in mudflow.unreliable,
            "geometry": geom,
        }
        for value, geom in _polygons(zones, mudflow.transform).items()
    ]
    if not rows:
        return gpd.GeoDataFrame({"basin": []}, geometry=gpd.GeoSeries([], crs=TERRAIN_CRS))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=TERRAIN_CRS)


EXPOSURE_COLUMNS = (
    "district",
    "residents",
    "mudflow_residents",
    "mudflow_protected",
    "mudflow_schools",
    "mudflow_hospitals",
    "mudflow_gathering_points",
    "avalanche_residents",
    "avalanche_buildings",
)


BUILDING_COLUMNS = (
    "building_id",
    "plot_cadastral_number",
    "district",
    "use",
    "mudflow_basin",
    "above_channel_m",
    "on_fan",
    "protected",
    "protected_by",
    "avalanche_basin",
)


def exposure(
    conn: psycopg.Connection,
) -> tuple[gpd.GeoDataFrame, dict[str, Any], gpd.GeoDataFrame]:
    """Per district and for the city, from the published zones: residents, schools, hospitals,
    gathering points and buildings exposed, the share of exposed residents protected, and the
    residents beyond 10 drive minutes of a fire station (twin/hazards/fire.py); and every
    building in a zone with its basin, band, fan and protecting dam (`building_hazards`).

    In SQL on the zones cut into indexed parts, so a change of plots, amenities or buildings
    costs this query only, not the terrain's hydrology."""
    conn.execute(query("hazards/zone_parts"))
    try:
        rows = conn.execute(query("hazards/district_exposure")).fetchall()
        building_rows = conn.execute(query("hazards/building_exposure")).fetchall()
    finally:
        conn.execute(query("hazards/exposure_done"))
    buildings = gpd.GeoDataFrame(
        pd.DataFrame([r[:-1] for r in building_rows], columns=list(BUILDING_COLUMNS)),
        geometry=shapely.from_wkb([bytes(r[-1]) for r in building_rows]),
        crs=4326,
    )
    table = pd.DataFrame([r[:-1] for r in rows], columns=list(EXPOSURE_COLUMNS))
    target_2025 = float(figure("share_protected", "target_2025"))
    target_2030 = float(figure("share_protected", "target_2030"))

    def share(protected: int, exposed: int) -> float | None:
        return round(protected / exposed, 4) if exposed else None

    table["share_protected"] = [
        share(p, e) for p, e in zip(table.mudflow_protected, table.mudflow_residents)
    ]
    table["target_protected_2025"] = target_2025
    table["target_protected_2030"] = target_2030
    exposed, protected = int(table.mudflow_residents.sum()), int(table.mudflow_protected.sum())
    city = {
        "mudflow_residents": exposed,
        "mudflow_protected": protected,
        "share_protected": share(protected, exposed),
        "target_protected_2025": target_2025,
        "target_protected_2030": target_2030,
        "avalanche_residents": int(table.avalanche_residents.sum()),
        **{
            k: int(table[k].sum())
            for k in (
                "mudflow_schools",
                "mudflow_hospitals",
                "mudflow_gathering_points",
                "avalanche_buildings",
            )
        },
    }
    fire, fire_city = fire_reach(conn)
    for column in ("fire_beyond_10_residents", "fire_beyond_10_with_depots"):
        table[column] = pd.array(
            [fire.get(name, {}).get(column) for name in table.district], dtype="Int64"
        )
    city.update(fire_city)
    mudflow = buildings[buildings.mudflow_basin.notna()]  # as building_hazards lists them
    for column, counted in (
        ("mudflow_buildings", mudflow),
        ("mudflow_buildings_protected", mudflow[mudflow.protected.astype(bool)]),
    ):
        by_district = counted.groupby("district").size()
        table[column] = table.district.map(by_district).fillna(0).astype(int)
        city[column] = len(counted)
    geometry = shapely.from_wkb([bytes(r[-1]) for r in rows])
    return gpd.GeoDataFrame(table, geometry=geometry, crs=4326), city, buildings


def _published(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(query("hazards/published")).fetchone()
    return (row[0] or {}) if row else {}


def _rules() -> dict[str, Any]:
    return json.loads(json.dumps(asdict(MudflowRules())))


def hazards_current(conn: psycopg.Connection) -> bool:
    """Whether the published hazard layers were computed from the current data and rules."""
    before = _published(conn)
    return (
        before.get("inputs") == dict(zip(INPUTS, data_versions(conn, INPUTS)))
        and before.get("rules") == _rules()
        and before.get("exposure_version") == EXPOSURE_VERSION
    )


# The inputs the terrain layers (channels, zones, avalanche slopes) are derived from: while
# they keep their versions, a publish recounts the exposure only.
TERRAIN_INPUTS = ("terrain", "protection_works")


def publish_hazards(conn: psycopg.Connection, force: bool = False) -> dict[str, Any]:
    """Write the hazard layers unless they are current; return the city's figures.

    The terrain layers are derived again only when the terrain, the protection works or the
    rules changed (`force`: always); otherwise only the exposure is counted again."""
    before = _published(conn)
    inputs = dict(zip(INPUTS, data_versions(conn, INPUTS)))
    if not force and hazards_current(conn):
        return {"published": False, "reason": "current"}
    started = time.perf_counter()
    if not conn.execute(query("analysis/district_shapes")).fetchone():
        LOG.warning("hazard layers not published: no districts")
        return {"published": False, "reason": "no terrain or no districts"}
    derive_again = (
        force
        or before.get("rules") != _rules()
        or any((before.get("inputs") or {}).get(k) != inputs[k] for k in TERRAIN_INPUTS)
    )
    synthetic = bool(
        conn.execute(
            query("analysis/input_provenance"), {"names": ["plots", "protection_works"]}
        ).fetchone()[0]
    )
    with conn.transaction():
        if derive_again:
            computed = _publish_terrain_layers(conn, synthetic)
            if computed is None:
                return {"published": False, "reason": "no terrain or no districts"}
        else:
            computed = {k: before[k] for k in ("rules", "basins", "warnings", "hydrology_s")}
        if derive_again or any(
            (before.get("inputs") or {}).get(k) != inputs[k] for k in ("streets", "buildings")
        ):
            conn.execute(query("hazards/avalanche_crossings"))
        table, city, buildings = exposure(conn)
        computed = {
            **computed,
            "inputs": inputs,
            "exposure_version": EXPOSURE_VERSION,
            "terrain_derived": derive_again,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_layer(
            conn,
            "district_hazards",
            table,
            Provenance(
                source=SOURCE,
                licence="CC-BY-4.0",
                synthetic=synthetic,
                details={"city": city, **computed},
            ),
        )
        write_layer(
            conn,
            "building_hazards",
            buildings,
            Provenance(
                source=SOURCE,
                licence="CC-BY-4.0",
                synthetic=synthetic,
                details={"at": computed["at"]},
            ),
        )
    city["warnings"] = computed["warnings"]
    city["seconds"] = round(time.perf_counter() - started, 3)
    LOG.info("hazard layers published", extra={"fields": city})
    return {"published": True, "city": city, "computed": computed}


def _publish_terrain_layers(conn: psycopg.Connection, synthetic: bool) -> dict[str, Any] | None:
    """Derive the mudflow and avalanche grids (cached by the DEM) and write their layers."""
    path = terrain_path(conn)
    if path is None:
        LOG.warning("hazard layers not published: no terrain")
        return None
    started = time.perf_counter()
    with rasterio.open(path) as dataset:
        elevation, transform = dataset.read(1).astype(np.float32), dataset.transform
    mudflow = mudflow_for(elevation, transform)
    derived = time.perf_counter()
    dams = [
        Dam(name, x, y, status)
        for name, status, x, y in conn.execute(query("hazards/dams")).fetchall()
    ]
    protection = protect(mudflow, dams, max(DAM_SNAP_M, 1.5 * mudflow.cell_m))
    layers = {
        "mudflow_channels": channel_layer(mudflow, protection),
        "mudflow_zones": zone_layer(mudflow, protection, dams),
        "avalanche_zones": avalanche_layer(mudflow, avalanche_zones(mudflow, elevation)),
    }
    computed = {
        "rules": asdict(MudflowRules()),
        "basins": mudflow.basins,
        "warnings": mudflow.warnings + protection.warnings,
        "hydrology_s": round(derived - started, 3),
    }
    for name, frame in layers.items():
        write_layer(
            conn,
            name,
            frame,
            Provenance(source=SOURCE, licence="CC-BY-4.0", synthetic=synthetic, details=computed),
        )
    return computed

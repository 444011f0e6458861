"""Putting the demo city together and loading it into the twin."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.demo import fabric as fabric_module
from twin.demo.figures import figures
from twin.demo.geo import stream
from twin.demo.green import parks as make_parks
from twin.demo.hazards import faults, microzones
from twin.demo.land import block_kinds, buildings, plot_land_use, residents, subdivide
from twin.demo.layout import base_districts, city_outline, polycentres, synthetic_districts
from twin.demo.networks import facilities, street_sides, utility_lines
from twin.demo.relief import Relief
from twin.demo.services import amenities, claim_plots, transit_stops
from twin.errors import TwinError
from twin.progress import progress
from twin.store import Provenance, write_layer
from twin.terrain import store_terrain

log = logging.getLogger(__name__)
SCALES = ("small", "city")
LAYER_ORDER = ["districts", "polycentres", "blocks", "plots", "buildings", "streets",
               "transit_stops", "amenities", "parks", "utility_lines", "utility_facilities",
               "seismic_faults", "seismic_zones"]


@dataclass
class DemoCity:
    scale: str
    seed: int
    layers: dict[str, gpd.GeoDataFrame]          # metric (EPSG:32643)
    elevation: np.ndarray
    transform: Any
    details: dict[str, Any] = field(default_factory=dict)


def _street_length_km(scale: str, outline: shapely.Polygon, districts: gpd.GeoDataFrame,
                      relief: Relief, seed: int) -> float:
    city = fabric_module.synthetic_fabric(dict(figures()["scales"][scale], max_segment_m=1e9),
                                          outline, districts, relief, stream(seed, "fabric"))
    return float(np.hypot(city.edges.x1 - city.edges.x0, city.edges.y1 - city.edges.y0).sum() / 1000)


def _lighting(edges: pd.DataFrame, kind_at: np.ndarray, district_at: np.ndarray,
              core: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """~20% of street length unlit (S2 l.1281): mostly private-house streets of the periphery,
    never the main streets."""
    share = figures()["utilities"]["unlit_street_share"]
    annexed = set(figures()["amenities"]["annexed"])
    length = np.hypot(edges.x1 - edges.x0, edges.y1 - edges.y0).to_numpy()
    mx = ((edges.x0 + edges.x1) / 2).to_numpy()
    my = ((edges.y0 + edges.y1) / 2).to_numpy()
    distance = np.hypot(mx - core[0], my - core[1]) / 10000
    score = (distance + 1.0 * (kind_at == "private_housing") + 0.6 * np.isin(district_at, list(annexed))
             + 0.5 * (kind_at == "vacant") + rng.normal(0, 0.5, len(edges)))
    score[edges.highway.isin(["arterial", "primary", "pedestrian"]).to_numpy()] = -np.inf
    order = np.argsort(-score, kind="stable")
    cumulative = np.cumsum(length[order])
    unlit = order[: int(np.searchsorted(cumulative, share * length.sum()))]
    lit = np.ones(len(edges), dtype=bool)
    lit[unlit] = False
    return lit


def generate(scale: str = "small", seed: int = 1, base: Path | None = None) -> DemoCity:
    """The whole city in metres; deterministic for (scale, seed, base)."""
    if scale not in SCALES:
        raise TwinError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    params = figures()["scales"][scale]
    started = time.perf_counter()
    outline = city_outline()
    relief = Relief(stream(seed, "relief"))
    if base is not None:
        base = Path(base)
        if not base.is_dir():
            raise TwinError(f"--base {base}: not a directory")
        districts = base_districts(base)
        outline = shapely.union_all(districts.geometry.values)
        outline = max(shapely.get_parts(outline), key=lambda g: g.area) if outline.geom_type != "Polygon" else outline
    else:
        districts = synthetic_districts(outline)
    centres = polycentres(outline, stream(seed, "polycentres"))
    if base is not None:
        fab = fabric_module.base_fabric(base, districts, params, stream(seed, "fabric"))
    else:
        fab = fabric_module.synthetic_fabric(params, outline, districts, relief, stream(seed, "fabric"))
    blocks = fab.blocks
    blocks["kind"] = block_kinds(blocks, centres, stream(seed, "kinds"))
    west = centres.geometry[centres.name == "West"].iloc[0]
    fault_frame, strip = faults(outline, relief, west, stream(seed, "faults"))
    zones = microzones(outline, relief, fault_frame, stream(seed, "zones"))
    park_frame = make_parks(blocks, fab.quads, districts, centres, strip, stream(seed, "parks"))

    plots = subdivide(blocks, fab.quads, blocks.kind.to_numpy(), params, stream(seed, "plots"))
    plot_rng = stream(seed, "plot-use")
    plot_land_use(plots, plot_rng)
    # parks and the no-build strip take the plots under them
    tree = shapely.STRtree(park_frame.geometry.values)
    plot_idx, park_idx = tree.query(plots.geometry.values, predicate="intersects")
    overlap = shapely.area(shapely.intersection(plots.geometry.values[plot_idx],
                                                park_frame.geometry.values[park_idx]))
    share = overlap / plots.area_m2.to_numpy()[plot_idx]
    status = park_frame.status.to_numpy()[park_idx]
    strip_hit = np.zeros(len(plots), dtype=bool)
    strip_hit[np.unique(plot_idx[shapely.intersects(plots.geometry.values[plot_idx], strip)])] = True
    green = np.zeros(len(plots), dtype=bool)
    green[plot_idx[(share > 0.3) & (status == "existing")]] = True
    planned = np.zeros(len(plots), dtype=bool)
    planned[plot_idx[(share > 0.3) & (status == "planned")]] = True
    plots.loc[planned & ~green, "land_use"] = "vacant"
    plots.loc[green | strip_hit, "land_use"] = "green"
    plots.loc[green | strip_hit | planned, "owner_type"] = "municipal"
    reserved = green | strip_hit | planned
    claimed = claim_plots(plots, stream(seed, "amenity-plots"), reserved)
    houses = buildings(plots, stream(seed, "buildings"))
    # nothing is built in a park or on the fault strip
    hit, _ = shapely.STRtree(np.append(park_frame.geometry.values[park_frame.status == "existing"],
                                       strip)).query(houses.geometry.values, predicate="intersects")
    if hit.size:
        houses = houses.drop(index=np.unique(hit)).reset_index(drop=True)
    residents(plots, houses)
    amenity_frame = amenities(plots, claimed, park_frame, stream(seed, "amenities"))

    # streets: lighting, walkability; utilities along them
    edges = fab.edges
    mid = shapely.points(((edges.x0 + edges.x1) / 2).to_numpy(), ((edges.y0 + edges.y1) / 2).to_numpy())
    nearest_block = shapely.STRtree(blocks.geometry.values).nearest(mid)
    kind_at = blocks.kind.to_numpy()[nearest_block]
    district_at = districts.name_en.to_numpy()[shapely.STRtree(districts.geometry.values).nearest(mid)]
    lit = _lighting(edges, kind_at, district_at, fab.core_centre, stream(seed, "lighting"))
    streets = fab.streets
    streets["lit"] = lit[streets.edge.to_numpy()]
    streets["walkable"] = ~streets.highway.isin(["motorway"]).to_numpy()
    sides = street_sides(edges, kind_at, district_at, lit)
    if base is None and scale != "city":
        reference_km = _street_length_km("city", city_outline(), districts, relief, seed)
        factor = float(sides.length.sum() / 1000 / reference_km)
    else:
        factor = 1.0
    lines = utility_lines(sides, factor, stream(seed, "utility-lines"))
    plants = facilities(sides, stream(seed, "facilities"))
    stops = transit_stops(edges, streets, stream(seed, "transit"))

    blocks["area_m2"] = shapely.area(blocks.geometry.values)
    plots["area_m2"] = np.round(plots.area_m2, 1)
    resolution = float(figures()["terrain"]["resolution_m"][scale])
    elevation, transform = relief.raster(shapely.buffer(outline, 1500).bounds, resolution)
    layers = {
        "districts": districts, "polycentres": centres, "blocks": blocks, "plots": plots,
        "buildings": houses, "streets": streets, "transit_stops": stops,
        "amenities": amenity_frame, "parks": park_frame, "utility_lines": lines,
        "utility_facilities": plants, "seismic_faults": fault_frame, "seismic_zones": zones,
    }
    details = {"seed": seed, "scale": scale, "base": str(base) if base else None,
               "figures": "twin/demo/almaty.yml", "utility_length_factor": round(factor, 6),
               "generated_in_s": round(time.perf_counter() - started, 2)}
    return DemoCity(scale=scale, seed=seed, layers=layers, elevation=elevation,
                    transform=transform, details=details)


def provenance(city: DemoCity, layer: str) -> Provenance:
    source = f"Almaty Twin demo generator (seed {city.seed}, scale {city.scale})"
    if city.details.get("base"):
        source += f" on real districts and blocks from {city.details['base']}"
    return Provenance(source=source, licence="CC0-1.0", synthetic=True,
                      details=dict(city.details, layer=layer))


def load(conn: psycopg.Connection, city: DemoCity) -> dict[str, int]:
    """Write every layer and the terrain in one transaction: a failure leaves the twin as it was."""
    counts: dict[str, int] = {}
    with conn.transaction():
        for name in LAYER_ORDER:
            frame = city.layers[name].to_crs(4326)
            with progress(f"demo {name}", total=len(frame), unit="rows") as bar:
                counts[name] = write_layer(conn, name, frame, provenance(city, name),
                                           progress=bar.update)
        store_terrain(conn, city.elevation, city.transform, "EPSG:32643", provenance(city, "terrain"))
    return counts

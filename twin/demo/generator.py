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

from twin.catalog import get_layer
from twin.demo import fabric as fabric_module
from twin.demo.figures import figures
from twin.demo.geo import stream
from twin.demo.green import parks as make_parks
from twin.demo.green import placement as green_placement
from twin.demo.hazards import faults, fire_stations, microzones, protection_works
from twin.demo.land import (
    block_kinds,
    buildings,
    plot_land_use,
    residents,
    seismic_status,
    subdivide,
)
from twin.demo.layout import (
    agglomeration_populations,
    base_districts,
    city_outline,
    outline_for,
    polycentres,
    synthetic_districts,
)
from twin.demo.networks import facilities, street_access, street_sides, utility_lines
from twin.demo.relief import Relief
from twin.demo.services import (
    addresses,
    amenities,
    children,
    claim_plots,
    school_places,
    transit_stops,
    walking_network,
)
from twin.demo.street_names import localized_street_names
from twin.demo.transit import DemoTransit, demo_transit, write_demo_feed
from twin.errors import TwinError
from twin.mobility.lighting import street_lit
from twin.progress import progress
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import Provenance, write_layer
from twin.terrain import store_terrain
from twin.transit.store import import_feed

log = logging.getLogger(__name__)
SCALES = ("small", "city", "metro")
LAYER_ORDER = [
    "districts",
    "polycentres",
    "blocks",
    "plots",
    "buildings",
    "streets",
    "transit_stops",
    "amenities",
    "parks",
    "utility_lines",
    "utility_facilities",
    "seismic_faults",
    "seismic_zones",
    "protection_works",
    "fire_stations",
]


@dataclass
class DemoCity:
    scale: str
    seed: int
    layers: dict[str, gpd.GeoDataFrame]  # metric (EPSG:32643)
    elevation: np.ndarray
    transform: Any
    details: dict[str, Any] = field(default_factory=dict)
    transit: DemoTransit | None = None  # the synthetic GTFS feed, imported by `load`


def _street_length_km(
    scale: str, outline: shapely.Polygon, districts: gpd.GeoDataFrame, relief: Relief, seed: int
) -> float:
    city = fabric_module.synthetic_fabric(
        dict(figures()["scales"][scale], max_segment_m=1e9),
        outline,
        districts,
        relief,
        stream(seed, "fabric"),
    )
    return float(
        np.hypot(city.edges.x1 - city.edges.x0, city.edges.y1 - city.edges.y0).sum() / 1000
    )


def _lighting(
    edges: pd.DataFrame,
    kind_at: np.ndarray,
    district_at: np.ndarray,
    core: tuple[float, float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Where the lighting lines go: ~20% of street length without (S2 l.1281), mostly
    private-house streets of the periphery, never the main streets (streets.lit is then derived
    from the lines, twin/mobility/lighting.py)."""
    share = figures()["utilities"]["unlit_street_share"]
    annexed = set(figures()["amenities"]["annexed"])
    length = np.hypot(edges.x1 - edges.x0, edges.y1 - edges.y0).to_numpy()
    mx = ((edges.x0 + edges.x1) / 2).to_numpy()
    my = ((edges.y0 + edges.y1) / 2).to_numpy()
    distance = np.hypot(mx - core[0], my - core[1]) / 10000
    score = (
        distance
        + 1.0 * (kind_at == "private_housing")
        + 0.6 * np.isin(district_at, list(annexed))
        + 0.5 * (kind_at == "vacant")
        + rng.normal(0, 0.5, len(edges))
    )
    score[edges.highway.isin(["arterial", "primary", "pedestrian"]).to_numpy()] = -np.inf
    order = np.argsort(-score, kind="stable")
    cumulative = np.cumsum(length[order])
    unlit = order[: int(np.searchsorted(cumulative, share * length.sum()))]
    lit = np.ones(len(edges), dtype=bool)
    lit[unlit] = False
    return lit


def _lighting_by_block(
    edges: pd.DataFrame,
    sides: pd.DataFrame,
    kind_at: np.ndarray,
    district_at: np.ndarray,
    core: tuple[float, float],
    rng: np.random.Generator,
    share: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Base mode: a block's pavements are lit or unlit together, and so is the lighting line
    along its sides; ~20% of the walkway length unlit (`share` of it left without lines)."""
    share = figures()["utilities"]["unlit_street_share"] if share is None else share
    annexed = list(figures()["amenities"]["annexed"])
    length = np.hypot(edges.x1 - edges.x0, edges.y1 - edges.y0).to_numpy()
    mx = ((edges.x0 + edges.x1) / 2).to_numpy()
    my = ((edges.y0 + edges.y1) / 2).to_numpy()
    block = edges["block"].to_numpy()
    score = (
        np.hypot(mx - core[0], my - core[1]) / 10000
        + 1.0 * (kind_at == "private_housing")
        + 0.6 * np.isin(district_at, annexed)
    )
    ring = block >= 0
    per_block = (
        pd.DataFrame({"block": block[ring], "score": score[ring], "length": length[ring]})
        .groupby("block")
        .agg(score=("score", "mean"), length=("length", "sum"))
    )
    per_block["score"] += rng.normal(0, 0.5, len(per_block))
    per_block = per_block.sort_values("score", ascending=False, kind="stable")
    cumulative = per_block.length.cumsum().to_numpy()
    unlit_blocks = per_block.index.to_numpy()[
        : int(np.searchsorted(cumulative, share * length.sum()))
    ]
    return ~np.isin(block, unlit_blocks), ~np.isin(sides["block"].to_numpy(), unlit_blocks)


def generate(scale: str = "small", seed: int = 1, base: Path | None = None) -> DemoCity:
    """The whole city in metres; deterministic for (scale, seed, base)."""
    if scale not in SCALES:
        raise TwinError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    params = figures()["scales"][scale]
    started = time.perf_counter()
    with progress(f"demo city ({scale}, seed {seed})", total=len(STEPS), unit="step") as bar:
        return _generate(scale, seed, base, params, started, bar)


STEPS = [
    "layout",
    "streets and blocks",
    "hazards and parks",
    "plots",
    "buildings",
    "amenities",
    "streets lighting",
    "utilities",
    "terrain",
]


def _step(bar, name: str) -> None:
    bar.set_postfix_str(name)
    bar.update(1)
    log.info("demo city: %s done", name)


def _generate(
    scale: str, seed: int, base: Path | None, params: dict, started: float, bar
) -> DemoCity:
    outline = outline_for(scale)
    relief = Relief(stream(seed, "relief"))
    if base is not None:
        base = Path(base)
        if not base.is_dir():
            raise TwinError(f"--base {base}: not a directory")
        districts = base_districts(base)
        outline = shapely.union_all(districts.geometry.values)
        outline = (
            max(shapely.get_parts(outline), key=lambda g: g.area)
            if outline.geom_type != "Polygon"
            else outline
        )
    else:
        districts = synthetic_districts(outline)
        if scale == "metro":  # the suburbs join the nearest district: 4 million in all
            districts["population"] = agglomeration_populations(districts)
    centres = polycentres(outline, stream(seed, "polycentres"))
    _step(bar, "layout")
    if base is not None:
        fab = fabric_module.base_fabric(base, districts, params, stream(seed, "fabric"))
    else:
        fab = fabric_module.synthetic_fabric(
            params, outline, districts, relief, stream(seed, "fabric")
        )
    blocks = fab.blocks
    blocks["kind"] = block_kinds(blocks, centres, stream(seed, "kinds"))
    _step(bar, "streets and blocks")
    west = centres.geometry[centres.name == "West"].iloc[0]
    fault_frame, strip = faults(outline, relief, west, stream(seed, "faults"))
    zones = microzones(outline, relief, fault_frame, stream(seed, "zones"))
    park_frame = make_parks(
        blocks,
        fab.quads,
        districts,
        centres,
        strip,
        stream(seed, "parks"),
        green_placement(scale, base is not None),
    )
    _step(bar, "hazards and parks")

    plots = subdivide(blocks, fab.quads, blocks.kind.to_numpy(), params, stream(seed, "plots"))
    plot_rng = stream(seed, "plot-use")
    plot_land_use(plots, plot_rng)
    # parks and the no-build strip take the plots under them
    tree = shapely.STRtree(park_frame.geometry.values)
    plot_idx, park_idx = tree.query(plots.geometry.values, predicate="intersects")
    overlap = shapely.area(
        shapely.intersection(plots.geometry.values[plot_idx], park_frame.geometry.values[park_idx])
    )
    share = overlap / plots.area_m2.to_numpy()[plot_idx]
    status = park_frame.status.to_numpy()[park_idx]
    strip_hit = np.zeros(len(plots), dtype=bool)
    strip_hit[np.unique(plot_idx[shapely.intersects(plots.geometry.values[plot_idx], strip)])] = (
        True
    )
    green = np.zeros(len(plots), dtype=bool)
    green[plot_idx[(share > 0.3) & (status == "existing")]] = True
    planned = np.zeros(len(plots), dtype=bool)
    planned[plot_idx[(share > 0.3) & (status == "planned")]] = True
    plots.loc[planned & ~green, "land_use"] = "vacant"
    plots.loc[green | strip_hit, "land_use"] = "green"
    plots.loc[green | strip_hit | planned, "owner_type"] = "municipal"
    reserved = green | strip_hit | planned
    claimed = claim_plots(plots, stream(seed, "amenity-plots"), reserved)
    _step(bar, "plots")
    houses = buildings(plots, stream(seed, "buildings"))
    # nothing is built in a park or on the fault strip
    hit, _ = shapely.STRtree(
        np.append(park_frame.geometry.values[park_frame.status == "existing"], strip)
    ).query(houses.geometry.values, predicate="intersects")
    if hit.size:
        houses = houses.drop(index=np.unique(hit)).reset_index(drop=True)
    houses["seismic_status"] = seismic_status(houses, stream(seed, "seismic"), scale)
    residents(plots, houses, dict(zip(districts.name_en, districts.population)))
    _step(bar, "buildings")
    amenity_frame = amenities(plots, claimed, park_frame, stream(seed, "amenities"))
    _step(bar, "amenities")

    # streets: lighting, walkability; utilities along them
    edges = fab.edges
    mid = shapely.points(
        ((edges.x0 + edges.x1) / 2).to_numpy(), ((edges.y0 + edges.y1) / 2).to_numpy()
    )
    nearest_block = shapely.STRtree(blocks.geometry.values).nearest(mid)
    kind_at = blocks.kind.to_numpy()[nearest_block]
    district_at = districts.name_en.to_numpy()[
        shapely.STRtree(districts.geometry.values).nearest(mid)
    ]
    if fab.sides is None:
        lit = _lighting(edges, kind_at, district_at, fab.core_centre, stream(seed, "lighting"))
        sides = street_sides(edges, kind_at, district_at, lit)
    else:
        lit, sides_lit = _lighting_by_block(
            edges, fab.sides, kind_at, district_at, fab.core_centre, stream(seed, "lighting")
        )
        side_block = fab.sides["block"].to_numpy()
        sides = street_sides(
            fab.sides,
            blocks.kind.to_numpy()[side_block],
            blocks.district.to_numpy()[side_block],
            sides_lit,
        )
    streets = fab.streets
    streets["lit"] = lit[streets.edge.to_numpy()]
    streets["walkable"] = ~streets.highway.isin(["motorway"]).to_numpy()
    streets["name_ru"], streets["name_kk"] = localized_street_names(streets.name)
    streets["steps"], streets["kerb"] = street_access(streets, relief, stream(seed, "access"))
    children(districts)
    places = school_places(
        amenity_frame,
        plots,
        districts,
        walking_network(streets, relief),
        stream(seed, "school-places"),
    )
    log.info("demo city: school and kindergarten places %s", places)
    _step(bar, "streets lighting")
    if scale == "city":
        factor = 1.0
    elif scale == "metro":  # the agglomeration's networks grow with its streets
        synthetic = synthetic_districts(city_outline())
        factor = float(
            np.hypot(edges.x1 - edges.x0, edges.y1 - edges.y0).sum() / 1000
        ) / _street_length_km("city", city_outline(), synthetic, relief, seed)
    else:  # the small grid's street length over the city grid's, in both modes
        synthetic = synthetic_districts(city_outline())
        factor = _street_length_km(
            "small", city_outline(), synthetic, relief, seed
        ) / _street_length_km("city", city_outline(), synthetic, relief, seed)
    lines = utility_lines(sides, factor, stream(seed, "utility-lines"))
    # each segment lit or unlit from the lighting lines laid along the lit sides (twin/mobility)
    streets["lit"] = street_lit(
        streets.geometry.values, lines.geometry.values[(lines.network == "lighting").to_numpy()]
    )
    target = figures()["utilities"]["unlit_street_share"]
    leave_dark = target
    for _ in range(3 if fab.sides is not None else 0):
        # base mode: the lamps of a lit block also light pavements across a narrow street, so
        # more blocks are left without lines until ~20% of the walkway length is unlit
        length = streets.length_m.to_numpy(float)
        unlit = float(length[~streets.lit.to_numpy(bool)].sum() / length.sum())
        if abs(unlit - target) <= 0.005:
            break
        leave_dark = min(max(leave_dark + (target - unlit), 0.0), 0.6)
        _, sides_lit = _lighting_by_block(
            edges,
            fab.sides,
            kind_at,
            district_at,
            fab.core_centre,
            stream(seed, "lighting"),
            leave_dark,
        )
        sides = street_sides(
            fab.sides,
            blocks.kind.to_numpy()[side_block],
            blocks.district.to_numpy()[side_block],
            sides_lit,
        )
        lines = utility_lines(sides, factor, stream(seed, "utility-lines"))
        streets["lit"] = street_lit(
            streets.geometry.values, lines.geometry.values[(lines.network == "lighting").to_numpy()]
        )
    plants = facilities(sides, stream(seed, "facilities"))
    stops = transit_stops(edges, streets, stream(seed, "transit"))
    # the synthetic GTFS feed's routes and timetable; its stops are the transit_stops layer
    transit = demo_transit(streets, stops, seed, scale)
    stops = transit.stops
    amenity_frame["address"] = addresses(amenity_frame, streets, stream(seed, "addresses"))
    # facilities placed by name (CHP plants, the aeration station) get their district here
    inside = shapely.STRtree(districts.geometry.values).nearest(plants.geometry.values)
    plants["district"] = districts.name_en.to_numpy()[inside]
    _step(bar, "utilities")

    blocks["area_m2"] = shapely.area(blocks.geometry.values)
    plots["area_m2"] = np.round(plots.area_m2, 1)
    resolution = float(figures()["terrain"]["resolution_m"][scale])
    elevation, transform = relief.raster(shapely.buffer(outline, 1500).bounds, resolution)
    _step(bar, "terrain")
    layers = {
        "districts": districts,
        "polycentres": centres,
        "blocks": blocks,
        "plots": plots,
        "buildings": houses,
        "streets": streets,
        "transit_stops": stops,
        "amenities": amenity_frame,
        "parks": park_frame,
        "utility_lines": lines,
        "utility_facilities": plants,
        "seismic_faults": fault_frame,
        "seismic_zones": zones,
        "protection_works": protection_works(relief),  # mudflow dams, stations (twin/hazards)
        "fire_stations": fire_stations(plots, centres, stream(seed, "fire_stations")),
    }
    details = {
        "seed": seed,
        "scale": scale,
        "base": str(base) if base else None,
        "figures": "twin/demo/almaty.yml",
        "utility_length_factor": round(factor, 6),
        "school_places": places,
        "transit": transit.details,
        "generated_in_s": round(time.perf_counter() - started, 2),
    }
    return DemoCity(
        scale=scale,
        seed=seed,
        layers=layers,
        elevation=elevation,
        transform=transform,
        details=details,
        transit=transit,
    )


def provenance(city: DemoCity, layer: str) -> Provenance:
    if city.details.get("base"):  # districts and blocks are the real data from --base DIR
        from twin.importers.real_base import base_provenance

        real = base_provenance(city.details["base"], layer, city.details)
        if real is not None:
            return real
    source = f"Almaty Twin demo generator (seed {city.seed}, scale {city.scale})"
    if city.details.get("base"):
        source += f" on real districts and blocks from {city.details['base']}"
    return Provenance(
        source=source, licence="CC0-1.0", synthetic=True, details=dict(city.details, layer=layer)
    )


def _valid(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Repair the rare polygon that reprojection leaves invalid (a sliver's ring touching
    itself), keeping only its polygonal parts, so GIS clients never see an invalid geometry."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    bad = ~shapely.is_valid(geoms)
    if not bad.any():
        return frame
    fixed = shapely.make_valid(geoms[bad])
    polygonal = shapely.get_type_id(geoms[bad]) >= 3
    for index, (geom, keep_polygons) in enumerate(zip(fixed, polygonal)):
        if keep_polygons and geom.geom_type == "GeometryCollection":
            fixed[index] = shapely.union_all(
                [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
            )
    frame = frame.copy()
    geoms[bad] = fixed
    frame.geometry = gpd.GeoSeries(geoms, crs=frame.crs, index=frame.index)
    return frame


def load(conn: psycopg.Connection, city: DemoCity) -> dict[str, int]:
    """Write every layer and the terrain in one transaction: a failure leaves the twin as it was.

    The synthetic rows are not written into the feature history (twin_history): the demo is
    reproducible from its seed, and recording half a million generated rows would double the
    load's time and the database's size. Rows it replaces are recorded when that layer has a
    history (someone edited it), so as-of queries and restores of those edits stay right."""
    counts: dict[str, int] = {}
    with conn.transaction():
        history = conn.execute(query("demo/history_table_exists")).fetchone()[0]
        for name in LAYER_ORDER:
            frame = _valid(city.layers[name].to_crs(4326))
            keep_trail = (
                history
                and conn.execute(query("demo/layer_has_history"), {"layer": name}).fetchone()[0]
            )
            if history:
                conn.execute(query("demo/set_history"), {"value": "on" if keep_trail else "off"})
            conn.execute(query("demo/empty_layer", table=get_layer(name).table))
            if history:
                conn.execute(query("demo/set_history"), {"value": "off"})
            with progress(f"demo {name}", total=len(frame), unit="rows") as bar:
                counts[name] = write_layer(
                    conn, name, frame, provenance(city, name), mode="append", progress=bar.update
                )
        if history:
            conn.execute(query("demo/set_history"), {"value": "on"})
        store_terrain(
            conn, city.elevation, city.transform, "EPSG:32643", provenance(city, "terrain")
        )
        if city.transit is not None:  # the timetable and transit_routes, in the same transaction
            feed = write_demo_feed(
                city.transit,
                get_settings().home / "demo" / f"gtfs-{city.scale}-seed{city.seed}.zip",
            )
            report = import_feed(
                conn,
                feed,
                name=f"Almaty demo (synthetic, seed {city.seed}, scale {city.scale})",
                synthetic=True,
                source=provenance(city, "transit_stops").source,
                details=provenance(city, "transit_stops").details,
            )
            counts["transit_routes"] = report.counts["routes"]
    return counts

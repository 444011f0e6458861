"""Per-place results into per-area indicators (districts, polycentres, the city), and those
indicators beside the programme's targets for `GET /indicators`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from twin.analysis import parks as green
from twin.analysis.city import CATEGORIES, CityModel, Places
from twin.analysis.fifteen import (
    LIMIT_MINUTES,
    PARK_LIMIT_M,
    THRESHOLD_MINUTES,
    NodeAccess,
    coverage,
    park_metres,
    place_access,
    place_minutes,
)
from twin.analysis.walkability import StreetFabric, credit_change, score, walk_parts
from twin.catalog import programme

CITY = "Almaty"


def fabric(city: CityModel) -> StreetFabric:
    if "fabric" not in city._cache:
        city._cache["fabric"] = StreetFabric(city.network)
    return city._cache["fabric"]


def fifteen_tables(
    city: CityModel, access: NodeAccess, describe: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per plot and per cell: minutes per category, counts, walkability, park walk
    (`describe` adds the names of the missing categories, for publishing)."""
    return (
        place_table(city, access, city.plot_places, describe),
        place_table(city, access, city.cell_places, describe),
    )


def place_table(
    city: CityModel, access: NodeAccess, places: Places, describe: bool = True
) -> pd.DataFrame:
    """One table of fifteen_tables for any places (all plots, or only those an edit reached)."""
    frame = place_minutes(access, places, describe)
    density, block = fabric(city).at(places.x, places.y)
    raw, factor = walk_parts({c: frame[f"min_{c}"].to_numpy() for c in CATEGORIES}, density, block)
    frame["walkability"] = score(raw, factor)
    frame["walk_raw"], frame["walk_factor"] = raw, factor
    frame["intersection_density"] = np.round(density, 1)
    frame["mean_block_m"] = np.round(block, 1)
    for column in [f"min_{c}" for c in CATEGORIES]:
        frame[column] = frame[column].round(2)
    frame["park_walk_m"] = frame["park_walk_m"].round(1)
    return frame


def refresh_tables(
    city: CityModel,
    base: tuple[pd.DataFrame, pd.DataFrame],
    access: NodeAccess,
    categories: tuple[str, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline tables with only `categories` (and what follows from them) recomputed."""
    tables = []
    for frame, places in zip(base, (city.plot_places, city.cell_places)):
        frame = frame.copy()
        raw = frame["walk_raw"].to_numpy(float).copy()
        for category in categories:
            value = np.round(place_access(access, places, category)[0], 2)
            value = np.where(value <= LIMIT_MINUTES, value, np.nan)
            raw += credit_change(category, frame[f"min_{category}"].to_numpy(float), value)
            frame[f"min_{category}"] = value
        if "parks" in categories:
            park = park_metres(access, places)
            park = np.where(park <= PARK_LIMIT_M, park, np.nan)
            frame["park_walk_m"] = np.round(park, 1)
            # compared before rounding, as place_minutes does (299.96 m is not within 300 m)
            frame["park_300"], frame["park_500"] = park <= 300, park <= 500
        within = np.column_stack(
            [frame[f"min_{c}"].to_numpy(float) <= THRESHOLD_MINUTES for c in CATEGORIES]
        )
        frame["categories_15"] = within.sum(axis=1)
        frame["all_six"] = frame["categories_15"].to_numpy() == len(CATEGORIES)
        frame["walk_raw"] = raw
        frame["walkability"] = score(raw, frame["walk_factor"].to_numpy(float))
        tables.append(frame)
    return tables[0], tables[1]


def _codes(values: np.ndarray, names: list[str]) -> np.ndarray:
    """Group code of each value: its position in `names`, -1 when not among them."""
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup.get(v, -1) for v in values], dtype=np.int64)


def access_summaries(
    city: CityModel, plots: pd.DataFrame, cells: pd.DataFrame, park_shapes: np.ndarray | None = None
) -> dict[str, Any]:
    """15-minute and park indicators per district, per polycentre and for the city
    (`park_shapes` replaces the stored parks in a scenario)."""
    park_shapes = city.park_shapes if park_shapes is None else park_shapes
    residents = city.plots["residents"].to_numpy(float)
    codes = city._cache.get("area_codes")
    if codes is None:
        districts = list(city.districts["name"])
        codes = {
            "plot_district": _codes(city.plots["district"].to_numpy(object), districts),
            "cell_district": _codes(city.cells["district"].to_numpy(object), districts),
            "plot_polycentre": _codes(
                city.plots["polycentre"].to_numpy(object), list(city.polycentres["name"])
            ),
        }
        city._cache["area_codes"] = codes
    if "plot_everyone" not in codes:
        codes["plot_everyone"] = np.zeros(len(plots), dtype=np.int64)
    districts, polycentres, (everyone,) = coverage(
        plots,
        residents,
        [
            (codes["plot_district"], len(city.districts)),
            (codes["plot_polycentre"], len(city.polycentres)),
            (codes["plot_everyone"], 1),
        ],
    )
    no_park = ~(cells["park_walk_m"].to_numpy(float) <= green.WALKING_DISTANCE_M)
    territory = green.built_up(city.cells["plots"].to_numpy())
    cell_codes = codes["cell_district"]
    counted = (cell_codes >= 0) & territory
    cell_count = np.bincount(cell_codes[counted], minlength=len(city.districts))
    cell_no_park = np.bincount(
        cell_codes[counted], weights=no_park[counted], minlength=len(city.districts)
    )
    stored_parks = park_shapes is city.park_shapes
    if stored_parks and "green" in city._cache:
        green_district, green_polycentre = city._cache["green"]
    else:
        green_district = green.green_by_area(park_shapes, city.district_shapes)
        green_polycentre = green.green_by_area(park_shapes, city.polycentre_shapes)
        if stored_parks:
            city._cache["green"] = (green_district, green_polycentre)
    result: dict[str, Any] = {"districts": {}, "polycentres": {}}
    for i, name in enumerate(city.districts["name"]):
        summary = districts[i]
        summary["no_park_share"] = (
            round(float(cell_no_park[i] / cell_count[i]), 4) if cell_count[i] else None
        )
        population = city.districts["population"].iloc[i]
        people = float(population) if population and population > 0 else summary["residents"]
        summary.update(green.green_summary(green_district[i], people))
        result["districts"][name] = summary
    for i, name in enumerate(city.polycentres["name"]):
        summary = polycentres[i]
        summary.update(green.green_summary(green_polycentre[i], summary["residents"]))
        result["polycentres"][name] = summary
    everyone["no_park_share"] = green.no_park_share(cells["park_walk_m"].to_numpy(float), territory)
    total_population = city.districts["population"].fillna(0).sum() if len(city.districts) else 0
    people = float(total_population) if total_population > 0 else everyone["residents"]
    everyone.update(
        green.green_summary(
            float(green_district.sum())
            if len(green_district)
            else float(shapely.area(park_shapes).sum()),
            people,
        )
    )
    result["city"] = everyone
    return result


# -- targets beside the twin's figures (GET /indicators) -----------------------------------


def with_targets(row: dict[str, Any]) -> dict[str, Any]:
    """{"name": ..., "indicator": value, ..., "targets": {indicator: {...}}} for one area: the
    programme's figures (layers/_targets.yml) of each indicator the row has; a figure that is
    each area's own (a polycentre's density target) only where the area has it."""
    targets = {}
    for name, indicator in programme().indicators.items():
        if name not in row:
            continue
        areal = [f.per_area for f in indicator.figures.values() if f.per_area]
        if any(row.get(key) is None for key in areal):
            continue
        targets[name] = indicator.served(row)
    return {**row, "targets": targets}

"""What if: add or remove amenities and parks, and see the 15-minute and park indicators move.

Nothing is written: the scenario copies the stored sources, changes them, reruns only the
categories it touched (one multi-source Dijkstra each) over the in-memory city, and compares
districts, polycentres, the city and every H3 cell with the baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from twin.analysis import AnalysisInputError
from twin.analysis.city import (
    CATEGORIES,
    DEFAULT_KIND,
    CityModel,
    cell_polygons,
    park_entrances,
    snap_rows,
)
from twin.analysis.fifteen import node_access
from twin.analysis.indicators import access_summaries, fifteen_tables, refresh_tables
from twin.analysis.network import to_utm
from twin.analysis.reports import baseline
from twin.catalog import get_layer
from twin.extent import current_extent

MAX_CHANGED_CELLS = 5000
TARGET_KEYS = {"green_norm_m2", "green_target_2025_m2", "green_target_2030_m2"}


def _baseline_tables(
    city: CityModel, mode: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    key = ("tables", mode)
    if key not in city._cache:
        plots, cells = fifteen_tables(city, baseline(city, mode), describe=False)
        city._cache[key] = (plots, cells, access_summaries(city, plots, cells))
    return city._cache[key]


def _ids(value: Any, name: str) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise AnalysisInputError(f"{name} must be a list of integer ids")
    return value


def parse_additions(add: Any) -> tuple[pd.DataFrame, list[Any], pd.DataFrame]:
    """Amenities (points) and parks (polygons) from a GeoJSON FeatureCollection."""
    amenity_kinds = set(get_layer("amenities").properties["kind"].enum or ())
    park_kinds = set(get_layer("parks").properties["kind"].enum or ())
    amenities, parks, park_rows = [], [], []
    if add is None:
        add = {"type": "FeatureCollection", "features": []}
    if (
        not isinstance(add, dict)
        or add.get("type") != "FeatureCollection"
        or not isinstance(add.get("features"), list)
    ):
        raise AnalysisInputError(
            "add must be a GeoJSON FeatureCollection "
            '({"type": "FeatureCollection", "features": [...]})'
        )
    extent = current_extent()  # the loaded districts' (twin.extent)
    minx, miny, maxx, maxy = extent
    for i, feature in enumerate(add["features"]):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise AnalysisInputError(f"add.features[{i}] is not a GeoJSON Feature")
        properties = feature.get("properties") or {}
        try:
            geometry = shape(feature.get("geometry"))
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            raise AnalysisInputError(
                f"add.features[{i}] has invalid GeoJSON geometry: {exc}"
            ) from None
        if geometry.is_empty or not geometry.is_valid:
            raise AnalysisInputError(f"add.features[{i}] has an empty or invalid geometry")
        bx0, by0, bx1, by1 = geometry.bounds
        if bx0 < minx or by0 < miny or bx1 > maxx or by1 > maxy:
            raise AnalysisInputError(
                f"add.features[{i}] lies outside the city (bbox {list(extent)})"
            )
        if geometry.geom_type == "Point":
            category = properties.get("category")
            if category not in CATEGORIES:
                raise AnalysisInputError(
                    f"add.features[{i}]: unknown category {category!r}; "
                    f"use one of {', '.join(CATEGORIES)}"
                )
            kind = properties.get("kind") or DEFAULT_KIND[category]
            if kind not in amenity_kinds:
                raise AnalysisInputError(f"add.features[{i}]: unknown amenity kind {kind!r}")
            amenities.append(
                {
                    "layer": "scenario",
                    "id": -(i + 1),
                    "category": category,
                    "kind": kind,
                    "name": properties.get("name") or f"new {kind}",
                    "lon": geometry.x,
                    "lat": geometry.y,
                }
            )
        elif geometry.geom_type in ("Polygon", "MultiPolygon"):
            kind = properties.get("kind") or "park"
            if kind not in park_kinds:
                raise AnalysisInputError(
                    f"add.features[{i}]: unknown park kind {kind!r}; use "
                    f"one of {', '.join(sorted(park_kinds))}"
                )
            parks.append(geometry)
            park_rows.append(
                {
                    "id": -(i + 1),
                    "name": properties.get("name") or f"new {kind}",
                    "kind": kind,
                    "status": "existing",
                    "district": None,
                }
            )
        else:
            raise AnalysisInputError(
                f"add.features[{i}]: a {geometry.geom_type} is neither an "
                "amenity (Point) nor a park (Polygon, MultiPolygon)"
            )
    return (
        pd.DataFrame(amenities, columns=["layer", "id", "category", "kind", "name", "lon", "lat"]),
        parks,
        pd.DataFrame(park_rows, columns=["id", "name", "kind", "status", "district"]),
    )


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        k: round(after[k] - before[k], 4)
        for k, v in before.items()
        if isinstance(v, (int, float))
        and not isinstance(v, bool)
        and isinstance(after.get(k), (int, float))
        and k not in TARGET_KEYS
    }


def run_scenario(
    city: CityModel,
    add: Any = None,
    remove_amenities: Any = None,
    remove_parks: Any = None,
    mode: str = "slope",
) -> dict[str, Any]:
    """Indicators before, after and their difference, plus the cells whose access changed."""
    added, new_parks, new_park_rows = parse_additions(add)
    removed_amenities = _ids(remove_amenities, "remove_amenities")
    removed_parks = _ids(remove_parks, "remove_parks")
    stored = city.amenities[city.amenities.layer == "amenities"]
    unknown = sorted(set(removed_amenities) - set(stored.id.tolist()))
    if unknown:
        raise AnalysisInputError(f"remove_amenities: unknown amenity ids {unknown}")
    unknown = sorted(set(removed_parks) - set(city.parks.id.tolist()))
    if unknown:
        raise AnalysisInputError(f"remove_parks: unknown (or not existing) park ids {unknown}")
    if not len(added) and not new_parks and not removed_amenities and not removed_parks:
        raise AnalysisInputError(
            "the scenario changes nothing: give add, remove_amenities or remove_parks"
        )

    gone = (city.amenities.layer == "amenities") & city.amenities.id.isin(removed_amenities)
    categories = set(city.amenities.loc[gone, "category"]) | set(added["category"])
    amenities = city.amenities[~gone]
    if len(added):
        x, y = to_utm(added.lon.to_numpy(float), added.lat.to_numpy(float))
        for column, values in snap_rows(city.network, x, y).items():
            added[column] = values
        amenities = pd.concat([amenities, added], ignore_index=True)
    entrances = city.entrances
    park_shapes = city.park_shapes
    if new_parks or removed_parks:
        categories.add("parks")
        keep = ~city.parks.id.isin(removed_parks).to_numpy()
        park_shapes = city.park_shapes[keep]
        entrances = entrances[~entrances.park.isin(removed_parks)]
        if new_parks:
            utm = shapely.transform(
                np.array(new_parks, dtype=object),
                lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])),
            )
            park_shapes = np.concatenate([park_shapes, utm])
            entrances = pd.concat(
                [entrances, park_entrances(city.network, utm, new_park_rows.id.to_numpy())],
                ignore_index=True,
            )
    categories_run = tuple(c for c in CATEGORIES if c in categories)

    plots_before, cells_before, before = _baseline_tables(city, mode)
    after_access = node_access(
        city,
        mode,
        categories_run,
        amenities=amenities,
        entrances=entrances,
        base=baseline(city, mode),
    )
    plots_after, cells_after = refresh_tables(
        city, (plots_before, cells_before), after_access, categories_run
    )
    after = access_summaries(city, plots_after, cells_after, park_shapes=park_shapes)

    compared = [f"min_{c}" for c in categories_run] + [
        "categories_15",
        "park_walk_m",
        "walkability",
    ]
    changed_cells = _changed(cells_before, cells_after, compared)
    changed_plots = _changed(plots_before, plots_after, compared)
    residents = city.plots["residents"].to_numpy()
    gain = plots_after["categories_15"].to_numpy() - plots_before["categories_15"].to_numpy()
    cells = city.cells.iloc[changed_cells[:MAX_CHANGED_CELLS]]
    shapes = cell_polygons(cells["h3"].tolist())
    features = []
    for k, (i, row) in enumerate(zip(changed_cells[:MAX_CHANGED_CELLS], cells.itertuples())):
        b, a = cells_before.iloc[i], cells_after.iloc[i]
        properties = {"h3": row.h3, "district": row.district, "residents": int(row.residents)}
        for column in compared:
            properties[f"{column}_before"] = _plain(b[column])
            properties[f"{column}_after"] = _plain(a[column])
        features.append(
            {"type": "Feature", "geometry": mapping(shapes[k]), "properties": properties}
        )
    return {
        "mode": mode,
        "categories_recomputed": list(categories_run),
        "stored_data_changed": False,
        "affected": {
            "plots": int(len(changed_plots)),
            "cells": int(len(changed_cells)),
            "residents_gaining_categories": int(residents[gain > 0].sum()),
            "residents_losing_categories": int(residents[gain < 0].sum()),
        },
        "city": {
            "before": before["city"],
            "after": after["city"],
            "delta": _delta(before["city"], after["city"]),
        },
        "districts": [
            {
                "district": name,
                "before": before["districts"][name],
                "after": after["districts"][name],
                "delta": _delta(before["districts"][name], after["districts"][name]),
            }
            for name in before["districts"]
        ],
        "polycentres": [
            {
                "polycentre": name,
                "before": before["polycentres"][name],
                "after": after["polycentres"][name],
                "delta": _delta(before["polycentres"][name], after["polycentres"][name]),
            }
            for name in before["polycentres"]
        ],
        "changed_cells": {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": int(len(changed_cells)),
            "numberReturned": len(features),
        },
    }


def _changed(before: pd.DataFrame, after: pd.DataFrame, columns: list[str]) -> np.ndarray:
    differs = np.zeros(len(before), dtype=bool)
    for column in columns:
        b, a = before[column].to_numpy(float), after[column].to_numpy(float)
        differs |= ~((b == a) | (np.isnan(b) & np.isnan(a)))
    return np.flatnonzero(differs)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    value = float(value)
    return None if np.isnan(value) else round(value, 2)

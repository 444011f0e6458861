"""The independent path: the city rebuilt with a plan's edits applied, from scratch.

What `twin analyse` would redo after the edits were real: a walking network constructed anew
from the edited segment list, every place (plots, new housing, cells, amenities, park
entrances) snapped again, every category's Dijkstra, the street fabric, the tables and the
summaries. The engine (twin.plans.evaluate) must give the same figures incrementally; the tests
and `twin bench plans` compare the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from twin.analysis.city import (
    SNAP_COLUMNS,
    CityModel,
    Places,
    _cells,
    park_entrances,
    snap_rows,
)
from twin.analysis.fifteen import node_access
from twin.analysis.indicators import access_summaries, fifteen_tables
from twin.analysis.network import WalkingNetwork, to_lonlat, to_utm
from twin.plans.edits import PlanEdits, housing_places, parse_edits


def _network(city: CityModel, edits: PlanEdits) -> WalkingNetwork:
    """A new network from the edited segment list (closed ones dropped, lit ones lit, links
    appended), its main part and snapping index built afresh."""
    base = city.network
    closed = {int(i) for e in edits.of("street.close") for i in e.edges}
    lit = {int(i) for e in edits.of("street.light") for i in e.edges}
    segments = [
        (int(u), int(v), float(length), bool(on) or i in lit)
        for i, (u, v, length, on) in enumerate(
            zip(base.edge_u, base.edge_v, base.edge_length, base.edge_lit)
        )
        if i not in closed
    ]
    segments += [
        (e.nodes[0], e.nodes[1], e.length_m, bool(e.properties["lit"]))
        for e in edits.of("street.link")
    ]
    u, v, length, on = (np.array(column) for column in zip(*segments))
    return WalkingNetwork(
        node_ids=base.node_ids.copy(),
        x=base.x.copy(),
        y=base.y.copy(),
        z=base.z.copy(),
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        edge_length=length.astype(float),
        edge_lit=on.astype(bool),
        version=base.version,
        slope_aware=base.slope_aware,
    )


def _amenities(city: CityModel, edits: PlanEdits, network: WalkingNetwork) -> pd.DataFrame:
    frame = city.amenities.drop(columns=SNAP_COLUMNS).copy()
    for edit in edits.of("amenity.remove"):
        frame = frame[~((frame.layer == "amenities") & (frame.id == edit.properties["amenity"]))]
    for edit in edits.of("amenity.move"):
        row = (frame.layer == "amenities") & (frame.id == edit.properties["amenity"])
        frame.loc[row, "lon"] = edit.geometry.x
        frame.loc[row, "lat"] = edit.geometry.y
    added = [
        {
            "layer": "amenities",  # a new amenity of the collection (negative id until stored)
            "id": -(e.index + 1),
            "category": e.properties["category"],
            "kind": e.properties["kind"],
            "name": e.properties["name"],
            "lon": e.geometry.x,
            "lat": e.geometry.y,
            "capacity": e.properties.get("capacity"),
        }
        for e in edits.of("amenity.add")
    ]
    if added:
        frame = pd.concat([frame, pd.DataFrame(added, columns=frame.columns)], ignore_index=True)
    frame = frame.reset_index(drop=True)
    x, y = to_utm(frame.lon.to_numpy(float), frame.lat.to_numpy(float))
    for column, values in snap_rows(network, x, y).items():
        frame[column] = values
    return frame


def _parks(
    city: CityModel, edits: PlanEdits, network: WalkingNetwork
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    removed = {e.properties["park"] for e in edits.of("park.remove")}
    keep = [i for i, pid in enumerate(city.parks.id.tolist()) if pid not in removed]
    parks = city.parks.iloc[keep].to_dict("records")
    shapes = list(city.park_shapes[keep])
    for edit in edits.of("park.add"):
        parks.append(
            {
                "id": -(edit.index + 1),
                "name": edit.properties["name"],
                "kind": edit.properties["kind"],
                "status": "existing",
                "district": None,
                "area_m2": edit.utm.area,
            }
        )
        shapes.append(edit.utm)
    frame = pd.DataFrame(parks, columns=city.parks.columns)
    shape_array = np.array(shapes, dtype=object)
    return frame, shape_array, park_entrances(network, shape_array, frame.id.to_numpy())


def _first_area(lon: float, lat: float, shapes: np.ndarray, names: list[str]) -> str | None:
    point = shapely.Point(lon, lat)
    for shape, name in zip(shapes, names):
        if shape.intersects(point):
            return name
    return None


def apply_edits(city: CityModel, edits: Any) -> CityModel:
    """The city with the plan's edits applied, rebuilt from its frames with nothing reused but
    the data: a new network, every place snapped again, the cells counted again."""
    if not isinstance(edits, PlanEdits):
        edits = parse_edits(edits, city)
    network = _network(city, edits)
    amenities = _amenities(city, edits, network)
    parks, park_shapes, entrances = _parks(city, edits, network)

    plots = city.plots.copy()
    for edit in edits.of("housing.remove"):
        inside = shapely.contains_xy(
            edit.geometry, plots.lon.to_numpy(float), plots.lat.to_numpy(float)
        )
        plots.loc[inside, "residents"] = 0
    xs, ys = [city.plot_places.x], [city.plot_places.y]
    new = []
    districts = list(city.districts["name"])
    polycentres = list(city.polycentres["name"])
    for edit in edits.edits:
        if edit.kind not in ("housing.add", "building.add") or edit.residents <= 0:
            continue
        x, y, people = housing_places(edit)
        lon, lat = to_lonlat(x, y)
        for k in range(len(x)):
            new.append(
                {
                    "id": -(len(new) + 1),
                    "land_use": "residential",
                    "district": _first_area(lon[k], lat[k], city.district_shapes, districts),
                    "residents": int(people[k]),
                    "lon": float(lon[k]),
                    "lat": float(lat[k]),
                    "polycentre": _first_area(lon[k], lat[k], city.polycentre_shapes, polycentres),
                }
            )
        xs.append(x)
        ys.append(y)
    if new:
        plots = pd.concat([plots, pd.DataFrame(new, columns=plots.columns)], ignore_index=True)
    plots["residents"] = plots["residents"].astype(np.int64)
    plot_places = Places.snapped(network, np.concatenate(xs), np.concatenate(ys))
    cells = _cells(city.district_shapes, city.districts, plots)
    cx, cy = to_utm(cells.lon.to_numpy(float), cells.lat.to_numpy(float))
    return CityModel(
        network=network,
        amenities=amenities,
        parks=parks,
        park_shapes=park_shapes,
        entrances=entrances,
        plots=plots,
        plot_places=plot_places,
        cells=cells,
        cell_places=Places.snapped(network, cx, cy),
        districts=city.districts,
        district_shapes=city.district_shapes,
        polycentres=city.polycentres,
        polycentre_shapes=city.polycentre_shapes,
        version=city.version,
    )


def reference_indicators(city: CityModel, mode: str = "slope", context: Any = None) -> dict:
    """{"city", "districts", "polycentres"} ROWs by the full pipeline: every category's
    Dijkstra, the tables, the summaries and the measures (with `context`)."""
    from twin.plans.evaluate import indicator_rows

    access = node_access(city, mode)
    plots, cells = fifteen_tables(city, access, describe=False)
    rows, _ = indicator_rows(city, access_summaries(city, plots, cells), mode, context)
    return rows


__all__ = ["apply_edits", "reference_indicators"]

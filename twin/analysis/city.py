"""The city as the analysis sees it: the walking network plus every place snapped to it.

Loaded once per process (the CLI run, each server worker) and reloaded when any layer it reads
changes version, so the processes answer from memory.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.network import (
    Snapped,
    WalkingNetwork,
    data_versions,
    load_network,
    to_lonlat,
    to_utm,
)
from twin.catalog import analysis_inputs
from twin.sqlfiles import query

LOG = logging.getLogger("twin.analysis.city")

CATEGORIES = ("education", "healthcare", "commerce", "culture_sport", "parks", "transit")
# the kind a new amenity of a category is when nobody says (what-if scenarios, plans)
DEFAULT_KIND = {
    "education": "school",
    "healthcare": "clinic",
    "commerce": "shop",
    "culture_sport": "sport",
    "parks": "park_entrance",
    "transit": "transit_stop",
}
H3_RESOLUTION = 9
PARK_ENTRANCE_SPACING_M = 50.0  # candidate entrances every 50 m along a park's edge
PARK_ENTRANCE_REACH_M = 60.0  # an edge point farther than this from any street is no gate
# What the model reads (layers/_catalog.yml, `feeds:` of each layer): the city and the places
# residents walk to.
INPUT_LAYERS = analysis_inputs("city", "fifteen")


@dataclass
class Places:
    """Points met on the nearest street segment (`at`, network.Snapped) with UTM coordinates:
    a place walks straight to the street, then along it to either end node."""

    x: np.ndarray
    y: np.ndarray
    at: Snapped
    # the walks to the segment ends per (mode, lit_only) and network (twin.analysis.fifteen)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def snapped(cls, network: WalkingNetwork, x: np.ndarray, y: np.ndarray) -> Places:
        x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
        return cls(x, y, network.snap_segment_xy(x, y))

    @property
    def node(self) -> np.ndarray:
        """The end node of its segment nearer along the street (the node a place is 'at')."""
        return self.at.nearer_node

    @property
    def snap_m(self) -> np.ndarray:
        """The straight walk to the street (metres)."""
        return self.at.snap_m

    def take(self, rows: np.ndarray) -> Places:
        return Places(self.x[rows], self.y[rows], self.at.take(rows))

    @classmethod
    def concat(cls, parts: list[Places]) -> Places:
        return cls(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            Snapped.concat([p.at for p in parts]),
        )


SNAP_COLUMNS = ["node", "snap_m", "segment", "fraction"]


def snap_rows(network: WalkingNetwork, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The snap columns of a frame of points (amenities, entrances): the nearer end node, the
    straight walk to the street, the segment and how far along it."""
    at = network.snap_segment_xy(x, y)
    return {
        "node": at.nearer_node,
        "snap_m": at.snap_m,
        "segment": at.segment,
        "fraction": at.fraction,
    }


def rows_at(network: WalkingNetwork, frame: pd.DataFrame) -> Snapped:
    """The Snapped of a frame with the snap columns (on the network it was snapped to)."""
    segment = frame["segment"].to_numpy(np.int64)
    return Snapped(
        segment,
        np.column_stack([network.edge_u[segment], network.edge_v[segment]]),
        frame["fraction"].to_numpy(float),
        frame["snap_m"].to_numpy(float),
    )


def park_entrances(
    network: WalkingNetwork, shapes_utm: np.ndarray, park_index: np.ndarray | None = None
) -> pd.DataFrame:
    """Where each park can be entered from the street network.

    Points every 50 m along each park's edge, each met on its nearest street segment; points
    within 60 m of a street are entrances (the straight walk to the street walked too), one per
    segment (the nearest). A park with none gets its single nearest edge point, so every park
    is reachable.
    """
    if len(shapes_utm) == 0:
        return pd.DataFrame(
            {
                "park": np.zeros(0, np.int64),
                **{c: np.zeros(0, np.int64) for c in ("node", "segment")},
                **{c: np.zeros(0) for c in ("snap_m", "fraction")},
            }
        )
    edges = shapely.segmentize(shapely.boundary(shapes_utm), PARK_ENTRANCE_SPACING_M)
    coords, which = shapely.get_coordinates(edges, return_index=True)
    frame = pd.DataFrame({"park": which, **snap_rows(network, coords[:, 0], coords[:, 1])})
    best = frame.sort_values("snap_m").groupby("park", sort=False).head(1)
    kept = frame[frame.snap_m <= PARK_ENTRANCE_REACH_M]
    frame = pd.concat([kept, best]).sort_values("snap_m").drop_duplicates(["park", "segment"])
    if park_index is not None:
        frame["park"] = np.asarray(park_index)[frame["park"].to_numpy()]
    return frame.reset_index(drop=True)


def city_cells(districts_lonlat: np.ndarray, resolution: int = H3_RESOLUTION) -> list[str]:
    """H3 cells whose centres fall inside the city's districts."""
    if len(districts_lonlat) == 0:
        return []
    city = shapely.union_all(districts_lonlat)
    return sorted(h3.geo_to_cells(city, resolution))


@dataclass
class CityModel:
    network: WalkingNetwork
    amenities: pd.DataFrame  # layer, id, category, kind, name, lon, lat, capacity, node, snap_m
    parks: pd.DataFrame  # id, name, kind, status, district, area_m2
    park_shapes: np.ndarray  # shapely polygons in UTM, aligned with parks
    entrances: pd.DataFrame  # park (id), node, snap_m
    plots: pd.DataFrame  # id, cadastral_number, land_use, ..., residents, lon, lat
    plot_places: Places
    cells: pd.DataFrame  # h3, lon, lat, district, residents, plots
    cell_places: Places
    districts: pd.DataFrame  # name, population
    district_shapes: np.ndarray  # shapely polygons lon/lat
    polycentres: pd.DataFrame  # name, target_density_pph
    polycentre_shapes: np.ndarray
    version: tuple = ()
    _cache: dict = field(default_factory=dict, repr=False)

    def sources(
        self,
        category: str,
        amenities: pd.DataFrame | None = None,
        entrances: pd.DataFrame | None = None,
    ) -> Snapped:
        """Where everything that serves `category` meets the streets (amenities of the
        category, then for parks the park entrances), in that order (origin indices)."""
        amenities = self.amenities if amenities is None else amenities
        parts = [rows_at(self.network, amenities[amenities.category == category])]
        if category == "parks":
            entrances = self.entrances if entrances is None else entrances
            parts.append(rows_at(self.network, entrances))
        return Snapped.concat(parts)


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return (
        pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    )


def _plot_residents(conn: psycopg.Connection, plots: pd.DataFrame) -> pd.Series:
    """plots.residents, or the districts' populations spread over residential floor area."""
    residents = pd.to_numeric(plots["residents"], errors="coerce")
    if residents.notna().any():
        return residents.fillna(0).astype(np.int64)
    LOG.warning(
        "plots carry no residents: spreading district populations over residential floor area"
    )
    spread = dict(conn.execute(query("analysis/residents_from_buildings")).fetchall())
    return plots["id"].map(spread).fillna(0).astype(np.int64)


def amenity_places(conn: psycopg.Connection, network: WalkingNetwork) -> pd.DataFrame:
    """Every amenity and transit stop snapped to the network (also re-read after an edit)."""
    amenities = _frame(
        conn.execute(query("analysis/amenity_points")).fetchall(),
        ["layer", "id", "category", "kind", "name", "lon", "lat", "capacity"],
    )
    ax, ay = to_utm(amenities.lon.to_numpy(float), amenities.lat.to_numpy(float))
    for column, values in snap_rows(network, ax, ay).items():
        amenities[column] = values
    return amenities


PLOT_COLUMNS = [
    "id",
    "cadastral_number",
    "land_use",
    "zoning",
    "district",
    "residents",
    "area_m2",
    "lon",
    "lat",
    "polycentre",
]


def plot_rows(conn: psycopg.Connection, ids: list[int] | None = None) -> pd.DataFrame:
    """Plots as the analysis reads them (all, or those `ids` an edit changed), by id."""
    return _frame(
        conn.execute(query("analysis/plot_points"), {"ids": ids}).fetchall(), PLOT_COLUMNS
    )


def park_places(
    conn: psycopg.Connection,
    network: WalkingNetwork,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """The parks, their UTM shapes and their entrances (also re-read after an edit)."""
    park_rows = conn.execute(query("analysis/park_shapes")).fetchall()
    parks = _frame([r[:5] for r in park_rows], ["id", "name", "kind", "status", "district"])
    park_shapes = shapely.from_wkb([r[5] for r in park_rows]) if park_rows else np.array([])
    parks["area_m2"] = shapely.area(park_shapes) if len(park_rows) else []
    return parks, park_shapes, park_entrances(network, park_shapes, parks.id.to_numpy())


def load_city(conn: psycopg.Connection, network: WalkingNetwork | None = None) -> CityModel:
    """Read every input layer and snap its places to the walking network."""
    network = network or load_network(conn)
    version = data_versions(conn, INPUT_LAYERS)
    amenities = amenity_places(conn, network)
    parks, park_shapes, entrances = park_places(conn, network)

    plots = plot_rows(conn)
    plots["residents"] = _plot_residents(conn, plots) if len(plots) else []
    px, py = to_utm(plots.lon.to_numpy(float), plots.lat.to_numpy(float))
    plot_places = Places.snapped(network, px, py)

    district_rows = conn.execute(query("analysis/district_shapes")).fetchall()
    districts = _frame([r[:2] for r in district_rows], ["name", "population"])
    district_shapes = (
        shapely.from_wkb([r[2] for r in district_rows]) if district_rows else np.array([])
    )
    poly_rows = conn.execute(query("analysis/polycentre_shapes")).fetchall()
    polycentres = _frame([r[:2] for r in poly_rows], ["name", "target_density_pph"])
    polycentre_shapes = shapely.from_wkb([r[2] for r in poly_rows]) if poly_rows else np.array([])

    cells = _cells(district_shapes, districts, plots)
    cx, cy = to_utm(cells.lon.to_numpy(float), cells.lat.to_numpy(float))
    cell_places = Places.snapped(network, cx, cy)
    city = CityModel(
        network=network,
        amenities=amenities,
        parks=parks,
        park_shapes=park_shapes,
        entrances=entrances,
        plots=plots,
        plot_places=plot_places,
        cells=cells,
        cell_places=cell_places,
        districts=districts,
        district_shapes=district_shapes,
        polycentres=polycentres,
        polycentre_shapes=polycentre_shapes,
        version=network.version + version,
    )
    return city


def _cells(
    district_shapes: np.ndarray, districts: pd.DataFrame, plots: pd.DataFrame
) -> pd.DataFrame:
    """H3 res-9 cells over the city (centre inside a district, or holding a plot, so every
    resident is counted) with their district, residents and plot count."""
    plot_cells = [
        h3.latlng_to_cell(lat, lon, H3_RESOLUTION)
        for lon, lat in zip(plots.lon.to_numpy(float), plots.lat.to_numpy(float))
    ]
    ids = sorted(set(city_cells(district_shapes)) | set(plot_cells))
    centres = np.array([h3.cell_to_latlng(c) for c in ids]).reshape(-1, 2)
    cells = pd.DataFrame({"h3": ids, "lon": centres[:, 1], "lat": centres[:, 0]})
    by_cell = pd.DataFrame({"h3": plot_cells, "residents": plots["residents"].to_numpy()})
    totals = by_cell.groupby("h3").agg(residents=("residents", "sum"), plots=("residents", "size"))
    cells = cells.join(totals, on="h3")
    cells[["residents", "plots"]] = cells[["residents", "plots"]].fillna(0).astype(np.int64)
    cells["district"] = None
    if len(district_shapes):
        points = shapely.points(cells.lon.to_numpy(), cells.lat.to_numpy())
        tree = shapely.STRtree(district_shapes)
        which_cell, which_district = tree.query(points, predicate="within")
        names = districts["name"].to_numpy()
        cells.loc[which_cell, "district"] = names[which_district]
    outside = cells["district"].isna().to_numpy()
    if outside.any() and len(plots):  # centre beyond the districts: its (first) plot's district
        by_plots = (
            pd.DataFrame({"h3": plot_cells, "district": plots["district"].to_numpy()})
            .dropna()
            .drop_duplicates("h3")
            .set_index("h3")["district"]
        )
        cells.loc[outside, "district"] = cells.loc[outside, "h3"].map(by_plots).to_numpy()
    return cells


def cell_polygons(h3_ids: list[str]) -> np.ndarray:
    """The hexagons as shapely polygons (lon/lat)."""
    return np.array(
        [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in h3_ids],
        dtype=object,
    )


# -- one model per process, reloaded when a layer it reads changes --------------------------

_current: dict[str, CityModel] = {}
_lock = threading.Lock()


def current_city(conn: psycopg.Connection) -> CityModel:
    """The cached model, rebuilt when the data versions of its layers moved on."""
    version = data_versions(conn, ("streets", "terrain") + INPUT_LAYERS)
    with _lock:
        model = _current.get("city")
        if model is not None and model.version == version:
            return model
        network = (
            model.network if model is not None and model.network.version == version[:2] else None
        )
        held = _current.get("network")  # the isochrone's (current_network): not read twice
        if network is None and held is not None and held.version == version[:2]:
            network = held  # type: ignore[assignment]
        model = load_city(conn, network)
        _current.pop("network", None)  # the model holds it now
        _current["city"] = model
        return model


def current_network(conn: psycopg.Connection) -> WalkingNetwork:
    """Only the walking network (the isochrone needs no plots), cached by its versions."""
    version = data_versions(conn, ("streets", "terrain"))
    with _lock:
        model = _current.get("city")
        if model is not None and model.network.version == version:
            return model.network
        network = _current.get("network")
        if network is None or network.version != version:
            network = load_network(conn)
            _current["network"] = network  # type: ignore[assignment]
        return network  # type: ignore[return-value]


__all__ = [
    "CATEGORIES",
    "SNAP_COLUMNS",
    "CityModel",
    "Places",
    "cell_polygons",
    "city_cells",
    "current_city",
    "current_network",
    "load_city",
    "park_entrances",
    "rows_at",
    "snap_rows",
    "to_lonlat",
]

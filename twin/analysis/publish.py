"""`twin analyse`: compute every analysis layer from the city's data and publish it.

Reads the layers, builds the walking network (cached by data version), runs the 15-minute,
walkability, park, seismic and utility analyses, and writes plot_metrics, fifteen_cells,
building_metrics, district_indicators and polycentre_indicators with COPY (twin.store), each
in one transaction. The collections and tiles follow from the catalog.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import click
import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis.city import CATEGORIES, CityModel, cell_polygons, load_city
from twin.analysis.fifteen import NodeAccess, node_access
from twin.analysis.indicators import access_summaries, fifteen_tables
from twin.analysis.isochrones import keep_city
from twin.analysis.network import data_versions
from twin.analysis.network import to_utm as _utm
from twin.analysis.seismic import Hazards, attested, building_exposure
from twin.analysis.utilities import NETWORKS, WEAR_TARGET_2030, line_distances, wear
from twin.catalog import analysis_inputs
from twin.progress import progress
from twin.sqlfiles import query
from twin.store import Provenance, write_layer
from twin.transit.figures import PT_COLUMNS, TransitFigures, transit_figures

LOG = logging.getLogger("twin.analysis")
ANALYSIS_LOCK_SPACE = 0x7477  # advisory locks of the analysis ("tw"): 1 refresher, 2 publish
PUBLISH_LOCK = 2
SOURCE = (
    "twin analyse: computed from streets, terrain, amenities, transit_stops, parks, plots, "
    "buildings, seismic_faults, seismic_zones, utility_lines, districts, polycentres"
)


def _geoframe(frame: pd.DataFrame, geometry: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geometry), crs=4326)


def _plot_shapes(conn: psycopg.Connection, ids: np.ndarray) -> np.ndarray:
    rows = conn.execute(query("analysis/plot_shapes"), {"ids": None}).fetchall()
    by_id = dict(zip((r[0] for r in rows), shapely.from_wkb([r[1] for r in rows])))
    return np.array([by_id[i] for i in ids], dtype=object)


def _districts_of(points: np.ndarray, city: CityModel) -> np.ndarray:
    names = np.full(len(points), None, dtype=object)
    if len(city.district_shapes) and len(points):
        which, district = shapely.STRtree(city.district_shapes).query(points, predicate="within")
        names[which] = city.districts["name"].to_numpy()[district]
    return names


class Analysis:
    """One run of the whole analysis; each step timed for the benchmark and the log."""

    def __init__(self, conn: psycopg.Connection, mode: str = "slope") -> None:
        self.conn = conn
        self.mode = mode
        self.timings: dict[str, float] = {}

    def _timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.perf_counter() - started, 3)

    def load(self) -> CityModel:
        started = time.perf_counter()
        self.city = load_city(self.conn)
        keep_city(self.conn, self.city)  # what an isochrone reads, mapped by the next worker
        self._timed("load", started)
        return self.city

    def fifteen(self) -> tuple[pd.DataFrame, pd.DataFrame, NodeAccess]:
        started = time.perf_counter()
        access = node_access(self.city, self.mode)
        plots, cells = fifteen_tables(self.city, access)
        self._timed("fifteen", started)
        self.access, self.plot_access, self.cell_access = access, plots, cells
        self.walk_pt()
        return plots, cells, access

    def walk_pt(self) -> None:
        """The same minutes on foot or by public transport (twin/transit/figures.py), when a
        feed is loaded; again after an edit moved the walking minutes (twin.analysis.refresh)."""
        started = time.perf_counter()
        self.transit = transit_figures(self.conn, self.city, self.access)
        self._timed("walk_pt", started)

    def _walk_pt_columns(self, which: str, pick: slice | np.ndarray, rows: int) -> pd.DataFrame:
        """The walk+PT columns of plots or cells (empty without a feed: the columns stay)."""
        transit = getattr(self, "transit", None)
        if transit is None:
            return pd.DataFrame({column: [None] * rows for column in PT_COLUMNS})
        return getattr(transit, which).iloc[pick].reset_index(drop=True)

    def hazards_and_utilities(self) -> None:
        started = time.perf_counter()
        city = self.city
        shapes = _plot_shapes(self.conn, city.plots["id"].to_numpy())
        self.plot_shapes = shapes
        footprints = shapely.transform(shapes, lambda xy: np.column_stack(_utm(xy[:, 0], xy[:, 1])))
        hazards = Hazards.load(self.conn)
        points = shapely.points(
            city.plots["lon"].to_numpy(float), city.plots["lat"].to_numpy(float)
        )
        self.plot_hazards = hazards.exposure(footprints)
        self.plot_hazards["seismic_intensity"] = hazards.intensity(points)
        self.footprints = footprints  # UTM, kept for the refresh of utility distances
        self.building_exposure(hazards)
        self._timed("seismic", started)
        started = time.perf_counter()
        self.plot_utilities = line_distances(self.conn, footprints)
        self.wear = wear(self.conn)
        self._timed("utilities", started)

    def building_exposure(self, hazards: Hazards) -> None:
        """Every building's seismic exposure; one outside every district counts where it
        stands."""
        self.buildings = building_exposure(self.conn, hazards)
        missing = self.buildings["district"].isna().to_numpy()
        if missing.any():
            self.buildings.loc[missing, "district"] = _districts_of(
                shapely.point_on_surface(self.buildings.loc[missing, "geometry"].to_numpy()),
                self.city,
            )

    def plot_metrics(self, rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
        """The published rows (`rows`: only those positions, for a refresh after an edit)."""
        city = self.city
        pick = slice(None) if rows is None else rows
        plots = city.plots.iloc[pick]
        frame = pd.DataFrame(
            {
                "plot_id": plots["id"].to_numpy(np.int64),
                "cadastral_number": plots["cadastral_number"].to_numpy(object),
                "district": plots["district"].to_numpy(object),
                "polycentre": plots["polycentre"].to_numpy(object),
                "land_use": plots["land_use"].to_numpy(object),
                "residents": plots["residents"].to_numpy(np.int64),
            }
        )
        frame = pd.concat(
            [
                frame,
                self.plot_access.iloc[pick].reset_index(drop=True),
                self.plot_hazards.iloc[pick].reset_index(drop=True),
                self.plot_utilities.iloc[pick].reset_index(drop=True),
                self._walk_pt_columns("plots", pick, len(plots)),
            ],
            axis=1,
        )
        return _geoframe(frame, np.asarray(self.plot_shapes)[pick])

    def fifteen_cells(self, rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
        city = self.city
        pick = slice(None) if rows is None else rows
        cells = city.cells.iloc[pick]
        frame = pd.concat(
            [
                cells[["h3", "district", "residents", "plots"]].reset_index(drop=True),
                self.cell_access.iloc[pick]
                .drop(columns=["park_300", "park_500", "intersection_density", "mean_block_m"])
                .reset_index(drop=True),
                self._walk_pt_columns("cells", pick, len(cells)),
            ],
            axis=1,
        )
        return _geoframe(frame, cell_polygons(cells["h3"].tolist()))

    def indicators(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, Any]]:
        city = self.city
        summaries = access_summaries(city, self.plot_access, self.cell_access)
        plots = city.plots.assign(
            in_setback=self.plot_hazards["in_fault_setback"].to_numpy(),
            intensity=self.plot_hazards["seismic_intensity"].to_numpy(),
        )
        buildings = self.buildings
        wear_rows = {(r.network, r.district): r.wear_pct for r in self.wear.itertuples()}

        def hazard_counts(name: str | None, plot_mask: np.ndarray) -> dict[str, Any]:
            in_area = buildings if name is None else buildings[buildings["district"] == name]
            chosen = plots[plot_mask]
            pre_code = in_area["year_built"].to_numpy(float) < 2001
            return {
                "buildings": int(len(in_area)),
                "attested_buildings": int(attested(in_area).sum()),
                "buildings_needing_strengthening": int(in_area["needs_strengthening"].sum()),
                "buildings_strengthened": int((in_area["seismic_status"] == "strengthened").sum()),
                "private_houses_pre2001": int(
                    (pre_code & (in_area["stock"] == "private_house").to_numpy()).sum()
                ),
                "buildings_in_setback": int(in_area["in_fault_setback"].sum()),
                "plots_in_setback": int(chosen["in_setback"].sum()),
                "residents_intensity_10": int(
                    chosen.loc[chosen["intensity"] >= 10, "residents"].sum()
                ),
            }

        def network_wear(name: str) -> dict[str, Any]:
            row = {
                f"wear_{n}_pct": _none(wear_rows.get((n, name)))
                for n in NETWORKS
                if n != "lighting"
            }
            row.update({f"wear_{n}_target_2030": t for n, t in WEAR_TARGET_2030.items()})
            return row

        transit = getattr(self, "transit", None)
        codes = city._cache["area_codes"]
        by_district = _walk_pt_rows(transit, city, codes["plot_district"], len(city.districts))
        by_polycentre = _walk_pt_rows(
            transit, city, codes["plot_polycentre"], len(city.polycentres)
        )
        (everyone,) = _walk_pt_rows(transit, city, np.zeros(len(city.plots), dtype=np.int64), 1)
        district_rows = []
        for k, name in enumerate(city.districts["name"]):
            row = {
                "district": name,
                **summaries["districts"][name],
                **by_district[k],
                **hazard_counts(name, plots["district"].to_numpy(object) == name),
                **network_wear(name),
            }
            district_rows.append(row)
        polycentre_rows = []
        for i, name in enumerate(city.polycentres["name"]):
            mask = plots["polycentre"].to_numpy(object) == name
            area_ha = float(
                shapely.area(
                    shapely.transform(
                        city.polycentre_shapes[i : i + 1],
                        lambda xy: np.column_stack(_utm(xy[:, 0], xy[:, 1])),
                    )
                )[0]
                / 10_000
            )
            summary = summaries["polycentres"][name]
            row = {
                "polycentre": name,
                **summary,
                "share_all_six_walk_pt": by_polycentre[i]["share_all_six_walk_pt"],
                "area_ha": round(area_ha, 1),
                "density_pph": round(summary["residents"] / area_ha, 1) if area_ha else None,
                "target_density_pph": _none(city.polycentres["target_density_pph"].iloc[i]),
                "plots_in_setback": int(plots.loc[mask, "in_setback"].sum()),
            }
            polycentre_rows.append(row)
        inventory_ha = self.conn.execute(query("analysis/park_inventory")).fetchone()[0]
        city_row = {
            "name": "Almaty",
            **summaries["city"],
            **everyone,
            "walk_pt_period": transit.feed["period"] if transit else None,
            "park_inventory_ha": round(float(inventory_ha), 2),
            **hazard_counts(None, np.ones(len(plots), dtype=bool)),
            **network_wear("*city*"),
        }
        districts = _geoframe(pd.DataFrame(district_rows), city.district_shapes)
        polycentres = _geoframe(pd.DataFrame(polycentre_rows), city.polycentre_shapes)
        return districts, polycentres, city_row

    def write(self, layers: dict[str, gpd.GeoDataFrame], details: dict[str, Any]) -> None:
        started = time.perf_counter()
        synthetic = bool(
            self.conn.execute(
                query("analysis/input_provenance"), {"names": ["plots", "streets", "amenities"]}
            ).fetchone()[0]
        )
        total = sum(len(f) for f in layers.values())
        with progress("writing analysis layers", total=total, unit="row") as bar:
            for name, frame in layers.items():
                layer_started = time.perf_counter()
                write_layer(
                    self.conn,
                    name,
                    frame,
                    Provenance(
                        source=SOURCE,
                        licence="CC-BY-4.0",
                        synthetic=synthetic,
                        details=details
                        if name == "district_indicators"
                        else {"computed": details["computed"]},
                    ),
                    progress=bar.update,
                )
                self._timed(f"write_{name}", layer_started)
        self._timed("write", started)


def _walk_pt_rows(
    transit: TransitFigures | None, city: CityModel, codes: np.ndarray, count: int
) -> list[dict[str, Any]]:
    if transit is None:
        empty = dict.fromkeys(
            ("share_all_six_walk_pt", "rapid_transit_gap_residents", "rapid_transit_gap_share")
        )
        return [dict(empty) for _ in range(count)]
    return transit.area_rows(city, codes, count)


def _none(value: Any) -> Any:
    if value is None:
        return None
    try:
        return None if np.isnan(value) else float(value)
    except TypeError:
        return value


def analyse(conn: psycopg.Connection, mode: str = "slope") -> dict[str, Any]:
    """Run every analysis and publish the layers; return the city's figures and timings."""
    from twin.changes.events import refresh_change_events
    from twin.mobility.lighting import derive_street_lighting
    from twin.mobility.publish import publish_mobility

    lighting = derive_street_lighting(conn)  # twin/mobility: streets.lit from the lighting lines
    refresh_change_events(conn)  # twin/changes: the public change feed catches up with history
    run = Analysis(conn, mode)
    steps = [
        "walking network and places",
        "15-minute city and walkability, on foot and by public transport",
        "seismic and utilities",
        "indicators",
        "publish",
    ]
    inputs = input_versions(conn)  # before reading: an edit committed meanwhile stays due
    with progress("analysis", total=len(steps), unit="step") as bar:
        bar.set_postfix_str(steps[0])
        city = run.load()
        bar.update(1)
        bar.set_postfix_str(steps[1])
        run.fifteen()
        bar.update(1)
        bar.set_postfix_str(steps[2])
        run.hazards_and_utilities()
        bar.update(1)
        bar.set_postfix_str(steps[3])
        started = time.perf_counter()
        districts, polycentres, city_row = run.indicators()
        run._timed("indicators", started)
        bar.update(1)
        bar.set_postfix_str(steps[4])
        computed = {
            "inputs": inputs,
            "mode": mode if city.network.slope_aware or mode != "slope" else "flat",
            "slope_aware": bool(city.network.slope_aware and mode == "slope"),
            "nodes": int(city.network.n),
            "plots": int(len(city.plots)),
            "cells": int(len(city.cells)),
            "categories": list(CATEGORIES),
            "walk_pt": run.transit.feed if run.transit else None,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with conn.transaction():  # one publish at a time (twin.analysis.refresh)
            conn.execute(
                query("analysis/refresh_xact_lock"),
                {"space": ANALYSIS_LOCK_SPACE, "key": PUBLISH_LOCK},
            )
            run.write(
                {
                    "plot_metrics": run.plot_metrics(),
                    "fifteen_cells": run.fifteen_cells(),
                    "building_metrics": _geoframe(
                        run.buildings.drop(columns=["geometry"]),
                        run.buildings["geometry"].to_numpy(),
                    ),
                    "district_indicators": districts,
                    "polycentre_indicators": polycentres,
                },
                {"city": _jsonable(city_row), "computed": computed},
            )
        started = time.perf_counter()
        publish_mobility(conn, city, mode, lighting)  # twin/mobility: its layers, same city
        run._timed("mobility", started)
        started = time.perf_counter()
        from twin.hazards.publish import publish_hazards

        publish_hazards(conn)  # twin/hazards: mudflow, avalanche, exposure (when inputs moved)
        run._timed("hazards", started)
        bar.update(1)
    LOG.info("analysis done", extra={"fields": {"timings": run.timings, **computed}})
    return {"city": city_row, "computed": computed, "timings": run.timings}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _none(v)
        if isinstance(v, (float, np.floating))
        else (int(v) if isinstance(v, (np.integer,)) else v)
        for k, v in row.items()
    }


# Every layer `twin analyse` reads (layers/*.yml `feeds`); the mobility layers keep their own.
ANALYSED_LAYERS = analysis_inputs("city", "fifteen", "seismic", "utilities")


def input_versions(conn: psycopg.Connection) -> dict[str, int]:
    """Data versions of every layer the analysis reads (stored with the results)."""
    return dict(zip(ANALYSED_LAYERS, data_versions(conn, ANALYSED_LAYERS)))


def summary_line(result: dict[str, Any]) -> str:
    city, computed = result["city"], result["computed"]
    seconds = sum(v for k, v in result["timings"].items() if not k.startswith("write_"))
    walking = "slope-aware" if computed["slope_aware"] else "flat 4.8 km/h"
    share = city.get("share_all_six")
    coverage = (
        f"{share * 100:.1f}% of residents have all six within 15 minutes, walkability "
        f"{city.get('walkability')}"
        if share is not None
        else "no residents"
    )
    return (
        f"analysed {computed['plots']} plots, {computed['cells']} cells and "
        f"{city.get('buildings', 0)} buildings on {computed['nodes']} nodes ({walking}) "
        f"in {seconds:.1f} s: {coverage}"
    )


def refresh_analysis() -> str:
    """Re-run the analysis when its inputs changed since the last run (`twin up`)."""
    from twin.db.pool import connect

    with connect() as conn:
        conn.autocommit = True
        stored = conn.execute(query("analysis/city_indicators")).fetchone()
        computed = (stored[1] if stored else None) or {}
        from twin.hazards.publish import hazards_current
        from twin.mobility.publish import mobility_current

        if (
            computed.get("inputs") == input_versions(conn)
            and mobility_current(conn)
            and hazards_current(conn)
        ):
            return "analysis layers are up to date"
        if not conn.execute(query("analysis/has_streets")).fetchone()[0]:
            return "no streets yet: skipping the walkability analysis"
        return summary_line(analyse(conn))


@click.command("analyse")
@click.option(
    "--mode",
    type=click.Choice(["slope", "flat"]),
    default="slope",
    show_default=True,
    help="Walking times: slope-aware (Tobler on the terrain) or flat 4.8 km/h.",
)
@click.option(
    "--if-stale",
    is_flag=True,
    help="Only when an input layer changed since the last run (what `twin up` does).",
)
def analyse_command(mode: str, if_stale: bool) -> None:
    """Compute the 15-minute city, walkability, parks, seismic and utility layers; publish them."""
    from twin.db.pool import connect

    if if_stale:
        click.echo(refresh_analysis())
        return
    with connect() as conn:
        conn.autocommit = True
        result = analyse(conn, mode)
        from twin.mobility.document import summary_line as mobility_line

        mobility = mobility_line(conn)  # twin/mobility: computed live, shown here
    click.echo(summary_line(result))
    click.echo(mobility)

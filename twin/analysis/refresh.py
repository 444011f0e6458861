"""Keeping the published analysis current after edits, without a full re-analysis.

An edit (OGC API Features Part 4 on amenities, parks, plots, buildings or utility lines)
commits, notifies the channel `twin_analysis`, and answers at once. One refresher per database
(a process of its own beside each server's workers, at a lower CPU priority, so its numpy work
never holds a serving worker's GIL; the one holding an advisory "leader" lock works, the
others wait to take over) keeps the analysis of the published data versions in memory, and on
the notification (or, every two seconds, on any change of an edited layer made with plain SQL)
brings it up to date:

- amenities, transit stops, parks: the categories whose sources moved are recomputed over the
  network (one multi-source Dijkstra each, as the `scenario` process does, from the same
  baseline), and only the plots and H3 cells whose nodes' minutes changed get new minutes,
  counts, walkability and park access;
- buildings: their seismic exposure (districts' building and strengthening counts follow);
- utility lines: the lines that were removed or added are found by comparing the network's
  lines with those in memory, and only the plots such a line may have been, or may now be,
  nearest to get new utility distances; wear per network and district is recomputed;
- seismic faults or zones: exposure and utility distances of every plot and building;
- lighting lines (utility lines of the 'lighting' network): streets' lit flags are derived
  again (twin/mobility/lighting.py), and a street that changes makes a second, full step so the
  night-time network follows;
- plots, districts, polycentres, streets or terrain (or no analysis in memory yet): the whole
  analysis is computed in memory again (the network from its cache when streets did not move).

District, polycentre and city indicators are then recomputed from the per-place tables, and only
the rows that differ from what is published are written (UPDATE/INSERT/DELETE by key, all in one
REPEATABLE READ transaction, under an advisory lock that `twin analyse` takes too), so the
analysis layers' versions bump and their tiles and caches invalidate. The refresh reads every
input from one snapshot and recomputes from data rather than applying deltas, so two edits in
quick succession, or a refresh repeated, give exactly what `twin analyse` gives.

The mobility and safety layers (district_mobility_safety, unlit_streets, camera_gaps) are
published again from the refreshed city whenever their inputs moved.

`freshness()` says whether the published analysis matches the latest data versions.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.analysis import city as city_module
from twin.analysis.city import (
    CATEGORIES,
    INPUT_LAYERS,
    Places,
    _cells,
    amenity_places,
    load_city,
    park_places,
    plot_rows,
)
from twin.analysis.fifteen import node_access
from twin.analysis.indicators import place_table
from twin.analysis.isochrones import keep_city
from twin.analysis.network import Snapped, data_versions, to_utm
from twin.analysis.publish import (
    ANALYSIS_LOCK_SPACE,
    PUBLISH_LOCK,
    SOURCE,
    Analysis,
    _jsonable,
    input_versions,
)
from twin.analysis.seismic import Hazards, utm_shapes
from twin.analysis.utilities import SEARCH_M, line_distances, wear
from twin.catalog import analysis_inputs, editable_layers, get_layer
from twin.mobility.lighting import derive_street_lighting
from twin.mobility.publish import mobility_current, publish_mobility
from twin.settings import get_settings
from twin.sqlfiles import query
from twin.store import Provenance, _copy_column, record_provenance

LOG = logging.getLogger("twin.analysis.refresh")

LOCK_SPACE = ANALYSIS_LOCK_SPACE
LEADER_LOCK = 1  # held for its lifetime by the one refresher that works
APPLY_LOCK = PUBLISH_LOCK  # held while analysis layers are written (refresh, twin analyse)
POLL_SECONDS = 2.0
# From the catalog (layers/*.yml `editable`, `feeds`): the layers editors change, those whose
# change moves only the walking minutes of their categories, and those whose change moves only
# the plots' and buildings' exposure and utility distances.
EDITED_LAYERS = editable_layers()
ACCESS_LAYERS = set(analysis_inputs("fifteen"))
EXPOSURE_LAYERS = set(analysis_inputs("seismic", "utilities"))
KEYS = {
    "plot_metrics": "plot_id",
    "fifteen_cells": "h3",
    "building_metrics": "building_id",
    "district_indicators": "district",
    "polycentre_indicators": "polycentre",
}


# -- what is published, and is it current ----------------------------------------------------


def published_computed(conn: psycopg.Connection) -> dict[str, Any] | None:
    row = conn.execute(query("analysis/city_indicators")).fetchone()
    return row[1] if row is not None and row[1] else None


def freshness(conn: psycopg.Connection) -> dict[str, Any]:
    """Whether the published analysis was computed from the latest data versions.

    `status`: current; refreshing (an edited layer moved on and a server's refresher is
    running: it catches up within seconds); stale (no refresher, or a layer changed that only
    `twin analyse` recomputes, e.g. after a bulk load); not_analysed.
    """
    computed = published_computed(conn)
    data = input_versions(conn)
    if computed is None:
        return {"current": False, "status": "not_analysed", "data_versions": data}
    analysed = computed.get("inputs") or {}
    behind = sorted(name for name, version in data.items() if analysed.get(name) != version)
    refresher = bool(
        conn.execute(
            query("analysis/refresh_lock_held"), {"space": LOCK_SPACE, "key": LEADER_LOCK}
        ).fetchone()[0]
    )
    status = "current" if not behind else "refreshing" if refresher else "stale"
    return {
        "current": not behind,
        "status": status,
        "changed_layers": behind,
        "data_versions": data,
        "analysed_versions": analysed,
        "analysed_at": computed.get("at"),
        "refresh": computed.get("refresh", "full"),
        "refresher_running": refresher,
        "refresher_state": refresher_state(conn),
    }


REFRESHER_NAME = "twin analysis refresher"


def refresher_state(conn: psycopg.Connection) -> str:
    """What the leading refresher is doing: `building` its start-up analysis in memory (the
    first edit after it is incremental), `ready`, `waiting` (a follower) or `none`."""
    names = [
        row[0]
        for row in conn.execute(
            query("analysis/refresher_states"), {"prefix": REFRESHER_NAME + "%"}
        )
    ]
    for state in ("building", "ready"):
        if f"{REFRESHER_NAME}: {state}" in names:
            return state
    return "waiting" if names else "none"


# -- publishing only the rows that changed ---------------------------------------------------


def _column_differs(old: pd.Series, new: pd.Series) -> np.ndarray:
    a, b = old.to_numpy(), new.to_numpy()
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a, b = a.astype(float), b.astype(float)
        return ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return ~pd.Series(a).eq(pd.Series(b)).to_numpy() & ~(pd.isna(a) & pd.isna(b))


def changed_rows(
    old: pd.DataFrame | None, new: pd.DataFrame, key: str
) -> tuple[pd.DataFrame, list[Any]]:
    """Rows of `new` that are new or differ from `old` (by key, every published column and the
    geometry), and the keys of `old` that are gone."""
    if old is None:
        return new, []
    merged_old = old.set_index(key)
    gone = [k for k in merged_old.index.difference(new[key]).tolist()]
    fresh = ~new[key].isin(merged_old.index).to_numpy()
    both = new[~fresh]
    before = merged_old.loc[both[key].to_numpy()]
    differs = np.zeros(len(both), dtype=bool)
    for column in both.columns:
        if column == key:
            continue
        if column == "geometry":
            differs |= ~shapely.equals_exact(
                before[column].to_numpy(), both[column].to_numpy(), tolerance=0.0
            )
        elif column in before.columns:
            differs |= _column_differs(before[column], both[column])
    upsert = pd.concat([new[fresh], both[differs]])
    return upsert, gone


def write_changed(
    conn: psycopg.Connection,
    layer_name: str,
    frame: pd.DataFrame,
    gone: list[Any] | None = None,
    complete: bool = False,
) -> int:
    """Write rows by key: UPDATE those whose values differ, INSERT new keys, DELETE `gone`
    (with `complete`, every published key absent from `frame`). Returns rows written."""
    layer = get_layer(layer_name)
    key = KEYS[layer_name]
    gone = list(gone or [])
    if not len(frame) and not gone and not complete:
        return 0
    columns = [name for name in layer.properties if name in frame.columns]
    staging = f"refresh_{layer_name}"
    ident = {
        "table": layer.table,
        "staging": staging,
        "key": key,
        "columns": psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in columns),
        "staged": psycopg.sql.SQL(", ").join(psycopg.sql.Identifier("s", c) for c in columns),
        "current": psycopg.sql.SQL(", ").join(psycopg.sql.Identifier("t", c) for c in columns),
        "multi": psycopg.sql.SQL("ST_Multi" if layer.geometry.startswith("Multi") else ""),
    }
    written = 0
    if len(frame) or complete:
        frame = frame.reset_index(drop=True)
        texts = [_copy_column(frame[c], layer.properties[c].type) for c in columns]
        geometry = pd.Series(
            shapely.to_wkb(np.asarray(frame["geometry"].to_numpy(), object), hex=True), dtype=object
        )
        lines = texts[0].str.cat(texts[1:] + [geometry], sep="\t").tolist() if len(frame) else []
        definitions = psycopg.sql.SQL("").join(
            psycopg.sql.SQL("{} {}, ").format(
                psycopg.sql.Identifier(c), psycopg.sql.SQL(layer.properties[c].sql_type)
            )
            for c in columns
        )
        conn.execute(query("store/staging_table", staging=staging, column_definitions=definitions))
        with conn.cursor().copy(
            query(
                "store/copy_staging",
                staging=staging,
                columns=ident["columns"],
                sep=psycopg.sql.SQL(", "),
            )
        ) as copy_in:
            for start in range(0, len(lines), 20_000):
                copy_in.write("\n".join(lines[start : start + 20_000]) + "\n")
        if len(frame):
            written += conn.execute(
                query("analysis/refresh_update", **ident), {"srid": layer.srid}
            ).rowcount
            if conn.execute(query("analysis/refresh_new_rows", **ident)).fetchone()[0]:
                written += conn.execute(
                    query("analysis/refresh_insert", **ident), {"srid": layer.srid}
                ).rowcount
        if complete:
            gone += [r[0] for r in conn.execute(query("analysis/refresh_missing_rows", **ident))]
        conn.execute(psycopg.sql.SQL("DROP TABLE {}").format(psycopg.sql.Identifier(staging)))
    if gone:
        written += conn.execute(
            query("analysis/refresh_delete", table=layer.table, key=key), {"keys": gone}
        ).rowcount
    return written


# -- the analysis in memory, brought up to date ------------------------------------------------


@dataclasses.dataclass
class Published:
    """An in-memory analysis run and the input versions it was computed from."""

    run: Analysis
    inputs: dict[str, int]
    layers: dict[str, pd.DataFrame]
    lines: Counter  # (network, WKB) of every utility line, to see which ones an edit moved
    plots: dict[int, str]  # a digest per plot, to see which ones an edit changed


def _line_set(conn: psycopg.Connection) -> Counter:
    return Counter(
        (r[0], bytes(r[1])) for r in conn.execute(query("analysis/utility_line_shapes")).fetchall()
    )


def _lighting(
    conn: psycopg.Connection, before: Counter | None, after: Counter
) -> dict[str, Any] | None:
    """Streets' lit flags follow the lighting network: derive them again when a lighting line
    was added, moved or removed (a street that changes makes the next step a full refresh,
    so the night-time walks follow too)."""
    if before is not None and _network_lines(before, "lighting") == _network_lines(
        after, "lighting"
    ):
        return None
    return derive_street_lighting(conn)


def _network_lines(lines: Counter, network: str) -> Counter:
    return Counter({key: n for key, n in lines.items() if key[0] == network})


def _refresh_utilities(
    run: Analysis, conn: psycopg.Connection, before: Counter, after: Counter
) -> np.ndarray:
    """Utility distances of the plots a removed line may have been nearest to, or an added
    line may be nearer to than their current nearest; returns their positions."""
    table = run.plot_utilities.copy()
    footprints = run.footprints
    touched = np.zeros(len(footprints), dtype=bool)
    for removed, lines in ((True, before - after), (False, after - before)):
        for network, wkb in lines:
            if f"{network}_m" not in table:
                continue
            current = table[f"{network}_m"].to_numpy(float)
            gap = shapely.distance(footprints, utm_shapes([wkb])[0])
            with np.errstate(invalid="ignore"):
                touched |= (
                    (gap <= current + 0.1) if removed else (gap <= SEARCH_M) & ~(gap >= current)
                )
    rows = np.flatnonzero(touched)
    if len(rows):
        fresh = line_distances(conn, footprints[rows])
        for column in fresh.columns:
            values = table[column].to_numpy().copy()
            values[rows] = fresh[column].to_numpy()
            table[column] = values
    run.plot_utilities = table
    return rows


def _buildings(run: Analysis, rows: np.ndarray | None = None) -> pd.DataFrame:
    frame = run.buildings if rows is None else run.buildings.iloc[rows]
    return frame.drop(columns=["geometry"]).assign(geometry=frame["geometry"].to_numpy())


def _layers(run: Analysis) -> dict[str, pd.DataFrame]:
    districts, polycentres, city_row = run.indicators()
    run.city_row = city_row
    return {
        "plot_metrics": run.plot_metrics(),
        "fifteen_cells": run.fifteen_cells(),
        "building_metrics": _buildings(run),
        "district_indicators": districts,
        "polycentre_indicators": polycentres,
    }


def _changes(
    run: Analysis,
    base: Published | None,
    rows: dict[str, np.ndarray | None],
) -> tuple[dict[str, pd.DataFrame], dict[str, tuple[pd.DataFrame, list[Any]]]]:
    """The new published frames and, per layer, the rows to upsert and the keys gone. Where
    `rows` names the only positions that can have changed (same rows in the same order as
    before), only those are built and compared, and patched into the previous frame."""
    districts, polycentres, city_row = run.indicators()
    run.city_row = city_row
    builders = {
        "plot_metrics": run.plot_metrics,
        "fifteen_cells": run.fifteen_cells,
        "building_metrics": lambda r=None: _buildings(run, r),
    }
    layers: dict[str, pd.DataFrame] = {
        "district_indicators": districts,
        "polycentre_indicators": polycentres,
    }
    changes = {}
    for name, build in builders.items():
        hint = rows.get(name)
        if base is None or hint is None:
            layers[name] = build()
            continue
        frame = base.layers[name]
        if len(hint):
            subset = build(hint)
            changes[name] = changed_rows(frame.iloc[hint], subset, KEYS[name])
            frame = frame.copy()
            for column in subset.columns:
                values = frame[column].to_numpy().copy()
                values[hint] = subset[column].to_numpy()
                frame[column] = values
        else:
            changes[name] = (frame.iloc[:0], [])
        layers[name] = frame
    for name, frame in layers.items():
        if name not in changes:
            changes[name] = changed_rows(base.layers[name] if base else None, frame, KEYS[name])
    return layers, changes


def compute(conn: psycopg.Connection, mode: str, previous: Published | None = None) -> Analysis:
    """The whole analysis in memory (the walking network reused when it did not change)."""
    run = Analysis(conn, mode)
    network = None
    if previous is not None and previous.run.city.network.version == data_versions(
        conn, ("streets", "terrain")
    ):
        network = previous.run.city.network
    run.city = load_city(conn, network)
    keep_city(conn, run.city)  # what an isochrone reads, mapped by the next worker
    run.fifteen()
    run.hazards_and_utilities()
    return run


def _sources_moved(old: pd.DataFrame, new: pd.DataFrame, category: str) -> bool:
    columns = ["layer", "id", "segment", "fraction", "snap_m"]
    a = old.loc[old.category == category, columns].sort_values(["layer", "id"])
    b = new.loc[new.category == category, columns].sort_values(["layer", "id"])
    return len(a) != len(b) or not np.array_equal(a.to_numpy(), b.to_numpy())


def _refresh_access(
    run: Analysis, conn: psycopg.Connection, changed: set[str]
) -> tuple[np.ndarray, np.ndarray]:
    """New sources of the touched categories, one network pass each (the scenario engine's
    node_access over the same baseline); only places whose node's figures moved are
    recomputed. Returns the positions of the plots and cells that were."""
    city = run.city
    amenities, parks, park_shapes, entrances = (
        city.amenities,
        city.parks,
        city.park_shapes,
        city.entrances,
    )
    categories: set[str] = set()
    if changed & {"amenities", "transit_stops"}:
        amenities = amenity_places(conn, city.network)
        categories |= {c for c in CATEGORIES if _sources_moved(city.amenities, amenities, c)}
    if "parks" in changed:
        parks, park_shapes, entrances = park_places(conn, city.network)
        categories.add("parks")
    keep = ("fabric", "area_codes") + (() if "parks" in changed else ("green",))
    new_city = dataclasses.replace(
        city,
        amenities=amenities,
        parks=parks,
        park_shapes=park_shapes,
        entrances=entrances,
        _cache={k: v for k, v in city._cache.items() if k in keep},
    )
    ordered = tuple(c for c in CATEGORIES if c in categories)
    before = run.access
    after = node_access(new_city, run.mode, ordered, base=before)
    moved = np.zeros(city.network.n, dtype=bool)
    for category in ordered:
        moved |= before.minutes[category] != after.minutes[category]
    moved |= before.park_m != after.park_m
    new_city._cache[("access", run.mode)] = after
    run.city, run.access = new_city, after
    touched = []
    for name, places in (("plot_access", city.plot_places), ("cell_access", city.cell_places)):
        rows = np.flatnonzero(moved[places.at.node].any(axis=1))
        table = getattr(run, name).copy()
        if len(rows):
            subset = places.take(rows)
            fresh = place_table(new_city, after, subset)
            for column in fresh.columns:
                values = table[column].to_numpy().copy()
                values[rows] = fresh[column].to_numpy()
                table[column] = values
        setattr(run, name, table)
        touched.append(rows)
    return touched[0], touched[1]


def _plot_prints(conn: psycopg.Connection) -> dict[int, str]:
    return dict(conn.execute(query("analysis/plot_fingerprints")).fetchall())


def _refresh_plots(
    run: Analysis, conn: psycopg.Connection, before: dict[int, str], after: dict[int, str]
) -> np.ndarray | None:
    """Plots created, redrawn, re-zoned or deleted: only those plots are read, snapped and
    analysed (minutes from the node access in memory, walkability, seismic exposure, utility
    distances); the H3 cells' residents follow. Returns the positions of the cells whose
    residents or plot counts moved, or None when a full recompute is needed (a plot without
    residents when the district populations are spread, or a plot in a cell new to the city)."""
    city = run.city
    edited = sorted(k for k, v in after.items() if before.get(k) != v)
    gone = [k for k in before if k not in after]
    fresh = plot_rows(conn, edited)
    if pd.to_numeric(fresh["residents"], errors="coerce").isna().any():
        return None
    fresh["residents"] = pd.to_numeric(fresh["residents"]).astype(np.int64)
    keep = ~city.plots["id"].isin(edited + gone).to_numpy()
    ids = np.concatenate(
        [city.plots["id"].to_numpy(np.int64)[keep], fresh["id"].to_numpy(np.int64)]
    )
    order = np.argsort(ids, kind="stable")

    def merged(old: Any, new: Any) -> Any:
        if isinstance(old, pd.DataFrame):
            return pd.concat([old[keep], new], ignore_index=True).iloc[order].reset_index(drop=True)
        return np.concatenate([np.asarray(old)[keep], np.asarray(new)])[order]

    x, y = to_utm(fresh["lon"].to_numpy(float), fresh["lat"].to_numpy(float))
    places = Places.snapped(city.network, x, y)
    shapes = shapely.from_wkb(
        [r[1] for r in conn.execute(query("analysis/plot_shapes"), {"ids": edited}).fetchall()]
    )
    footprints = shapely.transform(shapes, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))
    hazards = Hazards.load(conn)
    exposure = hazards.exposure(footprints)
    exposure["seismic_intensity"] = hazards.intensity(
        shapely.points(fresh["lon"].to_numpy(float), fresh["lat"].to_numpy(float))
    )
    plots = merged(city.plots, fresh.astype(city.plots.dtypes.to_dict(), errors="ignore"))
    cells = _cells(city.district_shapes, city.districts, plots)
    if cells["h3"].tolist() != city.cells["h3"].tolist():
        return None
    moved = np.flatnonzero(
        (
            cells[["residents", "plots"]].to_numpy()
            != city.cells[["residents", "plots"]].to_numpy()
        ).any(axis=1)
        | (cells["district"].to_numpy(object) != city.cells["district"].to_numpy(object))
    )
    plot_places = Places(
        merged(city.plot_places.x, places.x),
        merged(city.plot_places.y, places.y),
        Snapped(
            *(
                merged(getattr(city.plot_places.at, a), getattr(places.at, a))
                for a in ("segment", "node", "fraction", "snap_m")
            )
        ),
    )
    keep_cache = ("fabric", "green", ("access", run.mode))
    new_city = dataclasses.replace(
        city,
        plots=plots,
        plot_places=plot_places,
        cells=cells,
        _cache={k: v for k, v in city._cache.items() if k in keep_cache},
    )
    run.plot_access = merged(run.plot_access, place_table(new_city, run.access, places))
    run.plot_hazards = merged(run.plot_hazards, exposure)
    run.plot_utilities = merged(run.plot_utilities, line_distances(conn, footprints))
    run.plot_shapes = merged(run.plot_shapes, shapes)
    run.footprints = merged(run.footprints, footprints)
    run.city = new_city
    return moved


class Refresher:
    """The analysis in memory and the step that brings the published layers up to date."""

    def __init__(self) -> None:
        self.state: Published | None = None

    def build(self, conn: psycopg.Connection, mode: str, inputs: dict[str, int]) -> None:
        run = compute(conn, mode, self.state)
        self.state = Published(run, inputs, _layers(run), _line_set(conn), _plot_prints(conn))
        self._share(run, conn)

    def _share(self, run: Analysis, conn: psycopg.Connection) -> None:
        """Hand the refreshed city to this process's processes (isochrone, reports, scenario)."""
        version = run.city.network.version + data_versions(conn, INPUT_LAYERS)
        run.city.version = version
        with city_module._lock:
            city_module._current["city"] = run.city

    def step(self, conn: psycopg.Connection, edited: bool = True) -> dict[str, Any] | None:
        """One refresh, in one REPEATABLE READ snapshot under the apply lock. `edited`: an edit
        was announced (otherwise only plain-SQL changes of edited layers are picked up).
        Returns what was done, or None when there was nothing to do."""
        conn.execute(query("analysis/refresh_lock"), {"space": LOCK_SPACE, "key": APPLY_LOCK})
        try:
            with conn.transaction():
                return self._step(conn, edited)
        except Exception:
            self.state = None  # rebuilt from the published data next time
            raise
        finally:
            conn.execute(query("analysis/refresh_unlock"), {"space": LOCK_SPACE, "key": APPLY_LOCK})

    def _step(self, conn: psycopg.Connection, edited: bool) -> dict[str, Any] | None:
        computed = published_computed(conn)
        if computed is None or not computed.get("inputs"):
            self.state = None
            return None  # never analysed: `twin analyse` first
        mode = computed.get("mode", "slope")
        current = input_versions(conn)
        analysed = computed["inputs"]
        if analysed == current:
            if self.state is None or self.state.inputs != current:
                self.build(conn, mode, current)
            return None
        changed = {name for name, version in current.items() if analysed.get(name) != version}
        if not edited and not changed <= set(EDITED_LAYERS):
            return None  # a bulk load: `twin analyse` (twin up) refreshes it
        started = time.perf_counter()
        base = self.state if self.state is not None and self.state.inputs == analysed else None
        rows: dict[str, np.ndarray | None] = {name: None for name in KEYS}
        run, how = None, "full"
        if base is not None and not changed - ACCESS_LAYERS - EXPOSURE_LAYERS - {"plots"}:
            run, how, lines, prints = copy.copy(base.run), "incremental", base.lines, base.plots
            none = np.zeros(0, dtype=np.int64)
            plot_pos: np.ndarray | None = none
            cell_pos: np.ndarray | None = none
            building_pos: np.ndarray | None = none
            if "plots" in changed:
                prints = _plot_prints(conn)
                cell_pos = _refresh_plots(run, conn, base.plots, prints)
                if cell_pos is None:
                    run, how = None, "full"
        if run is None:
            run, lines, prints = (
                compute(conn, mode, self.state),
                _line_set(conn),
                _plot_prints(conn),
            )
        elif how == "incremental":
            if changed & ACCESS_LAYERS:
                plot_pos, access_cells = _refresh_access(run, conn, changed)
                cell_pos = np.union1d(cell_pos, access_cells)
            if changed & {"seismic_faults", "seismic_zones"}:
                run.hazards_and_utilities()
                lines, plot_pos, building_pos = _line_set(conn), None, None
            else:
                if "buildings" in changed:
                    run.building_exposure(Hazards.load(conn))
                    building_pos = None
                if "utility_lines" in changed:
                    lines = _line_set(conn)
                    plot_pos = np.union1d(
                        plot_pos, _refresh_utilities(run, conn, base.lines, lines)
                    )
                    run.wear = wear(conn)
            if "plots" in changed:
                plot_pos = None  # ids moved: compare every plot by id
            if getattr(run, "transit", None) is not None and (
                changed & ACCESS_LAYERS or "plots" in changed
            ):
                # walk + PT reaches far: a new school moves the minutes of plots a bus ride
                # away, so the whole table is computed again and compared row by row
                run.walk_pt()
                plot_pos, cell_pos = None, None
            rows.update(
                {
                    "plot_metrics": plot_pos,
                    "fifteen_cells": cell_pos,
                    "building_metrics": building_pos,
                }
            )
        layers, changes = _changes(run, base, rows)
        written = {
            name: write_changed(conn, name, upsert, gone, complete=base is None)
            for name, (upsert, gone) in changes.items()
        }
        details = dict(computed)
        details.update(
            {
                "inputs": current,
                "refresh": how,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "refreshed_layers": sorted(changed),
                "plots": int(len(run.city.plots)),
                "cells": int(len(run.city.cells)),
            }
        )
        synthetic = bool(
            conn.execute(
                query("analysis/input_provenance"), {"names": ["plots", "streets", "amenities"]}
            ).fetchone()[0]
        )
        for name in layers:
            record_provenance(
                conn,
                name,
                Provenance(
                    source=SOURCE,
                    licence="CC-BY-4.0",
                    synthetic=synthetic,
                    details={"city": _jsonable(run.city_row), "computed": details}
                    if name == "district_indicators"
                    else {"computed": details},
                ),
            )
        lighting = (
            _lighting(conn, base.lines if base is not None else None, lines)
            if "utility_lines" in changed
            else None
        )
        self.state = Published(run, current, layers, lines, prints)
        self._share(run, conn)
        mobility = None
        if not (lighting or {}).get("changed") and not mobility_current(conn):
            # the mobility and safety layers read the same city (after a lighting change, the
            # next step's city, whose night-time network has the new lit flags)
            mobility = publish_mobility(conn, run.city, mode, lighting).get("available", True)
        result = {
            "refresh": how,
            "layers": sorted(changed),
            "rows_written": written,
            "lighting": lighting,
            "mobility_published": mobility,
            "seconds": round(time.perf_counter() - started, 3),
        }
        LOG.info("analysis refreshed", extra={"fields": result})
        return result


# -- one refresher per server ----------------------------------------------------------------


def refresher_enabled() -> bool:
    """Servers refresh the analysis after edits unless TWIN_ANALYSIS_REFRESH=off."""
    return get_settings().analysis.refresh


def announce(conn: psycopg.Connection, layer: str) -> None:
    """Tell the refresher an edit of `layer` is committing (delivered at commit, or never)."""
    if layer in EDITED_LAYERS:
        conn.execute(query("analysis/refresh_notify"), {"layer": layer})


def _serve_forever(stop: threading.Event) -> None:
    from twin.db.cluster import session_database_url

    refresher = Refresher()
    while not stop.is_set():
        try:
            with psycopg.connect(
                session_database_url(), autocommit=True, application_name=REFRESHER_NAME
            ) as conn:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                while not conn.execute(
                    query("analysis/refresh_try_lock"), {"space": LOCK_SPACE, "key": LEADER_LOCK}
                ).fetchone()[0]:
                    if stop.wait(POLL_SECONDS):
                        return
                conn.execute(
                    query("analysis/refresher_state"), {"name": f"{REFRESHER_NAME}: building"}
                )
                conn.execute(query("analysis/refresh_listen"))
                edited = False  # until an edit is announced: plain-SQL edits only
                ready = False
                while not stop.is_set():
                    done = refresher.step(conn, edited)
                    if not ready:
                        conn.execute(
                            query("analysis/refresher_state"), {"name": f"{REFRESHER_NAME}: ready"}
                        )
                        ready = True
                    if done and (done.get("lighting") or {}).get("changed"):
                        edited = True  # streets' lit flags moved: the night network follows
                        continue
                    edited = any(True for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1))
                    for _ in conn.notifies(timeout=0.05):  # coalesce a burst of edits
                        pass
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            LOG.warning(
                "analysis refresher lost the database; retrying",
                extra={
                    "fields": {
                        "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    }
                },
            )
            refresher.state = None
            stop.wait(POLL_SECONDS)
        except Exception:
            LOG.exception("analysis refresh failed; retrying")
            refresher.state = None
            stop.wait(5 * POLL_SECONDS)


REFRESHER_NICENESS = 15  # serving comes first: the refresher takes the CPU left over


def _refresher_main(parent: int, log_level: int) -> None:
    """The refresher process: lower priority, gone when the server that started it is."""
    from twin import logs

    logs.setup()
    logging.getLogger().setLevel(log_level)
    with contextlib.suppress(OSError):
        os.nice(REFRESHER_NICENESS)
    stop = threading.Event()

    def orphaned() -> None:  # a killed server leaves no refresher behind
        while not stop.wait(1.0):
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=orphaned, daemon=True, name="twin-refresher-parent").start()
    _serve_forever(stop)


def start_refresher_process() -> multiprocessing.process.BaseProcess:
    """Start the server's refresher process (`twin serve`, `twin up`); it ends with the
    server (daemon) or, if the server is killed, within a second of it."""

    process = multiprocessing.get_context("spawn").Process(
        target=_refresher_main,
        args=(os.getpid(), logging.getLogger().level),
        daemon=True,
        name="twin-analysis-refresher",
    )
    process.start()
    return process


__all__ = [
    "Refresher",
    "announce",
    "changed_rows",
    "freshness",
    "refresher_enabled",
    "refresher_state",
    "start_refresher_process",
    "write_changed",
]

"""Writing an import so that it cannot wreck a layer, and can be undone.

- Replace is scoped: an import replaces the rows the same source brought before (for
  amenities, only in the categories the file brings), and the synthetic stand-ins of
  `twin load demo` for what the file brings (amenities: its categories and kinds), never the
  rows of other sources or editors' rows; `--replace-layer` replaces every row, explicitly.
- A row is the demo's when its layer is still marked synthetic, no import added it and its
  history holds no editor's change (the demo writes no history; imports and undos name
  themselves in it, see act_as_import.sql).
- `--append` skips rows already in the layer, by a stated key: the same geometry (exactly, as
  stored) and the same name (layers without a name: the geometry alone).
- Every import that writes is a batch (twin_import_batches, migration 0006): the rows it added
  and copies of the rows it removed, so `twin import undo` brings the layer back as it was.
  An import that also replaces whole tables (`twin import-gtfs`: the timetable) keeps them
  (`keep_tables`, migration 0009), and the undo puts them back too.
- A dry run computes what would be added, changed, removed and left unchanged, and rolls back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from twin.catalog import Layer, get_layer
from twin.errors import ImportFailed
from twin.importers import error_line
from twin.importers.conform import ImportReport
from twin.progress import progress
from twin.sqlfiles import query
from twin.store import Provenance, write_layer

MODES = ("replace", "replace-layer", "append")
# Layers whose replace is scoped further by a property: amenities by category.
SCOPE_PROPERTY = {"amenities": "category"}
# The demo's stand-ins a file supersedes, finer: real hospitals replace the demo's hospitals,
# not its clinics and pharmacies (the same category).
DEMO_SCOPE = {"amenities": ("category", "kind")}
# How `twin load demo` names itself in a layer's provenance (twin.demo.generator.provenance).
DEMO_SOURCE = "Almaty Twin demo generator"
DEMO_LICENCE = "CC0-1.0"
DEDUP_KEY = "the same geometry, within 1 cm, and the same name"


def check_mode(mode: str, keep_demo: bool = False) -> None:
    """An import mode the twin knows; --keep-demo only narrows a replace."""
    if mode not in MODES:
        raise ImportFailed(f"unknown import mode {mode!r}: one of {', '.join(MODES)}")
    if keep_demo and mode != "replace":
        raise ImportFailed(
            f"--keep-demo narrows --replace; with --{mode} it means nothing "
            "(--append keeps every row already; --replace-layer keeps none)"
        )


@dataclass
class Batch:
    """One import command's write: its id (None in a dry run) and the source it replaces."""

    id: int | None
    command: str
    file: str
    source: str


def begin(conn: psycopg.Connection, command: str, file: str, source: str) -> Batch:
    """Start a batch inside the caller's transaction."""
    batch_id = conn.execute(
        query("importers/begin_batch"), {"command": command, "file": file, "source": source}
    ).fetchone()[0]
    return Batch(id=int(batch_id), command=command, file=file, source=source)


def keep_tables(conn: psycopg.Connection, batch: Batch, tables: list[str]) -> None:
    """Keep `tables` as they are now (inside the batch's transaction, before the import
    replaces them), so that undoing the batch restores them, in this order."""
    for position, name in enumerate(tables):
        params = {"batch": batch.id, "name": name, "position": position}
        conn.execute(query("importers/keep_table", table=name), params)
        conn.execute(query("importers/record_kept_table"), params)


def _restore_tables(conn: psycopg.Connection, batch_id: int) -> list[str]:
    """Put back the tables the batch kept; one line per table for the undo's message."""
    parts = []
    kept = conn.execute(query("importers/kept_tables"), {"batch": batch_id}).fetchall()
    for name, rows in kept:
        conn.execute(query("importers/empty_table", table=name))
        conn.execute(
            query("importers/restore_table", table=name), {"batch": batch_id, "name": name}
        )
        parts.append(f"{name}: put back as it was ({rows:,} row(s))")
    return parts


def _scope_values(layer: Layer, frame: gpd.GeoDataFrame) -> list[str] | None:
    column = SCOPE_PROPERTY.get(layer.name)
    if column is None or column not in frame.columns:
        return None
    return sorted({str(v) for v in frame[column].dropna()})


def _demo_key(layer: Layer) -> tuple[sql.Composable, tuple[str, ...]]:
    """The SQL key (on `t`) of the demo scope and its columns: e.g. 'healthcare/hospital'."""
    columns = tuple(c for c in DEMO_SCOPE.get(layer.name, ()) if c in layer.properties)
    if not columns:
        return sql.SQL("NULL::text"), ()
    return sql.SQL(" || '/' || ").join(
        sql.SQL("coalesce(t.{}::text, '')").format(sql.Identifier(c)) for c in columns
    ), columns


def _demo_values(layer: Layer, frame: gpd.GeoDataFrame | None) -> list[str] | None:
    """What of the demo the file supersedes (keys like 'healthcare/hospital'); None: all."""
    _, columns = _demo_key(layer)
    if frame is None or not columns or not all(c in frame.columns for c in columns):
        return None
    keys = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), "")
    return sorted({"/".join(str(v) for v in row) for row in keys.itertuples(index=False)})


def _demo_words(layer: Layer, values: list[str] | None) -> str:
    _, columns = _demo_key(layer)
    if values is None:
        return ""
    return f" in {'/'.join(columns)} {', '.join(values)}"


def _previous_provenance(conn: psycopg.Connection, layer: Layer) -> dict[str, Any] | None:
    row = conn.execute(query("importers/layer_provenance"), {"name": layer.name}).fetchone()
    if row is None:
        return None
    return {"source": row[0], "licence": row[1], "synthetic": row[2]}


def _same_source(provenance_source: str, source: str) -> bool:
    """The layer's provenance names this source alone: as an import wrote it, or as
    `twin load demo --base` did (the mapping's words, then ", from <its file>")."""
    return provenance_source == source or provenance_source.startswith(f"{source}, from ")


def _legacy(conn: psycopg.Connection, layer: Layer, source: str) -> bool:
    """A layer loaded entirely by this source before imports were recorded (or by
    `twin load demo --base` from the same real data): its rows are the source's (its
    provenance names only this source and no recorded import's rows remain)."""
    previous = _previous_provenance(conn, layer)
    if (
        not previous
        or not previous["source"]
        or previous["synthetic"]
        or not _same_source(previous["source"], source)
    ):
        return False
    return not conn.execute(
        query("importers/tracked_rows_present", table=layer.table), {"layer": layer.name}
    ).fetchone()[0]


@dataclass
class Scope:
    """The rows a replace removes: the same source's (`own`: SQL on `t`), and the demo's
    stand-ins for what the file brings (`demo`, when the layer is still synthetic and the
    import does not --keep-demo)."""

    layer: Layer
    mode: str
    source: str
    own: sql.Composable
    demo: sql.Composable
    params: dict[str, Any]

    @property
    def where(self) -> sql.Composable:
        return sql.SQL("(({}) OR ({}))").format(self.own, self.demo)

    @property
    def synthetic(self) -> bool:
        return bool(self.params["demo"])

    def demo_rows(self, conn: psycopg.Connection, whole_layer: bool = False) -> tuple[int, int]:
        """(the demo's rows, rows editors added or changed on top of it) in the scope, or in
        the whole layer; (0, 0) when the layer is not synthetic."""
        if not self.synthetic:
            return 0, 0
        key, _ = _demo_key(self.layer)
        params = {**self.params, "demo_values": None if whole_layer else self.params["demo_values"]}
        demo, edited = conn.execute(
            query(
                "importers/demo_rows",
                table=self.layer.table,
                key=key,
                edited=query("importers/edited_row"),
            ),
            params,
        ).fetchone()
        return int(demo), int(edited)

    def words(self, demo: int, kept: int) -> str:
        """The scope in a planner's words, naming the demo's rows when some go."""
        if self.mode == "replace-layer":
            return "every row of the layer replaced (--replace-layer)"
        values = self.params["scope_values"]
        words = f"replaces the rows from {self.source!r}"
        if values is not None:
            words += f" in {SCOPE_PROPERTY[self.layer.name]} {', '.join(values)}"
        if demo:
            words += f" and the demo's rows{_demo_words(self.layer, self.params['demo_values'])}"
        return f"{words}; {kept:,} other row{'' if kept == 1 else 's'} kept"


def _scope(
    conn: psycopg.Connection,
    layer: Layer,
    source: str,
    mode: str,
    frame: gpd.GeoDataFrame,
    keep_demo: bool = False,
) -> Scope:
    """The rows a replace (or --replace-layer) removes: see Scope."""
    previous = _previous_provenance(conn, layer)
    key, _ = _demo_key(layer)
    params = {
        "layer": layer.name,
        "source": source,
        "legacy": False,
        "scope_values": _scope_values(layer, frame),
        "demo": bool(previous and previous["synthetic"]) and not keep_demo,
        "demo_values": None if mode == "replace-layer" else _demo_values(layer, frame),
    }
    demo = query(
        "importers/demo_scope",
        key=key,
        demo_row=query("importers/demo_row", edited=query("importers/edited_row")),
    )
    if mode in ("replace-layer", "append"):
        return Scope(
            layer,
            mode,
            source,
            sql.SQL("TRUE" if mode == "replace-layer" else "FALSE"),
            demo,
            params,
        )
    params["legacy"] = _legacy(conn, layer, source)
    own = query("importers/scope_where", scope_column=SCOPE_PROPERTY.get(layer.name, "id"))
    return Scope(layer, mode, source, own, demo, params)


def combined_provenance(
    previous: dict[str, Any] | None,
    source: str,
    licence: str,
    details: dict[str, Any],
    kept: int,
    key: str,
    synthetic_left: int | None = None,
) -> Provenance:
    """The layer's provenance when rows of other sources stay: every source and licence named
    once ("A + B"), synthetic while rows of the demo remain (`synthetic_left`; None: as the
    layer was). When the last of the demo's rows went, the demo is no longer named."""
    if not kept or not previous or not previous.get("source"):
        return Provenance(source=source, licence=licence, synthetic=False, details=details)
    sources = previous["source"].split(" + ")
    licences = [name for name in (previous.get("licence") or "").split(" + ") if name]
    synthetic = bool(previous.get("synthetic"))
    if synthetic and synthetic_left == 0:  # what stays is real (or editors' rows)
        demo = [name for name in sources if name.startswith(DEMO_SOURCE)]
        sources = [name for name in sources if not name.startswith(DEMO_SOURCE)]
        if demo and licence != DEMO_LICENCE:
            licences = [name for name in licences if name != DEMO_LICENCE]
        synthetic = False
    if source not in sources:
        sources.append(source)
    if licence not in licences:
        licences.append(licence)
    details = {**details, key: {"rows": kept, **previous, "synthetic_rows": synthetic_left or 0}}
    return Provenance(
        source=" + ".join(sources),
        licence=" + ".join(licences),
        synthetic=synthetic,
        details=details,
    )


def _load_keys(conn: psycopg.Connection, layer: Layer, frame: gpd.GeoDataFrame) -> None:
    """The incoming rows' keys into a temporary table (dropped at commit or rollback)."""
    conn.execute(query("importers/key_table"))
    names = (
        frame["name"]
        if "name" in frame.columns and "name" in layer.properties
        else pd.Series([None] * len(frame))
    )
    wkb = shapely.to_wkb(frame.geometry.values, hex=True)
    with conn.cursor().copy(query("importers/copy_keys")) as copy:
        for i, (name, geometry) in enumerate(zip(names.tolist(), wkb)):
            copy.write_row((i, None if name is None or pd.isna(name) else str(name), geometry))
    multi = sql.SQL("ST_Multi" if layer.geometry.startswith("Multi") else "")
    conn.execute(query("importers/key_geometry", multi=multi), {"srid": layer.srid})


def _name_match(layer: Layer, table_alias: str) -> sql.Composable:
    if "name" in layer.properties:
        return sql.SQL("{}.name IS NOT DISTINCT FROM k.name").format(sql.Identifier(table_alias))
    return sql.SQL("TRUE")


def _duplicates(conn: psycopg.Connection, layer: Layer) -> list[int]:
    rows = conn.execute(
        query("importers/duplicate_keys", table=layer.table, name_match=_name_match(layer, "t"))
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _drop_duplicates(
    conn: psycopg.Connection, layer: Layer, frame: gpd.GeoDataFrame, report: ImportReport
) -> gpd.GeoDataFrame:
    """Append: leave out the rows already in the layer; refuse when every row is."""
    duplicates = _duplicates(conn, layer)
    report.skipped = len(duplicates)
    if duplicates and len(duplicates) == len(frame):
        raise ImportFailed(
            f"nothing to append to {layer.name}: all {len(frame)} feature(s) "
            f"are already in the layer ({DEDUP_KEY}); the layer is unchanged"
        )
    if duplicates:
        report.notes.append(
            f"--append: {len(duplicates)} feature(s) already in the layer "
            f"({DEDUP_KEY}) were skipped"
        )
        frame = frame.drop(index=frame.index[duplicates]).reset_index(drop=True)
    return frame


def plan(
    conn: psycopg.Connection,
    layer: Layer,
    frame: gpd.GeoDataFrame,
    report: ImportReport,
    source: str,
    keep_demo: bool = False,
) -> None:
    """Dry run: what the import would add, change, remove (its source's rows, the demo's) and
    leave unchanged (nothing is written; the temporary work is rolled back)."""
    mode = report.mode
    with conn.transaction(force_rollback=True):
        _load_keys(conn, layer, frame)
        if mode == "append":
            report.skipped = len(_duplicates(conn, layer))
            report.scope = f"--append skips rows already in the layer: {DEDUP_KEY}"
            report.changes = {
                "add": len(frame) - report.skipped,
                "change": 0,
                "remove": 0,
                "unchanged": 0,
            }
            return
        scope = _scope(conn, layer, source, mode, frame, keep_demo)
        name_column = sql.SQL("t.name" if "name" in layer.properties else "NULL::text")
        in_scope, exact, named = (
            int(n)
            for n in conn.execute(
                query(
                    "importers/plan_changes",
                    table=layer.table,
                    where=scope.own,
                    name_column=name_column,
                ),
                scope.params,
            ).fetchone()
        )
        demo, edited = scope.demo_rows(conn) if mode == "replace" else (0, 0)
        total = conn.execute(query("importers/layer_row_count", table=layer.table)).fetchone()[0]
        changed = min(named, in_scope - exact)
        report.changes = {
            "add": len(frame) - exact - changed,
            "change": changed,
            "remove": max(in_scope - exact - changed, 0),
            "remove_demo": demo,
            "unchanged": exact,
        }
        report.scope = scope.words(demo, int(total) - in_scope - demo)
        _note_edited(report, layer, scope, edited, "would stay")


def _note_edited(report: ImportReport, layer: Layer, scope: Scope, edited: int, verb: str) -> None:
    if edited:
        report.notes.append(
            f"{edited} row(s){_demo_words(layer, scope.params['demo_values'])} that editors "
            f"added or changed on top of the demo {verb} (their history names who; delete "
            "them through the Features API if the real data supersedes them)"
        )


def write(
    conn: psycopg.Connection,
    batch: Batch,
    layer: Layer,
    frame: gpd.GeoDataFrame,
    report: ImportReport,
    provenance: Callable[[int, int], Provenance],
    keep_demo: bool = False,
) -> None:
    """Write one layer's rows as part of `batch` (inside the caller's transaction): lock the
    layer, remove what the mode replaces (kept for undo), skip duplicates on append, add the
    rows, record them. `provenance(kept_rows, demo_rows_left)` gives the layer's provenance
    afterwards."""
    table = layer.table
    conn.execute(query("importers/lock_layer", table=table))
    conn.execute(query("importers/act_as_import"), {"operation": "import"})
    before = conn.execute(query("importers/provenance_row"), {"layer": layer.name}).fetchone()
    conn.execute(query("importers/sequence_past_rows", table=table), {"table": table})
    scope = _scope(conn, layer, batch.source, report.mode, frame, keep_demo)
    if report.mode == "append":
        _load_keys(conn, layer, frame)
        frame = _drop_duplicates(conn, layer, frame, report)
        report.scope = f"--append skips rows already in the layer: {DEDUP_KEY}"
    else:
        demo, edited = scope.demo_rows(conn) if report.mode == "replace" else (0, 0)
        where = scope.where if report.mode == "replace" else scope.own
        removed = conn.execute(
            query("importers/remove_rows", table=table, where=where),
            {**scope.params, "batch": batch.id},
        )
        report.removed, report.removed_demo = removed.rowcount, demo
        _note_edited(report, layer, scope, edited, "stay")
    kept = int(conn.execute(query("importers/layer_row_count", table=table)).fetchone()[0])
    if report.mode != "append":
        report.scope = scope.words(report.removed_demo, kept)
    demo_left = scope.demo_rows(conn, whole_layer=True)[0] if kept else 0
    max_before = conn.execute(query("importers/max_id", table=table)).fetchone()[0]
    _write_rows(conn, layer, frame, report, provenance(kept, demo_left))
    conn.execute(
        query("importers/record_added", table=table),
        {"batch": batch.id, "layer": layer.name, "max_before": max_before},
    )
    conn.execute(
        query("importers/record_batch_layer"),
        {
            "batch": batch.id,
            "layer": layer.name,
            "mode": report.mode,
            "scope": json.dumps(
                {
                    "source": batch.source,
                    "words": report.scope,
                    "demo_removed": report.removed_demo,
                    "keep_demo": keep_demo,
                }
            ),
            "added": report.loaded,
            "removed": report.removed,
            "skipped": report.skipped,
            "rejected": report.rejected_total,
            "provenance_before": json.dumps(before[0], default=str) if before else None,
        },
    )
    conn.execute(query("importers/record_layer_version"), {"layer": layer.name})


def _write_rows(
    conn: psycopg.Connection,
    layer: Layer,
    frame: gpd.GeoDataFrame,
    report: ImportReport,
    provenance: Provenance,
) -> None:
    """The rows in through `write_layer` (appending: what is replaced is already removed); a
    refusal by the database changes nothing."""
    with progress(f"import {layer.name}", total=len(frame), unit="features") as bar:
        try:
            report.loaded = write_layer(
                conn, layer, frame, provenance, mode="append", progress=bar.update
            )
        except psycopg.Error as exc:
            message = (
                exc.diag.message_primary
                if exc.diag and exc.diag.message_primary
                else error_line(exc)
            )
            detail = f" ({exc.diag.message_detail})" if exc.diag and exc.diag.message_detail else ""
            raise ImportFailed(
                f"{layer.name}: the database refused the rows, nothing was "
                f"changed: {message}{detail}"
            ) from None


# --- undo ----------------------------------------------------------------------------------


def _batch_row(conn: psycopg.Connection, batch_id: int | None) -> tuple:
    if batch_id is None:
        row = conn.execute(query("importers/latest_batch")).fetchone()
        if row is None:
            raise ImportFailed("no import to undo (`twin import log` lists the imports)")
        return row
    row = conn.execute(query("importers/batch"), {"batch": batch_id}).fetchone()
    if row is None:
        raise ImportFailed(f"no import {batch_id} (`twin import log` lists the imports)")
    if row[5] is not None:
        raise ImportFailed(f"import {batch_id} was already undone at {row[5]:%Y-%m-%d %H:%M}")
    if row[6] is not None:
        raise ImportFailed(
            f"import {batch_id} has nothing left to undo: `twin load demo` "
            f"replaced its layers at {row[6]:%Y-%m-%d %H:%M}"
        )
    return row


def undo(conn: psycopg.Connection, batch_id: int | None = None, force: bool = False) -> str:
    """Undo an import (the latest by default): remove the rows it added, put back the rows it
    removed (same ids, values and geometries) and its layers' provenance, in one transaction.
    Refused when a layer changed since the import (edits, another load), unless `force`."""
    with conn.transaction():
        conn.execute(query("importers/act_as_import"), {"operation": "import undo"})
        bid, command, file, _source, started, _, _ = _batch_row(conn, batch_id)
        layers = conn.execute(query("importers/batch_layers"), {"batch": bid}).fetchall()
        names = [row[0] for row in layers]
        later = conn.execute(
            query("importers/later_batch"), {"batch": bid, "layers": names}
        ).fetchone()
        if later:
            raise ImportFailed(
                f"import {bid} cannot be undone before import {later[0]}, which "
                f"also changed {later[1]}: undo {later[0]} first; nothing was "
                "changed"
            )
        parts = []
        for name, _mode, _added, _removed, provenance_before in layers:
            layer = get_layer(name)
            conn.execute(query("importers/lock_layer", table=layer.table))
            now, then = conn.execute(
                query("importers/layer_versions_now"), {"layer": name}
            ).fetchone()
            if now != then and not force:
                raise ImportFailed(
                    f"layer {name} changed after import {bid} (edited, or loaded again): undoing "
                    "it would also undo those changes; pass --force to undo anyway, or restore "
                    "single features through the history; nothing was changed"
                )
            gone = conn.execute(
                query("importers/undo_added", table=layer.table), {"batch": bid, "layer": name}
            ).rowcount
            back = _restore_removed(conn, layer, bid)
            if provenance_before is not None:
                conn.execute(
                    query("importers/restore_provenance"),
                    {"p": json.dumps(provenance_before), "layer": name},
                )
            conn.execute(query("importers/record_layer_version"), {"layer": name})
            parts.append(
                f"{name}: removed the {gone} row(s) it added, put back the {back} it had removed"
            )
        parts += _restore_tables(conn, bid)
        conn.execute(query("importers/mark_undone"), {"batch": bid})
        conn.execute(query("importers/drop_kept_tables"))
    return f"undid import {bid} ({command} {file}, {started:%Y-%m-%d %H:%M}):\n  " + "\n  ".join(
        parts
    )


def _restore_removed(conn: psycopg.Connection, layer: Layer, batch_id: int) -> int:
    columns = list(layer.properties)
    result = conn.execute(
        query(
            "importers/undo_removed",
            table=layer.table,
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            source_columns=sql.SQL(", ").join(
                sql.SQL("p.{}").format(sql.Identifier(c)) for c in columns
            ),
            sep=sql.SQL(", ") if columns else sql.SQL(""),
        ),
        {"batch": batch_id, "layer": layer.name},
    )
    return result.rowcount


def log_lines(conn: psycopg.Connection, limit: int = 20) -> list[str]:
    """The latest imports, newest first, one line each: what `twin import undo` can undo."""
    lines = []
    for bid, started, command, file, source, undone, superseded, layers in conn.execute(
        query("importers/import_log"), {"limit": limit}
    ).fetchall():
        effect = "; ".join(
            f"{item['layer']} ({item['mode']}) +{item['added']} -{item['removed']}"
            for item in layers
        )
        state = (
            f" [undone {undone:%Y-%m-%d %H:%M}]"
            if undone
            else f" [replaced by twin load demo {superseded:%Y-%m-%d %H:%M}]"
            if superseded
            else ""
        )
        lines.append(
            f"{bid}  {started:%Y-%m-%d %H:%M}  {command} {file} from {source!r}: {effect}{state}"
        )
    return lines or ["no imports recorded yet"]


def supersede(conn: psycopg.Connection, layers: list[str]) -> None:
    """`twin load demo` replaced `layers`: the imports into them are no longer undoable (an
    undo would put back rows of the city the demo replaced beside the new demo's)."""
    conn.execute(query("importers/supersede_batches"), {"layers": layers})
    conn.execute(query("importers/drop_kept_tables"))

"""The GTFS feed in the database: `import_feed` writes it (the `twin import-gtfs` command and
the demo load call it), `timetable_frames` reads the timetable back for the engine, and
`feed_summary` says what is loaded, for docs and reports.

An import is one transaction: the old feed's timetable goes, the new one comes, and the
layers transit_routes and transit_stops are rewritten with the feed's provenance (source,
licence, synthetic, file checksum, warnings). A refused feed is refused before anything is
written; a failure while writing rolls everything back; either way the feed in use stays.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

from twin import extent
from twin.catalog import get_layer
from twin.errors import Conflict, ImportFailed, NotFound
from twin.importers import error_line, source_digest
from twin.importers.batches import begin, keep_tables
from twin.importers.batches import write as batch_write
from twin.importers.conform import ImportReport
from twin.progress import progress
from twin.sqlfiles import query
from twin.store import Provenance, write_layer
from twin.transit.frames import TimetableFrames
from twin.transit.gtfs import REQUIRED_COLUMNS, read_gtfs
from twin.transit.layers import route_features, stop_features

LOG = logging.getLogger("twin.transit")
UNKNOWN_LICENCE = "not stated (give --licence)"
CHUNK_ROWS = 100_000
# The timetable tables: their columns as TimetableFrames names them, and the read-back order.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "stops": (
        ("stop_id", "stop_name", "lon", "lat", "mode", "wheelchair_boarding"),
        ("stop_id",),
    ),
    "routes": (("route_id", "short_name", "long_name", "route_type", "mode"), ("route_id",)),
    "trips": (("trip_id", "route_id", "service_id", "direction_id", "shape_id"), ("trip_id",)),
    "stop_times": (
        ("trip_id", "stop_sequence", "stop_id", "arrival_s", "departure_s"),
        ("trip_id", "stop_sequence"),
    ),
    "calendar": (REQUIRED_COLUMNS["calendar"], ("service_id",)),
    "calendar_dates": (("service_id", "date", "exception_type"), ("service_id", "date")),
}
TYPES = {
    "stops": {"stop_id": str, "stop_name": "string", "mode": str, "wheelchair_boarding": "Int64"},
    "routes": {"route_id": str, "short_name": "string", "long_name": "string"},
    "trips": {"trip_id": str, "route_id": str, "service_id": str, "shape_id": object},
    "stop_times": {"trip_id": str, "stop_id": str},
    "calendar": {"service_id": str},
    "calendar_dates": {"service_id": str},
}


@dataclass
class FeedReport:
    """What an import did: a planner reads its lines, provenance keeps its facts."""

    name: str
    file: str
    synthetic: bool
    counts: dict[str, int]
    routes_by_mode: dict[str, int]
    service_start: str
    service_end: str
    headway_day: str
    replaced: str | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        modes = ", ".join(f"{n} {mode}" for mode, n in sorted(self.routes_by_mode.items()))
        c = self.counts
        lines = [
            f"transit feed {self.name!r}{' (synthetic)' if self.synthetic else ''} from "
            f"{self.file}: {c['routes']} routes ({modes}), {c['trips']:,} trips, "
            f"{c['stops']:,} stops, {c['stop_times']:,} stop times",
            f"service {self.service_start} to {self.service_end}; headways read on "
            f"{self.headway_day}, the busiest day",
            "layers transit_routes and transit_stops rewritten; "
            + (f"replaced the feed {self.replaced!r}" if self.replaced else "no feed before"),
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


def city_extent(conn: psycopg.Connection) -> tuple[float, float, float, float]:
    """Where the feed's stops must be: the city's extent (twin.extent: the loaded districts'
    with its margin, else the configured city box)."""
    return extent.city_extent(conn)


def _copy_in(conn: psycopg.Connection, name: str, frame: pd.DataFrame) -> None:
    columns, _ = TABLES[name]
    statement = query(
        "transit/copy_in",
        table=f"gtfs_{name}",
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )
    with (
        progress(f"store {name}", total=len(frame), unit="rows") as bar,
        conn.cursor().copy(statement) as copy,
    ):
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS][list(columns)]
            copy.write(chunk.to_csv(index=False, header=False))
            bar.update(len(chunk))


def _previous(conn: psycopg.Connection) -> dict[str, Any] | None:
    row = conn.execute(query("transit/feed")).fetchone()
    if row is None:
        return None
    keys = ("name", "file", "sha256", "source", "licence", "synthetic", "imported_at")
    return dict(zip(keys, row[:7], strict=True)) | {
        "service_start": row[7],
        "service_end": row[8],
        "details": row[9] or {},
    }


def _refuse_replacing(previous: dict[str, Any] | None) -> None:
    if previous and not previous["synthetic"]:
        raise Conflict(
            f"the transit feed {previous['name']!r} (imported "
            f"{previous['imported_at']:%Y-%m-%d %H:%M}) is in use: pass --replace to "
            "replace it with this one; nothing was changed"
        )


def import_feed(
    conn: psycopg.Connection,
    path: Path | str,
    *,
    name: str | None = None,
    synthetic: bool = False,
    source: str | None = None,
    licence: str | None = None,
    replace: bool = True,
    details: dict[str, Any] | None = None,
    undoable: bool = False,
) -> FeedReport:
    """Make the GTFS feed at `path` the twin's timetable and transit layers, in one
    transaction. With `replace` False, a real (not synthetic) feed already in use is kept and
    the import refused (Conflict): `twin import-gtfs` asks for --replace. `details` go into
    the provenance beside the feed's own (the demo's seed and scale). `undoable` (the CLI)
    records the import as a batch in `twin import log`, keeping the timetable and the layers
    it replaces so `twin import undo` brings the previous feed back; the demo's load is
    replaced by the next load and keeps nothing."""
    path = Path(path)
    if not replace:  # said before the feed is read; checked again under the lock
        _refuse_replacing(_previous(conn))
    feed = read_gtfs(path, city_extent(conn))
    frames = feed.frames
    name = name or path.stem
    routes, day = route_features(frames, feed.shapes)
    stops = stop_features(frames)
    digest = source_digest(path) if path.is_file() else None
    counts = {
        "routes": len(frames.routes),
        "trips": len(frames.trips),
        "stops": len(frames.stops),
        "stop_times": len(frames.stop_times),
    }
    details = {
        **(details or {}),
        "file": path.name,
        "sha256": digest,
        "feed": name,
        **feed.facts,
        "headway_day": day.isoformat(),
        **counts,
        "warnings": feed.warnings,
    }
    provenance = Provenance(
        source=source or f"GTFS feed {name} ({path.name})",
        licence=licence or ("CC0-1.0" if synthetic else UNKNOWN_LICENCE),
        synthetic=synthetic,
        details=details,
    )
    try:
        with conn.transaction():
            conn.execute(query("transit/lock_feed"))
            previous = _previous(conn)
            if not replace:
                _refuse_replacing(previous)
            conn.execute(query("importers/act_as_import"), {"operation": "import"})
            batch = begin(conn, "import-gtfs", path.name, provenance.source) if undoable else None
            if batch is not None:
                keep_tables(conn, batch, ["gtfs_feed", *(f"gtfs_{table}" for table in TABLES)])
            conn.execute(query("transit/empty_timetable"))
            for table in TABLES:
                _copy_in(conn, table, getattr(frames, table))
            conn.execute(
                query("transit/insert_feed"),
                {
                    "name": name,
                    "file": path.name,
                    "sha256": digest,
                    "source": provenance.source,
                    "licence": provenance.licence,
                    "synthetic": synthetic,
                    "service_start": feed.facts["service_start"],
                    "service_end": feed.facts["service_end"],
                    "details": json.dumps(details),
                },
            )
            for layer, frame in (("transit_routes", routes), ("transit_stops", stops)):
                layer_provenance = Provenance(
                    source=provenance.source,
                    licence=provenance.licence,
                    synthetic=synthetic,
                    details={**details, "loaded": len(frame)},
                )
                if batch is None:
                    write_layer(conn, layer, frame, layer_provenance, mode="replace")
                    continue
                batch_write(
                    conn,
                    batch,
                    get_layer(layer),
                    frame,
                    ImportReport(layer, mode="replace-layer"),
                    lambda _kept, _demo, p=layer_provenance: p,
                )
    except psycopg.Error as exc:
        raise ImportFailed(
            f"importing {path.name} failed, nothing was changed: {error_line(exc)}"
        ) from None
    LOG.info(
        "transit feed imported",
        extra={"fields": {"feed": name, **counts, "warnings": len(feed.warnings)}},
    )
    by_mode = frames.routes["mode"].value_counts().to_dict()
    return FeedReport(
        name=name,
        file=path.name,
        synthetic=synthetic,
        counts=counts,
        routes_by_mode={str(k): int(v) for k, v in by_mode.items()},
        service_start=feed.facts["service_start"],
        service_end=feed.facts["service_end"],
        headway_day=day.isoformat(),
        replaced=previous["name"] if previous else None,
        warnings=feed.warnings,
    )


def _copy_out(conn: psycopg.Connection, name: str) -> pd.DataFrame:
    columns, order = TABLES[name]
    statement = query(
        "transit/copy_out",
        table=f"gtfs_{name}",
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        order=sql.SQL(", ").join(sql.Identifier(c) for c in order),
    )
    buffer = io.BytesIO()
    with conn.cursor().copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=TYPES[name], keep_default_na=False, na_values=[""])


def timetable_frames(conn: psycopg.Connection) -> TimetableFrames:
    """The feed in use as TimetableFrames (NotFound before any feed was imported)."""
    if conn.execute(query("transit/feed")).fetchone() is None:
        raise NotFound("no transit feed is loaded: `twin import-gtfs FEED.zip` imports one")
    frames = {name: _copy_out(conn, name) for name in TABLES}
    trips = frames["trips"]
    trips["shape_id"] = trips["shape_id"].astype(object).where(trips["shape_id"].notna(), None)
    calendar = frames["calendar"]
    for column in ("start_date", "end_date"):
        calendar[column] = pd.to_datetime(calendar[column]).dt.date
    for column in TABLES["calendar"][0][1:8]:
        calendar[column] = calendar[column].map({"t": True, "f": False})
    dates = frames["calendar_dates"]
    dates["date"] = pd.to_datetime(dates["date"]).dt.date
    return TimetableFrames(**frames)


def feed_summary(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The feed in use: name, provenance, service days, counts (None when none is loaded)."""
    previous = _previous(conn)
    if previous is None:
        return None
    routes, trips, stops, stop_times, routes_by_mode, stops_by_mode = conn.execute(
        query("transit/counts")
    ).fetchone()
    start: date = previous["service_start"]
    end: date = previous["service_end"]
    return {
        "name": previous["name"],
        "file": previous["file"],
        "sha256": previous["sha256"],
        "source": previous["source"],
        "licence": previous["licence"],
        "synthetic": previous["synthetic"],
        "imported_at": previous["imported_at"].isoformat(),
        "service_start": start.isoformat(),
        "service_end": end.isoformat(),
        "headway_day": previous["details"].get("headway_day"),
        "counts": {"routes": routes, "trips": trips, "stops": stops, "stop_times": stop_times},
        "routes_by_mode": routes_by_mode,
        "stops_by_mode": stops_by_mode,
        "warnings": previous["details"].get("warnings", []),
    }

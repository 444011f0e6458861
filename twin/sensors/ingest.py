"""Observations in: one checked, all-or-nothing write for every way they arrive.

HTTP (POST Observations, CreateObservations), the MQTT bridge, the simulator and the demo all
call `ingest_observations(conn, items, caller=...)` with SensorThings Observation JSON. Every
item is checked before anything is written; a batch with one bad item writes nothing, and the
report lists every refused item (its index in the batch and the reason):

- the Datastream must exist (and the caller's key may write it: 403 otherwise);
- the result must fit the Datastream's result_kind (number, boolean, text or any JSON);
- phenomenonTime is an ISO 8601 instant or interval "start/end" with a time zone, no later
  than TWIN_STA_FUTURE_TOLERANCE_S ahead of the server's clock;
- one time per Datastream: a time twice in the batch is 400, a time already stored 409;
- at most TWIN_STA_MAX_BATCH items.

An Observation older than its Datastream's latest (out of order, e.g. a gateway's backlog) is
accepted and stored, but it does not move the Datastream's latest_* (the latest value is the
one with the newest phenomenon time, never the last to arrive).

The write: the day partitions the batch needs (sta_observation_partition), ids for the batch,
one COPY into sta_observations, then one UPDATE of latest_* for the batch's Datastreams, then
the hours of late Observations (below retention's late mark) noted in one INSERT, aggregated
again by the next retention run (twin/sensors/retention.py).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg

from twin.errors import Conflict, Forbidden, InvalidParameter, PayloadTooLarge, TwinError
from twin.sensors.keys import SensorWriter
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.ingest")

KNOWN_MEMBERS = frozenset(
    {
        "phenomenonTime",
        "result",
        "resultTime",
        "resultQuality",
        "validTime",
        "parameters",
        "Datastream",
        "FeatureOfInterest",
    }
)
KIND_WORDS = {
    "number": "a number",
    "boolean": "true or false",
    "text": "a string",
    "json": "any JSON value",
}
# The most refusals a report lists one by one (the count is always whole).
MAX_LISTED = 1000


@dataclass(frozen=True)
class Refusal:
    """One refused item: its index in the batch, why, and the status it earns."""

    index: int
    reason: str
    status: int = 400

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "reason": self.reason}


@dataclass
class IngestReport:
    """What an ingest did: the created ids (batch order), or every refused item."""

    received: int = 0
    ids: list[int] = field(default_factory=list)
    datastreams: int = 0
    out_of_order: int = 0
    refused: list[Refusal] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def created(self) -> int:
        return len(self.ids)

    def error(self) -> ObservationsRefused:
        """The error to answer a refused batch with (403 before 400 before 409)."""
        return ObservationsRefused(self.refused, self.received)


class ObservationsRefused(TwinError):
    """A batch with refused items: nothing of it was written; `refused` lists each item."""

    def __init__(self, refused: list[Refusal], received: int) -> None:
        statuses = {r.status for r in refused}
        # a key's refusal first (it says nothing about the data), then bad input, then
        # conflicts with what is stored
        self.status = 403 if 403 in statuses else 400 if 400 in statuses else 409
        self.code = {403: Forbidden.code, 409: Conflict.code}.get(
            self.status, InvalidParameter.code
        )
        first = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        where = f"item {first.index}: " if received > 1 else ""
        super().__init__(
            f"{len(refused)} of {received} Observations refused, nothing written; "
            f"{where}{first.reason}{more}"
        )
        self.refused = refused

    def details(self) -> dict[str, object]:
        return {
            "refused": [r.as_json() for r in self.refused[:MAX_LISTED]],
            "refusedCount": len(self.refused),
        }


def parse_instant(text: object, what: str) -> datetime:
    """An ISO 8601 instant with a time zone (a naive time is refused: in Almaty, UTC+5, a
    guess would misplace it by five hours)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{what} must be an ISO 8601 time string, not {_shown(text)}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {_shown(text)} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ValueError(f"{what} {_shown(text)} needs a time zone (e.g. Z or +05:00)")
    return value


def parse_time(text: object, what: str) -> tuple[datetime, datetime | None]:
    """An instant, or an interval "start/end" (start ≤ end): (start, end or None)."""
    if isinstance(text, str) and "/" in text:
        first, _, last = text.partition("/")
        start, end = parse_instant(first, what), parse_instant(last, what)
        if end < start:
            raise ValueError(f"{what} {_shown(text)} ends before it starts")
        return start, end
    return parse_instant(text, what), None


def _shown(value: object) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _reference(value: object, what: str) -> int:
    """The @iot.id of a {"@iot.id": n} reference."""
    ref = value.get("@iot.id") if isinstance(value, dict) else None
    if type(ref) is int and ref > 0:
        return ref
    if isinstance(ref, str) and ref.isdigit():
        ref = int(ref)
    if not isinstance(ref, int) or isinstance(ref, bool) or ref <= 0:
        raise ValueError(f'{what} must be a reference {{"@iot.id": <id>}}, not {_shown(value)}')
    return ref


def _fits(kind: str, result: object) -> bool:
    if type(result) is float:  # NaN and infinities are no measurement (JSON has neither)
        return kind in ("number", "json") and math.isfinite(result)
    if kind == "number":
        return isinstance(result, int | float) and not isinstance(result, bool)
    if kind == "boolean":
        return isinstance(result, bool)
    if kind == "text":
        return isinstance(result, str)
    return True


@dataclass
class _Row:
    index: int
    datastream: int
    start: datetime
    end: datetime | None
    result: Any
    result_time: datetime | None = None
    quality: Any = None
    valid: tuple[datetime, datetime | None] | None = None
    parameters: Any = None
    feature: int | None = None
    kind: str = ""  # the Datastream's result_kind, once checked


class Unreadable(str):
    """An item a front end (a dataArray row, an MQTT message) could not read as an
    Observation: the reason, refused with its index beside the batch's other problems."""


def _parse(index: int, item: object, datastream_id: int | None) -> _Row:
    """One Observation's members, checked on their own (ValueError names the problem)."""
    if isinstance(item, Unreadable):
        raise ValueError(str(item))
    if not isinstance(item, dict):
        raise ValueError(f"an Observation is a JSON object, not {_shown(item)}")
    unknown = (
        []
        if KNOWN_MEMBERS.issuperset(item)
        else [k for k in item if k not in KNOWN_MEMBERS and not k.startswith("@iot.")]
    )
    if unknown:
        raise ValueError(
            f"unknown member {unknown[0]!r}; an Observation has {', '.join(sorted(KNOWN_MEMBERS))}"
        )
    if "Datastream" in item:
        ds = _reference(item["Datastream"], "Datastream")
        if datastream_id is not None and ds != datastream_id:
            raise ValueError(
                f"Datastream {ds} differs from the address's Datastream {datastream_id}"
            )
    elif datastream_id is not None:
        ds = datastream_id
    else:
        raise ValueError('the Observation names no Datastream: add "Datastream": {"@iot.id": n}')
    if "phenomenonTime" not in item:
        raise ValueError("phenomenonTime is missing")
    start, end = parse_time(item["phenomenonTime"], "phenomenonTime")
    if "result" not in item:
        raise ValueError("result is missing")
    row = _Row(index, ds, start, end, item["result"])
    if item.get("resultTime") is not None:
        row.result_time = parse_instant(item["resultTime"], "resultTime")
    if item.get("validTime") is not None:
        row.valid = parse_time(item["validTime"], "validTime")
    row.quality = item.get("resultQuality")
    parameters = item.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise ValueError(f"parameters must be a JSON object, not {_shown(parameters)}")
    row.parameters = parameters
    if item.get("FeatureOfInterest") is not None:
        row.feature = _reference(item["FeatureOfInterest"], "FeatureOfInterest")
    return row


def ingest_observations(
    conn: psycopg.Connection,
    items: Sequence[object],
    *,
    caller: SensorWriter | None,
    datastream_id: int | None = None,
) -> IngestReport:
    """Check and store a batch of Observations (all or nothing); `caller` is the key holder
    (None: the twin itself, e.g. the demo or the simulator in process). `datastream_id` is
    the Datastream of the address (POST /Datastreams(id)/Observations). A refused batch
    returns a report listing every refused item and leaves the database as it was; the
    caller commits (a pooled autocommit connection commits at once). More items than
    TWIN_STA_MAX_BATCH raise PayloadTooLarge (413) before anything is read."""
    began = time.perf_counter()
    settings = get_settings().sensors
    report = IngestReport(received=len(items))
    if len(items) > settings.max_batch:
        raise PayloadTooLarge(
            f"{len(items)} Observations in one request; at most {settings.max_batch} "
            "(TWIN_STA_MAX_BATCH): send them in smaller batches"
        )
    rows: list[_Row] = []
    for index, item in enumerate(items):
        try:
            rows.append(_parse(index, item, datastream_id))
        except ValueError as exc:
            report.refused.append(Refusal(index, str(exc)))
    streams = _datastreams(conn, {row.datastream for row in rows})
    _check(rows, streams, caller, settings.future_tolerance_s, report)
    _check_features(conn, rows, report)
    if not report.ok:
        report.refused.sort(key=lambda r: r.index)
        return report
    if not rows:
        return report
    if conn.autocommit:  # the partitions in their own short transactions, before the write
        _make_partitions(conn, rows)
    for attempt in (1, 2):
        try:
            with conn.transaction():
                if not conn.autocommit:
                    _make_partitions(conn, rows)
                _attach_features(conn, rows)
                report.ids = _write(conn, rows)
                report.out_of_order = _update_latest(conn, rows, report.ids)
                _note_late_hours(conn, rows)
            break
        except psycopg.errors.DeadlockDetected:
            # two concurrent batches holding the same (Datastream, time) crosswise: one is
            # cancelled; once again, it meets the other's rows as the duplicates they are
            if attempt == 2:
                raise
            LOG.warning("a concurrent batch deadlocked with this one: writing it again")
        except psycopg.errors.UniqueViolation:
            report.ids = []
            report.refused = _stored_duplicates(conn, rows)
            if not report.refused:  # another writer's batch came first and has gone again
                raise
            return report
    report.datastreams = len({row.datastream for row in rows})
    report.seconds = time.perf_counter() - began
    LOG.debug(
        "ingested",
        extra={"fields": {"n": report.created, "s": round(report.seconds, 4)}},
    )
    return report


def _datastreams(conn: psycopg.Connection, ids: Iterable[int]) -> dict[int, tuple[str, int, Any]]:
    wanted = sorted(ids)
    if not wanted:
        return {}
    rows = conn.execute(query("sensors/ingest_datastreams"), {"ids": wanted}).fetchall()
    return {ds: (kind, thing, provider) for ds, kind, thing, provider in rows}


def _check(
    rows: list[_Row],
    streams: dict[int, tuple[str, int, Any]],
    caller: SensorWriter | None,
    tolerance_s: float,
    report: IngestReport,
) -> None:
    """The checks that need the Datastreams and the whole batch."""
    latest_allowed = datetime.now(UTC) + timedelta(seconds=tolerance_s)
    seen: dict[tuple[int, datetime], int] = {}
    forbidden: dict[int, bool] = {}
    for row in rows:
        stream = streams.get(row.datastream)
        if stream is None:
            report.refused.append(Refusal(row.index, f"no Datastream {row.datastream}"))
            continue
        kind, thing, provider = stream
        row.kind = kind
        if caller is not None:
            if row.datastream not in forbidden:
                forbidden[row.datastream] = not caller.may_write(thing, provider)
            if forbidden[row.datastream]:
                report.refused.append(
                    Refusal(
                        row.index,
                        f"{caller.name} may not write Datastream {row.datastream} "
                        f"(Thing {thing} is another provider's)",
                        403,
                    )
                )
                continue
        if not _fits(kind, row.result):
            report.refused.append(
                Refusal(
                    row.index,
                    f"result {_shown(row.result)} does not fit Datastream {row.datastream}: "
                    f"its results are {KIND_WORDS[kind]}",
                )
            )
            continue
        if (row.end or row.start) > latest_allowed:
            report.refused.append(
                Refusal(
                    row.index,
                    f"phenomenonTime {(row.end or row.start).isoformat()} is in the future "
                    f"(more than {tolerance_s:g} s ahead of the server's clock)",
                )
            )
            continue
        key = (row.datastream, row.start)
        if key in seen:
            report.refused.append(
                Refusal(
                    row.index,
                    f"Datastream {row.datastream} has phenomenonTime {row.start.isoformat()} "
                    f"twice in this batch (items {seen[key]} and {row.index})",
                )
            )
            continue
        seen[key] = row.index


def _check_features(conn: psycopg.Connection, rows: list[_Row], report: IngestReport) -> None:
    """A FeatureOfInterest an Observation names must exist."""
    named = {row.feature for row in rows if row.feature is not None}
    if not named:
        return
    found = {n for (n,) in conn.execute(query("sensors/features_exist"), {"ids": sorted(named)})}
    refused = {r.index for r in report.refused}
    for row in rows:
        if row.feature is not None and row.feature not in found and row.index not in refused:
            report.refused.append(Refusal(row.index, f"no FeatureOfInterest {row.feature}"))


def _attach_features(conn: psycopg.Connection, rows: list[_Row]) -> None:
    """Observations without a FeatureOfInterest are about their Thing's Location."""
    wanted = sorted({row.datastream for row in rows if row.feature is None})
    if not wanted:
        return
    features = dict(
        conn.execute(query("sensors/features_of_locations"), {"ids": wanted}).fetchall()
    )
    for row in rows:
        if row.feature is None:
            row.feature = features.get(row.datastream)


def _days(rows: list[_Row]) -> list[date]:
    return sorted({row.start.astimezone(UTC).date() for row in rows})


def _make_partitions(conn: psycopg.Connection, rows: list[_Row]) -> None:
    conn.execute(query("sensors/make_partitions"), {"days": _days(rows)})


def _json_text(value: Any) -> str:
    return "\\N" if value is None else orjson.dumps(value).decode().replace("\\", "\\\\")


def _write(conn: psycopg.Connection, rows: list[_Row]) -> list[int]:
    """Ids for the rows, then one COPY (text format, written in chunks of lines)."""
    ids = [
        n for (n,) in conn.execute(query("sensors/observation_ids"), {"n": len(rows)}).fetchall()
    ]
    null = "\\N"
    lines: list[str] = []
    with conn.cursor() as cur, cur.copy(query("sensors/copy_observations")) as copy:
        for oid, row in zip(ids, rows, strict=True):
            result = row.result
            number = (type(result) is float or type(result) is int) and row.kind == "number"
            lines.append(
                "\t".join(
                    (
                        str(oid),
                        str(row.datastream),
                        row.start.isoformat(),
                        null if row.end is None else row.end.isoformat(),
                        null if row.result_time is None else row.result_time.isoformat(),
                        repr(float(result)) if number else null,
                        null if number else _json_text(result),
                        _json_text(row.quality),
                        null if row.valid is None else row.valid[0].isoformat(),
                        null
                        if row.valid is None or row.valid[1] is None
                        else row.valid[1].isoformat(),
                        _json_text(row.parameters),
                        null if row.feature is None else str(row.feature),
                    )
                )
            )
            if len(lines) >= 5000:
                copy.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            copy.write("\n".join(lines) + "\n")
    return ids


def _update_latest(conn: psycopg.Connection, rows: list[_Row], ids_of: list[int]) -> int:
    """latest_* of each Datastream from its newest Observation in the batch (moved only when
    newer than the stored one; `ids_of`: the rows' Observation ids); returns how many
    Observations were older than the stored latest (out of order)."""
    newest: dict[int, _Row] = {}
    observation = {id(row): oid for row, oid in zip(rows, ids_of, strict=True)}
    first: dict[int, datetime] = {}
    last: dict[int, datetime] = {}
    for row in rows:
        ds = row.datastream
        if ds not in newest or row.start > newest[ds].start:
            newest[ds] = row
        if ds not in first or row.start < first[ds]:
            first[ds] = row.start
        stop = row.end or row.start
        if ds not in last or stop > last[ds]:
            last[ds] = stop
    ids = sorted(newest)
    stored = dict(conn.execute(query("sensors/lock_datastreams"), {"ids": ids}).fetchall())
    older = sum(
        1
        for row in rows
        if (latest := stored.get(row.datastream)) is not None and row.start < latest
    )
    latest_number, latest_json = [], []
    for ds in ids:
        result = newest[ds].result
        latest_number.append(float(result) if newest[ds].kind == "number" else None)
        latest_json.append(orjson.dumps(result).decode())

    def member(value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    rows_of = [newest[ds] for ds in ids]
    conn.execute(
        query("sensors/update_latest"),
        {
            "ids": ids,
            "latest_time": [row.start for row in rows_of],
            "latest_number": latest_number,
            "latest_json": latest_json,
            "latest_id": [observation[id(row)] for row in rows_of],
            "latest_end": [row.end for row in rows_of],
            "latest_result_time": [row.result_time for row in rows_of],
            "latest_quality": [member(row.quality) for row in rows_of],
            "latest_valid_start": [row.valid[0] if row.valid else None for row in rows_of],
            "latest_valid_end": [row.valid[1] if row.valid else None for row in rows_of],
            "latest_parameters": [member(row.parameters) for row in rows_of],
            "latest_feature_id": [row.feature for row in rows_of],
        },
    )
    conn.execute(
        query("sensors/widen_span"),
        {
            "ids": ids,
            "first_time": [first[ds] for ds in ids],
            "last_time": [last[ds] for ds in ids],
        },
    )
    return older


def _note_late_hours(conn: psycopg.Connection, rows: list[_Row]) -> None:
    """Note the hours of number results too late for retention's next window, so that run
    aggregates them again (twin/sensors/retention.py): the mark read (and held FOR SHARE until
    the batch commits), then one INSERT for the late rows, when there are any. After the
    Datastreams are locked, so it waits for nothing but a retention run moving its mark."""
    (before,) = conn.execute(query("sensors/late_mark")).fetchone() or (None,)
    if before is None:
        return
    late = [row for row in rows if row.start < before and row.kind == "number"]
    if late:
        conn.execute(
            query("sensors/note_late_hours"),
            {"ids": [row.datastream for row in late], "times": [row.start for row in late]},
        )


def _stored_duplicates(conn: psycopg.Connection, rows: list[_Row]) -> list[Refusal]:
    found = conn.execute(
        query("sensors/stored_duplicates"),
        {"ids": [row.datastream for row in rows], "times": [row.start for row in rows]},
    ).fetchall()
    stored = set(found)
    return [
        Refusal(
            row.index,
            f"Datastream {row.datastream} already has an Observation at phenomenonTime "
            f"{row.start.isoformat()}",
            409,
        )
        for row in rows
        if (row.datastream, row.start) in stored
    ]

"""Road crashes in: a CSV with coordinates or addresses, each crash placed on its street.

A row gives its place as coordinates (lat/lon) or as an address "street / cross street" (the
junction where two streets of the streets layer meet, by their name in English, Russian or
Kazakh; police crash cards name junctions so). Either way the crash is related to its nearest
drivable street segment (street_id, street) and district. A row without a place (no
coordinates, an unknown street, streets that never meet or meet at several places, a point
outside the city) or with a bad value is refused with its reason; by default one refused row
refuses the file and nothing is written. A new import of the same source replaces what that
source brought, then the hotspots are recomputed (twin/scooters/hotspots.py).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import orjson
import psycopg
import shapely

from twin.errors import ImportFailed, InvalidParameter
from twin.extent import Bbox, city_extent, contains
from twin.sqlfiles import query
from twin.store import Provenance, write_layer

LOG = logging.getLogger("twin.scooters.crashes")

SHOWN_REFUSED = 20
JUNCTION_SPREAD_M = 150.0  # the nodes where two streets meet, closer than this: one junction
SEVERITIES = ("fatal", "serious", "slight")
VEHICLE_TYPES = ("car", "bus", "truck", "motorcycle", "bicycle", "e-scooter")
ROW_ERROR = "\x00refused"  # a GeoJSON row's key (no column is named so): why it is refused
ADDRESS_SEPARATORS = (" / ", " & ", " x ", ";")
COLUMNS = (
    "occurred_at, severity, killed, injured, pedestrian, vehicle_types, and a place: "
    "lat + lon, or address ('street / cross street')"
)


@dataclass
class CrashReport:
    """What a crash import received, wrote and refused (with reasons)."""

    received: int = 0
    written: int = 0
    by_address: int = 0
    refused: int = 0
    reasons: Counter = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)
    hotspots: int = 0

    def refuse(self, row: int, reasons: list[str]) -> None:
        self.refused += 1
        self.reasons.update(reasons)
        if len(self.rows) < SHOWN_REFUSED:
            self.rows.append({"row": row, "reasons": reasons})

    def document(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "written": self.written,
            "placed_by_address": self.by_address,
            "refused": self.refused,
            "reasons": dict(self.reasons.most_common()),
            "refused_rows": sorted(self.rows, key=lambda r: r["row"]),
            "hotspots": self.hotspots,
        }


class CrashesRefused(ImportFailed):
    """A crash file with refused rows, written not at all: the report says which and why."""

    def __init__(self, report: CrashReport) -> None:
        top = ", ".join(f"{reason} ({n})" for reason, n in report.reasons.most_common(3))
        super().__init__(
            f"{report.refused} of {report.received} crash rows refused, nothing written: {top}"
        )
        self.report = report

    def details(self) -> dict[str, object]:
        return {"report": self.report.document()}


def _number(row: dict[str, str], *names: str) -> float | None:
    for name in names:
        value = (row.get(name) or "").strip().replace(",", ".")
        if value:
            try:
                number = float(value)
            except ValueError:
                return math.nan
            return number if math.isfinite(number) else math.nan
    return None


def _count(row: dict[str, str], name: str, reasons: list[str]) -> int:
    value = (row.get(name) or "0").strip() or "0"
    if not value.isdigit():
        reasons.append(f"{name} is not a whole number >= 0")
        return 0
    return int(value)


def _flag(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if text in {"1", "true", "yes", "y", "t", "да"}:
        return True
    if text in {"0", "false", "no", "n", "f", "нет", ""}:
        return False
    return None


def _split_address(text: str) -> tuple[str, str] | None:
    for separator in ADDRESS_SEPARATORS:
        if separator in text:
            a, _, b = text.partition(separator)
            if a.strip() and b.strip():
                return a.strip(), b.strip()
    return None


def _parse(number: int, row: dict[str, str], extent: Bbox) -> dict[str, Any] | list[str]:
    """A row's values and place (coordinates or address), or the reasons it is refused."""
    reasons: list[str] = [row[ROW_ERROR]] if row.get(ROW_ERROR) else []
    when = (row.get("occurred_at") or "").strip()
    if not when and row.get("date"):
        when = f"{row['date'].strip()}T{(row.get('time') or '00:00').strip()}"
    try:
        occurred = datetime.fromisoformat(when)
        occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
    except ValueError:
        reasons.append("occurred_at is not a date and time (ISO 8601)")
        occurred = None
    killed, injured = _count(row, "killed", reasons), _count(row, "injured", reasons)
    severity = (row.get("severity") or "").strip().lower() or ("fatal" if killed else "slight")
    if severity not in SEVERITIES:
        reasons.append(f"severity is one of {', '.join(SEVERITIES)}")
    elif (severity == "fatal") != (killed > 0):
        reasons.append("severity fatal goes with killed > 0, and only with it")
    pedestrian = _flag(row.get("pedestrian"))
    if pedestrian is None:
        reasons.append("pedestrian is true or false")
    vehicles = [v.strip().lower() for v in (row.get("vehicle_types") or "").split(",") if v.strip()]
    unknown = [v for v in vehicles if v not in VEHICLE_TYPES]
    if unknown:
        reasons.append(f"unknown vehicle types: {', '.join(unknown)[:80]}")
    lat, lon = _number(row, "lat", "latitude", "y"), _number(row, "lon", "lng", "longitude", "x")
    address = (row.get("address") or "").strip()
    place: dict[str, Any] = {}
    if lat is not None and lon is not None:
        if math.isnan(lat) or math.isnan(lon):
            reasons.append("lat/lon are not numbers")
        elif not contains(extent, (lon, lat, lon, lat)):
            reasons.append("outside the city")
        else:
            place = {"lon": lon, "lat": lat, "placed_by": "coordinates"}
    elif address:
        streets = _split_address(address)
        if streets is None:
            reasons.append("no place: an address is 'street / cross street' (the junction)")
        else:
            place = {"streets": streets, "placed_by": "address"}
    elif not row.get(ROW_ERROR):  # a feature that is not a Point: its one reason is said
        reasons.append("no place: neither lat/lon nor an address")
    if reasons:
        return reasons
    return {
        "row": number,
        "occurred_at": occurred,
        "year": occurred.year if occurred else None,
        "severity": severity,
        "killed": killed,
        "injured": injured,
        "pedestrian": pedestrian,
        "vehicle_types": ",".join(vehicles) or None,
        **place,
    }


def _junctions(
    conn: psycopg.Connection, rows: list[dict[str, Any]]
) -> dict[int, tuple[float, float, int, str] | str]:
    """Each address row's junction (lon, lat, street id, street name) or why there is none."""
    names = sorted({n.lower() for r in rows for n in r["streets"]})
    segments: dict[str, list[tuple]] = {}
    for l_en, l_ru, l_kk, sid, name, a, b, ax, ay, bx, by in conn.execute(
        query("crashes/named_segments"), {"names": names}
    ):
        for key in {l_en, l_ru, l_kk} - {None}:
            segments.setdefault(key, []).append((sid, name, {a: (ax, ay), b: (bx, by)}))
    found: dict[int, tuple[float, float, int, str] | str] = {}
    for r in rows:
        first, second = (segments.get(n.lower()) for n in r["streets"])
        missing = [n for n, s in zip(r["streets"], (first, second), strict=True) if not s]
        if missing:
            found[r["row"]] = f"no place: no street named {missing[0][:60]!r}"
            continue
        assert first and second
        other = {node for _, _, ends in second for node in ends}
        meets = {
            node: (point, sid, name)
            for sid, name, ends in first
            for node, point in ends.items()
            if node in other
        }
        if not meets:
            found[r["row"]] = "no place: the two streets do not meet"
            continue
        points = shapely.points([p for p, _, _ in meets.values()])
        spread = shapely.distance(points[:, None], points[None, :]).max() * 111_000
        if spread > JUNCTION_SPREAD_M:
            found[r["row"]] = f"no place: the two streets meet at {len(meets)} places"
            continue
        centre = shapely.centroid(shapely.multipoints(points))
        _, sid, name = next(iter(meets.values()))
        found[r["row"]] = (centre.x, centre.y, sid, name)
    return found


def read_crash_csv(data: bytes) -> list[dict[str, str]]:
    """The rows of a crash CSV (UTF-8, a header row)."""
    if b"\x00" in data:
        raise InvalidParameter("the crash CSV holds a NUL character, which no text may hold")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(f"the crash CSV is not UTF-8: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not (
        {"occurred_at", "date"} & {f.strip().lower() for f in reader.fieldnames}
    ):
        raise InvalidParameter(f"the crash CSV needs a header row with: {COLUMNS}")
    return [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]


def read_crash_geojson(data: bytes) -> list[dict[str, str]]:
    """The rows of a GeoJSON FeatureCollection of crashes: each feature's properties (the
    CSV's columns) and its Point as lat/lon; a feature without geometry may give an address.
    A feature that is not a Point is kept as a row to be refused with its reason."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the crashes are not valid JSON: {exc}") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(features, list)
    ):
        raise InvalidParameter(
            f"send a GeoJSON FeatureCollection of Points with the properties {COLUMNS}"
        )
    return [_feature_row(f) for f in features]


def _feature_row(feature: Any) -> dict[str, str]:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties") or {}, dict):
        return {ROW_ERROR: "not a GeoJSON Feature with properties"}
    row = {str(k).strip().lower(): _text(v) for k, v in (feature.get("properties") or {}).items()}
    if any("\x00" in v for v in row.values()):
        row[ROW_ERROR] = "a property holds a NUL character, which no text may hold"
        return row
    geometry = feature.get("geometry")
    if geometry is None:
        return row
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if (
        not isinstance(geometry, dict)
        or geometry.get("type") != "Point"
        or not isinstance(coordinates, list)
        or len(coordinates) < 2
    ):
        row[ROW_ERROR] = "the geometry is not a Point [lon, lat]"
        return row
    row["lon"], row["lat"] = _text(coordinates[0]), _text(coordinates[1])
    return row


def _text(value: Any) -> str:
    """A GeoJSON property as the CSV would hold it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "?"  # an object: no column holds one, its row is refused by its value
    return str(value)


def import_crashes(
    conn: psycopg.Connection,
    rows: list[dict[str, str]],
    source: str,
    *,
    accept_valid: bool = False,
    synthetic: bool = False,
    first_row: int = 2,
) -> CrashReport:
    """Place, check and write crash rows (replacing `source`'s earlier rows), then recompute
    the hotspots; CrashesRefused (nothing written) when a row is refused and not
    `accept_valid`."""
    report = CrashReport(received=len(rows))
    if not rows:
        raise InvalidParameter("no crash rows in the input")
    parsed = []
    extent = city_extent(conn)  # the loaded districts' (twin.extent)
    for number, row in enumerate(rows, first_row):  # a CSV's row 1 is its header
        result = _parse(number, row, extent)
        if isinstance(result, list):
            report.refuse(number, result)
        else:
            parsed.append(result)
    addressed = [r for r in parsed if r["placed_by"] == "address"]
    junctions = _junctions(conn, addressed) if addressed else {}
    placed = []
    for r in parsed:
        if r["placed_by"] == "address":
            junction = junctions[r["row"]]
            if isinstance(junction, str):
                report.refuse(r["row"], [junction])
                continue
            r["lon"], r["lat"], r["street_id"], r["street"] = junction
        placed.append(r)
    report.by_address = sum(1 for r in placed if r["placed_by"] == "address")
    if report.refused and not accept_valid:
        raise CrashesRefused(report)
    frame = crash_frame(conn, placed, source)
    write_crashes(conn, frame, source, synthetic=synthetic)
    report.written = len(frame)
    from twin.scooters.hotspots import publish_hotspots

    report.hotspots = publish_hotspots(conn)
    return report


def crash_frame(
    conn: psycopg.Connection, rows: list[dict[str, Any]], source: str
) -> gpd.GeoDataFrame:
    """Placed rows as the crashes layer's frame, each with its nearest street and district."""
    snapped = {
        n: (sid, name, metres, district)
        for n, sid, name, metres, district in conn.execute(
            query("crashes/snap_points"),
            {
                "n": [r["row"] for r in rows],
                "lon": [r["lon"] for r in rows],
                "lat": [r["lat"] for r in rows],
            },
        )
    }
    for r in rows:
        sid, name, _, district = snapped.get(r["row"], (None, None, None, None))
        r.setdefault("street_id", sid)
        r.setdefault("street", name)
        r["district"] = district
        r["source"] = source
    columns = [
        "occurred_at", "year", "severity", "killed", "injured", "pedestrian", "vehicle_types",
        "street_id", "street", "district", "placed_by", "source",
    ]  # fmt: skip
    return gpd.GeoDataFrame(
        {c: [r.get(c) for r in rows] for c in columns},
        geometry=shapely.points([(r["lon"], r["lat"]) for r in rows]),
        crs=4326,
    )


def write_crashes(
    conn: psycopg.Connection, frame: gpd.GeoDataFrame, source: str, *, synthetic: bool = False
) -> int:
    """Replace `source`'s crashes with `frame` (one transaction)."""
    with conn.transaction():
        conn.execute(query("crashes/forget_source"), {"source": source})
        return write_layer(
            conn,
            "crashes",
            frame.assign(source=source),
            Provenance(
                source=source,
                licence="CC0-1.0" if synthetic else "as licensed by the source",
                synthetic=synthetic,
                details={"rows": len(frame)},
            ),
            mode="append",
        )


@click.command("import-crashes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--accept-valid",
    is_flag=True,
    help="Write the placed rows and list the refused ones (default: one bad row refuses all).",
)
def import_crashes_command(path: Path, accept_valid: bool) -> None:
    """Import road crashes from a CSV (coordinates, or addresses 'street / cross street')."""
    from twin.db.pool import connect

    rows = read_crash_csv(path.read_bytes())
    with connect() as conn:
        try:
            report = import_crashes(conn, rows, path.name, accept_valid=accept_valid)
        except CrashesRefused as exc:
            _echo_refused(exc.report)
            raise
        conn.commit()
    _echo_refused(report)
    click.echo(
        f"imported {report.written:,} crashes from {path.name} ({report.by_address:,} placed "
        f"by address, {report.refused:,} refused); {report.hotspots:,} hotspots"
    )


def _echo_refused(report: CrashReport) -> None:
    if not report.refused:
        return
    click.echo(f"refused {report.refused:,} of {report.received:,} rows:", err=True)
    for reason, n in report.reasons.most_common():
        click.echo(f"  {n:>7,}  {reason}", err=True)
    for row in report.rows:
        click.echo(f"  row {row['row']}: {'; '.join(row['reasons'])}", err=True)

"""Making source features fit a catalog layer: geometry repaired or rejected, values converted
to the property types and checked against enums and required flags.

Every importer (OGR files, OpenStreetMap) goes through `conform`, so a feature is accepted
or rejected by the same rules whatever its source; each rejection carries a reason a planner
can act on, and the counts end up in the layer's provenance.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from math import isfinite
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from twin.catalog import Layer, Property
from twin.extent import current_extent

FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "area",
    "MultiPolygon": "area",
}
TRUE_WORDS = {"true", "t", "yes", "y", "1", "да", "истина", "иә", "ия", "on"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "нет", "ложь", "жоқ", "off"}
_VALIDITY_WHERE = re.compile(r"\[[^\]]*\]$")


DEMO_WORDS = "synthetic demo rows (twin load demo)"


def _removal(own: int, demo: int) -> str:
    """Rows removed, the demo's named: "3", "53 synthetic demo rows (twin load demo)"."""
    if not demo:
        return str(own)
    return f"{own} and {demo:,} {DEMO_WORDS}" if own else f"{demo:,} {DEMO_WORDS}"


@dataclass
class ImportReport:
    """What happened to the features of one layer: a planner reads it, provenance keeps it."""

    layer: str
    mode: str = "replace"
    read: int = 0
    loaded: int = 0
    repaired: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    written: bool = True
    # what the write did to the layer (see twin.importers.batches)
    removed: int = 0
    removed_demo: int = 0  # of `removed`: the demo's synthetic rows the import superseded
    skipped: int = 0
    scope: str = ""
    changes: dict[str, int] | None = None  # dry run: add/change/remove/unchanged
    rejected_file: str | None = None
    # the rejected features (row in `source_frame`, reason), for the rejected-features file
    rejected_rows: list[tuple[int, str]] = field(default_factory=list, repr=False)
    source_frame: Any = field(default=None, repr=False)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] += count

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def repaired_total(self) -> int:
        return sum(self.repaired.values())

    def headline(self) -> str:
        loaded = "loaded" if self.written else "would load"
        return (
            f"{self.layer} ({self.mode}): {self.loaded} {loaded}, {self.repaired_total} "
            f"repaired, {self.rejected_total} rejected (of {self.read} read)"
        )

    def effect(self) -> str | None:
        """What the import does to the layer's rows, in a planner's words."""
        if self.changes is not None:
            c = self.changes
            return (
                f"would add {c['add']}, change {c['change']}, "
                f"remove {_removal(c['remove'], c.get('remove_demo', 0))}, "
                f"leave {c['unchanged']} unchanged, reject {self.rejected_total}"
                + (f"; skip {self.skipped} already in the layer" if self.skipped else "")
                + (f" ({self.scope})" if self.scope else "")
            )
        if not self.written:
            return None
        own = self.removed - self.removed_demo
        parts = [f"added {self.loaded}", f"removed {_removal(own, self.removed_demo)}"]
        if self.skipped:
            parts.append(f"skipped {self.skipped} already in the layer")
        return ", ".join(parts) + (f" ({self.scope})" if self.scope else "")

    def lines(self) -> list[str]:
        lines = [self.headline()]
        effect = self.effect()
        if effect:
            lines.append(f"  {effect}")
        lines += [f"  repaired {n}: {reason}" for reason, n in self.repaired.most_common()]
        lines += [f"  rejected {n}: {reason}" for reason, n in self.rejected.most_common()]
        if self.rejected_file:
            lines.append(
                f"  rejected features written to {self.rejected_file} (GeoJSON, a reason on each)"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return lines

    def details(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "read": self.read,
            "loaded": self.loaded,
            "removed": self.removed,
            "removed_demo": self.removed_demo,
            "skipped": self.skipped,
            "repaired": dict(self.repaired),
            "rejected": dict(self.rejected),
            "notes": list(self.notes),
        }


def metric_crs(frame: gpd.GeoDataFrame) -> CRS:
    """The UTM zone of the data (EPSG:32643 for Almaty): areas and lengths are measured there."""
    lonlat = (
        frame.geometry
        if frame.crs is None or frame.crs.to_epsg() == 4326
        else frame.geometry.to_crs(4326)
    )
    minx, miny, maxx, maxy = lonlat.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return CRS.from_epsg(32643)
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    zone = int(np.clip((lon + 180) // 6 + 1, 1, 60))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def measures(frame: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """Area and length of every feature in the data's metric CRS (NaN for missing geometry)."""
    projected = frame.geometry.to_crs(metric_crs(frame)).values
    area = shapely.area(projected)
    length = shapely.length(projected)
    return {
        "area_m2": area,
        "area_ha": area * 1e-4,
        "area_km2": area * 1e-6,
        "length_m": length,
        "length_km": length * 1e-3,
    }


def _validity_reason(geometry: shapely.Geometry) -> str:
    return _VALIDITY_WHERE.sub("", shapely.is_valid_reason(geometry)).strip() or "invalid"


def _parts_of(geometry: shapely.Geometry, family: str) -> list[shapely.Geometry]:
    parts = shapely.get_parts(geometry)
    out: list[shapely.Geometry] = []
    for part in parts:
        kind = part.geom_type
        if kind == "GeometryCollection" or kind.startswith("Multi"):
            out += _parts_of(part, family)
        elif FAMILY.get(kind) == family and not part.is_empty:
            out.append(part)
    return out


def _assemble(parts: list[shapely.Geometry], layer: Layer) -> shapely.Geometry | None:
    """Parts of the right family as the layer's type; None when a single type gets many parts."""
    family = FAMILY[layer.geometry]
    if layer.geometry.startswith("Multi"):
        if family == "area":
            return shapely.multipolygons(parts)
        if family == "line":
            return shapely.multilinestrings(parts)
        return shapely.multipoints(parts)
    return parts[0] if len(parts) == 1 else None


def _wrong_family(kind: str, layer: Layer) -> str:
    family = FAMILY[layer.geometry]
    if family == "area" and FAMILY.get(kind) == "point":
        return "point-only: no area"
    if family == "area" and FAMILY.get(kind) == "line":
        return "line-only: no area"
    return f"{kind} in a {layer.geometry} layer"


def conform_geometry(
    layer: Layer, geometries: np.ndarray, report: ImportReport, points_from_areas: bool = False
) -> tuple[np.ndarray, list[str | None]]:
    """Each geometry as the layer's type, repaired where possible; a reason where rejected."""
    n = len(geometries)
    geometries = shapely.force_2d(np.asarray(geometries, dtype=object))
    reasons: list[str | None] = [None] * n
    out = np.empty(n, dtype=object)
    family = FAMILY[layer.geometry]
    kinds = shapely.get_type_id(geometries)
    simple_ids = {"point": (0, 4), "line": (1, 5), "area": (3, 6)}[family]
    single = not layer.geometry.startswith("Multi")
    finite = _finite(geometries)
    easy = np.isin(kinds, simple_ids) & ~shapely.is_empty(geometries) & finite
    easy &= shapely.is_valid(geometries) if family != "point" else True
    for i in range(n):
        geometry = geometries[i]
        if easy[i]:
            if single and kinds[i] in (4, 5, 6):
                if shapely.get_num_geometries(geometry) != 1:
                    reasons[i] = f"multi-part {geometry.geom_type} in a {layer.geometry} layer"
                    continue
                geometry = shapely.get_geometry(geometry, 0)
            out[i] = geometry
            continue
        if geometry is None:
            reasons[i] = "no geometry"
            continue
        if geometry.is_empty:
            reasons[i] = "empty geometry"
            continue
        if not finite[i]:
            reasons[i] = f"coordinates that do not reproject to EPSG:{layer.srid}"
            continue
        kind = geometry.geom_type
        if points_from_areas and family == "point" and FAMILY.get(kind) in ("area", "line"):
            valid = geometry if geometry.is_valid else shapely.make_valid(geometry)
            out[i] = shapely.point_on_surface(valid)
            continue
        repaired_reason = None
        if not geometry.is_valid:
            repaired_reason = _validity_reason(geometry)
            geometry = shapely.make_valid(geometry)
        parts = _parts_of(geometry, family)
        if not parts:
            if repaired_reason:
                reasons[i] = f"invalid geometry ({repaired_reason}): nothing left after repair"
            else:
                reasons[i] = _wrong_family(kind, layer)
            continue
        assembled = _assemble(parts, layer)
        if assembled is None:
            reasons[i] = f"multi-part {kind} in a {layer.geometry} layer"
            continue
        if repaired_reason:
            report.repaired[repaired_reason] += 1
        elif kind == "GeometryCollection":
            report.repaired[
                "GeometryCollection reduced to its "
                f"{'polygons' if family == 'area' else family + 's'}"
            ] += 1
        out[i] = assembled
    return out, reasons


def _finite(geometries: np.ndarray) -> np.ndarray:
    coordinates, index = shapely.get_coordinates(geometries, return_index=True)
    bad = ~np.isfinite(coordinates).all(axis=1)
    finite = np.ones(len(geometries), dtype=bool)
    finite[np.unique(index[bad])] = False
    return finite


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def convert_value(value: Any, prop: Property) -> Any:
    """One value as the property's type; ValueError with a readable message when impossible."""
    value = _plain(value)
    kind = prop.type
    if kind == "string":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        return str(value).strip()
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError("a boolean is not an integer")
        if isinstance(value, (date, datetime, pd.Timestamp)):
            return value.year
        if isinstance(value, int):
            return value
        number = (
            float(str(value).strip().replace(",", ".").replace(" ", ""))
            if not isinstance(value, float)
            else value
        )
        if not np.isfinite(number) or not float(number).is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        number = (
            float(value)
            if isinstance(value, (int, float))
            else float(str(value).strip().replace(",", ".").replace(" ", ""))
        )
        if not np.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{value!r} is not yes/no")
    if kind == "date":
        if isinstance(value, pd.Timestamp):
            return value.date()
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value).strip()[:10])
    if kind == "datetime":
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(str(value).strip())
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"unknown type {kind}")


def _enum_lookup(prop: Property) -> dict[str, Any]:
    return {str(v).casefold(): v for v in prop.enum or ()}


def conform_values(prop: Property, values: list[Any], reasons: list[str | None]) -> list[Any]:
    """Values converted to the property's type; a reason set on rows that cannot be."""
    enum = _enum_lookup(prop)
    out: list[Any] = [None] * len(values)
    # values already of the property's Python type (most of them) skip the general path
    ready = {"string": str, "integer": int, "number": float, "boolean": bool}.get(prop.type)
    for i, value in enumerate(values):
        if reasons[i] is not None:
            continue
        if (
            not enum
            and type(value) is ready
            and (ready is not float or isfinite(value))
            and (ready is not str or (value and not value[0].isspace() and not value[-1].isspace()))
        ):
            out[i] = value
            continue
        if _is_missing(value):
            if prop.default is not None:
                out[i] = prop.default
            elif prop.required:
                reasons[i] = f"{prop.name}: required value missing"
            continue
        try:
            converted = convert_value(value, prop)
        except (ValueError, TypeError, OverflowError):
            reasons[i] = f"{prop.name}: cannot read {_short(value)} as {prop.type}"
            continue
        if enum:
            key = str(converted).casefold()
            if key not in enum:
                reasons[i] = (
                    f"{prop.name}: {_short(value)} is not one of {', '.join(map(str, prop.enum))}"
                )
                continue
            converted = enum[key]
        out[i] = converted
    return out


def _short(value: Any) -> str:
    text = repr(_plain(value))
    return text if len(text) <= 60 else text[:57] + "..."


def conform(
    layer: Layer,
    frame: gpd.GeoDataFrame,
    values: dict[str, list[Any]],
    report: ImportReport,
    reasons: list[str | None] | None = None,
    points_from_areas: bool = False,
) -> gpd.GeoDataFrame:
    """The rows of `frame` that fit `layer`, with `values` (property -> raw values) converted.

    `frame` must already be in the layer's CRS. Rejections are counted in `report`.
    """
    n = len(frame)
    reasons = list(reasons) if reasons is not None else [None] * n
    geometries, geometry_reasons = conform_geometry(
        layer, frame.geometry.values, report, points_from_areas
    )
    reasons = [r or g for r, g in zip(reasons, geometry_reasons)]
    columns: dict[str, list[Any]] = {}
    for name, prop in layer.properties.items():
        if name in values:
            columns[name] = conform_values(prop, values[name], reasons)
        elif prop.default is not None:
            columns[name] = [prop.default] * n
    for name, prop in layer.properties.items():
        if prop.unique and name in columns:
            seen: set[Any] = set()
            for i, value in enumerate(columns[name]):
                if reasons[i] is None and value is not None:
                    if value in seen:
                        reasons[i] = f"{name}: duplicate value {_short(value)}"
                    seen.add(value)
    keep = np.array([r is None for r in reasons], dtype=bool)
    for i, reason in enumerate(reasons):
        if reason is not None:
            report.reject(reason)
            report.rejected_rows.append((i, reason))
    data = {
        name: pd.Series([v for v, k in zip(col, keep) if k], dtype=object)
        for name, col in columns.items()
    }
    result = gpd.GeoDataFrame(
        data, geometry=gpd.GeoSeries(geometries[keep], crs=frame.crs), crs=frame.crs
    )
    result.index = pd.RangeIndex(len(result))
    _note_extent(result, report)
    return result


def _note_extent(frame: gpd.GeoDataFrame, report: ImportReport) -> None:
    if frame.empty or frame.crs is None:
        return
    lonlat = frame.geometry if frame.crs.to_epsg() == 4326 else frame.geometry.to_crs(4326)
    minx, miny, maxx, maxy = current_extent()  # the loaded districts' (twin.extent)
    pad = 0.15
    bounds = lonlat.bounds
    outside = int(
        (
            (bounds.maxx < minx - pad)
            | (bounds.minx > maxx + pad)
            | (bounds.maxy < miny - pad)
            | (bounds.miny > maxy + pad)
        ).sum()
    )
    if outside:
        report.notes.append(
            f"{outside} feature(s) lie outside Almaty's extent ({minx}-{maxx} E, {miny}-{maxy} N)"
        )

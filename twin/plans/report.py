"""The plan report a planner hands over: PDF, HTML, CSV or GeoPackage, in Russian, Kazakh or
English.

One Jinja2 template (twin/templates/plans/report.html) renders both the HTML page and, through
WeasyPrint, the PDF: the plan's title, author, dates and base version, its edits listed and
mapped, the indicator tables of the city, each district and each polycentre (today, the plan,
the difference and the programme's target from layers/_targets.yml), the residents who gain
and lose each category, school and kindergarten places against the children, the new housing's
facts and the changed H3 cells. Its two maps are pictures of the city in the published style
drawn by the server's map renderer (MapLibre Native, twin.maps.picture: offline, no browser),
with the plan's edits and changed cells drawn over it and the labels, a scale bar and a north
arrow in SVG on top; where the renderer is off or fails (TWIN_MAP_WORKERS=0, no EGL), the maps
are SVG sketches drawn here (district outlines, polycentres, edits, cells) and the report says
why under each map.

CSV: one row per (area, indicator) with the raw figures of the evaluation (UTF-8 with a BOM so
Excel reads the Cyrillic right); facts with no "today" (residents gaining, the deficit closed)
carry their value in the `plan` column. GeoPackage: layers `edits`, `changed_cells` (H3
polygons) and `indicators` (the CSV's rows, no geometry).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import h3
import jinja2
import psycopg
import yaml
from markupsafe import Markup, escape

from twin.analysis.city import CATEGORIES
from twin.catalog import programme
from twin.errors import InvalidParameter
from twin.sqlfiles import query

log = logging.getLogger(__name__)

STRINGS_FILE = Path(__file__).with_name("report_strings.yml")
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "plans"
LANGUAGES = ("ru", "kk", "en")
DEFAULT_LANGUAGE = "ru"  # the akimat's working language
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}
FORMATS = tuple(MEDIA_TYPES)

# The indicators of a ROW in the tables' order, with how each is shown: share (a percentage,
# its difference in percentage points), people/count (whole numbers) or a number of decimals.
INDICATORS: tuple[tuple[str, str], ...] = (
    ("residents", "people"),
    ("share_all_six", "share"),
    # KPI 4 on foot or by public transport, beside the walking-only share (`walk_pt`)
    ("share_all_six_walk_pt", "share"),
    ("rapid_transit_gap_share", "share"),
    ("rapid_transit_gap_residents", "people"),
    # residents beyond 10 minutes' drive of a fire station (`fire`: a plan that moves it)
    ("fire_beyond_10_residents", "people"),
    *((f"share_{c}", "share") for c in CATEGORIES),
    ("mean_categories", "2"),
    ("walkability", "1"),
    ("share_park_300", "share"),
    ("share_park_500", "share"),
    ("no_park_share", "share"),
    ("public_green_m2", "0"),
    ("green_m2_per_resident", "1"),
    ("density_pph", "1"),
    ("mean_block_ha", "2"),
    ("street_density_km_km2", "1"),
    ("lit_share", "share"),
    ("fault_plots", "count"),
    ("fault_residents", "people"),
    ("children_school", "people"),
    ("school_places", "count"),
    ("school_deficit", "count"),
    ("children_preschool", "people"),
    ("kindergarten_places", "count"),
    ("kindergarten_deficit", "count"),
)
UNITS = dict(INDICATORS)
# the targets a ROW repeats (green_summary): shown in the target column, not as rows
TARGET_KEYS = {"green_norm_m2", "green_target_2025_m2", "green_target_2030_m2"}
# lower is better: a target is a ceiling
CEILINGS = {
    "no_park_share",
    "rapid_transit_gap_share",
    "rapid_transit_gap_residents",
    "mean_block_ha",
    "fault_plots",
    "fault_residents",
    "school_deficit",
    "kindergarten_deficit",
}
# the ROW's key → the indicator of layers/_targets.yml it is read against
PROGRAMME_NAMES = {"fault_plots": "plots_in_setback"}
# The polycentres' urban-form standards (S2 l.842-847: blocks ≤ 5 ha giving 10-15 km of street
# per km²), used when layers/_targets.yml does not (yet) carry them; a polycentre's own
# max_block_ha (polycentres layer) comes first.
POLYCENTRE_STANDARDS = {"mean_block_ha": (None, 5.0), "street_density_km_km2": (10.0, 15.0)}

EDIT_COLOURS = {
    "amenity.add": "#1b9e77",
    "amenity.remove": "#d7301f",
    "amenity.move": "#7570b3",
    "park.add": "#4daf4a",
    "park.remove": "#a6761d",
    "housing.add": "#e7298a",
    "housing.remove": "#525252",
    "street.link": "#1f78b4",
    "street.close": "#e31a1c",
    "street.light": "#f0a500",
    "building.add": "#6a3d9a",
    "transit.route.add": "#ff7f00",
    "transit.stop.add": "#252525",
    "fire_station.add": "#b71c1c",
}
# the figures of an evaluation's `walk_pt` rows a report shows beside the walking-only ones
WALK_PT_KEYS = ("share_all_six_walk_pt", "rapid_transit_gap_share", "rapid_transit_gap_residents")
# ... and of its `fire` rows (a plan with a new fire station or new residents)
FIRE_KEYS = ("fire_beyond_10_residents",)
# change in categories within 15 minutes, −3 … +3 (clamped), diverging red → grey → blue
CELL_COLOURS = {
    -3: "#b2182b",
    -2: "#ef8a62",
    -1: "#fddbc7",
    0: "#e0e0e0",
    1: "#d1e5f0",
    2: "#67a9cf",
    3: "#2166ac",
}
# an edit's figures shown number first, as "40 000 жителей", "54,07 га"
UNIT_FIGURES = {"area_ha", "length_m", "density_pph", "residents", "dwellings", "levels"}
MAP_WIDTH = 680.0  # SVG user units (≈ the A4 text width at 96 dpi)
MAP_HEIGHT = 440.0
MAX_CELLS_MAPPED = 20_000
TOP_CELLS = 25


# -- words and numbers -----------------------------------------------------------------------


@cache
def strings(lang: str) -> dict[str, Any]:
    """The report's words in `lang` (twin/plans/report_strings.yml)."""
    doc = yaml.safe_load(STRINGS_FILE.read_text(encoding="utf-8"))
    return doc[lang]


def language(lang: str | None) -> str:
    """`lang` checked (ru when absent): a report in a language it has no words for is a 400."""
    if lang in (None, ""):
        return DEFAULT_LANGUAGE
    if lang not in LANGUAGES:
        raise InvalidParameter(f"lang must be one of {', '.join(LANGUAGES)} (got {lang!r})")
    return lang


def format_number(value: float | int | None, lang: str, decimals: int = 0) -> str:
    """A number as the language writes it: ru and kk 12 345,6 (no-break space, decimal comma);
    en 12,345.6; a missing figure is a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:,.{decimals}f}"
    if text.startswith("-"):
        text = "\u2212" + text[1:]
    if lang == "en":
        return text
    return text.replace(",", "\u00a0").replace(".", ",")


def format_value(key: str, value: Any, lang: str) -> str:
    """One figure of indicator `key` as the tables show it (a share as a percentage)."""
    unit = UNITS.get(key, "2")
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if unit == "share":
        number = format_number(value * 100, lang, 1)
        return f"{number}%" if lang == "en" else f"{number}\u00a0%"
    if unit in ("people", "count"):
        return format_number(round(value), lang)
    return format_number(value, lang, int(unit))


def format_difference(key: str, base: Any, plan: Any, lang: str) -> str:
    """Plan minus today, signed; shares in percentage points."""
    if not _is_number(base) or not _is_number(plan):
        return "—"
    unit = UNITS.get(key, "2")
    delta = plan - base
    if unit == "share":
        delta *= 100
        decimals = 1
    elif unit in ("people", "count"):
        delta = round(delta)
        decimals = 0
    else:
        decimals = int(unit)
    if round(delta, decimals) == 0:
        return "0"
    text = format_number(abs(delta), lang, decimals)
    text = ("+" if delta > 0 else "\u2212") + text
    if unit == "share":
        text += f"\u00a0{strings(lang)['unit_pp']}"
    return text


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def _difference(base: Any, plan: Any) -> float | int | None:
    if not _is_number(base) or not _is_number(plan):
        return None
    delta = plan - base
    return delta if isinstance(delta, int) else round(delta, 10)


def _date(value: Any, lang: str) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if lang == "en":
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%d.%m.%Y %H:%M")


# -- the programme's targets -------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A figure an indicator is read against: a floor (≥), a ceiling (≤) or a range."""

    low: float | None
    high: float | None
    year: int | None = None
    norm: bool = False

    def text(self, key: str, lang: str) -> str:
        def show(v: float) -> str:
            return format_value(key, v, lang)

        if self.low is not None and self.high is not None:
            body = f"{show(self.low)}–{show(self.high)}"
        elif self.high is not None:
            body = f"≤\u00a0{show(self.high)}"
        else:
            body = f"≥\u00a0{show(self.low)}"
        if self.year is not None and not self.norm:
            body += f" ({self.year})"
        elif self.norm:
            body += f" ({strings(lang)['norm']})"
        return body

    def plain(self) -> str:
        """For the CSV: ">=10 (norm)", "<=5", "10-15", ">=1.0 (2030)"."""
        if self.low is not None and self.high is not None:
            body = f"{self.low:g}-{self.high:g}"
        elif self.high is not None:
            body = f"<={self.high:g}"
        else:
            body = f">={self.low:g}"
        if self.norm:
            body += " (norm)"
        elif self.year is not None:
            body += f" ({self.year})"
        return body


def targets(key: str, area_type: str, area: dict[str, Any] | None = None) -> list[Target]:
    """The programme's targets and norms of indicator `key` for an area (`area`: the area's
    own properties, e.g. a polycentre's target_density_pph and max_block_ha)."""
    area = area or {}
    spec = programme().indicators.get(PROGRAMME_NAMES.get(key, key))
    found: list[Target] = []
    ceiling = key in CEILINGS
    if spec is not None:
        for figure in spec.figures.values():
            if figure.kind not in ("target", "norm"):
                continue
            value = figure.value
            if figure.per_area:
                value = area.get(figure.per_area)
            if not _is_number(value):
                continue
            value = float(value)
            found.append(
                Target(
                    low=None if ceiling else value,
                    high=value if ceiling else None,
                    year=figure.year,
                    norm=figure.kind == "norm",
                )
            )
    if not found and area_type == "polycentre" and key in POLYCENTRE_STANDARDS:
        low, high = POLYCENTRE_STANDARDS[key]
        if key == "mean_block_ha" and _is_number(area.get("max_block_ha")):
            high = float(area["max_block_ha"])
        found.append(Target(low=low, high=high, norm=True))
    return found


# -- the rows every format shares ------------------------------------------------------------


@dataclass
class Area:
    """One area of the evaluation: its type, its key (the engine's name) and its title."""

    type: str  # city | district | polycentre
    key: str
    title: str
    base: dict[str, Any]
    plan: dict[str, Any]
    info: dict[str, Any]


def _with_walk_pt(evaluation: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The evaluation's `base` and `indicators` rows with KPI 4 by walk + PT (`walk_pt`: its
    `base` and `plan` rows) and the fire-station reach (`fire`) merged in, so every table and
    the CSV read them beside the walking-only figures; the rows as they are without them."""
    indicators, base = evaluation.get("indicators") or {}, evaluation.get("base") or {}
    for block, keys in (("walk_pt", WALK_PT_KEYS), ("fire", FIRE_KEYS)):
        extra = evaluation.get(block) or {}
        if extra.get("plan"):
            indicators = _merged(indicators, extra["plan"], keys)
            base = _merged(base, extra.get("base") or {}, keys)
    return indicators, base


def _merged(rows: dict[str, Any], extra: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    def one(row: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any]:
        return {**(row or {}), **{k: (more or {}).get(k) for k in keys}}

    return {
        "city": one(rows.get("city"), extra.get("city")),
        **{
            scope: {
                name: one(row, (extra.get(scope) or {}).get(name))
                for name, row in (rows.get(scope) or {}).items()
            }
            for scope in ("districts", "polycentres")
        },
    }


def _areas(evaluation: dict[str, Any], places: Places, lang: str) -> list[Area]:
    words = strings(lang)
    indicators, base = _with_walk_pt(evaluation)
    areas = [
        Area("city", "Almaty", words["city_table"], base.get("city") or {},
             indicators.get("city") or {}, {})
    ]  # fmt: skip
    for name in indicators.get("districts") or {}:
        areas.append(
            Area(
                "district",
                name,
                places.district_title(name, lang),
                (base.get("districts") or {}).get(name) or {},
                indicators["districts"][name] or {},
                {},
            )
        )
    for name in indicators.get("polycentres") or {}:
        areas.append(
            Area(
                "polycentre",
                name,
                places.polycentre_title(name, lang),
                (base.get("polycentres") or {}).get(name) or {},
                indicators["polycentres"][name] or {},
                places.polycentres.get(name, {}),
            )
        )
    return areas


def _indicator_keys(base: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    """The ROW's keys in the tables' order; keys the report does not know come last."""
    present = [k for k in {**base, **plan} if k not in TARGET_KEYS]
    known = [k for k, _ in INDICATORS if k in present]
    extra = [
        k
        for k in present
        if k not in UNITS
        and (_is_number(base.get(k)) or _is_number(plan.get(k)))
        and not k.endswith("_target")
    ]
    return known + extra


def indicator_rows(plan: dict[str, Any], places: Places | None = None, lang: str = "en"):
    """[{area_type, area, indicator, base, plan, difference, target, label}] of the plan's
    evaluation: the CSV's rows and the GeoPackage's `indicators` layer."""
    places = places or Places()
    evaluation = plan.get("evaluation") or {}
    words = strings(lang)
    rows: list[dict[str, Any]] = []
    for area in _areas(evaluation, places, lang):
        for key in _indicator_keys(area.base, area.plan):
            b, p = area.base.get(key), area.plan.get(key)
            rows.append(
                {
                    "area_type": area.type,
                    "area": area.key,
                    "indicator": key,
                    "base": b,
                    "plan": p,
                    "difference": _difference(b, p),
                    "target": "; ".join(t.plain() for t in targets(key, area.type, area.info)),
                    "label": words["indicator_labels"].get(key, key),
                }
            )
    gains = evaluation.get("gains") or {}
    scopes = [("city", "Almaty", gains.get("city") or {})] + [
        ("district", name, row or {}) for name, row in (gains.get("districts") or {}).items()
    ]
    for area_type, name, row in scopes:
        for category in (*CATEGORIES, "categories_15", "all_six"):
            figures = row.get(category) or {}
            for side in ("gain", "lose"):
                if side in figures:
                    label = f"{words[side]}: {words['categories'].get(category, category)}"
                    rows.append(
                        {
                            "area_type": area_type,
                            "area": name,
                            "indicator": f"residents_{side}_{category}",
                            "base": None,
                            "plan": figures[side],
                            "difference": None,
                            "target": "",
                            "label": label,
                        }
                    )
    for facility in ("schools", "kindergartens"):
        closed = (evaluation.get(facility) or {}).get("deficit_closed")
        if closed is not None:
            rows.append(
                {
                    "area_type": "city",
                    "area": "Almaty",
                    "indicator": f"{facility}_deficit_closed",
                    "base": None,
                    "plan": closed,
                    "difference": None,
                    "target": "",
                    "label": f"{words[facility[:-1] + 's_row']}: {words['deficit_closed']}",
                }
            )
    return rows


# -- what the database adds: outlines, names, removed places -----------------------------------


@dataclass
class Places:
    """The districts' and polycentres' outlines and names, and where removed things stand."""

    districts: dict[str, dict[str, Any]] | None = None
    polycentres: dict[str, dict[str, Any]] | None = None
    removed: dict[tuple[str, Any], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.districts = self.districts or {}
        self.polycentres = self.polycentres or {}
        self.removed = self.removed or {}

    def district_title(self, name: str, lang: str) -> str:
        row = self.districts.get(name) or {}
        return row.get(f"name_{lang}") or name

    def polycentre_title(self, name: str, lang: str) -> str:
        return strings(lang)["polycentres"].get(name) or name


def read_places(conn: psycopg.Connection, edits: list[dict[str, Any]]) -> Places:
    """Outlines (simplified to ~20 m) and names from PostGIS; the places the plan removes."""
    districts = {
        name: {"name_en": name, "name_ru": ru, "name_kk": kk, "outline": json.loads(outline)}
        for name, ru, kk, outline in conn.execute(
            query("plans/report_districts"), {"tolerance": 0.0002}
        ).fetchall()
        if outline
    }
    polycentres = {
        name: {
            "name_ru": ru,
            "target_density_pph": density,
            "max_block_ha": block,
            "outline": json.loads(outline) if outline else None,
        }
        for name, ru, density, block, outline in conn.execute(
            query("plans/report_polycentres"), {"tolerance": 0.0002}
        ).fetchall()
    }
    amenity_ids = sorted(
        {
            int(e["properties"]["amenity"])
            for e in edits
            if e["properties"].get("edit") in ("amenity.remove", "amenity.move")
            and _is_id(e["properties"].get("amenity"))
        }
    )
    park_ids = sorted(
        {
            int(e["properties"]["park"])
            for e in edits
            if e["properties"].get("edit") == "park.remove" and _is_id(e["properties"].get("park"))
        }
    )
    removed = {}
    if amenity_ids or park_ids:
        for layer, ident, name, shape in conn.execute(
            query("plans/report_removed"), {"amenities": amenity_ids, "parks": park_ids}
        ).fetchall():
            removed[(layer, int(ident))] = {"name": name, "geometry": json.loads(shape)}
    return Places(districts, polycentres, removed)


def _is_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit()


# -- the edits ------------------------------------------------------------------------------


def edit_features(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's edits as features, each with its id ("e<n>" when it has none, as the
    engine assigns them)."""
    collection = plan.get("edits") or {}
    features = collection.get("features") if isinstance(collection, dict) else collection
    result = []
    for i, feature in enumerate(features or []):
        if not isinstance(feature, dict):
            continue
        ident = feature.get("id")
        result.append(
            {
                "type": "Feature",
                "id": str(ident) if ident not in (None, "") else f"e{i + 1}",
                "geometry": feature.get("geometry"),
                "properties": dict(feature.get("properties") or {}),
            }
        )
    return result


def _geodesic_length_m(geometry: dict[str, Any]) -> float:
    coords = geometry.get("coordinates") or []
    lines = coords if geometry.get("type") == "MultiLineString" else [coords]
    total = 0.0
    for line in lines:
        for (x0, y0, *_), (x1, y1, *_) in pairwise(line):
            total += h3.great_circle_distance((y0, x0), (y1, x1), unit="m")
    return total


def _area_ha(geometry: dict[str, Any]) -> float:
    from pyproj import Geod
    from shapely.geometry import shape

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(shape(geometry))
    return abs(area) / 10_000


def _edit_row(feature: dict[str, Any], places: Places, lang: str) -> dict[str, Any]:
    words = strings(lang)
    props, geometry = feature["properties"], feature.get("geometry")
    kind = props.get("edit", "?")
    figures_words = words["figures"]
    figures: list[str] = []

    def add(name: str, value: Any, decimals: int = 0) -> None:
        if value is None or value == "":
            return
        shown = format_number(value, lang, decimals) if _is_number(value) else str(value)
        if name in UNIT_FIGURES:  # a unit follows its number: "54,07 га", "1 711 м"
            figures.append(f"{shown}\u00a0{figures_words[name]}")
        else:
            figures.append(f"{figures_words[name]} {shown}")

    if kind == "amenity.add":
        category = props.get("category")
        add("category", words["categories"].get(category, category))
        add("kind", props.get("kind"))
        add("capacity", props.get("capacity"))
    elif kind in ("amenity.remove", "amenity.move"):
        add("amenity", props.get("amenity"))
    elif kind == "park.remove":
        add("park", props.get("park"))
    elif kind == "housing.add":
        add("residents", props.get("residents"))
        add("dwellings", props.get("dwellings"))
        add("density_pph", props.get("density_pph"), 1)
    elif kind == "building.add":
        add("levels", props.get("levels"))
        add("use", props.get("use"))
    elif kind == "park.add":
        add("kind", props.get("kind"))
    elif kind == "transit.route.add":
        add("mode", props.get("mode"))
        peak, off_peak = props.get("headway_peak_min"), props.get("headway_offpeak_min")
        if _is_number(peak) and _is_number(off_peak):
            shown = [
                format_number(v, lang, 0 if float(v).is_integer() else 1) for v in (peak, off_peak)
            ]
            add("headway", " / ".join(shown))
        add("stops", props.get("stops"))
    elif kind == "transit.stop.add":
        add("route", props.get("route"))
    if kind == "street.link" and "lit" in props:
        add("lit", words["yes"] if props.get("lit") else words["no"])
    if isinstance(geometry, dict):
        if geometry.get("type") in ("Polygon", "MultiPolygon"):
            add("area_ha", _area_ha(geometry), 2)
        elif geometry.get("type") in ("LineString", "MultiLineString"):
            add("length_m", _geodesic_length_m(geometry))
    name = props.get("name")
    if not name:
        removed = _removed_place(feature, places)
        name = (removed or {}).get("name")
    return {
        "id": feature["id"],
        "kind": kind,
        "kind_title": words["edit_kinds"].get(kind, kind),
        "colour": EDIT_COLOURS.get(kind, "#333333"),
        "name": name or "",
        "figures": "; ".join(figures),
    }


def _removed_place(feature: dict[str, Any], places: Places) -> dict[str, Any] | None:
    props = feature["properties"]
    kind = props.get("edit")
    if kind in ("amenity.remove", "amenity.move") and _is_id(props.get("amenity")):
        return places.removed.get(("amenity", int(props["amenity"])))
    if kind == "park.remove" and _is_id(props.get("park")):
        return places.removed.get(("park", int(props["park"])))
    return None


def mapped_geometry(feature: dict[str, Any], places: Places) -> dict[str, Any] | None:
    """Where an edit is drawn: its own geometry, or (a removal with none) where the removed
    amenity or park stands today."""
    geometry = feature.get("geometry")
    if (
        isinstance(geometry, dict)
        and geometry.get("coordinates") is not None
        and feature["properties"].get("edit") != "amenity.remove"
    ):
        return geometry
    removed = _removed_place(feature, places)
    if removed is not None:
        return removed["geometry"]
    return geometry if isinstance(geometry, dict) else None


# -- maps as SVG ------------------------------------------------------------------------------


def _points(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            found.append((float(c[0]), float(c[1])))
        elif isinstance(c, (list, tuple)):
            for part in c:
                walk(part)

    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            found.extend(_points(part))
    else:
        walk(geometry.get("coordinates"))
    return found


class Projection:
    """Longitude/latitude to SVG units: equirectangular at the extent's mid-latitude (at a
    city's size the error is far below a line's width), north up, aspect kept."""

    def __init__(self, bounds: tuple[float, float, float, float], width: float, height: float):
        minx, miny, maxx, maxy = bounds
        self.k = math.cos(math.radians((miny + maxy) / 2))
        span_x = max((maxx - minx) * self.k, 1e-9)
        span_y = max(maxy - miny, 1e-9)
        self.scale = min(width / span_x, height / span_y)
        self.width, self.height = width, height
        self.x0 = minx - (width / self.scale - span_x) / 2 / self.k
        self.y1 = maxy + (height / self.scale - span_y) / 2

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.x0) * self.k * self.scale, (self.y1 - lat) * self.scale)

    def path(self, rings: list[list[Any]]) -> str:
        parts = []
        for ring in rings:
            if len(ring) < 2:
                continue
            xy = [self.xy(p[0], p[1]) for p in ring]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + " Z")
        return " ".join(parts)

    def line(self, coords: list[Any]) -> str:
        return " ".join("{:.1f},{:.1f}".format(*self.xy(p[0], p[1])) for p in coords)


def _extent(geometries: list[dict[str, Any]], fallback: list[dict[str, Any]], min_km: float = 3):
    points = [p for g in geometries if g for p in _points(g)]
    if not points:
        points = [p for g in fallback if g for p in _points(g)]
    if not points:
        return (76.75, 43.15, 77.10, 43.40)  # Almaty
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    half_lat = min_km / 2 / 111.32
    half_lon = half_lat / math.cos(math.radians((miny + maxy) / 2))
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    pad_x, pad_y = (maxx - minx) * 0.08, (maxy - miny) * 0.08
    return (
        min(minx - pad_x, cx - half_lon),
        min(miny - pad_y, cy - half_lat),
        max(maxx + pad_x, cx + half_lon),
        max(maxy + pad_y, cy + half_lat),
    )


def _polygon_rings(geometry: dict[str, Any]) -> list[list[Any]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _background(proj: Projection, places: Places, lang: str) -> list[str]:
    parts = []
    for name, row in places.districts.items():
        d = proj.path(_polygon_rings(row["outline"]))
        parts.append(
            f'<path d="{d}" fill="#fafafa" stroke="#8a8a9a" stroke-width="0.8" '
            f'fill-rule="evenodd"><title>{escape(places.district_title(name, lang))}</title>'
            "</path>"
        )
    for row in places.polycentres.values():
        if row.get("outline"):
            d = proj.path(_polygon_rings(row["outline"]))
            parts.append(
                f'<path d="{d}" fill="none" stroke="#e17055" stroke-width="0.9" '
                'stroke-dasharray="4 3" fill-rule="evenodd"/>'
            )
    return parts


def _district_labels(proj: Projection, places: Places, lang: str) -> list[str]:
    labels = []
    for name, row in places.districts.items():
        points = _points(row["outline"])
        if not points:
            continue
        x, y = proj.xy(
            sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
        )
        if 10 < x < proj.width - 10 and 10 < y < proj.height - 10:
            labels.append(
                f'<text x="{x:.1f}" y="{y:.1f}" class="district-label" fill="#4a4a6a" '
                'font-family="DejaVu Sans" font-size="9" text-anchor="middle">'
                f"{escape(places.district_title(name, lang))}</text>"
            )
    return labels


def _svg(body: list[str], width: float, height: float, label: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        'class="map">'
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
        + "".join(body)
        + f'<rect x="0.5" y="0.5" width="{width - 1:.0f}" height="{height - 1:.0f}" '
        'fill="none" stroke="#555"/></svg>'
    )


def scale_bar(metres_per_unit: float, height: float, lang: str) -> list[str]:
    """A scale bar at the map's bottom left: a round length (1, 2 or 5 x 10^n metres) near a
    fifth of the map's width."""
    words = strings(lang)
    wanted = MAP_WIDTH / 5 * metres_per_unit
    step = 10 ** math.floor(math.log10(wanted))
    metres = max(m for m in (step, 2 * step, 5 * step) if m <= wanted)
    length = metres / metres_per_unit
    text = (
        f"{format_number(metres / 1000, lang, 1 if metres % 1000 else 0)} {words['kilometres']}"
        if metres >= 1000
        else f"{format_number(metres, lang)} {words['metres']}"
    )
    x, y = 12.0, height - 12.0
    return [
        f'<rect x="{x - 5:.1f}" y="{y - 17:.1f}" width="{length + 10:.1f}" height="23" '
        'fill="#ffffff" fill-opacity="0.8"/>',
        f'<path d="M{x:.1f},{y - 4:.1f} V{y:.1f} H{x + length:.1f} V{y - 4:.1f}" '
        'fill="none" stroke="#222222" stroke-width="1.4" class="scale-bar"/>',
        f'<text x="{x + length / 2:.1f}" y="{y - 6:.1f}" font-family="DejaVu Sans" '
        f'font-size="8.5" text-anchor="middle" fill="#222222">{escape(text)}</text>',
    ]


def north_arrow(width: float, lang: str) -> list[str]:
    """A north arrow at the map's top right (every map here is drawn north up)."""
    x, y = width - 20.0, 14.0
    return [
        f'<path d="M{x:.1f},{y:.1f} L{x + 6:.1f},{y + 18:.1f} L{x:.1f},{y + 14:.1f} '
        f'L{x - 6:.1f},{y + 18:.1f} Z" fill="#222222" stroke="#ffffff" stroke-width="0.8" '
        'class="north-arrow"/>',
        f'<text x="{x:.1f}" y="{y + 29:.1f}" font-family="DejaVu Sans" font-size="9" '
        f'font-weight="bold" text-anchor="middle" fill="#222222">'
        f"{escape(strings(lang)['north'])}</text>",
    ]


def _sketch_marks(proj: Projection, lang: str) -> list[str]:
    metres_per_unit = 111_320 / proj.scale  # the projection's units per degree of latitude
    return scale_bar(metres_per_unit, proj.height, lang) + north_arrow(proj.width, lang)


def _edit_shapes(proj: Projection, features: list[dict[str, Any]], places: Places) -> list[str]:
    polygons, lines, points = [], [], []
    for feature in features:
        geometry = mapped_geometry(feature, places)
        if not geometry:
            continue
        kind = feature["properties"].get("edit", "")
        colour = EDIT_COLOURS.get(kind, "#333333")
        ident = escape(feature["id"])
        gtype = geometry.get("type")
        dashed = ' stroke-dasharray="3 2"' if kind.endswith(".remove") else ""
        if gtype in ("Polygon", "MultiPolygon"):
            d = proj.path(_polygon_rings(geometry))
            polygons.append(
                f'<path d="{d}" fill="{colour}" fill-opacity="0.35" stroke="{colour}" '
                f'stroke-width="1.4" fill-rule="evenodd"{dashed}><title>{ident}</title></path>'
            )
        elif gtype in ("LineString", "MultiLineString"):
            parts = geometry["coordinates"] if gtype == "MultiLineString" else [
                geometry["coordinates"]
            ]  # fmt: skip
            for coords in parts:
                lines.append(
                    f'<polyline points="{proj.line(coords)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.6" stroke-linecap="round"{dashed}>'
                    f"<title>{ident}</title></polyline>"
                )
        else:
            for lon, lat in _points(geometry):
                x, y = proj.xy(lon, lat)
                points.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.2" fill="{colour}" '
                    f'stroke="#ffffff" stroke-width="1"><title>{ident}</title></circle>'
                )
        anchor = _points(geometry)
        if anchor:
            x, y = proj.xy(*anchor[0])
            points.append(
                f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" class="edit-label" fill="#111111" '
                f'font-family="DejaVu Sans" font-size="9" font-weight="bold">{ident}</text>'
            )
    return polygons + lines + points


def edits_map(features: list[dict[str, Any]], places: Places, lang: str) -> Markup:
    """The edits over the district outlines and the polycentres, zoomed to the edits."""
    geometries = [mapped_geometry(f, places) for f in features]
    outlines = [row["outline"] for row in places.districts.values()]
    proj = Projection(_extent(geometries, outlines), MAP_WIDTH, MAP_HEIGHT)
    body = _background(proj, places, lang) + _district_labels(proj, places, lang)
    body += _edit_shapes(proj, features, places) + _sketch_marks(proj, lang)
    return _svg(body, MAP_WIDTH, MAP_HEIGHT, strings(lang)["edits_map"])


def cell_change(cell: dict[str, Any]) -> int:
    """The change in categories within 15 minutes of a cell (plan minus today)."""
    b, p = cell.get("categories_15_base"), cell.get("categories_15_plan")
    if not _is_number(b) or not _is_number(p):
        return 0
    return round(p - b)


def cells_map(
    cells: list[dict[str, Any]], features: list[dict[str, Any]], places: Places, lang: str
) -> Markup:
    """The changed H3 cells coloured by the change in categories within 15 minutes (diverging,
    clamped at ±3), the edits' outlines on top."""
    mapped = cells[:MAX_CELLS_MAPPED]
    boundaries = []
    for cell in mapped:
        try:
            ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell["h3"])]
        except (h3.H3BaseException, KeyError, TypeError):
            continue
        boundaries.append((cell, ring))
    shapes = [{"type": "Polygon", "coordinates": [ring]} for _, ring in boundaries]
    geometries = shapes + [mapped_geometry(f, places) for f in features]
    outlines = [row["outline"] for row in places.districts.values()]
    proj = Projection(_extent(geometries, outlines), MAP_WIDTH, MAP_HEIGHT)
    body = _background(proj, places, lang)
    by_colour: dict[str, list[str]] = {}
    for cell, ring in boundaries:
        change = max(-3, min(3, cell_change(cell)))
        by_colour.setdefault(CELL_COLOURS[change], []).append(proj.path([ring]))
    for colour, paths in by_colour.items():
        body.append(f'<path d="{" ".join(paths)}" fill="{colour}" stroke="none"/>')
    body += _district_labels(proj, places, lang)
    body += _edit_shapes(proj, features, places) + _sketch_marks(proj, lang)
    return _svg(body, MAP_WIDTH, MAP_HEIGHT, strings(lang)["cells_map"])


# -- maps as pictures of the city (the server's map renderer) --------------------------------


def _edit_overlay(
    features: list[dict[str, Any]], places: Places
) -> tuple[list[dict[str, Any]], list[tuple[float, float, str]]]:
    """The edits as overlay features (their colour, removals dashed) and their id labels."""
    overlay, labels = [], []
    for feature in features:
        geometry = mapped_geometry(feature, places)
        if not geometry or not _points(geometry):
            continue
        kind = feature["properties"].get("edit", "")
        props: dict[str, Any] = {"colour": EDIT_COLOURS.get(kind, "#333333")}
        if kind.endswith(".remove"):
            props["dashed"] = True
        overlay.append({"type": "Feature", "geometry": geometry, "properties": props})
        labels.append((*_points(geometry)[0], str(feature["id"])))
    return overlay, labels


def _cell_overlay(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changed H3 cells as overlay polygons in the cells map's colours (no outline)."""
    overlay = []
    for cell in cells[:MAX_CELLS_MAPPED]:
        try:
            ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell["h3"])]
        except (h3.H3BaseException, KeyError, TypeError):
            continue
        change = max(-3, min(3, cell_change(cell)))
        overlay.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {"colour": CELL_COLOURS[change], "opacity": 0.8, "width": 0},
            }
        )
    return overlay


def picture_map(
    overlay: list[dict[str, Any]],
    labels: list[tuple[float, float, str]],
    bounds: tuple[float, float, float, float],
    label: str,
    lang: str,
) -> Markup:
    """The city in the published style around `bounds`, the overlay drawn on it, as a PNG
    (data: URL) with the labels, a scale bar and a north arrow in SVG over it. Raises when
    the map renderer is off or fails (the caller falls back to the sketches)."""
    from twin.maps.picture import draw_picture

    width, height = int(MAP_WIDTH), int(MAP_HEIGHT)
    collection = {"type": "FeatureCollection", "features": overlay}
    picture = draw_picture(bounds, width, height, collection)
    marks = []
    for lon, lat, text in labels:
        x, y = picture.xy(lon, lat)
        if 0 <= x <= width and 0 <= y <= height:
            marks.append(
                f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" class="edit-label" fill="#111111" '
                'stroke="#ffffff" stroke-width="2.2" paint-order="stroke" '
                f'font-family="DejaVu Sans" font-size="9" font-weight="bold">{escape(text)}</text>'
            )
    marks += scale_bar(picture.ground_metres_per_pixel(), height, lang)
    marks += north_arrow(width, lang)
    west, south, east, north = picture.bounds()
    return Markup(
        '<div class="map-picture">'
        f'<img class="map" src="{picture.data_url()}" width="{width}" height="{height}" '
        f'alt="{escape(label)}" data-bounds="{west:.7f},{south:.7f},{east:.7f},{north:.7f}"/>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        'class="map-marks" aria-hidden="true">'
        + "".join(marks)
        + f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
        'stroke="#555"/></svg></div>'
    )


def report_maps(
    features: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    places: Places,
    lang: str,
    evaluated: bool,
) -> dict[str, Any]:
    """The edits map and the cells map (None when not evaluated) as pictures of the city,
    or, when the map renderer is off or fails, as SVG sketches with `map_note` saying why."""
    words = strings(lang)
    geometries = [mapped_geometry(f, places) for f in features]
    outlines = [row["outline"] for row in places.districts.values()]
    edits, labels = _edit_overlay(features, places)
    try:
        edits_picture = picture_map(
            edits, labels, _extent(geometries, outlines), words["edits_map"], lang
        )
        cells_picture = None
        if evaluated:
            cell_shapes = _cell_overlay(cells)
            extent = _extent([c["geometry"] for c in cell_shapes] + geometries, outlines)
            cells_picture = picture_map(
                cell_shapes + edits, labels, extent, words["cells_map"], lang
            )
        return {"edits_map": edits_picture, "cells_map": cells_picture, "map_note": None}
    except Exception as exc:  # any renderer failure: the report still comes out, sketched
        log.warning("plan report maps sketched: %s", exc)
        reason = str(exc).strip() or type(exc).__name__
        return {
            "edits_map": edits_map(features, places, lang),
            "cells_map": cells_map(cells, features, places, lang) if evaluated else None,
            "map_note": words["map_sketch"].format(reason=reason[:200]),
        }


def cells_legend(lang: str) -> list[dict[str, str]]:
    """The cells map's legend: each colour and the change it stands for."""
    labels = {-3: "≤\u00a0\u22123", 3: "≥\u00a0+3", 0: "0"}
    return [
        {
            "colour": colour,
            "label": labels.get(k, f"+{k}" if k > 0 else f"\u2212{-k}"),
        }
        for k, colour in CELL_COLOURS.items()
    ]


# -- the document ----------------------------------------------------------------------------


def css_string(text: str) -> Markup:
    """`text` as a quoted CSS string, safe inside <style> (a title may hold anything)."""
    escaped = "".join(
        ch if ch.isalnum() or ch in " .,:;-_()!?'+/" else f"\\{ord(ch):x} " for ch in text
    )
    return Markup(f'"{escaped}"')


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _area_table(area: Area, lang: str) -> dict[str, Any]:
    words = strings(lang)
    rows = []
    for key in _indicator_keys(area.base, area.plan):
        b, p = area.base.get(key), area.plan.get(key)
        if b is None and p is None:
            continue  # a figure the twin has not for this area (the CSV keeps the row)
        difference = format_difference(key, b, p, lang)
        rows.append(
            {
                "label": words["indicator_labels"].get(key, key),
                "base": format_value(key, b, lang),
                "plan": format_value(key, p, lang),
                "difference": difference,
                "changed": difference not in ("0", "—"),
                "target": "; ".join(t.text(key, lang) for t in targets(key, area.type, area.info))
                or words["no_target"],
            }
        )
    return {"type": area.type, "key": area.key, "title": area.title, "rows": rows}


def _gain_rows(evaluation: dict[str, Any], places: Places, lang: str) -> list[dict[str, Any]]:
    gains = evaluation.get("gains") or {}
    scopes = [(strings(lang)["city_table"], gains.get("city") or {})] + [
        (places.district_title(name, lang), row or {})
        for name, row in (gains.get("districts") or {}).items()
    ]
    rows = []
    for title, row in scopes:
        cells = []
        for category in (*CATEGORIES, "categories_15", "all_six"):
            figures = row.get(category) or {}
            cells.append(
                {
                    "gain": "+" + format_number(figures.get("gain"), lang)
                    if figures.get("gain")
                    else "0",
                    "lose": "\u2212" + format_number(figures.get("lose"), lang)
                    if figures.get("lose")
                    else "0",
                }
            )
        rows.append({"title": title, "cells": cells})
    return rows


PLACE_METRICS = ("children", "places", "facilities", "overloaded", "deficit", "unserved_children")


def _place_tables(evaluation: dict[str, Any], places: Places, lang: str) -> list[dict[str, Any]]:
    words = strings(lang)
    tables = []
    for facility in ("schools", "kindergartens"):
        doc = evaluation.get(facility)
        if not doc or not (doc.get("base") or doc.get("plan")):
            continue
        base, plan = doc.get("base") or {}, doc.get("plan") or {}
        rows = [
            {
                "label": words[metric],
                "base": format_number(base.get(metric), lang),
                "plan": format_number(plan.get(metric), lang),
                "difference": format_difference(
                    "school_places", base.get(metric), plan.get(metric), lang
                ),
            }
            for metric in PLACE_METRICS
            if metric in base or metric in plan
        ]
        districts = []
        for name, b in (base.get("districts") or {}).items():
            p = (plan.get("districts") or {}).get(name) or {}
            districts.append(
                {
                    "title": places.district_title(name, lang),
                    "children": format_number(p.get("children", b.get("children")), lang),
                    "places_base": format_number(b.get("places"), lang),
                    "places_plan": format_number(p.get("places"), lang),
                    "deficit_base": format_number(b.get("deficit"), lang),
                    "deficit_plan": format_number(p.get("deficit"), lang),
                    "overloaded_base": format_number(b.get("overloaded"), lang),
                    "overloaded_plan": format_number(p.get("overloaded"), lang),
                }
            )
        tables.append(
            {
                "title": words[facility[:-1] + "s_row"],
                "rows": rows,
                "districts": districts,
                "deficit_closed": format_number(doc.get("deficit_closed"), lang),
                "assumed": bool(doc.get("assumed") or base.get("assumed")),
            }
        )
    return tables


def _housing_rows(evaluation: dict[str, Any], places: Places, lang: str) -> list[dict[str, Any]]:
    words = strings(lang)
    rows = []
    for row in evaluation.get("housing") or []:
        utility = row.get("utility_m") or {}
        rows.append(
            {
                "edit": row.get("edit", ""),
                "kind": words["edit_kinds"].get(row.get("kind"), row.get("kind") or ""),
                "residents": format_number(row.get("residents"), lang),
                "district": places.district_title(row["district"], lang)
                if row.get("district")
                else "—",
                "polycentre": places.polycentre_title(row["polycentre"], lang)
                if row.get("polycentre")
                else "—",
                "fault": words["yes"] if row.get("in_fault_setback") else words["no"],
                "fault_flag": bool(row.get("in_fault_setback")),
                "utility": ", ".join(
                    f"{words['networks'].get(n, n)} {format_number(m, lang)}"
                    for n, m in utility.items()
                )
                or "—",
            }
        )
    return rows


def _top_cells(cells: list[dict[str, Any]], places: Places, lang: str) -> list[dict[str, Any]]:
    ranked = sorted(
        cells,
        key=lambda c: (-abs(cell_change(c)), -(c.get("residents_plan") or 0), c.get("h3", "")),
    )[:TOP_CELLS]
    rows = []
    for cell in ranked:
        change = cell_change(cell)
        rows.append(
            {
                "h3": cell.get("h3", ""),
                "district": places.district_title(cell["district"], lang)
                if cell.get("district")
                else "—",
                "residents": format_number(cell.get("residents_plan"), lang),
                "base": format_number(cell.get("categories_15_base"), lang),
                "plan": format_number(cell.get("categories_15_plan"), lang),
                "change": ("+" if change > 0 else "\u2212" if change < 0 else "")
                + str(abs(change)),
                "colour": CELL_COLOURS[max(-3, min(3, change))],
                "walkability": format_difference(
                    "walkability", cell.get("walkability_base"), cell.get("walkability_plan"), lang
                ),
            }
        )
    return rows


def report_context(
    plan: dict[str, Any], cells: list[dict[str, Any]], places: Places, lang: str
) -> dict[str, Any]:
    """Everything the template shows, formatted for `lang`."""
    words = strings(lang)
    evaluation = plan.get("evaluation") or {}
    features = edit_features(plan)
    evaluated = bool(evaluation.get("indicators"))
    tables = [_area_table(a, lang) for a in _areas(evaluation, places, lang)]
    return {
        "lang": lang,
        "w": words,
        "plan": {
            k: plan.get(k) for k in ("id", "author", "private", "version", "status", "description")
        },
        "title": plan.get("title") or f"{words['plan']} {plan.get('id', '')}",
        "created": _date(plan.get("created"), lang),
        "updated": _date(plan.get("updated"), lang),
        "generated": _date(datetime.now(UTC).isoformat(timespec="minutes"), lang),
        "base_version": evaluation.get("base_version") or plan.get("base_version") or "—",
        "stale": bool(plan.get("stale")),
        "evaluated": evaluated,
        "mode": evaluation.get("mode") or plan.get("mode") or "—",
        "edits": [_edit_row(f, places, lang) for f in features],
        **report_maps(features, cells, places, lang, evaluated),
        "city": [t for t in tables if t["type"] == "city"],
        "districts": [t for t in tables if t["type"] == "district"],
        "polycentres": [t for t in tables if t["type"] == "polycentre"],
        "gain_columns": [words["categories"][c] for c in (*CATEGORIES, "categories_15", "all_six")],
        "gains": _gain_rows(evaluation, places, lang) if evaluated else [],
        "place_tables": _place_tables(evaluation, places, lang),
        "housing": _housing_rows(evaluation, places, lang),
        "cells_count": words["cells_count"].format(count=format_number(len(cells), lang)),
        "cells_legend": cells_legend(lang),
        "edit_legend": [
            {"colour": EDIT_COLOURS[k], "label": words["edit_kinds"][k]}
            for k in EDIT_COLOURS
            if any(f["properties"].get("edit") == k for f in features)
        ],
        "top_cells": _top_cells(cells, places, lang),
        "timing_ms": (evaluation.get("timing_ms") or {}).get("total"),
        "assumptions": [str(a) for a in evaluation.get("assumptions") or []],
        "footer_left": css_string(f"{words['report']}: {plan.get('title') or ''}"[:90]),
        "footer_page": css_string(f"{words['page']} "),
        "css": Markup((TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")),
    }


def render_html(plan: dict[str, Any], cells: list[dict[str, Any]], places: Places, lang: str):
    """The report as one self-contained HTML page (styles and maps inline)."""
    template = _environment().get_template("report.html")
    return template.render(**report_context(plan, cells, places, lang))


def render_pdf(html: str) -> bytes:
    """The HTML page printed to PDF by WeasyPrint (A4, DejaVu Sans, page numbers)."""
    import weasyprint  # a second or so to import: only when a PDF is asked for

    return weasyprint.HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf()


def render_csv(rows: list[dict[str, Any]]) -> bytes:
    """The indicator rows as CSV, UTF-8 with a BOM (Excel then reads Cyrillic right)."""
    out = io.StringIO()
    columns = ["area_type", "area", "indicator", "base", "plan", "difference", "target", "label"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def render_gpkg(
    plan: dict[str, Any],
    cells: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    places: Places,
) -> bytes:
    """A GeoPackage with the layers edits, changed_cells (H3 polygons) and indicators (a
    table with no geometry), EPSG:4326."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import Polygon, shape

    features = edit_features(plan)
    edit_records, edit_shapes = [], []
    for feature in features:
        props = feature["properties"]
        geometry = mapped_geometry(feature, places)
        try:
            edit_shapes.append(shape(geometry) if geometry else None)
        except (ValueError, TypeError, AttributeError):
            edit_shapes.append(None)
        edit_records.append(
            {
                "edit_id": feature["id"],
                "edit": props.get("edit"),
                "name": props.get("name"),
                "properties": json.dumps(props, ensure_ascii=False, sort_keys=True),
            }
        )
    edits = gpd.GeoDataFrame(
        pd.DataFrame(edit_records, columns=["edit_id", "edit", "name", "properties"]),
        geometry=gpd.GeoSeries(edit_shapes, crs="EPSG:4326"),
    )
    cell_columns = sorted({k for c in cells for k in c if k != "geometry"})
    if "h3" in cell_columns:
        cell_columns.remove("h3")
    cell_records, cell_shapes = [], []
    for cell in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell["h3"])]
        cell_shapes.append(Polygon(ring))
        record = {"h3": cell["h3"], "change_categories_15": cell_change(cell)}
        for column in cell_columns:
            value = cell.get(column)
            record[column] = value
        cell_records.append(record)
    changed = gpd.GeoDataFrame(
        pd.DataFrame(cell_records, columns=["h3", "change_categories_15", *cell_columns]),
        geometry=gpd.GeoSeries(cell_shapes, crs="EPSG:4326"),
    )
    for column in changed.columns:  # booleans with gaps would become objects GDAL cannot type
        if changed[column].dtype == object and column != "geometry":
            values = changed[column].dropna()
            if len(values) and all(isinstance(v, bool) for v in values):
                changed[column] = changed[column].astype("boolean")
    table = pd.DataFrame(
        rows,
        columns=["area_type", "area", "indicator", "base", "plan", "difference", "target", "label"],
    )
    for column in ("base", "plan", "difference"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    with tempfile.TemporaryDirectory(prefix="twin-report-") as tmp:
        path = Path(tmp) / "plan.gpkg"
        # GeoPackage 1.2: what GDAL 3.x and QGIS read without a warning (pyogrio's GDAL
        # would write 1.4, which Debian's GDAL 3.6 reads only "partially supported")
        pyogrio.write_dataframe(
            edits,
            path,
            layer="edits",
            driver="GPKG",
            geometry_type="Unknown",
            dataset_options={"VERSION": "1.2"},
        )
        pyogrio.write_dataframe(
            changed, path, layer="changed_cells", driver="GPKG", geometry_type="Polygon"
        )
        pyogrio.write_dataframe(table, path, layer="indicators", driver="GPKG")
        return path.read_bytes()


def file_name(plan: dict[str, Any], fmt: str, lang: str) -> str:
    """plan-<id>-<title in ASCII letters>-<lang>.<fmt>, safe in a Content-Disposition."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(plan.get("title") or "")).strip("-").lower()[:40]
    parts = ["plan", str(plan.get("id", "")), slug, lang]
    return "-".join(p for p in parts if p) + f".{fmt}"


def render_report(
    conn: psycopg.Connection,
    plan: dict[str, Any],
    cells: list[dict[str, Any]],
    fmt: str,
    lang: str,
) -> tuple[bytes, str, str]:
    """The plan's report in `fmt` (pdf, html, csv, gpkg) and `lang` (ru, kk, en): body,
    media type and file name. `plan` is the plan document (GET /plans/{id}) with its
    evaluation; `cells` the evaluation's changed cells."""
    if fmt not in MEDIA_TYPES:
        raise InvalidParameter(f"f must be one of {', '.join(FORMATS)} (got {fmt!r})")
    lang = language(lang)
    started = time.perf_counter()
    places = read_places(conn, edit_features(plan))
    if fmt == "csv":
        body = render_csv(indicator_rows(plan, places, lang))
    elif fmt == "gpkg":
        body = render_gpkg(plan, cells, indicator_rows(plan, places, lang), places)
    else:
        html = render_html(plan, cells, places, lang)
        body = html.encode("utf-8") if fmt == "html" else render_pdf(html)
    log.info(
        "plan report",
        extra={
            "plan": plan.get("id"),
            "format": fmt,
            "lang": lang,
            "bytes": len(body),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return body, MEDIA_TYPES[fmt], file_name(plan, fmt, lang)

"""Field mappings: how a source file's fields become a layer's properties.

A mapping file (YAML) names, per target property, where its value comes from:

    layer: districts
    source: Almaty district boundaries (health-accessibility dashboard, 2026)
    licence: ODbL
    properties:
      name_kk: name_kz                              # a source field
      name_en: {field: id, values: {1: Alatau}}     # a value map (unlisted values pass through)
      district: {field: district, values_from: almaty_district_names.yml}
      category: {value: healthcare}                 # a constant
      kind: {field: name, match: {'(?i)сквер': square}, default: park}   # first regex wins
      planned_year: {field: end, format: '%d.%m.%Y'}  # a date read with a format; -> its year
      opened_on: {field: end, format: '%d.%m.%Y', when: {field: status, in: [Завершен]}}
      name: {template: 'Hospital {medical_organization_id}'}
      area_ha: {compute: area_ha}                   # measured on the geometry (metric CRS)
      capacity: null                                # leave empty, do not guess by name

Properties not named are filled by name: the same field name, the same name in another case,
or a known alias (name_kz -> name_kk, building:levels -> levels, ...). Value-map keys match
case-insensitively, and the Latin schwa Ə/ə matches the Cyrillic Ә/ә, because Kazakh sources
use both.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from twin.catalog import Layer
from twin.errors import ImportFailed

UNSET = object()
RULE_KEYS = {
    "field",
    "value",
    "values",
    "values_from",
    "default",
    "match",
    "template",
    "compute",
    "format",
    "when",
}
TOP_KEYS = {
    "layer",
    "source",
    "licence",
    "license",
    "source_layer",
    "crs",
    "encoding",
    "match_by_name",
    "properties",
    "description",
}
COMPUTED = {"area_m2": 1.0, "area_ha": 1e-4, "area_km2": 1e-6, "length_m": 1.0, "length_km": 1e-3}
# Other names a field often has in Almaty's and OpenStreetMap's data, by target property.
ALIASES: dict[str, tuple[str, ...]] = {
    "name_kk": ("name_kz", "name:kk", "name_kaz", "name_kazakh", "name_kz_cyr"),
    "name_ru": ("name:ru", "name_rus", "name_russian"),
    "name_en": ("name:en", "name_eng", "name_english"),
    "name": ("title", "label", "name_ru", "name:ru"),
    "block_code": ("block_id", "block", "block_no", "kvartal"),
    "cadastral_number": ("cadastral", "cad_num", "cadastre", "kad_nomer", "kadastr_no"),
    "area_m2": ("area", "shape_area", "area_sqm"),
    "levels": ("building:levels", "building_levels", "floors", "storeys", "etazh"),
    "height_m": ("height", "building_height"),
    "year_built": ("year", "built_year", "construction_year", "start_date"),
    "population": ("pop", "residents", "naselenie"),
    "residents": ("population", "pop"),
    "address": ("addr", "addr:full", "full_address"),
    "district": ("district_name", "rayon", "audan", "district_ru"),
    "wear_pct": ("wear", "wear_percent", "iznos"),
    "diameter_mm": ("diameter", "dn"),
    "installed_year": ("year_installed", "install_year"),
    "highway": ("class", "road_class", "fclass"),
    "max_speed_kmh": ("maxspeed", "max_speed", "speed_limit", "speedlimit"),
}
_SCHWA = str.maketrans({"\u018f": "\u04d8", "\u0259": "\u04d9"})


def normalise_key(value: Any) -> str:
    """The form value-map keys are compared in: NFC, schwa folded to Cyrillic, casefolded."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).translate(_SCHWA).strip().casefold()


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


@dataclass
class PropertyRule:
    """Where one target property's value comes from."""

    target: str
    field: str | None = None
    value: Any = UNSET
    values: dict[str, Any] | None = None
    default: Any = UNSET
    match: list[tuple[re.Pattern[str], Any]] | None = None
    template: str | None = None
    compute: str | None = None
    format: str | None = None
    when_field: str | None = None
    when_in: frozenset[str] = frozenset()
    skip: bool = False

    def source_fields(self) -> list[str]:
        fields = [f for f in (self.field, self.when_field) if f]
        if self.template:
            fields += [name for _, name, _, _ in string.Formatter().parse(self.template) if name]
        return fields

    def describe(self) -> str:
        if self.skip:
            return "left empty"
        if self.value is not UNSET:
            return f"constant {self.value!r}"
        if self.compute:
            return f"computed {self.compute}"
        if self.template:
            return f"template {self.template!r}"
        extra = " (value map)" if self.values else " (patterns)" if self.match else ""
        return f"field {self.field}{extra}"


@dataclass
class FieldMapping:
    """A parsed mapping file (or the empty mapping: everything by name)."""

    path: Path | None = None
    layer: str | None = None
    source: str | None = None
    licence: str | None = None
    source_layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    match_by_name: bool = True
    rules: dict[str, PropertyRule] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "by name"


def _fail(path: Path, message: str) -> ImportFailed:
    return ImportFailed(f"mapping {path.name}: {message}")


def _value_map(raw: Any, path: Path, target: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(path, f"{target}: values must be a map of source value -> target value")
    return {normalise_key(key): value for key, value in raw.items()}


def _vocabulary(name: Any, path: Path, target: str) -> dict[str, Any]:
    if not isinstance(name, str) or "/" in name or "\\" in name:
        raise _fail(path, f"{target}: values_from must name a file beside the mapping")
    vocabulary = path.parent / name
    if not vocabulary.exists():
        raise _fail(path, f"{target}: values_from file {name} not found beside the mapping")
    try:
        raw = yaml.safe_load(vocabulary.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path, f"{target}: {name} is not valid YAML ({_first_line(exc)})") from None
    return _value_map(
        raw.get("values") if isinstance(raw, dict) and "values" in raw else raw, path, target
    )


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _rule(target: str, spec: Any, path: Path) -> PropertyRule:
    if spec is None:
        return PropertyRule(target, skip=True)
    if isinstance(spec, str):
        return PropertyRule(target, field=spec)
    if not isinstance(spec, dict):
        raise _fail(path, f"{target}: expected a field name or a map, got {spec!r}")
    unknown = set(spec) - RULE_KEYS
    if unknown:
        raise _fail(
            path,
            f"{target}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join(sorted(RULE_KEYS))}",
        )
    rule = PropertyRule(
        target,
        field=spec.get("field"),
        value=spec.get("value", UNSET),
        default=spec.get("default", UNSET),
        template=spec.get("template"),
        compute=spec.get("compute"),
        format=spec.get("format"),
    )
    sources = [k for k in ("field", "value", "template", "compute") if k in spec]
    if len(sources) != 1:
        raise _fail(path, f"{target}: give exactly one of field, value, template or compute")
    if rule.compute is not None and rule.compute not in COMPUTED:
        raise _fail(path, f"{target}: compute must be one of {', '.join(COMPUTED)}")
    if "values" in spec and "values_from" in spec:
        raise _fail(path, f"{target}: give values or values_from, not both")
    if "values" in spec:
        rule.values = _value_map(spec["values"], path, target)
    if "values_from" in spec:
        rule.values = _vocabulary(spec["values_from"], path, target)
    if "match" in spec:
        if not isinstance(spec["match"], dict):
            raise _fail(path, f"{target}: match must be a map of regular expression -> value")
        try:
            rule.match = [
                (re.compile(str(pattern)), value) for pattern, value in spec["match"].items()
            ]
        except re.error as exc:
            raise _fail(path, f"{target}: bad regular expression ({exc})") from None
    if (rule.values or rule.match or rule.format) and not rule.field:
        raise _fail(path, f"{target}: values, match and format need a field")
    if rule.template is not None:
        try:
            rule.source_fields()
        except ValueError as exc:
            raise _fail(path, f"{target}: bad template ({exc})") from None
    when = spec.get("when")
    if when is not None:
        if (
            not isinstance(when, dict)
            or set(when) != {"field", "in"}
            or not isinstance(when["in"], list)
        ):
            raise _fail(path, f"{target}: when must be {{field: NAME, in: [values]}}")
        rule.when_field = str(when["field"])
        rule.when_in = frozenset(normalise_key(v) for v in when["in"])
    return rule


def load_mapping(path: Path | str | None) -> FieldMapping:
    """Parse a mapping file; a mistake in it is an ImportFailed naming the file and the key."""
    if path is None:
        return FieldMapping()
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"mapping file {path} not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not valid YAML ({_first_line(exc)})") from None
    if not isinstance(doc, dict):
        raise _fail(path, "expected a map with a 'properties' key")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise _fail(
            path,
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join(sorted(TOP_KEYS))}",
        )
    properties = doc.get("properties") or {}
    if not isinstance(properties, dict):
        raise _fail(path, "properties must be a map of target property -> source")
    return FieldMapping(
        path=path,
        layer=doc.get("layer"),
        source=doc.get("source"),
        licence=doc.get("licence", doc.get("license")),
        source_layer=doc.get("source_layer"),
        crs=doc.get("crs"),
        encoding=doc.get("encoding"),
        match_by_name=bool(doc.get("match_by_name", True)),
        rules={str(t): _rule(str(t), spec, path) for t, spec in properties.items()},
    )


def _resolve_field(name: str, fields: list[str]) -> str | None:
    if name in fields:
        return name
    folded = [f for f in fields if f.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def resolve_rules(
    mapping: FieldMapping, layer: Layer, fields: list[str]
) -> dict[str, PropertyRule]:
    """The rule for every layer property that gets a value; checks the mapping against the
    layer and the file (unknown targets, absent source fields, unfilled required properties)."""
    context = f"mapping {mapping.name}" if mapping.path else layer.name
    unknown = [t for t in mapping.rules if t not in layer.properties]
    if unknown:
        raise ImportFailed(
            f"{context}: layer {layer.name} has no propert"
            f"{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"its properties: {', '.join(layer.properties)}"
        )
    rules: dict[str, PropertyRule] = {}
    for target, rule in mapping.rules.items():
        if rule.skip:
            continue
        for source in rule.source_fields():
            resolved = _resolve_field(source, fields)
            if resolved is None:
                raise ImportFailed(
                    f"{context}: {target} reads field {source!r}, which the file "
                    f"does not have; its fields: {', '.join(fields) or 'none'}"
                )
        rule.field = _resolve_field(rule.field, fields) if rule.field else None
        rule.when_field = _resolve_field(rule.when_field, fields) if rule.when_field else None
        rules[target] = rule
    for target in layer.properties:
        if target in mapping.rules or not mapping.match_by_name:
            continue
        for candidate in (target, *ALIASES.get(target, ())):
            resolved = _resolve_field(candidate, fields)
            if resolved is not None:
                rules[target] = PropertyRule(target, field=resolved)
                break
    missing = [
        p.name
        for p in layer.properties.values()
        if p.required and p.name not in rules and p.default is None
    ]
    if missing:
        raise ImportFailed(
            f"{context}: required propert{'y' if len(missing) == 1 else 'ies'} "
            f"{', '.join(missing)} of layer {layer.name} {'has' if len(missing) == 1 else 'have'}"
            f" no source: the file's fields are {', '.join(fields) or 'none'}; map "
            f"{'it' if len(missing) == 1 else 'them'} in a mapping file (--mapping)"
        )
    return rules


def _parse_date(value: Any, fmt: str) -> date | datetime:
    if isinstance(value, (date, datetime)):
        return value
    parsed = datetime.strptime(str(value).strip(), fmt)
    return parsed.date() if not any(c in fmt for c in "HIMSf") else parsed


def apply_rule(
    rule: PropertyRule, frame: pd.DataFrame, measures: dict[str, np.ndarray], required: bool = False
) -> tuple[list[Any], list[str | None]]:
    """Values of one target property for every row, and a rejection reason per row (or None).

    A required property whose value map sends a source value to null rejects the row with
    that value named (e.g. a cancelled park project), rather than a bare "missing"."""
    n = len(frame)
    errors: list[str | None] = [None] * n
    if rule.value is not UNSET:
        values: list[Any] = [rule.value] * n
    elif rule.compute:
        values = list(measures[rule.compute])
    elif rule.template is not None:
        names = rule.source_fields()
        columns = {
            name: frame[_resolve_field(name, list(frame.columns))].tolist() for name in names
        }
        values = [
            rule.template.format_map(
                {
                    name: "" if _missing(columns[name][i]) else _plain(columns[name][i])
                    for name in names
                }
            )
            for i in range(n)
        ]
    elif not (rule.format or rule.values is not None or rule.match) and rule.default is UNSET:
        values = frame[rule.field].tolist()  # a plain field: conform_values does the rest
    else:
        raw = frame[rule.field].tolist()
        values = []
        for i, value in enumerate(raw):
            if _missing(value):
                values.append(None if rule.default is UNSET else rule.default)
                continue
            if rule.format:
                try:
                    value = _parse_date(value, rule.format)
                except ValueError:
                    errors[i] = (
                        f"{rule.target}: cannot read {_plain(value)!r} with format {rule.format}"
                    )
                    values.append(None)
                    continue
            translated = _translate(rule, value)
            if translated is None and required:
                errors[i] = f"{rule.target}: {_plain(value)!r} maps to no value"
            values.append(translated)
    if rule.when_field:
        condition = frame[rule.when_field].tolist()
        values = [
            v if not _missing(c) and normalise_key(c) in rule.when_in else None
            for v, c in zip(values, condition)
        ]
    return values, errors


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _translate(rule: PropertyRule, value: Any) -> Any:
    if rule.match:
        text = str(_plain(value))
        for pattern, target in rule.match:
            if pattern.search(text):
                return target
        return value if rule.default is UNSET else rule.default
    if rule.values is not None:
        key = normalise_key(_plain(value))
        if key in rule.values:
            return rule.values[key]
        return value if rule.default is UNSET else rule.default
    return value

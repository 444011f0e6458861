"""The layer catalog: layers/*.yml read into typed Layer objects, the single source of every
layer fact.

One file per layer (`layers/plots.yml`) says its schema (migrations), its collection
(`twin config`), its tiles and style, its titles in English, Russian and Kazakh, the viewer
group it sits in, whether editors may change it (and which role), and which analyses read it.
Two catalog-wide files sit beside the layers (files starting with "_" are not layers):

- `layers/_catalog.yml`: the viewer's panel groups in their order (with their titles), the
  analyses a layer can feed, and the inputs that are not feature layers (the terrain);
- `layers/_targets.yml`: the programme's figures (value, year, source) the indicators are read
  against: `GET /indicators`, `GET /indicators/mobility-safety`, the analysis layers and the
  viewer all take them from here.

So a new layer is one file, and no Python or JavaScript list names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from twin.errors import ServerError, TwinError
from twin.settings import get_settings

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster start-up
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
# catalog type -> (PostgreSQL type, JSON schema type, JSON schema format)
TYPES: dict[str, tuple[str, str, str | None]] = {
    "string": ("text", "string", None),
    "integer": ("bigint", "integer", None),
    "number": ("double precision", "number", None),
    "boolean": ("boolean", "boolean", None),
    "date": ("date", "string", "date"),
    "datetime": ("timestamptz", "string", "date-time"),
}
# The configured city box, lon/lat: only the fallback of the city's extent, which is the loaded
# districts' (twin.extent.city_extent), before any district exists, and what files written
# before a database exists (pygeoapi-config.yml) say
CITY_BBOX = (76.74, 43.03, 77.17, 43.40)
LANGUAGES = ("en", "ru", "kk")  # the viewer's languages; every title is given in each
# Who may write (twin/editing/users.py): an admin edits every editable layer, an editor the
# layers its key was granted. A layer's `edit_role` is the least role that may edit it.
EDIT_ROLES = ("editor", "admin")
CATALOG_FILE = "_catalog.yml"
# The panel groups a computed layer may sit in: "Analysis", or its topic's own group when the
# topic gathers its inputs and results together (the hazards: mudflow, avalanche, fire reach)
COMPUTED_GROUPS = ("Analysis", "Hazards")
TARGETS_FILE = "_targets.yml"
# kinds of programme figures: a target is reached by its year, a baseline was measured in its
# year, a norm is a standing rule (its year of adoption when known), a parameter is a distance
# or time the analysis reads the programme with (no year: its source says why it was chosen)
FIGURE_KINDS = ("target", "baseline", "norm", "parameter")
DATED_KINDS = ("target", "baseline")


class CatalogError(ServerError):
    """A layer file or catalog file that cannot be read as the catalog expects: the operator's
    mistake, named with its file and key (the twin does not start with it)."""


@dataclass(frozen=True)
class Property:
    name: str
    type: str
    title: str = ""  # English: the JSON schema, pygeoapi and the CLI
    description: str = ""
    required: bool = False
    unique: bool = False
    unit: str | None = None
    enum: tuple[Any, ...] | None = None
    default: Any = None
    titles: dict[str, str] = field(default_factory=dict)  # language -> title (en, ru, kk)

    def title_in(self, language: str) -> str:
        """Its title in `language`, English (or its name) when the catalog gives none."""
        return self.titles.get(language) or self.title or self.name

    @property
    def sql_type(self) -> str:
        return TYPES[self.type][0]

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": TYPES[self.type][1], "title": self.title or self.name}
        if TYPES[self.type][2]:
            schema["format"] = TYPES[self.type][2]
        if self.description:
            schema["description"] = self.description
        if self.unit:
            schema["x-unit"] = self.unit
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema


@dataclass(frozen=True)
class Layer:
    name: str
    title: str  # English: what pygeoapi, the CLI and the logs show
    description: str
    group: str
    geometry: str
    srid: int
    properties: dict[str, Property]
    keywords: tuple[str, ...] = ()
    temporal: str | None = None
    minzoom: int = 0
    maxzoom: int = 16
    style: dict[str, Any] = field(default_factory=dict)
    id_field: str = "id"
    analysis: bool = False  # an analysis result, written by `twin analyse`
    titles: dict[str, str] = field(default_factory=dict)  # language -> title (en, ru, kk)
    edit_role: str | None = None  # None: not editable; else the least role that may edit
    feeds: tuple[str, ...] = ()  # the analyses that read it (_catalog.yml `analyses`)
    visible: bool = False  # shown when the viewer opens without a view in its URL
    # integer properties its tiles take as `?<property>=<value>` (plan_cells: ?plan=ID), a
    # tile then holding only the matching features (`tiles: {filters: [plan]}`)
    tile_filters: tuple[str, ...] = ()
    # `tile_at: <area>/<name>`: the SQL file (twin/sql/<area>/<name>.sql) that draws the
    # layer as it was at an instant, for its tiles' `datetime=` (docs/changes.md, twin/tiles)
    tile_at: str | None = None
    # how the viewer's time slider shows it (`time: {range, show, period}`, twin/layer_entries.py
    # fills what is not said from `temporal:` and the history)
    time: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.name

    @property
    def geometry_column(self) -> str:
        return "geom"

    @property
    def editable(self) -> bool:
        """Editors change it through the API (OGC API Features Part 4); every change is kept
        in its history. Analysis results and reference layers are rebuilt, not edited."""
        return self.edit_role is not None

    def title_in(self, language: str) -> str:
        return self.titles.get(language) or self.title


@dataclass(frozen=True)
class Group:
    """A group of the viewer's layer panel."""

    name: str
    titles: dict[str, str]
    collapsed: bool = False  # closed until one of its layers is shown


@dataclass(frozen=True)
class Coverage:
    """An input that is not a feature layer (the terrain raster), with the analyses it feeds."""

    name: str
    titles: dict[str, str]
    feeds: tuple[str, ...]


@dataclass(frozen=True)
class CatalogInfo:
    """What layers/_catalog.yml declares for the whole catalog."""

    groups: tuple[Group, ...]
    analyses: dict[str, str]  # name -> what it computes
    coverages: dict[str, Coverage]
    # how enumerated values and units read in each language (`values:`, `units:`): the words
    # the viewer's legends and cards show; value -> {language: text}
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Figure:
    """One figure of the programme: a target, baseline, norm or analysis parameter."""

    name: str
    kind: str
    value: float | int | None
    year: int | None
    source: str
    row: str | None = None  # its name on each district's row (mobility), if any
    per_area: str | None = None  # the value is each area's own property of this name
    served: bool = True  # in the answer's `targets` (False: on district rows only)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind,
            "value": self.value,
            "year": self.year,
            "source": self.source,
        }
        if self.per_area:
            doc["per_area"] = self.per_area
        return doc


@dataclass(frozen=True)
class Indicator:
    """An indicator of `GET /indicators` and the programme's figures beside it."""

    name: str
    source: str
    figures: dict[str, Figure]

    def served(self, row: dict[str, Any] | None = None) -> dict[str, Any]:
        """As `GET /indicators` serves it: each figure's value by name and the source (a lone
        `target` keeps its year beside it); a per-area figure takes the row's value."""
        figures = list(self.figures.values())
        doc: dict[str, Any] = {
            f.name: (row or {}).get(f.per_area) if f.per_area else f.value for f in figures
        }
        if len(figures) == 1 and figures[0].name == "target" and figures[0].year is not None:
            doc["year"] = figures[0].year
        doc["source"] = self.source
        return doc


@dataclass(frozen=True)
class Programme:
    """layers/_targets.yml: the figures each indicator is read against."""

    indicators: dict[str, Indicator]
    mobility: dict[str, Figure]

    def document(self) -> dict[str, Any]:
        """Every figure with its kind, value, year and source (the viewer's `targets`)."""
        return {
            "indicators": {
                name: {
                    "source": ind.source,
                    "figures": {f.name: f.document() for f in ind.figures.values()},
                }
                for name, ind in self.indicators.items()
            },
            "mobility": {
                name: {**f.document(), "row": f.row, "served": f.served}
                for name, f in self.mobility.items()
            },
        }


# -- reading -----------------------------------------------------------------------------------


def _titles(value: Any, fallback: str, where: str) -> dict[str, str]:
    """`title: Land plots` (English only) or `title: {en: ..., ru: ..., kk: ...}`."""
    if value is None:
        return {"en": fallback}
    if isinstance(value, str):
        return {"en": value}
    if not isinstance(value, dict) or not isinstance(value.get("en"), str):
        raise CatalogError(f"{where}: title must be a string or a mapping with en, ru and kk")
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise CatalogError(
            f"{where}: title languages are {', '.join(LANGUAGES)}, not "
            f"{', '.join(map(str, unknown))}"
        )
    return {lang: str(value[lang]) for lang in LANGUAGES if value.get(lang)}


def _property(name: str, spec: dict[str, Any], layer: str) -> Property:
    if not NAME.match(name) or name in {"id", "geom"}:
        raise CatalogError(f"layer {layer}: bad property name {name!r}")
    kind = spec.get("type", "string")
    if kind not in TYPES:
        raise CatalogError(f"layer {layer}: property {name} has unknown type {kind!r}")
    enum = spec.get("enum")
    titles = _titles(spec.get("title"), "", f"layer {layer}: property {name}")
    return Property(
        name=name,
        type=kind,
        title=titles.get("en", ""),
        titles={lang: text for lang, text in titles.items() if text},
        description=spec.get("description", ""),
        required=bool(spec.get("required", False)),
        unique=bool(spec.get("unique", False)),
        unit=spec.get("unit"),
        enum=tuple(enum) if enum else None,
        default=spec.get("default"),
    )


def _edit_role(doc: dict[str, Any], source: str) -> str | None:
    """`editable: true` (editors granted the layer, and admins) and optionally `edit_role`."""
    editable = doc.get("editable", False)
    if not isinstance(editable, bool):
        raise CatalogError(f"{source}: editable must be true or false")
    role = doc.get("edit_role")
    if not editable:
        if role is not None:
            raise CatalogError(f"{source}: edit_role without editable: true")
        return None
    if doc.get("analysis"):
        raise CatalogError(
            f"{source}: an analysis result is rebuilt by `twin analyse`, never editable"
        )
    role = role or "editor"
    if role not in EDIT_ROLES:
        raise CatalogError(f"{source}: edit_role must be one of {', '.join(EDIT_ROLES)}")
    return role


def parse_layer(doc: dict[str, Any], source: str = "<memory>") -> Layer:
    name = doc.get("name", "")
    if not NAME.match(name):
        raise CatalogError(f"{source}: layer name {name!r} must be lower_snake_case")
    if doc.get("geometry") not in GEOMETRY_TYPES:
        raise CatalogError(f"{source}: geometry must be one of {sorted(GEOMETRY_TYPES)}")
    props = {
        key: _property(key, spec or {}, name) for key, spec in (doc.get("properties") or {}).items()
    }
    temporal = doc.get("temporal")
    if temporal and (temporal not in props or props[temporal].type not in {"date", "datetime"}):
        raise CatalogError(f"{source}: temporal property {temporal!r} must be a date or datetime")
    tiles = doc.get("tiles") or {}
    titles = _titles(doc.get("title"), name, source)
    feeds = doc.get("feeds") or []
    if not isinstance(feeds, list) or not all(isinstance(f, str) for f in feeds):
        raise CatalogError(f"{source}: feeds must be a list of analysis names")
    tile_filters = tiles.get("filters") or []
    if not isinstance(tile_filters, list) or not all(
        isinstance(f, str) and f in props and props[f].type == "integer" for f in tile_filters
    ):
        raise CatalogError(f"{source}: tiles.filters must list integer properties of the layer")
    return Layer(
        name=name,
        title=titles["en"],
        titles=titles,
        description=doc.get("description", ""),
        group=doc.get("group", "Other"),
        geometry=doc["geometry"],
        srid=int(doc.get("srid", 4326)),
        properties=props,
        keywords=tuple(doc.get("keywords") or ()),
        temporal=temporal,
        minzoom=int(tiles.get("minzoom", 0)),
        maxzoom=int(tiles.get("maxzoom", 16)),
        style=dict(doc.get("style") or {}),
        analysis=bool(doc.get("analysis", False)),
        edit_role=_edit_role(doc, source),
        feeds=tuple(feeds),
        visible=bool(doc.get("visible", False)),
        tile_filters=tuple(tile_filters),
        tile_at=_tile_at(doc.get("tile_at"), source),
        time=_time(doc.get("time"), source, props),
    )


# The viewer's time slider (web/src/timeslider.js): its ranges, what a layer shows at an instant
# (as it was then, what existed by then, what happened in the `period` before it) and periods.
TIME_RANGES = ("day", "year")
TIME_SHOWS = ("asof", "until", "during")
TIME_PERIOD = re.compile(r"^P(\d+[DM]|T\d+[HM])$")


def _time(spec: Any, source: str, props: dict[str, Property]) -> dict[str, Any]:
    """`time: {range: day|year, show: asof|until|during, period: PT1H|P1M..., key, values}` or
    nothing; `key` (a property naming the place a row is of, e.g. a key section's zone_id) and
    `values` (its numeric properties) let the viewer chart a clicked place's rows over time."""
    if spec is None:
        return {}
    if not isinstance(spec, dict) or set(spec) - {"range", "show", "period", "key", "values"}:
        raise CatalogError(f"{source}: time takes range, show, period, key and values")
    if spec.get("range", "year") not in TIME_RANGES:
        raise CatalogError(f"{source}: time.range must be one of {', '.join(TIME_RANGES)}")
    if spec.get("show", "asof") not in TIME_SHOWS:
        raise CatalogError(f"{source}: time.show must be one of {', '.join(TIME_SHOWS)}")
    if "period" in spec and not TIME_PERIOD.match(str(spec["period"])):
        raise CatalogError(f"{source}: time.period must be like PT10M, PT1H, P1D or P1M")
    if "key" in spec and spec["key"] not in props:
        raise CatalogError(f"{source}: time.key must be a property of the layer")
    values = spec.get("values", [])
    if not isinstance(values, list) or not all(
        v in props and props[v].type in {"integer", "number"} for v in values
    ):
        raise CatalogError(f"{source}: time.values must list numeric properties of the layer")
    if values and "key" not in spec:
        raise CatalogError(f"{source}: time.values need time.key (the place a row is of)")
    fact: dict[str, Any] = {k: str(v) for k, v in spec.items() if k != "values"}
    if values:
        fact["values"] = list(values)
    return fact


def _tile_at(name: Any, source: str) -> str | None:
    """`tile_at`: an existing twin/sql/<area>/<name>.sql that renders the layer at %(at)s."""
    if name is None:
        return None
    from twin.sqlfiles import SQL_DIR

    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+/[a-z0-9_]+", name):
        raise CatalogError(f"{source}: tile_at must name a SQL file as <area>/<name>")
    if not (SQL_DIR / f"{name}.sql").is_file():
        raise CatalogError(f"{source}: tile_at names twin/sql/{name}.sql, which does not exist")
    return name


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None


@lru_cache(maxsize=8)
def _info(directory: str) -> CatalogInfo:
    path = Path(directory) / CATALOG_FILE
    doc = (_read(path) if path.is_file() else None) or {}
    groups = tuple(
        Group(
            name=str(g["name"]),
            titles=_titles(g.get("title"), str(g["name"]), f"{path} group {g['name']}"),
            collapsed=bool(g.get("collapsed", False)),
        )
        for g in doc.get("groups") or []
    )
    analyses = {str(k): str(v) for k, v in (doc.get("analyses") or {}).items()}
    coverages = {
        str(k): Coverage(
            name=str(k),
            titles=_titles((v or {}).get("title"), str(k), f"{path} coverage {k}"),
            feeds=tuple((v or {}).get("feeds") or ()),
        )
        for k, v in (doc.get("coverages") or {}).items()
    }
    for coverage in coverages.values():
        _check_feeds(coverage.feeds, analyses, f"{path}: coverage {coverage.name}")
    return CatalogInfo(
        groups=groups,
        analyses=analyses,
        coverages=coverages,
        values=_vocabulary(doc.get("values"), f"{path} values"),
        units=_vocabulary(doc.get("units"), f"{path} units"),
    )


def _vocabulary(doc: Any, where: str) -> dict[str, dict[str, str]]:
    """`values:` / `units:` of _catalog.yml: word -> its text in each language (a plain string
    is English only); a language left out reads as English, then as the word itself."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise CatalogError(f"{where}: must map each word to its en, ru and kk text")
    words = {}
    for word, value in doc.items():
        titles = _titles(value, str(word), f"{where} {word}")
        words[str(word)] = {lang: titles.get(lang) or titles["en"] for lang in LANGUAGES}
    return words


def value_titles(value: Any, directory: Path | None = None) -> dict[str, str]:
    """How an enumerated value (or a boolean) reads in each language: `values:` of the
    catalog, else the value itself with spaces for underscores."""
    key = str(value).lower() if isinstance(value, bool) else str(value)
    plain = key.replace("_", " ")
    return catalog_info(directory).values.get(key) or dict.fromkeys(LANGUAGES, plain)


def unit_titles(unit: str | None, directory: Path | None = None) -> dict[str, str] | None:
    """A property's unit in each language (`units:` of the catalog), else the unit itself."""
    if not unit:
        return None
    return catalog_info(directory).units.get(unit) or dict.fromkeys(LANGUAGES, unit)


def _check_feeds(feeds: Iterable[str], analyses: dict[str, str], where: str) -> None:
    unknown = [name for name in feeds if name not in analyses]
    if analyses and unknown:
        raise CatalogError(
            f"{where}: feeds unknown analyses {', '.join(unknown)}; "
            f"the analyses are {', '.join(analyses)} ({CATALOG_FILE})"
        )


@lru_cache(maxsize=8)
def _load(directory: str) -> dict[str, Layer]:
    info = _info(directory)
    groups = {group.name for group in info.groups}
    layers: dict[str, Layer] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        if path.name.startswith("_"):
            continue  # the catalog-wide files, not layers
        layer = parse_layer(_read(path) or {}, str(path))
        if layer.name != path.stem:
            raise CatalogError(f"{path}: file name must be the layer name ({layer.name}.yml)")
        if groups and layer.group not in groups:
            raise CatalogError(
                f"{path}: group {layer.group!r} is none of the panel's groups "
                f"({', '.join(sorted(groups))}; {CATALOG_FILE})"
            )
        _check_feeds(layer.feeds, info.analyses, str(path))
        if groups and layer.analysis and layer.group not in COMPUTED_GROUPS:
            raise CatalogError(
                f"{path}: a computed layer (analysis: true) sits in group "
                f"{' or '.join(COMPUTED_GROUPS)}, not {layer.group!r}"
            )
        layers[layer.name] = layer
    return layers


def _directory(directory: Path | None) -> str:
    return str(directory or get_settings().layers_dir)


def load_catalog(directory: Path | None = None) -> dict[str, Layer]:
    """All layers, keyed by name, in file-name order."""
    return _load(_directory(directory))


def get_layer(name: str) -> Layer:
    layers = load_catalog()
    if name not in layers:
        raise TwinError(f"unknown layer {name!r}; known layers: {', '.join(layers)}")
    return layers[name]


def catalog_info(directory: Path | None = None) -> CatalogInfo:
    return _info(_directory(directory))


def groups(directory: Path | None = None) -> tuple[Group, ...]:
    """The panel's groups in their order; without _catalog.yml, in the layers' order."""
    declared = catalog_info(directory).groups
    if declared:
        return declared
    seen = dict.fromkeys(layer.group for layer in load_catalog(directory).values())
    return tuple(Group(name=name, titles={"en": name}) for name in seen)


def editable_layers(directory: Path | None = None) -> tuple[str, ...]:
    """The layers editors may change through the API, each change kept in its history."""
    return tuple(name for name, layer in load_catalog(directory).items() if layer.editable)


def may_edit(role: str, granted: Iterable[str], layer: str) -> bool:
    """Whether a key of `role` granted `granted` layers may write to `layer`: an admin any
    layer, an editor the granted layers whose edit_role is editor."""
    if role == "admin":
        return True
    spec = load_catalog().get(layer)
    return spec is not None and spec.edit_role == role and layer in set(granted)


def analysis_inputs(*analyses: str) -> tuple[str, ...]:
    """The layers (in catalog order), then the coverages, that feed any of `analyses`: what
    their data versions are taken of, so a change of any of them reaches the results."""
    info = catalog_info()
    unknown = [name for name in analyses if name not in info.analyses]
    if unknown:
        raise CatalogError(
            f"unknown analyses {', '.join(unknown)}; the catalog's analyses "
            f"are {', '.join(info.analyses)}"
        )
    wanted = set(analyses)
    return tuple(
        [name for name, layer in load_catalog().items() if wanted & set(layer.feeds)]
        + [name for name, cov in info.coverages.items() if wanted & set(cov.feeds)]
    )


# -- the programme's figures (layers/_targets.yml) -----------------------------------------------


def _figure(name: str, spec: Any, where: str, source: str | None = None) -> Figure:
    if not isinstance(spec, dict):
        raise CatalogError(
            f"{where}: figure {name} must be a mapping with kind, value, year and source"
        )
    kind = spec.get("kind")
    if kind not in FIGURE_KINDS:
        raise CatalogError(
            f"{where}: figure {name} has kind {kind!r}; kinds are {', '.join(FIGURE_KINDS)}"
        )
    value, per_area = spec.get("value"), spec.get("per_area")
    if (
        (value is None) == (per_area is None)
        or isinstance(value, bool)
        or (value is not None and not isinstance(value, (int, float)))
    ):
        raise CatalogError(
            f"{where}: figure {name} needs a number `value` (or `per_area`, "
            "the area property that holds it)"
        )
    year = spec.get("year")
    if kind in DATED_KINDS and not isinstance(year, int):
        raise CatalogError(f"{where}: figure {name} is a {kind}: it needs its year")
    text = spec.get("source", source)
    if not text:
        raise CatalogError(f"{where}: figure {name} needs its source")
    return Figure(
        name=name,
        kind=kind,
        value=value,
        year=year,
        source=str(text),
        row=spec.get("row"),
        per_area=per_area,
        served=bool(spec.get("served", True)),
    )


@lru_cache(maxsize=8)
def _programme(directory: str) -> Programme:
    path = Path(directory) / TARGETS_FILE
    doc = (_read(path) if path.is_file() else None) or {}
    indicators = {}
    for name, spec in (doc.get("indicators") or {}).items():
        where = f"{path}: indicator {name}"
        if not isinstance(spec, dict) or not spec.get("source"):
            raise CatalogError(f"{where} needs its source")
        indicators[name] = Indicator(
            name=name,
            source=str(spec["source"]),
            figures={
                key: _figure(key, figure, where, spec["source"])
                for key, figure in (spec.get("figures") or {}).items()
            },
        )
    mobility = {
        name: _figure(name, spec, f"{path}: mobility")
        for name, spec in (doc.get("mobility") or {}).items()
    }
    return Programme(indicators=indicators, mobility=mobility)


def programme(directory: Path | None = None) -> Programme:
    """The programme's figures: every indicator's targets, baselines, norms and parameters."""
    return _programme(_directory(directory))


def figure(indicator: str, name: str) -> float | int:
    """One figure's value (e.g. figure("green_m2_per_resident", "norm") == 10.0)."""
    try:
        value = programme().indicators[indicator].figures[name].value
    except KeyError:
        raise CatalogError(
            f"no figure {name!r} of indicator {indicator!r} in {TARGETS_FILE}"
        ) from None
    if value is None:
        raise CatalogError(f"figure {name!r} of {indicator!r} is each area's own value")
    return value


def figures_by(indicator: str, name: str, keys: Iterable[str]) -> dict[str, float | int]:
    """{key: value} of figure `name` of each indicator `indicator.format(key)` that has it,
    e.g. figures_by("wear_{}_pct", "target_2030", NETWORKS) == {"water": 39.6, ...}."""
    indicators = programme().indicators
    result = {}
    for key in keys:
        spec = indicators.get(indicator.format(key))
        if spec is not None and name in spec.figures:
            result[key] = figure(spec.name, name)
    return result


def mobility_figure(name: str) -> float | int:
    """One figure of the mobility and safety indicators (e.g. "camera_watch_radius_m")."""
    try:
        value = programme().mobility[name].value
    except KeyError:
        raise CatalogError(f"no mobility figure {name!r} in {TARGETS_FILE}") from None
    assert value is not None  # mobility figures are city-wide numbers
    return value

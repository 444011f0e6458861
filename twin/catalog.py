"""The layer catalog: layers/*.yml read into typed Layer objects.

The catalog is the single source for the schema (migrations), the pygeoapi collections
(`twin config`), tile layers and the viewer's legend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from twin.errors import TwinError
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
CITY_BBOX = (76.74, 43.03, 77.17, 43.40)  # the city's extent, lon/lat


@dataclass(frozen=True)
class Property:
    name: str
    type: str
    title: str = ""
    description: str = ""
    required: bool = False
    unique: bool = False
    unit: str | None = None
    enum: tuple[Any, ...] | None = None
    default: Any = None

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
    title: str
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
    analysis: bool = False

    @property
    def table(self) -> str:
        return self.name

    @property
    def geometry_column(self) -> str:
        return "geom"


def _property(name: str, spec: dict[str, Any], layer: str) -> Property:
    if not NAME.match(name) or name in {"id", "geom"}:
        raise TwinError(f"layer {layer}: bad property name {name!r}")
    kind = spec.get("type", "string")
    if kind not in TYPES:
        raise TwinError(f"layer {layer}: property {name} has unknown type {kind!r}")
    enum = spec.get("enum")
    return Property(name=name, type=kind, title=spec.get("title", ""),
                    description=spec.get("description", ""),
                    required=bool(spec.get("required", False)),
                    unique=bool(spec.get("unique", False)), unit=spec.get("unit"),
                    enum=tuple(enum) if enum else None, default=spec.get("default"))


def parse_layer(doc: dict[str, Any], source: str = "<memory>") -> Layer:
    name = doc.get("name", "")
    if not NAME.match(name):
        raise TwinError(f"{source}: layer name {name!r} must be lower_snake_case")
    if doc.get("geometry") not in GEOMETRY_TYPES:
        raise TwinError(f"{source}: geometry must be one of {sorted(GEOMETRY_TYPES)}")
    props = {key: _property(key, spec or {}, name)
             for key, spec in (doc.get("properties") or {}).items()}
    temporal = doc.get("temporal")
    if temporal and (temporal not in props or props[temporal].type not in {"date", "datetime"}):
        raise TwinError(f"{source}: temporal property {temporal!r} must be a date or datetime")
    tiles = doc.get("tiles") or {}
    return Layer(name=name, title=doc.get("title", name), description=doc.get("description", ""),
                 group=doc.get("group", "Other"), geometry=doc["geometry"],
                 srid=int(doc.get("srid", 4326)), properties=props,
                 keywords=tuple(doc.get("keywords") or ()), temporal=temporal,
                 minzoom=int(tiles.get("minzoom", 0)), maxzoom=int(tiles.get("maxzoom", 16)),
                 style=dict(doc.get("style") or {}), analysis=bool(doc.get("analysis", False)))


@lru_cache(maxsize=8)
def _load(directory: str) -> dict[str, Layer]:
    layers: dict[str, Layer] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        layer = parse_layer(yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {},
                            str(path))
        if layer.name != path.stem:
            raise TwinError(f"{path}: file name must be the layer name ({layer.name}.yml)")
        layers[layer.name] = layer
    return layers


def load_catalog(directory: Path | None = None) -> dict[str, Layer]:
    """All layers, keyed by name, in file-name order."""
    return _load(str(directory or get_settings().layers_dir))


def get_layer(name: str) -> Layer:
    layers = load_catalog()
    if name not in layers:
        raise TwinError(f"unknown layer {name!r}; known layers: {', '.join(layers)}")
    return layers[name]

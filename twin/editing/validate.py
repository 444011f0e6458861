"""Checking a submitted feature against the layer catalog before it reaches the database.

Each check names the problem in words an editor can act on: the property, the allowed values,
the geometry type expected, why a polygon is invalid, how far outside the city it lies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import shapely
from shapely.geometry import shape

from twin.catalog import CITY_BBOX, Layer
from twin.errors import TwinError

MAX_VERTICES = 100_000  # a plot or a utility line has hundreds; more is a mistake or an attack
MAX_STRING = 10_000
BIGINT = 2**63
ACCEPTED_GEOMETRY = {
    "Point": {"Point"}, "MultiPoint": {"Point", "MultiPoint"},
    "LineString": {"LineString"}, "MultiLineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon"}, "MultiPolygon": {"Polygon", "MultiPolygon"},
}


class InvalidFeature(TwinError):
    status = 400


class GeometryTooLarge(TwinError):
    status = 413


@dataclass(frozen=True)
class CheckedFeature:
    properties: dict[str, Any]
    geometry_wkb: bytes | None


def _value(layer: Layer, name: str, value: Any) -> Any:
    prop = layer.properties[name]
    if value is None:
        return None
    kind = prop.type
    where = f"property {name!r} of {layer.name}"
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidFeature(f"{where} must be a string, not {json_type(value)}")
        if "\x00" in value or len(value) > MAX_STRING:
            raise InvalidFeature(f"{where} must be a string of at most {MAX_STRING} characters "
                                 "without NUL characters")
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -BIGINT <= value < BIGINT:
            raise InvalidFeature(f"{where} must be an integer, not {value!r}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or abs(value) > 1e300:
            raise InvalidFeature(f"{where} must be a finite number, not {value!r}")
        value = float(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidFeature(f"{where} must be true or false, not {value!r}")
    elif kind == "date":
        try:
            value = date.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidFeature(f"{where} must be a date like 2024-05-31, not {value!r}") from None
    elif kind == "datetime":
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidFeature(f"{where} must be an RFC 3339 date-time like "
                                 f"2024-05-31T12:00:00Z, not {value!r}") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
    if prop.enum and value not in prop.enum:
        raise InvalidFeature(f"{where} must be one of {', '.join(map(str, prop.enum))}, "
                             f"not {value!r}")
    return value


def json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def check_properties(layer: Layer, properties: Any, *, partial: bool) -> dict[str, Any]:
    """Typed values for the layer's properties; unknown names and missing required ones fail."""
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InvalidFeature(f"`properties` must be an object, not {json_type(properties)}")
    unknown = sorted(set(properties) - set(layer.properties))
    if unknown:
        raise InvalidFeature(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} "
                             f"{', '.join(map(repr, unknown))} for {layer.name}; known: "
                             f"{', '.join(layer.properties)}")
    checked = {name: _value(layer, name, value) for name, value in properties.items()}
    for prop in layer.properties.values():
        if not prop.required:
            continue
        if (not partial and checked.get(prop.name) is None) or \
                (partial and prop.name in checked and checked[prop.name] is None):
            raise InvalidFeature(f"property {prop.name!r} is required for {layer.name}")
    return checked


def _count_coordinates(node: Any, budget: int) -> int:
    """Coordinates in a GeoJSON coordinates array, stopping once over budget (cheap on huge input)."""
    stack, count = [node], 0
    while stack:
        item = stack.pop()
        if isinstance(item, list) and item and not isinstance(item[0], list):
            count += 1
            if count > budget:
                return count
        elif isinstance(item, list):
            stack.extend(item)
    return count


def check_geometry(layer: Layer, geometry: Any) -> bytes:
    """2D WKB of a valid geometry of the layer's type inside the city, or a clear refusal."""
    if not isinstance(geometry, dict):
        raise InvalidFeature(f"`geometry` must be a GeoJSON geometry object, not "
                             f"{json_type(geometry)}")
    kind = geometry.get("type")
    accepted = ACCEPTED_GEOMETRY[layer.geometry]
    if kind not in accepted:
        raise InvalidFeature(f"{layer.name} takes {' or '.join(sorted(accepted))} geometries, "
                             f"not {kind!r}")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list):
        raise InvalidFeature("`geometry.coordinates` must be an array")
    if _count_coordinates(coordinates, MAX_VERTICES) > MAX_VERTICES:
        raise GeometryTooLarge(f"the geometry has more than {MAX_VERTICES} vertices, the limit "
                               "for one feature; split it or simplify it")
    try:
        shp = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InvalidFeature(f"`geometry` is not a valid GeoJSON {kind}: {exc}") from None
    if shp.is_empty:
        raise InvalidFeature("`geometry` is empty")
    shp = shapely.force_2d(shp)
    coords = shapely.get_coordinates(shp)
    if not all(math.isfinite(v) for v in coords.ravel().tolist()):
        raise InvalidFeature("`geometry` has coordinates that are not finite numbers")
    if not shp.is_valid:
        raise InvalidFeature(f"`geometry` is not valid: {shapely.is_valid_reason(shp)}")
    minx, miny, maxx, maxy = shp.bounds
    cminx, cminy, cmaxx, cmaxy = CITY_BBOX
    if minx < cminx or miny < cminy or maxx > cmaxx or maxy > cmaxy:
        raise InvalidFeature(f"`geometry` lies outside the city (lon {cminx}..{cmaxx}, "
                             f"lat {cminy}..{cmaxy}; coordinates are lon, lat in CRS84): "
                             f"its bounds are {[round(v, 6) for v in shp.bounds]}")
    return shapely.to_wkb(shp, include_srid=False)


def check_feature(layer: Layer, body: Any, *, partial: bool = False) -> CheckedFeature:
    """A whole feature (create, replace) or a patch (`partial`: only what it names)."""
    if not isinstance(body, dict):
        raise InvalidFeature(f"the body must be a GeoJSON Feature object, not {json_type(body)}")
    if body.get("type", "Feature" if partial else None) != "Feature":
        raise InvalidFeature("the body must be a GeoJSON Feature (\"type\": \"Feature\"); "
                             "send one feature per request")
    extra = sorted(set(body) - {"type", "id", "geometry", "properties", "bbox", "links"})
    if extra:
        raise InvalidFeature(f"unexpected member(s) {', '.join(map(repr, extra))} in the Feature;"
                             " put attributes under `properties`")
    properties = check_properties(layer, body.get("properties"), partial=partial)
    if "geometry" in body or not partial:
        if body.get("geometry") is None:
            raise InvalidFeature(f"`geometry` is required: {layer.name} features are "
                                 f"{layer.geometry}s")
        return CheckedFeature(properties, check_geometry(layer, body["geometry"]))
    return CheckedFeature(properties, None)

"""Checking a submitted feature against the layer catalog before it reaches the database.

Each check names the problem in words an editor can act on: the property, the allowed values,
the geometry type expected, why a polygon is invalid, how far outside the city it lies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import shapely
from shapely.geometry import shape

from twin.catalog import Layer
from twin.errors import InvalidParameter, PayloadTooLarge

MAX_VERTICES = 100_000  # a plot or a utility line has hundreds; more is a mistake or an attack
MAX_STRING = 10_000
BIGINT = 2**63
ACCEPTED_GEOMETRY = {
    "Point": {"Point"},
    "MultiPoint": {"Point", "MultiPoint"},
    "LineString": {"LineString"},
    "MultiLineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon"},
    "MultiPolygon": {"Polygon", "MultiPolygon"},
}


class InvalidFeature(InvalidParameter):
    """A feature body that is not a valid feature of its layer; the message says where (400)."""


class GeometryTooLarge(PayloadTooLarge):
    """A geometry over the vertex limit (413)."""


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
            raise InvalidFeature(
                f"{where} must be a string of at most {MAX_STRING} characters "
                "without NUL characters"
            )
    elif kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not -BIGINT <= value < BIGINT:
            raise InvalidFeature(f"{where} must be an integer, not {value!r}")
    elif kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or abs(value) > 1e300
        ):
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
            raise InvalidFeature(
                f"{where} must be an RFC 3339 date-time like 2024-05-31T12:00:00Z, not {value!r}"
            ) from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    if prop.enum and value not in prop.enum:
        raise InvalidFeature(
            f"{where} must be one of {', '.join(map(str, prop.enum))}, not {value!r}"
        )
    return value


def json_type(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), "a value")


def check_properties(layer: Layer, properties: Any, *, partial: bool) -> dict[str, Any]:
    """Typed values for the layer's properties; unknown names and missing required ones fail."""
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise InvalidFeature(f"`properties` must be an object, not {json_type(properties)}")
    unknown = sorted(set(properties) - set(layer.properties))
    if unknown:
        raise InvalidFeature(
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))} for {layer.name}; known: "
            f"{', '.join(layer.properties)}"
        )
    checked = {name: _value(layer, name, value) for name, value in properties.items()}
    for prop in layer.properties.values():
        if not prop.required:
            continue
        if (not partial and checked.get(prop.name) is None) or (
            partial and prop.name in checked and checked[prop.name] is None
        ):
            raise InvalidFeature(f"property {prop.name!r} is required for {layer.name}")
    return checked


# What each accepted type's `coordinates` is made of: the nesting is fixed by the type, so the
# check below walks it with plain loops (no recursion on the client's depth).
CONTAINS = {
    "Point": "a position",
    "MultiPoint": "an array of positions",
    "LineString": "an array of at least 2 positions",
    "MultiLineString": "an array of lines (arrays of at least 2 positions)",
    "Polygon": "an array of closed rings (arrays of at least 4 positions)",
    "MultiPolygon": "an array of polygons (arrays of closed rings)",
}


def _where(path: tuple[int, ...]) -> str:
    return "geometry.coordinates" + "".join(f"[{index}]" for index in path)


def _shown(value: Any) -> str:
    """A string, number or position the client sent, in JSON, short enough to quote back."""
    try:
        text = orjson.dumps(value[:41] if isinstance(value, str) else value).decode()
    except TypeError:  # an integer beyond 64 bits
        text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _found(value: Any) -> str:
    """What the client sent where something else belongs: its JSON type, and a scalar itself."""
    if value is None or isinstance(value, (list, dict)):
        return json_type(value)
    return f"{json_type(value)} ({_shown(value)})"


class _Coordinates:
    """One linear pass over a geometry's coordinates, before shapely sees them.

    shapely.geometry.shape turns "76.93" into 76.93 and closes an unclosed ring without a word,
    so a mistake in an editor's GeoJSON was stored as a shape they never sent (issue #14). The
    structure is checked here instead, the vertex limit counted on the way (nothing is built for
    a geometry over it), and each refusal names its place in `geometry.coordinates`.
    Coordinates are lon, lat in CRS84: routes.py refuses any other Content-Crs for writes, so
    no transform comes before this and the lon/lat domain is CRS84's."""

    def __init__(self) -> None:
        self.vertices = 0
        self.dimension = 0  # 2 or 3 once the first position is seen: all must agree

    def array(
        self, value: Any, path: tuple[int, ...], of: str, minimum: int, needs: str
    ) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidFeature(f"{_where(path)}: expected {of}, found {_found(value)}")
        if len(value) < minimum:
            raise InvalidFeature(f"{_where(path)}: {needs}, found {len(value)}")
        return value

    def positions(self, value: Any, path: tuple[int, ...], minimum: int, needs: str) -> list[Any]:
        positions = self.array(value, path, "an array of positions", minimum, needs)
        self.vertices += len(positions)
        if self.vertices > MAX_VERTICES:  # before a single position is looked at
            raise GeometryTooLarge(
                f"the geometry has more than {MAX_VERTICES} vertices, the "
                "limit for one feature; split it or simplify it"
            )
        dimension = self.dimension
        for index, position in enumerate(positions):
            # The common case in a few comparisons (NaN and infinities fail them); anything
            # else, and the first position, gets the exact check that names the problem.
            if type(position) is list and len(position) == dimension:
                lon, lat = position[0], position[1]
                if (
                    (type(lon) is float or type(lon) is int)
                    and -180 <= lon <= 180
                    and (type(lat) is float or type(lat) is int)
                    and -90 <= lat <= 90
                ):
                    if dimension == 2:
                        continue
                    height = position[2]
                    if (type(height) is float or type(height) is int) and -1e308 < height < 1e308:
                        continue
            self.position(position, path + (index,))
            dimension = self.dimension
        return positions

    def position(self, position: Any, path: tuple[int, ...]) -> None:
        must = f"{_where(path)}: a position must be 2 or 3 numbers [lon, lat] or [lon, lat, height]"
        if not isinstance(position, list):
            raise InvalidFeature(f"{must}, found {_found(position)}")
        if not 2 <= len(position) <= 3:
            raise InvalidFeature(f"{must}, found an array of {len(position)}")
        for axis, number in enumerate(position):
            kind = type(number)  # bool is no number here, and a string is not one either
            if kind is float:
                finite = math.isfinite(number)
            elif kind is int:
                finite = -1e308 < number < 1e308
            else:
                raise InvalidFeature(
                    f"{_where(path + (axis,))}: a position must be 2 or 3 numbers, found "
                    f"{_found(number)}" + ("; write numbers without quotes" if kind is str else "")
                )
            if not finite:
                raise InvalidFeature(
                    f"{_where(path + (axis,))}: a coordinate must be a finite "
                    f"number, found {_shown(number)}"
                )
        lon, lat = position[0], position[1]
        if not -180 <= lon <= 180 or not -90 <= lat <= 90:
            raise InvalidFeature(
                f"{_where(path)}: {_shown(position)} is not a place on Earth: "
                "positions are [lon, lat] in CRS84, lon in -180..180 and lat "
                "in -90..90"
            )
        if self.dimension != len(position):
            if self.dimension:
                raise InvalidFeature(
                    f"{_where(path)}: positions mix {self.dimension} and "
                    f"{len(position)} numbers; give every position of the "
                    "geometry the same number of coordinates"
                )
            self.dimension = len(position)

    def line(self, value: Any, path: tuple[int, ...], name: str) -> None:
        self.positions(value, path, 2, f"{name} needs at least 2 positions")

    def polygon(self, value: Any, path: tuple[int, ...], name: str) -> None:
        rings = self.array(
            value,
            path,
            "an array of linear rings (arrays of positions)",
            1,
            f"{name} needs at least one ring (its outer boundary)",
        )
        for number, ring in enumerate(rings):
            where = path + (number,)
            label = f"ring {number} of {name}"
            positions = self.positions(
                ring,
                where,
                4,
                f"{label} needs at least 4 positions "
                "(a closed ring repeats its first position at the end)",
            )
            if positions[0] != positions[-1]:
                raise InvalidFeature(
                    f"{_where(where)}: {label} is not closed: its first and "
                    f"last positions differ ({positions[0]} and "
                    f"{positions[-1]}); repeat the first position at the end"
                )

    def check(self, kind: str, coordinates: Any) -> None:
        """Refuse coordinates whose nesting, positions or rings do not make a `kind`."""
        if kind == "Point":
            self.vertices = 1
            self.position(coordinates, ())
            return
        if kind == "LineString":
            self.line(coordinates, (), "a line")
            return
        if kind == "Polygon":
            self.polygon(coordinates, (), "the polygon")
            return
        members = {"MultiPoint": "point", "MultiLineString": "line", "MultiPolygon": "polygon"}[
            kind
        ]
        parts = self.array(
            coordinates, (), CONTAINS[kind], 1, f"a {kind} needs at least one {members}"
        )
        if kind == "MultiPoint":
            self.positions(parts, (), 1, "a MultiPoint needs at least one point")
            return
        for index, part in enumerate(parts):
            if kind == "MultiLineString":
                self.line(part, (index,), f"line {index}")
            else:
                self.polygon(part, (index,), f"polygon {index}")


def check_geometry(layer: Layer, geometry: Any, extent: tuple[float, float, float, float]) -> bytes:
    """2D WKB of a valid geometry of the layer's type inside the city, or a clear refusal."""
    if not isinstance(geometry, dict):
        raise InvalidFeature(
            f"`geometry` must be a GeoJSON geometry object, not {json_type(geometry)}"
        )
    kind = geometry.get("type")
    accepted = ACCEPTED_GEOMETRY.get(layer.geometry, {layer.geometry})
    if not isinstance(kind, str) or kind not in accepted or kind not in CONTAINS:
        shown = _shown(kind) if isinstance(kind, str) else json_type(kind)
        raise InvalidFeature(
            f"{layer.name} takes {' or '.join(sorted(accepted))} geometries, "
            f"not {shown}"
            + ("; send one geometry per feature" if kind == "GeometryCollection" else "")
        )
    if "coordinates" not in geometry:
        raise InvalidFeature(f"`geometry.coordinates` is required: {CONTAINS[kind]}")
    coordinates = geometry["coordinates"]
    _Coordinates().check(kind, coordinates)
    try:
        shp = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InvalidFeature(f"`geometry` is not a valid GeoJSON {kind}: {exc}") from None
    if shp.is_empty:
        raise InvalidFeature("`geometry` is empty")
    shp = shapely.force_2d(shp)
    if not shp.is_valid:
        raise InvalidFeature(f"`geometry` is not valid: {shapely.is_valid_reason(shp)}")
    minx, miny, maxx, maxy = shp.bounds
    cminx, cminy, cmaxx, cmaxy = extent  # the city's (twin.extent.city_extent)
    if minx < cminx or miny < cminy or maxx > cmaxx or maxy > cmaxy:
        raise InvalidFeature(
            f"`geometry` lies outside the city (lon {cminx}..{cmaxx}, "
            f"lat {cminy}..{cmaxy}; coordinates are lon, lat in CRS84): "
            f"its bounds are {[round(v, 6) for v in shp.bounds]}"
        )
    return shapely.to_wkb(shp, include_srid=False)


def check_feature(
    layer: Layer,
    body: Any,
    *,
    extent: tuple[float, float, float, float],
    partial: bool = False,
) -> CheckedFeature:
    """A whole feature (create, replace) or a patch (`partial`: only what it names)."""
    if not isinstance(body, dict):
        raise InvalidFeature(f"the body must be a GeoJSON Feature object, not {json_type(body)}")
    if body.get("type", "Feature" if partial else None) != "Feature":
        raise InvalidFeature(
            'the body must be a GeoJSON Feature ("type": "Feature"); send one feature per request'
        )
    extra = sorted(set(body) - {"type", "id", "geometry", "properties", "bbox", "links"})
    if extra:
        raise InvalidFeature(
            f"unexpected member(s) {', '.join(map(repr, extra))} in the Feature;"
            " put attributes under `properties`"
        )
    properties = check_properties(layer, body.get("properties"), partial=partial)
    if "geometry" in body or not partial:
        if body.get("geometry") is None:
            raise InvalidFeature(
                f"`geometry` is required: {layer.name} features are {layer.geometry}s"
            )
        return CheckedFeature(properties, check_geometry(layer, body["geometry"], extent))
    return CheckedFeature(properties, None)

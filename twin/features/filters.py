"""CQL2 (text and JSON) to a PostgreSQL condition, with every value a bound parameter.

The `cql2` package parses and validates; its JSON AST is translated here by hand so that each
property is checked against the layer's queryables (identifiers come from the catalog, never
from the request) and each literal is converted to the property's type in Python and bound.

Supported: comparisons (=, <>, <, <=, >, >=, property-property), LIKE, IN, BETWEEN, IS NULL,
AND/OR/NOT, CASEI, + - * /, the spatial functions S_INTERSECTS, S_EQUALS, S_DISJOINT,
S_TOUCHES, S_WITHIN, S_OVERLAPS, S_CROSSES, S_CONTAINS and S_DWITHIN (distance in metres,
on the spheroid), and every temporal function (T_AFTER ... T_STARTS) on date and date-time
properties. Anything else is a 400 that names it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import cql2
import orjson
import shapely
from psycopg import sql
from shapely.geometry import shape

from twin.catalog import Layer
from twin.features.crs import OutputCrs
from twin.features.errors import FeatureQueryError

GEOMETRY_NAMES = ("geometry", "geom")
COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/"}
SPATIAL = {"s_intersects": "ST_Intersects", "s_equals": "ST_Equals", "s_disjoint": "ST_Disjoint",
           "s_touches": "ST_Touches", "s_within": "ST_Within", "s_overlaps": "ST_Overlaps",
           "s_crosses": "ST_Crosses", "s_contains": "ST_Contains"}
METRES = {"m", "meter", "meters", "metre", "metres"}
# Allen's interval relations, a = (a0, a1), b = (b0, b1); an instant is (t, t).
TEMPORAL = {
    "t_after": "{a0} > {b1}",
    "t_before": "{a1} < {b0}",
    "t_contains": "{a0} < {b0} AND {a1} > {b1}",
    "t_disjoint": "NOT ({a0} <= {b1} AND {a1} >= {b0})",
    "t_during": "{a0} > {b0} AND {a1} < {b1}",
    "t_equals": "{a0} = {b0} AND {a1} = {b1}",
    "t_finishedby": "{a0} < {b0} AND {a1} = {b1}",
    "t_finishes": "{a0} > {b0} AND {a1} = {b1}",
    "t_intersects": "{a0} <= {b1} AND {a1} >= {b0}",
    "t_meets": "{a1} = {b0}",
    "t_metby": "{a0} = {b1}",
    "t_overlappedby": "{a0} > {b0} AND {a0} < {b1} AND {a1} > {b1}",
    "t_overlaps": "{a0} < {b0} AND {a1} > {b0} AND {a1} < {b1}",
    "t_startedby": "{a0} = {b0} AND {a1} > {b1}",
    "t_starts": "{a0} = {b0} AND {a1} < {b1}",
}
# Lower case for every script (the database's C collation would only fold ASCII).
CASEI = 'lower({} COLLATE "und-x-icu")'
# SQL casts for bound values, by the catalog's property types (a fixed set, never user input).
CASTS = {"string": "text", "integer": "bigint", "number": "double precision",
         "boolean": "boolean", "date": "date", "datetime": "timestamptz"}
# A bounding-box prefilter for S_DWITHIN in degrees: one degree is at least 55 km up to 60°N,
# so `distance / 55000` degrees always covers `distance` metres at Almaty's latitude.
METRES_PER_DEGREE_FLOOR = 55000.0


@dataclass
class CompiledFilter:
    """A WHERE condition over alias `t` and the parameters it binds."""

    condition: sql.Composable
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the filter as CQL2 text, for links and logs


@dataclass(frozen=True)
class Term:
    """A translated expression and its type (a catalog type, 'geometry' or 'predicate')."""

    sql: sql.Composable
    kind: str
    literal: bool = False
    value: Any = None


class _Translator:
    def __init__(self, layer: Layer, filter_crs: OutputCrs) -> None:
        self.layer = layer
        self.crs = filter_crs
        self.params: dict[str, Any] = {}

    # values -------------------------------------------------------------------------------
    def bind(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"cql{len(self.params)}"
        self.params[name] = value
        placeholder = sql.Placeholder(name)
        return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast)) if cast else placeholder

    def property(self, name: str) -> Term:
        if name in GEOMETRY_NAMES:
            return Term(sql.SQL("t.geom"), "geometry")
        if name == "id":
            return Term(sql.SQL("t.id"), "integer")
        prop = self.layer.properties.get(name)
        if prop is None:
            known = ", ".join(["geometry", "id", *self.layer.properties])
            raise FeatureQueryError(f"filter: unknown property {name!r} in collection "
                                    f"{self.layer.name}; queryables: {known}")
        return Term(sql.SQL("t.{}").format(sql.Identifier(name)), prop.type)

    def literal(self, value: Any) -> Term:
        if isinstance(value, bool):
            return Term(sql.SQL("TRUE" if value else "FALSE"), "boolean", True, value)
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise FeatureQueryError(f"filter: {value!r} is not a finite number")
            return Term(sql.SQL(""), "number", True, value)
        if isinstance(value, str):
            return Term(sql.SQL(""), "string", True, value)
        if isinstance(value, dict):
            if "date" in value:
                return Term(sql.SQL(""), "date", True, _instant(value["date"]))
            if "timestamp" in value:
                return Term(sql.SQL(""), "datetime", True, _instant(value["timestamp"]))
            if "bbox" in value or "type" in value:
                return Term(self.geometry(value), "geometry", True)
        raise FeatureQueryError(f"filter: unsupported value {json.dumps(value)[:80]}")

    def geometry(self, value: dict[str, Any]) -> sql.Composable:
        """A GeoJSON or BBOX literal in the filter CRS, transformed to the layer's SRID."""
        try:
            if "bbox" in value:
                box = [float(v) for v in value["bbox"]]
                if len(box) == 6:
                    box = [box[0], box[1], box[3], box[4]]
                if len(box) != 4:
                    raise ValueError("a BBOX has 4 or 6 numbers")
                geom = shapely.box(*box)
            else:
                geom = shape(value)
            if geom.is_empty or not shapely.is_valid_input(geom):
                raise ValueError("empty geometry")
        except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.ShapelyError) as exc:
            raise FeatureQueryError(f"filter: invalid geometry literal "
                                    f"{json.dumps(value)[:120]} ({exc})") from None
        if self.crs.lat_lon:
            geom = shapely.ops.transform(lambda x, y, *z: (y, x), geom)
        expression = sql.SQL("ST_GeomFromWKB({}, {})").format(
            self.bind(shapely.to_wkb(geom)), sql.Literal(self.crs.srid))
        if self.crs.srid != self.layer.srid:
            expression = sql.SQL("ST_Transform({}, {})").format(
                expression, sql.Literal(self.layer.srid))
        return expression

    def value_as(self, term: Term, kind: str, what: str, name: str) -> sql.Composable:
        """A literal bound with the type of the property it is compared with."""
        if not term.literal:
            return term.sql
        if term.kind == "geometry" or (term.kind == "boolean" and kind != "boolean"):
            raise FeatureQueryError(f"filter: {what} compares {name} ({kind}) with "
                                    f"{term.kind} value {term.value!r}")
        converted = _convert(term.value, kind, what, name)
        if kind == "integer" and isinstance(converted, float):
            return self.bind(converted, "double precision")
        return self.bind(converted, CASTS[kind])

    # expressions --------------------------------------------------------------------------
    def expression(self, node: Any) -> Term:
        if isinstance(node, dict) and "property" in node:
            return self.property(str(node["property"]))
        if isinstance(node, dict) and "op" in node:
            return self.operation(str(node["op"]).lower(), list(node.get("args") or []))
        if isinstance(node, dict) and "function" in node:
            raise FeatureQueryError(f"filter: function {node['function'].get('name')!r} is "
                                    "not supported")
        if isinstance(node, list):
            raise FeatureQueryError("filter: a list is only allowed on the right of IN")
        return self.literal(node)

    def operand(self, node: Any) -> Term:
        """An expression whose literal, when alone, is bound with its own natural type."""
        term = self.expression(node)
        if term.literal and term.kind != "geometry" and term.kind != "boolean":
            cast = {"string": "text", "number": "double precision", "date": "date",
                    "datetime": "timestamptz"}[term.kind]
            return Term(self.bind(term.value, cast), term.kind)
        return term

    def predicate(self, node: Any) -> sql.Composable:
        term = self.expression(node)
        if term.kind in ("predicate", "boolean"):
            return term.sql
        raise FeatureQueryError(f"filter: {json.dumps(node)[:80]} is not a condition")

    def operation(self, op: str, args: list[Any]) -> Term:
        if op in ("and", "or"):
            if len(args) < 2:
                raise FeatureQueryError(f"filter: {op.upper()} needs at least two conditions")
            joined = sql.SQL(" AND " if op == "and" else " OR ").join(
                sql.SQL("({})").format(self.predicate(arg)) for arg in args)
            return Term(sql.SQL("({})").format(joined), "predicate")
        if op == "not":
            self.arity(op, args, 1)
            return Term(sql.SQL("(NOT ({}))").format(self.predicate(args[0])), "predicate")
        if op in COMPARISONS:
            self.arity(op, args, 2)
            return self.comparison(COMPARISONS[op], args[0], args[1])
        if op == "like":
            self.arity(op, args, 2)
            left, right = self.operand(args[0]), self.operand(args[1])
            if right.kind != "string" or left.kind == "geometry":
                raise FeatureQueryError("filter: LIKE needs a text pattern on the right, e.g. "
                                        "name LIKE 'Школа%'")
            return Term(sql.SQL("({} LIKE {})").format(self.as_text(left), right.sql),
                        "predicate")
        if op == "in":
            self.arity(op, args, 2)
            left = self.expression(args[0])
            if left.literal or not isinstance(args[1], list) or not args[1]:
                raise FeatureQueryError("filter: IN needs a property on the left and a "
                                        "non-empty list of values on the right")
            name = _name(args[0])
            values = sql.SQL(", ").join(
                self.value_as(self.literal(v), left.kind, "IN", name) for v in args[1])
            return Term(sql.SQL("({} IN ({}))").format(left.sql, values), "predicate")
        if op == "between":
            self.arity(op, args, 3)
            left = self.expression(args[0])
            name = _name(args[0])
            low, high = (self.value_as(self.expression(a), left.kind, "BETWEEN", name)
                         for a in args[1:])
            return Term(sql.SQL("({} BETWEEN {} AND {})").format(left.sql, low, high),
                        "predicate")
        if op == "isnull":
            self.arity(op, args, 1)
            return Term(sql.SQL("({} IS NULL)").format(self.expression(args[0]).sql),
                        "predicate")
        if op == "casei":
            self.arity(op, args, 1)
            inner = self.expression(args[0])
            if inner.literal:
                if inner.kind != "string":
                    raise FeatureQueryError("filter: CASEI takes text")
                return Term(sql.SQL(CASEI).format(self.bind(inner.value, "text")), "string")
            return Term(sql.SQL(CASEI).format(self.as_text(inner)), "string")
        if op in ARITHMETIC:
            self.arity(op, args, 2)
            left, right = self.operand(args[0]), self.operand(args[1])
            for side in (left, right):
                if side.kind not in ("number", "integer"):
                    raise FeatureQueryError(f"filter: {op} needs numbers, not {side.kind}")
            divide = sql.SQL("NULLIF({}, 0)").format(right.sql) if op == "/" else right.sql
            return Term(sql.SQL("({} {} {})").format(left.sql, sql.SQL(op), divide), "number")
        if op in SPATIAL:
            self.arity(op, args, 2)
            left, right = self.spatial_operand(args[0]), self.spatial_operand(args[1])
            return Term(sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL[op]), left, right),
                        "predicate")
        if op == "s_dwithin":
            return self.dwithin(args)
        if op in TEMPORAL:
            self.arity(op, args, 2)
            (a0, a1), (b0, b1) = self.temporal_operand(args[0]), self.temporal_operand(args[1])
            return Term(sql.SQL("({})").format(sql.SQL(TEMPORAL[op]).format(
                a0=a0, a1=a1, b0=b0, b1=b1)), "predicate")
        raise FeatureQueryError(f"filter: operator or function {op.upper()!r} is not supported")

    @staticmethod
    def arity(op: str, args: list[Any], count: int) -> None:
        if len(args) != count:
            raise FeatureQueryError(f"filter: {op.upper()} takes {count} argument(s), "
                                    f"got {len(args)}")

    def as_text(self, term: Term) -> sql.Composable:
        return term.sql if term.kind == "string" else sql.SQL("({})::text").format(term.sql)

    def comparison(self, operator: str, left_node: Any, right_node: Any) -> Term:
        left, right = self.expression(left_node), self.expression(right_node)
        if left.kind == "geometry" or right.kind == "geometry":
            raise FeatureQueryError("filter: compare geometries with the spatial functions "
                                    "(S_INTERSECTS, S_EQUALS, ...), not with " + operator)
        if left.literal and right.literal:
            left = self.operand(left_node)
            right = self.operand(right_node)
        elif left.literal:
            left = Term(self.value_as(left, right.kind, operator, _name(right_node)), right.kind)
        elif right.literal:
            right = Term(self.value_as(right, left.kind, operator, _name(left_node)), left.kind)
        elif not _comparable(left.kind, right.kind):
            raise FeatureQueryError(f"filter: cannot compare {left.kind} with {right.kind}")
        return Term(sql.SQL("({} {} {})").format(left.sql, sql.SQL(operator), right.sql),
                    "predicate")

    def spatial_operand(self, node: Any) -> sql.Composable:
        term = self.expression(node)
        if term.kind != "geometry":
            raise FeatureQueryError(f"filter: spatial functions take the geometry property or "
                                    f"a geometry, not {json.dumps(node)[:80]}")
        return term.sql

    def dwithin(self, args: list[Any]) -> Term:
        if len(args) == 4:
            unit = args[3].get("property") if isinstance(args[3], dict) else args[3]
            if str(unit).lower() not in METRES:
                raise FeatureQueryError(f"filter: S_DWITHIN distance unit {unit!r} is not "
                                        "supported; distances are in metres")
            args = args[:3]
        self.arity("s_dwithin", args, 3)
        left, right = self.spatial_operand(args[0]), self.spatial_operand(args[1])
        distance = args[2]
        if isinstance(distance, bool) or not isinstance(distance, (int, float)) \
                or not math.isfinite(distance) or distance < 0:
            raise FeatureQueryError("filter: S_DWITHIN distance must be a number of metres "
                                    "(zero or more)")
        # The degree prefilter lets the GiST index work; the spheroid test is exact.
        return Term(sql.SQL("(ST_DWithin({a}, {b}, {deg}) AND "
                            "ST_DWithin({a}::geography, {b}::geography, {m}))").format(
            a=left, b=right, deg=self.bind(float(distance) / METRES_PER_DEGREE_FLOOR,
                                           "double precision"),
            m=self.bind(float(distance), "double precision")), "predicate")

    def temporal_operand(self, node: Any) -> tuple[sql.Composable, sql.Composable]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise FeatureQueryError("filter: an INTERVAL has a start and an end")
            return self.interval_bound(bounds[0], "-infinity"), \
                self.interval_bound(bounds[1], "infinity")
        term = self.expression(node)
        if term.kind not in ("date", "datetime"):
            if term.literal and term.kind == "string":
                term = Term(sql.SQL(""), "datetime", True, _instant(term.value))
            else:
                raise FeatureQueryError(f"filter: temporal functions take date or date-time "
                                        f"properties and values, not {json.dumps(node)[:80]}")
        if term.literal:
            bound = self.bind(term.value, CASTS[term.kind])
            return bound, bound
        return term.sql, term.sql

    def interval_bound(self, node: Any, infinity: str) -> sql.Composable:
        if node == "..":
            return sql.SQL("{}::timestamptz").format(sql.Literal(infinity))
        if isinstance(node, str):
            value = _instant(node)
            return self.bind(value, "date" if type(value) is dt.date else "timestamptz")
        term = self.expression(node)
        if term.kind not in ("date", "datetime"):
            raise FeatureQueryError("filter: INTERVAL bounds are dates, date-times or '..'")
        return self.bind(term.value, CASTS[term.kind]) if term.literal else term.sql


def _name(node: Any) -> str:
    if isinstance(node, dict) and "property" in node:
        return repr(node["property"])
    return "the expression"


def _comparable(a: str, b: str) -> bool:
    groups = ({"integer", "number"}, {"date", "datetime"}, {"string"}, {"boolean"})
    return any(a in group and b in group for group in groups)


def _instant(text: Any) -> dt.date | dt.datetime:
    from twin.features.params import instant

    if not isinstance(text, str):
        raise FeatureQueryError(f"filter: {text!r} is not a date or date-time")
    return instant(text, "filter")


def _convert(value: Any, kind: str, what: str, name: str) -> Any:
    """A literal as the Python value of a property type, or a 400 naming the property."""
    try:
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            return int(value) if float(value).is_integer() else float(value)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind in ("date", "datetime"):
            if isinstance(value, (dt.date, dt.datetime)):
                return value
            return _instant(value)
        if kind == "string":
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError):
        pass
    raise FeatureQueryError(f"filter: {what} compares property {name} ({kind}) with "
                            f"{value!r}, which is not a {kind}")


def parse_cql2(text: str, lang: str) -> dict[str, Any] | bool:
    """The filter's CQL2 JSON AST; a syntax error says where it is."""
    outcome, value, _ = _parsed_cql2(text, lang)
    if outcome == "error":
        raise FeatureQueryError(value)
    return orjson.loads(value)   # a fresh AST: the translator may hold on to its parts


@functools.lru_cache(maxsize=4096)
def _parsed_cql2(text: str, lang: str) -> tuple[str, str, str]:
    """Parse, validate and print a filter once per text: cql2's schema validation costs ~35 ms
    of CPU a call, and clients (the viewer, QGIS paging, dashboards) send the same filters
    again and again. Returns ("ok", AST as JSON, CQL2 text) or ("error", message, "")."""
    try:
        expression = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        expression.validate()
        ast = expression.to_json()
    except cql2.ParseError as exc:
        position = str(exc).strip()
        return "error", f"filter is not valid {lang}: {position}", ""
    except cql2.ValidationError as exc:
        return "error", f"filter is not valid CQL2: {str(exc)[:400]}", ""
    except (ValueError, TypeError) as exc:
        return "error", f"filter is not valid {lang}: {exc}", ""
    try:
        as_text = cql2.parse_json(json.dumps(ast)).to_text()
    except (cql2.ParseError, ValueError):
        as_text = text
    return "ok", orjson.dumps(ast).decode(), as_text


def compile_filter(layer: Layer, text: str, lang: str, filter_crs: OutputCrs) -> CompiledFilter:
    """A CQL2 filter for one layer as a WHERE condition over alias `t`."""
    if not text.strip():
        raise FeatureQueryError("filter is empty")
    ast = parse_cql2(text, lang)
    translator = _Translator(layer, filter_crs)
    condition = translator.predicate(ast)
    return CompiledFilter(condition, translator.params, _parsed_cql2(text, lang)[2] or text)

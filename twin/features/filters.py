"""CQL2 (text and JSON) to a PostgreSQL condition, with every value a bound parameter.

A filter is first bounded by a linear scan of its raw text (length, nesting depth, node
count: check_cql2_bounds, limits in twin.settings, group cql2), then parsed by the `cql2`
package; its JSON AST is translated here by hand so that each property is checked against the
layer's queryables (identifiers come from the catalog, never from the request) and each literal
is converted to the property's type in Python and bound. The translator is the validator: what
it does not know is a 400 naming it.

Supported: comparisons (=, <>, <, <=, >, >=, property-property), LIKE, IN, BETWEEN, IS NULL,
AND/OR/NOT, CASEI, + - * /, the spatial functions S_INTERSECTS, S_EQUALS, S_DISJOINT,
S_TOUCHES, S_WITHIN, S_OVERLAPS, S_CROSSES, S_CONTAINS and S_DWITHIN (distance in metres,
on the spheroid), and every temporal function (T_AFTER ... T_STARTS) on date and date-time
properties. Anything else is a 400 that names it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import anyio
import cql2
import orjson
import shapely
from psycopg import sql
from shapely.geometry import shape

from twin.catalog import Layer
from twin.features.crs import OutputCrs, check_in_domain
from twin.features.errors import FeatureQueryError
from twin.features.times import instant
from twin.settings import get_settings

GEOMETRY_NAMES = ("geometry", "geom")
COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
ARITHMETIC = {"+": "+", "-": "-", "*": "*", "/": "/"}
SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
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
CASTS = {
    "string": "text",
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
}
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
            raise FeatureQueryError(
                f"filter: unknown property {name!r} in collection "
                f"{self.layer.name}; queryables: {known}"
            )
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
        except (
            ValueError,
            TypeError,
            KeyError,
            AttributeError,
            shapely.errors.ShapelyError,
        ) as exc:
            raise FeatureQueryError(
                f"filter: invalid geometry literal {json.dumps(value)[:120]} ({exc})"
            ) from None
        if self.crs.srid != self.layer.srid:  # PostGIS fails the transform beyond the CRS
            check_in_domain(
                self.crs, geom.bounds, f"filter {geom.geom_type} with bounds", "filter-crs"
            )
        if self.crs.lat_lon:
            geom = shapely.ops.transform(lambda x, y, *z: (y, x), geom)
        expression = sql.SQL("ST_GeomFromWKB({}, {})").format(
            self.bind(shapely.to_wkb(geom)), sql.Literal(self.crs.srid)
        )
        if self.crs.srid != self.layer.srid:
            expression = sql.SQL("ST_Transform({}, {})").format(
                expression, sql.Literal(self.layer.srid)
            )
        return expression

    def value_as(self, term: Term, kind: str, what: str, name: str) -> sql.Composable:
        """A literal bound with the type of the property it is compared with."""
        if not term.literal:
            return term.sql
        if term.kind == "geometry" or (term.kind == "boolean" and kind != "boolean"):
            raise FeatureQueryError(
                f"filter: {what} compares {name} ({kind}) with {term.kind} value {term.value!r}"
            )
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
            raise FeatureQueryError(
                f"filter: function {node['function'].get('name')!r} is not supported"
            )
        if isinstance(node, list):
            raise FeatureQueryError("filter: a list is only allowed on the right of IN")
        return self.literal(node)

    def operand(self, node: Any) -> Term:
        """An expression whose literal, when alone, is bound with its own natural type."""
        term = self.expression(node)
        if term.literal and term.kind != "geometry" and term.kind != "boolean":
            cast = {
                "string": "text",
                "number": "double precision",
                "date": "date",
                "datetime": "timestamptz",
            }[term.kind]
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
                sql.SQL("({})").format(self.predicate(arg)) for arg in args
            )
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
                raise FeatureQueryError(
                    "filter: LIKE needs a text pattern on the right, e.g. name LIKE 'Школа%'"
                )
            return Term(sql.SQL("({} LIKE {})").format(self.as_text(left), right.sql), "predicate")
        if op == "in":
            self.arity(op, args, 2)
            left = self.expression(args[0])
            if left.literal or not isinstance(args[1], list) or not args[1]:
                raise FeatureQueryError(
                    "filter: IN needs a property on the left and a "
                    "non-empty list of values on the right"
                )
            name = _name(args[0])
            values = sql.SQL(", ").join(
                self.value_as(self.literal(v), left.kind, "IN", name) for v in args[1]
            )
            return Term(sql.SQL("({} IN ({}))").format(left.sql, values), "predicate")
        if op == "between":
            self.arity(op, args, 3)
            left = self.expression(args[0])
            name = _name(args[0])
            low, high = (
                self.value_as(self.expression(a), left.kind, "BETWEEN", name) for a in args[1:]
            )
            return Term(sql.SQL("({} BETWEEN {} AND {})").format(left.sql, low, high), "predicate")
        if op == "isnull":
            self.arity(op, args, 1)
            return Term(sql.SQL("({} IS NULL)").format(self.expression(args[0]).sql), "predicate")
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
            return Term(
                sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL[op]), left, right), "predicate"
            )
        if op == "s_dwithin":
            return self.dwithin(args)
        if op in TEMPORAL:
            self.arity(op, args, 2)
            (a0, a1), (b0, b1) = self.temporal_operand(args[0]), self.temporal_operand(args[1])
            return Term(
                sql.SQL("({})").format(sql.SQL(TEMPORAL[op]).format(a0=a0, a1=a1, b0=b0, b1=b1)),
                "predicate",
            )
        raise FeatureQueryError(f"filter: operator or function {op.upper()!r} is not supported")

    @staticmethod
    def arity(op: str, args: list[Any], count: int) -> None:
        if len(args) != count:
            raise FeatureQueryError(
                f"filter: {op.upper()} takes {count} argument(s), got {len(args)}"
            )

    def as_text(self, term: Term) -> sql.Composable:
        return term.sql if term.kind == "string" else sql.SQL("({})::text").format(term.sql)

    def comparison(self, operator: str, left_node: Any, right_node: Any) -> Term:
        left, right = self.expression(left_node), self.expression(right_node)
        if left.kind == "geometry" or right.kind == "geometry":
            raise FeatureQueryError(
                "filter: compare geometries with the spatial functions "
                "(S_INTERSECTS, S_EQUALS, ...), not with " + operator
            )
        if left.literal and right.literal:
            left = self.operand(left_node)
            right = self.operand(right_node)
        elif left.literal:
            left = Term(self.value_as(left, right.kind, operator, _name(right_node)), right.kind)
        elif right.literal:
            right = Term(self.value_as(right, left.kind, operator, _name(left_node)), left.kind)
        elif not _comparable(left.kind, right.kind):
            raise FeatureQueryError(f"filter: cannot compare {left.kind} with {right.kind}")
        return Term(
            sql.SQL("({} {} {})").format(left.sql, sql.SQL(operator), right.sql), "predicate"
        )

    def spatial_operand(self, node: Any) -> sql.Composable:
        term = self.expression(node)
        if term.kind != "geometry":
            raise FeatureQueryError(
                f"filter: spatial functions take the geometry property or "
                f"a geometry, not {json.dumps(node)[:80]}"
            )
        return term.sql

    def dwithin(self, args: list[Any]) -> Term:
        if len(args) == 4:
            unit = args[3].get("property") if isinstance(args[3], dict) else args[3]
            if str(unit).lower() not in METRES:
                raise FeatureQueryError(
                    f"filter: S_DWITHIN distance unit {unit!r} is not "
                    "supported; distances are in metres"
                )
            args = args[:3]
        self.arity("s_dwithin", args, 3)
        left, right = self.spatial_operand(args[0]), self.spatial_operand(args[1])
        distance = args[2]
        if (
            isinstance(distance, bool)
            or not isinstance(distance, (int, float))
            or not math.isfinite(distance)
            or distance < 0
        ):
            raise FeatureQueryError(
                "filter: S_DWITHIN distance must be a number of metres (zero or more)"
            )
        # The degree prefilter lets the GiST index work; the spheroid test is exact.
        return Term(
            sql.SQL(
                "(ST_DWithin({a}, {b}, {deg}) AND ST_DWithin({a}::geography, {b}::geography, {m}))"
            ).format(
                a=left,
                b=right,
                deg=self.bind(float(distance) / METRES_PER_DEGREE_FLOOR, "double precision"),
                m=self.bind(float(distance), "double precision"),
            ),
            "predicate",
        )

    def temporal_operand(self, node: Any) -> tuple[sql.Composable, sql.Composable]:
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise FeatureQueryError("filter: an INTERVAL has a start and an end")
            return self.interval_bound(bounds[0], "-infinity"), self.interval_bound(
                bounds[1], "infinity"
            )
        term = self.expression(node)
        if term.kind not in ("date", "datetime"):
            if term.literal and term.kind == "string":
                term = Term(sql.SQL(""), "datetime", True, _instant(term.value))
            else:
                raise FeatureQueryError(
                    f"filter: temporal functions take date or date-time "
                    f"properties and values, not {json.dumps(node)[:80]}"
                )
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
    raise FeatureQueryError(
        f"filter: {what} compares property {name} ({kind}) with {value!r}, which is not a {kind}"
    )


# Bounds before the parser ------------------------------------------------------------------
# cql2's parser recurses once per nesting level on the thread's stack (a filter of 2,000
# brackets or a chain of 20,000 ANDs ends the process with a segfault), and everything after it
# (the AST's conversion, orjson, the translator) recurses too. So each filter is measured by a
# linear scan of its raw text first, and one that is too long, too deep or too large is a 400
# naming the limit before cql2 sees it (docs/limits-cql2.md has the measurements).

_TEXT_TOKENS = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*'?)                       # 'a string', '' inside doubled
  | (?P<quoted>"(?:[^"]|"")*"?)                       # "a quoted identifier"
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[^\W\d]\w*(?:[:.]\w+)*)                 # identifiers, keywords, function names
  | (?P<operator><>|<=|>=|!=|[=<>+\-*/%^])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<comma>,)
  | (?P<other>\S)
""",
    re.VERBOSE,
)
_JSON_TOKENS = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"?)(?P<key>\s*:)?      # a string; a key when a colon follows
  | (?P<open>[\[{])
  | (?P<close>[\]}])
  | (?P<separator>[,:])
  | (?P<scalar>[^\s\[\]{},:"]+)                      # numbers, true, false, null (or junk)
""",
    re.VERBOSE,
)
# Words that end the scope of NOT, of a unary minus and of an arithmetic chain (AND and OR
# bind loosest); the comma ends an argument.
_SEPARATORS = {"and", "or"}
_OPERATOR_WORDS = {"not", "like", "in", "between", "is", "div"}


@dataclass(frozen=True)
class FilterSize:
    """What the bounds look at: characters, nesting depth and nodes (tokens) of a filter."""

    length: int
    depth: int
    nodes: int


def measure_cql2_text(
    text: str, stop_depth: int = 1 << 30, stop_nodes: int = 1 << 30
) -> FilterSize:
    """Depth and nodes of CQL2 text in one pass, without recursion, stopping early past
    `stop_depth` or `stop_nodes`.

    Depth counts what makes cql2's tree deeper: each open bracket (group, function call,
    list), each prefix operator (NOT, unary minus, possibly chained without brackets: `NOT NOT
    x`, `- - 1`) and each binary operator of a chain (`1 + 1 + 1` is a tree as deep as it is
    long). A prefix or chain ends at AND (not BETWEEN's), OR, a comma or the closing bracket.
    Nodes are all tokens but closing brackets: names, literals, operators, commas, opening
    brackets.
    """
    chains = [0]  # per open bracket: prefixes and binary operators still open at that level
    between = [False]  # per open bracket: a BETWEEN waits for its AND
    depth = deepest = nodes = 0
    for match in _TEXT_TOKENS.finditer(text):
        kind = match.lastgroup
        if kind == "close":
            if len(chains) > 1:
                depth -= 1 + chains.pop()
                between.pop()
            continue
        nodes += 1
        if nodes > stop_nodes:
            break
        if kind == "word":
            word = match.group().lower()
            if word == "and" and between[-1]:  # x BETWEEN a AND b: one operation
                between[-1] = False
                kind = "operand"
            else:
                between[-1] = between[-1] or word == "between"
                kind = (
                    "comma"
                    if word in _SEPARATORS
                    else "operator"
                    if word in _OPERATOR_WORDS
                    else "operand"
                )
        if kind == "open":
            chains.append(0)
            between.append(False)
            depth += 1
        elif kind == "comma":  # AND, OR and commas end the prefixes and chains before them
            depth -= chains[-1]
            chains[-1] = 0
        elif kind == "operator":  # unary or binary, each is a level
            chains[-1] += 1
            depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > stop_depth:
                break
    return FilterSize(len(text), deepest, nodes)


def measure_cql2_json(
    text: str, stop_depth: int = 1 << 30, stop_nodes: int = 1 << 30
) -> FilterSize:
    """Depth and nodes of CQL2 JSON on the same scale as CQL2 text, by a scan of its brackets
    outside strings before any JSON parser recurses into it.

    An operation is two brackets deep ({"op": ..., "args": [...]}), so the depth is half the
    bracket depth, rounded up; nodes are the values but objects (strings but keys, numbers,
    literals, arrays), as `a = 1` is three nodes in both encodings."""
    brackets = deepest = nodes = 0
    for match in _JSON_TOKENS.finditer(text):
        kind = match.lastgroup
        if kind == "close":
            brackets = max(0, brackets - 1)
            continue
        if kind == "separator" or match.group("key"):
            continue
        if kind == "open":
            brackets += 1
            if brackets > deepest:
                deepest = brackets
                if (deepest + 1) // 2 > stop_depth:
                    break
            if match.group() == "{":
                continue
        nodes += 1
        if nodes > stop_nodes:
            break
    return FilterSize(len(text), (deepest + 1) // 2, nodes)


def check_cql2_bounds(text: str, lang: str) -> FilterSize:
    """The filter's size, or a 400 naming the first bound it exceeds (twin.settings: cql2
    group, TWIN_CQL2_MAX_LENGTH, _DEPTH, _NODES)."""
    limits = get_settings().cql2
    if len(text) > limits.max_length:
        raise FeatureQueryError(
            f"filter is too long: {len(text)} characters; the limit is "
            f"{limits.max_length} (TWIN_CQL2_MAX_LENGTH)"
        )
    measure = measure_cql2_json if lang == "cql2-json" else measure_cql2_text
    size = measure(text, limits.max_depth, limits.max_nodes)
    if size.depth > limits.max_depth:
        raise FeatureQueryError(
            f"filter is nested too deeply: more than {limits.max_depth} levels of "
            "brackets, NOT, signs and operators; the limit is "
            f"{limits.max_depth} (TWIN_CQL2_MAX_DEPTH)"
        )
    if size.nodes > limits.max_nodes:
        raise FeatureQueryError(
            f"filter is too large: more than {limits.max_nodes} terms (names, values, "
            f"operators); the limit is {limits.max_nodes} (TWIN_CQL2_MAX_NODES)"
        )
    return size


# Parsed filters ----------------------------------------------------------------------------
class _ParsedFilters:
    """The parse outcome of recent filters, least recently used dropped first, bounded in
    entries and in characters held (a flood of distinct long filters cannot grow memory)."""

    def __init__(self, entries: int = 4096, chars: int = 4_000_000) -> None:
        self.entries = entries
        self.chars = chars
        self._held = 0
        self._items: OrderedDict[tuple[str, str], tuple[str, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _size(key: tuple[str, str], value: tuple[str, str, str]) -> int:
        return len(key[0]) + len(value[1]) + len(value[2]) + 64

    def get(self, key: tuple[str, str]) -> tuple[str, str, str] | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: tuple[str, str, str]) -> None:
        size = self._size(key, value)
        if size > self.chars:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._held -= self._size(key, old)
            self._items[key] = value
            self._held += size
            while len(self._items) > self.entries or self._held > self.chars:
                dropped, dropped_value = self._items.popitem(last=False)
                self._held -= self._size(dropped, dropped_value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._held = 0


PARSED = _ParsedFilters()
# At most this many filters not seen before are parsed at once (in worker threads, off the
# event loop), so a burst of distinct filters queues here instead of taking every thread.
PARSE_THREADS = 2
_parse_limiter: anyio.CapacityLimiter | None = None


def is_parsed(text: str, lang: str) -> bool:
    """True when the filter's parse outcome is cached (parsing it costs nothing). A text over
    the length bound is never cached, so it is not even hashed here."""
    if len(text) > get_settings().cql2.max_length:
        return False
    return PARSED.get((text, lang)) is not None


def parse_limiter() -> anyio.CapacityLimiter:
    """The threads that parse new filters (created in the running event loop)."""
    global _parse_limiter
    if _parse_limiter is None:
        _parse_limiter = anyio.CapacityLimiter(PARSE_THREADS)
    return _parse_limiter


def parse_cql2(text: str, lang: str) -> dict[str, Any] | bool:
    """The filter's CQL2 JSON AST; a syntax error says where it is, a filter beyond the bounds
    names the bound."""
    outcome, value, _ = _parsed_cql2(text, lang)
    if outcome == "error":
        raise FeatureQueryError(value)
    try:
        return orjson.loads(value)  # a fresh AST: the translator may hold on to its parts
    except orjson.JSONDecodeError:  # nested beyond orjson's limit: the bounds make it moot
        raise FeatureQueryError("filter is nested too deeply to be read") from None


def _parsed_cql2(text: str, lang: str) -> tuple[str, str, str]:
    """Parse and print a filter once per text (clients such as the viewer, QGIS paging and
    dashboards send the same filters again and again). Returns ("ok", AST as JSON, CQL2 text)
    or ("error", message, "").

    The text is bounded first (check_cql2_bounds). cql2's own schema validation is not used:
    it costs ~20 ms of CPU per filter holding the GIL, and ~9 MB more per nested NOT
    (measured: 100 levels, 613 characters, 1.7 GB); the translator below is the validator,
    naming each operator, argument count and type it does not accept."""
    key = (text, lang)
    cached = PARSED.get(key)
    if cached is not None:
        return cached
    check_cql2_bounds(text, lang)  # raises; refusals are not cached (long texts would crowd it)
    outcome = _parse(text, lang)
    PARSED.put(key, outcome)
    return outcome


def _parse(text: str, lang: str) -> tuple[str, str, str]:
    try:
        expression = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        ast = expression.to_json()
        ast_json = orjson.dumps(ast).decode()
    except cql2.ParseError as exc:
        position = str(exc).strip()
        return "error", f"filter is not valid {lang}: {position}", ""
    except (orjson.JSONEncodeError, RecursionError):
        return "error", "filter is nested too deeply to be read", ""
    except (ValueError, TypeError) as exc:
        return "error", f"filter is not valid {lang}: {exc}", ""
    try:
        as_text = cql2.parse_json(ast_json).to_text()
    except (cql2.ParseError, ValueError, TypeError, RecursionError):
        as_text = text
    return "ok", ast_json, as_text


def compile_filter(layer: Layer, text: str, lang: str, filter_crs: OutputCrs) -> CompiledFilter:
    """A CQL2 filter for one layer as a WHERE condition over alias `t`."""
    if not text.strip():
        raise FeatureQueryError("filter is empty")
    ast = parse_cql2(text, lang)
    translator = _Translator(layer, filter_crs)
    try:
        condition = translator.predicate(ast)
    except RecursionError:  # the bounds keep real and hostile filters far from it
        raise FeatureQueryError("filter is nested too deeply to be translated") from None
    return CompiledFilter(condition, translator.params, _parsed_cql2(text, lang)[2] or text)

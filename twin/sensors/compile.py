"""SensorThings $filter and $orderby trees (twin.sensors.odata) as SQL over one entity set.

Identifiers come from the entity model (twin.sensors.entities), never from the request; every
literal is a bound parameter. A name, function or comparison the model does not know is a 400
naming it (the compiler is the validator). JSON properties (properties/district) and the
Observation's result take the type of what they are compared with; a value of another type
is no match (NULL), never an error. Division and modulo by zero are NULL; geometry literals
are WGS 84 longitude/latitude (checked here so PostGIS never fails on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from psycopg import sql

from twin.sensors.entities import ENTITY_SETS, EntitySet, Relation
from twin.sensors.odata import (
    Call,
    Literal,
    Node,
    Operation,
    Order,
    Path,
    QueryOptionError,
    instant,
)

COMPARE_SQL = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
ARITHMETIC_SQL = {
    "add": "({0} + {1})",
    "sub": "({0} - {1})",
    "mul": "({0} * {1})",
    "div": "({0} / NULLIF({1}, 0))",
    "mod": "mod(({0})::numeric, NULLIF(({1})::numeric, 0))::double precision",
}
_UTC = "({0} AT TIME ZONE 'UTC')"
# name -> (argument kinds, result kind, SQL with {0}, {1}, ...)
FUNCTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "substringof": (("string", "string"), "boolean", "(strpos({1}, {0}) > 0)"),
    "contains": (("string", "string"), "boolean", "(strpos({0}, {1}) > 0)"),
    "startswith": (("string", "string"), "boolean", "starts_with({0}, {1})"),
    "endswith": (("string", "string"), "boolean", "(right({0}, char_length({1})) = {1})"),
    "length": (("string",), "number", "char_length({0})"),
    "indexof": (("string", "string"), "number", "(strpos({0}, {1}) - 1)"),
    "tolower": (("string",), "string", "lower({0})"),
    "toupper": (("string",), "string", "upper({0})"),
    "trim": (("string",), "string", "btrim({0})"),
    "concat": (("string", "string"), "string", "({0} || {1})"),
    "year": (("datetime",), "number", "extract(year FROM " + _UTC + ")::int"),
    "month": (("datetime",), "number", "extract(month FROM " + _UTC + ")::int"),
    "day": (("datetime",), "number", "extract(day FROM " + _UTC + ")::int"),
    "hour": (("datetime",), "number", "extract(hour FROM " + _UTC + ")::int"),
    "minute": (("datetime",), "number", "extract(minute FROM " + _UTC + ")::int"),
    "second": (("datetime",), "number", "floor(extract(second FROM " + _UTC + "))::int"),
    "date": (("datetime",), "date", _UTC + "::date"),
    "now": ((), "datetime", "now()"),
    "round": (("number",), "number", "round(({0})::double precision)"),
    "floor": (("number",), "number", "floor(({0})::double precision)"),
    "ceiling": (("number",), "number", "ceil(({0})::double precision)"),
    "geo.distance": (
        ("geometry", "geometry"),
        "number",
        "ST_Distance(({0})::geography, ({1})::geography)",
    ),
    "geo.length": (("geometry",), "number", "ST_Length(({0})::geography)"),
    "geo.intersects": (("geometry", "geometry"), "boolean", "ST_Intersects({0}, {1})"),
    **{
        f"st_{name}": (("geometry", "geometry"), "boolean", f"ST_{name.capitalize()}({{0}}, {{1}})")
        for name in (
            "equals",
            "disjoint",
            "touches",
            "within",
            "overlaps",
            "crosses",
            "intersects",
            "contains",
        )
    },
}
# bound values' SQL types, by kind
CASTS = {"number": None, "string": "text", "datetime": "timestamptz", "date": "date"}
MAX_GEOMETRY_POINTS = 10_000


@dataclass(frozen=True)
class Term:
    """A compiled expression and its kind (number, string, boolean, datetime, date,
    geometry, json, result, null); `json` holds the result's JSON column for `result`."""

    sql: sql.Composable
    kind: str
    json: sql.Composable | None = None
    literal: Literal | None = None


class Binder:
    """Bound parameters and fresh table aliases of one statement."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.aliases = 0

    def bind(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"p{len(self.params)}"
        self.params[name] = value
        placeholder = sql.Placeholder(name)
        return sql.SQL("{}::{}").format(placeholder, sql.SQL(cast)) if cast else placeholder

    def alias(self) -> str:
        self.aliases += 1
        return f"a{self.aliases}"


def column(template: str, alias: str) -> sql.Composable:
    """A property's column (a fixed template of twin.sensors.entities) over a table alias."""
    return sql.SQL(template.format(t=alias))


def _known(entity: EntitySet) -> str:
    names = ["id", *(p.name for p in entity.properties if p.name != "id")]
    names += [r.name for r in entity.relations]
    return ", ".join(names)


class Compiler:
    """Expressions over one entity set at a table alias."""

    def __init__(self, binder: Binder, what: str = "$filter") -> None:
        self.binder = binder
        self.what = what

    # paths ---------------------------------------------------------------------------------
    def path(self, entity: EntitySet, parts: tuple[str, ...], alias: str) -> Term:
        head, rest = parts[0], parts[1:]
        if head in ("id", "@iot.id") and not rest:
            return Term(column("{t}.id", alias), "number")
        prop = entity.property(head)
        if prop is not None:
            first = column(prop.columns[0], alias)
            if prop.kind == "result":
                json = column(prop.columns[1], alias)
                if rest:
                    return Term(self._json_path(json, rest), "json")
                return Term(first, "result", json=json)
            if rest:
                if prop.kind != "json":
                    raise QueryOptionError(
                        f"{self.what}: {entity.singular}/{head} is a {prop.kind}, it has no "
                        f"part {rest[0][:40]!r}"
                    )
                return Term(self._json_path(first, rest), "json")
            kind = {"interval": "datetime", "id": "number"}.get(prop.kind, prop.kind)
            return Term(first, kind)
        relation = entity.relation(head)
        if relation is not None:
            if relation.many:
                raise QueryOptionError(
                    f"{self.what}: {entity.singular}/{head} is a collection; a path goes "
                    "through single-valued relations (Observation/Datastream/Thing/name)"
                )
            if not rest:
                raise QueryOptionError(
                    f"{self.what}: {head} is an entity; name one of its properties ({head}/name)"
                )
            target = ENTITY_SETS[relation.target]
            inner = self.binder.alias()
            term = self.path(target, rest, inner)
            if term.kind == "result":  # no relation is single-valued towards Observations
                raise QueryOptionError(f"{self.what}: result is not reachable here")
            lookup = sql.SQL("(SELECT {} FROM {} AS {} WHERE {}.id = {})").format(
                term.sql,
                sql.Identifier(target.table),
                sql.Identifier(inner),
                sql.Identifier(inner),
                column("{t}." + relation.fk, alias),
            )
            return Term(lookup, term.kind)
        raise QueryOptionError(
            f"{self.what}: {entity.singular} has no property {head[:60]!r}; it has {_known(entity)}"
        )

    def _json_path(self, json: sql.Composable, parts: tuple[str, ...]) -> sql.Composable:
        return sql.SQL("({} #> {})").format(json, self.binder.bind(list(parts), "text[]"))

    # literals ------------------------------------------------------------------------------
    def literal(self, node: Literal) -> Term:
        if node.kind == "null":
            return Term(sql.SQL("NULL"), "null", literal=node)
        if node.kind == "boolean":
            return Term(sql.SQL("TRUE" if node.value else "FALSE"), "boolean", literal=node)
        if node.kind == "geometry":
            return Term(self.geometry(node.value), "geometry", literal=node)
        if node.kind == "number":
            cast = "bigint" if isinstance(node.value, int) else "double precision"
            return Term(self.binder.bind(node.value, cast), "number", literal=node)
        return Term(self.binder.bind(node.value, CASTS[node.kind]), node.kind, literal=node)

    def geometry(self, wkt: str) -> sql.Composable:
        try:
            geom = shapely.from_wkt(wkt)
        except (shapely.errors.GEOSException, ValueError, TypeError):
            raise QueryOptionError(f"{self.what}: geography'{wkt[:60]}' is not valid WKT") from None
        if geom is None or geom.is_empty:
            raise QueryOptionError(f"{self.what}: geography'{wkt[:60]}' is empty")
        if shapely.get_num_coordinates(geom) > MAX_GEOMETRY_POINTS:
            raise QueryOptionError(
                f"{self.what}: a geometry literal has at most {MAX_GEOMETRY_POINTS} points"
            )
        west, south, east, north = geom.bounds
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise QueryOptionError(
                f"{self.what}: geography'{wkt[:60]}' is not longitude/latitude in degrees "
                "(WGS 84, longitude first)"
            )
        return sql.SQL("ST_GeomFromWKB({}, 4326)").format(self.binder.bind(shapely.to_wkb(geom)))

    # expressions ---------------------------------------------------------------------------
    def expression(self, entity: EntitySet, node: Node, alias: str) -> Term:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Path):
            return self.path(entity, node.parts, alias)
        if isinstance(node, Call):
            return self.call(entity, node, alias)
        return self.operation(entity, node, alias)

    def condition(self, entity: EntitySet, node: Node, alias: str) -> sql.Composable:
        """A $filter as a WHERE condition."""
        try:
            return self.positive(entity, node, alias, "the filter")
        except RecursionError:  # the bounds keep real and hostile filters far from it
            raise QueryOptionError(f"{self.what} is nested too deeply") from None

    def positive(self, entity: EntitySet, node: Node, alias: str, where: str) -> sql.Composable:
        """A condition where NULL and FALSE mean the same (the WHERE and its and/or, not under
        `not`): there a related entity's property compared with a literal is a key among the
        related rows that pass (`related`), not a lookup for every row."""
        if isinstance(node, Operation) and node.op in ("and", "or"):
            parts = [self.positive(entity, arg, alias, node.op) for arg in node.args]
            joined = sql.SQL(" AND " if node.op == "and" else " OR ").join(parts)
            return sql.SQL("({})").format(joined)
        if isinstance(node, Operation) and node.op in COMPARE_SQL:
            found = self.related(entity, node, alias)
            if found is not None:
                return found
        return self.as_kind(self.expression(entity, node, alias), "boolean", where)

    def related(self, entity: EntitySet, node: Operation, alias: str) -> sql.Composable | None:
        """ObservedProperty/name eq 'Lamp state' as `observed_property_id IN (the ids of the
        ObservedProperties named so)`: one hashed set for the statement instead of one lookup
        per row (a page of 10,000 lamps reads half as long). IS TRUE keeps PostgreSQL from
        making it a join, whose sort of whole rows would undo an id-ordered page's index scan.
        Only a to-one relation and a non-null literal: the same rows as the lookup."""
        left, right = node.args
        on_left = isinstance(left, Path)
        path, value = (left, right) if on_left else (right, left)
        if not (isinstance(path, Path) and isinstance(value, Literal)) or len(path.parts) < 2:
            return None
        relation = entity.relation(path.parts[0])
        if value.kind == "null" or relation is None or relation.many or relation.link:
            return None
        target = ENTITY_SETS[relation.target]
        inner = self.binder.alias()
        rest = Path(path.parts[1:])
        test = Operation(node.op, (rest, value) if on_left else (value, rest))
        return sql.SQL("(({} IN (SELECT {}.id FROM {} AS {} WHERE {})) IS TRUE)").format(
            column("{t}." + relation.fk, alias),
            sql.Identifier(inner),
            sql.Identifier(target.table),
            sql.Identifier(inner),
            self.positive(target, test, inner, node.op),
        )

    def as_kind(self, term: Term, kind: str, where: str) -> sql.Composable:
        """The term as a value of `kind`: JSON and results are converted (another type is
        NULL), a quoted ISO instant becomes a date-time; anything else must match."""
        if term.kind == kind:
            return term.sql
        if term.kind == "json":
            json = term.sql
        elif term.kind == "result":
            if kind == "number":
                return term.sql
            json = term.json or sql.SQL("NULL")
            if kind == "json":
                return sql.SQL("coalesce(to_jsonb({}), {})").format(term.sql, json)
        else:
            json = None
        if json is not None:
            if kind == "number":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({0}) = 'number' THEN ({0})::double precision END)"
                ).format(json)
            if kind == "string":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({0}) = 'string' THEN {0} #>> '{{}}' END)"
                ).format(json)
            if kind == "boolean":
                return sql.SQL(
                    "(CASE WHEN jsonb_typeof({0}) = 'boolean' THEN ({0})::boolean END)"
                ).format(json)
        if term.kind == "null":
            return sql.SQL("NULL")
        if kind == "datetime" and term.literal is not None and term.kind == "string":
            return self.binder.bind(instant(term.literal.value, self.what), "timestamptz")
        if kind == "datetime" and term.kind == "date":
            return sql.SQL("(({})::timestamp AT TIME ZONE 'UTC')").format(term.sql)
        shown = term.literal.value if term.literal is not None else term.kind
        raise QueryOptionError(f"{self.what}: {where} needs a {kind}, not {str(shown)[:60]!r}")

    def operation(self, entity: EntitySet, node: Operation, alias: str) -> Term:
        op = node.op
        if op in ("and", "or"):
            left, right = (self.expression(entity, arg, alias) for arg in node.args)
            joined = sql.SQL(" AND " if op == "and" else " OR ").join(
                [self.as_kind(left, "boolean", op), self.as_kind(right, "boolean", op)]
            )
            return Term(sql.SQL("({})").format(joined), "boolean")
        if op == "not":
            inner = self.expression(entity, node.args[0], alias)
            return Term(
                sql.SQL("(NOT {})").format(self.as_kind(inner, "boolean", "not")), "boolean"
            )
        if op == "neg":
            inner = self.expression(entity, node.args[0], alias)
            return Term(sql.SQL("(- {})").format(self.as_kind(inner, "number", "-")), "number")
        left, right = (self.expression(entity, arg, alias) for arg in node.args)
        if op in ARITHMETIC_SQL:
            return Term(
                sql.SQL(ARITHMETIC_SQL[op]).format(
                    self.as_kind(left, "number", op), self.as_kind(right, "number", op)
                ),
                "number",
            )
        return self.compare(op, left, right)

    def compare(self, op: str, left: Term, right: Term) -> Term:
        if "null" in (left.kind, right.kind):
            other = right if left.kind == "null" else left
            if op not in ("eq", "ne"):
                raise QueryOptionError(f"{self.what}: null compares only with eq and ne")
            test = "IS NULL" if op == "eq" else "IS NOT NULL"
            value = other.json if other.kind == "result" else None
            if value is not None:  # a result is null when neither column holds it
                return Term(
                    sql.SQL("(({} {}) {} ({} {}))").format(
                        other.sql,
                        sql.SQL(test),
                        sql.SQL("AND" if op == "eq" else "OR"),
                        value,
                        sql.SQL(test),
                    ),
                    "boolean",
                )
            return Term(sql.SQL("({} {})").format(other.sql, sql.SQL(test)), "boolean")
        kind = self.common_kind(left, right, op)
        if kind == "geometry":
            raise QueryOptionError(
                f"{self.what}: geometries are compared with geo.intersects, st_equals, ..."
            )
        a = self.as_kind(left, kind, op)
        b = self.as_kind(right, kind, op)
        return Term(sql.SQL("({} {} {})").format(a, sql.SQL(COMPARE_SQL[op]), b), "boolean")

    @staticmethod
    def common_kind(left: Term, right: Term, op: str) -> str:
        loose = ("json", "result")
        if left.kind in loose and right.kind in loose:
            return "json"
        if left.kind in loose:
            return right.kind
        if right.kind in loose:
            return left.kind
        kinds = {left.kind, right.kind}
        if kinds == {"string", "datetime"}:
            return "datetime"  # a quoted instant; as_kind refuses other strings
        if kinds == {"date", "datetime"}:
            return "datetime"
        if len(kinds) > 1:
            raise QueryOptionError(f"$filter: {op} compares a {left.kind} with a {right.kind}")
        return left.kind

    def call(self, entity: EntitySet, node: Call, alias: str) -> Term:
        name = node.name
        if name == "substring":
            if len(node.args) not in (2, 3):
                raise QueryOptionError(f"{self.what}: substring takes 2 or 3 arguments")
            terms = [self.expression(entity, arg, alias) for arg in node.args]
            text = self.as_kind(terms[0], "string", name)
            numbers = [
                sql.SQL("(({})::int)").format(self.as_kind(t, "number", name)) for t in terms[1:]
            ]
            start = sql.SQL("({} + 1)").format(numbers[0])
            args = [text, start, *numbers[1:]]
            return Term(sql.SQL("substr({})").format(sql.SQL(", ").join(args)), "string")
        spec = FUNCTIONS.get(name)
        if spec is None:
            known = ", ".join(sorted([*FUNCTIONS, "substring"]))
            raise QueryOptionError(
                f"{self.what}: unknown function {name[:40]!r}; the functions are {known}"
            )
        kinds, result, template = spec
        if len(node.args) != len(kinds):
            raise QueryOptionError(
                f"{self.what}: {name} takes {len(kinds)} argument(s), not {len(node.args)}"
            )
        args = [
            self.as_kind(self.expression(entity, arg, alias), kind, name)
            for arg, kind in zip(node.args, kinds, strict=True)
        ]
        return Term(sql.SQL(template).format(*args), result)

    # $orderby ------------------------------------------------------------------------------
    def order(self, entity: EntitySet, keys: tuple[Order, ...], alias: str) -> list[sql.Composable]:
        """ORDER BY terms, then the entity set's tie-break (stable pages)."""
        out: list[sql.Composable] = []
        for key in keys:
            term = self.expression(entity, key.expression, alias)
            if term.kind == "result":
                value = sql.SQL("{}, {}").format(term.sql, term.json or sql.SQL("NULL"))
                if key.descending:
                    value = sql.SQL("{} DESC, {} DESC").format(term.sql, term.json)
                out.append(value)
                continue
            if term.kind == "geometry":
                raise QueryOptionError("$orderby: geometries have no order")
            out.append(sql.SQL("{} DESC" if key.descending else "{}").format(term.sql))
        out += [column(c, alias) for c in entity.order]
        return out


def link(relation: Relation, source: EntitySet, target: str, key: sql.Composable) -> sql.Composable:
    """The target alias's rows related to the source entity whose id is `key` (a bound id or
    a column of an outer query)."""
    t = sql.Identifier(target)
    if relation.link is not None:
        table, mine, theirs = relation.link
        return sql.SQL("{}.id IN (SELECT {} FROM {} WHERE {} = {})").format(
            t, sql.Identifier(theirs), sql.Identifier(table), sql.Identifier(mine), key
        )
    if relation.many:
        return sql.SQL("{}.{} = {}").format(t, sql.Identifier(relation.fk), key)
    return sql.SQL("{}.id = (SELECT {} FROM {} WHERE id = {})").format(
        t, sql.Identifier(relation.fk), sql.Identifier(source.table), key
    )


def link_between(relation: Relation, source: str, target: str) -> sql.Composable:
    """The target alias's rows related to the row at the source alias."""
    s, t = sql.Identifier(source), sql.Identifier(target)
    if relation.link is not None:
        table, mine, theirs = relation.link
        return sql.SQL("{}.id IN (SELECT {} FROM {} WHERE {} = {}.id)").format(
            t, sql.Identifier(theirs), sql.Identifier(table), sql.Identifier(mine), s
        )
    if relation.many:
        return sql.SQL("{}.{} = {}.id").format(t, sql.Identifier(relation.fk), s)
    return sql.SQL("{}.id = {}.{}").format(t, s, sql.Identifier(relation.fk))

"""SensorThings API 1.1 reads at /sta/v1.1 (Sensing, part 1): the service root, entity sets,
entities by id, navigation through relations, a property, its $value, $ref, and the query
options (twin.sensors.odata parses them, twin.sensors.compile makes them SQL).

  GET /sta/v1.1                                the entity sets and serverSettings.conformance
  GET /sta/v1.1/Things                         a page: value, @iot.count, @iot.nextLink
  GET /sta/v1.1/Things(1)                      one entity (404 JSON when there is none)
  GET /sta/v1.1/Things(1)/Datastreams          navigation (any depth), then (id), $ref
  GET /sta/v1.1/Datastreams(1)/Thing/name      a property; /$value its bare value

Paths and options are read in a worker thread (off the event loop) and every query is bound:
identifiers come from twin.sensors.entities. Two reads are fast paths (docs/sensors.md):
the latest Observation of many Datastreams comes whole from the Datastream's row
(sta_datastreams.latest_*, no observation partition read), and a Datastream's Observations
in a time window are one range of the primary key in the day partitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from psycopg import sql
from psycopg.adapt import Buffer, Loader
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.db.pool import connection
from twin.errors import InvalidParameter, NotFound, TwinError
from twin.http.errors import render
from twin.sensors.compile import Binder, Compiler, column, link, link_between
from twin.sensors.entities import ENTITY_SETS, EntitySet, Property, Relation
from twin.sensors.mqtt import server_settings
from twin.sensors.odata import Expand, Options, Path, QueryOptionError, parse_options
from twin.settings import get_settings
from twin.sqlfiles import query

PREFIX = "/sta/v1.1"
JSON = "application/json"
# The conformance classes of SensorThings 1.1 (OGC 18-088) the read side passes. The write
# side (create-update-delete, data-array) and MQTT (create-observations-via-mqtt,
# receive-updates-via-mqtt) add theirs to CONFORMANCE_ADDED when they are served.
CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
]
CONFORMANCE_ADDED: list[str] = []
# extra members of serverSettings (e.g. the MQTT endpoints under their class URI)
SERVER_SETTINGS_ADDED: dict[str, Any] = {}
# an id has one spelling (no leading zero, no sign): Things(01) is not Things(1)
SEGMENT = re.compile(r"([A-Za-z]+)(?:\(([1-9][0-9]{0,18}|0)\))?|\$ref|\$value")
MAX_ID = 2**63 - 1
LATEST = Path(("phenomenonTime",))


# ---- the resource path ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a resource path: an entity set (reached by `relation`), maybe one id."""

    entity: EntitySet
    id: int | None
    relation: Relation | None
    many: bool


@dataclass(frozen=True)
class Resource:
    steps: tuple[Step, ...]
    member: Property | None = None  # a property at the end of the path
    value: bool = False  # /$value
    ref: bool = False  # /$ref

    @property
    def entity(self) -> EntitySet:
        return self.steps[-1].entity

    @property
    def single(self) -> bool:
        last = self.steps[-1]
        return last.id is not None or not last.many


def parse_path(path: str) -> Resource:
    """The steps of a resource path; anything the model lacks is a 404 naming it."""
    parts = path.split("/")
    steps: list[Step] = []
    prop: Property | None = None
    value = ref = False
    for index, part in enumerate(parts):
        match = SEGMENT.fullmatch(part)
        done = value or ref
        if match is None or done:
            raise NotFound(f"no SensorThings resource {('/' + path)[:120]!r}: {part[:40]!r}")
        if part == "$ref":
            if prop is not None:
                raise NotFound("$ref follows an entity or a collection, not a property")
            ref = True
            continue
        if part == "$value":
            if prop is None:
                raise NotFound("$value follows a property (Things(1)/name/$value)")
            value = True
            continue
        if prop is not None:
            raise NotFound(f"{prop.name} is a property: only /$value may follow it")
        name, raw_id = match.group(1), match.group(2)
        ident = int(raw_id) if raw_id is not None else None
        if ident is not None and ident > MAX_ID:
            raise NotFound(f"no {name} with id {raw_id[:25]}: ids are 64-bit integers")
        if index == 0:
            entity = ENTITY_SETS.get(name)
            if entity is None:
                raise NotFound(f"no entity set {name[:40]!r}: {', '.join(ENTITY_SETS)}")
            steps.append(Step(entity, ident, None, True))
            continue
        last = steps[-1]
        if last.many and last.id is None:
            raise NotFound(f"{name!r} follows a collection: give an entity's id first")
        relation = last.entity.relation(name)
        if relation is not None:
            if ident is not None and not relation.many:
                raise NotFound(f"{name} is a single entity: no id after it")
            steps.append(Step(ENTITY_SETS[relation.target], ident, relation, relation.many))
            continue
        found = last.entity.property(name) if name != "id" else None
        if found is None or ident is not None:
            known = ", ".join(
                [p.name for p in last.entity.properties] + [r.name for r in last.entity.relations]
            )
            raise NotFound(f"{last.entity.singular} has no {name[:40]!r}: {known}")
        prop = found
    return Resource(tuple(steps), prop, value, ref)


def path_condition(steps: tuple[Step, ...], alias: str, binder: Binder) -> sql.Composable:
    """The rows at `alias` that the path's steps select."""
    last = steps[-1]
    parts: list[sql.Composable] = []
    if last.id is not None:
        parts.append(sql.SQL("{}.id = {}").format(sql.Identifier(alias), binder.bind(last.id)))
    if len(steps) > 1 and last.relation is not None:
        before = steps[-2]
        if len(steps) == 2 and before.id is not None:
            parts.append(link(last.relation, before.entity, alias, binder.bind(before.id)))
        else:
            outer = binder.alias()
            parts.append(
                sql.SQL("EXISTS (SELECT 1 FROM {} AS {} WHERE {} AND {})").format(
                    sql.Identifier(before.entity.table),
                    sql.Identifier(outer),
                    link_between(last.relation, outer, alias),
                    path_condition(steps[:-1], outer, binder),
                )
            )
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


# ---- what a row becomes -----------------------------------------------------------------------
#
# PostgreSQL writes each entity's own JSON (its members' texts: ISO instants, GeoJSON, links),
# so a page of 10,000 Datastreams is one text per row here, not 10,000 dicts built in Python;
# expanded entities are appended to their parent's text when the answer is written.


def _utc(value: sql.Composable) -> sql.Composable:
    """A timestamptz as the date and time of an ISO 8601 instant in UTC, without its Z
    (2026-12-05T18:00:00, fractions kept as to_json writes them): the timestamp's text in the
    ISO date style (set by sensors_read/limits) with its one space made a T, about 60 % of
    to_json's time for the 44,000 lamps. The twin's instants are years 1 to 9999 (they come
    through Python's datetime), where the two agree (tests/test_sensors_keyset.py)."""
    return sql.SQL("replace((({}) AT TIME ZONE 'UTC')::text, ' ', 'T')").format(value)


def _member_text(prop: Property, alias: str) -> sql.Composable:
    """A property's JSON as text (never NULL: `null`), in SQL."""
    first = column(prop.columns[0], alias)
    kind = prop.kind
    if kind == "geometry":
        return sql.SQL("coalesce(ST_AsGeoJSON({}), 'null')").format(first)
    if kind == "json":
        return sql.SQL("coalesce(({})::text, 'null')").format(first)
    if kind == "datetime":  # an ISO instant: nothing to escape
        return sql.SQL("""CASE WHEN {} IS NULL THEN 'null' ELSE '"' || {} || 'Z"' END""").format(
            first, _utc(first)
        )
    if kind == "interval":  # an instant, or start/end when the end is there
        end = column(prop.columns[1], alias)
        return sql.SQL(
            """CASE WHEN {s} IS NULL THEN 'null' WHEN {e} IS NULL THEN '"' || {start} || 'Z"' """
            """ELSE '"' || {start} || 'Z/' || {end} || 'Z"' END"""
        ).format(s=first, e=end, start=_utc(first), end=_utc(end))
    if kind == "result":
        second = column(prop.columns[1], alias)
        return sql.SQL("coalesce(to_json({})::text, ({})::text, 'null')").format(first, second)
    return sql.SQL("coalesce(to_json({})::text, 'null')").format(first)


class Entity:
    """An entity's own JSON (text from PostgreSQL), its keys for $expand, and the members
    expansions add (entities, lists of them, counts)."""

    __slots__ = ("extras", "keys", "text")

    def __init__(self, text: str, keys: dict[str, Any]) -> None:
        self.text = text
        self.keys = keys
        self.extras: list[tuple[str, Any]] = []

    def json(self) -> str:
        """The entity's JSON text, with what expansions added."""
        if not self.extras:
            return self.text
        added = ",".join(
            orjson.dumps(name).decode() + ":" + _json_text(value) for name, value in self.extras
        )
        head = self.text[:-1]
        return head + ("," if head != "{" else "") + added + "}"


def _json_text(value: Any) -> str:
    if isinstance(value, Entity):
        return value.json()
    if isinstance(value, list):
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    return orjson.dumps(value).decode()


def _entity(value: Any) -> Any:
    """orjson's default: an Entity is written as its JSON."""
    if isinstance(value, Entity):
        return orjson.Fragment(value.json())
    raise TypeError(type(value).__name__)


@dataclass
class Shape:
    """The members of an entity set's JSON a read returns ($select) and the SQL making it."""

    entity: EntitySet
    properties: list[Property]
    links: list[str]  # navigation links shown
    self_link: bool
    id_shown: bool
    # expansions written by the same SELECT (the latest Observation of a Datastream)
    inline: list[tuple[str, Shape]] = field(default_factory=list)

    @classmethod
    def of(cls, entity: EntitySet, select: tuple[str, ...] | None, what: str) -> Shape:
        relations = [r.name for r in entity.relations]
        if select is None:
            props = [p for p in entity.properties if p.name != "id"]
            return cls(entity, props, relations, True, True)
        props, links = [], []
        for name in select:
            if name in ("id", "@iot.id", "@iot.selfLink"):
                continue
            prop = entity.property(name)
            if prop is not None:
                props.append(prop)
            elif name in relations:
                links.append(name)
            else:
                known = ", ".join(
                    [
                        "id",
                        "@iot.selfLink",
                        *(p.name for p in entity.properties if p.name != "id"),
                        *relations,
                    ]
                )
                raise QueryOptionError(
                    f"{what}: {entity.singular} has no {name[:40]!r}; select from {known}"
                )
        return cls(
            entity, props, links, "@iot.selfLink" in select, bool({"id", "@iot.id"} & set(select))
        )

    def columns(self, alias: str, binder: Binder, base: str) -> list[sql.Composable]:
        """id, the single-valued relations' keys (for $expand), then the entity's JSON."""
        out = [column("{t}.id", alias)]
        out += [column("{t}." + r.fk, alias) for r in self.entity.relations if not r.many]
        out.append(sql.SQL("({})::text").format(self.json(alias, binder, base)))
        return out

    def json(self, alias: str, binder: Binder, base: str) -> sql.Composable:
        """The entity's JSON text over a table alias: its selected members' texts joined
        (a third of json_build_object's time for a page of 10,000)."""
        ident = column("{t}.id", alias)
        root = binder.bind(orjson.dumps(base).decode()[1:-1], "text")  # escaped for JSON

        def link(after: str) -> sql.Composable:
            return sql.SQL("{} || {} || {} || {} || {}").format(
                sql.Literal('"'), root, sql.Literal(f"/{self.entity.name}("), ident,
                sql.Literal(")" + after + '"'),
            )  # fmt: skip

        members: list[tuple[str, sql.Composable]] = []
        if self.self_link:
            members.append(("@iot.selfLink", link("")))
        if self.id_shown:
            members.append(("@iot.id", sql.SQL("({})::text").format(ident)))
        for prop in self.properties:
            members.append((prop.name, _member_text(prop, alias)))
        for name in self.links:
            members.append((f"{name}@iot.navigationLink", link("/" + name)))
        for name, shape in self.inline:
            inner = binder.alias()
            latest = query(
                "sensors_read/latest",
                observation=shape.json(inner, binder, base),
                o=inner,
                t=alias,
            )
            members.append((name, sql.SQL("coalesce({}, '[]')").format(latest)))
        if not members:
            return sql.Literal("{}")
        parts = [
            sql.SQL("{} || {}").format(
                sql.Literal(("{" if i == 0 else ",") + orjson.dumps(name).decode() + ":"), value
            )
            for i, (name, value) in enumerate(members)
        ]
        return sql.SQL("({} || '}}')").format(sql.SQL(" || ").join(parts))

    def entity_of(self, row: tuple[Any, ...]) -> Entity:
        """The entity of a row selected by `columns` (the row's first values are its keys)."""
        keys = {"id": row[0]}
        at = 1
        for relation in self.entity.relations:
            if not relation.many:
                keys[relation.name] = row[at]
                at += 1
        return Entity(row[at], keys)


# ---- reading ----------------------------------------------------------------------------------


@dataclass
class Collection:
    """A collection's page: its entities' JSON texts joined by commas, how many, $count,
    and where the next page starts (the last id for $skiptoken; else $skip)."""

    text: bytes
    size: int
    count: int | None
    after: int | None
    more: bool


class PageQuery:
    """The SELECT of one page of an entity set: the path's condition, the $filter, the
    $orderby keys then the set's tie-break, one row more than the page."""

    def __init__(
        self,
        entity: EntitySet,
        condition: Callable[[Binder, str], sql.Composable],
        options: Options,
        single: bool,
        default_top: int,
        base: str,
        whole: bool = True,
    ) -> None:
        binder, alias = Binder(), "t"
        compiler = Compiler(binder)
        where = [condition(binder, alias)]
        if options.filter is not None:
            where.append(compiler.condition(entity, options.filter, alias))
        self.shape = Shape.of(entity, options.select, "$select")
        self.expand = inline_latest(entity, self.shape, options.expand)
        self.top = 1 if single else (default_top if options.top is None else options.top)
        compiler.what = "$orderby"
        order = compiler.order(entity, options.orderby, alias)
        self.binder = binder
        self.condition = sql.SQL(" AND ").join(where)  # what $count counts
        # pages in id order continue after the last id ($skiptoken in @iot.nextLink)
        self.keyset = not single and not options.orderby and entity.order == ("{t}.id",)
        page = self.condition
        if options.after is not None:
            if not self.keyset:
                raise QueryOptionError(
                    "$skiptoken continues a collection in id order (no $orderby): follow "
                    "@iot.nextLink as it is"
                )
            after = binder.bind(options.after, "bigint")
            page = sql.SQL("{} AND {}.id > {}").format(page, sql.Identifier(alias), after)
        # nothing left for Python to add to the entities: PostgreSQL writes the page's JSON
        # (in id order without a window over the page: sensors_read/page_keyset)
        self.whole = whole and not single and not self.expand
        if self.whole:
            in_ids = self.keyset and self.top > 0
            self.statement = query(
                "sensors_read/page_keyset" if in_ids else "sensors_read/page_json",
                json=self.shape.json(alias, binder, base),
                table=entity.table,
                t=alias,
                condition=page,
                order=sql.SQL(", ").join(order),
            )
        else:
            self.statement = query(
                "sensors_read/page",
                columns=sql.SQL(", ").join(self.shape.columns(alias, binder, base)),
                table=entity.table,
                t=alias,
                condition=page,
                order=sql.SQL(", ").join(order),
            )
        self.params = {
            **binder.params,
            "limit": self.top + 1,
            "offset": options.skip,
            "top": self.top,
        }


def explain(conn: psycopg.Connection, path: str, pairs: list[tuple[str, str]]) -> str:
    """The plan of a read's page (EXPLAIN): how a test or a benchmark sees that a
    Datastream's day is one primary-key range of one day partition."""
    target = parse_path(path)
    options = parse_options(pairs)

    def condition(binder: Binder, alias: str) -> sql.Composable:
        return path_condition(target.steps, alias, binder)

    top = get_settings().sensors.top
    built = PageQuery(target.entity, condition, options, target.single, top, "")
    rows = conn.execute(sql.SQL("EXPLAIN ") + built.statement, built.params).fetchall()
    return "\n".join(row[0] for row in rows)


class Reader:
    """One request's reads on one connection."""

    def __init__(self, conn: psycopg.Connection, base: str) -> None:
        self.conn = conn
        self.base = base
        self.top = get_settings().sensors.top

    def fetch(
        self, statement: sql.Composable, params: dict[str, Any], raw: bool = False
    ) -> list[tuple[Any, ...]]:
        """The statement's rows; `raw`: text values as their UTF-8 bytes (_RawText)."""
        try:
            cursor = self.conn.cursor()
            if raw:
                cursor.adapters.register_loader("text", _RawText)
            return cursor.execute(statement, params).fetchall()
        except psycopg.errors.QueryCanceled:
            limit = get_settings().sensors.statement_timeout_ms
            raise QueryOptionError(
                f"the query ran longer than {limit} ms (TWIN_STA_STATEMENT_TIMEOUT_MS): narrow "
                "it with $filter, a smaller $top or fewer $expand"
            ) from None
        except psycopg.errors.DataError as exc:  # overflow, a bad cast in the filter, ...
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise QueryOptionError(f"the query could not be evaluated: {first}") from None

    def page(
        self,
        entity: EntitySet,
        condition: Callable[[Binder, str], sql.Composable],
        options: Options,
        single: bool = False,
    ) -> tuple[list[Entity], int | None, bool]:
        """Entities, their count ($count) and whether more follow the page."""
        built = PageQuery(entity, condition, options, single, self.top, self.base, whole=False)
        rows = self.fetch(built.statement, built.params)
        more = len(rows) > built.top
        entity_of = built.shape.entity_of
        entities = [entity_of(row) for row in rows[: built.top]]
        self.expand(entity, entities, built.expand)
        return entities, self.count(built, options, single), more

    def count(self, built: PageQuery, options: Options, single: bool) -> int | None:
        """$count=true: the entities the path and $filter select, without $top and $skip."""
        if not options.count or single:
            return None
        counted = query(
            "sensors_read/count", table=built.shape.entity.table, t="t", condition=built.condition
        )
        return self.fetch(counted, built.binder.params)[0][0]

    def collection(
        self,
        entity: EntitySet,
        condition: Callable[[Binder, str], sql.Composable],
        options: Options,
    ) -> Collection:
        """A collection's page as JSON text: written whole by PostgreSQL when nothing is left
        for Python to add (no expansion but the inline latest Observation), so the 10,000
        Datastreams of a page are one text, never 10,000 rows."""
        built = PageQuery(entity, condition, options, False, self.top, self.base)
        if built.whole:
            rows, text, last = self.fetch(built.statement, built.params, raw=True)[0]
        else:
            found = self.fetch(built.statement, built.params)
            rows, last = len(found), None
            entities = [built.shape.entity_of(row) for row in found[: built.top]]
            if entities:
                last = entities[-1].keys["id"]
            self.expand(entity, entities, built.expand)
            text = ",".join(e.json() for e in entities).encode()
        more = rows > built.top
        return Collection(
            text or b"",
            min(rows, built.top),
            self.count(built, options, False),
            last if more and built.keyset else None,
            more,
        )

    def exists(self, steps: tuple[Step, ...]) -> bool:
        binder = Binder()
        statement = query(
            "sensors_read/exists",
            table=steps[-1].entity.table,
            t="t",
            condition=path_condition(steps, "t", binder),
        )
        return bool(self.fetch(statement, binder.params)[0][0])

    # $expand --------------------------------------------------------------------------------
    def expand(
        self,
        entity: EntitySet,
        rows: list[Entity],
        expands: list[Expand],
    ) -> None:
        if not rows:
            return
        for item in expands:
            relation = entity.relation(item.name)
            if relation is None:
                known = ", ".join(r.name for r in entity.relations)
                raise QueryOptionError(
                    f"$expand: {entity.singular} has no {item.name[:40]!r}; expand {known}"
                )
            target = ENTITY_SETS[relation.target]
            if relation.many:
                self.expand_many(entity, relation, target, rows, item.options)
            else:
                self.expand_one(relation, target, rows, item.options)

    def expand_one(
        self,
        relation: Relation,
        target: EntitySet,
        rows: list[Entity],
        options: Options,
    ) -> None:
        if options.orderby or options.top is not None or options.skip or options.count:
            raise QueryOptionError(
                f"$expand of {relation.name}: a single entity takes $select, $filter and "
                "$expand only"
            )
        keys = sorted({e.keys[relation.name] for e in rows if e.keys[relation.name] is not None})
        if not keys:
            return
        inner = Options(options.filter, options.select, options.expand, top=len(keys))

        def among(binder: Binder, alias: str) -> sql.Composable:
            return sql.SQL("{}.id = ANY({})").format(
                sql.Identifier(alias), binder.bind(_id_array(keys), "bigint[]")
            )

        found, _, _ = self.page(target, among, inner)
        by_id = {e.keys["id"]: e for e in found}
        for parent in rows:
            child = by_id.get(parent.keys[relation.name])
            if child is not None:
                parent.extras.append((relation.name, child))

    def expand_many(
        self,
        entity: EntitySet,
        relation: Relation,
        target: EntitySet,
        rows: list[Entity],
        options: Options,
    ) -> None:
        parents = _id_array([e.keys["id"] for e in rows])
        shape = Shape.of(target, options.select, f"$expand of {relation.name}")
        top = self.top if options.top is None else options.top
        binder, alias = Binder(), "t"
        expands = inline_latest(target, shape, options.expand)
        columns = sql.SQL(", ").join(shape.columns(alias, binder, self.base))
        compiler = Compiler(binder, f"$filter of {relation.name}")
        condition: sql.Composable = sql.SQL("TRUE")
        if options.filter is not None:
            condition = compiler.condition(target, options.filter, alias)
        compiler.what = f"$orderby of {relation.name}"
        order = compiler.order(target, options.orderby, alias)
        linked = link(relation, entity, alias, sql.SQL("p.parent"))
        statement = query(
            "sensors_read/expand",
            columns=columns,
            table=target.table,
            t=alias,
            link=linked,
            condition=condition,
            order=sql.SQL(", ").join(order),
        )
        params = {**binder.params, "parents": parents, "limit": top, "offset": options.skip}
        found = self.fetch(statement, params)
        if options.count:
            counted = query(
                "sensors_read/expand_count",
                table=target.table,
                t=alias,
                link=linked,
                condition=condition,
            )
            counts = dict(self.fetch(counted, {**binder.params, "parents": parents}))
            for parent in rows:
                parent.extras.append(
                    (f"{relation.name}@iot.count", counts.get(parent.keys["id"], 0))
                )
        children: dict[int, list[Entity]] = {}
        found_entities = []
        for row in found:
            child = shape.entity_of(row[1:])
            children.setdefault(row[0], []).append(child)
            found_entities.append(child)
        for parent in rows:
            parent.extras.append((relation.name, children.get(parent.keys["id"], [])))
        self.expand(target, found_entities, expands)


class _RawText(Loader):
    """A text value as its UTF-8 bytes: a page's JSON written by PostgreSQL goes out as it
    came (no decoding to str and encoding back of a page's megabyte)."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _id_array(ids: list[int]) -> str:
    """Ids as one PostgreSQL array literal (bound as text: psycopg would adapt a long list
    element by element, ~30 ms for 10,000)."""
    return "{" + ",".join(map(str, ids)) + "}"


def inline_latest(entity: EntitySet, shape: Shape, expands: list[Expand]) -> list[Expand]:
    """Move the latest-Observation expansions of Datastreams into the shape (one SELECT);
    the other expansions are returned for Reader.expand."""
    rest = []
    for item in expands:
        relation = entity.relation(item.name)
        if relation is not None and _is_latest(relation, item.options) and not item.options.expand:
            target = ENTITY_SETS[relation.target]
            shape.inline.append(
                (item.name, Shape.of(target, item.options.select, f"$expand of {item.name}"))
            )
        else:
            rest.append(item)
    return rest


def _is_latest(relation: Relation, options: Options) -> bool:
    """$expand=Observations($top=1;$orderby=phenomenonTime desc) of Datastreams, nothing
    else: the Datastream row knows it (the fast path)."""
    return (
        relation.name == "Observations"
        and relation.fk == "datastream_id"
        and options.top == 1
        and len(options.orderby) == 1
        and options.orderby[0].descending
        and options.orderby[0].expression == LATEST
        and options.filter is None
        and not options.skip
        and not options.count
    )


# ---- HTTP ---------------------------------------------------------------------------------------


def _base(request: Request) -> str:
    root = get_settings().internal.server_url or str(request.base_url).rstrip("/")
    return root + PREFIX


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, default=_entity), status_code=status, media_type=JSON)


async def service_root(request: Request) -> Response:
    """GET /sta/v1.1: the entity sets and the conformance classes the server passes."""
    if request.query_params:
        return render(InvalidParameter("the service root takes no query options"))
    base = _base(request)
    settings: dict[str, Any] = {"conformance": [*CONFORMANCE, *CONFORMANCE_ADDED]}
    settings.update(SERVER_SETTINGS_ADDED)
    mqtt = server_settings()  # MQTT on or off, its endpoint (twin/sensors/mqtt.py)
    settings["conformance"] += mqtt.pop("conformance")
    settings.update(mqtt)
    body = {
        "value": [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS],
        "serverSettings": settings,
    }
    return _json(body)


async def resource(request: Request) -> Response:
    """GET /sta/v1.1/<resource path>: an entity set, an entity, a navigation, a property."""
    params = request.path_params
    path = params["entity_set"]
    if "entity_id" in params:
        path += f"({params['entity_id']})"
    if "navigation" in params:
        path += "/" + params["navigation"]
    pairs = list(request.query_params.multi_items())
    base = _base(request)
    try:
        return await run_in_threadpool(_answer, path, pairs, base)
    except TwinError as exc:
        return render(exc)


def _answer(path: str, pairs: list[tuple[str, str]], base: str) -> Response:
    target = parse_path(path)
    options = parse_options(pairs)
    single = target.single
    if single and (
        options.filter is not None
        or options.orderby
        or options.top is not None
        or options.skip
        or options.count
    ):
        raise QueryOptionError("$filter, $orderby, $top, $skip and $count apply to collections")
    if target.member is not None:
        if options.select is not None or options.expand:
            raise QueryOptionError("a property takes no $select or $expand")
        options.select = (target.member.name,)
    if target.ref:
        options.select, options.expand = ("@iot.selfLink",), []
    steps = target.steps
    timeout_ms = get_settings().sensors.statement_timeout_ms
    with connection(timeout=10) as conn, conn.transaction():
        conn.execute(query("sensors_read/limits"), {"timeout_ms": str(timeout_ms)})
        reader = Reader(conn, base)

        def condition(binder: Binder, alias: str) -> sql.Composable:
            return path_condition(steps, alias, binder)

        if single:
            entities, _, _ = reader.page(target.entity, condition, options, single)
            if not entities:
                raise NotFound(_missing(steps))
        else:
            page = reader.collection(target.entity, condition, options)
            if not page.size and not options.skip and options.after is None and len(steps) > 1:
                # an empty collection under an entity that is not there is that entity's 404
                owner = max(i for i, s in enumerate(steps) if s.id is not None or i == 0)
                if (owner > 0 or steps[0].id is not None) and not reader.exists(steps[: owner + 1]):
                    raise NotFound(_missing(steps[: owner + 1]))
    if single:
        entity = entities[0]
        if target.member is not None:
            value = orjson.loads(entity.text).get(target.member.name)
            if target.value:
                return _value(value)
            return _json({target.member.name: value})
        return _json(entity)
    # one join of the parts: each `+` of a page's megabyte would be a copy of it
    parts = [b"{"]
    if page.count is not None:
        parts.append(b'"@iot.count":' + str(page.count).encode() + b",")
    parts += [b'"value":[', page.text, b"]"]
    if page.more:
        kept = [(k, v) for k, v in pairs if k not in ("$skip", "$skiptoken")]
        if page.after is not None:  # keyset: the next page starts after this one's last id
            kept.append(("$skiptoken", str(page.after)))
        else:
            top = get_settings().sensors.top if options.top is None else options.top
            kept.append(("$skip", str(options.skip + top)))
        link = f"{base}/{path}?" + urlencode(kept, safe="$")
        parts.append(b',"@iot.nextLink":' + orjson.dumps(link))
    parts.append(b"}")
    return Response(b"".join(parts), media_type=JSON)


def _missing(steps: tuple[Step, ...]) -> str:
    shown = "/".join(
        (s.entity.name if s.relation is None else s.relation.name)
        + (f"({s.id})" if s.id is not None else "")
        for s in steps
    )
    return f"no SensorThings entity at {shown}"


def _value(value: Any) -> Response:
    """A property's bare value: text for strings, numbers and booleans, JSON for objects."""
    if isinstance(value, (dict, list)):
        return Response(orjson.dumps(value), media_type=JSON)
    if value is None:
        return Response(status_code=204)
    if isinstance(value, bool):
        return Response("true" if value else "false", media_type="text/plain")
    return Response(str(value), media_type="text/plain; charset=utf-8")

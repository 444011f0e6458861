"""The query options of SensorThings reads ($filter, $select, $expand, $orderby, $top, $skip,
$count), parsed from untrusted text into a small syntax tree.

Every option is bounded before it is parsed (length, then a linear scan of its tokens for the
node count and the nesting depth: TWIN_STA_QUERY_MAX_*), so a hostile query costs a regex pass
and a 400, never a deep recursion. The parser is syntax only: which names exist, and what
they mean in SQL, is twin.sensors.compile's business (a whitelist of the entity model).

The $filter language is the OData subset SensorThings 1.1 names: eq ne gt ge lt le, and or
not, parentheses, add sub mul div mod, unary minus, function calls (string, date/time, math,
geo), paths through relations (Datastream/ObservedProperty/name, properties/district), ISO
instants without quotes, 'strings' ('' escapes a quote), numbers, true/false/null and
geography'POINT(76.9 43.2)' literals.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from twin.errors import InvalidParameter
from twin.settings import get_settings

OPTIONS = ("$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$count", "$skiptoken")
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ADDITIVE = ("add", "sub")
MULTIPLICATIVE = ("mul", "div", "mod")
# navigation paths at one level of $expand (an entity has at most four relations)
MAX_EXPANDS = 16
KEYWORDS = frozenset({"and", "or", "not", *COMPARISONS, *ADDITIVE, *MULTIPLICATIVE})

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<geo>(?:geography|geometry)'(?:[^']|'')*')
    |(?P<string>'(?:[^']|'')*')
    |(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_@][A-Za-z0-9_.@]*)
    |(?P<punct>[(),/-])
    """,
    re.VERBOSE,
)


class QueryOptionError(InvalidParameter):
    """A query option that is not valid, or beyond the bounds (400 naming it)."""


# ---- the syntax tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A value: kind is number, string, boolean, null, datetime, date or geometry (WKT)."""

    value: Any
    kind: str


@dataclass(frozen=True)
class Path:
    """A property, or a path through relations and into JSON (Thing/properties/district)."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    """A function call, name lower-cased (geo.distance, substringof, year, now)."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Operation:
    """and, or, not, the comparisons, add sub mul div mod, and neg (unary minus)."""

    op: str
    args: tuple[Any, ...]


Node = Literal | Path | Call | Operation


@dataclass(frozen=True)
class Order:
    """One key of $orderby."""

    expression: Node
    descending: bool = False


@dataclass
class Options:
    """The query options of one request, or of one $expand level."""

    filter: Node | None = None
    select: tuple[str, ...] | None = None
    expand: list[Expand] = field(default_factory=list)
    orderby: tuple[Order, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    # $skiptoken: the id after which an id-ordered page continues (written in @iot.nextLink:
    # keyset paging, so the fifth page of 10,000 does not pass over 40,000 rows first)
    after: int | None = None


@dataclass
class Expand:
    """One navigation property to expand, with the options of its entities."""

    name: str
    options: Options = field(default_factory=Options)


# ---- bounds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


def check_length(text: str, what: str) -> None:
    """The first bound: an option's length."""
    limit = get_settings().sensors.query_max_length
    if len(text) > limit:
        raise QueryOptionError(
            f"{what} is too long: {len(text)} characters; the limit is {limit} "
            "(TWIN_STA_QUERY_MAX_LENGTH)"
        )


def tokens(text: str, what: str) -> list[Token]:
    """The tokens of an option, after its length bound; a stray character is a 400 saying
    where. Stops with a 400 as soon as the node bound is passed."""
    limits = get_settings().sensors
    check_length(text, what)
    out: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise QueryOptionError(f"{what}: unexpected {text[at : at + 20]!r} at {at}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, match.group(), at))
            if len(out) > limits.query_max_nodes:
                raise QueryOptionError(
                    f"{what} is too large: more than {limits.query_max_nodes} terms (names, "
                    f"values, operators); the limit is {limits.query_max_nodes} "
                    "(TWIN_STA_QUERY_MAX_NODES)"
                )
        at = match.end()
    _check_depth(out, what)
    return out


def _check_depth(items: list[Token], what: str) -> None:
    """Brackets plus chains of `not` and unary minus, in one pass (the parser's recursion
    follows exactly these)."""
    limit = get_settings().sensors.query_max_depth
    level = chain = 0  # open brackets and the chains before them; the current chain
    stack: list[int] = []
    previous = ""
    for token in items:
        text = token.text
        if (token.kind == "name" and text.lower() == "not") or (
            text == "-" and (previous in ("", "(", ",", "-") or previous.lower() in KEYWORDS)
        ):
            chain += 1
        elif text == "(":
            stack.append(chain)
            level += chain + 1
            chain = 0
        elif text == ")":
            chain = stack.pop() if stack else 0
            level = max(0, level - chain - 1)
        elif token.kind == "name" and text.lower() in ("and", "or"):
            chain = 0
        if level + chain > limit:
            raise QueryOptionError(
                f"{what} is nested too deeply: more than {limit} levels of brackets, not and "
                f"minus; the limit is {limit} (TWIN_STA_QUERY_MAX_DEPTH)"
            )
        previous = text


# ---- $filter and $orderby expressions ----------------------------------------------------------


class _Parser:
    def __init__(self, items: list[Token], what: str) -> None:
        self.items = items
        self.at = 0
        self.what = what

    def peek(self) -> Token | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def word(self) -> str:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "name" else ""

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryOptionError(f"{self.what} ends too early")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise QueryOptionError(
                f"{self.what}: expected {text!r} at {token.at}, found {token.text[:40]!r}"
            )

    def fail_extra(self) -> None:
        token = self.peek()
        if token is not None:
            raise QueryOptionError(f"{self.what}: unexpected {token.text[:40]!r} at {token.at}")

    def expression(self) -> Node:
        return self.disjunction()

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.word() == "or":
            self.take()
            node = Operation("or", (node, self.conjunction()))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.word() == "and":
            self.take()
            node = Operation("and", (node, self.negation()))
        return node

    def negation(self) -> Node:
        if self.word() == "not":
            self.take()
            return Operation("not", (self.negation(),))
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        if self.word() in COMPARISONS:
            op = self.take().text.lower()
            node = Operation(op, (node, self.additive()))
            if self.word() in COMPARISONS:
                raise QueryOptionError(
                    f"{self.what}: comparisons do not chain (at {self.take().at}); "
                    "join them with and"
                )
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.word() in ADDITIVE:
            op = self.take().text.lower()
            node = Operation(op, (node, self.multiplicative()))
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.word() in MULTIPLICATIVE:
            op = self.take().text.lower()
            node = Operation(op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.text == "-":
            self.take()
            operand = self.unary()
            if isinstance(operand, Literal) and operand.kind == "number":
                return Literal(-operand.value, "number")
            return Operation("neg", (operand,))
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        kind, text = token.kind, token.text
        if text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if kind == "string":
            return Literal(text[1:-1].replace("''", "'"), "string")
        if kind == "geo":
            return Literal(text[text.index("'") + 1 : -1].replace("''", "'"), "geometry")
        if kind == "number":
            return Literal(_number(text, self.what), "number")
        if kind == "time":
            return Literal(instant(text, self.what), "datetime")
        if kind == "date":
            return Literal(_date(text, self.what), "date")
        if kind == "name":
            lower = text.lower()
            if lower in KEYWORDS:
                raise QueryOptionError(f"{self.what}: unexpected {text!r} at {token.at}")
            if lower in ("true", "false"):
                return Literal(lower == "true", "boolean")
            if lower == "null":
                return Literal(None, "null")
            following = self.peek()
            if following is not None and following.text == "(":
                return self.call(lower)
            parts = [text]
            while (following := self.peek()) is not None and following.text == "/":
                self.take()
                part = self.take()
                if part.kind != "name":
                    raise QueryOptionError(
                        f"{self.what}: a path goes on with a name at {part.at}, "
                        f"not {part.text[:40]!r}"
                    )
                parts.append(part.text)
            return Path(tuple(parts))
        raise QueryOptionError(f"{self.what}: unexpected {text[:40]!r} at {token.at}")

    def call(self, name: str) -> Node:
        self.expect("(")
        args: list[Node] = []
        token = self.peek()
        if token is not None and token.text == ")":
            self.take()
            return Call(name, ())
        while True:
            args.append(self.expression())
            token = self.take()
            if token.text == ")":
                return Call(name, tuple(args))
            if token.text != ",":
                raise QueryOptionError(
                    f"{self.what}: expected ',' or ')' in {name}() at {token.at}"
                )


def _number(text: str, what: str) -> int | float:
    value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise QueryOptionError(f"{what}: {text[:40]} is not a finite number")
    if isinstance(value, int) and abs(value) > 2**63 - 1:
        raise QueryOptionError(f"{what}: {text[:40]} is beyond the integers the twin stores")
    return value


def instant(text: str, what: str) -> dt.datetime:
    """An ISO 8601 instant with its offset (Z or ±hh:mm)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryOptionError(f"{what}: {text[:40]!r} is not a date-time") from None
    if value.tzinfo is None:
        raise QueryOptionError(f"{what}: {text[:40]!r} needs a time zone (Z or +06:00)")
    return value


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise QueryOptionError(f"{what}: {text!r} is not a date") from None


def parse_filter(text: str) -> Node:
    """A $filter's syntax tree (bounded first)."""
    if not text.strip():
        raise QueryOptionError("$filter is empty")
    parser = _Parser(tokens(text, "$filter"), "$filter")
    node = parser.expression()
    parser.fail_extra()
    return node


def parse_orderby(text: str) -> tuple[Order, ...]:
    """$orderby: expressions, each optionally followed by asc or desc, comma-separated."""
    parser = _Parser(tokens(text, "$orderby"), "$orderby")
    keys: list[Order] = []
    while True:
        expression = parser.additive()
        descending = False
        if parser.word() in ("asc", "desc"):
            descending = parser.take().text.lower() == "desc"
        keys.append(Order(expression, descending))
        token = parser.peek()
        if token is None:
            return tuple(keys)
        parser.expect(",")


def parse_select(text: str) -> tuple[str, ...]:
    """$select: property and navigation names, comma-separated."""
    items = tokens(text, "$select")
    names: list[str] = []
    for index, token in enumerate(items):
        if index % 2 == 1:
            if token.text != ",":
                raise QueryOptionError(f"$select: expected ',' at {token.at}")
            continue
        if token.kind != "name":
            raise QueryOptionError(f"$select: {token.text[:40]!r} is not a property name")
        names.append(token.text)
    if not names or len(items) % 2 == 0:
        raise QueryOptionError("$select names properties, comma-separated")
    return tuple(names)


# ---- $top, $skip, $count ---------------------------------------------------------------------


def parse_count_number(text: str, what: str, minimum: int, maximum: int) -> int:
    """$top or $skip: a plain non-negative decimal integer within its bounds."""
    if not re.fullmatch(r"[0-9]{1,19}", text):
        raise QueryOptionError(f"{what} is a non-negative integer, not {text[:40]!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise QueryOptionError(f"{what} must be from {minimum} to {maximum}, not {value}")
    return value


def parse_bool(text: str, what: str) -> bool:
    if text not in ("true", "false"):
        raise QueryOptionError(f"{what} is true or false, not {text[:40]!r}")
    return text == "true"


# ---- option lists: the request's and $expand's -----------------------------------------------


def split_top_level(text: str, separator: str, what: str) -> list[str]:
    """Split at separators outside brackets and 'strings' (one linear pass)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for at, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise QueryOptionError(f"{what}: ')' without '(' at {at}")
        elif char == separator and depth == 0:
            parts.append(text[start:at])
            start = at + 1
    if depth or quoted:
        raise QueryOptionError(f"{what}: a bracket or quote is not closed")
    parts.append(text[start:])
    return parts


def parse_options(pairs: list[tuple[str, str]], what: str = "query", level: int = 0) -> Options:
    """Options from name/value pairs (the request's query string, or one $expand's
    `$top=1;$orderby=...`). An unknown or repeated option is a 400 naming it."""
    settings = get_settings().sensors
    options = Options()
    seen: set[str] = set()
    for name, value in pairs:
        if name not in OPTIONS:
            known = ", ".join(OPTIONS)
            raise QueryOptionError(f"{what}: unknown option {name[:40]!r}; use {known}")
        if name in seen:
            raise QueryOptionError(f"{what}: {name} is given twice")
        seen.add(name)
        if name == "$filter":
            options.filter = parse_filter(value)
        elif name == "$select":
            options.select = parse_select(value)
        elif name == "$expand":
            options.expand = parse_expand(value, level + 1)
        elif name == "$orderby":
            options.orderby = parse_orderby(value)
        elif name == "$top":
            # a larger page is cut to the cap (the standard lets a server page), not refused
            options.top = min(parse_count_number(value, "$top", 0, 2**62), settings.max_top)
        elif name == "$skip":
            options.skip = parse_count_number(value, "$skip", 0, 2**62)
        elif name == "$count":
            options.count = parse_bool(value, "$count")
        elif name == "$skiptoken":
            if level:
                raise QueryOptionError(f"{what}: $skiptoken continues a request's own pages")
            options.after = parse_count_number(value, "$skiptoken", 0, 2**63 - 1)
    return options


_EXPAND_ITEM = re.compile(r"([A-Za-z]+(?:/[A-Za-z]+)*)(?:\((.*)\))?", re.DOTALL)


def parse_expand(text: str, level: int = 1) -> list[Expand]:
    """$expand: navigation paths (Datastreams/Observations), each with options in brackets
    separated by ';' (Datastreams($select=name;$expand=ObservedProperty;$top=1))."""
    limits = get_settings().sensors
    if level > limits.query_max_depth:
        raise QueryOptionError(
            f"$expand is nested too deeply: the limit is {limits.query_max_depth} levels "
            "(TWIN_STA_QUERY_MAX_DEPTH)"
        )
    check_length(text, "$expand")  # before any split; each inner option is bounded again
    items = split_top_level(text, ",", "$expand")
    if len(items) > MAX_EXPANDS:
        raise QueryOptionError(
            f"$expand names {len(items)} navigation paths at one level; at most {MAX_EXPANDS}"
        )
    expands: list[Expand] = []
    for item in items:
        item = item.strip()
        match = _EXPAND_ITEM.fullmatch(item)
        if match is None:
            raise QueryOptionError(f"$expand: {item[:60]!r} is not a navigation path")
        names = match.group(1).split("/")
        pairs: list[tuple[str, str]] = []
        if match.group(2) is not None and match.group(2).strip():
            for part in split_top_level(match.group(2), ";", "$expand"):
                name, equals, value = part.strip().partition("=")
                if not equals:
                    raise QueryOptionError(f"$expand: {part[:60]!r} is not $option=value")
                pairs.append((name.strip(), value.strip()))
        options = parse_options(pairs, f"$expand of {names[-1]}", level + len(names) - 1)
        node = Expand(names[-1], options)
        for name in reversed(names[:-1]):
            node = Expand(name, Options(expand=[node]))
        _merge(expands, node)
    return expands


def _merge(expands: list[Expand], item: Expand) -> None:
    """Datastreams/Sensor,Datastreams/Thing is one expansion of Datastreams with two inside."""
    for existing in expands:
        if existing.name == item.name and not _has_options(item.options, but_expand=True):
            for inner in item.options.expand:
                _merge(existing.options.expand, inner)
            return
    expands.append(item)


def _has_options(options: Options, but_expand: bool = False) -> bool:
    return bool(
        options.filter is not None
        or options.select is not None
        or options.orderby
        or options.top is not None
        or options.skip
        or options.count
        or (options.expand and not but_expand)
    )

"""An attacker against the twin, systematically: every route and every parameter gets every
class of hostile value, every body-taking route gets hostile bodies, every route gets every
method, and at the end the city's data is exactly what it was and the server still serves.

The routes are not picked by hand: they come from the OpenAPI document (`/openapi?f=json`) and
from the table OWN_ROUTES of the twin's own routes, and `test_every_route_in_the_code_is_attacked`
fails when a `Route(` in twin/ is missing from both. Each case is judged the same way:
- never a 5xx, never a dropped connection, never a stack trace, SQL or a server path in the body;
- clearly bad input (garbage in a parameter that must be a number, a name from a list, a path
  segment) is a 4xx; input that is merely odd (a string that matches nothing) may be a 2xx;
- every 4xx that is not an HTML page is JSON with a "description";
- no file outside the served directories leaks, and no markup comes back unescaped in HTML.
Cases run in loops over one keep-alive client; each test gathers all failures into one message.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest

from conftest import ROOT, Server
from test_editing import add_user
from twin.http import routes

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_BODY = 10 * 1024 * 1024  # TWIN_MAX_BODY_BYTES default (twin/editing/guard.py)
SLOW_S = 15.0  # an answer slower than this is a failure (a hang in disguise)
SLEEP_S = 9  # the pg_sleep in the SQL values: an answer this slow = injected
CENTRE = (76.93, 43.24)  # lon, lat in the demo city
PYPROJECT_MARKER = "[build-system]"  # pyproject.toml's content: must never be served
MARKUP = '"><script>alert(1)</script>'  # must never come back unescaped in an HTML page

# --- hostile values ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile value of a class. `garbage`: no strict parameter (a number, a name from a
    list, a path segment) can take it, so it must be refused with a 4xx. `raw`: put into the
    URL as it is (its own percent-escapes and dots), not percent-encoded."""

    kind: str
    label: str
    value: str | bytes
    garbage: bool = True
    raw: bool = False

    def encoded(self) -> str:
        if isinstance(self.value, bytes):
            return urllib.parse.quote_from_bytes(self.value, safe="")
        return self.value if self.raw else urllib.parse.quote(self.value, safe="")

    def text(self) -> str:
        """What the server may legitimately echo (to tell echo from leak)."""
        if isinstance(self.value, bytes):
            return self.value.decode("utf-8", "replace")
        return urllib.parse.unquote(self.value) if self.raw else self.value


SQL = [
    Hostile("sql", "quote-or", "' OR '1'='1"),
    Hostile("sql", "drop-table", "1; DROP TABLE plots; --"),
    Hostile("sql", "union", "1) UNION SELECT usename, passwd FROM pg_shadow --"),
    Hostile("sql", "sleep", f"'; SELECT pg_sleep({SLEEP_S}); --"),
    Hostile("sql", "cast-leak", "1 AND 1=CAST((SELECT version()) AS int)"),
]
TRAVERSAL = [
    Hostile("traversal", "dotdot", "../../pyproject.toml"),
    Hostile("traversal", "dotdot-raw", "../../pyproject.toml", raw=True),
    Hostile("traversal", "encoded-dots", "%2e%2e%2f%2e%2e%2fpyproject.toml", raw=True),
    Hostile("traversal", "double-encoded", "..%252f..%252fpyproject.toml", raw=True),
    Hostile("traversal", "absolute", str(ROOT / "pyproject.toml")),
    Hostile("traversal", "etc-passwd", "/etc/passwd"),
    Hostile("traversal", "backslashes", "..\\..\\pyproject.toml"),
]
NUMBERS = [
    Hostile("number", "NaN", "NaN"),
    Hostile("number", "Infinity", "Infinity"),
    Hostile("number", "-Infinity", "-Infinity"),
    Hostile("number", "1e309", "1e309"),
    Hostile("number", "400-digits", "9" * 400),
    Hostile("number", "-0", "-0", garbage=False),
    Hostile("number", "1e-400", "1e-400", garbage=False),
    Hostile("number", "99", "99", garbage=False),
    Hostile("number", "-1", "-1", garbage=False),
    Hostile("number", "2^64", str(2**64), garbage=False),
    Hostile("number", "10^20", str(10**20), garbage=False),
    Hostile("number", "hex", "0x1F", garbage=False),
]
TEXT = [
    Hostile("text", "NUL", "a\x00b"),
    Hostile("text", "RTL-override", "\u202egnp.txt"),
    Hostile("text", "invalid-UTF-8", b"\xff\xfe\xc3\x28"),
    Hostile("text", "10KB", "A" * 10_000),
    Hostile("text", "100KB", "A" * 100_000),
    Hostile("text", "emoji", "\U0001f3d9\ufe0f"),
    Hostile("text", "empty", "", garbage=False),
    Hostile("text", "markup", MARKUP),
]


def lookalikes(number: str) -> list[Hostile]:
    """Spellings of a real number that are not its canonical form: an id or a tile address has
    one URL, so these are refused (built from the real value, so that a server which takes them
    anyway acts on our own feature, not on the city's)."""
    arabic = number.translate(
        str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
    )
    return [
        Hostile("lookalike", "arabic-digits", arabic),
        Hostile(
            "lookalike",
            "underscore",
            f"{number[0]}_{number[1:]}" if len(number) > 1 else f"0_{number}",
        ),
        Hostile("lookalike", "spaces", f" {number} "),
        Hostile("lookalike", "plus", f"+{number}"),
        Hostile("lookalike", "leading-zero", f"0{number}"),
    ]


CLASSES = {"sql": SQL, "traversal": TRAVERSAL, "number": NUMBERS, "text": TEXT}
EVERY_VALUE = [v for values in CLASSES.values() for v in values]

# Text in a response body that betrays the server's insides (unless the client sent it).
LEAKS = [
    "Traceback (most recent",
    'File "/',
    "site-packages",
    "psycopg",
    "PostgreSQL",
    "SQLSTATE",
    "syntax error at or near",
    "out of range for type",
    "bigint out of range",
    "invalid input syntax",
    "LINE 1:",
    "pg_catalog",
    "twin/sql/",
    str(ROOT),
]
FOREIGN_FILES = [PYPROJECT_MARKER, "root:x:0:0"]

# --- routes --------------------------------------------------------------------------------

# Path parameter names of twin/ routes -> the OpenAPI document's names.
ALIASES = {
    "collection": "collectionId",
    "collection_id": "collectionId",
    "layer": "collectionId",
    "fid": "featureId",
    "item_id": "featureId",
    "tms": "tileMatrixSetId",
    "z": "tileMatrix",
    "y": "tileRow",
    "x": "tileCol",
    "process_id": "processId",
    "plan_id": "planId",
}
# Query parameters whose value is a number, a name from a list or a structured value: garbage
# in them is a 4xx. Free-text parameters (a district name in a property filter) may match
# nothing and answer 200.
STRICT_QUERY = {
    "f",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "datetime",
    "sortby",
    "properties",
    "skipGeometry",
    "filter",
    "filter-lang",
    "filter-crs",
    "collections",
    "include",
}
FEATURE_QUERY = list(routes.FEATURE_QUERY)  # the items' parameters, as the table declares


@dataclass
class RouteShape:
    """A route with its parameters; `instances` are the collections (or processes) it exists
    for, so each case can name a real one."""

    method: str
    path: str
    query: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema
    instances: list[str] = field(default_factory=lambda: [""])
    per_instance: dict[str, set[str]] = field(default_factory=dict)  # query name -> instances
    html: bool = False  # pygeoapi renders it as HTML with f=html

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


# The twin's own routes (the twin rows of twin/http/routes.py) beside pygeoapi's:
# path with OpenAPI parameter names -> query parameters (all strings unless strict).
OWN_ROUTES: list[tuple[str, str, list[str]]] = [
    ("GET", "/healthz", []),
    ("GET", "/tileMatrixSets", []),
    ("GET", "/tileMatrixSets/{tileMatrixSetId}", []),
    ("GET", "/tiles", []),
    ("GET", "/tiles/{tileMatrixSetId}", []),
    ("GET", "/tiles/{tileMatrixSetId}/tilejson.json", []),
    ("GET", "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}", ["collections", "f"]),
    ("GET", "/terrain/tilejson.json", []),
    ("GET", "/terrain/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}", ["f"]),
    ("GET", "/terrain/hillshade/tilejson.json", []),
    ("GET", "/terrain/hillshade/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}", ["f"]),
    ("GET", "/collections/terrain", ["f"]),
    ("GET", "/collections/terrain/coverage", ["f", "bbox", "bbox-crs"]),
    ("GET", "/collections/{collectionId}/tiles", ["f"]),
    ("GET", "/collections/{collectionId}/tiles/{tileMatrixSetId}", ["f"]),
    ("GET", "/collections/{collectionId}/tiles/{tileMatrixSetId}/metadata", ["f"]),
    ("GET", "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json", ["f"]),
    (
        "GET",
        ("/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"),
        ["f"],
    ),
    ("GET", "/collections/buildings/scene.glb", ["district", "polycentre", "bbox", "include", "f"]),
    ("GET", "/3dtiles/buildings/tileset.json", []),
    ("GET", "/3dtiles/buildings/{path}", []),
    ("GET", "/indicators", ["f"]),
    ("GET", "/indicators/mobility-safety", ["district", "f"]),
    (
        "GET",
        "/collections/{collectionId}/asof",
        ["datetime", "bbox", "limit", "offset", "properties", "sortby", "f", "crs"],
    ),
    ("GET", "/collections/{collectionId}/changes", ["datetime", "limit", "offset"]),
    ("GET", "/collections/{collectionId}/items", FEATURE_QUERY),
    ("GET", "/collections/{collectionId}/items/{featureId}", ["f", "crs", "lang"]),
    ("GET", "/collections/{collectionId}/items/{featureId}/history", []),
    ("GET", "/collections/{collectionId}/items/{featureId}/history/{version}", []),
    ("POST", "/collections/{collectionId}/items/{featureId}/history/{version}/restore", []),
    ("POST", "/collections/{collectionId}/items", []),
    ("PUT", "/collections/{collectionId}/items/{featureId}", []),
    ("PATCH", "/collections/{collectionId}/items/{featureId}", []),
    ("DELETE", "/collections/{collectionId}/items/{featureId}", []),
    ("POST", "/processes/{processId}/execution", []),
    ("GET", "/viewer/", []),
    ("GET", "/viewer/layers.json", []),
    ("GET", "/viewer/{name}", []),
    ("GET", "/viewer/src/{name}", []),
    ("GET", "/viewer/vendor/maplibre-gl/{name}", []),
    ("GET", "/viewer/{rest}", []),
    ("GET", "/viewer/fonts/{fontstack}/{range}.pbf", []),
    ("POST", "/plans/{planId}/copy", []),
    ("POST", "/plans/{planId}/evaluate", []),
    ("POST", "/exports/print", []),
    ("POST", "/sta/v1.1/{entity_set}", []),
    ("PATCH", "/sta/v1.1/{entity_set}({entity_id})", []),
    ("DELETE", "/sta/v1.1/{entity_set}({entity_id})", []),
    ("POST", "/sta/v1.1/CreateObservations", []),
    ("POST", "/sta/v1.1/Datastreams({datastream_id})/Observations", []),
    ("POST", "/scooters/trips", ["accept_valid"]),
    ("POST", "/crashes", ["accept_valid", "source"]),
    ("GET", "/scooters/injuries", []),
]
VERSIONED = ("plots", "buildings", "parks", "amenities", "utility_lines")


def canonical(path: str) -> str:
    """A route path with `{name:convertor}` and the twin's parameter names made canonical."""

    def name(match: re.Match) -> str:
        raw = match.group(1).split(":")[0]
        return "{" + ALIASES.get(raw, raw) + "}"

    return re.sub(r"{([^}]+)}", name, path)


def routes_in_code() -> set[str]:
    """Every twin row of the route table (twin/http/routes.py), canonical, and any
    `Route("...")`/`Mount("...")` path still written in twin/ outside it."""
    from twin.http.routes import twin_rows

    found = {canonical(row.path) for row in twin_rows()}
    for source in (ROOT / "twin").rglob("*.py"):
        for match in re.finditer(
            r"\b(?:Route|Mount)\(\s*\"([^\"]+)\"", source.read_text(encoding="utf-8")
        ):
            found.add(canonical(match.group(1)))
    return found


def _parameter(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    ref = node.get("$ref")
    if ref is None:
        return node
    if ref.startswith("#/components/parameters/"):
        return document["components"]["parameters"][ref.rsplit("/", 1)[-1]]
    raise AssertionError(f"/openapi points outside itself: {ref}")


def openapi_shapes(
    document: dict[str, Any], collections: list[str], processes: list[str]
) -> dict[tuple[str, str], RouteShape]:
    """The document's operations with concrete collection and process ids made parameters."""
    shapes: dict[tuple[str, str], RouteShape] = {}
    for path, operations in document["paths"].items():
        parts = path.split("/")
        instance = ""
        if len(parts) > 2 and parts[1] == "collections" and parts[2] in collections:
            instance, parts[2] = parts[2], "{collectionId}"
        elif len(parts) > 2 and parts[1] == "processes" and parts[2] in processes:
            instance, parts[2] = parts[2], "{processId}"
        shape_path = "/".join(parts)
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method.upper() != "GET":
                continue
            key = ("GET", shape_path)
            shape = shapes.setdefault(key, RouteShape("GET", shape_path, instances=[]))
            if instance and instance not in shape.instances:
                shape.instances.append(instance)
            for node in operation.get("parameters", []):
                parameter = _parameter(document, node)
                if not parameter or parameter.get("in") != "query":
                    continue
                name = parameter["name"]
                shape.query.setdefault(name, parameter.get("schema", {}))
                shape.per_instance.setdefault(name, set()).add(instance)
                shape.html = shape.html or name == "f"
    for shape in shapes.values():
        shape.instances = shape.instances or [""]
    return shapes


def all_shapes(
    document: dict[str, Any], collections: list[str], processes: list[str]
) -> list[RouteShape]:
    shapes = openapi_shapes(document, collections, processes)
    for method, path, query in OWN_ROUTES:
        shape = shapes.get((method, path))
        if shape is None:
            shape = shapes[(method, path)] = RouteShape(method, path, instances=[])
        for name in query:
            shape.query.setdefault(name, {"type": "string"})
        if "{collectionId}" in path and not shape.instances:
            shape.instances = (
                list(VERSIONED)
                if method != "GET" or "history" in path or "changes" in path or "asof" in path
                else list(collections)
            )
        elif "{processId}" in path:
            shape.instances = list(processes)
        shape.instances = shape.instances or [""]
    return list(shapes.values())


# --- the attacker's client -----------------------------------------------------------------


@dataclass
class Case:
    """One request and what it must get."""

    label: str
    method: str
    target: str  # path and query, already encoded
    sent: str = ""  # what the server may echo back (hostile text)
    must_refuse: bool = False  # a 4xx is required
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | Iterable[bytes] | None = None
    allowed: tuple[int, ...] = ()  # exact statuses required instead (e.g. 413)
    route: str = ""  # the route and parameter, to group alike failures
    group: str = ""  # instead of method and route, to group alike failures


class Attacker:
    """Sends cases over one keep-alive client and collects every failure."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.url, timeout=60)
        self.failures: list[tuple[str, str]] = []  # (kind of failure, the case)
        self.sent = 0
        self.server_errors = 0

    def close(self) -> None:
        self.client.close()

    def send(self, case: Case) -> httpx.Response | None:
        self.sent += 1
        started = time.perf_counter()
        try:
            response = self.client.request(
                case.method,
                self.server.url + "/",
                headers=case.headers,
                content=case.content,
                extensions={"target": case.target.encode("ascii")},
            )
        except httpx.HTTPError as exc:
            self.fail(case, f"no answer: {type(exc).__name__} {exc}", "no answer")
            return None
        elapsed = time.perf_counter() - started
        if "pg_sleep" in case.sent and elapsed >= SLEEP_S:
            self.fail(case, f"took {elapsed:.1f} s: the pg_sleep in the value was executed")
        elif elapsed > SLOW_S:
            self.fail(case, f"took {elapsed:.1f} s")
        self.judge(case, response)
        return response

    def run(self, cases: Iterable[Case]) -> None:
        for case in cases:
            self.send(case)

    def fail(self, case: Case, why: str, kind: str = "") -> None:
        """Record a failure; `kind` groups alike ones (the same route, the same answer)."""
        where = case.group or f"{case.method} {case.route or case.target[:80]}"
        kind = f"{where}: {kind or why[:60]}"
        line = f"{case.label}: {case.method} {case.target[:140]} -> {why[:300]}"
        self.failures.append((kind, line))

    def judge(self, case: Case, response: httpx.Response) -> None:
        status = response.status_code
        media = response.headers.get("content-type", "")
        text = response.text[:200_000] if _textual(media) else ""
        excerpt = text[:200].replace("\n", " ")
        if status >= 500:
            self.server_errors += 1
            self.fail(case, f"{status} {excerpt}", str(status))
            return
        if case.allowed and status not in case.allowed:
            self.fail(
                case,
                f"{status}, expected {case.allowed}: {excerpt}",
                f"{status} instead of {case.allowed}",
            )
        elif case.must_refuse and not 400 <= status < 500:
            self.fail(case, f"{status}, expected a 4xx: {excerpt}", f"{status} instead of 4xx")
        html = media.startswith("text/html")
        # a request line beyond the HTTP parser's limit is refused before the app sees it
        huge_line = len(case.target) > 60_000 and status in (400, 414, 431)
        if 400 <= status < 500 and not html and case.method != "HEAD" and not huge_line:
            try:
                description = response.json().get("description")
            except (ValueError, AttributeError):
                description = None
            if not isinstance(description, str) or not description:
                self.fail(
                    case,
                    f"{status} {media or 'no content type'} without a JSON description: {excerpt}",
                    f"{status} {media.split(';')[0] or 'untyped'} {excerpt[:40]!r}",
                )
        for leak in LEAKS:
            if leak in text and leak not in case.sent:
                self.fail(case, f"{status} leaks {leak!r}: {excerpt}", f"leaks {leak!r}")
                break
        for marker in FOREIGN_FILES:
            if marker in text:
                self.fail(
                    case,
                    f"{status} serves a file outside the twin's: {excerpt}",
                    "serves a foreign file",
                )
        if html and MARKUP in text and MARKUP in case.sent:
            self.fail(case, f"{status} echoes markup unescaped into HTML", "unescaped markup")

    def verdict(self, what: str) -> None:
        """One assertion with every failure, alike ones grouped (and the server's log of
        errors when it answered 5xx)."""
        if not self.failures:
            return
        groups: dict[str, list[str]] = {}
        for kind, line in self.failures:
            groups.setdefault(kind, []).append(line)
        shown = "\n".join(
            f"[{len(lines)}x] {kind}\n    e.g. {lines[0]}" for kind, lines in sorted(groups.items())
        )
        log = ""
        if self.server_errors:
            time.sleep(0.3)  # the log thread may lag the answer
            lines = [
                line.rstrip()[:3000]
                for line in list(self.server.log)
                if '"level": "error"' in line and "Traceback" in line
            ][-5:]
            log = "\n--- server log (last tracebacks) ---\n" + "\n".join(lines)
        raise AssertionError(
            f"{len(self.failures)} of {self.sent} {what} failed, in "
            f"{len(groups)} groups:\n{shown}{log}"
        )


def _textual(media: str) -> bool:
    return any(t in media for t in ("json", "text", "html", "xml", "javascript")) or not media


# --- the city under attack -----------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@dataclass
class City:
    """What the attacker knows about the city: its routes, real ids and valid values."""

    server: Server
    editor: str
    shapes: list[RouteShape]
    collections: list[str]
    processes: dict[str, dict[str, Any]]  # id -> inputs (schema, minOccurs)
    feature_ids: dict[str, str]  # collection -> a real feature id
    scratch: dict[str, list[int]]  # versioned layer -> our own feature ids
    tile_content: str  # a real 3D Tiles content path
    catalog: dict[str, Any]
    before: dict[str, str] = field(default_factory=dict)  # checksums before the attack

    def path_defaults(self, instance: str) -> dict[str, str]:
        x, y = tile_of(*CENTRE, 14)
        scratch = self.scratch.get(instance)
        return {
            "collectionId": instance,
            "processId": instance,
            "featureId": str(scratch[0]) if scratch else self.feature_ids.get(instance, "1"),
            "tileMatrixSetId": "WebMercatorQuad",
            "tileMatrix": "14",
            "tileRow": str(y),
            "tileCol": str(x),
            "jobId": str(uuid.UUID(int=7)),
            "version": "1",
            "path": self.tile_content,
            "name": "index.html",
            "rest": "src/main.js",
            "planId": "1",
            "fontstack": "DejaVu%20Sans%20Book",
            "range": "0-255",
            "style": "twin",
            "a": "base",
            "b": "1",
            "entity_set": "Things",
            "entity_id": "1",
            "datastream_id": "1",
            "navigation": "Datastreams",
            "feed": "vehicle_status",
            "operator": "jet",
        }

    def fill(self, shape: RouteShape, instance: str, hostile: dict[str, str]) -> str:
        values = self.path_defaults(instance)
        if shape.path.startswith("/viewer/src/"):
            values["name"] = "main.js"
        elif shape.path.startswith("/viewer/vendor/"):
            values["name"] = "maplibre-gl.js"
        values.update(hostile)
        return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], shape.path)

    def key_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.editor}


def valid_feature(layer: Any) -> dict[str, Any]:
    """A feature the layer accepts: its required properties with plausible values."""
    properties: dict[str, Any] = {}
    for prop in layer.properties.values():
        if not prop.required:
            continue
        if prop.enum:
            properties[prop.name] = prop.enum[0]
        elif prop.type in ("integer", "number"):
            properties[prop.name] = 1
        elif prop.type == "date":
            properties[prop.name] = "2024-01-01"
        elif prop.type == "boolean":
            properties[prop.name] = True
        else:
            properties[prop.name] = f"hostile-{uuid.uuid4().hex[:10]}"
    lon, lat = CENTRE
    ring = [
        [lon, lat],
        [lon + 0.001, lat],
        [lon + 0.001, lat + 0.001],
        [lon, lat + 0.001],
        [lon, lat],
    ]
    geometry = {
        "Point": {"type": "Point", "coordinates": [lon, lat]},
        "MultiLineString": {
            "type": "MultiLineString",
            "coordinates": [[[lon, lat], [lon + 0.001, lat + 0.001]]],
        },
    }.get(layer.geometry, {"type": "MultiPolygon", "coordinates": [[ring]]})
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def checksums(
    database_url: str, scratch: dict[str, list[int]], catalog: dict[str, Any]
) -> dict[str, str]:
    """A digest of every layer table (our own scratch features aside), of the terrain models
    and of the history of every feature that is not ours."""
    sums = {}
    ours = [(layer, fid) for layer, ids in scratch.items() for fid in ids]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name, layer in catalog.items():
            if name == "change_events":  # derived from the history: ours aside, as below
                sums[name] = conn.execute(
                    "SELECT count(*) || ':' || md5(coalesce(string_agg(md5(t::text), '' "
                    "ORDER BY t.id), '')) FROM change_events t WHERE t.feature_id IS NULL OR "
                    "NOT (t.layer, t.feature_id) = ANY("
                    "SELECT * FROM unnest(%s::text[], %s::bigint[]))",
                    ([a for a, _ in ours], [b for _, b in ours]),
                ).fetchone()[0]
                continue
            sums[name] = conn.execute(
                f"SELECT count(*) || ':' || md5(coalesce(string_agg(md5(t::text), '' "
                f"ORDER BY t.{layer.id_field}), '')) FROM {layer.table} t "
                f"WHERE NOT t.{layer.id_field} = ANY(%s::bigint[])",
                (scratch.get(name, []),),
            ).fetchone()[0]
        sums["terrain_models"] = conn.execute(
            "SELECT count(*) || ':' || md5(coalesce(string_agg(id || ':' || md5(cog), ',' "
            "ORDER BY id), '')) FROM terrain_models"
        ).fetchone()[0]
        sums["twin_history"] = str(
            conn.execute(
                "SELECT count(*) FROM twin_history h WHERE NOT (h.layer, h.feature_id) = ANY("
                "SELECT * FROM unnest(%s::text[], %s::bigint[]))",
                ([a for a, _ in ours], [b for _, b in ours]),
            ).fetchone()[0]
        )
    return sums


@pytest.fixture(scope="module")
def city(demo_city, server, database_url) -> Iterator[City]:
    from twin.catalog import load_catalog

    catalog = load_catalog()
    editor = add_user("editor", ",".join(VERSIONED))
    with httpx.Client(base_url=server.url, timeout=120) as client:
        document = client.get("/openapi", params={"f": "json"}).json()
        collections = [
            c["id"] for c in client.get("/collections", params={"f": "json"}).json()["collections"]
        ]
        processes = {}
        for process in client.get("/processes", params={"f": "json"}).json()["processes"]:
            description = client.get(f"/processes/{process['id']}", params={"f": "json"}).json()
            processes[process["id"]] = description["inputs"]
        feature_ids = {}
        for name in collections:
            page = client.get(f"/collections/{name}/items", params={"f": "json", "limit": 1})
            features = page.json().get("features") if page.status_code == 200 else None
            if features:
                feature_ids[name] = str(features[0]["id"])
        scratch: dict[str, list[int]] = {}
        for name in VERSIONED:
            created = client.post(
                f"/collections/{name}/items",
                json=valid_feature(catalog[name]),
                headers={"X-API-Key": editor, "Content-Type": "application/geo+json"},
            )
            assert created.status_code == 201, created.text
            scratch[name] = [int(created.headers["Location"].rsplit("/", 1)[-1])]
        tileset = client.get("/3dtiles/buildings/tileset.json").json()
        # the change events catch up with the history (earlier stories' edits and ours) when
        # a feed is read: before the snapshot, so the attack's reads of it change nothing
        assert client.get("/changes/feed.json").status_code == 200
    node, content = tileset["root"], None
    for _ in range(32):  # down the first branch to a tile with content
        content = content or (node.get("content") or {}).get("uri")
        node = (node.get("children") or [{}])[0]
    shapes = all_shapes(document, collections, list(processes))
    found = City(
        server,
        editor,
        shapes,
        collections,
        processes,
        feature_ids,
        scratch,
        content or "tileset.json",
        catalog,
    )
    found.before = checksums(database_url, scratch, catalog)
    yield found
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, ids in scratch.items():
            for fid in ids:
                client.delete(f"/collections/{name}/items/{fid}", headers={"X-API-Key": editor})


@pytest.fixture()
def attacker(server) -> Iterator[Attacker]:
    attacker = Attacker(server)
    yield attacker
    attacker.close()


# --- parameters ----------------------------------------------------------------------------


def _numeric(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    items = schema.get("items") or {}
    return kind in ("integer", "number") or (
        kind == "array" and items.get("type") in ("integer", "number")
    )


def _property_type(city: City, instance: str, name: str) -> str | None:
    layer = city.catalog.get(instance)
    prop = layer.properties.get(name) if layer else None
    return prop.type if prop else None


def strict_query(city: City, shape: RouteShape, name: str, instance: str) -> bool:
    """Must garbage in this query parameter be refused? A collection's own property by its
    type in that collection (two layers may name a property alike with different types: the
    document's parameter of the shared path has the first one's)."""
    if name in STRICT_QUERY:
        return True
    own = _property_type(city, instance, name)
    if own is not None and "{collectionId}" in shape.path:
        return own in ("integer", "number", "date", "boolean")
    if _numeric(shape.query.get(name, {})):
        return True
    if shape.path.endswith(("/scene.glb", "/mobility-safety")) and name in (
        "district",
        "polycentre",
    ):
        return True  # an area or district by name: one that is not there is an error
    kind = _property_type(city, instance, name)
    return kind in ("integer", "number", "date", "boolean")


def _own_query(shape: RouteShape) -> set[str]:
    return {q for method, path, query in OWN_ROUTES if path == shape.path for q in query}


def rotate(options: list[str], seed: int) -> str:
    return options[seed % len(options)]


def query_cases(city: City, shape: RouteShape, html: bool) -> Iterator[Case]:
    """Each hostile value in each query parameter of a route. Feature properties (dozens per
    collection) get one value of each class in turn; the API's own parameters get all."""
    counter = 0
    for name in shape.query:
        if html and name == "f":
            continue
        instances = [
            i for i in shape.instances if i in shape.per_instance.get(name, {i})
        ] or shape.instances
        feature_property = (
            name not in FEATURE_QUERY
            and name not in _own_query(shape)
            and _property_type(city, instances[0], name) is not None
        )
        values = (
            [group[counter % len(group)] for group in CLASSES.values()]
            if feature_property
            else EVERY_VALUE
        )
        for value in values:
            counter += 1
            instance = rotate(instances, counter)
            path = city.fill(shape, instance, {})
            query = f"{urllib.parse.quote(name)}={value.encoded()}"
            if html:
                query = "f=html&" + query
            strict = strict_query(city, shape, name, instance)
            yield Case(
                f"query {name}={value.kind}/{value.label}" + (" (html)" if html else ""),
                "GET",
                f"{path}?{query}",
                sent=value.text(),
                must_refuse=strict and value.garbage,
                route=f"{shape.path}?{name}",
            )
        if not html:  # the same parameter given twice, and a thousand times
            instance = rotate(instances, counter)
            path = city.fill(shape, instance, {})
            twice = f"{name}={SQL[0].encoded()}&{name}={SQL[1].encoded()}"
            yield Case(
                f"query {name} repeated",
                "GET",
                f"{path}?{twice}",
                sent=SQL[0].value + SQL[1].value,
                route=f"{shape.path}?{name}",
                must_refuse=strict_query(city, shape, name, instance),
            )
            many = "&".join([f"{urllib.parse.quote(name)}=1"] * 1000)
            yield Case(f"query {name} x1000", "GET", f"{path}?{many}", route=f"{shape.path}?{name}")


NUMERIC_SEGMENTS = (
    "featureId",
    "version",
    "tileMatrix",
    "tileRow",
    "tileCol",
    "entity_id",
    "datastream_id",
)


def path_cases(
    city: City, shape: RouteShape, headers: dict[str, str] | None = None
) -> Iterator[Case]:
    """Each hostile value in each path parameter of a route. With an editor's key, only values
    that can never be a real id are sent (an editor may delete feature 99)."""
    counter = 0
    keyed = bool(headers)
    for name in shape.path_params:
        counter += 1
        home = rotate(shape.instances, counter)  # lookalikes spell this instance's real value
        real = city.path_defaults(home)[name]
        values = EVERY_VALUE + (lookalikes(real) if name in NUMERIC_SEGMENTS else [])
        for value in values:
            if value.label == "empty" or (keyed and not value.garbage):
                continue  # an empty segment is another route (the method test has it)
            counter += 1
            instance = home if value.kind == "lookalike" else rotate(shape.instances, counter)
            target = city.fill(shape, instance, {name: value.encoded()})
            yield Case(
                f"path {{{name}}}={value.kind}/{value.label}",
                shape.method,
                target,
                sent=value.text(),
                headers=headers or {},
                must_refuse=value.garbage or name not in NUMERIC_SEGMENTS,
                route=f"{shape.path} {{{name}}}",
                content=b"{}" if shape.method in ("POST", "PUT", "PATCH") else None,
            )


def test_every_route_in_the_code_is_attacked(city):
    """A route added to twin/ without a place in OWN_ROUTES or the OpenAPI document would
    escape every attack below."""
    attacked = {s.path for s in city.shapes}
    mounts = {"/", "/viewer"}  # pygeoapi and the viewer's static files: their routes are above
    missing = sorted(routes_in_code() - attacked - mounts)
    assert not missing, f"routes in twin/ that no hostile test reaches: {missing}"
    assert len(attacked) >= 40, sorted(attacked)


def test_sql_traversal_numbers_and_text_in_every_query_parameter(city, attacker):
    """Every query parameter of every GET route (the document's and ours), every value class,
    the parameter repeated with two values and a thousand times."""
    for shape in city.shapes:
        if shape.method == "GET":
            attacker.run(query_cases(city, shape, html=False))
    attacker.verdict("hostile query parameters")


def test_hostile_query_parameters_in_html_pages(city, attacker):
    """pygeoapi's HTML rendering has its own code path: the API's own parameters again."""
    for shape in city.shapes:
        if shape.method == "GET" and shape.html:
            trimmed = RouteShape(
                shape.method,
                shape.path,
                instances=shape.instances,
                per_instance=shape.per_instance,
                query={
                    k: v
                    for k, v in shape.query.items()
                    if k in FEATURE_QUERY or k in ("profile", "ui")
                },
            )
            attacker.run(query_cases(city, trimmed, html=True))
    attacker.verdict("hostile query parameters with f=html")


def test_traversal_out_of_range_and_garbage_in_every_path_segment(city, attacker):
    """Every path segment that is a parameter (collection, id, tile address, version, file
    name, process, job) with every value class and, for numbers, their lookalike spellings."""
    for shape in city.shapes:
        if not shape.path_params:
            continue
        if shape.method == "GET":
            attacker.run(path_cases(city, shape))
        else:  # writes: once as a stranger, once as the editor (the ids are never valid)
            attacker.run(path_cases(city, shape))
            attacker.run(
                path_cases(
                    city, shape, {**city.key_headers(), "Content-Type": "application/geo+json"}
                )
            )
    attacker.verdict("hostile path segments")


def test_out_of_range_tiles_are_not_found(city, attacker):
    """Tile addresses beyond the matrix, in every tile route: 4xx, never a render."""
    tile_shapes = [s for s in city.shapes if s.path.endswith("{tileRow}/{tileCol}")]
    cases = []
    for z, y, x in [
        (99, 0, 0),
        (-1, 0, 0),
        (25, 0, 0),
        (2**63, 0, 0),
        (10**30, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (3, 8, 0),
        (3, 0, 8),
        (14, 2**14, 0),
        (14, 0, 2**14),
        (14, -1, 0),
        (14, 0, -1),
        (1, 2**64, 2**64),
    ]:
        for shape in tile_shapes:
            for instance in shape.instances[:3]:
                target = city.fill(
                    shape, instance, {"tileMatrix": str(z), "tileRow": str(y), "tileCol": str(x)}
                )
                cases.append(
                    Case(f"tile {z}/{y}/{x}", "GET", target, must_refuse=True, route=shape.path)
                )
    attacker.run(cases)
    attacker.verdict("out-of-range tiles")


# --- methods -------------------------------------------------------------------------------

METHODS = [
    "HEAD",
    "OPTIONS",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "TRACE",
    "CONNECT",
    "PROPFIND",
    "MKCOL",
    "LOCK",
    "SEARCH",
]


def test_every_method_on_every_route_without_a_key(city, attacker):
    """A stranger tries every verb: nothing is served that should not be, nothing changes."""
    cases = []
    for shape in city.shapes:
        instance = shape.instances[0]
        target = city.fill(shape, instance, {})
        for method in METHODS:
            writes = method in ("POST", "PUT", "PATCH", "DELETE")
            cases.append(
                Case(
                    f"method {method}",
                    method,
                    target,
                    route=shape.path,
                    group="any method on any route",
                    content=b"{}" if writes else None,
                    headers={"Content-Type": "application/geo+json"} if writes else {},
                    must_refuse=method not in ("HEAD", "OPTIONS", "GET") and method != shape.method,
                )
            )
        cases.append(
            Case(
                "override to DELETE",
                "POST",
                target,
                content=b"{}",
                route=shape.path,
                group="POST with X-HTTP-Method-Override on any route",
                headers={
                    "X-HTTP-Method-Override": "DELETE",
                    "X-HTTP-Method": "DELETE",
                    "Content-Type": "application/json",
                },
            )
        )
    attacker.run(cases)
    attacker.verdict("method confusion cases")


def test_a_method_override_header_never_deletes(city, attacker):
    """With an editor's key, GET and POST that ask to be a DELETE stay what they are."""
    for name, ids in city.scratch.items():
        target = f"/collections/{name}/items/{ids[0]}"
        for method in ("GET", "POST", "PATCH"):
            attacker.send(
                Case(
                    f"override {method}->DELETE",
                    method,
                    target,
                    headers={
                        **city.key_headers(),
                        "X-HTTP-Method-Override": "DELETE",
                        "X-HTTP-Method": "DELETE",
                        "Content-Type": "application/merge-patch+json",
                    },
                    content=b"{}" if method != "GET" else None,
                )
            )
        still = attacker.client.get(f"{target}?f=json")
        if still.status_code != 200:
            attacker.failures.append(
                f"{target} is gone after override headers: {still.status_code}"
            )
    attacker.verdict("method override cases")


def raw_exchange(server: Server, request: bytes, timeout: float = 15) -> bytes:
    """Send bytes no well-behaved client would; the answer's first bytes (b'' if none)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            return sock.recv(65536)
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            return b""


def test_malformed_request_lines_are_refused(city, server):
    """Methods and request lines that only a hand-made client sends: a 4xx or a closed
    connection, never a 5xx."""
    failures = []
    target = f"/collections/plots/items/{city.scratch['plots'][0]}"
    for line in [
        b"get " + target.encode(),
        b"G" * 10_000 + b" /healthz",
        b"GET\x00 /healthz",
        b"DELETE " + target.encode() + b"?X-HTTP-Method=GET",
        b"GET /collections/plots/items?land_use=\xff\xfe",
        b"GET /collections/\xc3\x28/items",
        b"GET /../../pyproject.toml",
        b"GET /viewer/../../pyproject.toml",
        b"GET /viewer/..%2f..%2fpyproject.toml",
        b"GET http://evil.example/healthz",
        b"GET *",
        b"GET /healthz HTTP/9.9",
    ]:
        version = b"" if line.endswith(b"HTTP/9.9") else b" HTTP/1.1"
        answer = raw_exchange(server, line + version + b"\r\nHost: x\r\n\r\n")
        match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        status = int(match.group(1)) if match else None
        if (status is not None and status >= 500) or PYPROJECT_MARKER.encode() in answer:
            failures.append(f"{line[:60]!r}: {answer[:200]!r}")
    assert not failures, "\n".join(failures)


# --- bodies --------------------------------------------------------------------------------


def _polygon_feature(base: dict[str, Any], coordinates: Any, kind: str = "Polygon") -> bytes:
    return json.dumps({**base, "geometry": {"type": kind, "coordinates": coordinates}}).encode()


def hostile_bodies(base: dict[str, Any]) -> list[tuple[str, bytes, str, str]]:
    """(label, body, content type, expectation): "4xx" must be refused, "413" too large,
    "any" may be accepted (odd but valid: then it is undone)."""
    lon, lat = CENTRE
    ring = [[lon, lat], [lon + 0.001, lat], [lon + 0.001, lat + 0.001], [lon, lat]]
    text = json.dumps(base)
    bare = json.dumps({k: v for k, v in base.items() if k != "geometry"})[:-1]  # no "}"
    geo = "application/geo+json"
    nested = (
        '{"type": "GeometryCollection", "geometries": [' * 2000
        + json.dumps({"type": "Point", "coordinates": [lon, lat]})
        + "]}" * 2000
    )
    million = "[" + ",".join(["[76,43]", "[77,44]"] * 500_000) + "]"
    circle = [
        [
            round(lon + 0.002 * math.cos(2 * math.pi * i / 99_999), 7),
            round(lat + 0.002 * math.sin(2 * math.pi * i / 99_999), 7),
        ]
        for i in range(99_999)
    ]  # closed: 100,000 vertices, the most a feature may have
    circle.append(circle[0])
    properties = dict(base["properties"])
    first_string = next((k for k, v in properties.items() if isinstance(v, str)), "name")
    own = base["geometry"]["type"]  # the layer's own type, degenerate and mistyped
    one_position = {
        "Point": [lon],
        "MultiLineString": [[[lon, lat]]],
        "MultiPolygon": [[[[lon, lat], [lon, lat], [lon, lat], [lon, lat]]]],
    }[own]
    text_positions = json.loads(json.dumps(base["geometry"]["coordinates"]), parse_float=str)
    return [
        (f"degenerate {own}", _polygon_feature(base, one_position, own), geo, "4xx"),
        (f"{own} positions as strings", _polygon_feature(base, text_positions, own), geo, "4xx"),
        (
            "deep JSON arrays",
            ('{"type":"Feature","geometry":' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
            geo,
            "4xx",
        ),
        (
            "deep JSON objects",
            (
                '{"type":"Feature","properties":' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}"
            ).encode(),
            geo,
            "4xx",
        ),
        ("over the body limit", b" " * (MAX_BODY + 1), geo, "413"),
        ("unclosed ring", _polygon_feature(base, [ring[:-1]]), geo, "4xx"),
        ("one-point polygon", _polygon_feature(base, [[[lon, lat]]]), geo, "4xx"),
        ("empty polygon", _polygon_feature(base, []), geo, "4xx"),
        (
            "million-vertex polygon",
            (
                bare + ', "geometry": {"type": "Polygon", "coordinates": [' + million + "]}}"
            ).encode(),
            geo,
            "4xx",
        ),
        ("100k-vertex circle", _polygon_feature(base, [circle]), geo, "any"),
        (
            "coordinates as strings",
            _polygon_feature(base, [[[str(a), str(b)] for a, b in ring] + [[str(lon), str(lat)]]]),
            geo,
            "4xx",
        ),
        (
            "3D coordinates",
            _polygon_feature(base, [[[a, b, 800.0] for a, b in ring] + [[lon, lat, 800.0]]]),
            geo,
            "any",
        ),
        (
            "4D coordinates",
            _polygon_feature(
                base, [[[a, b, 800.0, 1.0] for a, b in ring] + [[lon, lat, 800.0, 1.0]]]
            ),
            geo,
            "any",
        ),
        ("NaN coordinates", text.replace(str(lon), "NaN", 1).encode(), geo, "4xx"),
        ("1e309 coordinates", text.replace(str(lon), "1e309", 1).encode(), geo, "4xx"),
        (
            "coordinates off the globe",
            _polygon_feature(base, [[[500, 500], [501, 500], [501, 501], [500, 500]]]),
            geo,
            "4xx",
        ),
        (
            "nested geometry collections",
            (bare + ', "geometry": ' + nested + "}").encode(),
            geo,
            "4xx",
        ),
        (
            "unknown geometry type",
            json.dumps(
                {**base, "geometry": {"type": "Circle", "coordinates": [lon, lat], "radius": 5}}
            ).encode(),
            geo,
            "4xx",
        ),
        ("null geometry", json.dumps({**base, "geometry": None}).encode(), geo, "4xx"),
        ("not a feature", json.dumps({**base, "type": "FeatureCollection"}).encode(), geo, "4xx"),
        ("a JSON array", b"[1, 2, 3]", geo, "4xx"),
        ("a JSON string", b'"Feature"', geo, "4xx"),
        ("empty body", b"", geo, "4xx"),
        (
            "invalid UTF-8",
            text.replace("Feature", "Feat\udcffure").encode("utf-8", "surrogateescape"),
            geo,
            "4xx",
        ),
        ("UTF-16", text.encode("utf-16"), geo, "4xx"),
        (
            "NUL in a string",
            json.dumps({**base, "properties": {**properties, first_string: "a\u0000b"}}).encode(),
            geo,
            "any",
        ),
        (
            "RTL override in a string",
            json.dumps({**base, "properties": {**properties, first_string: "\u202eevil"}}).encode(),
            geo,
            "any",
        ),
        (
            "SQL in a string",
            json.dumps(
                {**base, "properties": {**properties, first_string: "x'); DROP TABLE plots; --"}}
            ).encode(),
            geo,
            "any",
        ),
        (
            "100 KB string",
            json.dumps(
                {**base, "properties": {**properties, first_string: "A" * 100_000}}
            ).encode(),
            geo,
            "any",
        ),
        (
            "SQL as a property name",
            json.dumps(
                {**base, "properties": {**properties, "id; DROP TABLE plots; --": 1}}
            ).encode(),
            geo,
            "4xx",
        ),
        (
            "huge number",
            json.dumps({**base, "properties": {**properties, "residents": 10**40}}).encode(),
            geo,
            "4xx",
        ),
        ("text/csv", text.encode(), "text/csv", "4xx"),
        ("XML", b"<Feature><geometry/></Feature>", "application/xml", "4xx"),
        ("form", b"type=Feature&geometry=POINT(1 2)", "application/x-www-form-urlencoded", "4xx"),
        (
            "multipart",
            b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\n"
            + text.encode()
            + b"\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "4xx",
        ),
        ("no content type", text.encode(), "", "4xx"),
    ]


def test_hostile_bodies_to_every_write(city, attacker):
    """Deep, huge, malformed and mistyped bodies against POST, PUT and PATCH of every editable
    collection, as its editor: refused, or (when merely odd) accepted into our own feature."""
    for name in VERSIONED:
        base = valid_feature(city.catalog[name])
        scratch = city.scratch[name][0]
        unique = [
            str(v).encode() for v in base["properties"].values() if str(v).startswith("hostile-")
        ]
        for label, shared_body, media, expect in hostile_bodies(base):
            headers = {**city.key_headers(), **({"Content-Type": media} if media else {})}
            for method, target in [
                ("POST", f"/collections/{name}/items"),
                ("PUT", f"/collections/{name}/items/{scratch}"),
                ("PATCH", f"/collections/{name}/items/{scratch}"),
            ]:
                body = shared_body
                for value in unique:  # each request its own unique values: no conflict hides
                    body = body.replace(value, f"hostile-{uuid.uuid4().hex[:10]}".encode())
                sent_headers = dict(headers)
                if method == "PATCH" and media == "application/geo+json":
                    sent_headers["Content-Type"] = "application/merge-patch+json"
                case = Case(
                    f"{name} body {label}",
                    method,
                    target,
                    headers=sent_headers,
                    route="/collections/{collectionId}/items"
                    + ("" if method == "POST" else "/{featureId}")
                    + f" body {label}",
                    content=body,
                    must_refuse=expect == "4xx",
                    allowed=(413,) if expect == "413" else (),
                )
                response = attacker.send(case)
                if response is not None and response.status_code == 201:
                    city.scratch[name].append(int(response.headers["Location"].rsplit("/", 1)[-1]))
        chunked = Case(
            f"{name} body chunked over the limit",
            "POST",
            f"/collections/{name}/items",
            headers={**city.key_headers(), "Content-Type": "application/geo+json"},
            content=(b" " * 1024 * 1024 for _ in range(11)),
            allowed=(413,),
        )
        attacker.send(chunked)
        lying = raw_exchange(
            city.server,
            (
                f"POST /collections/{name}/items HTTP/1.1\r\nHost: x\r\nX-API-Key: "
                f"{city.editor}\r\nContent-Type: application/geo+json\r\nContent-Length: "
                f"{MAX_BODY * 100}\r\n\r\n{{}}"
            ).encode(),
        )
        if not lying.startswith(b"HTTP/1.1 413"):
            kind = f"POST /collections/{name}/items: Content-Length over the limit"
            attacker.failures.append((kind, f"answered {lying[:60]!r}"))
        for crs in [
            "' OR 1=1 --",
            "../../pyproject.toml",
            "A" * 5000,
            "http://www.opengis.net/def/crs/EPSG/0/32643",
        ]:
            attacker.send(
                Case(
                    f"{name} Content-Crs {crs[:20]!r}",
                    "POST",
                    f"/collections/{name}/items",
                    must_refuse=True,
                    headers={
                        **city.key_headers(),
                        "Content-Crs": crs,
                        "Content-Type": "application/geo+json",
                    },
                    content=json.dumps(base).encode(),
                )
            )
    attacker.verdict("hostile write bodies")


def search_bodies() -> list[tuple[str, bytes, str, str]]:
    deep = '{"op":"not","args":[' * 10_000 + "true" + "]}" * 10_000
    return [
        ("deep CQL2 JSON", deep.encode(), "application/query-cql-json", "4xx"),
        (
            "SQL as a property",
            b'{"op":"=","args":[{"property":"id; DROP TABLE plots"},1]}',
            "application/query-cql-json",
            "4xx",
        ),
        (
            "SQL in a value",
            b'{"op":"=","args":[{"property":"id"},"1 OR 1=1"]}',
            "application/query-cql-json",
            "any",
        ),
        ("unknown operator", b'{"op":"pg_sleep","args":[9]}', "application/query-cql-json", "4xx"),
        ("NaN", b'{"op":"=","args":[{"property":"id"},NaN]}', "application/query-cql-json", "4xx"),
        (
            "1e309",
            b'{"op":"<","args":[{"property":"id"},1e309]}',
            "application/query-cql-json",
            "4xx",
        ),
        (
            "malformed geometry",
            (
                b'{"op":"s_intersects","args":[{"property":"geometry"},'
                b'{"type":"Polygon","coordinates":[[[1,2]]]}]}'
            ),
            "application/query-cql-json",
            "4xx",
        ),
        (
            "huge envelope",
            (
                b'{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":'
                b"[-1e308,-1e308,1e308,1e308]}]}"
            ),
            "application/query-cql-json",
            "any",
        ),
        ("CQL2 text with SQL", b"id = 1; DROP TABLE plots", "text/cql2", "4xx"),
        ("long CQL2 text", ("id = 1 OR " * 20_000 + "id = 2").encode(), "text/cql2", "4xx"),
        ("over the body limit", b" " * (MAX_BODY + 1), "application/query-cql-json", "413"),
        (
            "bare JSON search",
            b'{"op":"=","args":[{"property":"id"},"\\u0000"]}',
            "application/json",
            "any",
        ),
    ]


def test_hostile_searches(city, attacker):
    """CQL2 searches POSTed to items of every collection: bounded, refused when bad."""
    cases = []
    for index, (label, body, media, expect) in enumerate(search_bodies()):
        for name in city.collections[index % 3 :: 3]:
            cases.append(
                Case(
                    f"search {label}",
                    "POST",
                    f"/collections/{name}/items",
                    route=f"/collections/{{collectionId}}/items search {label}",
                    headers={"Content-Type": media},
                    content=body,
                    must_refuse=expect == "4xx",
                    allowed=(413,) if expect == "413" else (),
                )
            )
    attacker.run(cases)
    attacker.verdict("hostile searches")


JSON_VALUES = [  # (label, JSON text, garbage for a number, garbage for anything)
    ("sql", json.dumps(SQL[1].value), True, False),
    ("traversal", json.dumps(TRAVERSAL[0].value), True, False),
    ("NaN", "NaN", True, True),
    ("Infinity", "Infinity", True, True),
    ("-Infinity", "-Infinity", True, True),
    ("1e309", "1e309", True, True),
    ("-0", "-0", False, False),
    ("1e-400", "1e-400", False, False),
    ("10^20", str(10**20), False, False),
    ("2^64", str(2**64), False, False),
    ("-1", "-1", False, False),
    ("null", "null", False, False),
    ("true", "true", True, False),
    ("empty list", "[]", True, False),
    ("object", '{"a": 1}', True, False),
    ("number as text", '"1"', False, False),
    ("NUL", '"a\\u0000b"', True, False),
    ("RTL", '"\\u202eevil"', True, False),
    ("100KB", json.dumps("A" * 100_000), True, False),
    ("deep list", "[" * 100_000 + "]" * 100_000, True, True),
    ("long list", json.dumps(list(range(100_000))), True, False),
]
VALID_INPUTS = {
    "isochrone": {"lon": CENTRE[0], "lat": CENTRE[1], "minutes": 10},
    "fifteen-minute-report": {"lon": CENTRE[0], "lat": CENTRE[1]},
    "plot-report": {"plot_id": 1},
    "scenario": {},
}


def test_hostile_process_inputs(city, attacker):
    """Every input of every process gets every hostile JSON value; the body as a whole too."""
    cases = []
    for process, inputs in city.processes.items():
        target = f"/processes/{process}/execution"
        valid = VALID_INPUTS.get(process, {})
        for name, description in inputs.items():
            schema = description.get("schema", {})
            numeric = schema.get("type") in ("number", "integer")
            for label, value, bad_number, bad_anything in JSON_VALUES:
                others = json.dumps({k: v for k, v in valid.items() if k != name})[1:-1]
                inputs_text = "{" + (others + ", " if others else "") + f'"{name}": {value}' + "}"
                cases.append(
                    Case(
                        f"process {process} input {name}={label}",
                        "POST",
                        target,
                        route=f"{target} {name}",
                        headers={"Content-Type": "application/json"},
                        content=('{"inputs": ' + inputs_text + "}").encode(),
                        must_refuse=bad_anything or (numeric and bad_number),
                    )
                )
        for label, body, media, expect in [
            ("deep body", ("[" * 100_000 + "]" * 100_000).encode(), "application/json", "4xx"),
            ("inputs a list", b'{"inputs": [1, 2]}', "application/json", "4xx"),
            ("not JSON", b"inputs=1", "application/json", "4xx"),
            ("XML", b"<Execute/>", "application/xml", "any"),
            ("over the body limit", b" " * (MAX_BODY + 1), "application/json", "413"),
            ("Prefer header", json.dumps({"inputs": valid}).encode(), "application/json", "any"),
        ]:
            headers = {"Content-Type": media}
            if label == "Prefer header":
                headers["Prefer"] = "respond-async; wait=1e309, return=' OR 1=1"
            cases.append(
                Case(
                    f"process {process} {label}",
                    "POST",
                    target,
                    headers=headers,
                    content=body,
                    must_refuse=expect == "4xx",
                    allowed=(413,) if expect == "413" else (),
                )
            )
    attacker.run(cases)
    attacker.verdict("hostile process executions")


# --- the connection ------------------------------------------------------------------------


def test_a_huge_header_and_half_sent_requests_do_not_stop_the_server(city, server):
    """An 8 MiB header, then 20 requests that never finish: /healthz still answers."""
    raw_exchange(
        server,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * (8 << 20) + b"\r\n\r\n",
        timeout=30,
    )
    host, port = server.url.removeprefix("http://").split(":")
    hanging = []
    try:
        for index in range(20):
            sock = socket.create_connection((host, int(port)), timeout=10)
            partial = (
                b"GET /collections/plots/items HTTP/1.1\r\nHost: x\r\nX-Slow: "
                if index % 2
                else b"POST /collections/plots/items HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/geo+json\r\nContent-Length: 1000\r\n\r\n{"
            )
            sock.sendall(partial)
            hanging.append(sock)
        started = time.perf_counter()
        health = httpx.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert time.perf_counter() - started < 5
    finally:
        for sock in hanging:
            sock.close()
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


# --- the end of the story ------------------------------------------------------------------


def test_after_the_attack_the_city_is_unchanged_and_the_server_alive(city, server, database_url):
    assert server.process.poll() is None, "the server process died"
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    after = checksums(database_url, city.scratch, city.catalog)
    changed = {
        name: (city.before[name], after[name])
        for name in city.before
        if city.before[name] != after[name]
    }
    assert not changed, f"data changed under attack: {changed}"


# --- regressions: defects this attack found, one test each --------------------------------


def test_a_scene_named_with_control_characters_is_refused(city, attacker):
    """NUL in ?district= reached PostgreSQL and came back as a 500 (twin/scene3d/area.py)."""
    for query in ["district=a%00b", "polycentre=a%00b", "district=%E2%80%AEMedeu"]:
        attacker.send(
            Case(
                "scene name",
                "GET",
                f"/collections/buildings/scene.glb?{query}",
                must_refuse=True,
                allowed=(400,),
            )
        )
    attacker.verdict("scene names with control characters")


def test_3d_tiles_content_with_an_impossible_name_is_not_found(city, attacker):
    """A name too long for the file system was an OSError and a 500 (twin/scene3d/routes.py)."""
    for name in ["9" * 400, "a%00b", "x/" * 300 + "y"]:
        attacker.send(Case("3D Tiles content", "GET", f"/3dtiles/buildings/{name}", allowed=(404,)))
    attacker.send(
        Case("3D Tiles content", "GET", f"/3dtiles/buildings/{city.tile_content}", allowed=(200,))
    )
    attacker.verdict("3D Tiles content names")


def test_a_tile_address_has_one_spelling(city, attacker):
    """ " 14", "014", "+14", "1_4" and Arabic-Indic digits were read as 14 by int() (and the
    fast path's `\\d` matched them), so each tile had many URLs: now only the plain one."""
    x, y = tile_of(*CENTRE, 14)
    for base in ["/collections/plots/tiles/WebMercatorQuad", "/tiles/WebMercatorQuad"]:
        attacker.send(Case("canonical tile", "GET", f"{base}/14/{y}/{x}", allowed=(200, 204)))
        for z in [value.encoded() for value in lookalikes("14")]:  # hot in memory now
            attacker.send(Case(f"tile z={z}", "GET", f"{base}/{z}/{y}/{x}", allowed=(400,)))
    attacker.send(
        Case(
            "terrain tile",
            "GET",
            f"/terrain/tiles/WebMercatorQuad/10/{y >> 4}/0{x >> 4}.png",
            allowed=(400,),
        )
    )
    attacker.verdict("tile address spellings")


def test_tile_and_terrain_documents_refuse_an_unknown_format(city, attacker):
    """The tile and terrain metadata documents ignored ?f=; an unknown one is now a 400 and
    json (or html, which pygeoapi's pages link to) still answers."""
    for path in [
        "/tileMatrixSets",
        "/tileMatrixSets/WebMercatorQuad",
        "/tiles",
        "/tiles/WebMercatorQuad",
        "/tiles/WebMercatorQuad/tilejson.json",
        "/collections/plots/tiles",
        "/collections/plots/tiles/WebMercatorQuad",
        "/collections/plots/tiles/WebMercatorQuad/tilejson.json",
        "/terrain/tilejson.json",
        "/collections/terrain",
    ]:
        attacker.send(Case("unknown f", "GET", f"{path}?f=xml", allowed=(400,)))
        for fine in ("json", "html"):
            attacker.send(Case(f"f={fine}", "GET", f"{path}?f={fine}", allowed=(200,)))
    attacker.verdict("tile documents with f=")


def test_the_terrain_coverage_refuses_a_bbox_in_another_crs(city, attacker):
    """bbox-crs was ignored, so a bbox in UTM metres was read as degrees."""
    bbox = "bbox=76.9,43.2,76.91,43.21&f=json"
    for crs, status in [
        ("http://www.opengis.net/def/crs/EPSG/0/32643", 400),
        ("EPSG:4326", 400),
        ("' OR 1=1 --", 400),
        (CRS84, 200),
    ]:
        attacker.send(
            Case(
                f"bbox-crs {crs}",
                "GET",
                f"/collections/terrain/coverage?{bbox}&bbox-crs={urllib.parse.quote(crs, safe='')}",
                allowed=(status,),
            )
        )
    attacker.verdict("coverage bbox-crs")

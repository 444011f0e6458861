"""Every environment variable the twin reads, declared once, grouped, and documented.

Each group is a frozen dataclass; each field declares its variable, default, unit and meaning
(`setting(...)`). From these declarations follow the values (`get_settings()`) and the table
of docs/settings.md (`settings_page()`, `python -m twin.settings --write`; a test keeps the
committed page equal to the generated one), so a new variable is one field here.

Reading is per call and lazy: `get_settings()` is a cheap handle, and a group is read from the
environment the first time the handle is asked for it (a few `os.environ` look-ups). Tests set
variables per server process; hot paths read their group once (at import or when the object
that needs it is built, e.g. the guard or the tile memory), not per request.

A value that cannot be read (`TWIN_MAX_INFLIGHT=lots`) keeps the documented default and is
logged ONCE per process as a warning naming the variable; an empty value is the same as unset.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

LOG = logging.getLogger("twin.settings")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGE = PROJECT_ROOT / "docs" / "settings.md"

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Variable:
    """One environment variable: what the docs table says about it."""

    name: str
    meaning: str
    unit: str = ""
    shown: str | None = None  # the default as the docs write it, when repr would mislead
    internal: bool = False  # set by the twin for its own workers, not by users


def setting(
    name: str,
    default: Any,
    meaning: str,
    *,
    unit: str = "",
    shown: str | None = None,
    internal: bool = False,
) -> Any:
    """A dataclass field bound to an environment variable (its declaration and its docs)."""
    return field(
        default=default, metadata={"variable": Variable(name, meaning, unit, shown, internal)}
    )


# -- the groups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSettings:
    """Where the twin's files live. Relative defaults are under the project root."""

    project_root: Path = setting(
        "TWIN_PROJECT_ROOT",
        PROJECT_ROOT,
        "the checkout the twin serves its viewer, layers, "
        "tiles and pygeoapi config from (bench/viewer.py points it at an older commit)",
        shown="the checkout holding `twin/`",
    )
    home: Path = setting(
        "TWIN_HOME",
        Path(".twin"),
        "the twin's working directory: embedded PostgreSQL, "
        "caches, rejected rows, generated config (run/)",
    )
    layers_dir: Path = setting(
        "TWIN_LAYERS_DIR", Path("layers"), "the layer catalog (`layers/*.yml`)"
    )
    tiles_dir: Path = setting(
        "TWIN_TILES_DIR", Path("tiles"), "tile matrix sets and, by default, the tile cache"
    )

    @property
    def web_dir(self) -> Path:
        """The viewer's files (not a setting: they travel with the checkout)."""
        return self.project_root / "web"

    @property
    def config_path(self) -> Path:
        """The committed pygeoapi configuration."""
        return self.project_root / "pygeoapi-config.yml"

    @property
    def run_dir(self) -> Path:
        """Files generated at run time (effective pygeoapi config, OpenAPI document)."""
        return self.home / "run"


@dataclass(frozen=True)
class DatabaseSettings:
    """Which PostgreSQL the twin talks to."""

    url: str | None = setting(
        "DATABASE_URL",
        None,
        "a PostgreSQL/PostGIS to use instead of the embedded cluster under TWIN_HOME",
        shown="unset: the embedded cluster",
    )
    fast: bool = setting(
        "TWIN_DB_FAST",
        False,
        "start the embedded cluster with fsync and full-page writes off "
        "(tests; a crash may lose data)",
    )
    read_only: bool = setting(
        "TWIN_READ_ONLY",
        False,
        "serve reads only (`twin serve --read-only`, DATABASE_URL a replica): every write "
        "answers 405 naming TWIN_PRIMARY_URL, and no analysis refresher runs",
    )
    primary_url: str | None = setting(
        "TWIN_PRIMARY_URL",
        None,
        "the primary a read-only server's writes belong to; its answers show host:port only",
        shown="unset",
    )
    session_url: str | None = setting(
        "TWIN_DB_SESSION_URL",
        None,
        "a direct URL of the database when DATABASE_URL is a transaction-mode pooler "
        "(`twin db pooler`): the refresher's LISTEN and leader lock need a session, and "
        "setting it turns psycopg's server-side prepared statements off on DATABASE_URL",
        shown="unset: DATABASE_URL is direct",
    )


@dataclass(frozen=True)
class HttpSettings:
    """Bounds on every request, checked before a route, pygeoapi or the database sees it
    (docs/limits.md, docs/limits-http.md)."""

    header_timeout_s: int = setting(
        "TWIN_HEADER_TIMEOUT_S",
        10,
        "time for the request line and headers, and for each "
        "pause in a body (408 and close past it)",
        unit="s",
    )
    max_header_bytes: int = setting(
        "TWIN_MAX_HEADER_BYTES",
        16384,
        "the request line and headers together (431 and close past it)",
        unit="bytes",
    )
    max_body_bytes: int = setting(
        "TWIN_MAX_BODY_BYTES",
        10 * 1024 * 1024,
        "a request body, on Content-Length and while it streams (413 past it)",
        unit="bytes",
        shown="10485760 (10 MiB)",
    )
    max_inflight: int = setting(
        "TWIN_MAX_INFLIGHT",
        64,
        "requests at once in one worker (503 with Retry-After past it)",
        unit="requests",
    )
    require_if_match: bool = setting(
        "TWIN_REQUIRE_IF_MATCH",
        False,
        "PUT, PATCH, DELETE and restore of an item need an If-Match header (428 without it)",
    )


@dataclass(frozen=True)
class Cql2Settings:
    """Bounds on a CQL2 filter, checked before it is parsed (docs/limits-cql2.md)."""

    max_length: int = setting(
        "TWIN_CQL2_MAX_LENGTH",
        16384,
        "a CQL2 filter, text or JSON, in a query or a search body",
        unit="characters",
    )
    max_depth: int = setting(
        "TWIN_CQL2_MAX_DEPTH",
        32,
        "nesting of a filter: brackets, NOT and minus chains, operator chains, JSON levels",
        unit="levels",
    )
    max_nodes: int = setting(
        "TWIN_CQL2_MAX_NODES",
        1024,
        "names, literals, operators and commas of a filter",
        unit="nodes",
    )


@dataclass(frozen=True)
class FeatureSettings:
    """How numberMatched of an items page is counted, and how many features a download
    gives (docs/features.md)."""

    exact_count_max: int = setting(
        "TWIN_EXACT_COUNT_MAX",
        50000,
        "up to this many expected matches numberMatched is "
        "counted exactly, beyond it estimated (0: always estimate beyond the page)",
        unit="features",
    )
    bounded_count: int = setting(
        "TWIN_BOUNDED_COUNT",
        10001,
        "a selection is first read unordered up to this many "
        "matches, to count them and take the page in one statement",
        unit="features",
    )
    download_max_rows: int = setting(
        "TWIN_DOWNLOAD_MAX_ROWS",
        1000000,
        "the most features a download (items as CSV, GeoPackage or GeoParquet) gives without "
        "paging; a larger one answers 413 (page with limit/offset, or filter)",
        unit="features",
    )


@dataclass(frozen=True)
class TileSettings:
    """Vector and terrain tiles (docs/tiles.md)."""

    cache: Path | None = setting(
        "TWIN_TILE_CACHE",
        None,
        "where rendered tiles are stored on disk",
        shown="TWIN_TILES_DIR/cache",
    )
    memory_mb: float = setting(
        "TWIN_TILE_MEMORY_MB",
        128.0,
        "the per-worker memory of hot tiles served without the database",
        unit="MB",
        shown="128",
    )
    feature_cap: int = setting(
        "TWIN_TILE_FEATURE_CAP",
        20000,
        "the most features of one layer in one tile at any zoom",
        unit="features",
    )
    version_ttl_s: float = setting(
        "TWIN_TILE_VERSION_TTL",
        1.0,
        "how long a worker trusts the layer versions it read before asking the database again",
        unit="s",
    )
    lock_timeout_ms: int = setting(
        "TWIN_TILE_LOCK_TIMEOUT_MS", 3000, "how long a tile query waits for a lock", unit="ms"
    )
    statement_timeout_ms: int = setting(
        "TWIN_TILE_STATEMENT_TIMEOUT_MS", 30000, "how long a tile query may run", unit="ms"
    )
    map_workers: int | None = setting(
        "TWIN_MAP_WORKERS",
        None,
        "threads of a server process drawing map tiles, maps and plan report pictures "
        "(twin/maps); 0: no drawing (map tiles 503, plan reports with SVG sketch maps)",
        shown="the cores, at most 8",
    )
    map_queue: int = setting(
        "TWIN_MAP_QUEUE",
        16,
        "map renders that may wait or run at once in a server process (503 past it)",
        unit="renders",
    )


@dataclass(frozen=True)
class SceneSettings:
    """How big a 3D scene the server builds on request; the CLI has no limit
    (docs/scenes3d.md)."""

    max_buildings: int = setting(
        "TWIN_SCENE_MAX_BUILDINGS",
        20000,
        "buildings in a scene built on request (400 AreaTooLarge past it)",
        unit="buildings",
    )
    max_area_km2: float = setting(
        "TWIN_SCENE_MAX_AREA_KM2",
        400.0,
        "the area of a scene built on request (400 AreaTooLarge past it)",
        unit="km²",
        shown="400",
    )


@dataclass(frozen=True)
class AnalysisSettings:
    """The analysis kept current after edits (docs/editing.md)."""

    refresh: bool = setting(
        "TWIN_ANALYSIS_REFRESH",
        True,
        "a server refreshes the analysis after edits; off leaves it to `twin analyse --if-stale`",
    )
    transit_day: str | None = setting(
        "TWIN_TRANSIT_DAY",
        None,
        "the service day (YYYY-MM-DD) of the walk + public transport figures; unset: the "
        "first Tuesday of the feed's service (docs/transit.md)",
        shown="first Tuesday of the feed",
    )
    transit_window: str = setting(
        "TWIN_TRANSIT_WINDOW",
        "08:00-09:00/5",
        "the departure window of the walk + public transport figures, HH:MM-HH:MM/minutes "
        "between departures; the median over its departures is published",
    )


@dataclass(frozen=True)
class PlanSettings:
    """Stored plans and their evaluation (docs/plans.md)."""

    evaluate_delay_s: float = setting(
        "TWIN_PLANS_EVALUATE_DELAY_S",
        2.0,
        "a plan evaluates itself this long after its last change of edits or mode (quick "
        "changes in a row: one evaluation)",
        unit="s",
    )
    max_body_bytes: int = setting(
        "TWIN_PLANS_MAX_BODY_BYTES",
        2 * 1024 * 1024,
        "the largest plan body POST or PATCH takes (413 past it)",
        unit="bytes",
        shown="2097152 (2 MiB)",
    )
    concurrent_evaluations: int = setting(
        "TWIN_PLANS_CONCURRENT_EVALUATIONS",
        2,
        "evaluations one server process runs at once (others wait their turn)",
    )
    walk_pt_every_plan: bool = setting(
        "TWIN_PLANS_WALK_PT_EVERY_PLAN",
        True,
        "evaluate KPI 4 by walk + PT for every plan; off: only for plans with transit edits "
        "(it costs 5-8 s per plan on the small demo, the first after a start ~30 s)",
    )


@dataclass(frozen=True)
class SensorSettings:
    """Live sensors: SensorThings writes, retention (docs/sensors.md)."""

    future_tolerance_s: float = setting(
        "TWIN_STA_FUTURE_TOLERANCE_S",
        300.0,
        "an Observation's phenomenonTime may lie this far ahead of the server's clock (sensor "
        "clocks drift); later ones are refused",
        unit="s",
    )
    max_batch: int = setting(
        "TWIN_STA_MAX_BATCH",
        100_000,
        "the most Observations one request (or one CreateObservations dataArray) may carry",
    )
    raw_days: int = setting(
        "TWIN_STA_RAW_DAYS",
        30,
        "`twin sensors retain` drops raw Observations' day partitions older than this, once "
        "their hours are aggregated",
        unit="days",
    )
    hourly_days: int = setting(
        "TWIN_STA_HOURLY_DAYS",
        730,
        "hourly aggregates of number results are kept this long",
        unit="days",
    )
    # reads (twin.sensors.read, twin.sensors.odata)
    top: int = setting(
        "TWIN_STA_TOP", 100, "entities in a SensorThings page when $top is not given"
    )
    max_top: int = setting(
        "TWIN_STA_MAX_TOP",
        10_000,
        "the largest $top a SensorThings read may ask for (larger pages: follow @iot.nextLink)",
    )
    query_max_length: int = setting(
        "TWIN_STA_QUERY_MAX_LENGTH",
        8192,
        "a SensorThings query option ($filter, $expand, ...), checked before it is parsed",
        unit="characters",
    )
    query_max_depth: int = setting(
        "TWIN_STA_QUERY_MAX_DEPTH",
        32,
        "nesting of a SensorThings query option: brackets, not and minus chains, $expand levels",
        unit="levels",
    )
    query_max_nodes: int = setting(
        "TWIN_STA_QUERY_MAX_NODES",
        1024,
        "names, literals, operators and commas of a SensorThings query option",
        unit="nodes",
    )
    statement_timeout_ms: int = setting(
        "TWIN_STA_STATEMENT_TIMEOUT_MS",
        30000,
        "how long the statements of one SensorThings read may run (then a 400 says narrow it)",
        unit="ms",
    )


@dataclass(frozen=True)
class MqttSettings:
    """Sensors over MQTT: the twin's own broker, the bridge to SensorThings and the demo's
    simulator (docs/sensors.md)."""

    url: str | None = setting(
        "TWIN_MQTT_URL",
        None,
        "the MQTT broker the bridge uses (mqtt://user:password@host:port); `off`: no MQTT",
        shown="unset: the twin's own broker when it runs",
    )
    port: int = setting(
        "TWIN_MQTT_PORT",
        1884,
        "the port of the twin's own broker (`twin sensors broker start`, `twin up`), on 127.0.0.1",
    )
    simulate_rate: float = setting(
        "TWIN_SIMULATE_RATE",
        50.0,
        "`twin up` on the small demo runs the sensor simulator at this rate, so the demo's "
        "sensors move (0: off; the tests keep it off)",
        unit="observations/s",
        shown="50",
    )


@dataclass(frozen=True)
class ScooterSettings:
    """Scooter operators' GBFS feeds: polling, the demo operators (docs/scooters.md)."""

    poll: bool = setting(
        "TWIN_SCOOTERS_POLL",
        True,
        "a server polls the scooter operators' GBFS feeds (`twin scooters operators add`); "
        "one poller per database works at a time",
    )
    min_interval_s: float = setting(
        "TWIN_SCOOTERS_MIN_INTERVAL_S",
        30.0,
        "the shortest time between two polls of one operator (a feed's longer ttl is kept)",
        unit="s",
    )
    max_backoff_s: float = setting(
        "TWIN_SCOOTERS_MAX_BACKOFF_S",
        600.0,
        "the longest wait after failed polls in a row (the wait doubles from 5 s per failure)",
        unit="s",
    )
    demo_fleet: int = setting(
        "TWIN_SCOOTERS_DEMO_FLEET",
        0,
        "scooters of the three demo operators together; 0: the scooter parking spots' "
        "capacity (15,000 in the demo)",
    )
    raw_days: int = setting(
        "TWIN_SCOOTERS_RAW_DAYS",
        7,
        "`twin scooters retain` (and the poller, hourly) drops the day partitions of raw scooter "
        "positions older than this, once summed per hour and H3 cell",
        unit="days",
    )


@dataclass(frozen=True)
class LogSettings:
    """What long commands print."""

    quiet: bool = setting(
        "TWIN_QUIET",
        False,
        "no progress bars or progress lines (imports, loads, analysis, seeding)",
    )


@dataclass(frozen=True)
class InternalSettings:
    """Set by the twin itself for its workers and for pygeoapi; listed so none is a mystery.
    Setting them by hand is not supported."""

    server_url: str | None = setting(
        "TWIN_SERVER_URL",
        None,
        "the public base URL, set by `twin serve` for its workers, "
        "pygeoapi's links and the tile metadata",
        internal=True,
    )
    openapi_ready: str | None = setting(
        "TWIN_OPENAPI_READY",
        None,
        "the OpenAPI document the parent already wrote, so workers do not write it again",
        internal=True,
    )
    templates: str | None = setting(
        "TWIN_TEMPLATES", None, "the twin's copies of pygeoapi's templates", internal=True
    )
    csp_marker: str | None = setting(
        "TWIN_CSP_MARKER",
        None,
        "this process's script-tag marker that the guard replaces by a fresh nonce per HTML page",
        internal=True,
    )
    pygeoapi_config: str | None = setting(
        "PYGEOAPI_CONFIG",
        None,
        "the effective pygeoapi configuration pygeoapi reads at import",
        internal=True,
    )
    pygeoapi_openapi: str | None = setting(
        "PYGEOAPI_OPENAPI", None, "the OpenAPI document pygeoapi serves at /openapi", internal=True
    )


@dataclass(frozen=True)
class TestSettings:
    """Read by the test suite only (tests/), never by the server."""

    __test__ = False  # not a pytest test class

    update_snapshots: bool = setting(
        "TWIN_UPDATE_SNAPSHOTS",
        False,
        "rewrite the golden tile snapshots instead of comparing with them (review the diff)",
    )
    cql2_examples: int = setting(
        "TWIN_CQL2_EXAMPLES",
        120,
        "examples of the property-based CQL2 bounds test",
        unit="examples",
    )


# The groups in the order of the docs page: (attribute of Settings, heading, class).
GROUPS: tuple[tuple[str, str, type], ...] = (
    ("paths", "Paths", PathSettings),
    ("database", "Database", DatabaseSettings),
    ("http", "HTTP limits", HttpSettings),
    ("cql2", "CQL2 filter limits", Cql2Settings),
    ("features", "Features", FeatureSettings),
    ("tiles", "Tiles", TileSettings),
    ("scenes", "3D scenes", SceneSettings),
    ("analysis", "Analysis", AnalysisSettings),
    ("plans", "Plans", PlanSettings),
    ("sensors", "Live sensors", SensorSettings),
    ("mqtt", "Sensors over MQTT", MqttSettings),
    ("scooters", "Scooter feeds", ScooterSettings),
    ("logging", "Logging", LogSettings),
    ("internal", "Internal (set by the twin)", InternalSettings),
    ("tests", "Tests", TestSettings),
)


# -- reading -------------------------------------------------------------------------------------

_warned: set[tuple[str, str]] = set()


def _warn_once(name: str, raw: str, kind: str, default: Any) -> None:
    if (name, raw) not in _warned:
        _warned.add((name, raw))
        LOG.warning(
            "%s=%r is not %s; using the default %s (docs/settings.md)",
            name,
            raw[:80],
            kind,
            default,
        )


def _kind(hint: Any) -> type:
    """The type a field's value is parsed to: int, float, bool, str or Path (None allowed)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _parse(name: str, raw: str, kind: type, default: Any) -> Any:
    if kind is bool:
        word = raw.strip().lower()
        if word in TRUE or word in FALSE:
            return word in TRUE
        _warn_once(name, raw, "on or off (1/0, true/false, yes/no, on/off)", default)
        return default
    if kind in (int, float):
        try:
            return kind(raw.strip())
        except ValueError:
            _warn_once(name, raw, "an integer" if kind is int else "a number", default)
            return default
    return kind(raw)  # str, Path


def read_group(cls: type, environ: Mapping[str, str] | None = None) -> Any:
    """One group's values from the environment (os.environ unless given): a few look-ups."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, variable, kind, default in _spec(cls):
        raw = environ.get(variable)
        if raw:
            values[name] = _parse(variable, raw, kind, default)
        elif isinstance(default, Path) and not default.is_absolute():
            values[name] = values.get("project_root", PROJECT_ROOT) / default
    return cls(**values)


_SPECS: dict[type, list[tuple[str, str, type, Any]]] = {}


def _spec(cls: type) -> list[tuple[str, str, type, Any]]:
    """(field, variable, type, default) of each field of a group, worked out once."""
    if cls not in _SPECS:
        hints = typing.get_type_hints(cls)
        _SPECS[cls] = [
            (each.name, each.metadata["variable"].name, _kind(hints[each.name]), each.default)
            for each in fields(cls)
        ]
    return _SPECS[cls]


class Settings:
    """Every setting of the twin, by group (`get_settings().tiles.feature_cap`). Each group is
    read from the environment when first asked for, so a handle costs nothing until used."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    @cached_property
    def paths(self) -> PathSettings:
        return read_group(PathSettings, self._environ)

    @cached_property
    def database(self) -> DatabaseSettings:
        return read_group(DatabaseSettings, self._environ)

    @cached_property
    def http(self) -> HttpSettings:
        return read_group(HttpSettings, self._environ)

    @cached_property
    def cql2(self) -> Cql2Settings:
        return read_group(Cql2Settings, self._environ)

    @cached_property
    def features(self) -> FeatureSettings:
        return read_group(FeatureSettings, self._environ)

    @cached_property
    def tiles(self) -> TileSettings:
        return read_group(TileSettings, self._environ)

    @cached_property
    def scenes(self) -> SceneSettings:
        return read_group(SceneSettings, self._environ)

    @cached_property
    def analysis(self) -> AnalysisSettings:
        return read_group(AnalysisSettings, self._environ)

    @cached_property
    def plans(self) -> PlanSettings:
        return read_group(PlanSettings, self._environ)

    @cached_property
    def sensors(self) -> SensorSettings:
        return read_group(SensorSettings, self._environ)

    @cached_property
    def mqtt(self) -> MqttSettings:
        return read_group(MqttSettings, self._environ)

    @cached_property
    def scooters(self) -> ScooterSettings:
        return read_group(ScooterSettings, self._environ)

    @cached_property
    def logging(self) -> LogSettings:
        return read_group(LogSettings, self._environ)

    @cached_property
    def internal(self) -> InternalSettings:
        return read_group(InternalSettings, self._environ)

    @cached_property
    def tests(self) -> TestSettings:
        return read_group(TestSettings, self._environ)

    # Shortcuts for the paths and the database, which most modules want.
    @property
    def project_root(self) -> Path:
        return self.paths.project_root

    @property
    def home(self) -> Path:
        return self.paths.home

    @property
    def layers_dir(self) -> Path:
        return self.paths.layers_dir

    @property
    def tiles_dir(self) -> Path:
        return self.paths.tiles_dir

    @property
    def web_dir(self) -> Path:
        return self.paths.web_dir

    @property
    def config_path(self) -> Path:
        return self.paths.config_path

    @property
    def run_dir(self) -> Path:
        return self.paths.run_dir

    @property
    def database_url(self) -> str | None:
        return self.database.url


def get_settings() -> Settings:
    """The settings as the environment says now (tests point the twin elsewhere per call)."""
    return Settings()


# -- the docs page ---------------------------------------------------------------------------


def variables() -> list[tuple[str, type, Any, Variable]]:
    """Every declared variable: (group attribute, field type, default, declaration)."""
    return [
        (attribute, kind, each.default, each.metadata["variable"])
        for attribute, _, cls in GROUPS
        for each, (_, _, kind, _) in zip(fields(cls), _spec(cls), strict=True)
    ]


def effective(environ: Mapping[str, str] | None = None) -> list[tuple[str, str, bool]]:
    """Every user-facing variable with the value in effect and whether the environment set
    it (`twin settings`): what an operator checks before blaming the code. A password in a
    URL is shown as ***."""
    environ = os.environ if environ is None else environ
    handle = Settings(environ)
    rows = []
    for attribute, _, cls in GROUPS:
        group = getattr(handle, attribute)
        for each in fields(cls):
            variable = each.metadata["variable"]
            if variable.internal:
                continue
            value = getattr(group, each.name)
            shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(value)) if value else str(value)
            rows.append((variable.name, shown, bool(environ.get(variable.name))))
    return rows


def _shown_default(default: Any, variable: Variable) -> str:
    if variable.shown is not None:
        return variable.shown
    if isinstance(default, bool):
        return "on" if default else "off"
    if default is None:
        return "unset"
    if isinstance(default, Path):
        return f"`{default}` under the project root"
    return str(default)


TYPE_NAMES = {int: "integer", float: "number", bool: "on/off", str: "text", Path: "path"}


def _linked(text: str) -> str:
    """A docstring's `docs/x.md` mentions as links between pages of the docs site."""
    return re.sub(r"docs/([a-z0-9-]+)\.md", r"[\1](\1.md)", text)


INTRO = """\
Every environment variable the twin reads, in one place. Each is declared once in
`twin/settings.py` as a field of a group (`get_settings().<group>.<field>`, the last column);
this page is generated from those declarations (`python -m twin.settings --write`) and a test
keeps the two equal.

- An empty value is the same as unset. A value that cannot be read (a word where a number
  belongs) keeps the default, and the process logs one warning naming the variable.
- On/off values take `1`, `true`, `yes`, `on` and `0`, `false`, `no`, `off`.
- Set them before `twin serve`: a server reads most of them as it starts, and a running
  server is not told of changes. `twin settings` prints the value each one has in the
  current environment (starred when set there; a database password shows as `***`).
- Why each input bound has its default and what it costs: [Limits on input](limits.md); how
  to size a deployment: [Scaling out](scaling.md).
"""


def settings_page() -> str:
    """docs/settings.md: one table of every variable, by group, from the declarations."""
    lines = [
        "# Settings",
        "",
        "<!-- Generated from twin/settings.py by `python -m twin.settings --write`: "
        "edit the declarations there, not this page. -->",
        "",
        INTRO,
    ]
    for attribute, heading, cls in GROUPS:
        lines += [
            f"## {heading}",
            "",
            _linked(" ".join((cls.__doc__ or "").split())),
            "",
            "| variable | type | default | unit | meaning | in code |",
            "|---|---|---|---|---|---|",
        ]
        for each, (_, _, kind, _) in zip(fields(cls), _spec(cls), strict=True):
            variable = each.metadata["variable"]
            lines.append(
                f"| `{variable.name}` | {TYPE_NAMES[kind]} | "
                f"{_shown_default(each.default, variable)} | {variable.unit} | "
                f"{variable.meaning} | `{attribute}.{each.name}` |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print docs/settings.md, or write it with --write."""
    parser = argparse.ArgumentParser(prog="python -m twin.settings", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {PAGE}")
    args = parser.parse_args(argv)
    if args.write:
        PAGE.write_text(settings_page(), encoding="utf-8")
    else:
        sys.stdout.write(settings_page())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared fixtures: a real PostGIS (never a mock) and a real server on a free port.

With DATABASE_URL set, the tests use that server; otherwise each test session initialises its
own embedded cluster in a temporary TWIN_HOME, so parallel sessions never share state.

Fixtures a few modules share live in their own modules, registered here as plugins so a test
module asks for them by name like any other fixture (never by importing them):
analysed.py (`analysed_city`), import_target.py (`target`: an importer module's own database),
chromium.py (`browser`: the session's one headless Chromium, in a fresh context per module),
viewer_fixtures.py (`city_server`, `page`: the viewer stories' one server and page) and
planners.py (`planner`, `colleague`: editors with keys for the plan stories).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from twin.server_process import ServerProcess, twin_command


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """`check()`'s first true value within `timeout` seconds (a broker's reload, a bridge's
    batch: what a story waits for on real systems); fails naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def mqtt_login(broker: Any, username: str | None, password: str | None) -> Any:
    """The broker's answer to a client's CONNECT with these credentials (paho's reason code;
    no username: anonymous)."""
    import paho.mqtt.client as mqtt

    answered: list[Any] = []
    paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if username is not None:
        paho.username_pw_set(username, password)
    paho.on_connect = lambda client, userdata, flags, reason, props: answered.append(reason)
    paho.connect(broker.host, broker.port)
    paho.loop_start()
    try:
        return wait_for(lambda: answered[:1], 5, "the broker answers the CONNECT")[0]
    finally:
        paho.disconnect()
        paho.loop_stop()


pytest_plugins = ["analysed", "import_target", "chromium", "viewer_fixtures", "planners"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "almaty"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_database: the module works in a database of its own "
        "(import_target.py): `db` connects to it, not to the session's",
    )


def twin_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("TWIN_QUIET", "1")
    # servers leave edits' analysis to `twin analyse` (tests/analysed.py) unless a test turns
    # the refresher on (tests/test_analysis_refresh.py): it would recompute in the background
    # after every other module's edits and analyses, on the 2 shared cores
    env.setdefault("TWIN_ANALYSIS_REFRESH", "off")
    # one departure (08:00) instead of the window's twelve: `twin analyse` runs a dozen times
    # a session; the window's median is the engine's own story (tests/test_transit_access.py)
    env.setdefault("TWIN_TRANSIT_WINDOW", "08:00-08:05/5")
    # a plan's walk + PT costs 5-8 s per evaluation (30 s for a server's first): the plan
    # stories evaluate dozens; tests/test_plan_transit.py evaluates plans with transit edits
    env.setdefault("TWIN_PLANS_WALK_PT_EVERY_PLAN", "off")
    # no sensor simulator in the background (`twin up`); tests/test_sensors_mqtt.py sends its own
    env.setdefault("TWIN_SIMULATE_RATE", "0")
    return env


def run_twin(
    *args: str, check: bool = True, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess:
    """Run the `twin` CLI as a user would, in the test session's environment."""
    result = subprocess.run(
        twin_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=twin_env(**env),
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"twin {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def new_user(role: str, layers: str = "") -> tuple[str, str]:
    """A user made as an admin makes one (`twin users add`): its name and the key it prints."""
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    args = ["users", "add", name, "--role", role] + (["--layers", layers] if layers else [])
    return name, run_twin(*args).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A running PostGIS with the twin's schema migrated."""
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
        run_twin("migrate")
        yield url
        return
    home = Path(tempfile.mkdtemp(prefix="twin-test-"))
    os.chmod(home, 0o755)
    os.environ["TWIN_HOME"] = str(home)
    os.environ["TWIN_DB_FAST"] = "1"
    try:
        url = run_twin("db", "start").stdout.strip().splitlines()[-1]
        run_twin("migrate")
        yield url
    finally:
        run_twin("db", "stop", check=False)
        shutil.rmtree(home, ignore_errors=True)
        location = home / "pg-location"
        if location.exists():
            shutil.rmtree(location.read_text().strip(), ignore_errors=True)


@pytest.fixture()
def db(database_url: str, request: pytest.FixtureRequest) -> Iterator[psycopg.Connection]:
    """A connection to the session's database, or to the module's own one when the module is
    marked `own_database` (the importer modules: they never disturb the demo city)."""
    url = database_url
    if request.node.get_closest_marker("own_database"):
        url = request.getfixturevalue("target").url
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


class Server(ServerProcess):
    """`twin serve --port 0` in the test session's environment, ready once /healthz answers
    (503 included: some stories start a server over a stopped database)."""

    def __init__(self, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        super().__init__(
            twin_command("serve", "--port", "0", *args),
            cwd=ROOT,
            env=twin_env(**(extra_env or {})),
            ready_statuses=(200, 503),
            timeout_s=60,
            name="twin serve",
        )


@pytest.fixture(scope="session")
def demo_city(database_url: str) -> str:
    """The `small` demo city loaded once per test session (deterministic: seed 1)."""
    run_twin("load", "demo", "--scale", "small", "--seed", "1")
    return database_url


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[Server]:
    """The twin's server over the session's database (data as the tests left it)."""
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def broker(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real mosquitto (Debian's) for the session, started as `twin sensors broker start`
    starts the twin's own, but in a directory of its own: servers find it only when a test
    points TWIN_MQTT_URL at it (`broker.url`), so other modules' servers run without MQTT."""
    from twin.sensors.broker import start_broker, stop_broker
    from twin.server_process import free_port

    directory = tmp_path_factory.mktemp("mqtt")
    endpoint = start_broker(free_port(), directory=directory)
    yield SimpleNamespace(
        host=endpoint.host, port=endpoint.port, url=endpoint.login_url, directory=directory
    )
    stop_broker(directory=directory)


def shared_data_or_skip() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"the real Almaty data is not beside the project ({SHARED_DATA} is absent)")
    return SHARED_DATA


@contextmanager
def pm25_station(database_url: str, name: str) -> Iterator[int]:
    """A PM2.5 Datastream of a story's own (its Thing, Sensor and ObservedProperty), taken
    away with its observations afterwards."""
    with psycopg.connect(database_url, autocommit=True) as conn:

        def one(statement: str, *params: Any) -> int:
            return conn.execute(statement, params).fetchone()[0]

        thing = one("INSERT INTO sta_things (name) VALUES (%s) RETURNING id", f"{name} station")
        sensor = one("INSERT INTO sta_sensors (name) VALUES (%s) RETURNING id", f"{name} counter")
        prop = one(
            "INSERT INTO sta_observed_properties (name, definition) VALUES (%s, %s) RETURNING id",
            f"{name} PM2.5",
            f"https://example.org/{name.lower()}-pm25",
        )
        stream = one(
            "INSERT INTO sta_datastreams (name, observation_type, result_kind, "
            "unit_of_measurement, thing_id, sensor_id, observed_property_id) VALUES "
            "(%s, 'http://www.opengis.net/def/observationType/OGC-OM/2.0/"
            "OM_Measurement', 'number', '{\"symbol\": \"µg/m³\"}', %s, %s, %s) RETURNING id",
            f"{name} PM2.5 station",
            thing,
            sensor,
            prop,
        )
        yield stream
        conn.execute("DELETE FROM sta_observations WHERE datastream_id = %s", (stream,))
        conn.execute("DELETE FROM sta_things WHERE id = %s", (thing,))


def bridged_server(broker: Any) -> Server:
    """The twin's server with its MQTT bridge on `broker`, once the bridge has connected."""
    srv = Server({"TWIN_MQTT_URL": broker.url})
    wait_for(
        lambda: (srv.get("/sta/v1.1/mqtt-status").json()["bridge"] or {}).get("connected"),
        20,
        "the bridge connects to the broker",
    )
    return srv

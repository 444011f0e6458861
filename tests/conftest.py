"""Shared fixtures: a real PostGIS (never a mock) and a real server on a free port.

With DATABASE_URL set, the tests use that server; otherwise each test session initialises its
own embedded cluster in a temporary TWIN_HOME, so parallel sessions never share state.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "almaty"
TWIN = str(Path(sys.executable).parent / "twin")


def twin_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env.setdefault("TWIN_QUIET", "1")
    # servers leave edits' analysis to `twin analyse` (tests/analysed.py) unless a test turns
    # the refresher on (tests/test_analysis_refresh.py): it would recompute in the background
    # after every other module's edits and analyses, on the 2 shared cores
    env.setdefault("TWIN_ANALYSIS_REFRESH", "off")
    return env


def run_twin(*args: str, check: bool = True, timeout: float = 900,
             **env: str) -> subprocess.CompletedProcess:
    """Run the `twin` CLI as a user would, in the test session's environment."""
    result = subprocess.run([TWIN, *args], capture_output=True, text=True, timeout=timeout,
                            env=twin_env(**env), cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"twin {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


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
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


class Server:
    """A `twin serve --port 0` process; `.url` is where it listens."""

    def __init__(self, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
                 ) -> None:
        self.process = subprocess.Popen([TWIN, "serve", "--port", "0", *args], cwd=ROOT,
                                        env=twin_env(**(extra_env or {})),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"serving at (http://\S+?)/?\s", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"server did not start: {line}{self.process.stderr.read()}")
        self.url = match.group(1)
        # drain the server's log: a full stderr pipe would block its event loop mid-request
        self.log: collections.deque[str] = collections.deque(maxlen=2000)
        threading.Thread(target=self.log.extend, args=(self.process.stderr,), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=10).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("server did not answer /healthz within 60 s")

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=60, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", timeout=60, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


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


def shared_data_or_skip() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"the real Almaty data is not beside the project ({SHARED_DATA} is absent)")
    return SHARED_DATA

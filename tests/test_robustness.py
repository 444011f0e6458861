"""The server under faults: PostgreSQL restarting under load, a worker killed, oversized
requests and too many at once. Each failure is a clean 4xx/503 with Retry-After, and the server
heals by itself. The database restart uses a cluster of its own, not the session's."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, run_twin
from test_editing import add_user, plot


class FaultTwin:
    """A twin of its own: embedded cluster in a temporary home, a server with 2 workers."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="twin-faults-"))
        os.chmod(self.home, 0o755)
        self.env = {
            "TWIN_HOME": str(self.home),
            "TWIN_DB_FAST": "1",
            "DATABASE_URL": "",
            "TWIN_MAX_INFLIGHT": "4",
        }
        run_twin("db", "start", **self.env)
        run_twin("migrate", **self.env)
        self.key = (
            run_twin("users", "add", "fault-admin", "--role", "admin", **self.env)
            .stdout.strip()
            .splitlines()[-1]
        )
        self.server = Server(self.env, args=("--workers", "2"))

    def db(self, command: str) -> None:
        run_twin("db", command, **self.env)

    def close(self) -> None:
        self.server.stop()
        run_twin("db", "stop", check=False, **self.env)
        location = self.home / "pg-location"
        if location.exists():
            shutil.rmtree(location.read_text().strip(), ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_twin() -> Iterator[FaultTwin]:
    twin = FaultTwin()
    yield twin
    twin.close()


def workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(c)
        for c in children
        if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
    ]


def test_a_huge_body_is_refused_before_it_is_read(server):
    huge = b"{" + b" " * (11 * 1024 * 1024) + b"}"
    for path in ["/collections/plots/items", "/processes/isochrone/execution"]:
        response = httpx.post(
            f"{server.url}{path}",
            content=huge,
            timeout=60,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 413, path
        assert "at most" in response.json()["description"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
        for _ in range(12):
            yield b" " * (1024 * 1024)

    streamed = httpx.post(
        f"{server.url}/collections/plots/items",
        content=chunks(),
        timeout=60,
        headers={"Content-Type": "application/json", "X-API-Key": "twin_000000000000_x"},
    )
    assert streamed.status_code == 413


def test_a_huge_geometry_is_refused_by_its_vertex_limit(server, database_url):
    key = add_user("editor", "plots")
    n = 120_000
    ring = [
        [76.93 + 0.01 * math.cos(2 * math.pi * i / n), 43.24 + 0.01 * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    feature = plot()
    feature["geometry"] = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    response = httpx.post(
        f"{server.url}/collections/plots/items",
        content=json.dumps(feature),
        headers={"Content-Type": "application/geo+json", "X-API-Key": key},
        timeout=60,
    )
    assert response.status_code == 413, response.text
    assert "vertices" in response.json()["description"]


def test_a_killed_worker_is_replaced_and_the_others_keep_serving(fault_twin):
    server = fault_twin.server
    before = workers(server.process.pid)
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    statuses = Counter(
        server.get("/collections/plots/items", params={"f": "json"}).status_code for _ in range(20)
    )
    assert statuses == {200: 20}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = workers(server.process.pid)
        if len(now) == 2 and before[0] not in now:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the dead worker was not replaced: {workers(server.process.pid)}")
    assert server.get("/healthz").status_code == 200


def test_too_many_requests_at_once_get_503_with_retry_after(fault_twin):
    server = fault_twin.server
    with httpx.Client(timeout=60) as client:
        fid = client.post(
            f"{server.url}/collections/plots/items",
            content=json.dumps(plot()),
            headers={"Content-Type": "application/geo+json", "X-API-Key": fault_twin.key},
        ).headers["Location"]
    results: list[httpx.Response] = []

    def reader() -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(3):
                results.append(client.get(f"{fid}/history"))

    threads = [threading.Thread(target=reader) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = Counter(r.status_code for r in results)
    assert set(statuses) <= {200, 503} and statuses[200] > 0, statuses
    assert statuses[503] > 0, "30 clients against 2 workers x 4 slots never hit the limit"
    busy = [r for r in results if r.status_code == 503]
    assert all(r.headers.get("Retry-After") for r in busy)
    assert all(r.json()["code"] == "ServerBusy" for r in busy)


def test_postgresql_restarting_under_load_gives_clean_503s_and_heals(fault_twin):
    server = fault_twin.server
    with httpx.Client(timeout=60) as client:
        item = client.post(
            f"{server.url}/collections/plots/items",
            content=json.dumps(plot()),
            headers={"Content-Type": "application/geo+json", "X-API-Key": fault_twin.key},
        ).headers["Location"]
    paths = [
        item,
        f"{item}/history",
        f"{server.url}/collections/plots/items?f=json&limit=5",
        f"{server.url}/collections/plots/items?f=json&bbox=76.9,43.2,77.0,43.3",
    ]
    log: list[tuple[float, float, str, int | str, str | None]] = []  # start, seconds, ...
    stop = threading.Event()

    def client_loop(offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = offset
            while not stop.is_set():
                path = paths[i % len(paths)]
                began = time.monotonic()
                try:
                    response = client.get(path)
                    log.append(
                        (
                            began,
                            time.monotonic() - began,
                            path,
                            response.status_code,
                            response.headers.get("Retry-After"),
                        )
                    )
                except httpx.HTTPError as exc:
                    log.append((began, time.monotonic() - began, path, type(exc).__name__, None))
                i += 1
                time.sleep(0.02)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        fault_twin.db("stop")
        down_at = time.monotonic()
        time.sleep(4.0)
        restart_at = time.monotonic()
        fault_twin.db("start")
        up_at = time.monotonic()
        deadline = up_at + 20
        healed_at = None
        while time.monotonic() < deadline:
            if all(server.get(p.removeprefix(server.url)).status_code == 200 for p in paths):
                healed_at = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert healed_at is not None, "the server did not recover within 20 s of PostgreSQL"
    statuses = Counter(entry[3] for entry in log)
    assert set(statuses) <= {200, 503}, statuses  # never a 500, never a dropped connection
    assert all(retry for *_, status, retry in log if status == 503)
    outage = [
        entry for entry in log if down_at + 0.2 < entry[0] and entry[0] + entry[1] < restart_at
    ]
    assert len(outage) >= 8 and {entry[3] for entry in outage} == {503}, outage
    # the breaker answers at once, not after the pool's connection timeout
    assert sorted(entry[1] for entry in outage)[len(outage) // 2] < 0.5, outage
    assert healed_at - up_at < 10
    after = [entry[3] for entry in log if entry[0] > healed_at + 0.5]
    assert after and set(after) == {200}
    assert server.process.poll() is None  # the same server, never restarted

"""Past one machine: a streaming read replica and PgBouncer, as an operator runs them.

The operator copies the primary with `twin db replica --from URL` (pg_basebackup, progress
shown), serves the copy with `twin serve --read-only`, edits on the primary and sees the edit
in the replica's items and tiles after the replication lag (measured, printed); the replica
restarts and its server keeps serving; writes sent to the read-only server are refused with a
405 naming the primary (host:port, never the password). Then PgBouncer in transaction mode in
front of the primary (`twin db pooler start`): the server answers items (past psycopg's
prepare threshold), an edit, a process and a low-zoom tile (the overview's transaction lock)
through it, while the analysis refresher holds its leader lock on a direct session.

One primary (the session's embedded cluster; a primary of the module's own when DATABASE_URL
names an external server), one replica, one PgBouncer, two extra servers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from conftest import Server, run_twin
from twin.db.pooler import Pooler
from twin.db.replica import start_replica, stop_replica

# the plots' z12 tile over the centre (tileMatrix/tileRow/tileCol): drawn from the overview
LOW_ZOOM_PLOTS = "/collections/plots/tiles/WebMercatorQuad/12/1501/2923?f=mvt"
KIOSK_AT = (76.9205, 43.2505)
KIOSK_TILE = "/collections/amenities/tiles/WebMercatorQuad/16/24018/46770?f=mvt"  # its tile
PASSWORD = "not-for-clients"


@dataclass
class Primary:
    url: str
    server: Server
    env: dict[str, str]  # what points the twin's commands at it

    def twin(self, *args: str, check: bool = True):
        return run_twin(*args, check=check, **self.env)


@pytest.fixture(scope="module")
def primary(
    demo_city: str, server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Primary]:
    """The session's embedded cluster with the small demo and its server; with an external
    DATABASE_URL (no replication rights to count on), an embedded primary of our own."""
    if not os.environ.get("DATABASE_URL"):
        yield Primary(demo_city, server, {})
        return
    home = tmp_path_factory.mktemp("primary")
    os.chmod(home, 0o755)
    env = {"TWIN_HOME": str(home), "DATABASE_URL": "", "TWIN_DB_FAST": "1"}
    url = run_twin("db", "start", **env).stdout.strip().splitlines()[-1]
    try:
        run_twin("migrate", **env)
        run_twin("load", "demo", "--scale", "small", "--seed", "1", **env)
        own = Server(env)
        yield Primary(url, own, env)
        own.stop()
    finally:
        run_twin("db", "stop", check=False, **env)


@dataclass
class Replica:
    url: str
    directory: Path
    server: Server
    started_s: float


@pytest.fixture(scope="module")
def replica(primary: Primary, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    directory = tmp_path_factory.mktemp("replica")
    os.chmod(directory, 0o755)
    started = time.perf_counter()
    copied = primary.twin("db", "replica", "--from", primary.url, "--dir", str(directory))
    elapsed = time.perf_counter() - started
    assert "base backup (copying the primary): 100%" in copied.stderr, copied.stderr
    url = copied.stdout.strip().splitlines()[-1]
    with_password = primary.url.replace("postgres@", f"postgres:{PASSWORD}@")
    server = Server(
        {
            "DATABASE_URL": url,
            "TWIN_PRIMARY_URL": with_password,
            "TWIN_TILE_CACHE": str(directory / "tile-cache"),
        },
        args=("--read-only",),
    )
    try:
        yield Replica(url, directory, server, elapsed)
    finally:
        started = time.perf_counter()
        server.stop()
        stopped = time.perf_counter()
        stop_replica(directory)
        print(
            f"replica server stop {stopped - started:.1f} s, replica stop "
            f"{time.perf_counter() - stopped:.1f} s"
        )
        location = directory / "pg-location"
        if location.exists():
            shutil.rmtree(location.read_text().strip(), ignore_errors=True)


@pytest.fixture(scope="module")
def editor(primary: Primary) -> str:
    """An amenities editor's API key, made on the primary as an admin makes one."""
    name = f"replica-{uuid.uuid4().hex[:6]}"
    added = primary.twin("users", "add", name, "--role", "editor", "--layers", "amenities")
    return added.stdout.strip().splitlines()[-1]


def _add_kiosk(server: Server, key: str, name: str) -> int:
    answer = server.post(
        "/collections/amenities/items",
        headers={"X-API-Key": key, "Content-Type": "application/geo+json"},
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(KIOSK_AT)},
            "properties": {"name": name, "category": "commerce", "kind": "shop"},
        },
    )
    assert answer.status_code == 201, answer.text
    return int(answer.headers["Location"].rsplit("/", 1)[1])


def _until(probe, timeout_s: float = 20.0):
    """Poll `probe` until it returns something truthy; (value, seconds waited)."""
    started = time.perf_counter()
    while True:
        value = probe()
        if value or time.perf_counter() - started > timeout_s:
            return value, time.perf_counter() - started
        time.sleep(0.02)


def test_the_replica_serves_what_the_primary_serves_and_follows_its_edits(
    primary: Primary, replica: Replica, editor: str
):
    print(f"\nbase backup and start of the replica: {replica.started_s:.1f} s")
    with psycopg.connect(replica.url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    for path in ("/collections/plots/items?limit=3", "/collections/amenities/items?limit=1"):
        on_primary, on_replica = primary.server.get(path), replica.server.get(path)
        assert on_replica.status_code == 200, on_replica.text
        assert on_replica.json()["numberMatched"] == on_primary.json()["numberMatched"]
    # a stale overview (plots edited since the primary last drew z12) cannot be rebuilt on
    # a replica: the tile is drawn from the plots table instead, never a 500
    assert replica.server.get(LOW_ZOOM_PLOTS).status_code == 200

    before = replica.server.get(KIOSK_TILE)
    name = f"Replica kiosk {uuid.uuid4().hex[:4]}"
    fid = _add_kiosk(primary.server, editor, name)
    seen, lag = _until(
        lambda: replica.server.get(f"/collections/amenities/items/{fid}").status_code == 200
    )
    assert seen, "the edit never reached the replica"
    print(f"replication lag, edit on the primary to the item on the replica: {lag * 1000:.0f} ms")
    assert lag < 5
    # the tile's key is the layer version read from the replica; a worker trusts the versions
    # it read for TWIN_TILE_VERSION_TTL seconds, so the new tile follows within that bound
    drawn, tile_lag = _until(lambda: name.encode() in replica.server.get(KIOSK_TILE).content)
    assert drawn, "the replica's tile never showed the edit"
    print(f"edit on the primary to the replica's tile: {tile_lag * 1000:.0f} ms")
    assert replica.server.get(KIOSK_TILE).headers["ETag"] != before.headers["ETag"]


def test_writes_to_the_read_only_server_name_the_primary(
    primary: Primary, replica: Replica, editor: str
):
    writes = [
        ("POST", "/collections/amenities/items", {"type": "Feature"}),
        ("PATCH", "/collections/amenities/items/1", {"properties": {"name": "x"}}),
        ("DELETE", "/collections/amenities/items/1", None),
        ("POST", "/plans", {"title": "a plan on a replica"}),
        ("DELETE", "/plans/1", None),
    ]
    shown = primary.url.split("@", 1)[1].split("/", 1)[0]  # host:port
    for method, path, body in writes:
        answer = httpx.request(
            method, replica.server.url + path, json=body, headers={"X-API-Key": editor}, timeout=30
        )
        assert answer.status_code == 405, (method, path, answer.text)
        error = answer.json()
        assert error["code"] == "ReadOnlyServer" and error["primary"] == shown
        assert shown in error["description"] and PASSWORD not in answer.text
    assert replica.server.get("/collections/amenities/items/1").status_code == 200
    # a process computes and changes nothing: the replica runs it
    isochrone = replica.server.post(
        "/processes/isochrone/execution",
        json={"inputs": {"lon": 76.92, "lat": 43.25, "minutes": 5}},
    )
    assert isochrone.status_code == 200, isochrone.text


def test_the_replica_restarted_keeps_serving_and_catches_up(
    primary: Primary, replica: Replica, editor: str
):
    # in process, as `twin db replica stop` and `twin db replica --from URL` call them
    assert stop_replica(replica.directory)
    down = replica.server.get("/healthz")
    assert down.status_code == 503 and down.headers["Retry-After"]
    fid = _add_kiosk(primary.server, editor, "Kiosk added while the replica slept")
    copied: list[int] = []
    again = start_replica(primary.url, replica.directory, progress=copied.append)
    assert not copied  # the copy is kept: started, not copied again
    assert again == replica.url  # same port, same URL
    caught_up, waited = _until(
        lambda: replica.server.get(f"/collections/amenities/items/{fid}").status_code == 200
    )
    assert caught_up, "the restarted replica never caught up"
    print(f"restarted replica serving the edit made while it was down after {waited:.1f} s")


def test_the_server_works_through_pgbouncer_in_transaction_mode(primary: Primary, editor: str):
    home = Path(tempfile.mkdtemp(prefix="twin-pgbouncer-"))  # PgBouncer's user must reach it
    os.chmod(home, 0o755)
    bouncer = Pooler(home)  # in process, as `twin db pooler start` runs it
    pooled = bouncer.start(primary.url)
    assert pooled != primary.url
    with psycopg.connect(pooled, autocommit=True, prepare_threshold=None) as conn:
        assert conn.execute("SHOW transaction_isolation").fetchone()[0]
    server = Server(
        {
            "DATABASE_URL": pooled,
            "TWIN_DB_SESSION_URL": primary.url,
            "TWIN_ANALYSIS_REFRESH": "on",
        }
    )
    try:
        # past psycopg's prepare threshold (5) on the same statements: a prepared statement
        # would be missing, or a duplicate, on the next backend PgBouncer lends
        for round_ in range(8):
            for fid in (1, 2, 3):
                answer = server.get(f"/collections/amenities/items/{fid}")
                assert answer.status_code == 200, (round_, answer.text)
        fid = _add_kiosk(server, editor, "Kiosk through PgBouncer")
        assert server.get(f"/collections/amenities/items/{fid}").status_code == 200
        assert server.get(LOW_ZOOM_PLOTS).status_code == 200  # overview under an xact lock
        isochrone = server.post(
            "/processes/isochrone/execution",
            json={"inputs": {"lon": 76.92, "lat": 43.25, "minutes": 5}},
        )
        assert isochrone.status_code == 200, isochrone.text
        # the refresher's session lock and LISTEN live on a direct connection, not a lent one
        with psycopg.connect(primary.url, autocommit=True) as conn:
            holder, _ = _until(
                lambda: conn.execute(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "USING (pid) WHERE l.locktype = 'advisory' AND l.objid = 1 "
                    "AND l.classid = %s AND l.granted",
                    (0x7477,),
                ).fetchone()
            )
        assert holder and holder[0].startswith("twin analysis refresher"), holder
    finally:
        server.stop()
        assert bouncer.stop()
        shutil.rmtree(home, ignore_errors=True)

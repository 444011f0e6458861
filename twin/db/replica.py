"""A streaming read replica of a twin's PostgreSQL, run like the embedded cluster.

`twin db replica --from URL` copies the primary with pg_basebackup (its WAL streamed along,
so the copy is consistent), writes standby.signal and primary_conninfo (`-R`) and starts the
copy as a hot standby under TWIN_HOME/replica (or --dir): a read-only PostgreSQL that replays
the primary's WAL as it is written. `twin serve --read-only` with DATABASE_URL pointing at it
serves reads (docs/scaling.md). The replica is an EmbeddedCluster in another directory: the
same start, stop, root handling and port file; it never creates a database of its own.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from twin.db.cluster import EmbeddedCluster, _free_port, _pg_bindir, database_url
from twin.errors import Conflict, InvalidParameter, TwinError
from twin.settings import get_settings
from twin.sqlfiles import query

LOG = logging.getLogger("twin.db.replica")
PERCENT = re.compile(rb"\((\d+)%\)")


def replica_home(directory: Path | None = None) -> Path:
    """Where a replica lives: --dir, else TWIN_HOME/replica."""
    return Path(directory) if directory else get_settings().home / "replica"


@dataclass
class Replica(EmbeddedCluster):
    """A hot standby under `home` (its data in home/pg/data, its port in home/pg-port)."""

    def create(self, primary: str, progress: Callable[[int], None] | None = None) -> None:
        """Copy the primary (pg_basebackup, fast checkpoint, WAL streamed, -R for
        standby.signal and primary_conninfo); `progress` hears the percentage copied."""
        self._prepare_root()
        command = [
            str(_pg_bindir() / "pg_basebackup"),
            "-D",
            str(self.data_dir),
            "-d",
            primary,
            "--wal-method=stream",
            "--write-recovery-conf",
            "--checkpoint=fast",
            "--progress",
            "--no-password",
        ]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        started = time.perf_counter()
        with subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL) as copy:
            assert copy.stderr is not None
            said: list[bytes] = []
            last = -1
            for chunk in iter(lambda: copy.stderr.read1(4096), b""):  # type: ignore[union-attr]
                said.append(chunk)
                for match in PERCENT.finditer(chunk):
                    percent = int(match.group(1))
                    if percent != last and progress is not None:
                        progress(percent)
                    last = percent
        if copy.returncode != 0:
            text = b"".join(said).decode(errors="replace").replace("\r", "\n")
            errors = [line for line in text.splitlines() if "error" in line.lower()]
            raise TwinError("the base backup failed: " + ("; ".join(errors) or text.strip()[-500:]))
        LOG.info(
            "base backup copied",
            extra={"fields": {"seconds": round(time.perf_counter() - started, 2)}},
        )

    def _ensure_database(self) -> None:
        """Wait until the standby accepts reads of the twin's database (it has it: a copy)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def replica_cluster(directory: Path | None = None) -> Replica:
    return Replica(replica_home(directory))


def start_replica(
    primary: str | None = None,
    directory: Path | None = None,
    port: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Start the replica (copying the primary first when there is no copy yet); its URL."""
    primary = primary or database_url()
    _check_primary(primary)
    replica = replica_cluster(directory)
    if port is not None:
        if replica.running() and replica.port() != port:
            raise Conflict(f"the replica already runs on port {replica.port()}")
        if not replica.running() and _free_port(port) != port:
            raise Conflict(f"port {port} is taken: choose another with --port")
        replica.home.mkdir(parents=True, exist_ok=True)
        replica.port_file.write_text(str(port))
    if not replica.initialised():
        replica.create(primary, progress)
    return replica.start()


def stop_replica(directory: Path | None = None) -> bool:
    """Stop the replica; False when none runs there."""
    replica = replica_cluster(directory)
    if not replica.running():
        return False
    replica.stop()
    return True


def _check_primary(url: str) -> None:
    """The primary answers and is one (a replica of a replica would work, but is not asked)."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise InvalidParameter(f"--from is not a PostgreSQL URL: {exc}") from None
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            standby = conn.execute(query("db/in_recovery")).fetchone()[0]
    except psycopg.OperationalError as exc:
        raise TwinError(
            f"the primary {shown_address(url)} does not answer: {str(exc).splitlines()[0]}"
        ) from None
    if standby:
        raise InvalidParameter(f"{shown_address(url)} is itself a replica: copy its primary")


def in_recovery(conn: psycopg.Connection) -> bool:
    """Whether the connection's server is a hot standby (a replica cannot write). PostgreSQL
    14+ reports it with every connection (no round trip); through PgBouncer, which does not
    pass that report on, it is asked."""
    status = conn.info.parameter_status("in_hot_standby")
    if status is not None:
        return status == "on"
    return bool(conn.execute(query("db/in_recovery")).fetchone()[0])


def shown_address(url: str) -> str:
    """host:port of a database URL, for messages and answers (never user or password)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the primary"
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"


def replication_state(replica_url: str) -> dict[str, object]:
    """Whether the database is a standby, what it has replayed, and how old the last
    replayed transaction is (seconds; None on a primary)."""
    with psycopg.connect(replica_url, autocommit=True, connect_timeout=5) as conn:
        standby, replayed, age = conn.execute(query("db/replication_state")).fetchone()
    return {"standby": standby, "replayed_lsn": replayed, "last_replay_age_s": age}

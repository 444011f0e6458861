"""The embedded PostgreSQL cluster under TWIN_HOME, used when no DATABASE_URL is given.

PostgreSQL refuses to run as root, so when the caller is root every server command runs
as the `postgres` user through runuser, in a directory that user owns.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from twin.errors import DatabaseNotRunning, TwinError
from twin.settings import get_settings

DATABASE = "twin"
WAL_KEEP_MB = 256
# pg_hba.conf rows for replication from this machine (initdb's defaults with --auth=trust)
REPLICATION_HBA = (
    "local   replication     all                                     trust",
    "host    replication     all             127.0.0.1/32            trust",
    "host    replication     all             ::1/128                 trust",
)


def _hba_rows(text: str) -> list[list[str]]:
    """The rows of a pg_hba.conf in force (comments and blank lines left out), split."""
    return [line.split() for line in text.splitlines() if line.split() and line[0] != "#"]


def _pg_bindir() -> Path:
    """Debian's PostgreSQL binaries (newest major first), else whatever is on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise TwinError(
        "PostgreSQL is not installed: run `make demo` (it installs postgresql-15 "
        "and postgresql-15-postgis-3) or `apt-get install postgresql-15-postgis-3`"
    )


def _free_port(preferred: int | None = None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            # as PostgreSQL binds: a port whose last connections linger in TIME_WAIT after a
            # stop is free again (a restarted cluster keeps its port and URL)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise TwinError("no free TCP port for PostgreSQL")


@dataclass
class EmbeddedCluster:
    home: Path

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def root(self) -> Path:
        """Where the cluster lives: TWIN_HOME/pg, unless the postgres user cannot reach it."""
        pointer = self.home / "pg-location"
        if pointer.exists():
            return Path(pointer.read_text().strip())
        return self.home / "pg"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "postgresql.log"

    @property
    def port_file(self) -> Path:
        return self.home / "pg-port"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def _prepare_root(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        root = self.home / "pg"
        root.mkdir(exist_ok=True)
        if not self.as_root:
            return
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        if self._run("test", "-w", root, check=False).returncode != 0:
            # The postgres user cannot traverse the project path (say, under /root): keep the
            # cluster in a directory it can reach and remember where.
            digest = hashlib.sha1(str(self.home.resolve()).encode()).hexdigest()[:12]
            root = Path("/var/tmp") / f"almaty-twin-{digest}"
            root.mkdir(exist_ok=True)
            os.chown(root, pg.pw_uid, pg.pw_gid)
            (self.home / "pg-location").write_text(str(root))

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def port(self) -> int | None:
        return int(self.port_file.read_text()) if self.port_file.exists() else None

    def running(self) -> bool:
        if not self.initialised():
            return False
        return (
            self._run(
                _pg_bindir() / "pg_ctl", "-D", self.data_dir, "status", check=False
            ).returncode
            == 0
        )

    def url(self) -> str:
        port = self.port()
        if port is None:
            raise DatabaseNotRunning("no embedded cluster has been started yet")
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"

    def start(self) -> str:
        """Initialise (once) and start the cluster, create the `twin` database with PostGIS."""
        bindir = _pg_bindir()
        if not self.initialised():
            self._prepare_root()
            self._run(
                bindir / "initdb",
                "-D",
                self.data_dir,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            )
        if not self.running():
            self.socket_dir.mkdir(exist_ok=True)
            if self.as_root:
                pg = pwd.getpwnam("postgres")
                os.chown(self.socket_dir, pg.pw_uid, pg.pw_gid)
            self.allow_replication()
            port = _free_port(self.port())
            self.port_file.write_text(str(port))
            result = self._run(
                bindir / "pg_ctl",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
                "-o",
                self._options(port),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if result.returncode != 0:
                log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
                raise TwinError(f"PostgreSQL did not start: {result.stderr.strip()} {log}")
        self._ensure_database()
        return self.url()

    def _options(self, port: int) -> str:
        """The server's settings, given at every start (a cluster made by an older twin gets
        them too): replication is on so `twin db replica` can stream from any cluster."""
        return " ".join(
            [
                f"-p {port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                "-c shared_buffers=512MB",
                "-c work_mem=32MB",
                "-c maintenance_work_mem=256MB",
                "-c max_connections=200",
                "-c synchronous_commit=off",
                "-c jit=off",
                # streaming replicas (twin.db.replica): WAL for a hot standby, senders for
                # several replicas and base backups, and WAL kept for a replica that was
                # stopped a while (no replication slot, so a forgotten replica costs nothing)
                "-c wal_level=replica",
                "-c max_wal_senders=10",
                f"-c wal_keep_size={WAL_KEEP_MB}MB",
                "-c hot_standby=on",
                *(
                    ["-c fsync=off", "-c full_page_writes=off"]
                    if get_settings().database.fast
                    else []
                ),
            ]
        )

    def allow_replication(self) -> None:
        """pg_hba.conf lets local replication connections in (initdb writes these lines;
        a cluster whose file lost them gets them back at its next start)."""
        hba = self.data_dir / "pg_hba.conf"
        text = self._run("cat", hba).stdout
        missing = [line for line in REPLICATION_HBA if line.split() not in _hba_rows(text)]
        if missing:
            added = text.rstrip("\n") + "\n# twin db replica\n" + "\n".join(missing) + "\n"
            subprocess.run(
                ["runuser", "-u", "postgres", "--", "tee", str(hba)]
                if self.as_root
                else ["tee", str(hba)],
                input=added,
                text=True,
                check=True,
                capture_output=True,
            )

    def _ensure_database(self) -> None:
        admin = self.url().rsplit("/", 1)[0] + "/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"')  # constant identifier
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def stop(self) -> None:
        if self.running():
            self._run(_pg_bindir() / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop")


def embedded_cluster() -> EmbeddedCluster:
    return EmbeddedCluster(get_settings().home)


def database_url() -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's URL, which must be running."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    cluster = embedded_cluster()
    if not cluster.initialised() or cluster.port() is None:
        raise DatabaseNotRunning("no embedded cluster under " + str(settings.home))
    return cluster.url()


def session_database_url() -> str:
    """A URL for work that needs a session of its own (LISTEN, session advisory locks):
    TWIN_DB_SESSION_URL when DATABASE_URL is a transaction-mode pooler, else the usual one."""
    return get_settings().database.session_url or database_url()

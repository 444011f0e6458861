"""PgBouncer in transaction mode in front of the twin's PostgreSQL (`twin db pooler start`).

Many server workers on many machines each keep a pool of connections; PgBouncer lets them
share a few PostgreSQL backends, each lent for one transaction at a time. What that costs the
twin, and how it is handled:
- server-side prepared statements do not survive from one transaction to the next backend
  (PgBouncer 1.18 in Debian 12 cannot track them; 1.21+ can with max_prepared_statements):
  with TWIN_DB_SESSION_URL set the twin's connections never prepare (prepare_threshold=None,
  twin.db.pool);
- session state: the twin's request settings are transaction-local (set_config(..., true)),
  its tile-overview lock is a transaction lock (pg_advisory_xact_lock), and the analysis
  refresher, which LISTENs and holds a session lock as the one leader, connects to
  TWIN_DB_SESSION_URL, the database directly.
Config, pid file and log live under TWIN_HOME/pgbouncer.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from twin.db.cluster import DATABASE, _free_port, database_url
from twin.errors import Conflict, TwinError
from twin.settings import get_settings

POOL_SIZE = 20  # server connections per database and user: about a busy machine's cores × 4


def _pgbouncer() -> str:
    """The pgbouncer binary (Debian puts it in /usr/sbin, not on every user's PATH)."""
    for found in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if found and Path(found).exists():
            return found
    raise TwinError("PgBouncer is not installed: run `make bootstrap` (Debian package pgbouncer)")


@dataclass
class Pooler:
    """One PgBouncer under `directory` (TWIN_HOME/pgbouncer)."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "pgbouncer.ini"

    @property
    def pid_file(self) -> Path:
        return self.directory / "pgbouncer.pid"

    @property
    def port_file(self) -> Path:
        return self.directory / "port"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def url(self) -> str:
        if not self.port_file.exists():
            raise TwinError("no pooler has been started: `twin db pooler start`")
        return f"postgresql://postgres@127.0.0.1:{self.port_file.read_text().strip()}/{DATABASE}"

    def write_config(self, target: str, port: int) -> None:
        """pgbouncer.ini for `target` (the database URL it pools) listening on `port`."""
        params = conninfo_to_dict(target)
        user = params.get("user") or "postgres"
        server = make_conninfo(
            host=params.get("host") or "127.0.0.1",
            port=params.get("port") or "5432",
            dbname=params.get("dbname") or DATABASE,
            user=user,
            **({"password": params["password"]} if params.get("password") else {}),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "userlist.txt").write_text(f'"{user}" ""\n')
        lines = [
            "[databases]",
            f"{DATABASE} = {server}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            "auth_type = trust",  # loopback only, as the embedded cluster itself
            f"auth_file = {self.directory / 'userlist.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {POOL_SIZE}",
            "max_client_conn = 2000",
            "server_reset_query =",
            "ignore_startup_parameters = extra_float_digits",
            f"pidfile = {self.pid_file}",
            f"logfile = {self.directory / 'pgbouncer.log'}",
            f"admin_users = {user}",
        ]
        self.config.write_text("\n".join(lines) + "\n")
        self.port_file.write_text(str(port))

    def start(self, target: str, port: int | None = None) -> str:
        """Start PgBouncer in front of `target` (daemonised); its URL once it answers."""
        if self.running():
            return self.url()
        chosen = _free_port(port)
        if port and chosen != port:
            raise Conflict(f"port {port} is taken: choose another with --port")
        self.write_config(target, chosen)
        command = [_pgbouncer(), "--daemon", str(self.config)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            postgres = pwd.getpwnam("postgres")
            for path in [self.directory, *self.directory.iterdir()]:
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise TwinError(f"PgBouncer did not start: {result.stderr.strip() or result.stdout}")
        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2, prepare_threshold=None) as c:
                    c.execute("SELECT 1")
                return self.url()
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise TwinError(f"PgBouncer does not answer: {exc}") from None
                time.sleep(0.1)

    def stop(self) -> bool:
        """Stop PgBouncer (SIGTERM to its pid); False when none ran."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


def pooler(directory: Path | None = None) -> Pooler:
    return Pooler(Path(directory) if directory else get_settings().home / "pgbouncer")


def start_pooler(target: str | None = None, port: int | None = None) -> str:
    """Start the twin's PgBouncer in front of `target` (default: the twin's database)."""
    return pooler().start(target or database_url(), port)

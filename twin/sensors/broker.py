"""The twin's own MQTT broker: Debian's mosquitto, run under TWIN_HOME beside PostgreSQL.

`twin sensors broker start` (and `twin up`) writes a config under TWIN_HOME/mqtt/ and starts
/usr/sbin/mosquitto as a daemon: one listener on 127.0.0.1 at TWIN_MQTT_PORT (default 1884, not
the system broker's 1883), persistence off (observations are stored by the twin, not queued by
the broker), a pid file and a log file there.

Accounts (docs/sensors.md, "MQTT"): the listener is on the loopback interface only and no
anonymous client may connect. The twin's own account (user `twin`, its password in
TWIN_HOME/mqtt/twin.secret, made at the first start) is the bridge's and the simulator's; it
reads and writes the SensorThings topics (`v1.1/#`). Every active sensor key is an account
too: user name its key id (the 12 characters after `sta_`), password the whole key. A key may
publish Observations only to the topics of its own Datastreams (`v1.1/Datastreams(<id>)/
Observations`, its provider's or its Thing's) and read `v1.1/#`; `v1.1/Observations` (the
Datastream named in the payload, which a broker cannot check) is the twin's own account's.
The password file (mosquitto's PBKDF2-SHA512 `$7$` form, written from sta_keys.mqtt_hash) and
the ACL are written from the database when the broker starts and again, followed by SIGHUP
(mosquitto reloads them), when a key is added or revoked and when Datastreams change (the
bridge looks every 30 s). Devices on a network may also use a broker with accounts of its own
(TWIN_MQTT_URL=mqtt://user:password@host:port), which the bridge uses as is.

Which key may publish to which Datastream is not in the ACL file: mosquitto reads one in
quadratic time and checks a publish by walking the user's topics, so a lighting provider's
44,000 lamps would make every reload take seconds. The twin's plugin (mqtt_acl_plugin.c,
compiled here with gcc at the broker's first start, headers from Debian's mosquitto-dev) reads
TWIN_HOME/mqtt/datastreams ("<key id> <datastream id>" lines) at start and at every SIGHUP
and answers each publish with a binary search. When it cannot be built the ACL file lists a
key's topics as before (up to ACL_TOPICS_MAX, above that every Datastream's), the log says so
and /sta/v1.1/mqtt-status shows it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from twin.errors import TwinError
from twin.settings import get_settings

LOG = logging.getLogger("twin.sensors.broker")
MOSQUITTO = "/usr/sbin/mosquitto"
# the broker takes packets up to 1 MiB, so that the bridge sees an oversize observation
# (> 64 KB) and counts it with its reason instead of the broker dropping the client unheard
MAX_PACKET_BYTES = 1024 * 1024
OWN_ACCOUNT = "twin"  # the twin's own account: the bridge and the simulator
PBKDF2_ROUNDS = 101  # mosquitto_passwd's default for its $7$ (PBKDF2-SHA512) hashes
# without the ACL plugin, the most Datastream topics one key's ACL lists: mosquitto reads an ACL
# file in quadratic time (20,000 lines: 1.3 s, 44,000: over 6 s, the broker deaf meanwhile, at
# every reload) and checks a user's topics one by one per message; a key feeding more
# Datastreams may then publish to every Datastream's topic (the bridge still checks each
# Observation as the HTTP API does, but cannot tell who published)
ACL_TOPICS_MAX = 1000
PLUGIN_SOURCE = Path(__file__).with_name("mqtt_acl_plugin.c")
PLUGIN_HEADER = Path("/usr/include/mosquitto_broker.h")  # Debian's mosquitto-dev
PLUGIN_ERROR = "acl-plugin-error.txt"  # why a broker directory's plugin could not be built
GRANTS_FILE = "datastreams"  # the plugin's (key id, Datastream id) pairs


class BrokerError(TwinError):
    """The broker could not be started (not installed, port taken, bad config)."""


@dataclass(frozen=True)
class MqttEndpoint:
    """Where the bridge, the simulator and tests connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """mqtt://host:port (credentials left out: shown in answers and logs)."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """mqtt://user:password@host:port: TWIN_MQTT_URL for a server that must log in (the
        tests' and the bench's servers on a broker of their own); never shown."""
        if not self.username:
            return self.url
        login = quote(self.username, safe="")
        if self.password:
            login += ":" + quote(self.password, safe="")
        return f"mqtt://{login}@{self.host}:{self.port}"


def broker_dir() -> Path:
    """TWIN_HOME/mqtt: the broker's config, ACL, pid file and log."""
    return get_settings().home / "mqtt"


def _pid_file(directory: Path | None = None) -> Path:
    return (directory or broker_dir()) / "mosquitto.pid"


def broker_pid(directory: Path | None = None) -> int | None:
    """The running broker's pid, or None when it does not run (a stale pid file is ignored).
    `directory`: a broker kept elsewhere than TWIN_HOME/mqtt (the tests' own)."""
    try:
        pid = int(_pid_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        if not _alive(pid):
            return None
    except PermissionError:
        return pid
    with contextlib.suppress(OSError):  # a recycled pid of another program is not ours
        if "mosquitto" not in Path(f"/proc/{pid}/comm").read_text():
            return None
    return pid


def acl_plugin(directory: Path, timeout_s: float = 120.0) -> Path | None:
    """The ACL plugin compiled for this source into the broker directory (built once per
    version of mqtt_acl_plugin.c), or None when it cannot be: the reason is logged and kept
    in the directory for /sta/v1.1/mqtt-status, and the broker falls back to the ACL file."""
    error_file = directory / PLUGIN_ERROR
    try:
        digest = hashlib.sha256(PLUGIN_SOURCE.read_bytes()).hexdigest()[:12]
    except OSError:  # an install without the source
        digest = ""
    target = directory / f"twin_acl_{digest}.so"
    if digest and target.exists():
        error_file.unlink(missing_ok=True)
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if not digest:
        reason = f"{PLUGIN_SOURCE} is missing"
    elif compiler is None:
        reason = "no C compiler (apt-get install gcc)"
    elif not PLUGIN_HEADER.exists():
        reason = f"{PLUGIN_HEADER} is missing (apt-get install mosquitto-dev)"
    else:
        spare = target.with_suffix(".tmp")
        command = [compiler, "-O2", "-shared", "-fPIC", "-o", str(spare), str(PLUGIN_SOURCE)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            reason = f"{compiler} failed: {exc}"
        else:
            if result.returncode == 0:
                os.replace(spare, target)
                for old in directory.glob("twin_acl_*.so"):  # earlier versions' builds
                    if old != target:
                        old.unlink(missing_ok=True)
                error_file.unlink(missing_ok=True)
                return target
            reason = f"{compiler} failed: {_tail(result.stderr or result.stdout)}"
        spare.unlink(missing_ok=True)
    error_file.write_text(reason + "\n")
    LOG.warning(
        "mqtt acl plugin not built: a sensor key feeding more than "
        f"{ACL_TOPICS_MAX} Datastreams may publish to every Datastream's topic",
        extra={"fields": {"directory": str(directory), "reason": reason}},
    )
    return None


def _uses_plugin(directory: Path) -> bool:
    """Whether the broker of this directory loads the ACL plugin (its config says)."""
    with contextlib.suppress(OSError):
        return any(
            line.startswith("plugin ")
            for line in (directory / "mosquitto.conf").read_text().splitlines()
        )
    return False


def _config(port: int, directory: Path, plugin: Path | None = None) -> str:
    lines = [
        "# Generated by `twin sensors broker start` (twin/sensors/broker.py): edits are lost",
        "per_listener_settings false",
        f"listener {port} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {directory / 'passwd'}",
        f"acl_file {directory / 'acl'}",
        "persistence false",
        f"max_packet_size {MAX_PACKET_BYTES}",
        "max_queued_messages 100000",
        "max_inflight_messages 1000",
        f"pid_file {directory / 'mosquitto.pid'}",
        f"log_dest file {directory / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
    ]
    if plugin is not None:  # checked before the ACL file, which handles what it defers
        lines += [f"plugin {plugin}", f"plugin_opt_datastreams {directory / GRANTS_FILE}"]
    if os.geteuid() == 0:  # mosquitto run as root drops to `mosquitto`, which cannot write here
        lines.append(f"user {pwd.getpwuid(os.geteuid()).pw_name}")
    return "\n".join(lines) + "\n"


def mqtt_password_hash(password: str) -> str:
    """A password as mosquitto's password file keeps it: $7$ (PBKDF2-SHA512), as
    mosquitto_passwd writes it."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS, 64)
    return (
        f"$7${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def twin_secret(directory: Path | None = None) -> str:
    """The twin's own account's password (made at the broker's first start, owner-only)."""
    path = (directory or broker_dir()) / "twin.secret"
    with contextlib.suppress(OSError):
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secret + "\n")
    return secret


def _write_if_changed(path: Path, text: str) -> bool:
    """Write (owner-only, atomically) when the text differs; whether it did."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return False
    spare = path.with_suffix(".new")
    descriptor = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(spare, path)
    return True


def write_accounts(directory: Path, accounts: list[tuple[str, str, list[int]]]) -> bool:
    """The password file and ACL of a broker directory: the twin's account and every sensor
    key (key id, its mqtt hash, its Datastreams), and the ACL plugin's grants when the broker
    loads it (then the ACL file gives keys no topic to write). Whether a file changed."""
    secret = twin_secret(directory)
    twin_hash = None
    with contextlib.suppress(OSError):  # the twin's hash is kept while its secret is the same
        for line in (directory / "passwd").read_text().splitlines():
            user, _, stored = line.partition(":")
            if user == OWN_ACCOUNT and _checks(stored, secret):
                twin_hash = stored
    passwd = [f"{OWN_ACCOUNT}:{twin_hash or mqtt_password_hash(secret)}"]
    acl = [
        "# Generated by twin/sensors/broker.py from the database's sensor keys: edits are lost",
        f"user {OWN_ACCOUNT}",
        "topic readwrite v1.1/#",
    ]
    plugin = _uses_plugin(directory)
    grants: list[str] = []
    for key_id, hashed, streams in accounts:
        passwd.append(f"{key_id}:{hashed}")
        acl += ["", f"user {key_id}", "topic read v1.1/#"]
        if plugin:
            grants += [f"{key_id} {stream}" for stream in streams]
        elif len(streams) > ACL_TOPICS_MAX:  # "+" stands for a whole level only: mosquitto
            # refuses "Datastreams(+)" and, with it, the whole ACL file (every key open)
            acl.append("topic write v1.1/+/Observations")
        else:
            acl += [f"topic write v1.1/Datastreams({stream})/Observations" for stream in streams]
    changed = _write_if_changed(directory / "passwd", "\n".join(passwd) + "\n")
    if plugin:
        changed = _write_if_changed(directory / GRANTS_FILE, "\n".join(grants) + "\n") or changed
    return _write_if_changed(directory / "acl", "\n".join(acl) + "\n") or changed


def _checks(stored: str, password: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), 64) == digest


def register_key(conn: Any, key_id: str, key: str) -> None:
    """A new sensor key becomes an MQTT account (its hash kept beside the key's) and the
    twin's brokers reload their accounts."""
    from twin.sqlfiles import query

    conn.execute(
        query("sensors_mqtt/key_mqtt_hash"), {"key_id": key_id, "hash": mqtt_password_hash(key)}
    )
    reload_accounts(conn)


def register_old_key(conn: Any, key_id: str, key: str) -> bool:
    """A key made before its MQTT password was (migration 0019), seen in plain over HTTP: it
    becomes an MQTT account now, as a new key does (its hash kept, the brokers reloaded).
    Whether this call gave it (False: another request did first)."""
    from twin.sqlfiles import query

    given = conn.execute(
        query("sensors_mqtt/key_mqtt_hash_missing"),
        {"key_id": key_id, "hash": mqtt_password_hash(key)},
    ).fetchone()
    if given is None:
        return False
    reload_accounts(conn)
    LOG.info("mqtt account given to an older key", extra={"fields": {"key_id": key_id}})
    return True


def reload_accounts(conn: Any, directory: Path | None = None) -> int:
    """Rewrite the accounts of the twin's brokers serving this database (or of `directory`)
    from the keys, and make the running ones reload (SIGHUP) when they changed. Directories
    that are gone are forgotten. How many brokers reloaded."""
    from twin.sqlfiles import query

    accounts = [(k, h, list(s)) for k, h, s in conn.execute(query("sensors_mqtt/accounts"))]
    if directory is None:
        directories = [Path(d) for (d,) in conn.execute(query("sensors_mqtt/brokers"))]
    else:
        directories = [directory]
    reloaded = 0
    for each in directories:
        if not (each / "mosquitto.conf").exists():
            conn.execute(query("sensors_mqtt/broker_forget"), {"directory": str(each)})
            continue
        try:
            changed = write_accounts(each, accounts)
        except OSError as exc:  # another user's broker, a read-only directory: said, skipped
            LOG.warning(
                "mqtt accounts not written",
                extra={"fields": {"directory": str(each), "error": str(exc)}},
            )
            continue
        pid = broker_pid(each)
        if changed and pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGHUP)
                reloaded += 1
    return reloaded


def _accounts_at_start(directory: Path) -> None:
    """The accounts a starting broker reads: from the database when it answers (and the
    directory is registered so that keys added later reach it), else the twin's alone."""
    import psycopg

    from twin.db.pool import connect
    from twin.sqlfiles import query

    try:
        with connect() as conn:
            conn.execute(query("sensors_mqtt/broker_register"), {"directory": str(directory)})
            reload_accounts(conn, directory)
            conn.commit()
            return
    except (psycopg.Error, TwinError) as exc:
        LOG.warning(
            "mqtt broker starts with the twin's account only (sensor keys cannot log in until "
            "`twin sensors broker reload`)",
            extra={"fields": {"error": str(exc).splitlines()[0][:200] if str(exc) else ""}},
        )
    write_accounts(directory, [])


def _port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def start_broker(
    port: int | None = None, timeout_s: float = 10.0, directory: Path | None = None
) -> MqttEndpoint:
    """Start the twin's broker (or find it running) and return where it listens."""
    port = port or get_settings().mqtt.port
    directory = directory or broker_dir()
    pid = broker_pid(directory)
    if pid is not None:
        config = directory / "mosquitto.conf"
        if config.exists() and f"listener {port} " in config.read_text():
            return MqttEndpoint("127.0.0.1", port, OWN_ACCOUNT, twin_secret(directory))
        raise BrokerError(
            f"the twin's broker already runs (pid {pid}) on another port: "
            "`twin sensors broker stop` first"
        )
    if not Path(MOSQUITTO).exists() and not shutil.which("mosquitto"):
        raise BrokerError("mosquitto is not installed: `apt-get install mosquitto` (make demo)")
    if _port_answers(port):
        raise BrokerError(
            f"port {port} on 127.0.0.1 is taken: stop what uses it or set TWIN_MQTT_PORT"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    config.write_text(_config(port, directory, acl_plugin(directory)))
    _accounts_at_start(directory)
    endpoint = MqttEndpoint("127.0.0.1", port, OWN_ACCOUNT, twin_secret(directory))
    _pid_file(directory).unlink(missing_ok=True)
    executable = MOSQUITTO if Path(MOSQUITTO).exists() else shutil.which("mosquitto")
    result = subprocess.run(
        [executable, "-c", str(config), "-d"], capture_output=True, text=True, timeout=timeout_s
    )
    if result.returncode != 0:
        raise BrokerError(f"mosquitto did not start: {_tail(result.stderr or result.stdout)}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if broker_pid(directory) is not None and _port_answers(port):
            LOG.info("mqtt broker started", extra={"fields": {"url": endpoint.url}})
            return endpoint
        time.sleep(0.05)
    raise BrokerError(f"mosquitto did not answer on port {port}: {_tail(_log_text(directory))}")


def stop_broker(timeout_s: float = 10.0, directory: Path | None = None) -> bool:
    """Stop the twin's broker; False when none ran."""
    pid = broker_pid(directory)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _pid_file(directory).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    """Whether pid still runs: an exited daemon nobody reaped yet (a zombie, e.g. in a
    container whose init does not reap) has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def publish_check(conn: Any, endpoint: MqttEndpoint | None) -> dict[str, Any] | None:
    """How the twin's broker at `endpoint` checks which Datastreams a sensor key publishes
    to (for /sta/v1.1/mqtt-status): the ACL plugin, or the fallback that lets a key with more
    than ACL_TOPICS_MAX Datastreams publish to all, with why. None: not a broker of the twin's
    (its own accounts decide)."""
    from twin.sqlfiles import query

    if endpoint is None or endpoint.host not in ("127.0.0.1", "localhost", "::1"):
        return None
    directories = [broker_dir()]
    directories += [Path(d) for (d,) in conn.execute(query("sensors_mqtt/brokers"))]
    for directory in directories:
        with contextlib.suppress(OSError):
            config = (directory / "mosquitto.conf").read_text()
            if f"\nlistener {endpoint.port} " not in config:
                continue
            if _uses_plugin(directory):
                return {"perDatastream": True, "by": "the twin's mosquitto ACL plugin"}
            reason = "the broker started before the twin had its ACL plugin: restart it"
            with contextlib.suppress(OSError):
                reason = (directory / PLUGIN_ERROR).read_text().strip() or reason
            return {
                "perDatastream": False,
                "by": "the ACL file",
                "note": f"no ACL plugin ({reason}): a sensor key feeding more than "
                f"{ACL_TOPICS_MAX} Datastreams may publish to every Datastream's topic",
            }
    return None


def broker_status() -> str:
    """One line: where the broker runs, or that it does not."""
    pid = broker_pid()
    if pid is None:
        return "not running"
    return f"up: {own_endpoint().url} (pid {pid}, log {broker_dir() / 'mosquitto.log'})"


def own_endpoint() -> MqttEndpoint:
    """The twin's own broker as configured (running or not), with the twin's account."""
    config = broker_dir() / "mosquitto.conf"
    port = get_settings().mqtt.port
    with contextlib.suppress(OSError):
        for line in config.read_text().splitlines():
            if line.startswith("listener "):
                port = int(line.split()[1])
    secret = None
    with contextlib.suppress(OSError):
        secret = (broker_dir() / "twin.secret").read_text().strip()
    return MqttEndpoint("127.0.0.1", port, OWN_ACCOUNT if secret else None, secret)


def mqtt_endpoint() -> MqttEndpoint | None:
    """The broker the twin uses: TWIN_MQTT_URL, else its own broker when it runs, else none
    (`TWIN_MQTT_URL=off`, or no broker started): then MQTT is off."""
    url = get_settings().mqtt.url
    if url:
        if url.strip().lower() in ("off", "none", "0", "false", "no"):
            return None
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp"):
            raise BrokerError(f"TWIN_MQTT_URL={parts.scheme}://… is not mqtt://host:port")
        return MqttEndpoint(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )
    return own_endpoint() if broker_pid() is not None else None


def _log_text(directory: Path | None = None) -> str:
    with contextlib.suppress(OSError):
        return ((directory or broker_dir()) / "mosquitto.log").read_text(errors="replace")
    return ""


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "no output"


__all__ = [
    "BrokerError",
    "MqttEndpoint",
    "broker_pid",
    "broker_status",
    "mqtt_endpoint",
    "mqtt_password_hash",
    "own_endpoint",
    "publish_check",
    "register_key",
    "reload_accounts",
    "start_broker",
    "stop_broker",
    "twin_secret",
]

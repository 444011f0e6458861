"""Who may write sensor data: sensor keys of a data provider or of one Thing, and admins.

A sensor key is `sta_<key id>_<secret>`, hashed like the editors' keys (twin.editing.users: a
salted SHA-256 of a 256-bit random secret; only the hash is kept). It posts Observations for
the Datastreams of its provider's Things (or of its one Thing), changes and deletes them, and
nothing else; it is also an MQTT account (twin.sensors.broker; a key made before MQTT
passwords were gets its own when it is next used over HTTP). Creating, changing and deleting
other entities needs an admin key of twin_users (`twin users add NAME --role admin`). Both
travel as the twin's other keys do: `X-API-Key: <key>` or `Authorization: Bearer <key>`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

import psycopg

from twin.editing.users import _digest, authenticate
from twin.errors import Forbidden, InvalidParameter, NotFound, Unauthorized
from twin.sensors.broker import register_key, register_old_key, reload_accounts
from twin.sqlfiles import query

LOG = logging.getLogger("twin.sensors.keys")
PREFIX = "sta"


@dataclass(frozen=True)
class SensorWriter:
    """The holder of a key: a provider's or a Thing's sensor key, or an admin."""

    name: str
    provider_id: int | None = None
    thing_id: int | None = None
    admin: bool = False

    def may_write(self, thing_id: int, provider_id: int | None) -> bool:
        """An admin writes every Thing's Datastreams; a sensor key its provider's or Thing's."""
        if self.admin:
            return True
        if self.thing_id is not None:
            return self.thing_id == thing_id
        return self.provider_id is not None and self.provider_id == provider_id


def provider_id(conn: psycopg.Connection, name: str, create: bool = False) -> int:
    """The id of data provider NAME (made when `create` and it does not exist yet)."""
    row = conn.execute(query("sensors/find_provider"), {"name": name}).fetchone()
    if row is not None:
        return row[0]
    if not create:
        raise NotFound(f"no data provider {name!r}")
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidParameter("a provider name is 1-100 printable characters")
    return conn.execute(query("sensors/add_provider"), {"name": name}).fetchone()[0]


def add_key(
    conn: psycopg.Connection,
    *,
    provider: str | None = None,
    thing_id: int | None = None,
    label: str = "",
) -> str:
    """A new sensor key for a provider (made if new) or for one Thing; returned once."""
    if (provider is None) == (thing_id is None):
        raise InvalidParameter("a sensor key is for one provider (--provider) or one --thing")
    pid = provider_id(conn, provider, create=True) if provider is not None else None
    if thing_id is not None and (
        conn.execute(query("sensors/thing_exists"), {"id": thing_id}).fetchone() is None
    ):
        raise NotFound(f"no Thing {thing_id}")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
    conn.execute(
        query("sensors/add_key"),
        {
            "key_id": key_id,
            "label": label or (provider or f"thing {thing_id}"),
            "provider_id": pid,
            "thing_id": thing_id,
            "salt": salt,
            "hash": _digest(salt, secret),
        },
    )
    key = f"{PREFIX}_{key_id}_{secret}"
    register_key(conn, key_id, key)  # an MQTT account of the twin's broker too (user: key id)
    return key


def revoke_key(conn: psycopg.Connection, key_id: str) -> None:
    """Revoke a sensor key by its id (the part after `sta_`), at once."""
    key_id = key_id.removeprefix(PREFIX + "_").split("_")[0]
    if conn.execute(query("sensors/revoke_key"), {"key_id": key_id}).fetchone() is None:
        raise NotFound(f"no active sensor key {key_id!r}")
    reload_accounts(conn)  # the twin's broker refuses it from now on


def sensor_writer(conn: psycopg.Connection, key: str | None) -> SensorWriter:
    """The writer a key belongs to (a sensor key, or an admin or editor of twin_users); 401
    for a missing, malformed, unknown or revoked key."""
    if not key:
        raise Unauthorized(
            "writing sensor data needs a key: send `X-API-Key: <key>` or `Authorization: "
            "Bearer <key>` (`twin sensors keys add --provider NAME` makes a sensor key)"
        )
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == PREFIX and len(parts[1]) == 12:
        row = conn.execute(query("sensors/find_key"), {"key_id": parts[1]}).fetchone()
        if row is not None:
            label, pid, tid, salt, stored, without_mqtt = row
            if hmac.compare_digest(_digest(bytes(salt), parts[2]), bytes(stored)):
                if without_mqtt:
                    _give_mqtt_password(conn, parts[1], key)
                return SensorWriter(name=f"sensor key {label}", provider_id=pid, thing_id=tid)
    else:
        editor = authenticate(conn, key)
        if editor is not None:
            return SensorWriter(name=editor.name, admin=editor.role == "admin")
    raise Unauthorized("the API key is not valid: unknown, malformed or revoked")


def _give_mqtt_password(conn: psycopg.Connection, key_id: str, key: str) -> None:
    """A key issued before MQTT passwords were (migration 0019) is kept hashed, so the twin
    cannot derive its MQTT password until it sees the key in plain: now. A failure (a
    read-only database) is logged and leaves the request to go on without it."""
    try:
        with conn.transaction():
            register_old_key(conn, key_id, key)
    except psycopg.Error as exc:
        LOG.warning(
            "mqtt account not given to an older key",
            extra={"fields": {"key_id": key_id, "error": str(exc).splitlines()[0]}},
        )


def require_admin(writer: SensorWriter, what: str) -> None:
    """Entities are created, changed and deleted by admins only (403 for everyone else)."""
    if not writer.admin:
        raise Forbidden(
            f"{what} needs an admin key (`twin users add NAME --role admin`); "
            f"{writer.name} may only write the Observations of its own Datastreams"
        )

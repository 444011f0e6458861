"""Who may write: API keys with a role (an editor of named layers, or an admin).

A key is `twin_<key id>_<secret>` with 256 random bits in the secret; only a salted SHA-256 of
the secret is stored. A slow hash (scrypt) protects guessable passwords; a random 256-bit
secret cannot be guessed, so a fast salted hash is as safe here and keeps every write request
cheap. The key id finds the row without scanning; revocation takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import click
import psycopg

from twin.catalog import EDIT_ROLES, may_edit
from twin.editing import VERSIONED_LAYERS
from twin.errors import Conflict, InvalidParameter, NotFound
from twin.sqlfiles import query

ROLES = EDIT_ROLES  # the catalog's roles: layers/*.yml `edit_role`


@dataclass(frozen=True)
class Editor:
    name: str
    role: str
    layers: tuple[str, ...]

    def may_edit(self, layer: str) -> bool:
        """An admin edits every layer, an editor its granted layers (catalog `edit_role`)."""
        return may_edit(self.role, self.layers, layer)


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def add_user(conn: psycopg.Connection, name: str, role: str, layers: list[str]) -> str:
    """Create (or re-issue after revocation) a user; return the key, which is shown only once."""
    if role not in ROLES:
        raise InvalidParameter(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    unknown = [layer for layer in layers if layer not in VERSIONED_LAYERS]
    if unknown:
        raise InvalidParameter(
            f"not editable: {', '.join(unknown)}; editable layers: {', '.join(VERSIONED_LAYERS)}"
        )
    if role == "editor" and not layers:
        raise InvalidParameter("an editor needs --layers (e.g. --layers plots,buildings)")
    if not name or len(name) > 100 or not name.isprintable():
        raise InvalidParameter("a user name is 1-100 printable characters")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
    row = conn.execute(
        query("editing/add_user"),
        {
            "name": name,
            "role": role,
            "layers": layers if role == "editor" else [],
            "key_id": key_id,
            "salt": salt,
            "hash": _digest(salt, secret),
        },
    ).fetchone()
    if row is None:
        raise Conflict(f"user {name!r} already has an active key: revoke it first")
    return f"twin_{key_id}_{secret}"


def revoke_user(conn: psycopg.Connection, name: str) -> None:
    if conn.execute(query("editing/revoke_user"), {"name": name}).fetchone() is None:
        raise NotFound(f"no active user {name!r}")


def authenticate(conn: psycopg.Connection, key: str) -> Editor | None:
    """The editor a key belongs to, or None for a malformed, unknown or revoked key."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "twin" or len(parts[1]) != 12:
        return None
    row = conn.execute(query("editing/find_key"), {"key_id": parts[1]}).fetchone()
    if row is None:
        return None
    name, role, layers, salt, stored = row
    if not hmac.compare_digest(_digest(bytes(salt), parts[2]), bytes(stored)):
        return None
    return Editor(name=name, role=role, layers=tuple(layers))


@click.group("users")
def users() -> None:
    """API keys of the people who may edit the twin (reading needs none)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@click.option("--layers", default="", help="Comma-separated layers an editor may change.")
def users_add(name: str, role: str, layers: str) -> None:
    """Create user NAME and print their API key (shown once; only its hash is kept)."""
    from twin.db.pool import connect

    wanted = [layer.strip() for layer in layers.split(",") if layer.strip()]
    with connect() as conn:
        key = add_user(conn, name, role, wanted)
        conn.commit()
    click.echo(key)
    click.echo(
        f"user {name} ({role}{': ' + ', '.join(wanted) if role == 'editor' else ''}); "
        "send the key as `X-API-Key: <key>` or `Authorization: Bearer <key>`; "
        "it is not shown again",
        err=True,
    )


@users.command("list")
def users_list() -> None:
    """Users, their roles and layers, and whether their key is active."""
    from twin.db.pool import connect

    with connect() as conn:
        rows = conn.execute(query("editing/list_users")).fetchall()
    if not rows:
        click.echo("no users yet: `twin users add NAME --role editor --layers plots`")
    for name, role, layers, key_id, created_at, revoked_at in rows:
        state = f"revoked {revoked_at:%Y-%m-%d %H:%M}" if revoked_at else "active"
        click.echo(
            f"{name}\t{role}\t{','.join(layers) or '*'}\ttwin_{key_id}_…\t"
            f"created {created_at:%Y-%m-%d %H:%M}\t{state}"
        )


@users.command("revoke")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke NAME's key at once (their past edits stay in the history)."""
    from twin.db.pool import connect

    with connect() as conn:
        revoke_user(conn, name)
        conn.commit()
    click.echo(f"revoked {name}")

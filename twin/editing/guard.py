"""The server's outer guard: size limits, back-pressure, database outages, CORS, headers.

One pure ASGI middleware in front of every route (ours and pygeoapi's), so the rules hold for
the whole API:
- a body larger than TWIN_MAX_BODY_BYTES (default 10 MiB) is refused with 413 before it is read;
- more than TWIN_MAX_INFLIGHT requests (default 64) at once in one worker get 503 with
  Retry-After at once, instead of queueing until everything times out;
- a server error while the database is unreachable becomes 503 with Retry-After, and the
  guard then answers requests that need the database with 503 at once (a circuit breaker,
  re-probing twice a second) instead of letting each wait for the pool's timeout; the pool
  reconnects by itself when PostgreSQL is back, so no restart is needed. An unexpected
  exception becomes a JSON 500 without a stack trace;
- one error body: the guard's own refusals, pygeoapi's text/plain 500s and Starlette's plain
  404/405 are all the twin's {"code", "type", "description"} (twin.http.errors), every 503
  with the one Retry-After (twin.errors.RETRY_AFTER_S);
- CORS: any origin may read and, with a key, write. Keys travel in headers a script sets
  explicitly, never in cookies, so a wildcard origin cannot lend a visitor's rights to another
  site; credentials mode is therefore off.
- security headers: nosniff, same-origin framing, a referrer policy, cross-origin resource
  policy (tiles and features are meant for maps on other sites), and a content security policy:
  nothing at all for API payloads; for pygeoapi's HTML pages `script-src 'nonce-…'` with a
  fresh nonce per response, which replaces the per-process marker our templates put on each
  of their script tags (twin/templates/README.md), so a script that did not come from the
  templates never runs (no 'unsafe-inline'). No HSTS: TLS ends at the load balancer, which
  sets it (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import anyio
import psycopg
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.errors import (
    RETRY_AFTER_S,
    DatabaseNotRunning,
    InvalidParameter,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TwinError,
    UnsupportedMediaType,
)
from twin.http.errors import asgi_messages
from twin.settings import get_settings

LOG = logging.getLogger("twin.guard")

ALLOW_METHODS = "GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = (
    "Accept, Accept-Language, Authorization, Content-Type, Content-Crs, If-Match, "
    "If-None-Match, X-API-Key"
)
EXPOSE_HEADERS = "Location, ETag, Link, Content-Crs, Retry-After, WWW-Authenticate"
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-resource-policy", b"cross-origin"),
]
CSP_API = b"default-src 'none'; frame-ancestors 'none'"
CSP_HTML = "script-src 'nonce-{nonce}'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
# The environment variable holding this process's template marker (twin.http.app.create_app).
MARKER_ENV = "TWIN_CSP_MARKER"


def new_marker() -> str:
    """A per-process secret for the templates' script tags: a letter then 32 hex digits (the
    letter keeps pygeoapi's config loader from reading it as a number)."""
    return "t" + secrets.token_hex(16)


def _nonce(marker: bytes) -> bytes:
    """A fresh nonce as long as the marker, so replacing it keeps Content-Length right."""
    return (b"n" + secrets.token_hex(max(16, len(marker))).encode())[: max(len(marker), 17)]


class BodyTooLarge(Exception):
    pass


class AtCapacity(ServiceUnavailable):
    """More requests at once than TWIN_MAX_INFLIGHT in this worker."""

    code = "ServerBusy"


class DatabaseUnreachable(DatabaseNotRunning):
    """The database stopped answering while the server runs (the breaker is open)."""

    def __init__(self) -> None:
        TwinError.__init__(self, "the database is unavailable; retry in a few seconds")


class ClientError(TwinError):
    """A client error of another status that Starlette or pygeoapi answered as plain text."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status


def _error(exc: TwinError) -> tuple[Message, Message]:
    """The one error answer (twin.http.errors) as the two messages the guard sends."""
    return asgi_messages(exc)


def _unavailable() -> tuple[Message, Message]:
    return _error(DatabaseUnreachable())


def _server_error() -> tuple[Message, Message]:
    return _error(ServerError("the server failed to answer; this is a bug"))


def _plain_error(start: Message, text: str, path: str) -> TwinError:
    """The error class of a plain-text client error (Starlette's "Not Found", "Method Not
    Allowed"), with the address in its description."""
    status = start["status"]
    if status == 404:
        return NotFound(f"nothing is served at {path}")
    description = f"{text.strip()[:200]}: {path}"
    if status == 405:
        allow = next(
            (v.decode("latin-1") for k, v in start.get("headers", []) if k.lower() == b"allow"),
            "GET, HEAD, OPTIONS",
        )
        return MethodNotAllowed(description, allow=allow)
    if status in PLAIN_ERRORS:
        return PLAIN_ERRORS[status](description)
    return ClientError(status, description)


def _media(start: Message) -> bytes:
    return next((v for k, v in start.get("headers", []) if k.lower() == b"content-type"), b"")


# The error classes of the plain-text client errors Starlette answers itself (unknown path,
# method) and pygeoapi's few plain ones.
PLAIN_ERRORS: dict[int, type[TwinError]] = {
    400: InvalidParameter,
    404: NotFound,
    406: NotAcceptable,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def database_reachable() -> bool:
    """A cheap probe used only after a server error: is PostgreSQL answering? A fresh
    connection, not the pool's, so a refused connection is known at once."""
    from twin.db.cluster import database_url

    try:
        with psycopg.connect(database_url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except (DatabaseNotRunning, psycopg.Error):
        return False


# Paths answered without the database: served even while the breaker is open.
NO_DATABASE = ("/healthz", "/viewer", "/static", "/openapi", "/conformance", "/favicon.ico")
PROBE_INTERVAL = 0.5
SLOW_REQUEST_S = 1.0


def needs_database(path: str) -> bool:
    return not (path in ("/", "/collections") or path.startswith(NO_DATABASE))


class DatabaseBreaker:
    """Open while PostgreSQL is known to be down; closed again by the first good probe."""

    def __init__(self) -> None:
        self.open = False
        self.last_probe = 0.0
        self.probing = False
        self.task: asyncio.Task | None = None
        self.opened = asyncio.Event()

    def probe_soon(self) -> None:
        """Start a probe in the background unless one ran just now."""
        if not self.probing and time.monotonic() - self.last_probe >= PROBE_INTERVAL:
            self.task = asyncio.get_running_loop().create_task(self.probe())

    async def probe(self) -> bool:
        """Probe now (one probe at a time); return whether the database answers."""
        if self.probing:
            return not self.open
        self.probing = True
        try:
            up = await anyio.to_thread.run_sync(database_reachable)
        finally:
            self.probing = False
            self.last_probe = time.monotonic()
        if self.open != (not up):
            LOG.warning(
                "database %s",
                "back: breaker closed"
                if up
                else "unreachable: breaker open, answering 503 until it is back",
            )
        self.open = not up
        if self.open:
            self.opened.set()
        elif self.opened.is_set():
            self.opened = asyncio.Event()
        return up

    async def allows(self, path: str) -> bool:
        if not self.open or not needs_database(path):
            return True
        self.probe_soon()  # answer now, learn later
        return False


class Guard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = get_settings()
        self.max_body = settings.http.max_body_bytes
        self.max_inflight = settings.http.max_inflight
        self.inflight = 0
        self.breaker = DatabaseBreaker()
        self.abandoned: set[asyncio.Future] = set()
        self.marker = (settings.internal.csp_marker or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(send)
            return
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await self._send(
                send,
                *_error(
                    PayloadTooLarge(f"the request body may be at most {self.max_body} bytes")
                    if length.isdigit()
                    else InvalidParameter("Content-Length must be a number")
                ),
            )
            return
        if self.inflight >= self.max_inflight and scope["path"] != "/healthz":
            await self._send(
                send, *_error(AtCapacity("the server is at capacity; retry in a few seconds"))
            )
            return
        if not await self.breaker.allows(scope["path"]):
            await self._send(send, *_unavailable())
            return
        self.inflight += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False
        abandoned = False
        held: list[Message] = []
        page: list[Message] = []  # an HTML page whose script nonces are still to be set

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 503:  # the route's own answer; learn the database's state
                    self.breaker.probe_soon()
                elif message["status"] >= 500:
                    held.append(message)
                    return
                if self._needs_nonce(message):
                    page.append(message)
                    return
                if message["status"] >= 400 and _media(message).startswith(b"text/plain"):
                    page.append(message)  # Starlette's plain "Not Found": answered as JSON
                    return
                message = self._decorate(message)
            elif held:
                held.append(message)
                if not message.get("more_body", False):
                    await self._release_error(send, held)
                return
            elif page:
                page.append(message)
                if not message.get("more_body", False):
                    await self._release_page(send, page, scope.get("path", ""))
                return
            await send(message)

        async def run_app() -> None:
            try:
                await self.app(scope, counted_receive, guarded_send)
            except ClientDisconnect:  # the client went away (or stalled and was cut off)
                return
            except BodyTooLarge:
                if not started:
                    await self._send(
                        send,
                        *_error(
                            PayloadTooLarge(
                                f"the request body may be at most {self.max_body} bytes"
                            )
                        ),
                    )
            except Exception as exc:  # the last line of defence: never a stack trace
                if abandoned:
                    return
                LOG.error(
                    "unhandled error", exc_info=exc, extra={"fields": {"path": scope.get("path")}}
                )
                if not started:
                    await self._release_error(send, [])

        if not needs_database(scope["path"]):
            await run_app()
            return
        # A request still running after a second may be waiting on a database that went away:
        # probe, and if it is down, answer 503 now rather than after the pool's timeout.
        loop = asyncio.get_running_loop()
        timer = loop.call_later(SLOW_REQUEST_S, self.breaker.probe_soon)
        app_task = asyncio.ensure_future(run_app())
        opened = asyncio.ensure_future(self.breaker.opened.wait())
        try:
            await asyncio.wait({app_task, opened}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            opened.cancel()
        if app_task.done():
            app_task.result()
            return
        if started:  # already answering: let it finish
            await app_task
            return
        abandoned = True  # the worker thread finishes on its own; its answer is dropped
        self.abandoned.add(app_task)
        app_task.add_done_callback(self.abandoned.discard)
        await self._send(send, *_unavailable())

    async def _release_error(self, send: Send, held: list[Message]) -> None:
        """A server error: 503 + Retry-After when the database is down, else as it was."""
        if not await self.breaker.probe():
            await self._send(send, *_unavailable())
            return
        if not held:
            await self._send(send, *_server_error())
            return
        media = next(
            (v for k, v in held[0].get("headers", []) if k.lower() == b"content-type"), b""
        )
        if not media.split(b";")[0].strip().endswith((b"/json", b"+json")):
            # pygeoapi's own error answer (Starlette's text/plain page, or an HTML exception
            # page): the twin answers in one shape, so the client gets JSON and the log the text
            body = b"".join(m.get("body", b"") for m in held[1:])
            LOG.error(
                "server error answered as %s",
                media.decode("latin-1") or "no media type",
                extra={
                    "fields": {
                        "status": held[0]["status"],
                        "body": body[:500].decode("utf-8", "replace"),
                    }
                },
            )
            await self._send(send, *_server_error())
            return
        await send(self._decorate(held[0]))
        for message in held[1:]:
            await send(message)

    def _needs_nonce(self, start: Message) -> bool:
        """An HTML page without its own policy: its script tags carry our marker (or none)."""
        headers = start.get("headers", [])
        return (
            _media(start).startswith(b"text/html")
            and start["status"] != 304
            and not any(
                k.lower() in (b"content-security-policy", b"content-encoding") for k, _ in headers
            )
        )

    async def _release_page(self, send: Send, page: list[Message], path: str = "") -> None:
        """The page with a fresh nonce in place of the marker, and a policy naming it (or a
        plain-text client error in the twin's JSON shape)."""
        start = page[0]
        path = path[:200]
        if start["status"] >= 400 and _media(start).startswith(b"text/plain"):
            text = b"".join(m.get("body", b"") for m in page[1:]).decode("utf-8", "replace")
            kept = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-type", b"content-length")
            ]
            await self._send(send, *asgi_messages(_plain_error(start, text, path), kept))
            return
        nonce = _nonce(self.marker) if self.marker else b"n" + secrets.token_hex(16).encode()
        body = b"".join(m.get("body", b"") for m in page[1:])
        if self.marker:
            body = body.replace(self.marker, nonce)
        policy = CSP_HTML.format(nonce=nonce.decode()).encode()
        await send(
            self._decorate(
                {
                    **start,
                    "headers": [*start.get("headers", []), (b"content-security-policy", policy)],
                }
            )
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _preflight(self, send: Send) -> None:
        await self._send(
            send,
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                    (b"access-control-max-age", b"600"),
                    (b"content-length", b"0"),
                ],
            },
            {"type": "http.response.body", "body": b""},
        )

    async def _send(self, send: Send, start: Message, body: Message) -> None:
        await send(self._decorate(start))
        await send(body)

    def _decorate(self, start: Message) -> Message:
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
        present = {k.lower() for k, _ in headers}
        extra: list[tuple[bytes, bytes]] = [(k, v) for k, v in COMMON_HEADERS if k not in present]
        if b"access-control-allow-origin" not in present:
            extra.append((b"access-control-allow-origin", b"*"))
            extra.append((b"access-control-expose-headers", EXPOSE_HEADERS.encode()))
        if start["status"] == 503 and b"retry-after" not in present:
            extra.append((b"retry-after", str(RETRY_AFTER_S).encode()))
        media = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        # A 304 carries no body and no media type; browsers merge its headers into the cached
        # response, so a policy on it would replace the page's own (and block the viewer).
        if b"content-security-policy" not in present and start["status"] != 304 and media:
            # an HTML page gets its policy from _release_page; one that could not be given a
            # nonce (compressed) gets one no script tag carries: its scripts do not run
            extra.append(
                (
                    b"content-security-policy",
                    CSP_API
                    if not media.startswith(b"text/html")
                    else CSP_HTML.format(nonce=_nonce(b"")[:17].decode()).encode(),
                )
            )
        return {**start, "headers": headers + extra}


def guarded(app: Any) -> Any:
    return Guard(app)

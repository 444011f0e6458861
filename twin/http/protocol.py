"""uvicorn's httptools protocol with the two limits it lacks: time to send a request, and its
header size.

Without them a client that opens connections and sends half a request line, or a few bytes of
headers now and then, holds each connection open for ever, and one that sends an 8 MiB header
has it buffered whole (httptools accumulates a header value before its callback). Each limit
is a setting (twin.settings.HttpSettings, docs/settings.md):

- TWIN_HEADER_TIMEOUT_S: the request line and headers must arrive within this many seconds of
  the connection opening (or, on a kept-alive connection, of the request's first byte); else
  408 and the connection is closed. The same bound applies to each pause while a body is being
  sent: a body that stalls that long is cut off (the route sees a disconnect), so slow bodies
  cannot hold the worker's request slots either.
- TWIN_MAX_HEADER_BYTES: the request line and headers together; more is 431 and the
  connection is closed, counted as bytes arrive (an 8 MiB header is refused after its first
  few kilobytes, not buffered).

Both answers and uvicorn's own 400 for a malformed request are the twin's one error answer
(twin.http.errors.error_parts of twin.errors classes).
One timer per connection (it looks again every timeout while the connection lives), a deadline
per request and an addition per header: nothing measurable on the hot paths.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from twin.errors import HeadersTooLarge, InvalidParameter, RequestTimeout, TwinError
from twin.http.errors import error_parts
from twin.settings import HttpSettings, get_settings

_limits: HttpSettings | None = None


def limits() -> HttpSettings:
    """The settings, read once per process (each connection would otherwise read them)."""
    global _limits
    if _limits is None:
        _limits = get_settings().http
    return _limits


class _TooLarge(Exception):
    """Raised in a parser callback to stop parsing a request whose headers are too large."""


REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class MalformedRequest(InvalidParameter):
    """A request line or header httptools cannot parse (400)."""

    code = "BadRequest"


class TwinHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header (and body pause) timeout and a header size limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bounds = limits()
        self.header_timeout = float(bounds.header_timeout_s)
        self.max_header_bytes = bounds.max_header_bytes
        self.reading_headers = True  # a new connection owes us a request
        self.deadline = 0.0  # loop time by which the headers (or next body bytes) are due
        self.header_bytes = 0  # request line and headers parsed so far
        self.raw_header_bytes = 0  # bytes received while the headers are incomplete
        self.request_timer: asyncio.TimerHandle | None = None
        self.too_large = False

    # Connection and data
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.deadline = self.loop.time() + self.header_timeout
        self.request_timer = self.loop.call_later(self.header_timeout, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.request_timer is not None:
            self.request_timer.cancel()
            self.request_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.too_large:
                self._refuse(
                    HeadersTooLarge(
                        f"the request line and headers may be at most {self.max_header_bytes} bytes"
                    )
                )
                return
            self.logger.debug("invalid HTTP request received")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.reading_headers:
            self.raw_header_bytes += len(data)
            if self.raw_header_bytes > self.max_header_bytes:
                self.too_large = True
                self._refuse(
                    HeadersTooLarge(
                        f"the request line and headers may be at most {self.max_header_bytes} bytes"
                    )
                )

    # Parser callbacks (the hot path: no timers created or cancelled here, only a deadline)
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.reading_headers:  # a new request on a kept-alive connection
            self.reading_headers = True
            self.header_bytes = 0
            self.deadline = self.loop.time() + self.header_timeout

    def on_url(self, url: bytes) -> None:
        self.header_bytes += len(url)
        if self.header_bytes > self.max_header_bytes:
            self.too_large = True
            raise _TooLarge()
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4  # "name: value\r\n"
        if self.header_bytes > self.max_header_bytes:
            self.too_large = True
            raise _TooLarge()
        # uvicorn's own on_header, inline (one Python call less per header)
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.reading_headers = False
        self.raw_header_bytes = 0
        # a body, if any, is due by then; each pause while it arrives is bounded the same way
        self.deadline = self.loop.time() + self.header_timeout
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.deadline = self.loop.time() + self.header_timeout
        super().on_body(body)

    # Refusals
    def send_400_response(self, msg: str) -> None:
        self._refuse(MalformedRequest(msg[:200]))

    def _check(self) -> None:
        """The connection's one timer: refuse a request overdue, else look again later."""
        self.request_timer = None
        if self.transport.is_closing():
            return
        in_body = self.cycle is not None and self.cycle.more_body and not self.reading_headers
        if self.reading_headers or in_body:
            remaining = self.deadline - self.loop.time()
            if remaining <= 0:
                self._timed_out()
                return
        else:  # idle between requests (keep-alive ends that) or a route at work
            remaining = self.header_timeout
        self.request_timer = self.loop.call_later(remaining, self._check)

    def _timed_out(self) -> None:
        """The client stopped sending its request: 408 if nothing was answered yet, close."""
        if self.reading_headers and (self.cycle is None or self.cycle.response_complete):
            self._refuse(
                RequestTimeout(
                    f"the request was not received within {self.header_timeout:g} seconds"
                )
            )
            return
        self.transport.close()  # mid-body: the route sees a disconnect

    def _refuse(self, exc: TwinError) -> None:
        """Answer `exc` (the one error body) and close the connection."""
        if self.transport.is_closing():
            return
        status, headers, body = error_parts(exc)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        for name, value in headers.items():
            head.append(name.lower().encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()

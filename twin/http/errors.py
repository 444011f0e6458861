"""The one error renderer: every error answer of the twin, pygeoapi's included, is this body.

{"code": <OGC code>, "type": <the same>, "description": <what to do>} plus any members the
error declares, with the status, Retry-After and headers its class declares (twin.errors).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from twin.errors import TwinError

JSON = "application/json"


def error_parts(exc: TwinError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer to `exc`: the one place they are decided."""
    code = getattr(exc, "code", None) or "InvalidParameterValue"
    body = orjson.dumps({"code": code, "type": code, "description": str(exc), **exc.details()})
    headers = {"Content-Type": JSON, **exc.headers()}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return int(getattr(exc, "status", 400)), headers, body


def render(exc: TwinError, headers: dict[str, str] | None = None) -> Response:
    """The Starlette response for `exc` (extra `headers`, e.g. CORS, added to its own)."""
    status, own, body = error_parts(exc)
    own.pop("Content-Type")
    return Response(body, status_code=status, media_type=JSON, headers={**own, **(headers or {})})


def asgi_messages(
    exc: TwinError, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same answer as two ASGI messages, for middleware that answers before any route."""
    status, own, body = error_parts(exc)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in own.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    present = {k for k, _ in raw}
    raw += [(k, v) for k, v in (headers or []) if k.lower() not in present]
    return (
        {"type": "http.response.start", "status": status, "headers": raw},
        {"type": "http.response.body", "body": body},
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def answers_errors(endpoint: Endpoint) -> Endpoint:
    """The endpoint with every TwinError it raises rendered by the one renderer (a domain
    package raises; its route answers with this)."""

    @functools.wraps(endpoint)
    async def answering(request: Request) -> Response:
        try:
            return await endpoint(request)
        except TwinError as exc:
            return render(exc)

    return answering

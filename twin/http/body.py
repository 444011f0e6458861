"""Reading a request body for the twin's own write routes (plans, prints, trips, crashes): one
reader, each caller with its own size limit, accepted media types and wording."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from twin.errors import InvalidParameter, PayloadTooLarge, UnsupportedMediaType


async def json_body(
    request: Request,
    *,
    limit: int,
    what: str,
    media_types: tuple[str, ...] = ("application/json",),
    required: bool = True,
) -> Any:
    """The body as JSON: 413 past `limit` bytes (declared or streamed), 415 for another media
    type, 400 for a cut-off, empty (when `required`), invalid or NUL-holding body. `what` names
    the body in the messages ("a plan", "a print"). None for an empty optional body."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"{what} is at most {limit} bytes, this one is {length}")
    raw = await body_bytes(request, limit=limit, what=what)
    if not raw.strip():
        if required:
            raise InvalidParameter(f"the request needs a JSON body ({what})")
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in media_types:
        raise UnsupportedMediaType(f"send {what} as {' or '.join(media_types)}, not {media[:60]}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the body is not valid JSON (UTF-8): {exc}") from None
    if b"\\u0000" in raw:  # PostgreSQL text and jsonb hold no NUL: refuse it, naming it
        raise InvalidParameter("the body holds a NUL character (\\u0000), which no text may hold")
    return body


async def body_bytes(request: Request, *, limit: int, what: str) -> bytes:
    """The body's bytes, streamed: 413 as soon as they pass `limit`, 400 for a cut-off body."""
    raw = bytearray()
    try:
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise PayloadTooLarge(f"{what} is at most {limit} bytes")
    except ClientDisconnect:
        raise InvalidParameter("the request body was cut off") from None
    return bytes(raw)

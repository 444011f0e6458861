"""Does a conditional request header name this entity tag? One answer for every route.

If-None-Match (RFC 9110 13.1.2) uses the weak comparison: two tags match when their opaque
parts are equal, whether or not either is marked weak (`W/`). The header is `*` or a
comma-separated list of tags. The twin's tags never hold a comma or a quote inside, so the
list is split on commas. Tags are compared without their quotes, so a client that forgot them
(`If-None-Match: v3`) still matches: lenient on input, never a false "not modified" for a tag
that differs.

The same comparison serves If-Match on items (twin.features.ids): a proxy may weaken an ETag,
and a version tag still names one version. The bytes form serves the tile fast path, which
reads raw ASGI headers and must stay cheap (no decoding, no regex).
"""

from __future__ import annotations


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/").strip('"')


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match (or If-Match) header names `etag`, or is `*`."""
    if not header:
        return False
    wanted = _opaque(etag)
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or _opaque(tag) == wanted:
            return True
    return False


def etag_matches_bytes(header: bytes | None, etag: bytes) -> bool:
    """etag_matches on raw header bytes (the tile fast path: no decoding per request)."""
    if not header:
        return False
    wanted = etag.strip().removeprefix(b"W/").strip(b'"')
    for tag in header.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/").strip(b'"') == wanted:
            return True
    return False

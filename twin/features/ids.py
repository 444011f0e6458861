"""Integers in URLs in their one canonical form, and the ETags of items.

An item has one address. Python's int() also reads '١٢' (Arabic-Indic digits), '1_0', ' 1 ',
'+1' and '012', which made /items/١٢ an alias of /items/12 and `?id=1_0` a filter on id 10.
Every integer the API reads from a URL (a feature id or version in the path, `id` and integer
properties as query parameters, `limit`, `offset`) is parsed here, by `canonical_integer`:
plain ASCII decimal digits without leading zeros, a minus only where a value may be negative,
within PostgreSQL's bigint. Anything else names nothing: a 404 in a path, a 400 naming the
parameter in a query.

A feature of a versioned layer is at a version (twin_history's count of its changes, 0 when it
never changed since a bulk load); its ETag is the strong tag "v<version>", on every read and
every write, and If-Match / If-None-Match compare against it. A feature of a read-only layer
(districts, analysis results) has no history of its own, so its ETag is the layer's data
version, "L<version>" (twin_layers.version, which a statement trigger bumps on every change
of the table): it moves whenever anything in the layer changes, so it never names stale data.
"""

from __future__ import annotations

import re

from twin.http.conditional import etag_matches

CANONICAL_ID = re.compile(r"0|[1-9][0-9]{0,18}")
CANONICAL_SIGNED = re.compile(r"0|-?[1-9][0-9]{0,18}")
BIGINT_MAX = 2**63 - 1
ID_FORM = (
    "feature ids are written as plain decimal integers: ASCII digits, no sign, spaces, "
    "underscores or leading zeros"
)
INTEGER_FORM = (
    "integers are written as plain decimal numbers: ASCII digits, no spaces, "
    "underscores, plus sign or leading zeros"
)


def canonical_integer(raw: str, signed: bool = False) -> int | None:
    """The integer `raw` writes in canonical form (a leading minus only when `signed`), or
    None: the one parser of integers in URLs, so no spelling but one reaches a value."""
    if len(raw) > 20 or not (CANONICAL_SIGNED if signed else CANONICAL_ID).fullmatch(raw):
        return None
    number = int(raw)
    return number if -BIGINT_MAX - 1 <= number <= BIGINT_MAX else None


def canonical_id(raw: str) -> int | None:
    """The id `raw` names, or None when it is not an id in canonical form."""
    return canonical_integer(raw)


def not_canonical(raw: str, collection: str) -> str:
    """The 404 description for an id that is not written canonically."""
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return f"item {shown!r} not found in collection {collection}: {ID_FORM}"


def version_etag(version: int) -> str:
    """The ETag of a feature of a versioned layer at `version`."""
    return f'"v{version}"'


def layer_etag(version: int) -> str:
    """The ETag of a feature of a read-only layer whose data version is `version`."""
    return f'"L{version}"'


def names(header: str | None, etag: str) -> bool:
    """Whether an If-Match / If-None-Match header names this ETag (or is "*"), by the twin's
    one matcher (twin.http.conditional): versions are exact, so a weakened tag (a proxy may
    add W/) still names one."""
    return etag_matches(header, etag)


def matches(header: str | None, version: int) -> bool:
    """Whether an If-Match / If-None-Match header names this version (or is "*")."""
    return names(header, version_etag(version))

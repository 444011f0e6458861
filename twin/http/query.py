"""Checks of a query string shared by the twin's single-format documents (indicators,
mobility indicators, scenes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from twin.errors import InvalidParameter
from twin.http.errors import render


def unoffered(
    request: Request, known: set[str], formats: tuple[str, ...] = ("json",)
) -> InvalidParameter | None:
    """The error for a document asked for a parameter or format it does not offer (a typo
    would otherwise look like success), or None when the query is fine. `f` is always a
    parameter; its values are `formats` (the first is the default)."""
    unknown = sorted(set(request.query_params) - known - {"f"})
    if unknown:
        offered = ", ".join(sorted(known | {"f"}))
        return InvalidParameter(f"unknown query parameter {unknown[0][:64]!r}: use {offered}")
    if request.query_params.get("f", formats[0]) not in formats:
        return InvalidParameter(
            f"f={request.query_params['f'][:64]!r}: only {' or '.join(formats)} is offered"
        )
    return None


def unoffered_query(
    request: Request, known: set[str], formats: tuple[str, ...] = ("json",)
) -> Response | None:
    """The 400 answer of `unoffered`, or None when the query is fine."""
    refused = unoffered(request, known, formats)
    return None if refused is None else render(refused)

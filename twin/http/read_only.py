"""A read-only server (`twin serve --read-only`): the route table's writes are refused.

A server whose DATABASE_URL is a streaming replica cannot write: PostgreSQL would refuse
each write deep in a handler, as a 500. Instead every row of the route table (twin.http.routes)
that takes a write method answers 405 naming the primary, decided here from the rows alone:
one Route per write row, placed before the twin's routes, with only the write methods, so a
read of the same path passes on to its own route. A POST that changes nothing (a process
that computes, a print layout) says so in its row (`extra={"writes": False}`) and is served.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from twin.db.replica import shown_address
from twin.errors import ReadOnlyServer
from twin.http.errors import render
from twin.http.table import RouteSpec
from twin.settings import get_settings

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def read_only() -> bool:
    return get_settings().database.read_only


def primary_address() -> str | None:
    """host:port of TWIN_PRIMARY_URL (never its user or password), None when unset."""
    url = get_settings().database.primary_url
    return shown_address(url) if url else None


def write_methods(row: RouteSpec) -> list[str]:
    """The methods of a row that change data (none for a row that says writes: False)."""
    if row.extra.get("writes") is False:
        return []
    return [method for method in row.methods if method in WRITE_METHODS]


async def refuse(request: Request) -> Response:
    return render(ReadOnlyServer(request.method, primary_address()))


def refusals(rows: list[RouteSpec]) -> list[BaseRoute]:
    """Routes answering every write of `rows` with 405 naming the primary."""
    return [
        Route(row.path, refuse, methods=methods) for row in rows if (methods := write_methods(row))
    ]

"""The shape of a row of the twin's one table of URLs: path, methods, owner, handler.

Everything about an address follows from its row (twin.http.routes holds the rows): the
Starlette routes (twin.http.app), the tile fast-path matcher, the OpenAPI paths of the twin's
own routes (twin.http.openapi) and the "who serves which URL" page in docs/ (generated,
checked by a test). `owner` is "twin" for a route of ours, "pygeoapi" for an address pygeoapi
answers (listed so the table is complete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Owner = Literal["twin", "pygeoapi"]
# Which collections a /collections/{collectionId}/... row exists for, when its OpenAPI paths
# are written out per collection: every catalog layer, or the editable (versioned) ones.
Scope = Literal["", "layers", "editable"]


@dataclass(frozen=True)
class RouteSpec:
    """One address of the API (one row of twin.http.routes.ROUTES)."""

    path: str  # Starlette path syntax, e.g. /collections/{layer}/tiles
    methods: tuple[str, ...]  # HTTP methods served (HEAD implied by GET)
    owner: Owner
    handler: str  # "module:callable" for twin routes; pygeoapi's view name
    summary: str  # one line, shown in OpenAPI and in docs/routes.md
    tag: str = "twin"  # OpenAPI tag (group)
    media: tuple[str, ...] = ("application/json",)  # media types of a 200 answer
    parameters: tuple[str, ...] = ()  # query parameters, by name (twin.http.routes.PARAMETERS)
    secured: bool = False  # needs an API key (writes)
    in_openapi: bool = True  # listed in /openapi (False for the viewer's static files)
    # why a twin row takes an address pygeoapi would also answer ("" when it takes none): the
    # routes test fails on a configured pygeoapi resource shadowed without a reason
    replaces: str = ""
    fast_path: bool = False  # a tile the fast path (twin.tiles.fastpath) may answer
    collections: Scope = ""  # the collections a templated {collectionId} row exists for
    formats: tuple[str, ...] = ()  # values of `f` when they are not pygeoapi's json/html/jsonld
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

"""pygeoapi feature provider on PostGIS through psycopg 3: GeoJSON is built by SQL.

The twin answers every items request itself (twin.features.routes). pygeoapi still calls this
provider for what it serves of a feature collection: one feature's HTML and JSON-LD pages
(`get`), the queryables and the schema (`get_fields`), and, under the `X-Twin-Path: pygeoapi`
header that tests and bench/features.py use to compare, the items (`query`). It shares the
validators, the CQL2 translator and the statements with twin.features.routes, so both answer
the same; pygeoapi parses `filter` as ECQL, and the AST it passes is turned back into CQL2
JSON for our translator.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)

from twin.catalog import TYPES, get_layer
from twin.db.pool import connection
from twin.editing import VERSIONED_LAYERS
from twin.errors import DatabaseNotRunning
from twin.features import params as p
from twin.features.crs import crs_by_uri
from twin.features.errors import FeatureQueryError, database_refusal
from twin.features.filters import compile_filter
from twin.features.ids import canonical_id, not_canonical
from twin.features.pages import fetch_item, fetch_page

# The time field of a versioned layer: `datetime` there reads the change history ("as of")
AS_OF_TIME_FIELD = "x-twin-as-of"


def not_found(identifier: str, layer: str) -> str:
    return f"item {identifier!r} not found in collection {layer}"


class TwinFeatureProvider(BaseProvider):
    """Features of one catalog layer; `data: {table: <layer>}` in the pygeoapi config."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.layer = get_layer(self.data["table"])
        self.id_field = "id"
        # `datetime` on a versioned layer reads the change history ("as of"), not a property:
        # the marker keeps datetime in the OpenAPI document without naming a property as
        # the collection's primary instant in the queryables and schema
        self.time_field = (
            AS_OF_TIME_FIELD if self.layer.name in VERSIONED_LAYERS else self.layer.temporal
        )
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, Any]]:
        if not self._fields:
            for prop in self.layer.properties.values():
                field: dict[str, Any] = {"type": TYPES[prop.type][1]}
                if TYPES[prop.type][2]:
                    field["format"] = TYPES[prop.type][2]
                if prop.enum:
                    # JSON Schema's enum for /schema, which shows the field as it is; and
                    # pygeoapi's own "values", from which it writes the queryables' enum
                    field["enum"] = field["values"] = list(prop.enum)
                if prop.name == self.layer.temporal and self.layer.name in VERSIONED_LAYERS:
                    field["description"] = (
                        f"{prop.title or prop.name}. The items datetime parameter of this "
                        "collection answers 'as of' queries from the change history; select "
                        f"on {prop.name} with a CQL2 filter, e.g. filter={prop.name} >= "
                        "DATE('2020-01-01') or T_INTERSECTS(...)"
                    )
                self._fields[prop.name] = field
        return self._fields

    def _items_query(
        self,
        offset: int,
        limit: int,
        resulttype: str,
        bbox: list[float],
        datetime_: str | None,
        properties: list[tuple[str, str]],
        sortby: list[dict[str, str]],
        select_properties: list[str],
        skip_geometry: bool,
        crs_transform_spec: Any,
        filterq: Any,
    ) -> p.ItemsQuery:
        extra = dict(properties)
        equals = p.equality_params({k: v for k, v in extra.items()}, self.layer)
        sort = ",".join(("-" if s.get("order") == "-" else "") + s["property"] for s in sortby)
        target = getattr(crs_transform_spec, "target_crs_uri", None)
        compiled = None
        if filterq is not None:
            from pygeofilter.backends.cql2_json import to_cql2

            compiled = compile_filter(
                self.layer,
                to_cql2(filterq),
                "cql2-json",  # JSON text
                crs_by_uri(None),
            )
        return p.ItemsQuery(
            layer=self.layer,
            limit=limit,
            offset=offset,
            bbox=p.bbox_param(",".join(map(str, bbox))) if bbox else None,
            datetime=p.datetime_param(datetime_, self.layer),
            as_of=p.as_of_param(datetime_, self.layer),
            equals=equals,
            sortby=p.sortby_param(sort or None, self.layer),
            properties=p.properties_param(",".join(select_properties), self.layer)
            if select_properties
            else None,
            skip_geometry=skip_geometry,
            crs=crs_by_uri(target),
            filter=compiled,
            hits_only=resulttype == "hits",
        )

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, str]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        crs_transform_spec: Any = None,
        filterq: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        try:
            q = self._items_query(
                offset,
                limit,
                resulttype,
                bbox or [],
                datetime_,
                properties or [],
                sortby or [],
                select_properties or [],
                skip_geometry,
                crs_transform_spec,
                filterq,
            )
            with connection() as conn:
                page = fetch_page(conn, q)
        except FeatureQueryError as exc:
            error = ProviderInvalidQueryError(str(exc), user_msg=str(exc))
            error.ogc_exception_code = exc.code
            raise error from None
        except DatabaseNotRunning as exc:
            raise ProviderConnectionError(str(exc), user_msg=str(exc)) from exc
        except psycopg.errors.DataError as exc:  # a value the database refused: a 400, as JSON
            message = database_refusal(exc)
            raise ProviderInvalidQueryError(message, user_msg=message) from None
        features = orjson.loads(b"[" + page.features + b"]")
        return {
            "type": "FeatureCollection",
            "features": features,
            **page.members(),
            "numberReturned": page.returned,
        }

    def get(self, identifier: str, crs_transform_spec: Any = None, **kwargs: Any) -> dict[str, Any]:
        fid = canonical_id(str(identifier))  # '١٢', '1_0', ' 1 ' are no aliases of an id
        if fid is None:
            raise ProviderItemNotFoundError(
                user_msg=not_canonical(str(identifier), self.layer.name)
            )
        try:
            crs = crs_by_uri(getattr(crs_transform_spec, "target_crs_uri", None))
            with connection() as conn:
                text = fetch_item(conn, self.layer, fid, crs)
        except DatabaseNotRunning as exc:
            raise ProviderConnectionError(str(exc), user_msg=str(exc)) from exc
        if text is None:
            raise ProviderItemNotFoundError(user_msg=not_found(identifier, self.layer.name))
        return orjson.loads(text)

    def __repr__(self) -> str:
        return f"<TwinFeatureProvider {self.layer.name}>"


__all__ = ["ProviderQueryError", "TwinFeatureProvider"]

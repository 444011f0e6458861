"""pygeoapi feature provider on PostGIS through psycopg 3: GeoJSON is built by SQL."""

from __future__ import annotations

from typing import Any

import orjson
from pygeoapi.provider.base import (BaseProvider, ProviderConnectionError,
                                    ProviderItemNotFoundError, ProviderQueryError)
from psycopg import sql

from twin.catalog import TYPES, get_layer
from twin.db.pool import connection
from twin.errors import DatabaseNotRunning
from twin.sqlfiles import query


class TwinFeatureProvider(BaseProvider):
    """Features of one catalog layer; `data: {table: <layer>}` in the pygeoapi config."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.layer = get_layer(self.data["table"])
        self.id_field = "id"
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, str]]:
        if not self._fields:
            for prop in self.layer.properties.values():
                field = {"type": TYPES[prop.type][1]}
                if TYPES[prop.type][2]:
                    field["format"] = TYPES[prop.type][2]
                self._fields[prop.name] = field
        return self._fields

    def _bbox_filter(self, bbox: list[float]) -> tuple[sql.Composable, dict[str, Any]]:
        if not bbox:
            return sql.SQL("true"), {}
        return (sql.SQL("t.geom && ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326)"),
                dict(zip(("minx", "miny", "maxx", "maxy"), map(float, bbox[:4]))))

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list[float] | None = None, **kwargs: Any) -> dict[str, Any]:
        where, params = self._bbox_filter(bbox or [])
        params |= {"limit": limit, "offset": offset}
        try:
            with connection() as conn:
                matched = conn.execute(query("features/count", table=self.layer.table,
                                             bbox_filter=where), params).fetchone()[0]
                rows = [] if resulttype == "hits" else conn.execute(
                    query("features/page", table=self.layer.table, bbox_filter=where),
                    params).fetchall()
        except DatabaseNotRunning as exc:
            raise ProviderConnectionError(str(exc), user_msg=str(exc)) from exc
        features = [orjson.loads(row[0]) for row in rows]
        return {"type": "FeatureCollection", "features": features,
                "numberMatched": matched, "numberReturned": len(features)}

    def get(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        try:
            fid = int(identifier)
        except ValueError:
            raise ProviderItemNotFoundError(f"no item {identifier!r} in {self.layer.name}",
                                            user_msg=f"no item {identifier!r}") from None
        try:
            with connection() as conn:
                row = conn.execute(query("features/item", table=self.layer.table),
                                   {"id": fid}).fetchone()
        except DatabaseNotRunning as exc:
            raise ProviderConnectionError(str(exc), user_msg=str(exc)) from exc
        if row is None:
            raise ProviderItemNotFoundError(f"no item {identifier!r} in {self.layer.name}",
                                            user_msg=f"no item {identifier!r}")
        return orjson.loads(row[0])

    def __repr__(self) -> str:
        return f"<TwinFeatureProvider {self.layer.name}>"


__all__ = ["TwinFeatureProvider", "ProviderQueryError"]

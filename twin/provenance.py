"""Provenance in the collection metadata: where each layer's data comes from, under which
licence, when it was loaded and whether it is synthetic (the demo city) or real.

`twin.store.write_layer` (and `store_terrain`) record it in `twin_layers`; this ASGI middleware
adds it to what pygeoapi (or any twin route) answers for `/collections` and
`/collections/{id}`: a "provenance" member in JSON, and a short "Provenance" section in HTML,
so a planner in a browser and a GIS client reading the metadata both see it. pygeoapi itself
is not changed, and its markup is not searched: the twin's copies of its two collection
templates (twin/templates/collections/) carry a marker where provenance goes,
`<!-- twin:provenance -->` on a collection's page and `<!-- twin:provenance ID -->` in each
row of the list, which the middleware replaces.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime
from typing import Any

import anyio
import orjson
import psycopg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.errors import DatabaseNotRunning
from twin.sqlfiles import query

LOG = logging.getLogger("twin.provenance")
COLLECTION_PATH = re.compile(r"^/collections(?:/(?P<id>[A-Za-z0-9_\-]+))?/?$")
# The markers of the twin's templates: where provenance goes (with a collection id in a row).
MARKER = re.compile(r"<!-- twin:provenance(?: (?P<id>[A-Za-z0-9_\-]+))? -->")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def layer_provenance(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Provenance of every layer the twin knows, keyed by layer name."""
    records: dict[str, dict[str, Any]] = {}
    for name, version, changed_at, source, licence, loaded_at, synthetic, details in conn.execute(
        query("store/layer_metadata")
    ).fetchall():
        records[name] = {
            "source": source,
            "licence": licence,
            "loaded_at": _iso(loaded_at),
            "synthetic": bool(synthetic),
            "data_version": int(version or 0),
            "changed_at": _iso(changed_at),
            "details": details or {},
        }
    return records


def _fetch() -> dict[str, dict[str, Any]]:
    from twin.db.pool import connection

    with connection(timeout=5) as conn:
        return layer_provenance(conn)


def _unloaded() -> dict[str, Any]:
    return {
        "source": None,
        "licence": None,
        "loaded_at": None,
        "synthetic": False,
        "data_version": 0,
    }


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "details"}


def coverage_ids() -> set[str]:
    """Collections served as coverages only (terrain): no feature provider."""
    from twin.http.bridge import resources

    return {
        name
        for name, resource in resources().items()
        if isinstance(resource, dict)
        and resource.get("type") == "collection"
        and not any(p.get("type") == "feature" for p in resource.get("providers", []))
        and any(p.get("type") == "coverage" for p in resource.get("providers", []))
    }


def add_to_json(body: bytes, collection: str | None, records: dict[str, dict[str, Any]]) -> bytes:
    """The collection (or collections) document with a "provenance" member added, and a
    coverage marked as one in the list (itemType, and GDAL's layerDataType: without it GDAL
    lists terrain as a vector layer and asks it for items)."""
    doc = orjson.loads(body)
    if collection is None and isinstance(doc.get("collections"), list):
        coverages = coverage_ids()
        for item in doc["collections"]:
            if isinstance(item, dict) and "id" in item:
                item["provenance"] = _compact(records.get(item["id"], _unloaded()))
                if item["id"] in coverages:
                    item.update(itemType="coverage", layerDataType="Coverage")
    elif collection is not None and doc.get("id") == collection:
        doc["provenance"] = records.get(collection, _unloaded())
    else:
        return body
    return orjson.dumps(doc)


def _summary_html(record: dict[str, Any]) -> str:
    if not record.get("source"):
        return "no data loaded yet"
    kind = "synthetic (demo city)" if record.get("synthetic") else "real data"
    loaded = (record.get("loaded_at") or "")[:19].replace("T", " ")
    return (
        f"{html.escape(record['source'])} &middot; licence: "
        f"{html.escape(record.get('licence') or 'not stated')} &middot; {kind} &middot; "
        f"loaded {html.escape(loaded)} UTC &middot; data version {record['data_version']}"
    )


def _section(record: dict[str, Any]) -> str:
    details = record.get("details") or {}
    facts = [f"<li>{_summary_html(record)}</li>"]
    if details.get("file"):
        mapping = (
            f" (mapping {html.escape(str(details['mapping']))})" if details.get("mapping") else ""
        )
        facts.append(f"<li>file: {html.escape(str(details['file']))}{mapping}</li>")
    if "loaded" in details:
        facts.append(
            f"<li>{html.escape(str(details.get('loaded')))} features loaded, "
            f"{sum((details.get('repaired') or {}).values())} repaired, "
            f"{sum((details.get('rejected') or {}).values())} rejected</li>"
        )
    for reason, count in (details.get("rejected") or {}).items():
        facts.append(f"<li>rejected {count}: {html.escape(str(reason))}</li>")
    return '<h3>Provenance</h3>\n<ul class="twin-provenance">\n' + "\n".join(facts) + "\n</ul>\n"


def add_to_html(body: bytes, collection: str | None, records: dict[str, dict[str, Any]]) -> bytes:
    """The HTML page with provenance where the templates' markers are: a section on a
    collection's page, a line in each row of the list."""

    def provenance(match: re.Match[str]) -> str:
        if match.group("id") is not None:
            record = records.get(match.group("id"), _unloaded())
            return (
                '<br/><small class="text-muted twin-provenance">'
                f"Provenance: {_summary_html(record)}</small>"
            )
        if collection is None:
            return ""
        return _section(records.get(collection, _unloaded()))

    return MARKER.sub(provenance, body.decode("utf-8")).encode("utf-8")


class ProvenanceMiddleware:
    """Adds layer provenance to `/collections` and `/collections/{id}` responses (JSON, HTML)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = COLLECTION_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        collection = match.group("id")
        from twin.extent import current_extent_async, sync_collection_extents
        from twin.tiles.routes import terrain_bounds

        # the loaded city's extent, and in the list the terrain model's bounds
        terrain = await terrain_bounds() if collection is None else None
        sync_collection_extents(await current_extent_async(), terrain)
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def capture(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if message["status"] == 200 and content_type.split(b";")[0].strip() in (
                    b"application/json",
                    b"text/html",
                ):
                    start = message
                else:
                    passthrough = True
                    await send(message)
                return
            if passthrough or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish(start, b"".join(chunks), collection, send)

        await self.app(scope, receive, capture)

    async def _finish(
        self, start: Message, body: bytes, collection: str | None, send: Send
    ) -> None:
        headers = list(start.get("headers", []))
        content_type = dict(headers).get(b"content-type", b"")
        try:
            records = await anyio.to_thread.run_sync(_fetch)
            if content_type.startswith(b"application/json"):
                body = add_to_json(body, collection, records)
            else:
                body = add_to_html(body, collection, records)
        except (
            DatabaseNotRunning,
            psycopg.Error,
            orjson.JSONDecodeError,
            UnicodeDecodeError,
        ) as exc:
            LOG.warning("provenance not added", extra={"fields": {"error": str(exc)}})
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

"""The twin's OpenAPI document (/openapi): complete, valid and self-contained.

pygeoapi generates the OGC part from pygeoapi-config.yml (reached through twin.http.bridge);
this module completes it, so that the one document describes every URL the twin answers:

- the twin's own routes (twin.http.routes.openapi_paths, from the route table) are merged in,
  written out per collection as pygeoapi writes its own (GDAL looks up a collection's path):
  where pygeoapi describes the same operation its description stays (it lists the
  collection's properties), with the twin's parameters, answers and security added;
- every `$ref` is local: pygeoapi points at schemas.opengis.net and at an OGC Records file on
  GitHub, which a client offline (or a validator in CI) cannot fetch. The components they name
  are written below from OGC API - Features Part 1, Tiles Part 1 and Processes Part 1;
- the items of every feature collection declare `filter`, `filter-lang` and `filter-crs`
  (Features Part 3) and `limit` by reference with its default and maximum: GDAL's OAPIF driver
  pushes a `-where` down as a filter when `filter-lang` lists `cql-text` (the name it knows;
  the twin reads it as cql2-text), and from 3.8 on takes its page size from the `limit`
  component (1,000 within its default and maximum) instead of 10;
- schemas say `enum`, not the `values` pygeoapi copies from the provider's fields;
- writes carry the API-key security scheme (`X-API-Key: <key>` or `Authorization: Bearer`);
- a coverage (terrain) has no items path.

twin.http.app writes the document once at start to the file pygeoapi serves.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from twin.features import downloads
from twin.http import bridge

LOG = logging.getLogger("twin.http.openapi")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WRITES = ("post", "put", "patch", "delete")
KINDS = ("parameters", "responses", "schemas")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON = "application/json"
GEOJSON = "application/geo+json"
# filter-lang values: the standard's two, and the pre-standard name of cql2-text that GDAL's
# OAPIF driver (3.6 and later) looks for before it sends a -where to the server
FILTER_LANGS = ["cql2-text", "cql2-json", "cql-text"]
FILTER_PARAMETERS = ("filter", "filter-lang", "filter-crs")
SECURITY = [{"ApiKey": []}, {"Bearer": []}]

# ---- the OGC components pygeoapi's document refers to, written out here ------------------


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "required": False,
        "style": "form",
        "explode": False,
        "schema": schema,
    }


def _path(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": schema,
    }


def _array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _content(schema: dict[str, Any], media: str = JSON, html: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {media: {"schema": schema}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return content


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("schemas", "exception")}}}


LINKS = _array(_ref("schemas", "link"))

OGC_PARAMETERS: dict[str, dict[str, Any]] = {
    "collectionId": _path(
        "collectionId",
        "Identifier of a collection (GET /collections lists them).",
        {"type": "string"},
    ),
    "featureId": _path(
        "featureId", "Identifier of a feature in the collection.", {"type": "string"}
    ),
    "datetime": _query(
        "datetime",
        "A date-time or date (RFC 3339), or an interval of two "
        "joined by '/', '..' for an open end. On a layer with change history "
        "it selects the features as they were then; on others it selects by "
        "the layer's temporal property.",
        {"type": "string"},
    ),
    "sortby": _query(
        "sortby",
        "Properties to sort by, comma-separated, each with an "
        "optional + (ascending, the default) or - (descending).",
        _array({"type": "string"}, minItems=1),
    ),
    "properties": _query(
        "properties",
        "Properties to include in each feature, comma-separated.",
        _array({"type": "string"}),
    ),
    "filter": _query(
        "filter",
        "A CQL2 expression the features must satisfy (OGC API - "
        "Features Part 3); the queryables of the collection name the properties "
        "it may use.",
        {"type": "string"},
    ),
    "filter-lang": _query(
        "filter-lang",
        "The language of `filter`: cql2-text (the default) "
        "or cql2-json; cql-text, cql2-text's pre-standard name, is read as "
        "cql2-text.",
        {"type": "string", "enum": FILTER_LANGS, "default": "cql2-text"},
    ),
    "filter-crs": _query(
        "filter-crs",
        "The coordinate reference system of the geometries in `filter` (CRS84 unless given).",
        {"type": "string", "format": "uri", "default": CRS84},
    ),
    "tileMatrixSetId": _path(
        "tileMatrixSetId",
        "Identifier of a tile matrix set (GET /tileMatrixSets lists them).",
        {"type": "string"},
    ),
    "tileMatrix": _path(
        "tileMatrix",
        "Identifier of a tile matrix (the zoom level) of the tile matrix set.",
        {"type": "string"},
    ),
    "tileRow": _path(
        "tileRow",
        "Row of the tile in the tile matrix, from 0 at the top.",
        {"type": "integer", "minimum": 0},
    ),
    "tileCol": _path(
        "tileCol",
        "Column of the tile in the tile matrix, from 0 at the left.",
        {"type": "integer", "minimum": 0},
    ),
}

GEOMETRY_TYPES = [
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
]

OGC_SCHEMAS: dict[str, dict[str, Any]] = {
    "exception": {
        "type": "object",
        "required": ["code"],
        "description": "An error: its OGC code (also as `type`) and what to do about it.",
        "properties": {
            "code": {"type": "string"},
            "type": {"type": "string"},
            "description": {"type": "string"},
        },
    },
    "link": {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "hreflang": {"type": "string"},
            "title": {"type": "string"},
            "length": {"type": "integer"},
            "templated": {"type": "boolean"},
        },
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": LINKS,
        },
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": _array({"type": "string"})},
    },
    "extent": {
        "type": "object",
        "properties": {
            "spatial": {
                "type": "object",
                "properties": {
                    "bbox": _array(_array({"type": "number"}, minItems=4, maxItems=6), minItems=1),
                    "crs": {"type": "string", "default": CRS84},
                },
            },
            "temporal": {
                "type": "object",
                "properties": {
                    "interval": _array(
                        _array(
                            {"type": "string", "format": "date-time", "nullable": True},
                            minItems=2,
                            maxItems=2,
                        ),
                        minItems=1,
                    ),
                    "trs": {"type": "string"},
                },
            },
        },
    },
    "collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": LINKS,
            "extent": _ref("schemas", "extent"),
            "itemType": {"type": "string", "default": "feature"},
            "crs": _array({"type": "string"}, default=[CRS84]),
            "storageCrs": {"type": "string"},
        },
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {"links": LINKS, "collections": _array(_ref("schemas", "collection"))},
    },
    "geometryGeoJSON": {
        "type": "object",
        "nullable": True,
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": GEOMETRY_TYPES},
            "coordinates": {"type": "array", "items": {}},
            "geometries": _array({"type": "object"}),
        },
    },
    "featureGeoJSON": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": _ref("schemas", "geometryGeoJSON"),
            "properties": {"type": "object", "nullable": True},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "links": LINKS,
        },
    },
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": _array(_ref("schemas", "featureGeoJSON")),
            "links": LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
    "execute": {
        "type": "object",
        "description": "A process execution request: the inputs by name, and optionally the "
        "outputs wanted and how they are returned.",
        "properties": {
            "inputs": {"type": "object", "additionalProperties": True},
            "outputs": {"type": "object", "additionalProperties": True},
            "response": {"type": "string", "enum": ["raw", "document"], "default": "raw"},
        },
    },
    "processSummary": {
        "type": "object",
        "required": ["id", "version"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "version": {"type": "string"},
            "jobControlOptions": _array(
                {"type": "string", "enum": ["sync-execute", "async-execute", "dismiss"]}
            ),
            "links": LINKS,
        },
    },
    "processList": {
        "type": "object",
        "required": ["processes", "links"],
        "properties": {"processes": _array(_ref("schemas", "processSummary")), "links": LINKS},
    },
    "statusInfo": {
        "type": "object",
        "required": ["jobID", "status"],
        "properties": {
            "processID": {"type": "string"},
            "type": {"type": "string"},
            "jobID": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["accepted", "running", "successful", "failed", "dismissed"],
            },
            "message": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "started": {"type": "string", "format": "date-time"},
            "finished": {"type": "string", "format": "date-time"},
            "updated": {"type": "string", "format": "date-time"},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "links": LINKS,
        },
    },
}

OGC_RESPONSES: dict[str, dict[str, Any]] = {
    "LandingPage": {
        "description": "The landing page: links to the API definition, the "
        "conformance declaration and the collections.",
        "content": _content(_ref("schemas", "landingPage")),
    },
    "ConformanceDeclaration": {
        "description": "The conformance classes the server implements.",
        "content": _content(_ref("schemas", "confClasses")),
    },
    "Collections": {
        "description": "The collections of the server.",
        "content": _content(_ref("schemas", "collections")),
    },
    "Collection": {
        "description": "A collection: what it holds, its extent and links to its "
        "items, queryables, schema and tiles.",
        "content": _content(_ref("schemas", "collection")),
    },
    "Features": {
        "description": "The features selected, one page of them: `numberMatched` "
        "counts all, a `next` link gives the following page.",
        "content": _content(_ref("schemas", "featureCollectionGeoJSON"), GEOJSON),
    },
    "Feature": {
        "description": "One feature.",
        "content": _content(_ref("schemas", "featureGeoJSON"), GEOJSON),
    },
    "InvalidParameter": _error(
        "A parameter has a value the server does not accept; the description names it."
    ),
    "NotFound": _error("No such resource."),
    "ServerError": _error("The server could not answer; the description says why."),
    "ProcessList": {
        "description": "The processes the server offers.",
        "content": _content(_ref("schemas", "processList"), html=False),
    },
    "ExecuteAsync": {
        "description": "The job started; its status, whose URL is in the Location header.",
        "headers": {"Location": {"description": "URL of the job.", "schema": {"type": "string"}}},
        "content": _content(_ref("schemas", "statusInfo"), html=False),
    },
}

OGC_COMPONENTS = {"parameters": OGC_PARAMETERS, "responses": OGC_RESPONSES, "schemas": OGC_SCHEMAS}

SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An editor's or admin's API key (`twin users add` prints one). "
        "Reads need none; writes need one.",
    },
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key, as `Authorization: Bearer <key>`.",
    },
}

# ---- building the document ---------------------------------------------------------------


def build_openapi(config_path: str | Path) -> dict[str, Any]:
    """The document /openapi serves: pygeoapi's for the configuration, completed with the
    twin's own routes (twin.http.app writes it at start where pygeoapi reads it)."""
    config = bridge.load_config(config_path)
    document = bridge.openapi_document(config)
    return complete(document, config, own_paths())


def own_paths() -> dict[str, Any]:
    """The OpenAPI paths of the twin's own routes, from the route table: a route on
    `/collections/{collectionId}/...` written out for each collection it exists for, as
    pygeoapi writes its own (clients such as GDAL look up a collection's own path)."""
    from twin.http.routes import openapi_paths

    return openapi_paths(expand=True)


def complete(
    document: dict[str, Any], config: dict[str, Any], own: dict[str, Any] | None = None
) -> dict[str, Any]:
    """pygeoapi's `document` for `config`, with the twin's `own` paths merged in and every
    fix this module is about (see the module's docstring). Returns `document`, changed."""
    resources = config.get("resources", {})
    features = sorted(
        name
        for name, resource in resources.items()
        if resource.get("type") == "collection" and _has_provider(resource, "feature")
    )
    coverages = sorted(
        name
        for name, resource in resources.items()
        if resource.get("type") == "collection" and name not in features
    )
    components = document.setdefault("components", {})
    _bundle(document)
    for kind, definitions in OGC_COMPONENTS.items():
        for name, definition in definitions.items():
            components.setdefault(kind, {}).setdefault(name, copy.deepcopy(definition))
    components.setdefault("securitySchemes", {}).update(copy.deepcopy(SECURITY_SCHEMES))
    limits = config.get("server", {}).get("limits", {})
    server = (int(limits.get("default_items", 10)), int(limits.get("max_items", 10000)))
    _limit_component(document, {}, server)
    _drop_coverage_items(document, coverages)
    if own:
        _merge(document, _bundled(copy.deepcopy(own)))
    _items_parameters(document, features, server)
    downloads.describe(document, _items_paths(document, features))  # f=csv|gpkg|parquet
    _enum_not_values(document)
    _secure_writes(document)
    _unique_operation_ids(document)
    missing = sorted(set(unresolved_refs(document)))
    if missing:  # a new name in pygeoapi's document (an upgrade) or the table: say which
        LOG.warning("OpenAPI: references without a local definition: %s", ", ".join(missing))
    return document


def _has_provider(resource: dict[str, Any], kind: str) -> bool:
    return any(p.get("type") == kind for p in resource.get("providers", []))


# ---- every $ref local ----------------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in the document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def local_ref(ref: str) -> str | None:
    """The local reference for an external one, e.g. `.../ogcapi-features-1.yaml#/components/
    parameters/featureId` or `.../responses/NotFound.yaml` -> `#/components/<kind>/<name>`;
    None if `ref` does not name a component."""
    head, _, fragment = ref.partition("#")
    if fragment:
        parts = fragment.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "components" and parts[1] in KINDS:
            return f"#/components/{parts[1]}/{parts[2]}"
        return None
    parts = head.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in KINDS:
        name = re.sub(r"\.(ya?ml|json)$", "", parts[-1])
        return f"#/components/{parts[-2]}/{name}"
    return None


def _bundle(document: dict[str, Any]) -> None:
    """Replace every external $ref of `document` by its local name (defined by `complete`)."""
    for node in walk(document):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            local = local_ref(ref)
            if local is not None:
                node["$ref"] = local


def _bundled(node: dict[str, Any]) -> dict[str, Any]:
    _bundle(node)
    return node


def unresolved_refs(document: dict[str, Any]) -> Iterator[str]:
    """Every $ref of `document` that is not a local reference to a definition it holds."""
    for node in walk(document):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        if not ref.startswith("#/"):
            yield ref
            continue
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            yield ref


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its local $ref points to."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = document
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return target


# ---- the twin's own routes -----------------------------------------------------------------


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def _merge_operation(
    document: dict[str, Any], existing: dict[str, Any], own: dict[str, Any]
) -> None:
    """pygeoapi's description of an operation the twin serves, kept (it knows each
    collection's properties and their values), with what the twin's adds: parameters and
    answers it lacks, the request body and the security."""
    names = {
        (p.get("in"), p.get("name"))
        for p in (resolve(document, n) for n in existing.get("parameters", []))
    }
    for node in own.get("parameters", []):
        parameter = resolve(document, node)
        key = (parameter.get("in"), parameter.get("name"))
        if key not in names and parameter.get("in") != "path":
            existing.setdefault("parameters", []).append(copy.deepcopy(node))
            names.add(key)
    for status, response in own.get("responses", {}).items():
        existing.setdefault("responses", {}).setdefault(status, copy.deepcopy(response))
    if own.get("security"):
        existing["security"] = copy.deepcopy(own["security"])
    if "requestBody" in own and "requestBody" not in existing:
        existing["requestBody"] = copy.deepcopy(own["requestBody"])


def _merge(document: dict[str, Any], own: dict[str, Any]) -> None:
    """The twin's own paths into `document`: an operation pygeoapi describes too (the
    twin's row took its address) is merged into pygeoapi's, any other is added."""
    paths = document.setdefault("paths", {})
    for path, item in own.items():
        target = paths.setdefault(path, {})
        for key, value in item.items():
            if key in METHODS and key in target:
                _merge_operation(document, target[key], value)
            else:
                target.setdefault(key, value)


# ---- items: filter, limit; coverages; enum; writes ---------------------------------------


def _items_paths(document: dict[str, Any], collections: list[str]) -> Iterator[dict[str, Any]]:
    """The GET operation on the items of each feature collection."""
    for collection in collections:
        operation = document["paths"].get(f"/collections/{collection}/items", {}).get("get")
        if operation is not None:
            yield operation


def _limit_component(
    document: dict[str, Any], inline: dict[str, Any], server: tuple[int, int]
) -> dict[str, str]:
    """A reference to a `limit` component with `inline`'s default and maximum: `limit` for
    the server's limits, `limit-<default>-<maximum>` for a collection's own. GDAL (3.8 on)
    reads a limit's default and maximum only through a $ref whose name holds "limit"."""
    schema = inline.get("schema", {})
    default = int(schema.get("default", server[0]))
    maximum = int(schema.get("maximum", server[1]))
    name = "limit" if (default, maximum) == server else f"limit-{default}-{maximum}"
    document["components"]["parameters"].setdefault(
        name,
        _query(
            "limit",
            f"The number of features on a page, at most {maximum} (default {default}); "
            "a `next` link gives the following page.",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        ),
    )
    return _ref("parameters", name)


def _items_parameters(
    document: dict[str, Any], collections: list[str], server: tuple[int, int]
) -> None:
    """filter, filter-lang and filter-crs on the items of every feature collection, and its
    limit by reference (with default and maximum: `server`'s unless the collection has its
    own)."""
    for operation in _items_paths(document, collections):
        parameters = operation.setdefault("parameters", [])
        names = set()
        for index, node in enumerate(parameters):
            parameter = resolve(document, node)
            names.add(parameter.get("name"))
            if parameter.get("name") == "limit" and "$ref" not in node:
                parameters[index] = _limit_component(document, parameter, server)
        if "limit" not in names:
            parameters.append(_limit_component(document, {}, server))
        parameters += [_ref("parameters", name) for name in FILTER_PARAMETERS if name not in names]


def _drop_coverage_items(document: dict[str, Any], coverages: list[str]) -> None:
    """No items paths for a coverage: it has cells, not features."""
    for path in list(document.get("paths", {})):
        parts = _segments(path)
        if (
            len(parts) >= 3
            and parts[0] == "collections"
            and parts[1] in coverages
            and parts[2] == "items"
        ):
            del document["paths"][path]


def _enum_not_values(document: dict[str, Any]) -> None:
    """`enum` where pygeoapi wrote `values` (a keyword no schema knows) in a schema."""
    for node in walk(document):
        values = node.get("values")
        if isinstance(values, list) and "type" in node:
            node.setdefault("enum", node.pop("values"))
            node.pop("values", None)


def _is_items_path(path: str) -> bool:
    parts = _segments(path)
    return len(parts) >= 3 and parts[0] == "collections" and parts[2] == "items"


def _secure_writes(document: dict[str, Any]) -> None:
    """Writes to features need an API key: PUT, PATCH and DELETE of an item and POST of a
    new one (a POST of a CQL2 search to the same address does not). The twin's own secured
    operations name ApiKey; Bearer is the same key in the Authorization header."""
    for path, item in document.get("paths", {}).items():
        for method in WRITES:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            security = operation.get("security")
            body = operation.get("requestBody", {}).get("content", {})
            search_only = method == "post" and "application/geo+json" not in body
            if security is None and _is_items_path(path) and not search_only:
                security = [{"ApiKey": []}]
            if not security:
                continue
            named = {name for requirement in security for name in requirement}
            if "ApiKey" in named:
                operation["security"] = copy.deepcopy(SECURITY)
                if {} in security or (method == "post" and path.endswith("/items")):
                    operation["security"].append({})  # optional: a search needs no key
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _error("No API key, or one that is not valid."))
            responses.setdefault("403", _error("The API key may not change this layer."))


def _unique_operation_ids(document: dict[str, Any]) -> None:
    """Operation ids are unique (a merged route may repeat one)."""
    seen: dict[str, int] = {}
    for item in document.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            name = operation["operationId"]
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                operation["operationId"] = f"{name}.{seen[name]}"


# ---- what tests and tools ask of the document ---------------------------------------------


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of `document`."""
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def template_matches(template: str, path: str) -> bool:
    """Whether `path` of the document is `template` (a route's OpenAPI path) or one of its
    instances: each `{parameter}` segment of the template stands for any one segment."""
    want, have = _segments(template), _segments(path)
    return len(want) == len(have) and all(
        w == h or (w.startswith("{") and w.endswith("}")) for w, h in zip(want, have)
    )


def parameter_names(
    document: dict[str, Any], operation: dict[str, Any], where: str = "query"
) -> dict[str, dict[str, Any]]:
    """The parameters of `operation` in `where` (query, path, header), by name, resolved."""
    found = {}
    for node in operation.get("parameters", []):
        parameter = resolve(document, node)
        if parameter.get("in") == where:
            found[parameter["name"]] = parameter
    return found

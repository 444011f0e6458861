"""Every use of pygeoapi's internals, in one place.

pygeoapi is the twin's base: it answers the OGC API addresses the twin does not own
(twin.http.routes says which). Its plugin API (providers, processes) is used where it belongs;
everything else of pygeoapi the twin touches — its Starlette app, its request parser, its
translations, its format table, its conformance lists, its OpenAPI generator — is reached
through the functions below, so an upgrade of pygeoapi is checked here and nowhere else.
Pinned: pygeoapi 0.21 (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request

# ---- the app and its configuration --------------------------------------------------------


def starlette_module() -> Any:
    """pygeoapi's Starlette module (its APP and API object); imported on first use because
    pygeoapi reads PYGEOAPI_CONFIG and PYGEOAPI_OPENAPI when it is imported."""
    from pygeoapi import starlette_app

    return starlette_app


def pygeoapi_app() -> Any:
    """pygeoapi's ASGI app."""
    return starlette_module().APP


def api() -> Any:
    """pygeoapi's API object (its configuration, locales, base URL)."""
    return starlette_module().api_


def resources() -> dict[str, Any]:
    """The resources of pygeoapi's effective configuration, by id."""
    return api().config["resources"]


# ---- requests, headers, languages, formats ---------------------------------------------------


def api_request(request: Request) -> Any:
    """pygeoapi's parsed request (format, locale, link relations) for a Starlette request."""
    from pygeoapi.api import APIRequest

    return APIRequest(request, api().locales)


def response_headers(parsed: Any) -> dict[str, str]:
    """The headers pygeoapi would give a JSON answer to `parsed`, without its encoding."""
    from pygeoapi.api import SYSTEM_LOCALE

    headers = parsed.get_response_headers(SYSTEM_LOCALE, **api().api_headers)
    headers.pop("Content-Encoding", None)
    return headers


def set_language(headers: dict[str, str], parsed: Any) -> None:
    """Content-Language of the answer, as pygeoapi sets it."""
    from pygeoapi import l10n

    l10n.set_response_language(headers, None, parsed.locale)


def translate(text: Any, parsed: Any) -> str:
    """A (possibly multilingual) title in the request's language, as pygeoapi does."""
    from pygeoapi import l10n

    return l10n.translate(text, parsed.locale)


def format_types() -> tuple[str, str, str, dict[str, str]]:
    """pygeoapi's format names for JSON, JSON-LD and HTML, and its media type table."""
    from pygeoapi.api import F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES

    return F_JSON, F_JSONLD, F_HTML, FORMAT_TYPES


# ---- conformance, coverages, routes (twin.http.app, twin.tiles) ----


def declare_conformance(classes: Iterable[str]) -> None:
    """Add the twin's conformance classes (CQL2 filters, dataset tilesets...) to the list
    pygeoapi's /conformance answers with; called once by twin.http.app.create_app, never at
    import. pygeoapi 0.21 starts its answer from its module-level CONFORMANCE_CLASSES."""
    from pygeoapi import api as pygeoapi_api

    listed = pygeoapi_api.CONFORMANCE_CLASSES
    listed.extend(uri for uri in classes if uri not in listed)


def coverage_query(path: str, bbox: list[float], format_: str, what: str) -> Any:
    """A bbox of a raster file (or all of it) as GeoTIFF bytes or a CoverageJSON dict, cut by
    pygeoapi's rasterio provider; a request it refuses is a 400 naming `what`."""
    from pygeoapi.provider.base import ProviderGenericError
    from pygeoapi.provider.rasterio_ import RasterioProvider

    from twin.errors import InvalidParameter

    provider = RasterioProvider(
        {
            "name": "rasterio",
            "type": "coverage",
            "data": path,
            "format": {"name": "GTiff", "mimetype": "image/tiff"},
        }
    )
    try:
        return provider.query(bbox=bbox, format_=format_)
    except ProviderGenericError as exc:
        raise InvalidParameter(f"{what}: {exc.message}") from None


def pygeoapi_paths() -> list[tuple[str, frozenset[str]]]:
    """pygeoapi's own routes (Starlette path syntax) and their methods, in its order: what
    it would answer behind the twin's routes (tests/test_routes_table.py checks the twin
    shadows none of them by accident)."""
    from starlette.routing import Mount, Route

    out: list[tuple[str, frozenset[str]]] = []
    for mount in pygeoapi_app().routes:
        if isinstance(mount, Mount) and mount.routes:
            prefix = mount.path.rstrip("/")
            out += [
                (prefix + route.path, frozenset(route.methods or ()))
                for route in mount.routes
                if isinstance(route, Route)
            ]
    return out


# ---- the OpenAPI document (twin.http.openapi completes it) ----


def load_config(config_path: str | Path) -> dict[str, Any]:
    """pygeoapi's configuration as pygeoapi reads it (${VAR} references resolved)."""
    from pygeoapi.util import yaml_load

    with open(config_path, encoding="utf-8") as fh:
        return yaml_load(fh)


def openapi_document(config: dict[str, Any]) -> dict[str, Any]:
    """pygeoapi's own OpenAPI document for `config`: its OGC paths and components, with
    references to schemas.opengis.net that twin.http.openapi replaces by local ones. A
    collection whose provider cannot be loaded is left out rather than failing the start."""
    from pygeoapi.openapi import get_oas

    return get_oas(config, fail_on_invalid_collection=False)


# ---- rendering items (features) ----
# The twin answers /collections/{id}/items in every format (twin.features.routes): it runs the
# query and lays out the FeatureCollection with its links; for HTML, JSON-LD and CSV pygeoapi
# only renders that collection, as the tail of pygeoapi.api.itemtypes.get_collection_items
# does (its template, its CSV formatter, its JSON-LD context).


def feature_provider(dataset: str) -> dict[str, Any]:
    """The feature provider definition of a configured collection."""
    from pygeoapi.util import get_provider_by_type

    return get_provider_by_type(resources()[dataset]["providers"], "feature")


def render_items_html(parsed: Any, dataset: str, content: dict[str, Any], offset: int) -> str:
    """The items page, from pygeoapi's template 'collections/items/index.html' (ours in
    twin/templates), given what pygeoapi gives it: the paths, the offset and the id field."""
    from pygeoapi.util import render_j2_template

    provider = feature_provider(dataset)
    uri = f"{api().get_collections_url()}/{dataset}/items"
    data = {
        **content,
        "items_path": uri,
        "dataset_path": uri.rsplit("/", 1)[0],
        "collections_path": api().get_collections_url(),
        "offset": offset,
        "id_field": provider.get("id_field") or "id",
    }
    if provider.get("uri_field") is not None:
        data["uri_field"] = provider["uri_field"]
    if provider.get("title_field") is not None:
        data["title_field"] = translate(provider["title_field"], parsed)
        data["id_field"] = data["title_field"]
    return render_j2_template(
        api().tpl_config,
        api().get_dataset_templates(dataset),
        "collections/items/index.html",
        data,
        parsed.locale,
    )


def render_items_jsonld(dataset: str, content: dict[str, Any]) -> str:
    """The items as GeoJSON-LD with the collection's context (pygeoapi's geojson2jsonld)."""
    from pygeoapi.linked_data import geojson2jsonld

    provider = feature_provider(dataset)
    return geojson2jsonld(api(), content, dataset, id_field=provider.get("uri_field") or "id")

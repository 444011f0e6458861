"""The twin's one table of URLs: who serves each address, with which handler.

The server is one Starlette app (twin.http.app): the twin's own routes first, in the order of
ROUTES (first match wins), then pygeoapi for everything else. Each row says path, methods,
owner ("twin" or "pygeoapi") and handler; from the rows follow
- the Starlette routes of the twin's rows (twin.http.app.twin_routes);
- the tile fast-path matcher (fast_path_patterns, used by twin.tiles.fastpath);
- the OpenAPI paths of the twin's rows (openapi_paths, merged into pygeoapi's document by
  twin.http.openapi);
- the "who serves which URL" page, docs/routes.md (routes_page; `python -m twin.http.routes
  --write` regenerates it, tests/test_routes_table.py checks it is current).

Rows owned by pygeoapi list what pygeoapi answers for the twin's configuration, so that every
path of /openapi has one owner. A twin row that takes an address pygeoapi would also answer
says why in `replaces` (the routes test fails on an unexplained shadow of a configured
pygeoapi resource).

This module stays light (the fast path imports it at start): handlers are named, not imported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from twin.http.table import RouteSpec

GET = ("GET",)
JSON = "application/json"
GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
GLB = "model/gltf-binary"

# Query parameters of the items of a feature collection (OGC API Features 1-3).
FEATURE_QUERY = (
    "f",
    "lang",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "datetime",
    "sortby",
    "properties",
    "skipGeometry",
    "filter",
    "filter-lang",
    "filter-crs",
)
# Query options of SensorThings reads (twin.sensors.odata)
STA_QUERY = (
    "$filter",
    "$select",
    "$expand",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
)
TILE_FORMATS = ("mvt", "pbf")
DOCUMENT_FORMATS = ("json", "html", "jsonld")
REPORT_FORMATS = ("pdf", "html", "csv", "gpkg")


def twin(
    path: str, methods: tuple[str, ...], handler: str, summary: str, **fields: Any
) -> RouteSpec:
    """A row the twin serves (handler: "module:callable")."""
    return RouteSpec(
        path=path, methods=methods, owner="twin", handler=handler, summary=summary, **fields
    )


def pygeoapi(
    path: str, methods: tuple[str, ...], view: str, summary: str, **fields: Any
) -> RouteSpec:
    """A row pygeoapi serves (handler: its view function in pygeoapi.starlette_app)."""
    return RouteSpec(
        path=path,
        methods=methods,
        owner="pygeoapi",
        handler=view,
        summary=summary,
        tag="pygeoapi",
        **fields,
    )


ITEMS = "/collections/{collection_id}/items"
ITEM = "/collections/{collection_id}/items/{item_id}"
HISTORY = "/collections/{collection}/items/{fid}/history"
TILES_REASON = (
    "pygeoapi describes the tiles (TwinTileProvider points it here); the twin "
    "renders them from PostGIS, caches them and answers hot ones from memory"
)

ROUTES: list[RouteSpec] = [
    twin(
        "/healthz",
        GET,
        "twin.http.app:healthz",
        "Is the server up, and does its database answer?",
        tag="health",
    ),
    # 3D scenes and 3D Tiles (twin.scene3d)
    twin(
        "/collections/buildings/scene.glb",
        GET,
        "twin.scene3d.routes:scene_glb",
        "An area of the city as a binary glTF scene",
        tag="scenes",
        media=(GLB,),
        parameters=("district", "polycentre", "bbox", "include", "f"),
        formats=("glb",),
    ),
    twin(
        "/3dtiles/buildings/tileset.json",
        GET,
        "twin.scene3d.routes:tileset_json",
        "The buildings as OGC 3D Tiles: the tileset",
        tag="scenes",
    ),
    twin(
        "/3dtiles/buildings/{path:path}",
        GET,
        "twin.scene3d.routes:tile_content",
        "A content file of the buildings' 3D Tiles",
        tag="scenes",
        media=(GLB, JSON),
    ),
    # Features: every format of the items, search, and the writes (twin.features, editing)
    twin(
        ITEMS,
        ("GET", "OPTIONS"),
        "twin.features.routes:items",
        "The features of a collection (GeoJSON; HTML and JSON-LD rendered by pygeoapi; "
        "CSV, GeoPackage and GeoParquet files streamed by twin.features.downloads)",
        tag="features",
        media=(
            GEOJSON,
            "text/html",
            "application/ld+json",
            "text/csv",
            "application/geopackage+sqlite3",
            "application/vnd.apache.parquet",
        ),
        parameters=FEATURE_QUERY,
        collections="layers",
        replaces="the twin runs every items query itself (CQL2, paging, as-of) and writes "
        "the downloads; pygeoapi only renders the HTML and JSON-LD of the collection it built",
    ),
    twin(
        ITEMS,
        ("POST",),
        "twin.features.routes:items",
        "Search with a CQL2 body (no key), or create a feature with GeoJSON",
        tag="features",
        media=(GEOJSON,),
        parameters=("limit", "offset", "bbox", "crs"),
        secured=True,
        collections="layers",
        replaces="one owner of POST items: a CQL2 body "
        "is a search, a GeoJSON feature a create (twin.editing), never pygeoapi's manager",
        extra={
            "success": ("200", "201"),
            "optional_security": True,
            "request": ("text/cql2", "application/cql2+json", GEOJSON, JSON),
            # on a layer editors may not change, POST items is a search and nothing else
            "read_only": {
                "summary": "Search with a CQL2 body",
                "request": ("text/cql2", "application/cql2+json", JSON),
                "success": ("200",),
            },
        },
    ),
    twin(
        ITEM,
        ("GET", "OPTIONS"),
        "twin.features.routes:item",
        "One feature, with its version as ETag (GeoJSON; HTML and JSON-LD by pygeoapi)",
        tag="features",
        media=(GEOJSON, "text/html", "application/ld+json"),
        parameters=("f", "crs", "lang"),
        collections="layers",
        replaces="canonical ids and the ETag are the twin's; pygeoapi renders HTML and "
        "JSON-LD pages",
    ),
    twin(
        ITEM,
        ("PUT", "PATCH", "DELETE"),
        "twin.features.routes:item",
        "Replace, change (JSON merge patch) or delete a feature; If-Match with its ETag",
        tag="editing",
        media=(GEOJSON,),
        secured=True,
        collections="editable",
        replaces="writes are the twin's (API keys, validation, history); the provider "
        "pygeoapi reads through takes none",
        extra={
            "success": ("200", "204"),
            "request": (GEOJSON, JSON, "application/merge-patch+json"),
        },
    ),
    twin(
        "/collections/{collection_id}/asof",
        GET,
        "twin.features.routes:as_of",
        "The features as they were at an instant (alias of items?datetime=)",
        tag="history",
        media=(GEOJSON,),
        parameters=("datetime", "bbox", "limit", "offset", "properties", "sortby", "f", "crs"),
        collections="editable",
    ),
    twin(
        HISTORY,
        GET,
        "twin.editing.routes:item_history",
        "Every version of a feature, newest first",
        tag="history",
        collections="editable",
    ),
    twin(
        HISTORY + "/{version}",
        GET,
        "twin.editing.routes:item_version",
        "One version of a feature, before and after the change",
        tag="history",
        collections="editable",
    ),
    twin(
        HISTORY + "/{version}/restore",
        ("POST",),
        "twin.editing.routes:restore_item",
        "Make a feature as it was at a version again (undeletes)",
        tag="history",
        media=(GEOJSON,),
        secured=True,
        collections="editable",
    ),
    twin(
        "/collections/{collection}/changes",
        GET,
        "twin.editing.routes:layer_changes",
        "The change feed of a layer within a time interval",
        tag="history",
        parameters=("datetime", "limit", "offset"),
        collections="editable",
    ),
    # The viewer's page and files: an allow-list (twin.viewer)
    twin(
        "/viewer",
        GET,
        "twin.viewer:viewer_home",
        "Redirect to /viewer/",
        tag="viewer",
        media=(),
        in_openapi=False,
    ),
    twin(
        "/viewer/",
        GET,
        "twin.viewer:viewer_file",
        "The 3D viewer (MapLibre)",
        tag="viewer",
        media=("text/html",),
        in_openapi=False,
    ),
    twin(
        "/viewer/layers.json",
        GET,
        "twin.viewer:layers_json",
        "The viewer's layer panel, drawn from the catalog",
        tag="viewer",
        in_openapi=False,
    ),
    twin(
        "/viewer/{name:str}",
        GET,
        "twin.viewer:viewer_file",
        "The viewer's page and stylesheet",
        tag="viewer",
        media=("text/html", "text/css"),
        in_openapi=False,
    ),
    twin(
        "/viewer/src/{name}",
        GET,
        "twin.viewer:viewer_module",
        "A module of the viewer",
        tag="viewer",
        media=("text/javascript",),
        in_openapi=False,
    ),
    twin(
        "/viewer/vendor/maplibre-gl/{name}",
        GET,
        "twin.viewer:maplibre_file",
        "MapLibre GL JS from the pinned npm package",
        tag="viewer",
        media=("text/javascript", "text/css"),
        in_openapi=False,
    ),
    twin(
        "/viewer/fonts/{fontstack}/{range}.pbf",
        GET,
        "twin.glyphs:glyphs",
        "Glyphs of the viewer's labels (SDF protobuf, built from DejaVu Sans)",
        tag="viewer",
        media=("application/x-protobuf",),
        in_openapi=False,
    ),
    twin(
        "/viewer/{rest:path}",
        ("GET", "POST", "PUT", "PATCH", "DELETE"),
        "twin.viewer:not_served",
        "Anything else under /viewer/: 404",
        tag="viewer",
        media=(),
        in_openapi=False,
        extra={"writes": False},
    ),
    # Tiles, tile matrix sets and terrain (twin.tiles)
    twin(
        "/tileMatrixSets",
        GET,
        "twin.tiles.routes:tile_matrix_sets",
        "The tile matrix sets of the tiles",
        tag="tiles",
        parameters=("f",),
    ),
    twin(
        "/tileMatrixSets/{tms}",
        GET,
        "twin.tiles.routes:tile_matrix_set",
        "A tile matrix set definition",
        tag="tiles",
        parameters=("f",),
    ),
    twin(
        "/tiles",
        GET,
        "twin.tiles.routes:dataset_tilesets",
        "The tilesets of every layer in one vector tileset",
        tag="tiles",
        parameters=("f",),
    ),
    twin(
        "/tiles/{tms}",
        GET,
        "twin.tiles.routes:dataset_tileset",
        "Tileset metadata of every layer",
        tag="tiles",
        parameters=("f",),
    ),
    twin(
        "/tiles/{tms}/tilejson.json",
        GET,
        "twin.tiles.routes:dataset_tilejson",
        "TileJSON 3.0 of every layer (MapLibre)",
        tag="tiles",
        parameters=("f",),
    ),
    twin(
        "/tiles/{tms}/{z}/{y}/{x}",
        GET,
        "twin.tiles.routes:dataset_tile",
        "A vector tile of every layer, or of the collections= selection",
        tag="tiles",
        media=(MVT,),
        parameters=("collections", "f"),
        formats=TILE_FORMATS,
        fast_path=True,
        extra={"success": ("200", "204")},
    ),
    twin(
        "/terrain/tilejson.json",
        GET,
        "twin.tiles.routes:terrain_tilejson",
        "TileJSON 3.0 of the terrain's raster-dem tiles",
        tag="terrain",
        parameters=("f",),
    ),
    twin(
        "/terrain/tiles/{tms}/{z}/{y}/{x}",
        GET,
        "twin.tiles.routes:terrain_tile",
        "A raster-dem tile of the terrain (Terrarium PNG)",
        tag="terrain",
        media=("image/png",),
        parameters=("f",),
        formats=("png",),
    ),
    twin(
        "/terrain/hillshade/tilejson.json",
        GET,
        "twin.tiles.routes:hillshade_tilejson",
        "TileJSON 3.0 of the terrain's shaded relief tiles",
        tag="terrain",
        parameters=("f",),
    ),
    twin(
        "/terrain/hillshade/{tms}/{z}/{y}/{x}",
        GET,
        "twin.tiles.routes:hillshade_tile",
        "A tile of the terrain's shaded relief (PNG with alpha), drawn once and cached",
        tag="terrain",
        media=("image/png",),
        parameters=("f",),
        formats=("png",),
    ),
    twin(
        "/collections/terrain",
        GET,
        "twin.tiles.routes:terrain_collection",
        "The terrain model: a coverage with its raster-dem tiles",
        tag="terrain",
        parameters=("f",),
        replaces="the twin's description names the model's real bounds, its provenance "
        "and whether one is loaded, and answers while none is (pygeoapi's "
        "rasterio provider cannot load then); pygeoapi still lists terrain in "
        "/collections",
    ),
    twin(
        "/collections/terrain/coverage",
        GET,
        "twin.tiles.routes:terrain_coverage",
        "The terrain model as GeoTIFF, or a bbox of it as CoverageJSON",
        tag="terrain",
        media=("image/tiff; application=geotiff", "application/prs.coverage+json"),
        parameters=("f", "bbox", "bbox-crs"),
        formats=("GTiff", "json"),
        replaces="the whole model is sent as its file, a bbox is checked before pygeoapi's "
        "rasterio provider cuts it",
    ),
    twin(
        "/collections/{layer}/tiles",
        GET,
        "twin.tiles.routes:layer_tilesets",
        "The tilesets of a layer",
        tag="tiles",
        parameters=("f",),
        collections="layers",
        replaces=TILES_REASON,
    ),
    twin(
        "/collections/{layer}/tiles/{tms}",
        GET,
        "twin.tiles.routes:layer_tileset",
        "Tileset metadata of a layer",
        tag="tiles",
        parameters=("f",),
        collections="layers",
        replaces=TILES_REASON,
    ),
    twin(
        "/collections/{layer}/tiles/{tms}/metadata",
        GET,
        "twin.tiles.routes:layer_tileset",
        "Tileset metadata of a layer (pygeoapi's address for it)",
        tag="tiles",
        parameters=("f",),
        collections="layers",
        replaces=TILES_REASON,
    ),
    twin(
        "/collections/{layer}/tiles/{tms}/tilejson.json",
        GET,
        "twin.tiles.routes:layer_tilejson",
        "TileJSON 3.0 of a layer (MapLibre)",
        tag="tiles",
        parameters=("f",),
        collections="layers",
    ),
    twin(
        "/collections/{layer}/tiles/{tms}/{z}/{y}/{x}",
        GET,
        "twin.tiles.routes:layer_tile",
        "A vector tile of a layer (plan_cells: ?plan=ID, one plan's cells; datetime: the "
        "layer as of an instant, or its features of a time)",
        tag="tiles",
        media=(MVT,),
        parameters=("f", "plan", "datetime"),
        formats=TILE_FORMATS,
        fast_path=True,
        collections="layers",
        replaces=TILES_REASON,
        extra={"success": ("200", "204")},
    ),
    # Styles (twin.styles: OGC API Styles, the viewer's symbology from layers/*.yml)
    twin(
        "/styles",
        GET,
        "twin.styles:styles",
        "The map styles of the dataset (OGC API Styles)",
        tag="styles",
        parameters=("f",),
        formats=("json",),
    ),
    twin(
        "/styles/{style}",
        GET,
        "twin.styles:style",
        "A map style of every layer as a MapLibre style (f=mapbox), with absolute URLs",
        tag="styles",
        media=("application/vnd.mapbox.style+json",),
        parameters=("f",),
        formats=("mapbox",),
    ),
    twin(
        "/styles/{style}/metadata",
        GET,
        "twin.styles:style_info",
        "What a map style draws: its stylesheets and layers",
        tag="styles",
        parameters=("f",),
        formats=("json",),
    ),
    twin(
        "/collections/{layer}/styles",
        GET,
        "twin.styles:collection_styles",
        "The map styles of a layer (OGC API Styles)",
        tag="styles",
        parameters=("f",),
        formats=("json",),
        collections="layers",
    ),
    twin(
        "/collections/{layer}/styles/{style}",
        GET,
        "twin.styles:collection_style",
        "A layer's map style as a MapLibre style (f=mapbox), with absolute URLs",
        tag="styles",
        media=("application/vnd.mapbox.style+json",),
        parameters=("f",),
        formats=("mapbox",),
        collections="layers",
    ),
    twin(
        "/collections/{layer}/styles/{style}/metadata",
        GET,
        "twin.styles:collection_style_info",
        "What a layer's map style draws: its stylesheet and attributes",
        tag="styles",
        parameters=("f",),
        formats=("json",),
        collections="layers",
    ),
    # Map tiles and maps, drawn server-side in the viewer's style (twin.maps)
    twin(
        "/map/tiles",
        GET,
        "twin.maps.routes:dataset_map_tilesets",
        "The map (PNG) tilesets of the dataset",
        tag="maps",
        parameters=("f",),
    ),
    twin(
        "/map/tiles/{tms}",
        GET,
        "twin.maps.routes:dataset_map_tileset",
        "Map tileset metadata of the dataset",
        tag="maps",
        parameters=("f",),
    ),
    twin(
        "/map/tiles/{tms}/{z}/{y}/{x}",
        GET,
        "twin.maps.routes:dataset_map_tile",
        "A map tile (PNG/JPEG) of the first-view layers, or of the collections= selection",
        tag="maps",
        media=("image/png", "image/jpeg"),
        parameters=("collections", "f", "size", "transparent"),
        formats=("png", "jpg"),
        fast_path=True,
    ),
    twin(
        "/map",
        GET,
        "twin.maps.routes:dataset_map",
        "A map (OGC API Maps) of the first-view layers, or of the collections= selection",
        tag="maps",
        media=("image/png", "image/jpeg"),
        parameters=(
            "collections",
            "bbox",
            "bbox-crs",
            "crs",
            "width",
            "height",
            "f",
            "transparent",
        ),
        formats=("png", "jpeg"),
    ),
    twin(
        "/collections/{layer}/map/tiles",
        GET,
        "twin.maps.routes:layer_map_tilesets",
        "The map (PNG) tilesets of a layer",
        tag="maps",
        parameters=("f",),
        collections="layers",
    ),
    twin(
        "/collections/{layer}/map/tiles/{tms}",
        GET,
        "twin.maps.routes:layer_map_tileset",
        "Map tileset metadata of a layer",
        tag="maps",
        parameters=("f",),
        collections="layers",
    ),
    twin(
        "/collections/{layer}/map/tiles/{tms}/{z}/{y}/{x}",
        GET,
        "twin.maps.routes:layer_map_tile",
        "A map tile (PNG/JPEG) of a layer, transparent around its features",
        tag="maps",
        media=("image/png", "image/jpeg"),
        parameters=("f", "size", "transparent"),
        formats=("png", "jpg"),
        fast_path=True,
        collections="layers",
    ),
    twin(
        "/collections/{layer}/map",
        GET,
        "twin.maps.routes:layer_map",
        "A map (OGC API Maps) of a layer",
        tag="maps",
        media=("image/png", "image/jpeg"),
        parameters=("bbox", "bbox-crs", "crs", "width", "height", "f", "transparent"),
        formats=("png", "jpeg"),
        collections="layers",
        replaces="pygeoapi's map route needs a map provider per collection (none is "
        "configured); the twin draws every layer in the viewer's style (twin.maps)",
    ),
    # Analysis and mobility (twin.analysis, twin.mobility)
    twin(
        "/indicators",
        GET,
        "twin.analysis.routes:indicators",
        "The city's 15-minute-city, walkability and hazard figures beside the targets "
        "(?profile=: one walking profile's 15-minute figures by district)",
        tag="analysis",
        parameters=("f", "profile"),
        formats=("json",),
    ),
    twin(
        "/processes/{process_id:twin_process}/execution",
        ("POST",),
        "twin.analysis.routes:execute",
        "Run one of the twin's processes (synchronous, raw JSON result)",
        tag="analysis",
        replaces="the twin's processes only: bad input is a 400 naming it, not a failed "
        "job; other processes stay pygeoapi's",
        extra={"request": (JSON,), "writes": False},  # computes: a read-only server runs it
    ),
    twin(
        "/indicators/mobility-safety",
        GET,
        "twin.mobility.routes:mobility_safety",
        "Micromobility, lighting, cameras, police and early warning per district",
        tag="mobility",
        parameters=("district", "f"),
        formats=("json",),
    ),
    # Change open to the public (twin/changes)
    twin(
        "/changes/feed.json",
        GET,
        "twin.changes.routes:json_feed",
        "What was built, rebuilt, lit, opened and removed, newest first (JSON Feed 1.1)",
        tag="changes",
        media=("application/feed+json",),
        parameters=("district", "change_layer", "lang"),
    ),
    twin(
        "/changes/atom.xml",
        GET,
        "twin.changes.routes:atom_feed",
        "The change feed as Atom 1.0",
        tag="changes",
        media=("application/atom+xml",),
        parameters=("district", "change_layer", "lang"),
    ),
    twin(
        "/changes/summary",
        GET,
        "twin.changes.routes:summary",
        'A month of changes per district ("12 streets lit in Turksib") in en, ru and kk',
        tag="changes",
        parameters=("district", "month", "f"),
        formats=("json",),
    ),
    twin(
        "/indicators/trend",
        GET,
        "twin.changes.routes:trend",
        "A KPI by month from the twin's change history, with the 2022 baseline and target "
        "(without kpi: the KPIs that have a trend)",
        tag="changes",
        parameters=("kpi", "f"),
        formats=("json",),
    ),
    # Plans: stored, named, comparable scenarios (twin.plans)
    twin(
        "/plans",
        GET,
        "twin.plans.routes:plans",
        "The plans a reader may see, newest first (private ones to their author and admins)",
        tag="plans",
        media=(JSON, "text/html"),
        parameters=("author", "mine", "plans_limit", "plans_offset", "f"),
        formats=("json", "html"),
    ),
    twin(
        "/plans",
        ("POST",),
        "twin.plans.routes:plans",
        "Create a plan (its edits checked first; the key's user is its author)",
        tag="plans",
        secured=True,
        extra={"success": ("201",), "request": (JSON,), "request_schema": "plan"},
    ),
    twin(
        "/plans/{plan_id}",
        GET,
        "twin.plans.routes:plan",
        "A plan: its edits, evaluation, changed cells and links; ETag v<version>",
        tag="plans",
    ),
    twin(
        "/plans/{plan_id}",
        ("PATCH", "DELETE"),
        "twin.plans.routes:plan",
        "Change a plan (JSON merge patch; If-Match with its ETag) or delete it",
        tag="plans",
        secured=True,
        extra={
            "success": ("200", "204"),
            "request": (JSON, "application/merge-patch+json"),
            "request_schema": "plan_patch",
        },
    ),
    twin(
        "/plans/{plan_id}/copy",
        ("POST",),
        "twin.plans.routes:copy_plan",
        "Copy a plan (the copy is the caller's; title '… (copy)' unless given)",
        tag="plans",
        secured=True,
        extra={"success": ("201",), "request": (JSON,), "request_schema": "plan_copy"},
    ),
    twin(
        "/plans/{plan_id}/evaluate",
        ("POST",),
        "twin.plans.routes:evaluate",
        "Evaluate a plan on the current data now and store the result",
        tag="plans",
        secured=True,
    ),
    twin(
        "/plans/{plan_id}/history",
        GET,
        "twin.plans.routes:history",
        "Every change of a plan, newest first (kept after it is deleted)",
        tag="plans",
        parameters=("history_limit",),
    ),
    twin(
        "/plans/{a}/compare/{b}",
        GET,
        "twin.plans.routes:compare",
        "Two plans, or a plan and today (base), side by side with differences",
        tag="plans",
    ),
    twin(
        "/plans/{plan_id}/report",
        GET,
        "twin.plans.routes:report",
        "A plan's report: PDF, HTML, CSV or GeoPackage, in English, Russian or Kazakh",
        tag="plans",
        media=("application/pdf", "text/html", "text/csv", "application/geopackage+sqlite3"),
        parameters=("f", "report_lang"),
        formats=REPORT_FORMATS,
    ),
    # Scooter trips and road safety (twin/scooters: trips.py, trip_routes.py)
    twin(
        "/scooters/trips",
        GET,
        "twin.scooters.trip_routes:trips",
        "A day's scooter trips by hour and operator, and the 15 key sections' flows by hour",
        tag="scooters",
        parameters=("trips_date",),
    ),
    twin(
        "/scooters/trips",
        ("POST",),
        "twin.scooters.trip_routes:trips",
        "Ingest MDS Provider trips (JSON, NDJSON, CSV; an admin's key): refused rows listed",
        tag="scooters",
        secured=True,
        parameters=("accept_valid",),
        extra={"success": ("200", "201"), "request": (JSON, "application/x-ndjson", "text/csv")},
    ),
    twin(
        "/scooters/injuries",
        GET,
        "twin.scooters.trip_routes:injuries",
        "Scooter injury reports by H3 cell and month, beside the crash hotspots of the cell",
        tag="scooters",
    ),
    twin(
        "/crashes",
        ("POST",),
        "twin.scooters.crash_routes:crashes",
        "Import road crashes (CSV or GeoJSON Points; an admin's key): refused rows listed",
        tag="scooters",
        secured=True,
        parameters=("accept_valid", "crash_source"),
        extra={"success": ("200", "201"), "request": ("text/csv", "application/geo+json", JSON)},
    ),
    # Prints of the viewer: the map, the dashboard, a table or a plot report as PDF (twin.exports)
    twin(
        "/exports/print",
        ("POST",),
        "twin.exports:print_pdf",
        "A print layout (A4/A3 PDF) of the viewer's map with its legend, or of a panel or table",
        tag="viewer",
        media=("application/pdf",),
        extra={"request": (JSON,), "writes": False},
    ),
    # SensorThings writes: entities, Observations, keys (twin/sensors)
    twin(
        "/sta/v1.1/CreateObservations",
        ("POST",),
        "twin.sensors.routes:create_observations",
        "Observations in dataArray batches (all rows or none); the created self-links",
        tag="sensors",
        secured=True,
        extra={"success": ("201",), "request": (JSON,)},
    ),
    twin(
        "/sta/v1.1/Datastreams({datastream_id})/Observations",
        ("POST",),
        "twin.sensors.routes:create_in_datastream",
        "An Observation of this Datastream (a sensor key of its provider or Thing)",
        tag="sensors",
        secured=True,
        extra={"success": ("201",), "request": (JSON,)},
    ),
    twin(
        "/sta/v1.1/{entity_set}",
        ("POST",),
        "twin.sensors.routes:create",
        "Create a Thing (deep insert of Locations, Datastreams), Location, Sensor, "
        "ObservedProperty, Datastream, FeatureOfInterest (admin key) or Observation",
        tag="sensors",
        secured=True,
        extra={"success": ("201",), "request": (JSON,)},
    ),
    twin(
        "/sta/v1.1/{entity_set}({entity_id})",
        ("PATCH", "DELETE"),
        "twin.sensors.routes:change_or_remove",
        "Change the members sent, or delete the entity and what depends on it (admin key; an "
        "Observation also with a sensor key of its Datastream)",
        tag="sensors",
        secured=True,
        extra={"success": ("200",), "request": (JSON,)},
    ),
    # A Datastream's series for charts: hourly aggregates for closed hours (twin/sensors/series.py)
    twin(
        "/sensors/datastreams/{datastream_id}/series",
        GET,
        "twin.sensors.series:series",
        "A Datastream's number results as bins (time, mean, min, max, n) of a minute, an hour "
        "or a day, at most 2,000: closed hours from the hourly aggregates",
        tag="sensors",
        parameters=("series_start", "series_end", "series_resolution"),
    ),
    # Sensors over MQTT (twin/sensors/mqtt.py)
    twin(
        "/sta/v1.1/mqtt-status",
        GET,
        "twin.sensors.mqtt:mqtt_status",
        "Is MQTT on; what the bridge received, stored, refused (by reason) and published",
        tag="sensors",
    ),
    # SensorThings reads: entity sets, navigation, query options (twin/sensors/read.py)
    twin(
        "/sta/v1.1",
        GET,
        "twin.sensors.read:service_root",
        "SensorThings API 1.1: the entity sets and the conformance classes served",
        tag="sensors",
    ),
    twin(
        "/sta/v1.1/",
        GET,
        "twin.sensors.read:service_root",
        "The service root again (clients add the slash)",
        tag="sensors",
    ),
    twin(
        "/sta/v1.1/{entity_set}({entity_id})",
        GET,
        "twin.sensors.read:resource",
        "An entity by id ($select, $expand); 404 when there is none",
        tag="sensors",
        parameters=("$select", "$expand"),
    ),
    twin(
        "/sta/v1.1/{entity_set}",
        GET,
        "twin.sensors.read:resource",
        "Entities of a set: $filter, $select, $expand, $orderby, $top, $skip, $count "
        "(@iot.nextLink pages)",
        tag="sensors",
        parameters=STA_QUERY,
    ),
    twin(
        "/sta/v1.1/{entity_set}({entity_id})/{navigation:path}",
        GET,
        "twin.sensors.read:resource",
        "Navigation from an entity (Things(1)/Datastreams, Datastreams(1)/Observations, "
        "Observations(5)/Datastream/Thing), a property, its $value, or $ref",
        tag="sensors",
        parameters=STA_QUERY,
    ),
    # Scooter operations: GBFS in and out, MDS, the demo operators (twin/scooters)
    twin(
        "/scooters/feeds",
        GET,
        "twin.scooters.routes:feeds",
        "The scooter operators' GBFS feeds: latest poll, outcomes by reason, refusals listed",
        tag="scooters",
        parameters=("f", "polls_limit"),
        formats=("json",),
    ),
    twin(
        "/scooters/now",
        GET,
        "twin.scooters.routes:now",
        "Scooters standing now and left outside parking, by district and key section",
        tag="scooters",
        parameters=("f",),
        formats=("json",),
    ),
    twin(
        "/gbfs/v3/gbfs.json",
        GET,
        "twin.scooters.routes:city_gbfs",
        "The city's GBFS v3.0 auto-discovery: its zones and scooter parking",
        tag="scooters",
    ),
    twin(
        "/gbfs/v3/{feed}.json",
        GET,
        "twin.scooters.routes:city_gbfs",
        "A feed of the city's GBFS v3.0 system (geofencing_zones: no-ride, slow, parking)",
        tag="scooters",
    ),
    twin(
        "/mds/geographies",
        GET,
        "twin.scooters.routes:mds",
        "The city's micromobility zones as MDS 2.0 Geographies",
        tag="scooters",
    ),
    twin(
        "/mds/policies",
        GET,
        "twin.scooters.routes:mds",
        "The city's micromobility rules as an MDS 2.0 Policy",
        tag="scooters",
    ),
    twin(
        "/demo/operators/{operator}/gbfs.json",
        GET,
        "twin.scooters.routes:demo_operator",
        "A synthetic demo operator's GBFS v3.0 auto-discovery (jet, yandex-go, whoosh)",
        tag="scooters",
        parameters=("at",),
    ),
    twin(
        "/demo/operators/{operator}/{feed}.json",
        GET,
        "twin.scooters.routes:demo_operator",
        "A synthetic demo operator's GBFS v3.0 feed, now or ?at= a time",
        tag="scooters",
        parameters=("at",),
    ),
    # pygeoapi answers the rest (its views in pygeoapi.starlette_app)
    pygeoapi("/", GET, "landing_page", "Landing page"),
    pygeoapi("/openapi", GET, "openapi", "This API's OpenAPI document (twin.http.openapi)"),
    pygeoapi(
        "/conformance",
        GET,
        "conformance",
        "Conformance classes (the twin's declared through the bridge)",
    ),
    pygeoapi("/collections", GET, "collections", "The collections, with provenance"),
    pygeoapi(
        "/collections/{collectionId}",
        GET,
        "collections",
        "A collection, with provenance (ProvenanceMiddleware)",
    ),
    pygeoapi(
        "/collections/{collectionId}/queryables",
        GET,
        "collection_queryables",
        "The properties a filter may name",
    ),
    pygeoapi(
        "/collections/{collectionId}/schema",
        GET,
        "collection_schema",
        "The schema of a collection's features",
    ),
    pygeoapi("/processes", GET, "get_processes", "The processes"),
    pygeoapi("/processes/{processId}", GET, "get_processes", "A process description"),
    pygeoapi(
        "/processes/{processId}/execution",
        ("POST",),
        "execute_process_jobs",
        "Run a process that is not the twin's (none today)",
    ),
    pygeoapi("/jobs", GET, "get_jobs", "Jobs of asynchronous processes"),
    pygeoapi("/jobs/{jobId}", ("GET", "DELETE"), "get_jobs", "A job, or dismiss it"),
    pygeoapi("/jobs/{jobId}/results", GET, "get_job_result", "A job's results"),
    pygeoapi(
        "/TileMatrixSets",
        GET,
        "get_tilematrix_sets",
        "pygeoapi's tile matrix sets (the twin's are at /tileMatrixSets)",
        in_openapi=False,
    ),
    pygeoapi(
        "/TileMatrixSets/{tileMatrixSetId}",
        GET,
        "get_tilematrix_set",
        "A tile matrix set of pygeoapi's",
        in_openapi=False,
    ),
    pygeoapi(
        "/static/{path:path}",
        GET,
        "StaticFiles",
        "pygeoapi's stylesheets, scripts and images for its HTML pages",
        media=("text/css", "text/javascript", "image/png"),
        in_openapi=False,
    ),
]


# ---- names: Starlette's path parameters and OpenAPI's --------------------------------------

# The handlers' names for path parameters -> the OGC API names the OpenAPI document uses.
PATH_NAMES = {
    "collection_id": "collectionId",
    "collection": "collectionId",
    "layer": "collectionId",
    "item_id": "featureId",
    "fid": "featureId",
    "tms": "tileMatrixSetId",
    "z": "tileMatrix",
    "y": "tileRow",
    "x": "tileCol",
    "process_id": "processId",
    "plan_id": "planId",
}
PATH_PARAMETER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?}")


def openapi_path(path: str) -> str:
    """A row's path in OpenAPI's spelling: convertors dropped, OGC parameter names."""
    return PATH_PARAMETER.sub(lambda m: "{" + PATH_NAMES.get(m.group(1), m.group(1)) + "}", path)


def path_pattern(path: str) -> re.Pattern[str]:
    """A regex matching the concrete paths of a row (a `:path` parameter spans segments)."""
    out, last = "", 0
    for match in PATH_PARAMETER.finditer(path):
        out += re.escape(path[last : match.start()])
        out += ".+" if match.group(0).endswith(":path}") else "[^/]+"
        last = match.end()
    return re.compile("^" + out + re.escape(path[last:]) + "$")


def twin_rows() -> list[RouteSpec]:
    """The twin's rows, in matching order."""
    return [row for row in ROUTES if row.owner == "twin"]


# ---- the tile fast path --------------------------------------------------------------------

# Canonical spellings only (ASCII digits, no leading zeros; `\d` would take "014" and "١٤"):
# anything else goes on to the routes, which refuse it.
FAST_PATH_PARTS = {
    "layer": r"(?P<layer>[^/]+)",
    "tms": "WebMercatorQuad",
    "z": r"(?P<z>0|[1-9][0-9]?)",
    "y": r"(?P<y>0|[1-9][0-9]{0,7})",
    "x": r"(?P<x>0|[1-9][0-9]{0,7})(?:\.(?:mvt|pbf))?",
}
# a map tile's column: its extension names the image (none: PNG); the group marks map rows
MAP_TILE_X = r"(?P<x>0|[1-9][0-9]{0,7})(?:\.(?P<image>png|jpg))?"


def fast_path_patterns() -> tuple[re.Pattern[str], ...]:
    """The tile URLs the fast path may answer from memory: one regex per `fast_path` row."""
    patterns = []
    for row in ROUTES:
        if row.fast_path:
            out, last = "", 0
            parts = FAST_PATH_PARTS
            if "image/png" in row.media:
                parts = {**FAST_PATH_PARTS, "x": MAP_TILE_X}
            for match in PATH_PARAMETER.finditer(row.path):
                out += re.escape(row.path[last : match.start()]) + parts[match.group(1)]
                last = match.end()
            patterns.append(re.compile("^" + out + re.escape(row.path[last:]) + "$"))
    return tuple(patterns)


# ---- OpenAPI -------------------------------------------------------------------------------

# Parameters pygeoapi's document (completed by twin.http.openapi) defines as components.
STANDARD_PARAMETERS = frozenset(
    {
        "bbox",
        "bbox-crs",
        "crs",
        "f",
        "lang",
        "limit",
        "offset",
        "datetime",
        "properties",
        "skipGeometry",
        "sortby",
        "filter",
        "filter-lang",
        "filter-crs",
        "vendorSpecificParameters",
    }
)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "style": "form",
        "explode": False,
        "schema": schema,
    }


# The twin's own query parameters (inline in the operations that take them).
PARAMETERS: dict[str, dict[str, Any]] = {
    "$filter": _query(
        "$filter",
        "OData filter of SensorThings 1.1 (docs/sensors.md#reading)",
        {"type": "string"},
    ),
    "$select": _query("$select", "Properties to return, comma-separated", {"type": "string"}),
    "$expand": _query(
        "$expand",
        "Related entities to include, with nested options: Datastreams($top=1;$expand=Sensor)",
        {"type": "string"},
    ),
    "$orderby": _query(
        "$orderby", "Order keys, each asc or desc, comma-separated", {"type": "string"}
    ),
    "$top": _query(
        "$top",
        "The most entities in the page (default 100, at most 10,000: TWIN_STA_MAX_TOP)",
        {"type": "integer", "minimum": 0},
    ),
    "$skip": _query("$skip", "Entities to skip (paging)", {"type": "integer", "minimum": 0}),
    "$count": _query(
        "$count", "Add @iot.count: how many match, before paging", {"type": "boolean"}
    ),
    "$skiptoken": _query(
        "$skiptoken",
        "Where an id-ordered page continues (written in @iot.nextLink: follow it as it is)",
        {"type": "integer", "minimum": 0},
    ),
    "series_start": _query(
        "start",
        "The window's start, an instant with its offset (down to the resolution)",
        {"type": "string", "format": "date-time"},
    ),
    "series_end": _query(
        "end",
        "The window's end, an instant with its offset (up to the resolution)",
        {"type": "string", "format": "date-time"},
    ),
    "series_resolution": _query(
        "resolution",
        "The bins: minute, hour, day, or auto (the finest within 2,000 points)",
        {"type": "string", "enum": ["auto", "minute", "hour", "day"], "default": "auto"},
    ),
    "collections": _query(
        "collections",
        "Comma-separated collection ids: only these layers "
        "in the tile (OGC API Tiles collections selection)",
        {"type": "string"},
    ),
    "district": _query("district", "A district by name", {"type": "string"}),
    "profile": _query(
        "profile",
        "A walking profile (docs/profiles.md): its 15-minute figures by district",
        {"type": "string", "enum": ["standard", "slow", "wheelchair", "night"]},
    ),
    "polycentre": _query("polycentre", "A polycentre by name", {"type": "string"}),
    "change_layer": _query(
        "layer",
        "Only the changes of this versioned layer (plots, buildings ...)",
        {"type": "string"},
    ),
    "trips_date": _query(
        "date", "A day, YYYY-MM-DD (UTC; default today)", {"type": "string", "format": "date"}
    ),
    "accept_valid": _query(
        "accept_valid",
        "true: write the good trips and list the refused ones (default: one refused row "
        "refuses the batch)",
        {"type": "boolean"},
    ),
    "crash_source": _query(
        "source",
        "The batch's name (default: POST by the key's holder): a later batch of the same "
        "source replaces it",
        {"type": "string", "maxLength": 120},
    ),
    "month": _query(
        "month",
        "A month, YYYY-MM (default: this month, UTC)",
        {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
    ),
    "kpi": _query(
        "kpi",
        "The indicator whose trend is asked for (absent: the list of KPIs)",
        {"type": "string", "enum": ["lit_share", "park_area_ha", "schools", "floor_area_built_m2"]},
    ),
    "include": _query(
        "include",
        "Comma-separated parts of the scene: terrain, buildings, faults, utilities, parks",
        {"type": "string"},
    ),
    "author": _query(
        "author",
        "Only the plans of this user",
        {"type": "string", "minLength": 1, "maxLength": 100},
    ),
    "mine": _query(
        "mine",
        "Only the plans of the key's user (needs an API key)",
        {"type": "boolean", "default": False},
    ),
    "plans_limit": _query(
        "limit",
        "The most plans in the answer",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
    ),
    "plans_offset": _query(
        "offset", "Plans to skip (paging)", {"type": "integer", "minimum": 0, "default": 0}
    ),
    "history_limit": _query(
        "limit",
        "The most changes in the answer",
        {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
    ),
    "report_lang": _query(
        "lang",
        "The report's language",
        {"type": "string", "enum": ["en", "ru", "kk"], "default": "en"},
    ),
    "plan": _query(
        "plan",
        "Only the cells of this plan (plan_cells; other layers ignore it)",
        {"type": "integer", "minimum": 1},
    ),
    "width": _query(
        "width",
        "Map width in pixels (at most 4096)",
        {"type": "integer", "minimum": 1, "maximum": 4096},
    ),
    "height": _query(
        "height",
        "Map height in pixels (at most 4096)",
        {"type": "integer", "minimum": 1, "maximum": 4096},
    ),
    "size": _query(
        "size", "Map tile side in pixels (the same area)", {"type": "integer", "enum": [256, 512]}
    ),
    "transparent": _query(
        "transparent", "No ground colour under the features (PNG)", {"type": "boolean"}
    ),
    # scooters (twin/scooters)
    "polls_limit": _query(
        "limit",
        "The most recent polls listed",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
    ),
    "at": _query(
        "at",
        "The moment of the simulated feed (RFC 3339 with offset); default: now",
        {"type": "string", "format": "date-time"},
    ),
}
PATH_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "entity_set": (
        "A SensorThings entity set",
        {
            "type": "string",
            "enum": [
                "Things",
                "Locations",
                "HistoricalLocations",
                "Datastreams",
                "Sensors",
                "ObservedProperties",
                "Observations",
                "FeaturesOfInterest",
            ],
        },
    ),
    "navigation": (
        "Navigation properties, then a property, $value or $ref (Datastreams/Observations)",
        {"type": "string"},
    ),
    "collectionId": ("A collection (layer) id", {"type": "string"}),
    "featureId": (
        "A feature id: a decimal integer without sign or leading zeros",
        {"type": "string", "pattern": "^(0|[1-9][0-9]{0,18})$"},
    ),
    "tileMatrixSetId": ("The tile matrix set", {"type": "string", "enum": ["WebMercatorQuad"]}),
    "tileMatrix": ("The zoom level", {"type": "string", "pattern": "^(0|[1-9][0-9]?)$"}),
    "tileRow": ("The tile row", {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}),
    "tileCol": (
        "The tile column, optionally with the format's extension",
        {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[a-z]+)?$"},
    ),
    "processId": ("A process of the twin", {"type": "string"}),
    "version": ("A version number of the feature", {"type": "integer", "minimum": 1}),
    "planId": (
        "A plan id: a decimal integer without sign or leading zeros",
        {"type": "string", "pattern": "^[1-9][0-9]{0,18}$"},
    ),
    "a": (
        "A plan id, or base (today's city)",
        {"type": "string", "pattern": "^(base|[1-9][0-9]{0,18})$"},
    ),
    "b": (
        "A plan id, or base (today's city)",
        {"type": "string", "pattern": "^(base|[1-9][0-9]{0,18})$"},
    ),
}
# {"code", "type", "description"}: the one error body (twin.http.errors), inline so the paths
# need no component of their own.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "description"],
    "properties": {
        "code": {"type": "string"},
        "type": {"type": "string"},
        "description": {"type": "string"},
    },
}
ERRORS = {
    "400": "A parameter or body the twin cannot take (named in the description)",
    "404": "Nothing there",
    "503": "Come back later (Retry-After)",
}
SECURED_ERRORS = {
    "401": "No API key, or not a valid one",
    "403": "The key's role may not do this",
    "412": "If-Match names an older version",
    "428": "If-Match is required",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ERROR_SCHEMA}}}


# Request bodies of the plans' writes (twin.plans.routes), by a row's extra["request_schema"].
_PLAN_MEMBERS: dict[str, Any] = {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": "string", "maxLength": 10000},
    "private": {"type": "boolean"},
    "mode": {  # walking modes and profiles (twin.analysis.network.MODES, docs/profiles.md)
        "type": "string",
        "enum": ["slope", "flat", "length", "slow", "wheelchair", "night"],
    },
    "edits": {
        "type": "object",
        "description": "A GeoJSON FeatureCollection of edits (at most 500): each Feature's "
        "properties.edit is amenity.add, amenity.remove, amenity.move, park.add, park.remove, "
        "housing.add, housing.remove, street.link, street.close, street.light or building.add",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "maxItems": 500, "items": {"type": "object"}},
        },
    },
}
REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "plan": {
        "type": "object",
        "required": ["title"],
        "properties": _PLAN_MEMBERS,
        "additionalProperties": False,
    },
    "plan_patch": {"type": "object", "properties": _PLAN_MEMBERS, "additionalProperties": False},
    "plan_copy": {
        "type": "object",
        "properties": {k: v for k, v in _PLAN_MEMBERS.items() if k != "edits"},
        "additionalProperties": False,
    },
}


def _parameters(row: RouteSpec, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in re.findall(r"{([^}]+)}", path):
        description, schema = PATH_SCHEMAS.get(name, (name, {"type": "string"}))
        out.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
            }
        )
    for name in row.parameters:
        if name == "f" and row.formats:
            out.append(
                _query(
                    "f",
                    "The format of the answer",
                    {"type": "string", "enum": list(row.formats), "default": row.formats[0]},
                )
            )
        elif name in STANDARD_PARAMETERS:
            out.append({"$ref": f"#/components/parameters/{name}"})
        else:
            out.append(PARAMETERS[name])
    return out


def _read_only(collection: str | None) -> bool:
    from twin.catalog import load_catalog

    layer = load_catalog().get(collection) if collection else None
    return layer is not None and not layer.editable


def _operation(row: RouteSpec, method: str, path: str, collection: str | None) -> dict[str, Any]:
    if row.extra.get("read_only") and _read_only(collection):
        facts = row.extra["read_only"]
        extra = {k: v for k, v in row.extra.items() if k != "read_only"}
        row = replace(
            row,
            summary=facts["summary"],
            secured=False,
            extra={**extra, "request": facts["request"], "success": facts["success"]},
        )
    success = row.extra.get("success", ("200",))
    content = {
        media: {
            "schema": {"type": "string", "format": "binary"}
            if not media.endswith("json")
            else {"type": "object"}
        }
        for media in row.media
    }
    responses: dict[str, Any] = {}
    for status in success:
        ok: dict[str, Any] = {
            "description": {"201": "Created", "204": "No content"}.get(status, "Success")
        }
        if status != "204" and content:
            ok["content"] = content
        responses[status] = ok
    errors = {**ERRORS, **(SECURED_ERRORS if row.secured else {})}
    responses.update({status: _error(text) for status, text in errors.items()})
    words = re.sub(r"[^A-Za-z0-9]+", " ", openapi_path(path)).title().replace(" ", "")
    operation: dict[str, Any] = {
        "summary": row.summary,
        "tags": [collection or row.tag],
        "operationId": f"twin.{method.lower()}{words}",
        "parameters": _parameters(row, path),
        "responses": responses,
    }
    if method in ("POST", "PUT", "PATCH") and row.extra.get("request"):
        body_schema = REQUEST_SCHEMAS.get(str(row.extra.get("request_schema")), {"type": "object"})
        operation["requestBody"] = {
            "required": row.extra.get("request_schema") != "plan_copy",
            "content": {
                media: {
                    "schema": {"type": "string"} if media.startswith("text/") else dict(body_schema)
                }
                for media in row.extra["request"]
            },
        }
    if row.secured:
        operation["security"] = [{"ApiKey": []}]
        if row.extra.get("optional_security"):
            operation["security"].append({})
    return operation


def _scope(row: RouteSpec) -> list[str]:
    """The collections a templated row is written out for (expand=True)."""
    from twin.catalog import load_catalog

    layers = load_catalog().values()
    return [layer.name for layer in layers if row.collections != "editable" or layer.editable]


def openapi_paths(expand: bool = False) -> dict[str, dict[str, Any]]:
    """The OpenAPI 3.0 `paths` of the twin's rows (`in_openapi`), operations by method (HEAD
    and OPTIONS left out). Path parameters are inline; query parameters of pygeoapi's
    vocabulary are `#/components/parameters/<name>` references, the twin's own inline.
    Writes carry `security: [{"ApiKey": []}]`.

    expand=False keeps {collectionId} and {processId} as parameters; expand=True writes a
    path per collection the row exists for (every catalog layer, or the editable ones), and
    per twin process, as pygeoapi's document does for its own paths."""
    paths: dict[str, dict[str, Any]] = {}
    for row in twin_rows():
        if not row.in_openapi:
            continue
        template = openapi_path(row.path)
        concrete: list[tuple[str, str | None]] = [(template, None)]
        if expand and "{collectionId}" in template:
            concrete = [(template.replace("{collectionId}", name), name) for name in _scope(row)]
        elif expand and "{processId}" in template:
            from twin.processes import PROCESSES

            concrete = [(template.replace("{processId}", name), None) for name in PROCESSES]
        for path, collection in concrete:
            for method in row.methods:
                if method in ("HEAD", "OPTIONS"):
                    continue
                paths.setdefault(path, {})[method.lower()] = _operation(
                    row, method, path, collection
                )
    return paths


# ---- docs/routes.md ------------------------------------------------------------------------

PAGE = Path(__file__).resolve().parent.parent.parent / "docs" / "routes.md"
INTRO = """# Who serves which URL

Generated from the route table (`twin/http/routes.py`) by `python -m twin.http.routes --write`;
`tests/test_routes_table.py` fails when this page is out of date. Do not edit by hand.
`twin routes` prints the same table, one line per row, in a terminal.

The server is one app (`twin/http/app.py`): the twin's rows below are tried first, in this
order (the first match wins), then pygeoapi answers. Middlewares in front of both: the tile
fast path (hot tiles from memory), the guard (limits, back-pressure, CORS, security headers,
the one error body) and provenance (added to `/collections` and `/collections/{collectionId}`).
`{collectionId}` rows exist for every layer, or for the editable layers where marked.
Writes need an API key (`Authorization: Bearer <key>` or `X-API-Key`).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def routes_page(rows: Iterable[RouteSpec] = ROUTES) -> str:
    """docs/routes.md: the table as a page (path, methods, owner, handler, what it is)."""
    lines = [INTRO, "| path | methods | owner | handler | what |", "|---|---|---|---|---|"]
    for row in rows:
        methods = ", ".join(row.methods)
        notes = []
        if row.collections == "editable":
            notes.append("editable layers")
        if row.secured:
            notes.append("API key")
        if not row.in_openapi:
            notes.append("not in /openapi")
        what = row.summary + (f" ({'; '.join(notes)})" if notes else "")
        lines.append(
            f"| `{_cell(openapi_path(row.path))}` | {methods} | {row.owner} | "
            f"`{row.handler}` | {_cell(what)} |"
        )
    shadows = [row for row in rows if row.replaces]
    lines += [
        "",
        "## Addresses the twin takes from pygeoapi",
        "",
        "pygeoapi would answer these too (its configuration lists the resource); the "
        "twin's row comes first, for this reason:",
        "",
    ]
    lines += [
        f"- `{openapi_path(row.path)}` ({', '.join(row.methods)}): {row.replaces}"
        for row in shadows
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m twin.http.routes [--write | --check]`: print, write or check the page."""
    args = sys.argv[1:] if argv is None else argv
    page = routes_page()
    if "--write" in args:
        PAGE.write_text(page, encoding="utf-8")
        print(f"wrote {PAGE}")
        return 0
    if "--check" in args:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != page:
            print(f"{PAGE} is out of date: run python -m twin.http.routes --write")
            return 1
        return 0
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

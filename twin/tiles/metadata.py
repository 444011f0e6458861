"""Documents that let clients find the tiles: OGC API Tiles tileset lists and tileset
metadata (QGIS, GDAL's OGCAPI driver), TileJSON 3.0 (MapLibre), all drawn from the catalog."""

from __future__ import annotations

from typing import Any

from twin.catalog import Layer
from twin.settings import get_settings
from twin.style_links import style_links
from twin.tiles.matrix import CRS_3857, TMS_URI, WEB_MERCATOR_QUAD, matrix_limits
from twin.tiles.vector import ALL_PROPERTIES_ZOOM, style_properties

MVT = "application/vnd.mapbox-vector-tile"
JSON = "application/json"
TILEJSON_TYPE = "application/json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILESET = "http://www.opengis.net/def/rel/ogc/1.0/tileset"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILESETS_MAP = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map"
REL_COVERAGE = "http://www.opengis.net/def/rel/ogc/1.0/coverage"
TEMPLATE = "{tileMatrix}/{tileRow}/{tileCol}"
ATTRIBUTION = (
    "Almaty Twin (synthetic demo data CC0-1.0; real and imported data keep their "
    "own licence: see each collection)"
)
TILEJSON_FIELD = {
    "string": "String",
    "integer": "Number",
    "number": "Number",
    "boolean": "Boolean",
    "date": "String",
    "datetime": "String",
}


def server_url(fallback: str) -> str:
    """The public base URL, the same pygeoapi writes into its links."""
    return (get_settings().internal.server_url or fallback).rstrip("/")


Bbox = tuple[float, float, float, float]  # lon/lat: the city's extent (twin.extent)


def _centre(extent: Bbox, zoom: int) -> list[float]:
    return [
        round((extent[0] + extent[2]) / 2, 5),
        round((extent[1] + extent[3]) / 2, 5),
        zoom,
    ]


def _zoom_span(layers: list[Layer]) -> tuple[int, int]:
    return min(layer.minzoom for layer in layers), max(layer.maxzoom for layer in layers)


def _vector_layer(layer: Layer) -> dict[str, Any]:
    """One entry of TileJSON vector_layers."""
    return {
        "id": layer.name,
        "description": layer.description or layer.title,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "fields": {name: TILEJSON_FIELD[prop.type] for name, prop in layer.properties.items()},
    }


def _ogc_layer(layer: Layer, base: str) -> dict[str, Any]:
    """One entry of an OGC tileset's `layers`."""
    geometry_dimension = 0 if "Point" in layer.geometry else 1 if "Line" in layer.geometry else 2
    properties = {name: prop.json_schema() for name, prop in layer.properties.items()}
    properties["id"] = {"type": "integer", "title": "Feature id"}
    return {
        "id": layer.name,
        "title": layer.title,
        "description": layer.description,
        "dataType": "vector",
        "geometryDimension": geometry_dimension,
        "featureType": layer.name,
        "minTileMatrix": str(layer.minzoom),
        "maxTileMatrix": str(layer.maxzoom),
        "propertiesSchema": {"type": "object", "properties": properties},
        "links": [
            {
                "rel": "describedby",
                "type": JSON,
                "title": f"{layer.title} collection",
                "href": f"{base}/collections/{layer.name}",
            }
        ],
    }


def tilejson(
    layers: list[Layer], base: str, tiles_path: str, name: str, description: str, extent: Bbox
) -> dict[str, Any]:
    minzoom, maxzoom = _zoom_span(layers)
    return {
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": "1.0.0",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [f"{base}{tiles_path}/{{z}}/{{y}}/{{x}}"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": list(extent),
        "center": _centre(extent, max(minzoom, 12)),
        "vector_layers": [_vector_layer(layer) for layer in layers],
        "generalisation": (
            f"below zoom {ALL_PROPERTIES_ZOOM} a feature carries its id and "
            "the properties its style uses; features smaller than a pixel are "
            "left out"
        ),
        "style_properties": {layer.name: style_properties(layer) for layer in layers},
        **_datetime(layers),
    }


def _datetime(layers: list[Layer]) -> dict[str, Any]:
    """A collection's tiles that take `datetime=` say so (twin.tiles.timed)."""
    from twin.tiles.timed import time_meaning

    meaning = time_meaning(layers[0]) if len(layers) == 1 else None
    return {"datetime": meaning} if meaning else {}


def tileset(
    layers: list[Layer], base: str, tiles_path: str, title: str, description: str, extent: Bbox
) -> dict[str, Any]:
    """OGC API Tiles tileset metadata of WebMercatorQuad (…/tiles/WebMercatorQuad)."""
    minzoom, maxzoom = _zoom_span(layers)
    return {
        "title": title,
        "description": description,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        # the draft name older GDAL OGCAPI drivers look for; 3.6.2 follows the tiling-scheme
        # link instead (and has no vector-tile code: see docs/tiles.md, tests/test_tiles.py)
        "tileMatrixSetDefinition": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
        "tileMatrixSetLimits": matrix_limits(extent, minzoom, maxzoom),
        "boundingBox": {
            "lowerLeft": list(extent[:2]),
            "upperRight": list(extent[2:]),
            "crs": CRS84,
        },
        "centerPoint": {
            "coordinates": _centre(extent, 0)[:2],
            "crs": CRS84,
            "tileMatrix": str(max(minzoom, 12)),
        },
        "layers": [_ogc_layer(layer, base) for layer in layers],
        **_datetime(layers),
        "links": [
            {
                "rel": "self",
                "type": JSON,
                "title": f"{title} tileset",
                "href": f"{base}{tiles_path}",
            },
            {
                "rel": REL_TILING_SCHEME,
                "type": JSON,
                "title": "WebMercatorQuad definition",
                "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
            },
            {
                "rel": "item",
                "type": MVT,
                "title": f"{title} vector tiles",
                "templated": True,
                "href": f"{base}{tiles_path}/{TEMPLATE}",
            },
            {
                "rel": "alternate",
                "type": TILEJSON_TYPE,
                "title": "TileJSON 3.0",
                "href": f"{base}{tiles_path}/tilejson.json",
            },
            # OGC API Styles: the layer's (or the dataset's) styles and default stylesheet
            *style_links(base, layers[0].name if tiles_path.startswith("/collections/") else None),
        ],
    }


def tileset_list(layers: list[Layer], base: str, tiles_root: str, title: str) -> dict[str, Any]:
    """The tilesets of a collection or of the dataset (…/tiles)."""
    tiles_path = f"{tiles_root}/{WEB_MERCATOR_QUAD}"
    entry = {
        "title": f"{title} on {WEB_MERCATOR_QUAD}",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetDefinition": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
        "links": [
            {
                "rel": "self",
                "type": JSON,
                "title": f"{title} tileset metadata",
                "href": f"{base}{tiles_path}",
            },
            {
                "rel": REL_TILESET,
                "type": JSON,
                "title": f"{title} tileset metadata",
                "href": f"{base}{tiles_path}",
            },
            {
                "rel": REL_TILING_SCHEME,
                "type": JSON,
                "title": "WebMercatorQuad definition",
                "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
            },
            {
                "rel": "item",
                "type": MVT,
                "title": f"{title} vector tiles",
                "templated": True,
                "href": f"{base}{tiles_path}/{TEMPLATE}",
            },
        ],
    }
    return {
        "tilesets": [entry],
        "links": [
            {"rel": "self", "type": JSON, "title": "Tilesets", "href": f"{base}{tiles_root}"}
        ],
    }


def tile_matrix_set_list(base: str) -> dict[str, Any]:
    return {
        "tileMatrixSets": [
            {
                "id": WEB_MERCATOR_QUAD,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "links": [
                    {
                        "rel": "self",
                        "type": JSON,
                        "title": WEB_MERCATOR_QUAD,
                        "href": f"{base}/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                    }
                ],
            }
        ],
        "links": [{"rel": "self", "type": JSON, "href": f"{base}/tileMatrixSets"}],
    }


def terrain_tilejson(
    base: str, bounds: tuple[float, float, float, float], maxzoom: int
) -> dict[str, Any]:
    return {
        "tilejson": "3.0.0",
        "name": "terrain",
        "version": "1.0.0",
        "description": "Elevation of the terrain model as raster-dem tiles "
        "(Terrarium: metres = R*256 + G + B/256 - 32768)",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "encoding": "terrarium",
        "tileSize": 256,
        "minzoom": 0,
        "maxzoom": maxzoom,
        "bounds": [round(v, 6) for v in bounds],
        "center": [
            round((bounds[0] + bounds[2]) / 2, 5),
            round((bounds[1] + bounds[3]) / 2, 5),
            min(maxzoom, 12),
        ],
        "tiles": [f"{base}/terrain/tiles/{WEB_MERCATOR_QUAD}/{{z}}/{{y}}/{{x}}.png"],
    }


def hillshade_tilejson(
    base: str, bounds: tuple[float, float, float, float], maxzoom: int
) -> dict[str, Any]:
    """TileJSON of the terrain's shaded relief: raster tiles to the model's own resolution
    (clients overzoom them, as they do the elevation tiles)."""
    document = terrain_tilejson(base, bounds, maxzoom)
    del document["encoding"]
    return document | {
        "name": "hillshade",
        "description": "Shaded relief of the terrain model (light from the north-west at 45°; "
        "shadows and lit slopes translucent over the map)",
        "tiles": [f"{base}/terrain/hillshade/{WEB_MERCATOR_QUAD}/{{z}}/{{y}}/{{x}}.png"],
    }


def terrain_collection(
    base: str, bounds: tuple[float, float, float, float] | None, details: dict[str, Any]
) -> dict[str, Any]:
    """/collections/terrain: the terrain model as a coverage with its raster-dem tiles."""
    links = [
        {
            "rel": "self",
            "type": JSON,
            "title": "This document",
            "href": f"{base}/collections/terrain",
        },
        {
            "rel": REL_COVERAGE,
            "type": "image/tiff; application=geotiff",
            "title": "Terrain model as GeoTIFF (EPSG:32643, metres)",
            "href": f"{base}/collections/terrain/coverage?f=GTiff",
        },
        {
            "rel": REL_COVERAGE,
            "type": "application/prs.coverage+json",
            "title": "Terrain model as CoverageJSON (ask with a bbox)",
            "href": f"{base}/collections/terrain/coverage?f=json",
        },
        {
            "rel": REL_TILESETS_MAP,
            "type": TILEJSON_TYPE,
            "title": "Raster-dem tiles (Terrarium PNG), TileJSON 3.0",
            "href": f"{base}/terrain/tilejson.json",
        },
        {
            "rel": "item",
            "type": "image/png",
            "templated": True,
            "title": "Raster-dem tile (Terrarium PNG)",
            "href": f"{base}/terrain/tiles/{WEB_MERCATOR_QUAD}/{{z}}/{{y}}/{{x}}.png",
        },
    ]
    document: dict[str, Any] = {
        "id": "terrain",
        "title": "Terrain model",
        "description": "Elevation of the city and its foothills (metres above sea level), "
        "the model behind 3D scenes and slope-aware walking times.",
        "keywords": ["terrain", "elevation", "DEM"],
        "itemType": "coverage",
        "storageCrs": "http://www.opengis.net/def/crs/EPSG/0/32643",
        "crs": ["http://www.opengis.net/def/crs/EPSG/0/32643"],
        "links": links,
        "loaded": bounds is not None,
    }
    if bounds is not None:
        document["extent"] = {"spatial": {"bbox": [[round(v, 6) for v in bounds]], "crs": CRS84}}
    if details:
        document["provenance"] = details
    return document

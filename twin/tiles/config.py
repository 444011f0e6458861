"""The tiles' part of pygeoapi-config.yml: a tile provider on every collection (so pygeoapi's
collection documents, landing page and OpenAPI advertise our tile routes) and the terrain
collection (a coverage). The routes in twin/tiles/routes.py answer the requests themselves."""

from __future__ import annotations

from typing import Any

from twin.catalog import CITY_BBOX, Layer

MVT_FORMAT = {"name": "mvt", "mimetype": "application/vnd.mapbox-vector-tile"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def tile_provider(layer: Layer) -> dict[str, Any]:
    return {
        "type": "tile",
        "name": "twin.tiles.provider.TwinTileProvider",
        "data": f"/collections/{layer.name}/tiles/WebMercatorQuad",
        "options": {
            "zoom": {"min": layer.minzoom, "max": layer.maxzoom},
            "schemes": ["WebMercatorQuad"],
        },
        "format": dict(MVT_FORMAT),
    }


def terrain_resource() -> dict[str, Any]:
    return {
        "type": "collection",
        "title": "Terrain model",
        "description": "Elevation of the city and its foothills (metres above sea level) as a "
        "coverage (GeoTIFF, EPSG:32643) and as raster-dem tiles (Terrarium PNG).",
        "keywords": ["terrain", "elevation", "DEM"],
        "links": [
            {
                "type": "application/json",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map",
                "title": "Raster-dem tiles (TileJSON 3.0)",
                "href": "${TWIN_SERVER_URL}/terrain/tilejson.json",
            }
        ],
        "extents": {"spatial": {"bbox": list(CITY_BBOX), "crs": CRS84}},
        "providers": [
            {
                "type": "coverage",
                "name": "twin.tiles.provider.TerrainCoverageProvider",
                "data": "terrain",
                "format": {"name": "GTiff", "mimetype": "image/tiff"},
            }
        ],
    }

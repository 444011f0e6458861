"""pygeoapi plugins that describe the twin's tiles and terrain coverage to pygeoapi.

Tile bytes and tileset metadata are served by twin/tiles/routes.py ahead of pygeoapi; these
providers make pygeoapi's own documents (collections, landing page, OpenAPI) point at them.
"""

from __future__ import annotations

from typing import Any

from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.base import ProviderConnectionError
from pygeoapi.provider.base_mvt import BaseMVTProvider
from pygeoapi.provider.rasterio_ import RasterioProvider


class TwinTileProvider(BaseMVTProvider):
    """Vector tiles of one catalog layer on WebMercatorQuad (served by twin.tiles.routes)."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self._service_url = self.data
        self._service_metadata_url = self.data

    def __repr__(self) -> str:
        return f"<TwinTileProvider {self.data}>"

    def get_layer(self) -> str:
        return self.data.split("/")[2]

    def get_tiling_schemes(self) -> list[Any]:
        return [TileMatrixSetEnum.WEBMERCATORQUAD.value]


class TerrainCoverageProvider(RasterioProvider):
    """The current terrain model (twin/terrain.py) as a rasterio coverage."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        from twin.errors import TwinError
        from twin.terrain import terrain_path

        try:
            path = terrain_path()
        except TwinError as exc:
            raise ProviderConnectionError(str(exc)) from None
        if path is None:
            raise ProviderConnectionError("no terrain model is loaded")
        super().__init__({**provider_def, "data": str(path)})

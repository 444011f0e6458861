"""`twin import-dem`: an elevation model (GeoTIFF, or any raster GDAL reads) as the twin's
terrain, through rasterio.

The raster is checked before anything is written (readable, georeferenced, one numeric band
of plausible elevations in metres, covering Almaty), its no-data cells become NaN, and
`twin.terrain.store_terrain` reprojects it to EPSG:32643 and stores it as one Cloud-Optimized
GeoTIFF in the database in one transaction: a refused file leaves the old terrain in place.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import psycopg
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from twin.errors import ImportFailed
from twin.extent import current_extent
from twin.importers import error_line, source_digest
from twin.sqlfiles import query
from twin.store import Provenance
from twin.terrain import TERRAIN_CRS, store_terrain

MAX_CELLS = 64_000_000  # about 8,000 x 8,000: larger models are read averaged down
ELEVATION_RANGE = (-450.0, 9_000.0)  # metres: the Dead Sea shore to above Everest
UNKNOWN_LICENCE = "not stated (give --licence)"


def read_elevation(path: Path, band: int = 1) -> tuple[np.ndarray, rasterio.Affine, str, dict]:
    """Elevation in metres (NaN = no data), its transform and CRS, and facts for provenance."""
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    gdal_log = logging.getLogger("rasterio._env")  # GDAL's chatter about a bad file: the
    level = gdal_log.level  # one-line error says what matters
    gdal_log.setLevel(logging.ERROR)
    try:
        with rasterio.open(path) as dataset:
            return _read(dataset, path, band)
    except RasterioError as exc:
        raise ImportFailed(f"cannot read {path.name} as a raster: {error_line(exc)}") from None
    finally:
        gdal_log.setLevel(level)


def _read(
    dataset: rasterio.DatasetReader, path: Path, band: int
) -> tuple[np.ndarray, rasterio.Affine, str, dict]:
    if dataset.crs is None:
        raise ImportFailed(
            f"{path.name} has no coordinate reference system: an elevation "
            "model must be georeferenced (e.g. a GeoTIFF)"
        )
    if not 1 <= band <= dataset.count:
        raise ImportFailed(f"{path.name} has {dataset.count} band(s); there is no band {band}")
    dtype = np.dtype(dataset.dtypes[band - 1])
    if dtype.kind not in "iuf":
        raise ImportFailed(f"{path.name}: band {band} holds {dtype} values, not elevations")
    if dataset.count >= 3 and dtype == np.uint8:
        raise ImportFailed(
            f"{path.name} looks like an image ({dataset.count} bands of 8-bit "
            "colour), not an elevation model"
        )
    if dataset.transform.is_identity or dataset.transform.b or dataset.transform.d:
        raise ImportFailed(f"{path.name} has no north-up geotransform (rotated or missing)")
    west, south, east, north = transform_bounds(
        dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21
    )
    minx, miny, maxx, maxy = current_extent()  # the loaded districts' (twin.extent)
    if east < minx or west > maxx or north < miny or south > maxy:
        raise ImportFailed(
            f"{path.name} covers {west:.3f}-{east:.3f} E, {south:.3f}-"
            f"{north:.3f} N: none of Almaty ({minx}-{maxx} E, {miny}-{maxy} N)"
        )
    cells = dataset.width * dataset.height
    scale = max(1.0, float(np.sqrt(cells / MAX_CELLS)))
    shape = (max(2, int(dataset.height / scale)), max(2, int(dataset.width / scale)))
    try:
        data = dataset.read(
            band,
            out_shape=shape,
            masked=True,
            resampling=Resampling.average if scale > 1 else Resampling.nearest,
        )
    except RasterioError as exc:
        raise ImportFailed(f"cannot read {path.name}: {error_line(exc)}") from None
    elevation = np.ma.filled(data.astype(np.float32), np.nan)
    elevation[~np.isfinite(elevation)] = np.nan
    finite = elevation[np.isfinite(elevation)]
    if finite.size == 0:
        raise ImportFailed(f"{path.name}: every cell is no-data")
    low, high = float(finite.min()), float(finite.max())
    if low < ELEVATION_RANGE[0] or high > ELEVATION_RANGE[1]:
        raise ImportFailed(
            f"{path.name}: values {low:g} to {high:g} are not elevations in "
            "metres (a no-data value the file does not declare?)"
        )
    transform = dataset.transform @ dataset.transform.scale(
        dataset.width / shape[1], dataset.height / shape[0]
    )
    facts = {
        "source_crs": dataset.crs.to_string(),
        "source_width": dataset.width,
        "source_height": dataset.height,
        "source_resolution": [abs(dataset.transform.a), abs(dataset.transform.e)],
        "band": band,
        "no_data_cells": int(np.isnan(elevation).sum()),
        "averaged_down_by": round(scale, 3) if scale > 1 else None,
    }
    return elevation, transform, dataset.crs.to_wkt(), facts


def import_dem(
    conn: psycopg.Connection,
    path: Path | str,
    band: int = 1,
    source: str | None = None,
    licence: str | None = None,
) -> str:
    """Make the raster at `path` the twin's terrain; return the summary line for the user."""
    path = Path(path)
    elevation, transform, crs, facts = read_elevation(path, band)
    provenance = Provenance(
        source=source or f"elevation model {path.name}",
        licence=licence or UNKNOWN_LICENCE,
        synthetic=False,
        details={"file": path.name, "sha256": source_digest(path), **facts},
    )
    store_terrain(conn, elevation, transform, crs, provenance)
    version, _, _ = conn.execute(query("terrain/current_version")).fetchone()
    model = conn.execute(query("importers/terrain_model")).fetchone()
    width, height, resolution, low, high = model
    averaged = f", averaged down {facts['averaged_down_by']}x" if facts["averaged_down_by"] else ""
    return (
        f"terrain: {path.name} ({facts['source_crs']}, {facts['source_width']} x "
        f"{facts['source_height']}{averaged}) stored as a Cloud-Optimized GeoTIFF in "
        f"{TERRAIN_CRS}: {width} x {height} cells at {resolution:.1f} m, elevation "
        f"{low:.0f}-{high:.0f} m, data version {version}"
    )

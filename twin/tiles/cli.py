"""`twin tiles`: fill or clear the tile cache ahead of users."""

from __future__ import annotations

import dataclasses
import re
import shutil

import click
import psycopg

from twin.bbox import parse_bbox
from twin.catalog import Layer, load_catalog
from twin.errors import TwinError
from twin.progress import progress

ALL = "all"


def _zoom_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{1,2})\s*(?:-\s*(\d{1,2}))?\s*", text)
    if not match:
        raise TwinError(f"--zoom {text!r}: give a zoom or a range like 12-14")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if low > high or high > 24:
        raise TwinError(f"--zoom {text!r}: the range must go up, within 0-24")
    return low, high


def _tileset(name: str) -> tuple[str, list[Layer]]:
    from twin.tiles.routes import ALL_LAYERS, TERRAIN

    layers = load_catalog()
    if name == ALL:
        return ALL_LAYERS, list(layers.values())
    if name == TERRAIN:
        return TERRAIN, []
    if name not in layers:
        raise TwinError(f"unknown layer {name!r}; known: {', '.join(layers)}, terrain, all")
    return name, [layers[name]]


@click.group("tiles")
def tiles() -> None:
    """Vector and terrain tiles: the cache under tiles/cache/ (TWIN_TILE_CACHE to move it)."""


@tiles.command("seed")
@click.option(
    "--layer",
    "layer_name",
    required=True,
    help="A catalog layer, `all` (the multi-layer tileset) or `terrain`.",
)
@click.option("--zoom", "zoom_text", required=True, help="A zoom or a range, e.g. 12-14.")
@click.option(
    "--bbox",
    default=None,
    help="lon/lat extent to seed: minlon,minlat,maxlon,maxlat [default: the city's extent, "
    "the loaded districts' (twin.extent)].",
)
def seed(layer_name: str, zoom_text: str, bbox: str | None) -> None:
    """Render every tile of LAYER at the zooms over the city into the cache (skips cached)."""
    from twin.db.pool import connect
    from twin.store import database_identity, layer_versions
    from twin.tiles.cache import TileCache, tileset_key
    from twin.tiles.matrix import tile_ranges
    from twin.tiles.routes import TERRAIN
    from twin.tiles.terrain_tiles import (
        MAX_TERRAIN_ZOOM,
        TERRAIN_POLICY_VERSION,
        render_terrain_tile,
    )
    from twin.tiles.vector import in_zoom_range, policy_fingerprint, render_tile

    low, high = _zoom_range(zoom_text)
    if bbox is None:
        from twin.extent import current_extent

        extent = list(current_extent())
    else:
        extent = parse_bbox(bbox, name="--bbox", heights=False, degrees=True, area=True)
    tileset, layers = _tileset(layer_name)
    if tileset == TERRAIN:
        zooms = [z for z in range(low, high + 1) if z <= MAX_TERRAIN_ZOOM]
    else:
        zooms = [
            z for z in range(low, high + 1) if any(in_zoom_range(layer, z) for layer in layers)
        ]
    if not zooms:
        raise TwinError(f"{layer_name} has no tiles at zoom {zoom_text}")
    addresses = [address for z in zooms for address in tile_ranges(extent, z)]
    cache = TileCache()
    rendered = cached = empty = 0
    with connect() as conn:
        conn.autocommit = True
        versions = layer_versions(conn)
        database = database_identity(conn)
        if tileset == TERRAIN:
            from twin.terrain import terrain_path

            if TERRAIN not in versions or (terrain := terrain_path(conn)) is None:
                raise TwinError("no terrain model is loaded")
            key = tileset_key(database, [(TERRAIN, f"policy-{TERRAIN_POLICY_VERSION}")], versions)
        else:
            key = tileset_key(
                database, [(layer.name, policy_fingerprint(layer)) for layer in layers], versions
            )
        extension = "png" if tileset == TERRAIN else "mvt"
        with progress(
            f"tiles {layer_name} z{low}-{high}", total=len(addresses), unit="tile"
        ) as bar:
            for address in addresses:
                path = cache.path(tileset, key, address, extension)
                if path.exists():
                    cached += 1
                else:
                    if tileset == TERRAIN:
                        data = render_terrain_tile(str(terrain), address) or b""
                    else:
                        try:
                            data = render_tile(conn, layers, address)
                        except (
                            psycopg.errors.UndefinedTable,
                            psycopg.errors.UndefinedColumn,
                        ) as exc:
                            raise TwinError(
                                "the database is behind the layer catalog "
                                f"({exc.diag.message_primary}): run `twin migrate`"
                            ) from None
                    cache.write(tileset, key, path, data)
                    rendered += 1
                    empty += not data
                bar.update(1)
    click.echo(
        f"{layer_name}: {len(addresses)} tiles at zoom {low}-{high} "
        f"({rendered} rendered, {empty} of them empty; {cached} already cached) "
        f"in {cache.directory / tileset / key}"
    )


@tiles.command("overview")
@click.option(
    "--layer", "layer_name", default=ALL, show_default=True, help="A catalog layer, or `all`."
)
def overview(layer_name: str) -> None:
    """Bring the low-zoom tile overviews up to the layers' data versions (tiles do this
    themselves on first use; run it after a load so no user waits for it)."""
    click.echo(refresh_overviews(layer_name))


def refresh_overviews(layer_name: str = ALL) -> str:
    """Rebuild the stale low-zoom overviews now (`twin up` calls it after loading and
    analysing), so the first low-zoom tile a user asks for does not wait for the build."""
    from twin.db.pool import connect
    from twin.tiles.overview import stale_layers
    from twin.tiles.vector import OVERVIEW_MAX_ZOOM, ensure_overviews, uses_overview

    _, layers = _tileset(layer_name)
    layers = [layer for layer in layers if uses_overview(layer, OVERVIEW_MAX_ZOOM)]
    with connect() as conn:
        conn.autocommit = True
        try:
            stale = set(stale_layers(conn, [layer.name for layer in layers]))
        except psycopg.errors.UndefinedTable:
            raise TwinError("the database has no tile overview table: run `twin migrate`") from None
        with progress("tile overviews", total=len(layers), unit="layer") as bar:
            for layer in layers:
                ensure_overviews(conn, [dataclasses.replace(layer, minzoom=0)], OVERVIEW_MAX_ZOOM)
                bar.update(1)
    return f"tile overviews: {len(stale)} rebuilt, {len(layers) - len(stale)} current"


@tiles.command("clear")
@click.option(
    "--layer",
    "layer_name",
    default=None,
    help="Only this layer's tiles (or `all`, `terrain`); default: everything.",
)
def clear(layer_name: str | None) -> None:
    """Empty the tile cache (it refills on demand; data changes never need this)."""
    from twin.tiles.cache import cache_dir

    root = cache_dir()
    target = root / _tileset(layer_name)[0] if layer_name else root
    if target.exists():
        shutil.rmtree(target)
    click.echo(f"cleared {target}")

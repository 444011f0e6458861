"""Mudflow channels and zones from the terrain, with pysheds (D8 on a depression-filled DEM).

Rules (docs/hazards.md):
- Channels: cells draining at least `channel_km2` of mountain (terrain >= `mountain_from_m`),
  down to where the bed flattens below `deposit_gradient` (the mudflow deposits on the fan);
  only channel networks that start in the mountains are kept. Each network is one source basin,
  named after the demo/figure gorge whose valley its outlet is nearest.
- Zones: height above the nearest drainage (HAND) <= `hand_m` along those channels, and within
  `reach_m` of the channel cell a place drains to (the fan is flat: HAND alone would flood it);
  below each gorge mouth, the fan: a sector either side of the channel down to where the bed
  falls under 2 degrees, on ground at most `hand_m` above the bed at the same distance (water
  on a fan runs away from its channel, so HAND misses the fan a mudflow spreads over).
- NoData: holes are filled by their nearest known elevation for routing; every channel network
  whose catchment or zone touches a hole is unreliable, and a warning names its basin.
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from scipy import ndimage

LOG = logging.getLogger("twin.hazards")

# pysheds 0.5 still calls numpy.in1d, removed in NumPy 2.4: its module sees numpy with that
# one alias restored (numpy.isin is the same test for the 1-D arrays it passes).


class _NumpyForPysheds(types.ModuleType):
    def __getattr__(self, name: str):
        return getattr(np, name)


def _grid_module():
    """pysheds' Grid, Raster and ViewFinder (imported late: numba compiles on first use)."""
    import pysheds.sgrid as sgrid
    from pysheds.grid import Grid
    from pysheds.sview import Raster, ViewFinder

    if not hasattr(np, "in1d") and not isinstance(sgrid.np, _NumpyForPysheds):
        shim = _NumpyForPysheds("numpy")
        shim.in1d = np.isin
        sgrid.np = shim
    _count_compiled_here()
    return Grid, Raster, ViewFinder


def _count_compiled_here() -> None:
    """pysheds' numba `count` generator is never taken from numba's on-disk cache.

    A generator loaded from that cache leaves its implementation unregistered, so a function
    compiled afterwards that calls it (`_priority_flood`, the depression filling, whenever its
    own cached copy does not fit) fails in lowering with `KeyError: int64 generator(func=count
    ...)` — seen in a `twin analyse` after another process had filled the cache. Compiled in
    the process, `count` costs well under a second; everything else stays cached."""
    from numba.core.caching import NullCache
    from pysheds import _sgrid

    if not isinstance(getattr(_sgrid.count, "_cache", None), NullCache):
        _sgrid.count._cache = NullCache()


@dataclass(frozen=True)
class MudflowRules:
    """The documented thresholds; defaults for the 30-60 m city DEM."""

    mountain_from_m: float = 1300.0
    channel_km2: float = 5.0
    deposit_gradient: float = 0.02  # 2%: mudflows deposit on the fan where the bed flattens
    gradient_window_m: float = 1000.0
    hand_m: float = 5.0
    reach_m: float = 300.0
    bands_m: tuple[float, ...] = (1.0, 3.0, 5.0)
    # the fan below each gorge mouth (docs/hazards.md "fan rule"): the mouth is the first
    # channel cell downstream, below the mountains, where the ground within `mouth_probe_m`
    # stands on average less than `mouth_relief_m` above the bed (the valley walls have ended);
    # from there the flow may leave its bed within `fan_half_angle_deg` either side of the fan's
    # axis, down to where the bed falls under `fan_end_gradient` (2 degrees), on ground at most
    # `hand_m` above the bed at the same distance from the mouth
    mouth_probe_m: float = 600.0
    mouth_relief_m: float = 10.0
    fan_half_angle_deg: float = 30.0
    fan_end_gradient: float = 0.035  # 2 degrees (tan 2° = 0.0349)


@dataclass
class Mudflow:
    """The derived grids (row-major, the DEM's shape) and the basins' names."""

    transform: Affine
    elevation: np.ndarray  # filled for routing (NaN holes replaced)
    holes: np.ndarray  # bool: the DEM had no data here
    flowdir: np.ndarray  # D8 codes (64 N, 128 NE, 1 E, 2 SE, 4 S, 8 SW, 16 W, 32 NW)
    mountain_km2: np.ndarray  # mountain catchment draining through each cell
    channel: np.ndarray  # int: basin number (1..) on channel cells, 0 elsewhere
    hand: np.ndarray  # metres above the channel cell drained to (NaN: none)
    drains_to: np.ndarray  # flat index of that channel cell (-1: none)
    zone: np.ndarray  # int: basin number in the mudflow zone, 0 elsewhere
    # on the fan (added by the fan rule): flat index of the bed cell on the fan's stem at the
    # same distance from the gorge mouth, the cell its height is read against; -1 elsewhere
    fan_bed: np.ndarray | None = None
    basins: list[str] = field(default_factory=list)
    unreliable: set[int] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def cell_m(self) -> float:
        return float(abs(self.transform.a))


_STEP = {  # D8 code -> (row step, column step)
    64: (-1, 0),
    128: (-1, 1),
    1: (0, 1),
    2: (1, 1),
    4: (1, 0),
    8: (1, -1),
    16: (0, -1),
    32: (-1, -1),
}


def downstream(flowdir: np.ndarray) -> np.ndarray:
    """Flat index of each cell's D8 receiver (-1 at outlets, pits and the edge)."""
    rows, cols = flowdir.shape
    r, c = np.indices(flowdir.shape)
    target = np.full(flowdir.shape, -1, dtype=np.int64)
    for code, (dr, dc) in _STEP.items():
        at = flowdir == code
        rr, cc = r[at] + dr, c[at] + dc
        inside = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        flat = np.full(rr.shape, -1, dtype=np.int64)
        flat[inside] = rr[inside] * cols + cc[inside]
        target[at] = flat
    return target.ravel()


def _fill_holes(elevation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    holes = ~np.isfinite(elevation)
    if not holes.any():
        return elevation.astype(np.float64), holes
    _, (ri, ci) = ndimage.distance_transform_edt(holes, return_indices=True)
    return elevation[ri, ci].astype(np.float64), holes


def derive(
    elevation: np.ndarray,
    transform: Affine,
    rules: MudflowRules | None = None,
    gorges: list[tuple[str, float]] | None = None,
) -> Mudflow:
    """Channels, HAND and zones of a DEM (metres, NaN = no data) in a metric CRS.

    `gorges`: (name, x) of the known valleys, to name each basin by its outlet's nearest one.
    """
    rules = rules or MudflowRules()
    Grid, Raster, ViewFinder = _grid_module()
    dem, holes = _fill_holes(np.asarray(elevation, dtype=np.float64))
    cell = float(abs(transform.a))
    view = ViewFinder(affine=transform, shape=dem.shape, nodata=np.nan)
    grid = Grid(viewfinder=view)
    raster = Raster(dem, viewfinder=view)
    filled = grid.resolve_flats(grid.fill_depressions(grid.fill_pits(raster)))
    fdir = grid.flowdir(filled)
    mountain = Raster((dem >= rules.mountain_from_m).astype(np.float64), viewfinder=view)
    mountain_km2 = np.asarray(grid.accumulation(fdir, weights=mountain)) * cell * cell / 1e6

    # the bed gradient over ~1 km of the raw terrain: where it falls below 2% the flow spreads
    gy, gx = np.gradient(dem, cell)
    size = max(3, int(round(rules.gradient_window_m / cell)) | 1)
    gradient = ndimage.uniform_filter(np.hypot(gx, gy), size=size, mode="nearest")
    candidate = (mountain_km2 >= rules.channel_km2) & (gradient >= rules.deposit_gradient)
    labels, count = ndimage.label(candidate, structure=np.ones((3, 3)))
    # a network that starts in the mountains and leaves them (reaches the foothills)
    index = np.arange(1, count + 1)
    top = np.asarray(ndimage.maximum(dem, labels, index=index))
    bottom = np.asarray(ndimage.minimum(dem, labels, index=index))
    keep = index[(top >= rules.mountain_from_m) & (bottom < rules.mountain_from_m)]
    channel = np.where(np.isin(labels, keep), labels, 0)
    channel, basins = _name_basins(channel, dem, transform, gorges or [], rules.mountain_from_m)

    no_channel = ViewFinder(affine=transform, shape=dem.shape, nodata=False)
    mask = Raster(channel > 0, viewfinder=no_channel)
    if mask.any():
        index = np.asarray(grid.compute_hand(fdir, filled, mask, return_index=True))
        drains_to = np.where(index >= 0, index, -1).astype(np.int64).ravel()
    else:
        drains_to = np.full(dem.size, -1, dtype=np.int64)
    LOG.debug("hand done")
    flat_dem = np.asarray(filled).ravel()
    hand = np.full(dem.size, np.nan)
    has = drains_to >= 0
    hand[has] = flat_dem[has] - flat_dem[drains_to[has]]
    rows, cols = np.divmod(np.arange(dem.size), dem.shape[1])
    crow, ccol = np.divmod(np.where(has, drains_to, 0), dem.shape[1])
    reach = np.hypot(rows - crow, cols - ccol) * cell
    basin_of = np.where(has, channel.ravel()[np.where(has, drains_to, 0)], 0)
    zone = np.where(has & (hand <= rules.hand_m) & (reach <= rules.reach_m), basin_of, 0)
    zone = zone.reshape(dem.shape)
    height = hand.reshape(dem.shape)
    fan_bed = np.full(dem.shape, -1, dtype=np.int64)
    receiver = downstream(np.asarray(fdir).astype(np.int64))
    for basin, stem in _fan_stems(channel, dem, gradient, mountain_km2, receiver, cell, rules):
        _spread_fan(zone, height, fan_bed, np.asarray(filled), basin, stem, cell, rules)

    flowdir = np.asarray(fdir).astype(np.int64)
    result = Mudflow(
        transform=transform,
        elevation=np.asarray(filled, dtype=np.float64),
        holes=holes,
        flowdir=flowdir,
        mountain_km2=mountain_km2,
        channel=channel,
        hand=height,
        drains_to=drains_to.reshape(dem.shape),
        zone=zone,
        fan_bed=fan_bed,
        basins=basins,
    )
    _mark_unreliable(
        result,
        np.asarray(
            grid.accumulation(fdir, weights=Raster(holes.astype(np.float64), viewfinder=view))
        ),
    )
    return result


def _fan_stems(
    channel: np.ndarray,
    dem: np.ndarray,
    gradient: np.ndarray,
    mountain_km2: np.ndarray,
    receiver: np.ndarray,
    cell: float,
    rules: MudflowRules,
) -> list[tuple[int, np.ndarray]]:
    """(basin, the channel cells from the gorge mouth down to where the bed falls under
    `fan_end_gradient`) of each basin's main stem: the stem runs down from the basin's
    largest-catchment mountain cell; the mouth is its first cell below the mountains where the
    ground around the bed no longer stands `mouth_relief_m` above it."""
    size = max(3, int(round(2 * rules.mouth_probe_m / cell)) | 1)
    relief = (ndimage.uniform_filter(dem, size=size, mode="nearest") - dem).ravel()
    flat_channel = channel.ravel()
    stems = []
    for basin in range(1, int(channel.max()) + 1):
        cells = np.flatnonzero((flat_channel == basin) & (dem.ravel() >= rules.mountain_from_m))
        if not cells.size:
            continue
        top = cells[np.argmax(mountain_km2.ravel()[cells])]  # the trunk at the mountain front
        path, at = [], int(top)
        while at >= 0 and flat_channel[at] == basin and len(path) < channel.size:
            path.append(at)
            at = int(receiver[at])
        path = np.asarray(path)
        open_ground = np.flatnonzero(
            (relief[path] < rules.mouth_relief_m) & (dem.ravel()[path] < rules.mountain_from_m)
        )
        if not open_ground.size:
            continue
        stem = path[open_ground[0] :]
        flat = np.flatnonzero(gradient.ravel()[stem] < rules.fan_end_gradient)
        stem = stem[: flat[0] + 1] if flat.size else stem
        if stem.size > 1:
            stems.append((basin, stem))
    return stems


def _spread_fan(
    zone: np.ndarray,
    height: np.ndarray,
    fan_bed: np.ndarray,
    filled: np.ndarray,
    basin: int,
    stem: np.ndarray,
    cell: float,
    rules: MudflowRules,
) -> None:
    """Add the fan below the mouth `stem[0]` to the zone (cells not yet in any zone): within
    `fan_half_angle_deg` either side of the axis mouth -> stem end, no farther from the mouth
    than the stem's end, at most `hand_m` above the bed at the same distance from the mouth."""
    rows, cols = zone.shape
    r, c = np.divmod(stem, cols)
    along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(r), np.diff(c)) * cell)])
    bed = filled.ravel()[stem]
    length = float(np.hypot(r[-1] - r[0], c[-1] - c[0]) * cell)
    if length <= 0:
        return
    axis = np.array([r[-1] - r[0], c[-1] - c[0]], dtype=float) * cell / length
    span = int(np.ceil(length / cell)) + 1
    r0, r1 = max(0, r[0] - span), min(rows, r[0] + span + 1)
    c0, c1 = max(0, c[0] - span), min(cols, c[0] + span + 1)
    rr, cc = np.mgrid[r0:r1, c0:c1]
    dr, dc = (rr - r[0]) * cell, (cc - c[0]) * cell
    distance = np.hypot(dr, dc)
    ahead = dr * axis[0] + dc * axis[1]
    cosine = np.cos(np.radians(rules.fan_half_angle_deg))
    in_sector = (distance <= length) & (ahead >= cosine * distance)
    # the bed at the same distance from the mouth, read along the stem's own length
    at = distance * along[-1] / length
    above = filled[r0:r1, c0:c1] - np.interp(at, along, bed)
    take = in_sector & (above <= rules.hand_m) & (zone[r0:r1, c0:c1] == 0)
    zone[r0:r1, c0:c1][take] = basin
    height[r0:r1, c0:c1][take] = np.maximum(above[take], 0.0)
    nearest = np.clip(np.searchsorted(along, at[take]), 0, stem.size - 1)
    fan_bed[r0:r1, c0:c1][take] = stem[nearest]


def _name_basins(
    channel: np.ndarray,
    dem: np.ndarray,
    transform: Affine,
    gorges: list[tuple[str, float]],
    mountain_from_m: float,
) -> tuple[np.ndarray, list[str]]:
    """Renumber the channel networks 1..n west to east and name each by the gorge its
    mountain reach (median x of its cells above `mountain_from_m`) runs in."""
    ids = [int(i) for i in np.unique(channel) if i > 0]
    outlets = []
    for i in ids:
        rr, cc = np.nonzero(channel == i)
        high = dem[rr, cc] >= mountain_from_m
        outlets.append(transform.c + (float(np.median(cc[high])) + 0.5) * transform.a)
    order = np.argsort(outlets, kind="stable")
    renumbered = np.zeros_like(channel)
    names: list[str] = []
    for new, pos in enumerate(order, start=1):
        renumbered[channel == ids[pos]] = new
        x = outlets[pos]
        near = min(gorges, key=lambda g: abs(g[1] - x)) if gorges else None
        if near is not None and abs(near[1] - x) <= 3000 and near[0] not in names:
            names.append(near[0])
        else:
            names.append(f"Basin {new}")
    return renumbered, names


def _mark_unreliable(result: Mudflow, holes_upstream: np.ndarray) -> None:
    """A basin is unreliable when a hole lies in its channels' catchment or in its zone."""
    if not result.holes.any():
        return
    touched = set(np.unique(result.channel[holes_upstream > 0]).tolist())
    near_holes = ndimage.binary_dilation(result.holes, iterations=2)
    touched |= set(np.unique(result.zone[near_holes]).tolist())
    touched |= set(np.unique(result.channel[near_holes]).tolist())
    touched.discard(0)
    result.unreliable = touched
    for basin in sorted(touched):
        message = (
            f"mudflow basin {result.basins[basin - 1]!r}: the terrain has no data in its "
            "catchment or zone; its channels and zones are marked reliable=false"
        )
        result.warnings.append(message)
        LOG.warning(message)

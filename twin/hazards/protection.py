"""Mudflow protection works on the derived channels: a working dam protects the channel below
it and every zone cell that drains to that stretch; a dam off every channel is named in a
warning (it protects nothing until it is moved onto one)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from affine import Affine

from twin.hazards.hydrology import Mudflow, downstream

LOG = logging.getLogger("twin.hazards")

WORKING = ("working", "existing")


@dataclass
class Dam:
    name: str
    x: float  # metres, the terrain's CRS
    y: float
    status: str = "working"


@dataclass
class Protection:
    """Which zone cells are protected, by which dam, and what was wrong with the dams."""

    protected_by: np.ndarray  # int: 1-based index of the dam protecting the cell, 0: none
    below: np.ndarray  # int: on channel cells below a working dam, that dam's index
    on_channel: list[bool] = field(default_factory=list)
    basin: list[str | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def protected(self) -> np.ndarray:
        return self.protected_by > 0


def _cell(transform: Affine, shape: tuple[int, int], x: float, y: float) -> tuple[int, int]:
    col, row = ~transform * (x, y)
    return int(np.floor(row)), int(np.floor(col))


def snap_to_channel(mudflow: Mudflow, x: float, y: float, tolerance_m: float) -> int | None:
    """Flat index of the channel cell nearest (x, y) within `tolerance_m`, else None."""
    rows, cols = np.nonzero(mudflow.channel > 0)
    if rows.size == 0:
        return None
    cx = mudflow.transform.c + (cols + 0.5) * mudflow.transform.a
    cy = mudflow.transform.f + (rows + 0.5) * mudflow.transform.e
    gap = np.hypot(cx - x, cy - y)
    best = int(np.argmin(gap))
    if gap[best] > tolerance_m:
        return None
    return int(rows[best] * mudflow.channel.shape[1] + cols[best])


def protect(mudflow: Mudflow, dams: list[Dam], tolerance_m: float | None = None) -> Protection:
    """Trace each working dam's channel downstream; zone cells draining there are protected."""
    shape = mudflow.channel.shape
    tolerance = tolerance_m if tolerance_m is not None else 1.5 * mudflow.cell_m
    receiver = downstream(mudflow.flowdir)
    below = np.zeros(mudflow.channel.size, dtype=np.int64)  # channel cell -> dam number
    result = Protection(
        protected_by=np.zeros(shape, dtype=np.int64), below=np.zeros(shape, dtype=np.int64)
    )
    for number, dam in enumerate(dams, start=1):
        at = snap_to_channel(mudflow, dam.x, dam.y, tolerance)
        result.on_channel.append(at is not None)
        if at is None:
            result.basin.append(None)
            message = (
                f"protection works: dam {dam.name!r} is not on any mudflow channel "
                f"(none within {tolerance:.0f} m); it protects nothing"
            )
            result.warnings.append(message)
            LOG.warning(message)
            continue
        basin = int(mudflow.channel.ravel()[at])
        result.basin.append(mudflow.basins[basin - 1])
        if dam.status not in WORKING:
            continue
        cell, steps = at, 0
        while cell >= 0 and steps < mudflow.channel.size:
            if below[cell] == 0:
                below[cell] = number
            cell, steps = int(receiver[cell]), steps + 1
    drains = mudflow.drains_to.ravel()
    has = (drains >= 0) & (mudflow.zone.ravel() > 0)
    protected = np.zeros(mudflow.channel.size, dtype=np.int64)
    protected[has] = below[drains[has]]
    if mudflow.fan_bed is not None:  # on a fan: when its bed at that distance is below a dam
        bed = mudflow.fan_bed.ravel()
        on_fan = bed >= 0
        protected[on_fan] = below[bed[on_fan]]
    result.protected_by = protected.reshape(shape)
    result.below = np.where(mudflow.channel.ravel() > 0, below, 0).reshape(shape)
    return result

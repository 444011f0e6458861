"""The one reader of a bounding box written as text: `bbox=` of items, the terrain coverage
and scenes, and `--bbox` of the import and tile-seeding commands.

The rules are those of OGC API Features `bbox` as the items endpoint has always applied them:
4 numbers (minx,miny,maxx,maxy), or 6 with heights (minx,miny,minz,maxx,maxy,maxz, heights
ignored); each a decimal number as the spec and JSON write it, in ASCII (Python's float()
would also take '1_0', Unicode digits and 'infinity', which no client means); finite; -0 is 0;
min <= max on both axes (a box across the antimeridian is refused, not misread). Callers that
need more say so: `degrees` (longitudes within -180..180, latitudes within -90..90) and
`area` (min < max: a box with no area is refused).

A bad box is a BboxError: an InvalidParameter (400 InvalidParameterValue) whose description
names the parameter and the problem; `problem` alone is there for callers that word the error
their own way (the CLI's "bad --bbox").
"""

from __future__ import annotations

import math
import re

from twin.errors import InvalidParameter

Bbox = tuple[float, float, float, float]

# A bbox number as the OGC spec and JSON write it, ASCII only.
BBOX_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class BboxError(InvalidParameter):
    """A bounding box that is not 4 (or 6) ordered, finite decimal numbers."""

    code = "InvalidParameterValue"

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


def parse_bbox(
    value: str,
    *,
    name: str = "bbox",
    heights: bool = True,
    degrees: bool = False,
    area: bool = False,
) -> Bbox:
    """minx, miny, maxx, maxy of a `bbox` text, or a BboxError naming what is wrong.

    heights: 6 numbers are accepted (their heights dropped); degrees: the box must lie in
    longitude/latitude degrees; area: min < max on both axes, not only min <= max."""
    parts = value.split(",")
    if len(parts) != 4 and not (heights and len(parts) == 6):
        shape = "4 numbers (minx,miny,maxx,maxy)" + (" or 6 with heights" if heights else "")
        raise BboxError(name, f"must be {shape}, got {len(parts)} value(s): {value[:200]!r}")
    numbers = []
    for part in parts:
        if not BBOX_NUMBER.fullmatch(part.strip(" ")):
            raise BboxError(
                name,
                f"values must be decimal numbers (e.g. 76.9 or -1.5e3), got "
                f"{part[:40]!r} in {value[:200]!r}",
            )
        number = float(part) + 0.0  # -0 is 0
        if not math.isfinite(number):
            raise BboxError(name, f"values must be finite numbers, got {part[:40]!r}")
        numbers.append(number)
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    minx, miny, maxx, maxy = numbers
    if miny > maxy:
        raise BboxError(name, f"miny ({miny}) is greater than maxy ({maxy})")
    if minx > maxx:
        raise BboxError(
            name,
            f"minx ({minx}) is greater than maxx ({maxx}); bboxes across "
            "the antimeridian are not supported",
        )
    if degrees and not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BboxError(
            name,
            f"{value[:200]!r} is not in longitude/latitude degrees: "
            "longitudes lie within -180..180, latitudes within -90..90 "
            "(W,S,E,N, e.g. 76.90,43.22,76.96,43.26)",
        )
    if area and (minx == maxx or miny == maxy):
        raise BboxError(
            name,
            f"{value[:200]!r} has no area: minx must be less than maxx and miny less than maxy",
        )
    return minx, miny, maxx, maxy

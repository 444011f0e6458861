"""Street lighting from the lighting network: each street segment is lit or unlit according to
the lighting lines (utility_lines, network 'lighting') along it, not a flag of its own.

The rule (S2 l.1281: ~20% of streets unlit; the programme lights 100% by 2025):
- a point of a street is lit when it lies within LIT_REACH_M = 15 m of a lighting line: a
  street lamp on an 8-10 m pole lights about 15 m around it (lamps ~30 m apart light the
  carriageway between them), and a cable on the far side of a 25 m avenue still lights it;
- a segment is lit when at least LIT_MIN_SHARE = 75% of its length is lit: the lamps of a lit
  cross street light the first ~20 m of an unlit side street (15 m reach plus the cable's
  offset), and 75% keeps such a side street unlit while a street lit along its length (with a
  gap at a crossing) stays lit.

`derive_street_lighting` writes the result into streets.lit (only the segments whose status
changed, so an unchanged lighting network leaves the streets' data version alone); `twin
analyse` runs it before anything reads the walking network, so adding a lighting line and
re-analysing lights the street, and the night-time network (lit streets only) follows. A twin
with no lighting line at all keeps streets.lit as it was loaded (e.g. OpenStreetMap lit=* tags).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely

from twin.sqlfiles import query

LOG = logging.getLogger("twin.mobility.lighting")
LIT_REACH_M = 15.0
LIT_MIN_SHARE = 0.75


def lit_length(streets: np.ndarray, lines: np.ndarray, reach_m: float = LIT_REACH_M) -> np.ndarray:
    """Metres of each street (LineStrings in metres) within `reach_m` of any line: the exact
    union, along the street, of its pieces inside each line's buffer."""
    covered = np.zeros(len(streets))
    lines = shapely.get_parts(np.asarray(lines, dtype=object)) if len(lines) else lines
    if len(streets) == 0 or len(lines) == 0:
        return covered
    buffers = shapely.buffer(lines, reach_m, quad_segs=4)
    street, line = shapely.STRtree(buffers).query(streets, predicate="intersects")
    if len(street) == 0:
        return covered
    pieces = shapely.intersection(streets[street], buffers[line])
    parts, which = shapely.get_parts(pieces, return_index=True)
    owner = street[which]
    start = shapely.line_locate_point(streets[owner], shapely.get_point(parts, 0))
    end = shapely.line_locate_point(streets[owner], shapely.get_point(parts, -1))
    spans = (
        pd.DataFrame({"owner": owner, "lo": np.fmin(start, end), "hi": np.fmax(start, end)})
        .dropna()
        .sort_values(["owner", "lo"], kind="stable")
    )
    # union of the intervals per street: each adds what lies beyond the furthest end before it
    reached = spans.groupby("owner")["hi"].cummax().groupby(spans["owner"]).shift(1)
    added = np.clip(
        spans["hi"].to_numpy() - np.fmax(spans["lo"].to_numpy(), reached.to_numpy()), 0, None
    )
    covered += np.bincount(spans["owner"].to_numpy(), weights=added, minlength=len(streets))
    return np.minimum(covered, shapely.length(streets))


def street_lit(
    streets: np.ndarray,
    lines: np.ndarray,
    reach_m: float = LIT_REACH_M,
    min_share: float = LIT_MIN_SHARE,
) -> np.ndarray:
    """Which streets are lit: at least `min_share` of their length within `reach_m` of a line
    (a zero-length segment is lit when it touches the reach)."""
    streets = np.asarray(streets, dtype=object)
    length = shapely.length(streets)
    covered = lit_length(streets, lines, reach_m)
    near = np.zeros(len(streets), dtype=bool)
    if len(streets) and len(lines):
        hit, _ = shapely.STRtree(shapely.get_parts(np.asarray(lines, dtype=object))).query(
            streets, predicate="dwithin", distance=reach_m
        )
        near[hit] = True
    return np.where(length > 0, covered >= min_share * length - 1e-6, near)


def derive_street_lighting(conn: psycopg.Connection) -> dict[str, Any]:
    """Set streets.lit from the lighting network; report what was derived and changed."""
    started = time.perf_counter()
    streets = conn.execute(query("mobility/street_geometries")).fetchall()
    lines = conn.execute(query("mobility/lighting_lines")).fetchall()
    report: dict[str, Any] = {
        "segments": len(streets),
        "lighting_lines": len(lines),
        "reach_m": LIT_REACH_M,
        "min_share": LIT_MIN_SHARE,
    }
    if not streets or not lines:
        report.update(
            source="streets.lit as loaded (no lighting line in the twin)",
            changed=0,
            seconds=round(time.perf_counter() - started, 3),
        )
        return report
    ids = np.array([r[0] for r in streets], dtype=np.int64)
    before = np.array([r[1] for r in streets], dtype=object)
    lit = street_lit(
        shapely.from_wkb([r[2] for r in streets]), shapely.from_wkb([r[0] for r in lines])
    )
    changed = np.array([b is None or bool(b) != bool(v) for b, v in zip(before, lit)], dtype=bool)
    if changed.any():
        conn.execute(
            query("mobility/set_street_lit"),
            {"ids": ids[changed].tolist(), "lit": lit[changed].tolist()},
        )
    report.update(
        source="lighting network",
        lit_segments=int(lit.sum()),
        changed=int(changed.sum()),
        seconds=round(time.perf_counter() - started, 3),
    )
    LOG.info("street lighting derived", extra={"fields": report})
    return report

"""The demo's year of past changes: the twelve months before the load, by month, so the change
feed, the monthly summaries, the KPI trends and the viewer's time slider have a year to show.
Every event is synthetic (synthetic: true, and the layer's provenance says so), placed on the
demo's own streets, buildings and parks, at the programme's pace (../shared/almaty-facts.md):

- lighting: >500 unlit streets lit in 2022-2025 (S2: 511 streets, 6,000+ light points), so
  STREETS_LIT_PER_YEAR = 511 / 4 a year, spread over the districts by their lit streets; one
  event per district and month ("12 streets lit in Turksib");
- buildings: 1,506.3 thousand m2 commissioned in 2022, +10% a year (S2 l.634): each month's
  share of that year's figure, as built events of the demo's recent buildings (year_built
  since 2020) until the month's floor area is reached;
- parks: three openings a year, as in 2022 (Kokmaisa embankment 16 ha, Kemel square 10 ha,
  Zheltoksan park 31 ha), of the demo's existing parks of that size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import psycopg

from twin.changes.events import district_names, event_row
from twin.sqlfiles import query
from twin.store import Provenance, record_provenance

STREETS_LIT_PER_YEAR = 511 / 4
FLOOR_AREA_2022_M2 = 1_506_300.0
FLOOR_AREA_GROWTH = 0.10
PARKS_PER_YEAR = 3
MONTHS = 12


def months_before(now: dt.datetime, count: int = MONTHS) -> list[tuple[dt.datetime, dt.datetime]]:
    """The `count` whole months before `now`'s month, oldest first: (start, end)."""
    first = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    spans = []
    end = first
    for _ in range(count):
        start = (end - dt.timedelta(days=1)).replace(day=1)
        spans.append((start, end))
        end = start
    return spans[::-1]


def _moment(rng: np.random.Generator, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    seconds = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=int(rng.integers(0, seconds)))


def _event(
    key: str,
    at: dt.datetime,
    layer: str,
    feature_id: int | None,
    district: str | None,
    kind: str,
    subject: str,
    count: int,
    quantity: float | None,
    unit: str | None,
    point: str,
    names: dict[str, dict[str, str]],
    name: str | None = None,
) -> dict[str, Any]:
    return event_row(
        at,
        layer,
        feature_id,
        district,
        kind,
        subject,
        count,
        point,
        names,
        key=key,
        name=name,
        quantity=quantity,
        unit=unit,
        synthetic=True,
    )


def change_year(
    conn: psycopg.Connection, seed: int, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The synthetic events of the year before `now` (see the module's docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    rng = np.random.default_rng(seed + 2026)
    names = district_names(conn)
    events: list[dict[str, Any]] = []
    spans = months_before(now)
    streets = conn.execute(query("changes/demo_streets")).fetchall()
    order = rng.permutation(len(streets))
    used = 0
    for start, end in spans:
        month = start.strftime("%Y-%m")
        lit = int(rng.poisson(STREETS_LIT_PER_YEAR / 12))
        picked = [streets[i] for i in order[used : used + lit]]
        used += len(picked)
        by_district: dict[str, list[tuple]] = {}
        for row in picked:
            by_district.setdefault(row[1], []).append(row)
        for district, rows in sorted(by_district.items()):
            metres = round(float(sum(r[2] for r in rows)), 1)
            events.append(
                _event(
                    f"demo:lit:{month}:{district}",
                    _moment(rng, start, end),
                    "utility_lines",
                    None,
                    district,
                    "lit",
                    "street",
                    len(rows),
                    metres,
                    "m",
                    rows[0][3],
                    names,
                )
            )
    buildings = conn.execute(query("changes/demo_buildings"), {"since": 2020}).fetchall()
    order = rng.permutation(len(buildings))
    used = 0
    for start, end in spans:
        month = start.strftime("%Y-%m")
        target = FLOOR_AREA_2022_M2 * (1 + FLOOR_AREA_GROWTH) ** (start.year - 2022) / 12
        area = 0.0
        while area < target and used < len(buildings):
            fid, district, floor_area, point = buildings[order[used]]
            used += 1
            area += float(floor_area)
            events.append(
                _event(
                    f"demo:built:{fid}",
                    _moment(rng, start, end),
                    "buildings",
                    fid,
                    district,
                    "built",
                    "building",
                    1,
                    round(float(floor_area), 1),
                    "m2",
                    point,
                    names,
                )
            )
    parks = conn.execute(query("changes/demo_parks")).fetchall()
    chosen = rng.choice(len(parks), size=min(PARKS_PER_YEAR, len(parks)), replace=False)
    months = sorted(rng.choice(len(spans), size=len(chosen), replace=False))
    for index, month_index in zip(chosen, months):
        fid, name, district, area_ha, point = parks[int(index)]
        start, end = spans[month_index]
        events.append(
            _event(
                f"demo:opened:{fid}",
                _moment(rng, start, end),
                "parks",
                fid,
                district,
                "opened",
                "park",
                1,
                round(float(area_ha), 2),
                "ha",
                point,
                names,
                name=name,
            )
        )
    return events


def load_change_year(conn: psycopg.Connection, city: Any) -> dict[str, int]:
    """Write the demo's year of changes (replacing every change event: a new city) and its
    provenance; returns {"change_events": rows}."""
    with conn.transaction():
        conn.execute(query("changes/lock"))
        conn.execute(query("changes/demo_clear"))
        events = change_year(conn, int(city.seed))
        if events:
            with conn.cursor() as cur:
                cur.executemany(query("changes/insert_event"), events)
        record_provenance(
            conn,
            "change_events",
            Provenance(
                source=f"Almaty Twin demo generator, a year of changes (seed {city.seed}, "
                f"scale {city.scale})",
                licence="CC0-1.0",
                synthetic=True,
                details={
                    "seed": city.seed,
                    "scale": city.scale,
                    "layer": "change_events",
                    "figures": "twin/changes/demo.py: 511 streets lit in 2022-2025; "
                    "1,506.3 thousand m2 commissioned in 2022, +10%/yr; 3 parks a year",
                },
            ),
        )
    return {"change_events": len(events)}

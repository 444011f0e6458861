"""Change events: what was built, rebuilt, lit, opened, closed or removed, per layer, district
and time, derived from the change history of the versioned layers (twin_history, written by
triggers whichever way a row changes).

`refresh_change_events` reads the history changes after the last one it turned into events
(change_event_state.last_change_id) and writes their events into the change_events layer, each
under a key (`history:<change id>:<district>`), so running it again writes nothing. It is cheap
(one pass over what is new) and runs where the events are read (the feeds and the summary),
after every write the server takes (twin.tiles.fastpath) and in `twin analyse`.

What a change becomes:
- a lighting line added (or moved) on utility_lines -> the streets it newly lights, one event
  per district with the number of streets (distinct street names; an unnamed segment counts
  once): a street segment is lit by twin.mobility.lighting's rule (75% of its length within
  15 m of a lighting line), before = the other lighting lines now in the twin (plus the line's
  previous geometry), after = those and the line;
- buildings: built, rebuilt (footprint, levels, height or floor area changed), removed;
- parks: opened (added as existing, or planned -> existing), planned, closed;
- amenities (schools, kindergartens, clinics ...): opened, closed, changed;
- plots: registered, use_changed (land_use), removed; anything else: changed.
A replacing import (TRUNCATE and load in one transaction) is a new version of the data, not a
change in the city: its history rows make no events.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import psycopg
import shapely

from twin.changes.phrases import titles
from twin.mobility.lighting import LIT_REACH_M, street_lit
from twin.sqlfiles import query

LOG = logging.getLogger("twin.changes")
BATCH = 2_000
AMENITY_NOUNS = {"school", "kindergarten", "clinic", "hospital"}
REBUILT_BY = ("geom", "levels", "height_m", "floor_area_m2")
QUANTITY = {"buildings": ("floor_area_m2", "m2"), "parks": ("area_ha", "ha")}


def district_names(conn: psycopg.Connection) -> dict[str, dict[str, str]]:
    """name_en -> {en, ru, kk} of every district."""
    return {
        en: {"en": en, "ru": ru or en, "kk": kk or en}
        for en, ru, kk in conn.execute(query("changes/districts")).fetchall()
    }


def refresh_change_events(conn: psycopg.Connection) -> int:
    """Turn the history written since the last refresh into change events; return how many
    were written (0 when nothing is new)."""
    written = 0
    with conn.transaction():
        conn.execute(query("changes/lock"))
        last, newest = conn.execute(query("changes/state")).fetchone()
        if newest <= last:
            if newest < last:  # the history was emptied: read it from the start next time
                conn.execute(query("changes/set_state"), {"last": newest})
            return 0
        districts = district_names(conn)
        replaced: set[tuple[int, str]] = set()  # (transaction, layer) of replacing imports
        while True:
            rows = conn.execute(
                query("changes/history_since"), {"after": last, "limit": BATCH}
            ).fetchall()
            if not rows:
                break
            events = []
            for row in rows:
                if row[3] == "truncate":
                    replaced.add((row[7], row[1]))
                if (row[7], row[1]) not in replaced:
                    events += derive(conn, row[:7], districts)
            if events:
                with conn.cursor() as cur:
                    cur.executemany(query("changes/insert_event"), events)
            written += len(events)
            last = rows[-1][0]
        conn.execute(query("changes/set_state"), {"last": last})
    if written:
        LOG.info("change events derived", extra={"fields": {"events": written, "up_to": last}})
    return written


def _noun(layer: str, image: dict[str, Any]) -> str:
    if layer == "amenities":
        return image.get("kind") if image.get("kind") in AMENITY_NOUNS else "facility"
    if layer == "utility_lines":
        return "lighting_line" if image.get("network") == "lighting" else "network_line"
    return {"buildings": "building", "parks": "park", "plots": "plot"}.get(layer, "facility")


def classify(layer: str, previous: dict | None, current: dict | None) -> str:
    """The kind of change one history row is (see the module's docstring)."""
    if current is None:
        return "closed" if layer in ("parks", "amenities") else "removed"
    if previous is None:
        if layer == "parks":
            return "opened" if current.get("status") == "existing" else "planned"
        return {
            "buildings": "built",
            "amenities": "opened",
            "plots": "registered",
            "utility_lines": "built",
        }.get(layer, "changed")
    if layer == "buildings" and any(previous.get(k) != current.get(k) for k in REBUILT_BY):
        return "rebuilt"
    if layer == "parks" and previous.get("status") != current.get("status"):
        if current.get("status") == "existing":
            return "opened"
        return "closed" if previous.get("status") == "existing" else "changed"
    if layer == "plots" and previous.get("land_use") != current.get("land_use"):
        return "use_changed"
    if layer == "utility_lines" and previous.get("geom") != current.get("geom"):
        return "rebuilt"
    return "changed"


def derive(
    conn: psycopg.Connection, row: tuple, districts: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """The events of one twin_history row."""
    change_id, layer, feature_id, _operation, changed_at, previous, current = row
    lights = (
        layer == "utility_lines"
        and current is not None
        and current.get("network") == "lighting"
        and (previous is None or previous.get("geom") != current.get("geom"))
    )
    if lights:
        old = previous.get("geom") if previous and previous.get("network") == "lighting" else None
        lit = newly_lit_streets(conn, feature_id, current["geom"], old)
        if lit:
            events = [
                _event(
                    change_id,
                    changed_at,
                    layer,
                    feature_id,
                    district,
                    "lit",
                    "street",
                    count,
                    point,
                    districts,
                )
                for district, (count, point, _) in sorted(lit.items(), key=lambda kv: str(kv[0]))
            ]
            for event in events:
                event.update(quantity=round(lit[event["district"]][2], 1), unit="m")
            return events
    image = current if current is not None else previous
    if image is None:
        return []
    kind = classify(layer, previous, current)
    district = image.get("district")
    if district not in districts:
        found = conn.execute(
            query("changes/district_at"), {"geom": orjson.dumps(image["geom"]).decode()}
        ).fetchone()
        district = found[0] if found else None
    quantity, unit = None, None
    if layer in QUANTITY:
        column, unit = QUANTITY[layer]
        quantity = image.get(column)
        unit = unit if quantity is not None else None
    event = _event(
        change_id,
        changed_at,
        layer,
        feature_id,
        district,
        kind,
        _noun(layer, image),
        1,
        image["geom"],
        districts,
        name=image.get("name"),
    )
    event.update(quantity=quantity, unit=unit)
    return [event]


def _event(
    change_id: int,
    at: datetime,
    layer: str,
    feature_id: int,
    district: str | None,
    kind: str,
    noun: str,
    count: int,
    geom: Any,
    districts: dict[str, dict[str, str]],
    name: str | None = None,
) -> dict[str, Any]:
    return event_row(
        at,
        layer,
        feature_id,
        district,
        kind,
        noun,
        count,
        geom,
        districts,
        name=name,
        change_id=change_id,
        key=f"history:{change_id}:{district or '-'}",
    )


def event_row(
    at: datetime,
    layer: str,
    feature_id: int | None,
    district: str | None,
    kind: str,
    subject: str,
    count: int,
    geom: Any,
    districts: dict[str, dict[str, str]],
    *,
    key: str,
    name: str | None = None,
    quantity: float | None = None,
    unit: str | None = None,
    change_id: int | None = None,
    synthetic: bool = False,
) -> dict[str, Any]:
    """One row of change_events with its titles in en/ru/kk: the one shape the history's
    events and the demo's synthetic year both write."""
    names = titles(kind, subject, count, districts.get(district) if district else None, name)
    return {
        "happened_at": at,
        "layer": layer,
        "feature_id": feature_id,
        "district": district,
        "kind": kind,
        "subject": subject,
        "count": count,
        "quantity": quantity,
        "unit": unit,
        "title_en": names["en"],
        "title_ru": names["ru"],
        "title_kk": names["kk"],
        "synthetic": synthetic,
        "change_id": change_id,
        "event_key": key,
        "geom": geom if isinstance(geom, str) else orjson.dumps(geom).decode(),
    }


def newly_lit_streets(
    conn: psycopg.Connection, feature_id: int, geom: dict[str, Any], old: dict[str, Any] | None
) -> dict[str | None, tuple[int, str, float]]:
    """district -> (streets the lighting line newly lights there, a point on one of them, the
    metres of street newly lit)."""
    line = orjson.dumps(geom).decode()
    near = conn.execute(query("changes/streets_near"), {"geom": line, "reach": LIT_REACH_M})
    streets = near.fetchall()
    if not streets:
        return {}
    others = [
        wkb
        for (wkb,) in conn.execute(
            query("changes/lighting_near"), {"geom": line, "id": feature_id}
        ).fetchall()
    ]
    before_lines = shapely.from_wkb(others) if others else np.array([], dtype=object)
    if old is not None:
        moved_from = conn.execute(
            query("changes/in_metres"), {"geom": orjson.dumps(old).decode()}
        ).fetchone()[0]
        before_lines = np.append(before_lines, shapely.from_wkb(moved_from))
    new_line = shapely.from_wkb(
        conn.execute(query("changes/in_metres"), {"geom": line}).fetchone()[0]
    )
    segments = shapely.from_wkb([r[3] for r in streets])
    before = street_lit(segments, before_lines)
    after = street_lit(segments, np.append(before_lines, new_line))
    lit: dict[str | None, set[str]] = defaultdict(set)
    points: dict[str | None, str] = {}
    metres: dict[str | None, float] = defaultdict(float)
    lengths = shapely.length(segments)
    for (sid, name, district, _wkb, point), was, now, length in zip(
        streets, before, after, lengths
    ):
        if now and not was:
            lit[district].add(name or f"#{sid}")
            points.setdefault(district, point)
            metres[district] += float(length)
    return {d: (len(names), points[d], metres[d]) for d, names in lit.items()}

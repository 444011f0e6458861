"""Two plans side by side, or a plan and today (`base`): GET /plans/{a}/compare/{b}.

Each side is a plan's evaluation (its `indicators`, gains and places) or today's city (the
`base` part of an evaluation, on the same data version). The answer holds both rows of every
area and their differences (b − a) for every number, so a planner reads "what does B add over
A" without subtracting by hand.
"""

from __future__ import annotations

from typing import Any

BASE = "base"
PLACES = ("schools", "kindergartens")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def delta(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    """{key: b − a} for every number both rows hold (None where either lacks one); nested
    mappings (a district table of places) are compared member by member."""
    a, b = a or {}, b or {}
    out: dict[str, Any] = {}
    for key in dict.fromkeys([*a, *b]):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) or isinstance(y, dict):
            out[key] = delta(x if isinstance(x, dict) else None, y if isinstance(y, dict) else None)
        elif _number(x) and _number(y):
            diff = y - x
            out[key] = round(diff, 10) if isinstance(diff, float) else diff
        else:
            out[key] = None
    return out


def side(plan: dict[str, Any] | None, evaluation: dict[str, Any]) -> dict[str, Any]:
    """One side of a comparison: a plan's indicators, or today's (plan None) from the
    `base` part of an evaluation."""
    part = "base" if plan is None else "indicators"
    places = "base" if plan is None else "plan"
    return {
        "about": {"id": BASE, "title": "Today", "base_version": evaluation.get("base_version")}
        if plan is None
        else {
            "id": plan["id"],
            "title": plan["title"],
            "author": plan["author"],
            "version": plan["version"],
            "base_version": evaluation.get("base_version"),
        },
        "areas": evaluation.get(part) or {},
        "gains": None if plan is None else evaluation.get("gains"),
        "places": {name: (evaluation.get(name) or {}).get(places) for name in PLACES},
        # KPI 4 by walk + PT beside the walking-only share (None without a transit feed)
        "walk_pt": (evaluation.get("walk_pt") or {}).get(part if plan is None else "plan"),
        "walk_pt_period": (evaluation.get("walk_pt") or {}).get("period"),
        # residents beyond 10 minutes of a fire station (None when the plan cannot move it)
        "fire": (evaluation.get("fire") or {}).get(part if plan is None else "plan"),
    }


def _areas(a: dict[str, Any], b: dict[str, Any], group: str, label: str) -> list[dict[str, Any]]:
    rows_a, rows_b = a["areas"].get(group) or {}, b["areas"].get(group) or {}
    return [
        {label: name, "a": rows_a.get(name), "b": rows_b.get(name),
         "delta": delta(rows_a.get(name), rows_b.get(name))}
        for name in sorted(set(rows_a) | set(rows_b))
    ]  # fmt: skip


def _walk_pt(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """KPI 4 on foot or by PT of both sides, by area, with b − a; None when a side has none."""
    rows_a, rows_b = a.get("walk_pt"), b.get("walk_pt")
    if not rows_a or not rows_b:
        return None
    sides = [{"areas": rows_a}, {"areas": rows_b}]
    return {
        "period": b.get("walk_pt_period") or a.get("walk_pt_period"),
        "city": {
            "a": rows_a.get("city"),
            "b": rows_b.get("city"),
            "delta": delta(rows_a.get("city"), rows_b.get("city")),
        },
        "districts": _areas(*sides, "districts", "district"),
        "polycentres": _areas(*sides, "polycentres", "polycentre"),
    }


def _fire(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """The fire-station reach of both sides, by area, with b − a; None when a side has none."""
    rows_a, rows_b = a.get("fire"), b.get("fire")
    if not rows_a or not rows_b:
        return None
    sides = [{"areas": rows_a}, {"areas": rows_b}]
    return {
        "city": {
            "a": rows_a.get("city"),
            "b": rows_b.get("city"),
            "delta": delta(rows_a.get("city"), rows_b.get("city")),
        },
        "districts": _areas(*sides, "districts", "district"),
    }


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The comparison document of two sides (`side`)."""
    city_a, city_b = a["areas"].get("city"), b["areas"].get("city")
    return {
        "a": a["about"],
        "b": b["about"],
        "city": {"a": city_a, "b": city_b, "delta": delta(city_a, city_b)},
        "districts": _areas(a, b, "districts", "district"),
        "polycentres": _areas(a, b, "polycentres", "polycentre"),
        "gains": {"a": a["gains"], "b": b["gains"]},
        "walk_pt": _walk_pt(a, b),
        "fire": _fire(a, b),
        **{
            name: {
                "a": a["places"][name],
                "b": b["places"][name],
                "delta": delta(a["places"][name], b["places"][name]),
            }
            for name in PLACES
        },
    }

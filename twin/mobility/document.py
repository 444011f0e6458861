"""The mobility and safety document as the twin serves it (`GET /indicators/mobility-safety`,
the "mobility_safety" member of `GET /indicators`, the last line of `twin analyse`): the one
`twin analyse` published (twin/mobility/publish.py) while its inputs are current, else computed
afresh (twin/mobility/indicators.py) and cached per process until a layer changes."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from twin.analysis.city import current_city
from twin.analysis.network import data_versions
from twin.errors import TwinError
from twin.mobility.indicators import compute, input_layers
from twin.mobility.publish import PUBLISHED, published_document

_cache: dict[tuple, dict[str, Any]] = {}
_lock = threading.Lock()


def mobility_safety_document(conn: psycopg.Connection) -> dict[str, Any]:
    """The indicators as `twin analyse` published them while their inputs are current;
    computed afresh (cached per process) when a layer changed since."""
    layers = input_layers()
    versions = data_versions(conn, layers + PUBLISHED[:1])
    version = versions[:-1]
    with _lock:
        if versions in _cache:  # a new publication is a new key too
            return _cache[versions]
    document = published_document(conn, version)
    if document is None:
        document = compute(conn, current_city(conn))
        document["computed"]["inputs"] = dict(zip(layers, version))
        document["computed"]["published"] = False
    with _lock:
        _cache.clear()
        _cache[versions] = document
    return document


def mobility_safety_member(conn: psycopg.Connection) -> dict[str, Any]:
    """The city's mobility and safety figures for `GET /indicators` ("mobility_safety"), with
    the link to the per-district document; a twin without these layers says why instead."""
    try:
        document = mobility_safety_document(conn)
    except TwinError as exc:
        return {"available": False, "reason": str(exc), "href": "indicators/mobility-safety"}
    return {
        "available": True,
        "city": document["city"],
        "targets": document["targets"],
        "href": "indicators/mobility-safety",
    }


def summary_line(conn: psycopg.Connection) -> str:
    """One line of the city's mobility and safety figures for `twin analyse`."""
    member = mobility_safety_member(conn)
    if not member["available"]:
        return f"mobility and safety: {member['reason']}"
    c, t = member["city"], member["targets"]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    return (
        f"mobility and safety: {c['lane_km_built']} km of bike lanes built "
        f"(+{c['lane_km_planned_2025']} km 2025, +{c['lane_km_planned_2030']} km 2030), "
        f"{pct(c['share_lit'])} of street length lit (target {t['lit_share_2025'] * 100:g}%), "
        f"{c['camera_density_km2']} cameras/km2 (targets {t['camera_density_km2_2025']:g}, "
        f"{t['camera_density_km2_2030']:g}; "
        f"{pct(c['camera_integrated_share'])} integrated), "
        f"{pct(c['share_beyond_police_15'])} of residents "
        f">{t['police_walk_minutes']} min from a police post "
        f"({pct(c['share_beyond_police_15_night'])} at night), "
        f"{pct(c['share_beyond_gathering_10'])} >{t['gathering_walk_minutes']} min from a "
        f"gathering point; GET /indicators/mobility-safety"
    )

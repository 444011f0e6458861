"""What the scooter operators' feeds and the scooters look like now: the documents of
GET /scooters/feeds, GET /scooters/now and `twin scooters status`."""

from __future__ import annotations

from typing import Any

import psycopg

from twin.errors import InvalidParameter
from twin.sqlfiles import query


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def feeds_document(conn: psycopg.Connection, limit: int = 50) -> dict[str, Any]:
    """Each operator with its latest poll and its outcomes by reason over the last 24 hours,
    and the latest polls (newest first) with the problems each refusal listed."""
    operators = [
        {
            "name": name,
            "url": url,
            "enabled": enabled,
            "next_poll_at": _iso(next_poll),
            "failures_in_a_row": failures,
            "last_stored_at": _iso(last_ok),
            "latest": None
            if polled is None
            else {
                "polled_at": _iso(polled),
                "outcome": outcome,
                "reason": reason,
                "problems": (details or {}).get("problems", []),
                "vehicles": vehicles,
            },
            "outcomes_24h": counts,
        }
        for (
            name,
            url,
            enabled,
            next_poll,
            failures,
            last_ok,
            polled,
            outcome,
            reason,
            details,
            vehicles,
            counts,
        ) in conn.execute(query("scooters/operators")).fetchall()
    ]
    rows = conn.execute(
        query("scooters/recent_polls"), {"operator": None, "limit": limit}
    ).fetchall()
    polls = [
        {
            "operator": operator,
            "polled_at": _iso(polled),
            "outcome": outcome,
            "reason": reason,
            "problems": (details or {}).get("problems", []),
            "problem_count": (details or {}).get("count", 0),
            "vehicles": vehicles,
            "stations": stations,
            "duration_ms": round(duration, 1) if duration is not None else None,
        }
        for operator, polled, outcome, reason, details, vehicles, stations, duration in rows
    ]
    return {"operators": operators, "polls": polls}


def disorder_now(conn: psycopg.Connection) -> dict[str, Any]:
    """The dashboard's figure (the `live` block of /indicators): the share of the scooters
    standing now (each operator's latest poll) that were left outside parking."""
    standing, outside, latest, operators = conn.execute(query("scooters/disorder_now")).fetchone()
    return {
        "value": round(outside / standing, 4) if standing else None,
        "unit": "share",
        "standing": standing,
        "outside_parking": outside,
        "operators": operators,
        "rule": "farther than 25 m from every scooter parking spot",
        "time": _iso(latest),
    }


def now_document(conn: psycopg.Connection) -> dict[str, Any]:
    """Scooters now: the city's figure, by district and in each of the 15 key sections."""
    return {
        "now": disorder_now(conn),
        "districts": [
            {"district": d or None, "standing": n, "outside_parking": o}
            for d, n, o in conn.execute(query("scooters/disorder_now_districts")).fetchall()
        ],
        "key_sections": [
            {"id": i, "name": name, "district": d, "standing": n, "outside_parking": o}
            for i, name, d, n, o in conn.execute(query("scooters/key_sections_now")).fetchall()
        ],
    }


def add_operator(conn: psycopg.Connection, name: str, url: str) -> None:
    """Poll operator `name` at `url` (its gbfs.json) from now on; a known name gets the URL."""
    if not url.startswith(("http://", "https://")):
        raise InvalidParameter(f"{url!r}: give the operator's gbfs.json as an http(s) URL")
    conn.execute(query("scooters/add_operator"), {"name": name, "url": url})

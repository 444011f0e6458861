"""Scooter operations end to end: the twin polls the three demo operators' GBFS feeds over real
HTTP and keeps the positions; a day of polls makes the hourly parking-disorder and key-section
layers the time slider shows; and the server's own poller keeps the server answering while an
operator's feed is down, counting each failed poll with its reason."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

import psycopg
import pytest

from conftest import run_twin
from twin.scooters.demo import store_demo_day
from twin.scooters.poller import poll
from twin.scooters.simulator import OPERATORS as DEMO_OPERATORS
from twin.scooters.simulator import spots, vehicles
from twin.scooters.status import add_operator
from twin.server_process import free_port

OPERATORS = ("jet", "yandex-go", "whoosh")


def test_polling_the_demo_operators_stores_their_positions(
    demo_city: str, server: Any, db: psycopg.Connection
) -> None:
    """A poll of each operator's gbfs.json (served by the twin's demo simulator) stores every
    standing scooter once, placed at its parking spot, zone and district; /scooters/now and
    /scooters/feeds say the same."""
    stored = {}
    for key in OPERATORS:
        outcome = poll(db, key, f"{server.url}/demo/operators/{key}/gbfs.json")
        assert outcome.outcome == "stored", outcome.as_json()
        assert outcome.duration_ms < 2000
        stored[key] = outcome
    latest = dict(db.execute("SELECT operator, count(*) FROM scooter_latest GROUP BY 1").fetchall())
    assert latest == {key: o.vehicles for key, o in stored.items()}
    for key, outcome in stored.items():
        (count,) = db.execute(
            "SELECT count(*) FROM scooter_positions WHERE operator = %s AND polled_at = %s",
            (key, outcome.polled_at),
        ).fetchone()
        assert count == outcome.vehicles
    total, parked, in_district = db.execute(
        "SELECT count(*), count(parking_id), count(district) FROM scooter_latest"
    ).fetchone()
    share_outside = 1 - parked / total
    truth = [  # the scooters the simulator left 40-250 m from their spot
        vehicles(spots(db), DEMO_OPERATORS[key], outcome.polled_at)["outside"]
        for key, outcome in stored.items()
    ]
    expected = sum(t.sum() for t in truth) / sum(len(t) for t in truth)
    assert abs(share_outside - expected) < 0.03  # the simulator's truth, seen through the twin
    assert in_district > 0.99 * total
    document = server.get("/scooters/now").json()
    now = document["now"]
    assert (
        now["standing"]
        + db.execute("SELECT count(*) FILTER (WHERE is_reserved) FROM scooter_latest").fetchone()[0]
        == total
    )
    assert len(document["key_sections"]) == 15 and now["operators"] == 3
    assert abs(now["value"] - share_outside) < 0.01
    feeds = server.get("/scooters/feeds").json()
    mine = [p for p in feeds["polls"] if p["operator"] in OPERATORS]
    assert {p["outcome"] for p in mine} == {"stored"}


def test_a_day_of_polls_makes_the_hourly_layers(
    demo_city: str, server: Any, db: psycopg.Connection
) -> None:
    """Polls at 06:30 and 20:30 in Almaty (01:30 and 15:30 UTC) fill those hours of
    parking_disorder (eight districts) and key_section_occupancy (15 sections), readable by
    `datetime` like any temporal collection; the evening leaves more scooters outside parking
    than the morning, as the simulated fleet does."""
    day = date(2026, 3, 2)
    (before,) = db.execute(  # a database reused across sessions may hold them already
        "SELECT count(*) FROM scooter_polls WHERE outcome = 'stored' AND polled_at::date = %s",
        (day,),
    ).fetchone()
    counts = store_demo_day(db, day, hours=[1, 15])
    assert counts["polls"] == 6 - before
    share = {}
    for hour in (1, 15):
        window = f"{day}T{hour:02d}:00:00Z/{day}T{hour:02d}:59:59Z"
        answer = server.get(
            "/collections/parking_disorder/items", params={"datetime": window, "limit": 100}
        )
        assert answer.status_code == 200, answer.text
        features = answer.json()["features"]
        assert len(features) == 8
        standing = sum(f["properties"]["vehicles"] for f in features)
        outside = sum(f["properties"]["outside_parking"] for f in features)
        share[hour] = outside / standing
        sections = server.get(
            "/collections/key_section_occupancy/items", params={"datetime": window, "limit": 100}
        ).json()["features"]
        assert len(sections) == 15 and sum(s["properties"]["vehicles"] for s in sections) > 0
    assert share[15] > share[1] + 0.1
    again = store_demo_day(db, day, hours=[1])  # stored already: kept, not doubled
    assert again["polls"] == 0


def _poll_of(server: Any, operator: str, outcome: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.get("/healthz").status_code == 200  # the server keeps answering
        for op in server.get("/scooters/feeds").json()["operators"]:
            if op["name"] == operator and (op["latest"] or {}).get("outcome") == outcome:
                return op
        time.sleep(0.5)
    pytest.fail(f"the poller recorded no {outcome} poll of {operator} in {timeout_s} s")


def test_the_server_polls_on_while_an_operator_is_down(
    demo_city: str, server: Any, db: psycopg.Connection
) -> None:
    """Two operators are added (`twin scooters operators add`), one whose server is gone: the
    server's poller stores the live one, records the dead one as unreachable (with the error)
    and backs off from it, and the server answers all along."""
    dead = f"http://127.0.0.1:{free_port()}/gbfs.json"
    run_twin("scooters", "operators", "add", "gone", dead)
    add_operator(db, "live", f"{server.url}/demo/operators/jet/gbfs.json")  # as the CLI does
    try:
        gone = _poll_of(server, "gone", "unreachable")
        assert "ConnectError" in gone["latest"]["problems"][0]
        assert gone["failures_in_a_row"] >= 1
        polled = datetime.fromisoformat(gone["latest"]["polled_at"])
        next_poll = datetime.fromisoformat(gone["next_poll_at"])
        assert (next_poll - polled).total_seconds() >= 4.5  # backed off (5 s, then 10 s, ...)
        live = _poll_of(server, "live", "stored")
        assert live["latest"]["vehicles"] > 1000 and live["failures_in_a_row"] == 0
        status = run_twin("scooters", "status").stdout
        assert "gone: unreachable (unreachable)" in status and "live: stored" in status
    finally:
        db.execute("DELETE FROM scooter_operators WHERE name IN ('gone', 'live')")

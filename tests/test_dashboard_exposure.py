"""The dashboard's exposure and safety figures: the buildings in mudflow zones, of them
protected, by district (#22), and the scooter injury reports by place beside the crash
hotspots (#21), each against a count made directly in SQL; then the dashboard in Kazakh
showing them to a planner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

TRIP_PREFIX = "dashboard-injury-"
# three reports a safety officer adds by hand in the city's worst crash cell
BY_HAND = (("serious", "Jet"), ("fatal", "Whoosh"), ("slight", "Jet"))


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def year_of_reports(db: psycopg.Connection) -> dict[str, Any]:
    """The injury figures of the demo's year counted directly, without the twin's query."""
    year = db.execute(
        "SELECT extract(year FROM max(occurred_at) AT TIME ZONE 'UTC')::int FROM scooter_injuries"
    ).fetchone()[0]
    reports, serious, fatal = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE severity IN ('serious', 'fatal')),"
        " count(*) FILTER (WHERE severity = 'fatal') FROM scooter_injuries"
        " WHERE extract(year FROM occurred_at AT TIME ZONE 'UTC') = %s",
        (year,),
    ).fetchone()
    in_hotspots = db.execute(
        "SELECT count(*) FROM scooter_injuries i JOIN crash_hotspots h ON h.h3 = i.h3"
        " AND h.year = (SELECT max(year) FROM crash_hotspots WHERE year <= %(y)s)"
        " WHERE extract(year FROM i.occurred_at AT TIME ZONE 'UTC') = %(y)s",
        {"y": year},
    ).fetchone()[0]
    return {
        "year": year,
        "reports": reports,
        "serious": serious,
        "fatal": fatal,
        "in_crash_hotspots": in_hotspots,
    }


@pytest.fixture()
def worst_cell(city_server, db: psycopg.Connection) -> Iterator[dict[str, Any]]:
    """The worst crash cell of the latest hotspot year with three injury reports added in the
    demo's year (one serious, one fatal): taken away again after the story."""
    year = year_of_reports(db)["year"]
    assert year is not None, "the demo writes scooter injury reports with its day of trips"
    hotspot_year, h3, street, lon, lat = db.execute(
        "SELECT year, h3, street, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))"
        " FROM crash_hotspots WHERE year = (SELECT max(year) FROM crash_hotspots"
        " WHERE year <= %s) ORDER BY rank LIMIT 1",
        (year,),
    ).fetchone()
    before = city_server.get("/indicators").json()["scooter_injuries"]
    for i, (severity, operator) in enumerate(BY_HAND):
        db.execute(
            "INSERT INTO scooter_injuries (geom, occurred_at, severity, operator, trip_id, h3)"
            " VALUES (ST_SetSRID(ST_MakePoint(%s, %s), 4326),"
            " make_timestamptz(%s, 3, 1, 8 + %s, 0, 0, 'UTC'), %s, %s, %s, %s)",
            (lon, lat, year, i, severity, operator, f"{TRIP_PREFIX}{i}", h3),
        )
    try:
        yield {"h3": h3, "street": street, "hotspot_year": hotspot_year, "before": before}
    finally:
        db.execute("DELETE FROM scooter_injuries WHERE trip_id LIKE %s", (f"{TRIP_PREFIX}%",))


def test_the_districts_count_the_buildings_in_mudflow_zones_as_building_hazards_lists_them(
    city_server, db: psycopg.Connection
) -> None:
    """A planner reads each district's buildings in mudflow zones and of them protected by a
    dam in /indicators: they are building_hazards' own rows counted by district, and the city's
    figure is their sum."""
    hazards = city_server.get("/indicators").json()["hazards"]
    by_hand = {
        district: (exposed, protected)
        for district, exposed, protected in db.execute(
            "SELECT district, count(*), count(*) FILTER (WHERE protected) FROM building_hazards"
            " WHERE mudflow_basin IS NOT NULL GROUP BY district"
        ).fetchall()
    }
    served = {
        d["district"]: (d["mudflow_buildings"], d["mudflow_buildings_protected"])
        for d in hazards["districts"]
    }
    assert {k: v for k, v in served.items() if v != (0, 0)} == by_hand
    assert 0 < sum(p for _, p in by_hand.values()) < sum(e for e, _ in by_hand.values())
    city = hazards["city"]
    assert (city["mudflow_buildings"], city["mudflow_buildings_protected"]) == tuple(
        map(sum, zip(*by_hand.values(), strict=True))
    )
    avalanche = db.execute(
        "SELECT count(*) FROM building_hazards WHERE avalanche_basin IS NOT NULL"
    ).fetchone()[0]
    assert sum(d["avalanche_buildings"] for d in hazards["districts"]) == avalanche > 0


def test_injury_reports_in_the_worst_crash_cell_lead_the_dashboards_list(
    city_server, db: psycopg.Connection, worst_cell: dict[str, Any]
) -> None:
    """Three reports added by hand in the worst crash cell: /indicators counts the year's
    reports, the serious share and the reports in hotspot cells as SQL counts them, three more
    than before, and that cell leads the list of hotspot cells."""
    member = city_server.get("/indicators").json()["scooter_injuries"]
    direct = year_of_reports(db)
    assert {k: member[k] for k in direct} == direct
    before = worst_cell["before"]
    assert member["reports"] - before["reports"] == 3
    assert (member["serious"] - before["serious"], member["fatal"] - before["fatal"]) == (2, 1)
    assert member["in_crash_hotspots"] - before["in_crash_hotspots"] == 3
    assert member["serious_share"] == round(direct["serious"] / direct["reports"], 4)
    assert member["hotspot_year"] == worst_cell["hotspot_year"]
    top = member["top_hotspot_cells"][0]
    in_cell = db.execute(
        "SELECT count(*) FROM scooter_injuries WHERE h3 = %s"
        " AND extract(year FROM occurred_at AT TIME ZONE 'UTC') = %s",
        (worst_cell["h3"], direct["year"]),
    ).fetchone()[0]
    assert (top["h3"], top["hotspot_rank"], top["reports"]) == (worst_cell["h3"], 1, in_cell)


def test_the_dashboard_in_kazakh_shows_the_exposed_buildings_and_the_injury_reports(
    page, city_server, worst_cell: dict[str, Any]
) -> None:
    """A planner reads the dashboard in Kazakh: the buildings in mudflow zones beside the
    residents, of them protected; the year's injury reports, their serious share and the worst
    crash cell first in the list of hotspot cells, all as /indicators says."""
    from chromium import ARTIFACTS

    document = city_server.get("/indicators").json()
    hazards, injuries = document["hazards"]["city"], document["scooter_injuries"]
    page.call("goto", url=f"{page.page_url}#lang=kk")
    page.wait("document.body.dataset.ready === '1'", timeout=240)
    page.call("click", selector="button[data-mode='indicators']")
    page.wait("document.querySelector('#injury-kpis')", timeout=60)
    cards = page.eval(
        "return Object.fromEntries([...document.querySelectorAll('#dashboard-body [data-kpi]')]"
        ".map((k) => [k.dataset.kpi, k.innerText]))"
    )
    buildings = cards["mudflow_buildings"]
    assert digits(buildings.split("\n")[1]) == str(hazards["mudflow_buildings"])
    assert "ғимарат" in buildings and str(hazards["mudflow_buildings_protected"]) in buildings
    assert digits(cards["injury_reports"].split("\n")[1]) == str(injuries["reports"])
    assert str(injuries["year"]) in cards["injury_reports"]
    assert digits(cards["injury_hotspots"].split("\n")[1]) == str(injuries["in_crash_hotspots"])
    first = page.eval(
        "return document.querySelector('[data-list=\"injury-hotspots\"] li').dataset.h3"
    )
    assert first == worst_cell["h3"]
    # the injury section is part of the mobility and safety section, after its tables
    assert page.eval("return !!document.querySelector('#mobility-dashboard #scooter-injuries')")
    page.eval("document.getElementById('hazards').scrollIntoView(); return true")
    page.call("screenshot", path=str(ARTIFACTS / "dashboard-kk-hazards.png"))
    page.eval("document.getElementById('scooter-injuries').scrollIntoView(); return true")
    page.call("screenshot", path=str(ARTIFACTS / "dashboard-kk-injuries.png"))

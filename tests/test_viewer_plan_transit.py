"""A planner draws public transport in the viewer's Plans panel and reads KPI 4 — all six
categories within 15 minutes on foot or by public transport — beside the walking-only share
(issue #18; the plan's trips: twin/transit/plan_trips.py).

In Debian's Chromium on the small demo served by the viewer stories' one server: the planner
draws a line across Turksib with the "Bus route" tool, makes it a metro every 3 minutes in its
form, adds a stop on it with the "Stop on a route" tool, saves, and reads the KPI 4 table (city
and districts, today → plan) and the comparison with today. The screenshot lands in
test-artifacts/viewer/plans-transit.png.
"""

from __future__ import annotations

import httpx
import pytest
import shapely
from shapely.geometry import shape

from chromium import ARTIFACTS
from conftest import Server
from test_viewer_plans import click_at, edit_ids, fly, open_viewer, set_param, wait_evaluated
from twin.viewer import HeadlessChromium

pytestmark = pytest.mark.timeout(900)

IDLE = "window.twin.map.loaded() && !window.twin.map.isMoving() && window.twin.map.areTilesLoaded()"


def a_line_across_turksib(srv: Server) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two points well inside Turksib about 3 km apart: the ends of the drawn line."""
    page = httpx.get(f"{srv.url}/collections/districts/items", params={"f": "json"}).json()
    (turksib,) = [f for f in page["features"] if f["properties"]["name_en"] == "Turksib"]
    inner = shape(turksib["geometry"]).buffer(-0.004)
    start = inner.representative_point()
    ring = shapely.get_coordinates(inner.boundary.segmentize(0.002))
    ends = [
        (float(x), float(y))
        for x, y in ring
        if 0.025 < shapely.Point(x, y).distance(start) < 0.04
        and inner.contains(shapely.LineString([start, (x, y)]))
    ]
    assert ends, "no point of Turksib 2-3 km from its centre in a straight line"
    return (start.x, start.y), ends[0]


def params(browser: HeadlessChromium, edit: str) -> dict[str, str]:
    """The values an edit's form shows, by parameter."""
    return browser.eval(
        f'return Object.fromEntries([...document.querySelectorAll(\'[data-form="{edit}"] '
        "[data-param]')].map(i => [i.dataset.param, i.value]))"
    )


def kpi_cells(browser: HeadlessChromium, table: str, area: str) -> dict[str, dict]:
    return browser.eval(
        f"return Object.fromEntries([...document.querySelectorAll('[data-{table}] "
        f'tr[data-area="{area}"] td[data-kpi]\')].map(td => [td.dataset.kpi, '
        "{...td.dataset, text: td.innerText}]))"
    )


def test_a_planner_draws_a_line_and_a_stop_and_reads_kpi_4_by_walk_and_pt(
    page: HeadlessChromium, city_server: Server, planner: tuple[str, str]
) -> None:
    browser = page
    _author, key = planner
    start, end = a_line_across_turksib(city_server)

    open_viewer(browser, f"{city_server.url}/viewer/#mode=plans")
    browser.call("type", selector="#plan-key", text=key)
    browser.call("click", selector="[data-action='key']")
    browser.wait("document.querySelector('[data-action=\"new\"]')", timeout=30)
    browser.call("click", selector="[data-action='new']")
    browser.call("type", selector="#plan-create input[name=title]", text="Turksib metro")
    browser.call("click", selector="#plan-create button[type=submit]")
    browser.wait("document.querySelector('[data-plan-id]')", timeout=30)
    plan_id = browser.eval("return document.querySelector('[data-plan-id]').dataset.planId")

    # The line: two clicks and Finish; its form says bus by default, with the bus's headways.
    fly(browser, (start[0] + end[0]) / 2, (start[1] + end[1]) / 2, zoom=13)
    browser.call("click", selector="button[data-tool='transit.route.add']")
    click_at(browser, *start)
    click_at(browser, *end)
    browser.call("click", selector="#plan-finish")
    (route,) = edit_ids(browser)
    shown = params(browser, route)
    assert (shown["mode"], shown["headway_peak_min"], shown["headway_offpeak_min"]) == (
        "bus",
        "10",
        "15",
    )
    assert shown["speed_kmh"] == "", "empty: the mode's default, shown as the placeholder"
    # a metro: the headways follow the mode's defaults (4 / 8), then the peak is made 3
    set_param(browser, route, "mode", "metro")
    assert params(browser, route)["headway_offpeak_min"] == "8"
    set_param(browser, route, "headway_peak_min", 3)

    # A stop on the new line, 30% along it: the click finds the plan's own route.
    browser.wait(IDLE, timeout=60)
    browser.call("click", selector="button[data-tool='transit.stop.add']")
    at = (start[0] + 0.3 * (end[0] - start[0]), start[1] + 0.3 * (end[1] - start[1]))
    click_at(browser, *at)
    ids = edit_ids(browser)
    assert len(ids) == 2, browser.eval("return document.body.innerText.slice(0, 2000)")
    drawn = browser.eval("return await window.twin.map.getSource('plan-edits').getData()")
    kinds = [(f["geometry"]["type"], f["properties"]["edit"]) for f in drawn["features"]]
    assert ("LineString", "transit.route.add") in kinds and ("Point", "transit.stop.add") in kinds
    # the line's stops drawn along it: ends kept, about every 1,200 m (the metro's spacing)
    assert kinds.count(("Point", "transit.route.add")) >= 3

    browser.call("click", selector="[data-action='save']")
    try:
        wait_evaluated(browser, plan_id)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\nserver log: {''.join(city_server.log)[-3000:]}") from None
    plan = httpx.get(f"{city_server.url}/plans/{plan_id}", timeout=60).json()
    edits = plan["edits"]["features"]
    assert edits[0]["properties"]["mode"] == "metro"
    assert edits[0]["properties"]["headway_peak_min"] == 3
    assert edits[1]["properties"]["route"] == f"plan-{route}"
    walk_pt = plan["evaluation"]["walk_pt"]
    assert walk_pt["stops"][0]["route_id"] == f"plan-{route}"

    # The KPI 4 table: on foot and on foot or by PT, today → plan, for the city and districts.
    browser.wait("document.querySelector('[data-table=\"walk-pt\"]')", timeout=30)
    turksib = kpi_cells(browser, 'table="walk-pt"', "Turksib")
    today = walk_pt["base"]["districts"]["Turksib"]
    after = walk_pt["plan"]["districts"]["Turksib"]
    assert float(turksib["share_all_six_walk_pt"]["plan"]) == after["share_all_six_walk_pt"]
    assert float(turksib["share_all_six_walk_pt"]["base"]) == today["share_all_six_walk_pt"]
    assert float(turksib["share_all_six_walk_pt"]["delta"]) >= 0
    assert float(turksib["share_all_six"]["delta"]) == 0, "on foot nothing changed"
    percent = f"{after['share_all_six_walk_pt'] * 100:.1f}%"
    assert percent in turksib["share_all_six_walk_pt"]["text"], turksib
    assert kpi_cells(browser, 'table="walk-pt"', "city")["share_all_six_walk_pt"]["plan"]
    rows = browser.eval("return document.querySelectorAll('[data-table=\"walk-pt\"] tr').length")
    assert rows == 1 + 1 + len(walk_pt["plan"]["districts"])  # head, city, districts

    # Compared with today: the same figures with their change.
    browser.eval(
        "const s = document.querySelector('#plan-against'); s.value = 'base';"
        "s.dispatchEvent(new Event('change', {bubbles: true})); return true"
    )
    browser.wait("document.querySelector('[data-compare=\"walk-pt\"]')", timeout=60)
    compared = kpi_cells(browser, 'compare="walk-pt"', "Turksib")
    assert float(compared["share_all_six_walk_pt"]["delta"]) == pytest.approx(
        after["share_all_six_walk_pt"] - today["share_all_six_walk_pt"], abs=1e-9
    )
    browser.wait(IDLE, timeout=60)
    browser.eval(
        "document.querySelector('[data-walk-pt]').scrollIntoView({block: 'center'}); return true"
    )
    browser.call("screenshot", path=str(ARTIFACTS / "plans-transit.png"))

"""The viewer's Plans panel as a planner meets it, in Debian's Chromium on the small demo city
served by the real twin (stored plans: twin/plans, the API of /plans).

A planner with a key makes "North polycentre 2030" on the map — two schools, a housing area and
a pedestrian corridor — saves it, and reads the indicator table with the residents who gain and
lose, the places against the children and the changed cells; duplicates it; switches to another
mode and back (the plan is still open); opens the share link in a fresh page; compares it with
today and with its copy on a swipe with a legend; downloads the PDF. A reader without a key is
told how to get one; an edit the server refuses is shown next to its form.

Screenshots land in test-artifacts/viewer/ so a person can see what the browser saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import shapely
from shapely.geometry import shape

from chromium import ARTIFACTS  # `browser`, the fixture, is tests/chromium.py's too
from conftest import Server
from twin.viewer import HeadlessChromium

pytestmark = pytest.mark.timeout(1500)

READY = "document.body.dataset.ready === '1'"
IDLE = "window.twin.map.loaded() && !window.twin.map.isMoving() && window.twin.map.areTilesLoaded()"
EVALUATED = 'document.querySelector(\'[data-card="results"] [data-status="evaluated"]\')'


@pytest.fixture(scope="module")
def plans_server(analysed_city: str) -> Iterator[Server]:
    """The twin over the analysed small demo, re-evaluating a plan 0.2 s after a change: a
    server of its own, not the viewer stories' one (tests/viewer_fixtures.py), whose plans
    wait the 2 s a user gets. The planner is tests/planners.py's."""
    srv = Server(extra_env={"TWIN_PLANS_EVALUATE_DELAY_S": "0.2"})
    yield srv
    srv.stop()


def console_errors(browser: HeadlessChromium, expected: tuple[str, ...] = ()) -> list[dict]:
    """Errors, policy refusals and dialogs; tiles aborted after a camera move are on purpose,
    and a refusal the story asked for (`expected` in the message) is no defect."""
    return [
        m
        for m in browser.call("console")["messages"]
        if (
            m["type"] in ("error", "csp", "dialog")
            or (m["type"] == "requestfailed" and "ERR_ABORTED" not in m["text"])
        )
        and not any(e in m["text"] or e in m.get("location", "") for e in expected)
    ]


def open_viewer(browser: HeadlessChromium, url: str) -> None:
    browser.call("goto", url=url)
    browser.wait(READY, timeout=240)
    browser.wait(IDLE, timeout=120)


def fly(browser: HeadlessChromium, lon: float, lat: float, zoom: float) -> None:
    browser.eval(
        f"return window.twin.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}, "
        "pitch: 0, bearing: 0}), true"
    )
    browser.wait(IDLE, timeout=120)


def click_at(browser: HeadlessChromium, lon: float, lat: float) -> None:
    point = browser.eval(f"return window.twin.map.project([{lon}, {lat}])")
    browser.call("clickMap", x=point["x"], y=point["y"])


def set_param(browser: HeadlessChromium, edit: str, param: str, value: object) -> None:
    """Type a value into an open edit's form, as the planner does (the form saves on change)."""
    browser.eval(
        f'const input = document.querySelector(\'[data-form="{edit}"] [data-param="{param}"]\');'
        f"input.value = {json.dumps(str(value))};"
        "input.dispatchEvent(new Event('change', {bubbles: true})); return true"
    )


def text_of(browser: HeadlessChromium, selector: str) -> str:
    return browser.eval(f"return document.querySelector({json.dumps(selector)})?.innerText ?? ''")


def edit_ids(browser: HeadlessChromium) -> list[str]:
    return browser.eval(
        "return [...document.querySelectorAll('[data-edit-id]')].map(e => e.dataset.editId)"
    )


def north_polycentre(srv: Server) -> shapely.Geometry:
    page = httpx.get(f"{srv.url}/collections/polycentres/items", params={"f": "json"}).json()
    (north,) = [f for f in page["features"] if f["properties"]["name"] == "North"]
    return shape(north["geometry"])


def street_points(srv: Server, area: shapely.Geometry) -> list[tuple[float, float]]:
    """Street vertices inside the area: where a corridor joins the walking network."""
    minx, miny, maxx, maxy = area.bounds
    page = httpx.get(
        f"{srv.url}/collections/streets/items",
        params={"bbox": f"{minx},{miny},{maxx},{maxy}", "limit": "2000", "f": "json"},
        timeout=60,
    ).json()
    return [
        (lon, lat)
        for feature in page["features"]
        for lon, lat, *_ in shapely.get_coordinates(shape(feature["geometry"])).tolist()
        if area.contains(shapely.Point(lon, lat))
    ]


def wait_evaluated(browser: HeadlessChromium, plan_id: str) -> None:
    browser.wait(
        f"document.querySelector('[data-plan-id=\"{plan_id}\"]') && ({EVALUATED} || "
        "document.querySelector('[data-status=\"failed\"]'))",
        timeout=600,
    )
    assert browser.eval(f"return !!{EVALUATED}"), text_of(browser, '[data-card="results"]')


def test_a_planner_makes_shares_compares_and_reports_a_plan(
    browser: HeadlessChromium, plans_server: Server, planner: tuple[str, str]
) -> None:
    author, key = planner
    viewer = f"{plans_server.url}/viewer/"
    north = north_polycentre(plans_server)
    centre = north.representative_point()
    inner = north.buffer(-0.0005)
    points = street_points(plans_server, inner)
    start = min(points, key=lambda p: (p[0] - centre.x) ** 2 + (p[1] - centre.y) ** 2)
    end = next(
        p
        for p in points
        if 0.004 < ((p[0] - start[0]) ** 2 + (p[1] - start[1]) ** 2) ** 0.5 < 0.007
    )

    # Without a key the panel reads plans and says how to get one.
    open_viewer(browser, f"{viewer}#mode=plans")
    browser.wait("document.querySelector('[data-panel=\"plans\"] [data-key-help]')", timeout=30)
    assert "twin users add" in text_of(browser, "[data-key-help]")
    assert not browser.eval("return document.querySelector('[data-action=\"new\"]')")

    # With the key, the planner creates the plan.
    browser.call("type", selector="#plan-key", text=key)
    browser.call("click", selector="[data-action='key']")
    browser.wait("document.querySelector('[data-action=\"new\"]')", timeout=30)
    browser.call("click", selector="[data-action='new']")
    browser.call("type", selector="#plan-create input[name=title]", text="North polycentre 2030")
    browser.call(
        "type", selector="#plan-create textarea[name=description]", text="Two schools, housing"
    )
    browser.call("click", selector="#plan-create button[type=submit]")
    browser.wait("document.querySelector('[data-plan-id]')", timeout=30)
    plan_id = browser.eval("return document.querySelector('[data-plan-id]').dataset.planId")
    stored = httpx.get(f"{plans_server.url}/plans/{plan_id}").json()
    assert stored["title"] == "North polycentre 2030" and stored["author"] == author

    # Two schools, a housing area and a corridor, drawn on the map.
    fly(browser, centre.x, centre.y, zoom=14.6)
    browser.call("click", selector="button[data-tool='school']")
    click_at(browser, centre.x - 0.002, centre.y + 0.001)
    click_at(browser, centre.x + 0.002, centre.y - 0.001)
    assert len(edit_ids(browser)) == 2
    first_school = edit_ids(browser)[1]
    set_param(browser, first_school, "capacity", 1200)
    browser.call("click", selector="button[data-tool='housing.add']")
    corners = [(-0.003, -0.002), (0.003, -0.002), (0.003, 0.002), (-0.003, 0.002)]
    for dx, dy in corners:
        click_at(browser, centre.x + dx, centre.y + dy)
    browser.call("click", selector="#plan-finish")
    housing = edit_ids(browser)[-1]
    set_param(browser, housing, "residents", 40000)
    browser.call("click", selector="button[data-tool='street.link']")
    click_at(browser, *start)
    click_at(browser, *end)
    browser.call("click", selector="#plan-finish")
    browser.call("click", selector="button[data-tool='street.link']")  # tool off
    assert len(edit_ids(browser)) == 4
    labels = text_of(browser, "#plan-edits")
    assert "40000" in labels.replace(",", "") and "New link" in labels, labels
    page_edits = browser.eval("return await window.twin.map.getSource('plan-edits').getData()")
    kinds = sorted(f["properties"]["edit"] for f in page_edits["features"])
    assert kinds == ["amenity.add", "amenity.add", "housing.add", "street.link"]

    # Saved (PATCH with If-Match): the server evaluates it, the panel shows the results.
    browser.call("click", selector="[data-action='save']")
    wait_evaluated(browser, plan_id)
    plan = httpx.get(f"{plans_server.url}/plans/{plan_id}").json()
    assert plan["version"] >= 2 and len(plan["edits"]["features"]) == 4
    evaluation = plan["evaluation"]
    base, after = evaluation["base"]["city"], evaluation["indicators"]["city"]
    assert after["residents"] - base["residents"] == 40000
    rows = browser.eval(
        'return Object.fromEntries([...document.querySelectorAll(\'[data-indicators="city"] '
        "tr[data-metric]')].map(r => [r.dataset.metric, {gain: r.dataset.gain, "
        "lose: r.dataset.lose, text: r.innerText}]))"
    )
    gains = evaluation["gains"]["city"]
    # the residents who gain and lose each category sit beside its share, as the API says
    for cat in ("education", "healthcare", "commerce", "culture_sport", "parks", "transit"):
        assert rows[f"share_{cat}"]["gain"] == str(gains[cat]["gain"]), (cat, rows)
        assert rows[f"share_{cat}"]["lose"] == str(gains[cat]["lose"]), (cat, rows)
    assert rows["share_all_six"]["gain"] == str(gains["all_six"]["gain"])
    assert gains["education"]["gain"] > 0
    assert f"{gains['education']['gain']:,}" in rows["share_education"]["text"], rows
    assert f"{after['residents']:,}" in rows["residents"]["text"]
    places = text_of(browser, '[data-table="places"]')
    assert f"{evaluation['schools']['plan']['places']:,}" in places, places
    closed = browser.eval(
        "return Number(document.querySelector('[data-places=\"schools\"]').dataset.closed)"
    )
    assert closed == evaluation["schools"]["deficit_closed"]
    assert "North" in text_of(browser, '[data-table="polycentres"]')
    # 40,000 new homes: how many live beyond 10 minutes' drive of a fire station, today → plan
    fire = evaluation["fire"]
    beyond = [fire[side]["city"]["fire_beyond_10_residents"] for side in ("base", "plan")]
    fire_text = text_of(browser, '[data-table="fire"] tr[data-area="city"]')
    assert all(f"{n:,}" in fire_text for n in beyond), (beyond, fire_text)
    assert browser.eval("return !!document.querySelector(\"button[data-tool='fire_station.add']\")")
    count = int(browser.eval("return document.querySelector('[data-cells]').dataset.cells"))
    assert count == plan["changed_cells"]["count"] > 0
    browser.wait(IDLE, timeout=120)
    browser.wait(
        "window.twin.map.queryRenderedFeatures({layers: ['plan-cells-fill']}).length > 0",
        timeout=60,
    )
    browser.eval("document.querySelector('[data-card=\"results\"]').scrollIntoView(); return true")
    browser.call("screenshot", path=str(ARTIFACTS / "plans-panel.png"))

    # An edit the server refuses is shown next to its form, naming it; nothing is stored.
    browser.call("click", selector=f"[data-select='{housing}']")
    set_param(browser, housing, "residents", -5)
    browser.call("click", selector="[data-action='save']")
    browser.wait("document.querySelector('[data-error=\"edit\"]')", timeout=60)
    refused = browser.eval(
        "const e = document.querySelector('[data-error=\"edit\"]'); "
        "return {edit: e.closest('[data-edit-id]').dataset.editId, text: e.innerText}"
    )
    assert refused["edit"] == housing and "400" in refused["text"], refused
    assert housing in refused["text"], refused
    browser.call("screenshot", path=str(ARTIFACTS / "plans-refused-edit.png"))
    assert httpx.get(f"{plans_server.url}/plans/{plan_id}").json()["version"] == plan["version"]
    browser.call("click", selector="[data-action='revert']")
    assert not browser.eval("return document.querySelector('[data-dirty]')")

    # Duplicated: the copy opens, with the same edits.
    browser.call("click", selector="[data-action='copy']")
    browser.wait(
        f"document.querySelector('[data-plan-id]') && "
        f"document.querySelector('[data-plan-id]').dataset.planId !== '{plan_id}'",
        timeout=60,
    )
    copy_id = browser.eval("return document.querySelector('[data-plan-id]').dataset.planId")
    assert len(edit_ids(browser)) == 4
    wait_evaluated(browser, copy_id)

    # Another mode and back: the plan is still open.
    browser.call("click", selector="button[data-mode='fifteen']")
    browser.wait("document.querySelector('[data-panel=\"fifteen\"]')", timeout=30)
    browser.wait("location.hash.includes('mode=fifteen')", timeout=5)
    browser.call("click", selector="button[data-mode='plans']")
    browser.wait(f"document.querySelector('[data-plan-id=\"{copy_id}\"]')", timeout=30)
    assert len(edit_ids(browser)) == 4

    # Compared with its original (swipe and legend), and with today.
    browser.wait(f"document.querySelector('#plan-against option[value=\"{plan_id}\"]')", timeout=30)
    browser.eval(
        f"const s = document.getElementById('plan-against'); s.value = '{plan_id}';"
        "s.dispatchEvent(new Event('change', {bubbles: true})); return true"
    )
    browser.wait("document.querySelector('[data-compare=\"plans\"]')", timeout=60)
    legend = text_of(browser, '[data-legend="plan-cells"]')
    assert "North polycentre 2030" in legend and "categories within 15 minutes" in legend, legend
    assert browser.eval("return !document.getElementById('swipe').hidden")
    browser.eval(
        "const s = document.getElementById('plan-against'); s.value = 'base';"
        "s.dispatchEvent(new Event('change', {bubbles: true})); return true"
    )
    browser.wait(
        'document.querySelector(\'[data-compare="plans"] tr[data-metric="residents"]\')',
        timeout=60,
    )
    today = text_of(browser, '[data-compare="plans"] tr[data-metric="residents"]')
    assert "+40,000" in today.replace("\u2212", "-"), today
    # The cells are drawn over the analysis layers; left of the swipe line is today.
    browser.eval("return window.twin.setLayerVisible('fifteen_cells', true), true")
    browser.wait(IDLE, timeout=120)
    order = browser.eval("return window.twin.map.getStyle().layers.map(l => l.id)")
    assert order.index("plan-cells-fill") > order.index("fifteen_cells-fill")
    browser.call("drag", selector="#swipe .handle", to=0.5)
    browser.wait(
        "Math.abs(parseFloat(document.getElementById('swipe').style.left) / "
        "document.getElementById('map').clientWidth - 0.5) < 0.03",
        timeout=10,
    )
    sides = browser.eval("""
        const map = window.twin.map;
        const data = await map.getSource('plan-cells').getData();
        const line = parseFloat(document.getElementById('swipe').style.left);
        const width = map.getContainer().clientWidth;
        return data.features.map((c) => {
          const ring = c.geometry.coordinates[0];
          const x = map.project([ring.reduce((a, p) => a + p[0], 0) / ring.length,
                                 ring.reduce((a, p) => a + p[1], 0) / ring.length]).x;
          const id = c.properties.cell_key;
          const left = !!map.getFeatureState({source: 'plan-cells', id}).left;
          return {x, line, width, left, today: c.properties.value_left};
        }).filter((c) => c.x >= 0 && c.x <= c.width);""")
    assert sides, "the changed cells are in view"
    assert all(c["left"] == (c["x"] < c["line"]) for c in sides), sides[:5]
    assert all(c["today"] == 0 for c in sides)  # today changes nothing against itself
    browser.call("screenshot", path=str(ARTIFACTS / "plans-compare.png"))

    # The report link answers a PDF in the viewer's language.
    href = browser.eval("return document.querySelector('[data-report=\"pdf\"]').href")
    assert "f=pdf" in href and "lang=en" in href
    pdf = httpx.get(href, timeout=180)
    assert pdf.status_code == 200, pdf.text[:300]
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.content.startswith(b"%PDF")

    # Shared: the link opens the plan in a fresh page.
    browser.call("click", selector="[data-action='share']")
    share = browser.eval("return document.getElementById('plan-share').value")
    assert share.endswith(f"#plan={copy_id}")
    errors = console_errors(browser, expected=("status of 400", f"/plans/{plan_id}"))
    assert not errors, json.dumps(errors, indent=1)[:3000]
    browser.call("reset")  # a fresh context: no key in this tab
    open_viewer(browser, share)
    browser.wait(f"document.querySelector('[data-plan-id=\"{copy_id}\"]')", timeout=60)
    wait_evaluated(browser, copy_id)
    assert "North polycentre 2030" in text_of(browser, f'[data-plan-id="{copy_id}"]')
    assert browser.eval("return document.querySelector('[data-readonly]') !== null")
    assert not browser.eval("return document.querySelector('[data-action=\"save\"]')")
    assert not console_errors(browser)


def test_a_plan_is_renamed_and_deleted_after_asking(
    browser: HeadlessChromium, plans_server: Server, planner: tuple[str, str]
) -> None:
    _, key = planner
    made = httpx.post(
        f"{plans_server.url}/plans",
        json={"title": "Scratch", "edits": {"type": "FeatureCollection", "features": []}},
        headers={"X-API-Key": key},
    )
    assert made.status_code == 201, made.text
    plan_id = made.json()["id"]
    open_viewer(browser, f"{plans_server.url}/viewer/#plan={plan_id}")
    browser.wait(f"document.querySelector('[data-plan-id=\"{plan_id}\"]')", timeout=60)
    # the key is kept in the tab (sessionStorage): entered once, the panel can write
    browser.call("type", selector="#plan-key", text=key)
    browser.call("click", selector="[data-action='key']")
    browser.wait("document.querySelector('#plan-details')", timeout=30)
    browser.call(
        "type",
        selector="#plan-details input[name=title]",
        text="Scratch, renamed <img src=x onerror=alert(1)>",
    )
    browser.call("click", selector="#plan-details button[type=submit]")
    browser.wait(
        f"document.querySelector('[data-open=\"{plan_id}\"]')?.textContent.includes('renamed')",
        timeout=30,
    )
    title = httpx.get(f"{plans_server.url}/plans/{plan_id}").json()["title"]
    assert title == "Scratch, renamed <img src=x onerror=alert(1)>"
    # a title is text, never markup: no image element was made of it
    assert not browser.eval("return document.querySelector('#side img')")
    # deleting asks first, in the page (no browser dialog); "no" keeps the plan
    browser.call("click", selector="[data-action='delete']")
    browser.wait("document.querySelector('[data-confirm=\"delete\"]')", timeout=10)
    browser.call("click", selector="[data-action='delete-no']")
    assert httpx.get(f"{plans_server.url}/plans/{plan_id}").status_code == 200
    browser.call("click", selector="[data-action='delete']")
    browser.call("click", selector="[data-action='delete-yes']")
    browser.wait(
        f"!document.querySelector('[data-plan-id]') && "
        f"!document.querySelector('[data-open=\"{plan_id}\"]')",
        timeout=30,
    )
    assert httpx.get(f"{plans_server.url}/plans/{plan_id}").status_code == 404
    browser.wait("!location.hash.includes('plan=')", timeout=5)
    assert not console_errors(browser)

"""A name that is a script, shown by the 3D viewer to every visitor (issue #14, defect 7).

An editor (or an imported file) names a plot and an amenity
`</script><script>alert(1)</script><img src=x onerror=alert(2)>`. Every visitor of /viewer/
who searches for it, picks it or reads its report must see that text as text: no dialog, no
script, no image request, and the page's own policy (`script-src 'self'`, nothing inline, no
eval) must not have had to stop anything. A second story checks that the policy is really
there in the browser: markup slipped into the page runs nothing, and the refusal is reported
(so the first story's "no refusal" can fail).

Screenshots land in test-artifacts/viewer/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from chromium import ARTIFACTS
from conftest import Server
from test_editing import add_user
from twin.viewer import HeadlessChromium

PAYLOAD = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
READY = "document.body.dataset.ready === '1'"
IDLE = "window.twin.map.loaded() && !window.twin.map.isMoving() && window.twin.map.areTilesLoaded()"
# A quiet corner of the demo city: the plot, and the school 80 m east of it.
PLOT_AT = (76.9490, 43.2360)
SCHOOL_AT = (76.9505, 43.2362)


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            found[words[0].lower()] = words[1:]
    return found


@pytest.fixture(scope="module")
def scripted_places(city_server: Server) -> Iterator[dict]:
    """A plot and a school an editor named with the payload, on the viewer stories' server
    (tests/viewer_fixtures.py); deleted after the stories, so other modules' counts hold."""
    key = add_user("editor", "amenities,plots")
    srv = city_server
    created: list[str] = []
    headers = {"X-API-Key": key, "Content-Type": "application/geo+json"}
    try:
        lon, lat = PLOT_AT
        size = 0.0004
        cadastral = f"XSS-{uuid.uuid4().hex[:6]} {PAYLOAD}"
        plot = srv.post(
            "/collections/plots/items",
            headers=headers,
            json={
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [lon, lat],
                            [lon + size, lat],
                            [lon + size, lat + size],
                            [lon, lat + size],
                            [lon, lat],
                        ]
                    ],
                },
                "properties": {
                    "cadastral_number": cadastral,
                    "land_use": "residential",
                    "district": PAYLOAD,
                    "block_code": PAYLOAD,
                },
            },
        )
        assert plot.status_code == 201, plot.text
        created.append(("plots", plot.headers["location"].rsplit("/", 1)[1]))
        school = srv.post(
            "/collections/amenities/items",
            headers=headers,
            json={
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(SCHOOL_AT)},
                "properties": {
                    "name": PAYLOAD,
                    "category": "education",
                    "kind": "school",
                    "address": PAYLOAD,
                    "district": PAYLOAD,
                },
            },
        )
        assert school.status_code == 201, school.text
        created.append(("amenities", school.headers["location"].rsplit("/", 1)[1]))
        yield {"server": srv, "cadastral": cadastral}
    finally:
        for collection, fid in created:
            gone = httpx.delete(
                f"{srv.url}/collections/{collection}/items/{fid}",
                headers={"X-API-Key": key},
                timeout=60,
            )
            assert gone.status_code in (200, 204), gone.text


def messages(browser: HeadlessChromium, *types: str) -> list[dict]:
    return [m for m in browser.call("console")["messages"] if m["type"] in types]


def open_viewer(browser: HeadlessChromium, url: str) -> None:
    browser.call("goto", url=url)
    browser.wait(READY, timeout=240)
    browser.wait(IDLE, timeout=120)


def test_the_viewer_page_allows_only_its_own_scripts(scripted_places: dict) -> None:
    srv = scripted_places["server"]
    for path in ("/viewer/", "/viewer/index.html"):
        response = srv.get(path)
        assert response.status_code == 200
        policy = directives(response.headers["content-security-policy"])
        script = policy["script-src"]
        assert script == ["'self'"], script  # no 'unsafe-inline', no 'unsafe-eval', no host
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
        assert "'self'" in policy["connect-src"] and "'self'" in policy["worker-src"]
        # every script of the page is a file of the viewer: nothing inline to allow
        tags = re.findall(r"<script\b([^>]*)>(.*?)</script>", response.text, re.DOTALL)
        assert tags and all('src="' in attrs and not body.strip() for attrs, body in tags), tags
        assert not re.search(r"\son[a-z]+\s*=", response.text), "an inline event handler"
    # a revalidated page keeps its policy (a 304 without it would replace the cached one)
    page = srv.get("/viewer/")
    again = srv.get("/viewer/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert directives(again.headers["content-security-policy"])["script-src"] == ["'self'"]


def test_a_script_in_a_name_stays_text_in_search_card_and_report(
    browser: HeadlessChromium, scripted_places: dict
) -> None:
    srv = scripted_places["server"]
    lon, lat = PLOT_AT
    open_viewer(
        browser,
        f"{srv.url}/viewer/#map=17.00/{lat + 0.0002:.5f}/{lon + 0.0008:.5f}/0/0"
        "&layers=plots,amenities",
    )

    # Search for the whole name: the plot is found, its number and district are text.
    browser.call("type", selector="#search-input", text=PAYLOAD)
    browser.wait("document.querySelector('#search-results .hit[data-kind=\"plot\"]')", timeout=60)
    hit = browser.eval(
        "const h = document.querySelector("
        "'#search-results .hit[data-kind=\"plot\"]');"
        "return {text: h.textContent, tags: h.querySelectorAll('*').length}"
    )
    assert scripted_places["cadastral"] in hit["text"] and PAYLOAD in hit["text"], hit
    assert hit["tags"] == 1, "only the viewer's own <small>, nothing from the name"
    browser.call("screenshot", path=str(ARTIFACTS / "xss-search.png"))

    # Open it: the card and the full plot report show the name as text.
    browser.call("click", selector="#search-results .hit[data-kind='plot']")
    browser.wait("document.querySelector('[data-card=\"plots\"]')")
    browser.wait(
        "!document.querySelector('[data-report=\"plot\"] .report').classList.contains("
        "'muted') || document.querySelector('[data-report=\"plot\"] .error-text')",
        timeout=90,
    )
    card = browser.eval(
        "const c = document.querySelector('[data-card=\"plots\"]');"
        "return {title: c.querySelector('h2 span').textContent,"
        " text: document.getElementById('side-body').textContent}"
    )
    assert card["title"] == scripted_places["cadastral"], card
    assert not browser.eval("return document.querySelector('[data-report=\"plot\"] .error-text')")
    report = browser.eval(
        "return document.querySelector('[data-report=\"plot\"] .report').textContent"
    )
    assert PAYLOAD in report, report  # the nearest school, named by the payload
    # the title, the district and the block code (the card's attributes) and the report
    assert card["text"].count(PAYLOAD) >= 4, card
    browser.call("screenshot", path=str(ARTIFACTS / "xss-plot-card.png"))

    # Pick the school on the map: its card names it, its address and district are text.
    lon, lat = SCHOOL_AT
    browser.eval(
        f"return window.twin.map.jumpTo({{center: [{lon}, {lat}], zoom: 17.5, pitch: 0, "
        "bearing: 0}), true"
    )
    browser.wait(IDLE, timeout=120)
    point = browser.eval(f"return window.twin.map.project([{lon}, {lat}])")
    browser.call("clickMap", x=point["x"], y=point["y"])
    browser.wait("document.querySelector('[data-card=\"amenities\"]')", timeout=30)
    browser.wait(
        "document.querySelector('[data-card=\"amenities\"] .attributes').textContent"
        ".includes('Address')",
        timeout=30,
    )
    school = browser.eval(
        "const c = document.querySelector('[data-card=\"amenities\"]');"
        "return {title: c.querySelector('h2 span').textContent,"
        " text: c.querySelector('.attributes').textContent}"
    )
    assert school["title"] == PAYLOAD, school
    assert school["text"].count(PAYLOAD) >= 2, school  # address and district
    browser.call("screenshot", path=str(ARTIFACTS / "xss-school-card.png"))

    # An isochrone from the school lists it by name, as text.
    browser.call("click", selector="button[data-mode='isochrone']")
    browser.call("clickMap", x=point["x"], y=point["y"])
    browser.wait(
        "document.querySelector('#iso-amenities') || "
        "document.querySelector('[data-error=\"isochrone\"]')",
        timeout=120,
    )
    listed = browser.eval(
        "return [...document.querySelectorAll('#iso-amenities th')].map(th => th.textContent)"
    )
    assert PAYLOAD in listed, listed
    browser.call("screenshot", path=str(ARTIFACTS / "xss-isochrone.png"))

    # Nothing ran, nothing was refused, nothing the name asked for was fetched or built.
    dom = browser.eval(
        "return {scripts: [...document.scripts].map(s => s.getAttribute('src')),"
        " images: [...document.querySelectorAll('img')]"
        ".map(i => i.getAttribute('src'))}"
    )
    assert dom["scripts"] == ["src/start.js", "src/main.js"], dom
    assert "x" not in dom["images"], dom
    fetched = [
        r["url"]
        for r in browser.call("network")["responses"]
        if r["url"].rstrip("/").endswith("/x")
    ]
    assert not fetched, fetched
    trouble = messages(browser, "dialog", "csp", "error")
    assert not trouble, json.dumps(trouble, indent=1)[:3000]


def test_the_policy_stops_markup_that_slips_into_the_page(
    browser: HeadlessChromium, scripted_places: dict
) -> None:
    """Were a sink ever to miss `esc`, the browser itself refuses: an inline handler, an
    inline script and eval do not run, and each refusal is reported to the test."""
    srv = scripted_places["server"]
    open_viewer(browser, f"{srv.url}/viewer/")
    browser.eval("""
        document.getElementById('side-body').innerHTML =
          '<img id="probe" src="data:," onload="window.slipped = 1" onerror="window.slipped = 1">';
        const script = document.createElement('script');
        script.textContent = 'window.slipped = 2';
        document.body.append(script);
        setTimeout(() => {
          try { eval('window.slipped = 3'); } catch (e) { window.refused = e.name; }
        }, 0);
        return true""")
    browser.wait("window.refused", timeout=10)
    browser.wait("document.getElementById('probe').complete", timeout=10)
    state = browser.eval(
        "return {slipped: window.slipped ?? null, refused: window.refused ?? null}"
    )
    assert state == {"slipped": None, "refused": "EvalError"}, state
    refused = {m["violation"]["directive"] for m in messages(browser, "csp") if "violation" in m}
    assert {"script-src-attr", "script-src-elem", "script-src"} <= refused, refused
    assert not messages(browser, "dialog")

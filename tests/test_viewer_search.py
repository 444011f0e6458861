"""Street search in the akimat's languages: a planner types a street as its sign reads, in
Russian ("проспект", while the signs write "просп. Абая") or in Kazakh with its own letters
("Рысқұлов"), finds the street and reads it in the page's language, its class in the catalog's
word. The street names come from the demo (twin/demo/street_names.py: name_ru, name_kk); the
expected lists from the API. Screenshots land in test-artifacts/viewer/search-*.png.
"""

from __future__ import annotations

# `page` and `city_server` are tests/viewer_fixtures.py's fixtures
from chromium import ARTIFACTS
from conftest import Server
from test_viewer import open_viewer
from twin.demo.figures import figures
from twin.viewer import HeadlessChromium

# The middle of the demo city (lat/lon), where the avenues cross
CENTRE = "43.24/76.93"
HITS = "return [...document.querySelectorAll('#search-results .hit[data-kind=\"street\"]')]"


def street_hits(page: HeadlessChromium, expected: str) -> list[str]:
    """The street hits' lines once the hit expected is listed (the titles before the kind)."""
    page.wait(
        "[...document.querySelectorAll('#search-results .hit[data-kind=\"street\"]')]"
        f".some((h) => h.innerText.includes({expected!r}))",
        timeout=30,
    )
    return page.eval(HITS + ".map((h) => h.innerText)")


def streets_named(server: Server, cql: str) -> list[dict]:
    response = server.get(
        "/collections/streets/items",
        params={"f": "json", "limit": "1000", "filter": cql, "filter-lang": "cql2-text"},
    )
    assert response.status_code == 200, response.text
    return [f["properties"] for f in response.json()["features"]]


def test_a_street_is_found_by_its_russian_or_kazakh_name_and_shown_in_that_language(
    page: HeadlessChromium, city_server: Server
) -> None:
    catalog = city_server.get("/viewer/layers.json").json()
    layers = {layer["name"]: layer for group in catalog["groups"] for layer in group["layers"]}
    streets = layers["streets"]
    classes = next(p for p in streets["properties"] if p["name"] == "highway")["labels"]
    avenues_ru = {p["name_ru"] for p in streets_named(city_server, "name_ru LIKE 'просп. %'")}
    assert len(avenues_ru) >= 4, avenues_ru  # the demo's avenues (almaty.yml `avenues`)

    # In Russian: "проспект" as a person types it finds the avenues, signed "просп."
    # (the flat map of the streets: search needs no terrain, and software WebGL draws it faster)
    open_viewer(page, page.page_url, f"#lang=ru&dim=2d&map=13/{CENTRE}/0/0&layers=streets")
    page.call("type", selector="#search-input", text="проспект")
    lines = street_hits(page, "просп.")
    titles = [line.splitlines()[0] for line in lines]
    assert len(titles) >= 4 and set(titles) <= avenues_ru, titles
    assert all("Улица" in line for line in lines), lines  # the kind, in Russian
    page.call("screenshot", path=str(ARTIFACTS / "search-ru.png"))

    # In Kazakh, with the Kazakh letters Қ and Ұ: Ryskulov avenue, named and classed in Kazakh
    page.call("click", selector="#lang button[data-lang='kk']")
    page.wait("document.documentElement.lang === 'kk'", timeout=30)
    ryskulov = streets_named(city_server, "name_kk = 'Рысқұлов даңғылы'")
    assert ryskulov, "the demo names Ryskulov avenue in Kazakh"
    page.call("type", selector="#search-input", text="рысқұлов")  # lower case: folded by CASEI
    lines = street_hits(page, "Рысқұлов даңғылы")
    assert lines == [f"Рысқұлов даңғылы\nКөше · {classes[ryskulov[0]['highway']]['kk']}"], lines

    # The Russian sign's words find a street the page then names in Kazakh
    page.call("type", selector="#search-input", text="проспект Абая")
    lines = street_hits(page, "Абай даңғылы")
    assert [line.splitlines()[0] for line in lines] == ["Абай даңғылы"], lines
    page.call("click", selector="#search-results .hit[data-kind='street']")
    page.wait("document.getElementById('search-results').hidden", timeout=10)
    # the map went to the avenue, which runs along its latitude (almaty.yml `avenues`)
    abai = next(a for a in figures()["avenues"]["east_west"] if a["name_kk"] == "Абай даңғылы")
    page.wait("!window.twin.map.isMoving()", timeout=30)
    centre = page.eval("return window.twin.map.getCenter().lat")
    assert abs(centre - abai["lat"]) < 0.01, (centre, abai)
    page.call("screenshot", path=str(ARTIFACTS / "search-kk.png"))

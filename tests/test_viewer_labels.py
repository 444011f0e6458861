"""Names on the map, offline: a planner reads district, polycentre, street and place names in the
viewer's language, drawn by MapLibre from glyphs the twin builds and serves itself (no CDN).

The glyph ranges are checked as MapLibre reads them (the protobuf of SDF glyphs, decoded here
by hand), including the Kazakh letters; the labels are checked in the browser through
queryRenderedFeatures on the symbol layers, in kk, ru and en. Screenshots land in
test-artifacts/viewer/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

# `browser` is tests/chromium.py's fixture; `city_server` is tests/viewer_fixtures.py's
from chromium import ARTIFACTS
from conftest import Server
from test_viewer import IDLE, console_errors, fly, open_viewer
from twin.viewer import HeadlessChromium

KAZAKH_LETTERS = "ӘҒҚҢӨҰҮҺІәғқңөұүһі"
FONT = "DejaVu Sans Book"
# fontnik draws each glyph with a 3-pixel border around its bitmap
GLYPH_BORDER = 3

LABELS_JS = (
    "return (async () => { const m = await import('/viewer/src/labels.js'); "
    "return m.renderedLabels(window.twin.map); })()"
)


# -- the protobuf MapLibre reads (glyphs.proto: fontstack { name, range, glyph* }) ------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one protobuf message; fails on anything but varints and bytes."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            yield number, value
        elif wire == 2:
            size, at = _varint(data, at)
            assert at + size <= len(data), "a field runs past the end of the message"
            yield number, data[at : at + size]
            at += size
        else:
            raise AssertionError(f"unexpected wire type {wire} in a glyph protobuf")


def decode_glyphs(data: bytes) -> dict:
    """The fontstack of a glyph range: its name, range and glyphs by code point."""
    stacks = [value for number, value in _fields(data) if number == 1]
    assert len(stacks) == 1, "one fontstack per range"
    stack: dict = {"glyphs": {}}
    for number, value in _fields(stacks[0]):
        if number == 1:
            stack["name"] = value.decode()
        elif number == 2:
            stack["range"] = value.decode()
        elif number == 3:
            glyph = {}
            for field, item in _fields(value):
                glyph[
                    {1: "id", 2: "bitmap", 3: "width", 4: "height", 5: "left", 6: "top"}.get(
                        field, "advance" if field == 7 else field
                    )
                ] = item
            stack["glyphs"][glyph["id"]] = glyph
    return stack


def glyph_range(server: Server, font: str, name: str, **headers: str):
    return server.get(f"/viewer/fonts/{quote(font)}/{name}.pbf", headers=headers)


# -- glyphs, served by the twin ----------------------------------------------------------------


def test_glyph_ranges_for_latin_cyrillic_and_kazakh_are_served(city_server: Server) -> None:
    latin = glyph_range(city_server, FONT, "0-255")
    assert latin.status_code == 200, latin.text
    assert latin.headers["content-type"] == "application/x-protobuf"
    assert "max-age" in latin.headers["cache-control"]
    stack = decode_glyphs(latin.content)
    assert stack["range"] == "0-255" and "DejaVu Sans" in stack["name"]
    assert all(ord(c) in stack["glyphs"] for c in "Almaty 0123456789.")

    cyrillic = glyph_range(city_server, FONT, "1024-1279")
    assert cyrillic.status_code == 200
    stack = decode_glyphs(cyrillic.content)
    assert stack["range"] == "1024-1279"
    missing = [c for c in KAZAKH_LETTERS + "АлматыЖШЩЁ" if ord(c) not in stack["glyphs"]]
    assert not missing, f"no glyphs for {missing}"
    for letter in KAZAKH_LETTERS:
        glyph = stack["glyphs"][ord(letter)]
        # a real signed distance field: one byte per pixel of the glyph and its border
        size = (glyph["width"] + 2 * GLYPH_BORDER) * (glyph["height"] + 2 * GLYPH_BORDER)
        assert glyph["width"] > 0 and len(glyph["bitmap"]) == size, letter
        assert glyph["advance"] > 0

    # the bold font of the district names; a stack is drawn with its first font the twin has
    bold = glyph_range(city_server, "Noto Sans Regular,DejaVu Sans Bold", "1024-1279")
    assert bold.status_code == 200
    assert (
        decode_glyphs(bold.content)["glyphs"][ord("Ә")]["bitmap"]
        != (stack["glyphs"][ord("Ә")]["bitmap"])
    ), "the bold stack draws with the bold font"

    # a second visit costs a 304, and a compressed answer when the browser accepts one
    again = glyph_range(
        city_server, FONT, "1024-1279", **{"If-None-Match": cyrillic.headers["etag"]}
    )
    assert again.status_code == 304
    gzipped = glyph_range(city_server, FONT, "1024-1279", **{"Accept-Encoding": "gzip"})
    assert gzipped.headers.get("content-encoding") == "gzip"
    assert decode_glyphs(gzipped.content)["range"] == "1024-1279"


def test_unknown_fonts_and_ranges_are_plain_404s(city_server: Server) -> None:
    unknown = glyph_range(city_server, "Comic Sans MS", "0-255")
    assert unknown.status_code == 404
    assert "DejaVu Sans Book" in unknown.json()["description"]
    for bad in ("1-256", "0-511", "65536-65791", "abc", "256-255"):
        answer = glyph_range(city_server, FONT, bad)
        assert answer.status_code == 404, bad
        assert "glyph range" in answer.json()["description"]


# -- labels on the map, in the viewer's language -----------------------------------------------


def labels(browser: HeadlessChromium, layer: str) -> list[str]:
    return [item["text"] for item in browser.eval(LABELS_JS) if item["layer"] == layer]


def switch_language(browser: HeadlessChromium, code: str) -> None:
    browser.call("click", selector=f"#lang button[data-lang='{code}']")
    browser.wait(f"document.documentElement.lang === '{code}'")
    browser.wait(IDLE, timeout=120)


@pytest.fixture()
def viewer(browser: HeadlessChromium, city_server: Server) -> Iterator[HeadlessChromium]:
    yield browser
    errors = console_errors(browser)
    assert not errors, f"console errors in the viewer: {json.dumps(errors, indent=1)[:3000]}"


def test_a_planner_reads_the_names_in_kazakh_russian_and_english(
    viewer: HeadlessChromium,
    city_server: Server,
) -> None:
    browser = viewer
    districts = city_server.get(
        "/collections/districts/items", params={"f": "json", "limit": "100"}
    ).json()["features"]
    names = {
        code: {f["properties"][f"name_{code}"] for f in districts} for code in ("en", "ru", "kk")
    }
    polycentre_names_ru = {
        f["properties"]["name_ru"]
        for f in city_server.get(
            "/collections/polycentres/items", params={"f": "json", "limit": "100"}
        ).json()["features"]
    }

    # The city in Kazakh: district names with their own letters, polycentres named in Kazakh.
    open_viewer(browser, f"{city_server.url}/viewer/", "#lang=kk")
    fly(browser, 76.92, 43.25, zoom=11.3)
    shown = labels(browser, "label-districts")
    assert len(shown) >= 3, shown
    assert set(shown) <= names["kk"], f"not the districts' Kazakh names: {shown}"
    assert any(set(name) & set(KAZAKH_LETTERS) for name in shown), shown
    polycentres = labels(browser, "label-polycentres")
    assert polycentres and any(set(name) & set(KAZAKH_LETTERS) for name in polycentres)
    assert "North" not in polycentres and "Historic Centre" not in polycentres
    browser.call("screenshot", path=str(ARTIFACTS / "labels-kk-city.png"))

    # Every glyph came from the twin, none from elsewhere; Kazakh needs the Cyrillic range.
    fonts = [r for r in browser.call("network")["responses"] if "/viewer/fonts/" in r["url"]]
    assert fonts and all(r["url"].startswith(city_server.url) for r in fonts)
    assert all(r["status"] == 200 for r in fonts), fonts
    assert any(r["url"].endswith("/1024-1279.pbf") for r in fonts)

    # Russian, then English: the same places, renamed without reloading the page.
    switch_language(browser, "ru")
    shown = labels(browser, "label-districts")
    assert shown and set(shown) <= names["ru"], shown
    polycentres = labels(browser, "label-polycentres")
    assert polycentres and set(polycentres) <= polycentre_names_ru, polycentres
    browser.call("screenshot", path=str(ARTIFACTS / "labels-ru-city.png"))
    switch_language(browser, "en")
    shown = labels(browser, "label-districts")
    assert shown and set(shown) <= names["en"], shown

    # Close in, street names follow the streets (from the streets' own tiles), placed by
    # MapLibre so no two overlap; hiding the streets hides their names.
    street = city_server.get(
        "/collections/streets/items",
        params={"f": "json", "limit": "1", "filter": "highway='primary' AND name IS NOT NULL"},
    ).json()["features"][0]
    lon, lat = street["geometry"]["coordinates"][len(street["geometry"]["coordinates"]) // 2]
    switch_language(browser, "kk")
    fly(browser, lon, lat, zoom=15.5)
    streets = labels(browser, "label-streets")
    assert streets, "no street names at zoom 15.5"
    # in Kazakh: the demo's streets carry name_kk (Абай даңғылы, 2-ші Гоголь көшесі)
    assert all(name.endswith(("көшесі", "даңғылы", "жолы")) for name in streets), streets
    known = city_server.get(
        "/collections/streets/items",
        params={"f": "json", "limit": "1", "filter": f"name_kk='{streets[0]}'"},
    ).json()["features"]
    assert known, f"{streets[0]!r} is not the Kazakh name of a street of the twin"
    overlap = browser.eval(
        "return window.twin.map.getStyle().layers.filter((l) => l.type === 'symbol')"
        ".some((l) => l.layout?.['text-allow-overlap'] || l.layout?.['text-ignore-placement'])"
    )
    assert not overlap, "labels are placed by MapLibre's collision detection"
    browser.call("screenshot", path=str(ARTIFACTS / "labels-kk-streets.png"))
    browser.call("click", selector="input[data-layer-toggle='streets']")
    browser.wait(IDLE, timeout=120)
    assert labels(browser, "label-streets") == []
    browser.call("click", selector="input[data-layer-toggle='streets']")
    browser.wait(IDLE, timeout=120)
    assert labels(browser, "label-streets")

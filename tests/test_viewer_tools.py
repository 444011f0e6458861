"""Everyday map tools and tidy panels, as a planner uses them in Chromium on the small demo city:
filter plots by attribute (the count is the API's numberMatched for the same CQL2, and the
downloads are the API's CSV and GeoJSON), measure a known distance and area, colour buildings
by use, switch 2D/3D, close a card, and switch modes without the last mode's results lingering.

Screenshots land in test-artifacts/viewer/tools-*.png.
"""

from __future__ import annotations

import csv
import io
import json

from pyproj import Geod

# `browser` is tests/chromium.py's fixture; `city_server` and `page` are tests/viewer_fixtures.py's
from chromium import ARTIFACTS
from conftest import Server
from twin.viewer import HeadlessChromium

READY = "document.body.dataset.ready === '1'"
IDLE = "window.twin.map.loaded() && !window.twin.map.isMoving() && window.twin.map.areTilesLoaded()"
WGS84 = Geod(ellps="WGS84")
# The 2D/3D switch shows which one is on (aria-pressed) once the map has switched.
PRESSED = (
    "document.querySelector('#map-tools [data-dim=\"%s\"]').getAttribute('aria-pressed') === 'true'"
)
NAURYZBAY_VACANT = "land_use = 'vacant' AND area_m2 > 10000 AND district = 'Nauryzbay'"


def open_viewer(browser: HeadlessChromium, hash_: str = "") -> None:
    browser.call("goto", url=browser.page_url + hash_)
    browser.wait(READY, timeout=240)
    browser.wait(IDLE, timeout=120)


def side_text(browser: HeadlessChromium) -> str:
    return browser.eval("return document.getElementById('side-body').innerText")


def test_filter_counts_lists_and_exports_what_the_api_finds(
    page: HeadlessChromium, city_server: Server
) -> None:
    api = city_server.get(
        "/collections/plots/items",
        params={"f": "json", "limit": "1", "filter": NAURYZBAY_VACANT, "filter-lang": "cql2-text"},
    ).json()
    assert api["numberMatched"] > 0, "the demo has vacant plots over 1 ha in Nauryzbay"
    open_viewer(page, "#map=12.50/43.24000/76.90000/0/0")
    page.call("click", selector="#map-tools button[data-mode='filter']")
    page.wait("document.querySelector('[data-panel=\"filter\"]')")
    page.call("click", selector="#filter-example")
    page.wait(
        "document.querySelector('.filter-count')"
        " || document.querySelector('[data-error=\"filter\"]')",
        60,
    )
    assert not page.eval("return document.querySelector('[data-error=\"filter\"]')")
    cql = page.eval("return document.getElementById('filter-cql').innerText")
    assert cql == NAURYZBAY_VACANT, cql
    count = int(page.eval("return document.querySelector('.filter-count').dataset.count"))
    assert count == api["numberMatched"]
    listed = page.eval("return document.querySelectorAll('.filter-hits li').length")
    assert listed == min(count, 50)
    # the matches are outlined on the map
    assert (
        page.eval("return window.twin.map.getLayoutProperty('selection-line', 'visibility')")
        == "visible"
    )
    # the downloads are the API's own CSV and GeoJSON of the same filter, every match in them
    links = page.eval(
        "return Object.fromEntries([...document.querySelectorAll('[data-export]')]"
        ".map(a => [a.dataset.export, a.getAttribute('href')]))"
    )
    rows = list(csv.DictReader(io.StringIO(city_server.get(links["csv"]).text)))
    assert len(rows) == count and all(r["land_use"] == "vacant" for r in rows)
    assert all(float(r["area_m2"]) > 10000 and r["district"] == "Nauryzbay" for r in rows)
    geojson = city_server.get(links["geojson"]).json()
    assert len(geojson["features"]) == count
    page.wait(IDLE, timeout=120)
    page.call("screenshot", path=str(ARTIFACTS / "tools-filter.png"))
    # a hit opens its card, which closes with its button
    page.call("click", selector=".filter-hits button[data-hit='0']")
    page.wait("document.querySelector('#filter-card [data-card=\"plots\"]')", 30)
    page.call("click", selector="#filter-card [data-card-close]")
    page.wait("!document.querySelector('#filter-card [data-card]')", 10)


def test_measuring_a_known_segment_and_area(page: HeadlessChromium) -> None:
    open_viewer(page, "#map=14.50/43.24000/76.91000/0/0")
    page.call("click", selector="#map-tools button[data-dim='2d']")
    page.wait(PRESSED % "2d", 10)  # the switch loads scene.js: wait for it, then the map
    page.wait(IDLE, timeout=120)
    assert page.eval("return window.twin.map.getTerrain()") is None
    assert page.eval("return window.twin.map.getPitch()") == 0
    page.call("click", selector="#map-tools button[data-mode='measure']")
    page.wait("document.querySelector('[data-panel=\"measure\"]')")
    # two points 0.8 km apart along the screen's x axis
    a, b = (76.905, 43.240), (76.915, 43.240)
    for lon, lat in (a, b):
        point = page.eval(f"return window.twin.map.project([{lon}, {lat}])")
        page.call("clickMap", x=point["x"], y=point["y"])
    page.wait("document.querySelector('[data-measure=\"distance\"]').dataset.value !== ''", 10)
    clicked = json.loads(
        page.eval("return document.querySelector('[data-measure]').dataset.points")
    )
    _, _, expected = WGS84.inv(*clicked[0], *clicked[1])
    shown = float(page.eval("return document.querySelector('[data-measure]').dataset.value"))
    assert abs(shown - expected) / expected < 0.01, (shown, expected)
    assert abs(expected - 811) < 20  # the clicks landed where meant
    assert " km" in side_text(page) or " m" in side_text(page)
    page.call("screenshot", path=str(ARTIFACTS / "tools-measure-distance.png"))
    # an area: a square of three clicks plus one, in hectares
    page.call("click", selector="#measure-kind button[data-kind='area']")
    corners = [(76.905, 43.238), (76.910, 43.238), (76.910, 43.242), (76.905, 43.242)]
    for lon, lat in corners:
        point = page.eval(f"return window.twin.map.project([{lon}, {lat}])")
        page.call("clickMap", x=point["x"], y=point["y"])
    page.wait("document.querySelector('[data-measure=\"area\"]').dataset.value !== ''", 10)
    drawn = json.loads(page.eval("return document.querySelector('[data-measure]').dataset.points"))
    assert len(drawn) == 4
    lons, lats = zip(*drawn, strict=True)
    area, _ = WGS84.polygon_area_perimeter(lons, lats)
    shown = float(page.eval("return document.querySelector('[data-measure]').dataset.value"))
    assert abs(shown - abs(area)) / abs(area) < 0.01, (shown, area)
    assert " ha" in side_text(page)
    page.call("screenshot", path=str(ARTIFACTS / "tools-measure-area.png"))
    # back to explore: the measure is gone from the map and the panel
    page.call("click", selector="#map-tools button[data-mode='measure']")
    page.wait("window.twin.state.mode === 'explore'")
    page.wait(IDLE, timeout=60)
    assert (
        page.eval(
            "return window.twin.map.queryRenderedFeatures("
            "{layers: ['measure-line', 'measure-point']}).length"
        )
        == 0
    )
    assert "Measure" not in side_text(page)
    page.call("click", selector="#map-tools button[data-dim='3d']")
    page.wait(PRESSED % "3d", 10)
    page.wait(IDLE, timeout=120)
    assert page.eval("return window.twin.map.getTerrain()") is not None


# Along a row of the canvas (a share of its height from the top): the terrain's height under
# each of five points, how far south of the view's centre they are, and the row's pixels.
VIEW_ROW_JS = """
const m = window.twin.map; const c = m.getCanvas();
const w = c.clientWidth, h = c.clientHeight, y = h * ROW;
const copy = document.createElement('canvas'); copy.width = c.width; copy.height = c.height;
const ctx = copy.getContext('2d'); ctx.drawImage(c, 0, 0); const ratio = c.width / w;
return [0.1, 0.3, 0.5, 0.7, 0.9].map((fx) => {
  const ll = m.unproject([w * fx, y]);
  const d = ctx.getImageData(Math.round(w * fx * ratio), Math.round(y * ratio), 1, 1).data;
  return {elevation: m.queryTerrainElevation(ll), south: m.getCenter().lat - ll.lat,
          pixel: [d[0], d[1], d[2]]};
});
"""


def test_the_default_camera_shows_the_mountains_and_buildings_from_zoom_12(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page)
    camera = page.eval(
        "const m = window.twin.map; return {pitch: m.getPitch(), bearing: m.getBearing(), "
        "zoom: m.getZoom(), lat: m.getCenter().lat}"
    )
    city = city_server.get("/viewer/layers.json").json()
    # from the north of the city looking south (toward the Trans-Ili Alatau), tilted far
    assert camera["pitch"] >= 65 and 170 <= abs(camera["bearing"]) <= 190, camera
    assert camera["zoom"] <= 13 and camera["lat"] > (city["bbox"][1] + city["bbox"][3]) / 2
    # the upper part of the view is the mountains: terrain above 1,500 m, well south of the
    # centre, drawn with the hillshade's relief (many shades, not one flat sky or fog colour)
    rows = {share: page.eval(VIEW_ROW_JS.replace("ROW", str(share))) for share in (0.12, 0.2, 0.3)}
    high = [
        p
        for row in rows.values()
        for p in row
        if p["elevation"] is not None and p["elevation"] > 1500 and p["south"] > 0.05
    ]
    assert len(high) >= 3, rows
    shades = {tuple(p["pixel"]) for row in rows.values() for p in row}
    assert len(shades) >= 8, f"the mountains draw as one flat colour: {shades}"
    # and the city in front can be clicked (MapLibre finds nothing under a point when the
    # camera is tilted past ~71 degrees over terrain)
    picked = page.eval(
        "const m = window.twin.map, c = m.getCanvas();"
        "return [0.3, 0.5, 0.7].map(f => m.queryRenderedFeatures("
        "[c.clientWidth * f, c.clientHeight * 0.75]).length)"
    )
    assert all(n > 0 for n in picked), picked
    first = page.eval("return window.twin.timings")
    assert first["first_paint_on"] == "loaded", first
    page.call("screenshot", path=str(ARTIFACTS / "tools-default-camera.png"))
    page.eval(
        "return window.twin.map.jumpTo("
        "{center: [76.92, 43.25], zoom: 12.3, pitch: 0, bearing: 0}), true"
    )
    page.wait(IDLE, timeout=120)
    assert (
        page.eval(
            "return window.twin.map.queryRenderedFeatures({layers: ['buildings-footprint']}).length"
        )
        > 100
    ), "buildings are drawn at zoom 12"
    # as footprints on screen (extruded from zoom 13): pixels of the buildings' colour, which
    # go with the buildings when they are switched off
    with_buildings = page.eval(FOOTPRINT_PIXELS_JS)
    page.call("click", selector="input[data-layer-toggle='buildings']")
    page.wait(IDLE, timeout=120)
    without = page.eval(FOOTPRINT_PIXELS_JS)
    page.call("click", selector="input[data-layer-toggle='buildings']")
    assert with_buildings > 5000 and without < with_buildings / 10, (with_buildings, without)


# Pixels of the map drawn in the buildings' default colour (compliant, #dcdde1).
FOOTPRINT_PIXELS_JS = """
const c = window.twin.map.getCanvas(), x = document.createElement('canvas');
x.width = c.width; x.height = c.height;
const g = x.getContext('2d'); g.drawImage(c, 0, 0);
const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
for (let i = 0; i < d.length; i += 4) {
  if (Math.abs(d[i] - 220) + Math.abs(d[i + 1] - 221) + Math.abs(d[i + 2] - 225) < 12) n++;
}
return n;"""


def swatches(browser: HeadlessChromium) -> list[str]:
    return browser.eval(
        'return [...document.querySelectorAll(\'.layer[data-layer="buildings"] .legend '
        ".swatch')].map(s => s.dataset.colour)"
    )


def colour_buildings_by(browser: HeadlessChromium, by: str) -> None:
    browser.eval(
        "const s = document.querySelector('select[data-building-colour]');"
        f"s.value = '{by}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    )
    browser.wait(IDLE, timeout=120)


def test_building_and_chart_colours_come_from_the_catalog(
    page: HeadlessChromium, city_server: Server
) -> None:
    """Buildings by use, height or year: the colours of the map and the legend are those of
    layers/buildings.yml (via /viewer/layers.json); the dashboard's bars and minutes ramp use
    the classes of the indicator and 15-minute maps."""
    doc = city_server.get("/viewer/layers.json").json()
    entries = {e["name"]: e for g in doc["groups"] for e in g["layers"]}
    schemes = entries["buildings"]["schemes"]
    assert set(schemes) == {"use", "height_m", "year_built"}, schemes
    open_viewer(page, "#map=12.30/43.25000/76.92000/0/0")
    options = page.eval(
        "return [...document.querySelectorAll('select[data-building-colour] option')]"
        ".map(o => [o.value, o.textContent])"
    )
    assert [v for v, _ in options] == ["seismic_status", "use", "height_m", "year_built"]
    assert dict(options)["height_m"] == "Height"
    colour_buildings_by(page, "use")
    colour = page.eval(
        "return JSON.stringify(window.twin.map.getPaintProperty("
        "'buildings-extrusion', 'fill-extrusion-color'))"
    )
    assert '"use"' in colour
    uses = page.eval(
        "return [...new Set(window.twin.map.queryRenderedFeatures("
        "{layers: ['buildings-footprint']}).map(f => f.properties.use))]"
    )
    # the footprints (below zoom 13) take the same colours as the 3D buildings
    assert colour == page.eval(
        "return JSON.stringify(window.twin.map.getPaintProperty("
        "'buildings-footprint', 'fill-color'))"
    )
    assert "residential" in uses, "the use is in the tiles below zoom 14"
    legend = page.eval(
        "return document.querySelector('.layer[data-layer=\"buildings\"] .legend').innerText"
    )
    assert "residential" in legend and "no data" in legend
    use = schemes["use"]
    assert swatches(page) == [v["color"] for v in use["values"]] + [use["nodata"]]
    for v in use["values"]:
        assert v["color"] in colour
    page.call("screenshot", path=str(ARTIFACTS / "tools-buildings-by-use.png"))
    for by in ("height_m", "year_built"):
        colour_buildings_by(page, by)
        scheme = schemes[by]
        assert swatches(page) == scheme["colors"] + [scheme["nodata"]]
        paint = json.loads(
            page.eval(
                "return JSON.stringify(window.twin.map.getPaintProperty("
                "'buildings-extrusion', 'fill-extrusion-color'))"
            )
        )
        step = paint[2]  # ['case', is-number, ['step', value, c0, e1, c1, ...], nodata]
        assert step[0] == "step" and step[2::2] == scheme["colors"], paint
        assert step[3::2] == scheme["edges"] and paint[3] == scheme["nodata"]
    legend = page.eval(
        "return document.querySelector('.layer[data-layer=\"buildings\"] .legend').innerText"
    )
    assert "2001" in legend and "2 001" not in legend, legend  # years print as years
    page.call("screenshot", path=str(ARTIFACTS / "tools-buildings-by-year.png"))
    # the dashboard's bars: the share classes of the district indicator map
    share = entries["district_indicators"]["classes"]["share_all_six"]
    probes = [share["edges"][0] / 2] + [
        (a + b) / 2 for a, b in zip(share["edges"], share["edges"][1:] + [1.0], strict=True)
    ]
    bars = page.eval(
        "const c = await import('/viewer/src/charts.js');"
        f"return {{bars: {json.dumps(probes)}.map(v => c.shareColour(v)), "
        "none: c.shareColour(null), stops: c.MINUTE_STOPS}"
    )
    assert bars["bars"] == share["colors"], bars
    assert bars["none"] == entries["district_indicators"]["style"]["color"]
    minutes = entries["fifteen_cells"]["style"]["minutes"]
    assert [c for _, c in bars["stops"]] == minutes["colors"] + [minutes["beyond"]]
    assert [v for v, _ in bars["stops"]] == [0, *minutes["edges"]]


def test_the_mode_hint_leaves_the_toolbar_clear_and_2d_survives_a_reload(
    page: HeadlessChromium,
) -> None:
    open_viewer(page, "#map=14.50/43.24000/76.91000/0/0")
    for mode in ("filter", "measure"):
        page.call("click", selector=f"#map-tools button[data-mode='{mode}']")
        page.wait(f"window.twin.state.mode === '{mode}'")
        page.wait("!document.getElementById('mode-hint').hidden")
        overlaps = page.eval(
            "const r = document.getElementById('mode-hint').getBoundingClientRect();"
            "return [...document.querySelectorAll('#map-tools button')].filter(b => {"
            "const q = b.getBoundingClientRect(); return r.left < q.right && q.left < r.right"
            " && r.top < q.bottom && q.top < r.bottom; }).map(b => b.textContent)"
        )
        assert overlaps == [], f"the {mode} hint covers {overlaps}"
        page.call("screenshot", path=str(ARTIFACTS / f"tools-hint-{mode}.png"))
    page.call("click", selector="#map-tools button[data-mode='measure']")
    page.wait("window.twin.state.mode === 'explore'")
    # the flat map is in the URL and comes back flat after a reload; 3D takes it out again
    page.call("click", selector="#map-tools button[data-dim='2d']")
    page.wait(PRESSED % "2d", 10)
    page.wait("location.hash.includes('dim=2d')", 5)
    url = page.eval("return location.href")
    page.call("goto", url="about:blank")
    page.call("goto", url=url)
    page.wait(READY, timeout=240)
    page.wait(IDLE, timeout=120)
    flat = page.eval(
        "const m = window.twin.map; return {terrain: m.getTerrain(), pitch: m.getPitch(), "
        "pressed: document.querySelector('#map-tools [data-dim=\"2d\"]')"
        ".getAttribute('aria-pressed'), height: m.getPaintProperty('buildings-extrusion', "
        "'fill-extrusion-height')}"
    )
    assert flat == {"terrain": None, "pitch": 0, "pressed": "true", "height": 0}, flat
    page.call("screenshot", path=str(ARTIFACTS / "tools-2d-reloaded.png"))
    page.call("click", selector="#map-tools button[data-dim='3d']")
    page.wait(PRESSED % "3d", 10)
    page.wait("!location.hash.includes('dim=')", 5)
    page.wait(IDLE, timeout=120)
    assert page.eval("return window.twin.map.getTerrain()") is not None


def test_cards_close_and_modes_leave_nothing_behind(
    page: HeadlessChromium, city_server: Server
) -> None:
    plot = city_server.get(
        "/collections/plots/items", params={"f": "json", "limit": "1", "land_use": "residential"}
    ).json()["features"][0]
    open_viewer(page, f"#layers=plots&plot={plot['id']}")
    page.wait("document.querySelector('[data-report=\"plot\"] .report:not(.muted)')", 60)
    text = side_text(page)
    # one value per figure, no raw keys
    for raw in ("snap", "park 300", "_m", "score"):
        assert raw not in text, (raw, text)
    assert text.count(plot["properties"]["cadastral_number"]) == 1
    assert "Park within 300 m" in text and " m" in text
    page.call("screenshot", path=str(ARTIFACTS / "tools-plot-card.png"))
    page.call("click", selector="[data-card='plots'] [data-card-close]")
    page.wait("!document.querySelector('[data-card=\"plots\"]')", 10)
    page.wait("!location.hash.includes('plot=')", 5)
    assert (
        page.eval("return window.twin.map.getLayoutProperty('selection-fill', 'visibility')")
        == "none"
    )
    # the 15-minute mode's cell card shows each figure once: walkability as published
    page.call("click", selector="button[data-mode='fifteen']")
    page.wait("document.querySelector('[data-panel=\"fifteen\"]')")
    page.eval(
        "return window.twin.map.jumpTo("
        "{center: [76.92, 43.25], zoom: 14.5, pitch: 0, bearing: 0}), true"
    )
    page.wait(IDLE, timeout=120)
    size = page.eval(
        "const c = window.twin.map.getCanvas(); return [c.clientWidth, c.clientHeight]"
    )
    page.call("clickMap", x=size[0] / 2 + 7, y=size[1] / 2 - 5)
    page.wait("document.querySelector('[data-card=\"cell\"] .report:not(.muted)')", 60)
    h3 = page.eval("return document.querySelector('[data-card=\"cell\"] h2 span').innerText")
    cell = city_server.get(
        "/collections/fifteen_cells/items", params={"f": "json", "h3": h3, "limit": "1"}
    ).json()["features"][0]["properties"]
    card = page.eval("return document.querySelector('[data-card=\"cell\"]').innerText")
    assert card.count("Walkability") == 1, card
    assert f"{cell['walkability']:.1f}" in card, (cell["walkability"], card)
    page.call("screenshot", path=str(ARTIFACTS / "tools-cell-card.png"))
    # another mode: the 15-minute panel and the cell's highlight are gone
    page.call("click", selector="button[data-mode='explore']")
    page.wait("window.twin.state.mode === 'explore'")
    assert not page.eval(
        'return document.querySelector(\'[data-panel="fifteen"], [data-card="cell"]\')'
    )
    assert (
        page.eval("return window.twin.map.getLayoutProperty('selection-fill', 'visibility')")
        == "none"
    )
    page.call("screenshot", path=str(ARTIFACTS / "tools-mode-switched.png"))

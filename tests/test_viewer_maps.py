"""Maps that tell the truth (#17): a planner reads every map from its legend, at any zoom.

The small demo city in Debian's Chromium: the 15-minute minutes map is coloured at city and
district zoom, the seismic microzones draw each intensity in its own colour (the legend's
swatches and the map's pixels against the catalog's palette), legends say what a value means
(never "true"), district indicators are a choropleth with a selector, an isochrone stands out
and says which category it lacks, amenity dots thin out at city zoom, and a banner says the data
are the synthetic demo. Screenshots land in test-artifacts/viewer/maps-*.png.
"""

from __future__ import annotations

import json

import pytest
from shapely.geometry import shape

# `browser` is tests/chromium.py's fixture; `city_server` and `page` are tests/viewer_fixtures.py's
from chromium import ARTIFACTS
from conftest import Server
from test_viewer import IDLE, centroid, open_viewer
from twin.viewer import HeadlessChromium

CITY = [76.9, 43.25]  # the demo city's middle (lon, lat)

# The colour of the map canvas at a screen point, as [r, g, b] (the canvas keeps its buffer).
PIXEL_JS = """
const canvas = window.twin.map.getCanvas();
const copy = document.createElement('canvas');
copy.width = canvas.width; copy.height = canvas.height;
const ctx = copy.getContext('2d');
ctx.drawImage(canvas, 0, 0);
const ratio = canvas.width / canvas.clientWidth;
const d = ctx.getImageData(Math.round(%f * ratio), Math.round(%f * ratio), 1, 1).data;
return [d[0], d[1], d[2]];
"""


def pixel(browser: HeadlessChromium, x: float, y: float) -> list[int]:
    return browser.eval(PIXEL_JS % (x, y))


def rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def css_rgb(text: str) -> tuple[int, int, int]:
    parts = text[text.index("(") + 1 : text.index(")")].split(",")
    return int(parts[0]), int(parts[1]), int(parts[2])


def distance(a: tuple[float, ...] | list[int], b: tuple[float, ...] | list[int]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def view(browser: HeadlessChromium, url: str, layers: str, zoom: float, extra: str = "") -> None:
    lon, lat = CITY
    open_viewer(browser, url, f"#map={zoom}/{lat}/{lon}/0/0&layers={layers}{extra}")


def jump(browser: HeadlessChromium, lon: float, lat: float, zoom: float) -> None:
    browser.eval(
        f"return window.twin.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}, pitch: 0, "
        "bearing: 0}), true"
    )
    browser.wait(IDLE, timeout=120)


def catalog_entry(server: Server, name: str) -> dict:
    doc = server.get("/viewer/layers.json").json()
    return next(e for g in doc["groups"] for e in g["layers"] if e["name"] == name)


def test_the_minutes_map_is_coloured_at_city_and_district_zoom(page: HeadlessChromium) -> None:
    """Minutes to education at z11 and z12: cells carry minutes, are drawn in the classes of
    the legend, and grey (no data, beyond 30 min) is named there."""
    view(page, page.page_url, "fifteen_cells", 11, "&mode=fifteen&cat=education")
    page.wait("document.querySelector('[data-legend=\"minutes\"]')")
    legend = page.eval(
        "return [...document.querySelectorAll('[data-legend=\"minutes\"] .swatch')]"
        ".map(s => [s.dataset.colour, s.nextElementSibling.textContent])"
    )
    colours = [c for c, _ in legend]
    assert len(set(colours)) == len(colours) == 6, legend
    assert "30" in legend[-1][1] and "no data" in legend[-1][1], legend
    assert "0–5" in legend[0][1]
    for zoom in (11, 12):
        jump(page, *CITY, zoom)
        minutes = page.eval(
            "return window.twin.map.queryRenderedFeatures({layers: ['fifteen_cells-fill']})"
            ".map(f => f.properties.min_education).filter(m => typeof m === 'number')"
        )
        assert len(minutes) > 50, f"z{zoom}: {len(minutes)} cells with minutes"
        assert min(minutes) < 5 and max(minutes) > 10
        # pixels of the map in the legend's classes (cells are drawn translucent: compare hues
        # by nearest class among the legend's colours, beyond a few background pixels)
        size = page.eval(
            "return [window.twin.map.getCanvas().clientWidth, "
            "window.twin.map.getCanvas().clientHeight]"
        )
        samples = [
            pixel(page, size[0] * (i + 0.5) / 8, size[1] * (j + 0.5) / 6)
            for i in range(8)
            for j in range(6)
        ]
        assert len({tuple(s) for s in samples}) > 6, f"z{zoom}: the map is one flat colour"
        page.call("screenshot", path=str(ARTIFACTS / f"maps-minutes-z{zoom}.png"))
    # the count map: seven distinct classes and grey for no data
    page.call("click", selector="#fifteen-cats button[data-cat='']")
    count = page.eval(
        "return [...document.querySelectorAll("
        "'#side-body [data-legend=\"fifteen_cells\"] .swatch')]"
        ".map(s => s.dataset.colour)"
    )
    assert len(count) == 8 and len(set(count)) == 8, count


def test_seismic_zones_legend_and_map_share_one_colour_per_intensity(
    page: HeadlessChromium, city_server: Server
) -> None:
    entry = catalog_entry(city_server, "seismic_zones")
    palette = {item["value"]: item["color"] for item in entry["legend"]}
    assert set(palette) == {"7", "8", "9", "10"}
    assert len(set(palette.values())) == 4, "two intensities share a colour"
    view(page, page.page_url, "seismic_zones", 12)
    swatches = page.eval(
        "return [...document.querySelectorAll('[data-legend=\"seismic_zones\"] .swatch')]"
        ".map(s => [getComputedStyle(s).backgroundColor, s.nextElementSibling.textContent])"
    )
    drawn = {label.split()[0]: css_rgb(colour) for colour, label in swatches}
    assert drawn == {value: rgb(colour) for value, colour in palette.items()}, swatches
    zones = city_server.get(
        "/collections/seismic_zones/items", params={"f": "json", "limit": "200"}
    ).json()["features"]
    checked = 0
    opacity = entry["style"]["opacity"]
    for intensity in ("10", "9"):  # the demo's intensities
        zone = max(
            (z for z in zones if str(z["properties"]["intensity"]) == intensity),
            key=lambda z: shape(z["geometry"]).area,
        )
        lon, lat = centroid(zone["geometry"])
        jump(page, lon, lat, 14)
        x, y = page.eval(f"const p = window.twin.map.project([{lon}, {lat}]); return [p.x, p.y]")
        shown = pixel(page, x, y)
        page.eval("return window.twin.setLayerVisible('seismic_zones', false), true")
        page.wait(IDLE, timeout=60)
        under = pixel(page, x, y)
        page.eval("return window.twin.setLayerVisible('seismic_zones', true), true")
        page.wait(IDLE, timeout=60)

        def blended(colour: str, under: list[int] = under) -> tuple[float, ...]:
            return tuple(opacity * c + (1 - opacity) * u for c, u in zip(rgb(colour), under))

        nearest = min(palette, key=lambda v: distance(blended(palette[v]), shown))
        assert nearest == intensity, (intensity, shown, under)
        checked += 1
        page.call("screenshot", path=str(ARTIFACTS / f"maps-seismic-{intensity}.png"))
    assert checked == 2


def test_legends_say_what_values_mean_and_indicators_are_choropleths(
    page: HeadlessChromium, city_server: Server
) -> None:
    view(page, page.page_url, "streets,cameras,building_metrics,district_indicators", 11)
    legends = page.eval(
        "return Object.fromEntries([...document.querySelectorAll('[data-legend]')]"
        ".map(l => [l.dataset.legend, l.innerText]))"
    )
    for name in ("cameras", "building_metrics"):
        assert "true" not in legends[name].lower().split(), legends[name]
    assert "Integrated with the police centre" in legends["cameras"]
    assert "Inside a fault setback" in legends["building_metrics"]
    streets = page.eval(
        "return [...document.querySelectorAll('[data-legend=\"streets\"] .swatch')]"
        ".map(s => s.dataset.colour)"
    )
    assert len(streets) == 10 and len(set(streets)) == 10, streets
    # district indicators: coloured by share with all six, by class, then by walkability
    assert "20–40" in legends["district_indicators"] or "20–40 %" in legends["district_indicators"]
    shares = page.eval(
        "return window.twin.map.queryRenderedFeatures({layers: ['district_indicators-fill']})"
        ".map(f => [f.properties.share_all_six, f.properties.walkability])"
    )
    assert shares and all(s is not None and w is not None for s, w in shares), shares
    page.eval(
        "const s = document.querySelector('select[data-legend-by=\"district_indicators\"]');"
        "s.value = 'walkability'; s.dispatchEvent(new Event('change', {bubbles: true}));"
        "return true"
    )
    page.wait(IDLE, timeout=60)
    paint = json.dumps(
        page.eval(
            "return window.twin.map.getPaintProperty('district_indicators-fill', 'fill-color')"
        )
    )
    assert "walkability" in paint and "share_all_six" not in paint
    legend = page.eval(
        "return document.querySelector('[data-legend=\"district_indicators\"]').dataset.by"
    )
    assert legend == "walkability"
    page.call("screenshot", path=str(ARTIFACTS / "maps-district-walkability.png"))
    # in Kazakh the legends speak Kazakh
    page.call("click", selector="#lang button[data-lang='kk']")
    page.wait("document.documentElement.lang === 'kk'")
    cameras = page.eval("return document.querySelector('[data-legend=\"cameras\"]').innerText")
    assert "Полиция орталығына қосылған" in cameras, cameras
    page.call("screenshot", path=str(ARTIFACTS / "maps-legends-kk.png"))


def test_an_isochrone_stands_out_and_says_what_it_lacks(
    page: HeadlessChromium, city_server: Server
) -> None:
    # a cell with no park within 30 minutes: its isochrone cannot hold one within 15
    cells = city_server.get(
        "/collections/fifteen_cells/items",
        params={"f": "json", "limit": "2000", "properties": "min_parks,categories_15,residents"},
    ).json()["features"]
    lacking = [
        c
        for c in cells
        if c["properties"].get("min_parks") is None
        and c["properties"].get("categories_15")
        and c["properties"]["categories_15"] >= 3
    ]
    assert lacking, "the demo has no cell far from every park"
    lon, lat = centroid(lacking[0]["geometry"])
    view(page, page.page_url, "buildings,plots,transit_stops", 15, "&mode=isochrone")
    jump(page, lon, lat, 14.5)
    x, y = page.eval(f"const p = window.twin.map.project([{lon}, {lat}]); return [p.x, p.y]")
    page.call("clickMap", x=x, y=y)
    page.wait(
        "document.querySelector('#iso-amenities') || document.querySelector('[data-error]')",
        timeout=60,
    )
    missing = page.eval("return document.querySelector('[data-missing]')?.dataset.missing")
    assert missing and "parks" in missing.split(), missing
    text = page.eval("return document.querySelector('[data-missing]').innerText")
    assert "within 15 min" in text, text
    page.wait(IDLE, timeout=60)
    assert (
        page.eval("return window.twin.map.getPaintProperty('isochrone-fill', 'fill-opacity')")
        >= 0.35
    )
    # the origin is a pin (an SVG marker), the stops are dots
    assert page.eval("return !!document.querySelector('.iso-origin svg')")
    assert page.eval(
        "return window.twin.map.getPaintProperty('buildings-extrusion', "
        "'fill-extrusion-opacity') < 1"
    )
    page.call("screenshot", path=str(ARTIFACTS / "maps-isochrone.png"))


def test_amenity_dots_thin_out_and_the_demo_says_so(
    page: HeadlessChromium, city_server: Server
) -> None:
    entry = catalog_entry(city_server, "amenities")
    early = {k for k, z in entry["style"]["zooms"]["values"].items() if z <= 11}
    view(page, page.page_url, "amenities", 11.2)
    kinds = page.eval(
        "return window.twin.map.queryRenderedFeatures({layers: ['amenities-circle']})"
        ".map(f => f.properties.kind)"
    )
    assert kinds and set(kinds) <= early, set(kinds) - early
    jump(page, *CITY, 15.5)
    near = page.eval(
        "return window.twin.map.queryRenderedFeatures({layers: ['amenities-circle']})"
        ".map(f => f.properties.kind)"
    )
    assert set(near) - early, "no everyday amenity at street zoom"
    banner = page.eval(
        "const b = document.getElementById('data-banner'); return b ? b.innerText + b.title : ''"
    )
    assert "Demo data" in banner and "illustrative" in banner, banner
    assert "CC0" in banner, banner
    page.call("screenshot", path=str(ARTIFACTS / "maps-amenities-banner.png"))
    page.call("click", selector="button[data-mode='indicators']")
    page.wait("document.querySelector('.data-provenance')", timeout=60)
    assert page.eval("return document.querySelector('.data-provenance').dataset.synthetic") == "1"
    page.call("screenshot", path=str(ARTIFACTS / "maps-dashboard-provenance.png"))


@pytest.mark.parametrize(
    ("name", "wanted"),
    [("fifteen_cells", "min_education"), ("district_indicators", "walkability")],
)
def test_low_zoom_tiles_carry_what_the_maps_colour_by(
    city_server: Server, name: str, wanted: str
) -> None:
    """A z11 tile of the city's middle holds the properties the viewer's maps of the layer
    colour by (the catalog's `style.keep`), not only the default map's."""
    import math

    from test_tiles import decoded_tile

    lon, lat = CITY
    n = 2**11
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    response = city_server.get(f"/collections/{name}/tiles/WebMercatorQuad/11/{y}/{x}")
    assert response.status_code == 200, response.text
    features = decoded_tile(response.content)[name]["features"]
    assert features
    with_value = [f for f in features if f["properties"].get(wanted) is not None]
    assert len(with_value) > len(features) // 3, f"{len(with_value)} of {len(features)}"


# The spread (standard deviation) of the map's brightness over a grid of canvas pixels: a flat
# background has none, shaded relief a great deal.
SPREAD_JS = """
const canvas = window.twin.map.getCanvas();
const copy = document.createElement('canvas');
copy.width = canvas.width; copy.height = canvas.height;
const ctx = copy.getContext('2d');
ctx.drawImage(canvas, 0, 0);
const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
const values = [];
for (let y = 0; y < canvas.height; y += 8) {
  for (let x = 0; x < canvas.width; x += 8) {
    const i = (y * canvas.width + x) * 4;
    values.push(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
  }
}
const mean = values.reduce((a, b) => a + b, 0) / values.length;
return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
"""


def test_the_relief_toggle_shades_the_mountains_from_the_twins_terrain(
    page: HeadlessChromium,
) -> None:
    """A planner looks at the Trans-Ili Alatau south of the city on the flat map: the shaded
    relief (the twin's hillshade tiles drawn from its own terrain model, on by default) shows the
    ridges and valleys; the Relief button takes it away (the plain background is left) and the
    choice stays in the link."""
    # the foothills south of the last plots, inside the terrain model (43.02-43.42 N)
    open_viewer(page, page.page_url, "#map=13/43.06/76.95/0/0&layers=plots&dim=2d&lang=kk")
    button = "return document.getElementById('relief').getAttribute('aria-pressed')"
    assert page.eval(button) == "true"
    visibility = "return window.twin.map.getLayoutProperty('hillshade', 'visibility') ?? 'visible'"
    assert page.eval(visibility) == "visible"
    shaded = page.eval(SPREAD_JS)
    page.call("screenshot", path=str(ARTIFACTS / "maps-relief-on.png"))
    page.call("click", selector="#relief")
    page.wait(IDLE, timeout=120)
    page.wait("location.hash.includes('relief=off')", timeout=10)
    flat = page.eval(SPREAD_JS)
    page.call("screenshot", path=str(ARTIFACTS / "maps-relief-off.png"))
    assert page.eval(button) == "false" and page.eval(visibility) == "none"
    assert shaded > 10 and flat < 3, (shaded, flat)
    assert page.eval("return document.getElementById('relief').innerText") == "Жер бедері"

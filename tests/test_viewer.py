"""The 3D viewer as a planner meets it: Debian's Chromium (playwright-core, no downloaded browser)
opens /viewer/ on the small demo city served by the real twin, and we look at what it shows.

Screenshots land in test-artifacts/viewer/ so a person can see what the browser saw.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from chromium import ARTIFACTS  # `browser`, the fixture, is tests/chromium.py's too
from conftest import ROOT, Server
from twin.catalog import groups, load_catalog
from twin.viewer import HeadlessChromium
from viewer_fixtures import console_errors  # `city_server` and `page` are its fixtures too

READY = "document.body.dataset.ready === '1'"
IDLE = "window.twin.map.loaded() && !window.twin.map.isMoving() && window.twin.map.areTilesLoaded()"


def open_viewer(browser: HeadlessChromium, url: str, hash_: str = "") -> None:
    browser.call("goto", url=url + hash_)
    browser.wait(READY, timeout=240)
    browser.wait(IDLE, timeout=120)


def rendered(browser: HeadlessChromium, layer: str) -> int:
    return browser.eval(
        f"return window.twin.map.getLayer('{layer}') ? "
        f"window.twin.map.queryRenderedFeatures({{layers: ['{layer}']}}).length : -1"
    )


def fly(
    browser: HeadlessChromium, lon: float, lat: float, zoom: float = 15.5, pitch: float = 0
) -> None:
    browser.eval(
        f"return window.twin.map.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}, "
        f"pitch: {pitch}, bearing: 0}}), true"
    )
    browser.wait(IDLE, timeout=120)


def screen_point(browser: HeadlessChromium, lon: float, lat: float) -> tuple[float, float]:
    point = browser.eval(f"return window.twin.map.project([{lon}, {lat}])")
    return point["x"], point["y"]


def first_feature(server: Server, collection: str, **params: str) -> dict:
    response = server.get(
        f"/collections/{collection}/items", params={"f": "json", "limit": "1", **params}
    )
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert features, f"the demo city has no {collection}"
    return features[0]


def centroid(geometry: dict) -> tuple[float, float]:
    from shapely.geometry import shape

    point = shape(geometry).representative_point()
    return point.x, point.y


# -- served by the twin itself, nothing from a CDN ---------------------------------------------


def test_the_viewer_and_maplibre_are_served_by_the_twin(city_server: Server) -> None:
    page = city_server.get("/viewer/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    maplibre = city_server.get(
        "/viewer/vendor/maplibre-gl/maplibre-gl.mjs", headers={"Accept-Encoding": "gzip"}
    )
    assert maplibre.status_code == 200
    assert maplibre.headers["content-type"].startswith("text/javascript")
    assert maplibre.headers["content-encoding"] == "gzip"
    pinned = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["maplibre-gl"]
    assert f"v{pinned}" in maplibre.text[:400], "the served MapLibre is the pinned version"
    worker = city_server.get("/viewer/vendor/maplibre-gl/maplibre-gl-worker.mjs")
    assert "connect-src 'self'" in worker.headers["content-security-policy"]
    unknown = city_server.get("/viewer/vendor/maplibre-gl/evil.js")
    assert unknown.status_code == 404 and "no MapLibre file" in unknown.json()["description"]
    # Offline: no page or script of the viewer names another host.
    for path in [ROOT / "web" / "index.html", *(ROOT / "web" / "src").glob("*.js")]:
        assert not re.search(r"https?://(?!127\.0\.0\.1)", path.read_text()), path


def test_the_layer_panel_comes_from_the_catalog(city_server: Server) -> None:
    panel = city_server.get("/viewer/layers.json").json()
    assert [g["name"] for g in panel["groups"]] == [g.name for g in groups()]
    listed = {layer["name"]: layer for g in panel["groups"] for layer in g["layers"]}
    assert set(listed) == set(load_catalog())
    assert listed["plots"]["titles"] == {
        "en": "Land plots",
        "ru": "Земельные участки",
        "kk": "Жер учаскелері",
    }
    land = panel["groups"][0]
    assert land["titles"]["kk"] == "Жер және ғимараттар" and not land["collapsed"]
    assert panel["targets"]["indicators"]["green_m2_per_resident"]["figures"]["target_2030"] == {
        "kind": "target",
        "value": 13.4,
        "year": 2030,
        "source": "S2 l.4507-4515: low-provision districts by 2030",
    }
    analysis = next(g for g in panel["groups"] if g["name"] == "Analysis")
    assert "fifteen_cells" in {layer["name"] for layer in analysis["layers"]}
    buildings = listed["buildings"]
    assert buildings["kind"] == "extrusion"
    assert {e["value"] for e in buildings["legend"]} == {
        "compliant",
        "needs_strengthening",
        "strengthened",
        "not_attested",
    }
    assert listed["seismic_faults"]["legend"][0]["color"] == "#d63031"


# -- the map in 3D ------------------------------------------------------------------------------


def test_the_page_renders_terrain_and_buildings_in_3d(page: HeadlessChromium) -> None:
    open_viewer(page, page.page_url)
    state = page.eval("""
        const map = window.twin.map;
        const c = map.getCenter();
        return {terrain: map.getTerrain(), pitch: map.getPitch(),
                elevation: map.queryTerrainElevation(c), sky: !!map.getStyle().sky,
                hillshade: !!map.getLayer('hillshade'),
                sources: Object.values(map.getStyle().sources).map(s => (s.tiles || [s.url])[0])}""")
    assert state["terrain"] and state["terrain"]["source"] == "terrain-dem"
    assert state["hillshade"] and state["sky"] and state["pitch"] >= 45
    assert state["elevation"] is not None and state["elevation"] > 300, (
        "Almaty lies 600-1,000 m above sea level: the terrain must lift the map"
    )
    for url in state["sources"]:
        assert url is None or url.startswith(page.page_url.split("/viewer/")[0]), url
    # the city view: buildings as footprints, extruded from zoom 13 (8k 3D buildings at every
    # first view cost software WebGL and the tile workers; docs/viewer.md)
    assert rendered(page, "buildings-footprint") > 0
    assert page.eval("return window.twin.map.getLayer('buildings-extrusion').minzoom") == 13
    assert rendered(page, "plots-fill") > 0
    # the first view is painted once, when its data are in, not once per arriving tile, and
    # the "loading the city" notice is gone by then
    first = page.eval(
        "return {...window.twin.timings, loading: document.getElementById('map-loading').hidden}"
    )
    assert first["loading"] is True
    assert first["first_paint_on"] == "loaded" and first["frames"] <= 5, first
    assert first["painted"] > first["idle"], first
    # the layers shown at opening come in one tile per address (collections selection)
    opening = page.eval(
        "const s = window.twin.map.getStyle(); return {source: s.layers.find("
        "l => l.id === 'plots-fill').source, url: s.sources['twin-opening'].tiles[0]}"
    )
    assert opening["source"] == "twin-opening", opening
    assert "/tiles/WebMercatorQuad/" in opening["url"] and "collections=" in opening["url"]
    assert {"plots", "buildings", "streets"} <= set(
        opening["url"].split("collections=")[1].split(",")
    )
    # the terrain mesh has a vertex per terrain-model pixel where the view looks, not 4
    assert page.eval("return window.twin.map.terrain.meshSize") == 64
    page.call("screenshot", path=str(ARTIFACTS / "city-3d.png"))
    assert (ARTIFACTS / "city-3d.png").stat().st_size > 20_000


def test_toggling_a_layer_changes_what_is_rendered(page: HeadlessChromium) -> None:
    open_viewer(page, page.page_url)
    before = rendered(page, "plots-fill")
    assert before > 0
    page.call("click", selector="input[data-layer-toggle='plots']")
    page.wait(IDLE, timeout=120)
    assert rendered(page, "plots-fill") == 0
    page.wait("!location.hash.includes('plots')", timeout=5)
    page.call("click", selector="input[data-layer-toggle='seismic_zones']")
    page.wait(IDLE, timeout=120)
    assert rendered(page, "seismic_zones-fill") > 0
    page.call("screenshot", path=str(ARTIFACTS / "layers-toggled.png"))


def test_clicking_a_plot_opens_its_card_and_full_report(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page, page.page_url, "#layers=plots,districts")
    plot = first_feature(city_server, "plots", land_use="residential")
    fly(page, *centroid(plot["geometry"]), zoom=17)
    # nothing picked: the highlight layers are off (a draped layer over the buildings would
    # make every terrain tile carry a second texture)
    assert (
        page.eval("return window.twin.map.getLayoutProperty('selection-fill', 'visibility')")
        == "none"
    )
    x, y = screen_point(page, *centroid(plot["geometry"]))
    page.call("clickMap", x=x, y=y)
    page.wait("document.querySelector('[data-card=\"plots\"]')")
    page.wait(
        "window.twin.map.getLayoutProperty('selection-fill', 'visibility') === 'visible'",
        timeout=10,
    )
    page.wait(
        "!document.querySelector('[data-report=\"plot\"] .report').classList.contains('muted')"
        " || document.querySelector('[data-report=\"plot\"] .error-text')",
        timeout=60,
    )
    card = page.eval("return document.querySelector('#side-body').innerText")
    assert plot["properties"]["cadastral_number"] in card
    assert not page.eval("return document.querySelector('[data-report=\"plot\"] .error-text')"), (
        card
    )
    assert re.search(r"walkability", card, re.IGNORECASE), card
    page.wait("location.hash.includes('plot=')", timeout=5)
    page.call("screenshot", path=str(ARTIFACTS / "plot-card.png"))


def test_an_isochrone_draws_with_the_amenities_inside(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page, page.page_url)
    school = first_feature(city_server, "amenities", category="education")
    lon, lat = school["geometry"]["coordinates"]
    fly(page, lon, lat, zoom=14.5)
    page.call("click", selector="button[data-mode='isochrone']")
    x, y = screen_point(page, lon, lat)
    page.call("clickMap", x=x, y=y)
    page.wait(
        "document.querySelector('#iso-amenities') || document.querySelector('[data-error=\"isochrone\"]')",
        timeout=60,
    )
    assert not page.eval("return document.querySelector('[data-error=\"isochrone\"]')")
    page.wait(IDLE, timeout=120)
    assert rendered(page, "isochrone-fill") > 0
    minutes = page.eval(
        "return window.twin.map.queryRenderedFeatures({layers: ['isochrone-fill']})"
        ".map(f => f.properties.minutes)"
    )
    assert sorted({int(m) for m in minutes}) == [5, 10, 15]
    assert int(page.eval("return document.querySelector('#iso-amenities').dataset.count")) >= 1
    page.call("screenshot", path=str(ARTIFACTS / "isochrone.png"))
    # The same point on foot or by public transport at 08:00: the 15-minute band can only grow
    area_15 = (
        "return window.twin.map.getSource('isochrone').serialize().data.features"
        ".filter(f => f.properties.minutes == 15).map(f => f.properties.area_km2)[0]"
    )
    walking = page.eval(area_15)
    page.eval("document.querySelector('#iso-amenities').remove(); return true")
    page.call("click", selector="#iso-transit")
    page.wait("document.querySelector('#iso-amenities')", timeout=60)
    assert not page.eval("return document.querySelector('[data-error=\"isochrone\"]')")
    assert page.eval(area_15) >= walking
    page.wait(IDLE, timeout=120)
    page.call("screenshot", path=str(ARTIFACTS / "isochrone-transit.png"))
    page.call("click", selector="#iso-transit")  # back to walking for the stories after


def glb_header(path: Path) -> tuple[bytes, int, int]:
    data = path.read_bytes()
    return data[:4], int.from_bytes(data[4:8], "little"), int.from_bytes(data[8:12], "little")


def test_download_3d_scene_of_the_view(page: HeadlessChromium, city_server: Server) -> None:
    open_viewer(page, page.page_url)
    building = first_feature(city_server, "buildings")
    fly(page, *centroid(building["geometry"]), zoom=16.5, pitch=0)
    target = ARTIFACTS / "view-scene.glb"
    target.unlink(missing_ok=True)
    got = page.call("download", selector="#download-scene", path=str(target))
    assert got["filename"].endswith(".glb") and got["size"] > 0 and got["magic"] == "glTF", got
    magic, version, length = glb_header(target)
    assert magic == b"glTF" and version == 2 and length == target.stat().st_size
    # The box asked for is the view (small here, so not clamped) and holds the building.
    box = page.eval("return window.twin.map.getBounds().toArray().flat()")
    lon, lat = centroid(building["geometry"])
    assert box[0] < lon < box[2] and box[1] < lat < box[3]
    page.wait("document.getElementById('download-scene').dataset.state === 'done'", timeout=10)
    assert ".glb" in page.eval("return document.getElementById('notices').innerText")

    # A view with no buildings (the mountains south of the city) says so instead of downloading.
    south = city_server.get(
        "/collections/buildings/items",
        params={"f": "json", "limit": "1", "bbox": "76.90,43.04,76.94,43.07"},
    ).json()
    assert not south["features"], "the demo has buildings in the mountains"
    fly(page, 76.92, 43.055, zoom=15.5)
    page.call("click", selector="#download-scene")
    page.wait("document.getElementById('download-scene').dataset.state === 'empty'", timeout=60)
    assert "No buildings in this view" in page.eval(
        "return document.getElementById('notices').innerText"
    )


def test_download_3d_scene_too_large_says_why(browser: HeadlessChromium, demo_city: str) -> None:
    # A twin that builds scenes of at most 5 buildings: any city view is refused with the reason.
    small = Server({"TWIN_SCENE_MAX_BUILDINGS": "5"})
    try:
        open_viewer(browser, f"{small.url}/viewer/", "#map=15.00/43.24000/76.91000/0/0")
        browser.call("click", selector="#download-scene")
        browser.wait(
            "document.getElementById('download-scene').dataset.state === 'refused'", timeout=120
        )
        text = browser.eval("return document.getElementById('notices').innerText")
        assert "400" in text and "over the limit of 5" in text, text
        errors = [
            m
            for m in console_errors(browser)
            if "scene.glb" not in m.get("location", "") and "status of 400" not in m["text"]
        ]
        assert not errors, errors
        browser.call("goto", url="about:blank")
    finally:
        small.stop()


def test_the_indicators_dashboard_sets_targets_beside_the_figures(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page, page.page_url)
    page.call("click", selector="button[data-mode='indicators']")
    page.wait(
        "document.querySelector('#city-kpis') || document.querySelector('#dashboard-body .error-text')",
        timeout=30,
    )
    text = page.eval("return document.getElementById('dashboard-body').innerText")
    city = city_server.get("/indicators").json()["city"]
    assert "13.4" in text and "11.2" in text and "39.6" in text
    green = page.eval(
        "return document.querySelector('[data-kpi=\"green_m2_per_resident\"] .value').innerText"
    )
    assert green.startswith(f"{city['green_m2_per_resident']:.1f}".rstrip("0").rstrip(".")[:3])
    districts = city_server.get("/indicators").json()["districts"]
    assert page.eval(
        "return document.querySelectorAll('[data-chart=\"green\"] svg rect').length"
    ) >= len(districts)
    page.call("screenshot", path=str(ARTIFACTS / "indicators.png"))
    page.call("click", selector="#dashboard .close")
    assert page.eval("return document.getElementById('dashboard').hidden")


def test_fifteen_minute_mode_colours_cells_by_category(page: HeadlessChromium) -> None:
    open_viewer(page, page.page_url)
    page.call("click", selector="button[data-mode='fifteen']")
    page.wait("document.querySelector('[data-panel=\"fifteen\"]')")
    page.call("click", selector="#fifteen-cats button[data-cat='education']")
    page.eval("return window.twin.map.setPitch(0), window.twin.map.setZoom(13), true")
    page.wait(IDLE, timeout=120)
    assert rendered(page, "fifteen_cells-fill") > 0
    colour = page.eval(
        "return JSON.stringify(window.twin.map.getPaintProperty('fifteen_cells-fill', 'fill-color'))"
    )
    assert "min_education" in colour
    page.wait(
        "location.hash.includes('cat=education') && location.hash.includes('mode=fifteen')",
        timeout=5,
    )
    text = page.eval("return document.getElementById('side-body').innerText")
    assert "Districts" in text and "%" in text
    page.call("screenshot", path=str(ARTIFACTS / "fifteen.png"))


def test_search_finds_a_plot_by_cadastral_number(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page, page.page_url)
    plot = first_feature(city_server, "plots")
    number = plot["properties"]["cadastral_number"]
    page.call("type", selector="#search-input", text=number)
    page.wait("document.querySelector('#search-results .hit[data-kind=\"plot\"]')", timeout=20)
    page.call("click", selector="#search-results .hit[data-kind='plot']")
    page.wait("document.querySelector('[data-card=\"plots\"]')")
    assert number in page.eval("return document.getElementById('side-body').innerText")


def test_search_by_district_in_russian_and_nothing_found(
    page: HeadlessChromium, city_server: Server
) -> None:
    open_viewer(page, page.page_url, "#lang=ru")
    district = first_feature(city_server, "districts")
    page.call("type", selector="#search-input", text=district["properties"]["name_ru"][:5])
    page.wait("document.querySelector('#search-results .hit[data-kind=\"district\"]')", timeout=20)
    assert district["properties"]["name_ru"] in page.eval(
        "return document.getElementById('search-results').innerText"
    )
    page.call("type", selector="#search-input", text="Nowhere street 999")
    page.wait("document.querySelector('#search-results [data-empty=\"search\"]')", timeout=20)
    assert "ничего не найдено" in page.eval(
        "return document.getElementById('search-results').innerText"
    )


def test_the_view_lives_in_the_url_and_labels_switch_language(page: HeadlessChromium) -> None:
    view = "#map=15.50/43.24000/76.91000/30/50&layers=buildings,seismic_zones&lang=ru"
    open_viewer(page, page.page_url, view)
    state = page.eval("""
        const m = window.twin.map;
        return {zoom: m.getZoom(), bearing: m.getBearing(), pitch: m.getPitch(),
                plots: m.getLayoutProperty('plots-fill', 'visibility'),
                zones: m.getLayoutProperty('seismic_zones-fill', 'visibility'),
                explore: document.querySelector('[data-mode=explore]').textContent,
                layers: document.querySelector('#layers-panel h2').textContent}""")
    assert abs(state["zoom"] - 15.5) < 0.01 and abs(state["bearing"] - 30) < 0.5
    assert abs(state["pitch"] - 50) < 0.5
    assert state["plots"] == "none" and state["zones"] == "visible"
    assert state["explore"] == "Обзор" and state["layers"] == "Слои"
    page.call("click", selector="#lang button[data-lang='kk']")
    assert page.eval("return document.querySelector('#layers-panel h2').textContent") == "Қабаттар"
    page.wait("location.hash.includes('lang=kk')", timeout=5)
    page.call("click", selector="#lang button[data-lang='en']")
    page.wait("!location.hash.includes('lang=')", timeout=5)


def test_bad_input_shows_a_readable_message(page: HeadlessChromium) -> None:
    # A broken view in the URL falls back to the default view, never a blank map.
    open_viewer(page, page.page_url, "#map=abc/def&layers=&mode=nonsense")
    assert page.eval("return window.twin.state.mode") == "explore"
    # An isochrone from a point far outside the city is refused with a sentence.
    page.call("click", selector="button[data-mode='isochrone']")
    page.eval(
        "return window.twin.modes.isochrone.click(window.twin, "
        "{lngLat: {lng: 70.0, lat: 40.0}}), true"
    )
    page.wait("document.querySelector('[data-error=\"isochrone\"]')", timeout=30)
    message = page.eval("return document.querySelector('[data-error=\"isochrone\"]').innerText")
    assert re.search(r"4\d\d", message) and len(message) > 30, message
    # The refusal answered 4xx; the browser logs that as a failed resource, which is expected.
    errors = [
        m
        for m in console_errors(page)
        if "/processes/isochrone" not in m.get("location", "") and "status of 4" not in m["text"]
    ]
    assert not errors, errors
    page.call("goto", url="about:blank")

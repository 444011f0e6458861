"""The viewer's time (#20, #21): a planner plays the time slider over a year by month and sees
the parks that opened in between appear, clicks an air sensor and reads its day as a chart, and
finds the city's figures now and the KPIs' trends on the dashboard, in en, ru and kk.

Debian's Chromium on the small demo city (tests/viewer_fixtures.py: one server, one page).
Which layers follow the slider is the catalog's fact (`time` of /viewer/layers.json); the tile
requests the map makes are read from the browser's network log. Screenshots land in
test-artifacts/viewer/time-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

# `page`, `city_server` (tests/viewer_fixtures.py) and `browser` (tests/chromium.py) are fixtures
from chromium import ARTIFACTS
from conftest import Server
from test_viewer import IDLE, open_viewer
from twin.catalog import CatalogError, parse_layer
from twin.viewer import HeadlessChromium

CITY = [76.955, 43.215]  # the middle of the demo city's extent (lon, lat)
BAR = "document.querySelector('#time-bar')"
ALMATY = dt.timezone(dt.timedelta(hours=5))


def entries(server: Server) -> dict[str, dict]:
    doc = server.get("/viewer/layers.json").json()
    return {e["name"]: e for g in doc["groups"] for e in g["layers"]}


def dated_tiles(browser: HeadlessChromium, layer: str) -> list[tuple[str, int]]:
    """The `datetime` of every tile of `layer` the page asked for, with its status."""
    found = []
    for response in browser.call("network")["responses"]:
        url = urlparse(response["url"])
        if f"/collections/{layer}/tiles/" in url.path and "datetime" in url.query:
            found.append((parse_qs(url.query)["datetime"][0], response["status"]))
    return found


def test_the_catalog_says_which_layers_follow_the_time(city_server: Server) -> None:
    """No layer name in the viewer: parks (opened_on) show what existed by then, the versioned
    layers as they were, a layer without time none; #21's layers plug in by their facts."""
    layers = entries(city_server)
    assert layers["parks"]["time"] == {"range": "year", "show": "until", "property": "opened_on"}
    assert layers["buildings"]["time"]["show"] == "asof"
    assert layers["districts"]["time"] is None
    for name, entry in layers.items():
        if entry["time"] and entry["time"]["show"] == "during":
            assert entry["time"]["period"], name
        if entry["time"] and entry["time"].get("key"):  # a place's rows charted over time
            kinds = {p["name"]: p["type"] for p in entry["properties"]}
            assert entry["time"]["key"] in kinds, name
            assert {kinds[v] for v in entry["time"]["values"]} <= {"integer", "number"}, name


@pytest.mark.parametrize(
    ("time", "problem"),
    [
        ({"range": "week"}, "time.range must be one of day, year"),
        ({"show": "now"}, "time.show must be one of asof, until, during"),
        ({"period": "1 hour"}, "time.period must be like PT10M"),
        ({"key": "nowhere"}, "time.key must be a property"),
        ({"key": "name", "values": ["name"]}, "time.values must list numeric properties"),
        ({"colour": "red"}, "time takes range, show, period, key and values"),
    ],
)
def test_a_layer_with_a_wrong_time_is_refused(time: dict, problem: str) -> None:
    doc = {
        "name": "counts",
        "geometry": "Point",
        "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
        "time": time,
    }
    with pytest.raises(CatalogError, match=re.escape(problem)):
        parse_layer(doc, "counts.yml")
    assert parse_layer({**doc, "time": {"range": "day", "key": "name", "values": ["n"]}}).time


def test_the_slider_plays_a_year_by_month_and_the_last_day_on_almaty_time(
    page: HeadlessChromium, city_server: Server
) -> None:
    """The last 12 months by month: the change events drawn are the month's (the items with the
    same `datetime`), others in another month; the parks' tiles ask what existed by then
    (`../instant`); the legend and the bar say the month; the keyboard steps; play runs to the
    end and stops. Then the last 24 hours on Almaty's clock, in ru and kk."""
    lon, lat = CITY
    layers = "parks,change_events"
    open_viewer(
        page, page.page_url, f"#map=10.6/{lat}/{lon}/0/0&layers={layers}&time=year/last/0&dim=2d"
    )
    page.wait(f"{BAR} && {BAR}.dataset.range === 'year'")
    page.wait(IDLE, timeout=120)
    first = page.eval(f"return {BAR}.dataset.instant")
    month = dt.datetime.fromisoformat(first.replace("Z", "+00:00")).astimezone(ALMATY)
    bar = page.eval(
        f"return [{BAR}.querySelector('output').textContent, "
        "document.querySelector('[data-time-shown=\"change_events\"]').textContent, "
        "location.hash]"
    )
    assert bar[0] == f"{month:%B %Y}", bar
    assert f"the month to {month:%B %Y}" in bar[1], bar
    assert "time=year/last/0" in bar[2], bar
    shown = {first: drawn_events(page)}
    # the keyboard: the slider takes the arrows, End and Home
    slider = "#time-bar [data-time-slider]"
    page.call("press", selector=slider, key="ArrowRight")
    page.wait(f"{BAR}.dataset.instant !== '{first}'")
    page.call("press", selector=slider, key="Home")
    page.wait(f"{BAR}.dataset.instant === '{first}'")
    # play from the tenth month: two steps, each once the map has its tiles, then it stops
    page.eval(
        f"const s = document.querySelector('{slider}'); s.value = '9';"
        "s.dispatchEvent(new Event('input', {bubbles: true})); return true"
    )
    page.call("click", selector="#time-bar [data-time-play]")
    assert page.eval(f"return {BAR}.querySelector('[data-time-play]').ariaPressed") == "true"
    page.wait(f"{BAR}.querySelector('[data-time-play]').ariaPressed === 'false'", timeout=60)
    assert page.eval(f"return {BAR}.querySelector('[data-time-slider]').value") == "11"
    page.wait(IDLE, timeout=120)
    last = page.eval(f"return {BAR}.dataset.instant")
    shown[last] = drawn_events(page)
    page.call("press", selector=slider, key="ArrowLeft")  # the last whole month
    page.wait(f"{BAR}.dataset.instant !== '{last}'")
    page.wait(IDLE, timeout=120)
    before = page.eval(f"return {BAR}.dataset.instant")
    shown[before] = drawn_events(page)
    page.call("screenshot", path=str(ARTIFACTS / "time-year-last.png"))
    # nothing of the bar covers another thing: its close button sits beside the count of layers,
    # the bar above the demo data's banner (three lines in this map 800 px wide)
    close, count, bar, banner = page.eval(BOXES)
    assert banner[3] > banner[1] and not overlap(close, count) and not overlap(bar, banner), (
        close,
        count,
        bar,
        banner,
    )
    asked = dated_tiles(page, "change_events")
    assert asked and {status for _, status in asked} <= {200, 204}, asked  # 204: no event there
    windows = {value for value, _ in asked}
    assert len(windows) >= 5, sorted(windows)  # months 1, 2 and 10 to 12
    # the map shows the window's events in view: none from another window, none in view left out
    # (the session's other stories add events of their own, some outside this view)
    west, south, east, north = page.eval("return window.twin.map.getBounds().toArray().flat()")
    for instant, ids in shown.items():
        window = next(w for w in windows if w.endswith(f"/{instant}"))
        items = city_server.get(
            "/collections/change_events/items",
            params={"f": "json", "limit": "1000", "datetime": window},
        ).json()["features"]
        assert ids <= {f["id"] for f in items}, (window, sorted(ids), len(items))
        in_view = city_server.get(
            "/collections/change_events/items",
            params={
                "f": "json",
                "limit": "1000",
                "datetime": window,
                "bbox": f"{west},{south},{east},{north}",
            },
        ).json()["features"]
        missed = [
            (f["id"], f["properties"]["happened_at"], f["geometry"]["coordinates"])
            for f in in_view
            if f["id"] not in ids
        ]
        assert not missed, (window, missed, (west, south, east, north))
    # the demo's year of changes (twin/changes): events in each whole month, none twice
    assert shown[first] and shown[before] and not shown[first] & shown[before], shown
    assert {value for value, _ in dated_tiles(page, "parks")} >= {f"../{first}", f"../{last}"}
    the_day_range_reads_almaty_time_in_each_language(page)


# the boxes (left, top, right, bottom) of the time bar's close button and count of layers, the
# bar and the demo data's banner
BOXES = """
const box = (selector) => {
  const b = document.querySelector(selector).getBoundingClientRect();
  return [b.left, b.top, b.right, b.bottom];
};
return ['#time-bar [data-time-close]', '#time-bar [data-time-layers]', '#time-bar',
        '#data-banner'].map(box);
"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def drawn_events(browser: HeadlessChromium) -> set[int]:
    """The change events in the tiles of their source (a point in two tiles counted once)."""
    return set(browser.eval(DRAWN_IDS % ("change_events", "change_events")))


# The ids of a layer's features in the tiles of its source.
DRAWN_IDS = """
const map = window.twin.map;
const source = map.getStyle().layers.find(l => l.metadata?.twinLayer === '%s').source;
return [...new Set(map.querySourceFeatures(source, {sourceLayer: '%s'})
  .map(f => f.id ?? f.properties.id))];
"""


def the_day_range_reads_almaty_time_in_each_language(page: HeadlessChromium) -> None:
    """The last 24 h by 10 minutes: 145 steps ending now, written on Almaty's clock (UTC+5)
    in English, Russian and Kazakh; the Time button closes the slider and the tiles are
    undated again."""
    page.eval(
        f"const r = {BAR}.querySelector('[data-time-range]'); r.value = 'day';"
        "r.dispatchEvent(new Event('change', {bubbles: true})); return true"
    )
    page.wait(f"{BAR}.dataset.range === 'day'")
    slider = page.eval(
        f"const s = {BAR}.querySelector('[data-time-slider]');"
        "return [s.max, s.value, s.getAttribute('aria-valuetext'), "
        f"{BAR}.dataset.instant]"
    )
    assert slider[:2] == ["144", "144"], slider
    page.wait("location.hash.includes('time=day/144')")  # the view says it (written debounced)
    instant = dt.datetime.fromisoformat(slider[3].replace("Z", "+00:00")).astimezone(ALMATY)
    assert instant.minute % 10 == 0
    assert slider[2] == f"{instant.day} {instant:%B %Y}, {instant:%H:%M} (UTC+5)", slider
    words = {}
    for lang in ("ru", "kk"):
        page.call("click", selector=f"#lang button[data-lang='{lang}']")
        page.wait(f"document.documentElement.lang === '{lang}'")
        words[lang] = page.eval(f"return {BAR}.innerText")
    assert "Сутки (шаг 10 минут)" in words["ru"] and "(UTC+5)" in words["ru"], words["ru"]
    assert f"в {instant:%H:%M} (UTC+5)" in words["ru"], words["ru"]
    assert "Тәулік (10 минут қадаммен)" in words["kk"] and _kk_month(instant) in words["kk"], words[
        "kk"
    ]
    page.call("screenshot", path=str(ARTIFACTS / "time-day-kk.png"))
    page.call("click", selector="#time-toggle")
    page.wait(f"{BAR}.hidden")
    tiles = page.eval("return window.twin.map.getSource('twin-change_events')?.tiles?.[0] ?? ''")
    assert tiles and "datetime" not in tiles, tiles
    page.wait("!location.hash.includes('time=')")


def _kk_month(instant: dt.datetime) -> str:
    months = "қаңтар ақпан наурыз сәуір мамыр маусым шілде тамыз қыркүйек қазан қараша желтоқсан"
    return months.split()[instant.month - 1]


def test_a_sensor_click_shows_its_observations_as_a_chart(
    page: HeadlessChromium, city_server: Server, db: psycopg.Connection
) -> None:
    """An air sensor of the demo: its card charts its PM2.5 of the last 24 h, one point per
    observation the database holds in the chart's window, with the programme's 36 µg/m³
    baseline; min, max and latest in the page's number format."""
    layer = next(
        (
            e
            for e in entries(city_server).values()
            if any(p["name"] == "thing" for p in e["properties"])
        ),
        None,
    )
    assert layer is not None, "the catalog has no layer of SensorThings Things (`thing`)"
    air = city_server.get(
        f"/collections/{layer['name']}/items", params={"f": "json", "limit": "5", "kind": "air"}
    ).json()["features"]
    assert air, "the demo has no air sensor"
    sensor = air[0]
    lon, lat = sensor["geometry"]["coordinates"][:2]
    open_viewer(page, page.page_url, f"#map=15/{lat}/{lon}/0/0&layers={layer['name']}&dim=2d")
    x, y = page.eval(f"const p = window.twin.map.project([{lon}, {lat}]); return [p.x, p.y]")
    page.call("clickMap", x=x, y=y)
    page.wait("document.querySelector('[data-sensor-chart]')?.dataset.ready === '1'", timeout=60)
    card = page.eval(
        "const c = document.querySelector('[data-sensor-chart]');"
        "return {thing: c.dataset.sensorChart, start: c.dataset.start, end: c.dataset.end,"
        " charts: [...c.querySelectorAll('[data-stream]')].map(s => ({stream: s.dataset.stream,"
        " points: Number(s.querySelector('svg').dataset.points),"
        " baseline: s.querySelector('[data-baseline]')?.dataset.baseline ?? null,"
        " text: s.innerText}))}"
    )
    assert str(card["thing"]) == str(sensor["properties"]["thing"]), card
    assert card["charts"], card
    for chart in card["charts"]:
        (count,) = db.execute(
            "SELECT count(*) FROM sta_observations WHERE datastream_id = %s "
            "AND phenomenon_time BETWEEN %s AND %s",
            (int(chart["stream"]), card["start"], card["end"]),
        ).fetchone()
        assert chart["points"] == count, (chart, count)
    pm25 = [c for c in card["charts"] if c["baseline"] is not None]
    assert pm25 and pm25[0]["baseline"] == "36", card
    assert pm25[0]["points"] >= 100, "a day of 10-minute PM2.5 readings"
    page.call("screenshot", path=str(ARTIFACTS / "time-sensor-chart.png"))
    # a lamp's on/off is a step: on at 18:00, off at 06:00 (UTC), drawn on a day from noon
    lamp = page.eval(LAMP_CHART)
    assert 'data-kind="boolean"' in lamp and 'data-points="2"' in lamp, lamp
    path = re.search(r'<path d="([^"]+)"', lamp).group(1)
    assert path == "M103.0,8.0H229.0V102.0H292.0", path  # a step, no slope; off to the end


# A lamp's day drawn by the chart the viewer uses (web/src/sensorchart.js chartSvg): the window
# 12:00 to 12:00 (UTC) on a 300 x 120 chart (the plot from x 40 to 292, y 8 to 102).
LAMP_CHART = """
const { chartSvg } = await import('/viewer/src/sensorchart.js');
const at = (iso) => new Date(iso);
return chartSvg([{time: at('2026-01-01T18:00:00Z'), value: true},
                 {time: at('2026-01-02T06:00:00Z'), value: false}],
  {start: at('2026-01-01T12:00:00Z'), end: at('2026-01-02T12:00:00Z'), kind: 'boolean'});
"""


def test_the_dashboard_has_the_city_now_and_trends_since_2022(page: HeadlessChromium) -> None:
    """The dashboard: each KPI the twin has history for as a sparkline with its 2022 baseline;
    the live figures (when the server gives them) with their time, in Russian."""
    lon, lat = CITY
    open_viewer(
        page,
        page.page_url,
        f"#map=11/{lat}/{lon}/0/0&layers=districts&mode=indicators&lang=ru&dim=2d",
    )
    page.wait("document.querySelector('#trend-kpis')", timeout=60)
    trends = page.eval(
        "return [...document.querySelectorAll('#trend-kpis [data-trend]')].map(k => ({"
        "kpi: k.dataset.trend, months: Number(k.querySelector('svg').dataset.months),"
        "baseline: k.querySelector('[data-baseline]')?.dataset.baseline ?? null,"
        "text: k.innerText}))"
    )
    lit = next(k for k in trends if k["kpi"] == "lit_share")
    assert lit["months"] >= 1 and lit["baseline"] == "0.8", lit
    assert "база 80 % (2022)" in lit["text"] and "цель 100 % (2025)" in lit["text"], lit
    live = page.eval(
        "return Object.fromEntries([...document.querySelectorAll('.live-figure')]"
        ".map(f => [f.dataset.live, f.innerText]))"
    )
    now = page.eval("return fetch('/indicators').then(r => r.json()).then(d => d.live ?? null)")
    for name, figure in (now or {}).items():
        if isinstance(figure, dict) and figure.get("time"):  # its time: "· 14:20", "на 6 дек..."
            assert "·" in live[name] and "на " in live[name], (name, live[name])
    if now and "pm25_now" in now:  # the sensors' figure (twin/sensors): its value and time
        pm25 = now["pm25_now"]
        when = dt.datetime.fromisoformat(pm25["time"].replace("Z", "+00:00")).astimezone(ALMATY)
        value = f"{pm25['value']:.1f}".replace(".", ",").removesuffix(",0")
        assert "PM2,5 сейчас" in live["pm25_now"], live  # a decimal comma in ru
        assert f"{value} µg/m³ · {when:%H:%M}" in live["pm25_now"], (live, pm25)
    page.call("screenshot", path=str(ARTIFACTS / "time-dashboard-ru.png"))

"""A sensor's month in the viewer (issue #20): a planner clicks an air sensor of the demo, asks
its card for the last month, and reads the PM2.5 as hourly means with their min–max band from
the down-sampled series (/sensors/datastreams/{id}/series), not 4,000 raw observations.

The station's last month is backfilled with one reading an hour (40 + the hour of the day)
and aggregated as retention aggregates the hours it reaches. Debian's Chromium on the small
demo city (tests/viewer_fixtures.py); the screenshot lands in
test-artifacts/viewer/time-sensor-month.png.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from chromium import ARTIFACTS
from conftest import Server
from test_viewer import open_viewer
from twin.sqlfiles import query
from twin.viewer import HeadlessChromium

CARD = "document.querySelector('[data-sensor-chart]')"


def test_a_month_chart_draws_hourly_means_and_their_band(
    page: HeadlessChromium, city_server: Server, db: psycopg.Connection
) -> None:
    sensors = city_server.get(
        "/collections/sensors/items", params={"f": "json", "limit": "1", "kind": "air"}
    ).json()["features"]
    assert sensors, "the demo has no air sensor"
    sensor = sensors[0]
    thing = sensor["properties"]["thing"]
    streams = city_server.get(
        f"/sta/v1.1/Things({thing})/Datastreams", params={"$expand": "ObservedProperty"}
    ).json()["value"]
    pm = next(s["@iot.id"] for s in streams if s["ObservedProperty"]["name"] == "PM2.5")
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    first, last = now - dt.timedelta(days=29), now - dt.timedelta(days=2)
    hours = [
        first + dt.timedelta(hours=h) for h in range(int((last - first) / dt.timedelta(hours=1)))
    ]
    for day in sorted({h.date() for h in hours}):
        db.execute("SELECT sta_observation_partition(%s::date)", (day,))
    db.execute(
        "DELETE FROM sta_observations WHERE datastream_id = %s AND phenomenon_time >= %s "
        "AND phenomenon_time < %s",
        (pm, first, last),
    )
    with db.cursor().copy(
        "COPY sta_observations (datastream_id, phenomenon_time, result_number) FROM STDIN"
    ) as copy:
        for hour in hours:
            copy.write_row((pm, hour + dt.timedelta(minutes=30), 40.0 + hour.hour))
    db.execute(query("sensors/aggregate_hours"), {"start": first, "end": last})

    lon, lat = sensor["geometry"]["coordinates"][:2]
    open_viewer(page, page.page_url, f"#map=15/{lat}/{lon}/0/0&layers=sensors&dim=2d")
    x, y = page.eval(f"const p = window.twin.map.project([{lon}, {lat}]); return [p.x, p.y]")
    page.call("clickMap", x=x, y=y)
    page.wait(f"{CARD}?.dataset.ready === '1'", timeout=60)
    page.call("click", selector='[data-chart-span="month"]')
    month = f"{CARD}.querySelector('[data-stream=\"{pm}\"] svg[data-resolution]')"
    page.wait(f"{CARD}.dataset.ready === '1' && {month}", timeout=60)
    chart = page.eval(
        f"const s = {month}; const c = {CARD};"
        "return {start: c.dataset.start, end: c.dataset.end, points: Number(s.dataset.points),"
        " resolution: s.dataset.resolution, band: Boolean(s.querySelector('[data-band]')),"
        " pressed: c.querySelector('[data-chart-span=\"month\"]').ariaPressed,"
        " text: s.parentElement.innerText}"
    )
    assert chart["resolution"] == "hour" and chart["band"] and chart["pressed"] == "true", chart
    start = dt.datetime.fromisoformat(chart["start"].replace("Z", "+00:00"))
    end = dt.datetime.fromisoformat(chart["end"].replace("Z", "+00:00"))
    assert dt.timedelta(days=29) < end - start <= dt.timedelta(days=31), chart
    answer = city_server.get(
        f"/sensors/datastreams/{pm}/series",
        params={"start": chart["start"], "end": chart["end"]},
    ).json()
    assert chart["points"] == len(answer["points"]) >= len(hours), (chart, len(hours))
    backfilled = {p["time"]: p for p in answer["points"]}
    noon = (first + dt.timedelta(days=3)).replace(hour=12)
    assert backfilled[noon.strftime("%Y-%m-%dT%H:%M:%SZ")]["mean"] == 52.0
    assert "hourly means" in chart["text"], chart
    page.call("screenshot", path=str(ARTIFACTS / "time-sensor-month.png"))

"""The city's sensors: the demo's lamps, air sensors and meters linked to the twin's layers, the
value model (Almaty's sun, PM2.5, meter flows) and the layers derived from what they report.

Hand-built stories run on a past winter night (15 January 2026, UTC+5) that the demo's own
24 hours never touch: a lamp that goes off at 22:00 unlights its street, a district whose
sensors read 120 µg/m³ exceeds the 36 µg/m³ baseline; then the layers are derived again as of
now, so the session's other modules find the demo as it was.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import mapbox_vector_tile
import numpy as np
import psycopg
import pytest

from twin.catalog import get_layer
from twin.sensors import demo, derived, model
from twin.sensors.ingest import ingest_observations
from twin.sqlfiles import query

NIGHT = date(2026, 1, 15)  # a January night, outside the demo's last 24 hours
LOCAL = model.ALMATY_TZ


def local(hour: int, minute: int = 0, day: date = NIGHT) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def post(conn: psycopg.Connection, rows: list[tuple[int, datetime, object]]) -> None:
    """Observations in as any sensor's: through the one ingest (checked, all or nothing)."""
    items = [
        {"Datastream": {"@iot.id": ds}, "phenomenonTime": t.isoformat(), "result": value}
        for ds, t, value in rows
    ]
    report = ingest_observations(conn, items, caller=None)
    assert report.ok, report.refused[:3]


@pytest.fixture()
def restored(db: psycopg.Connection):
    """Derive the layers as of now again after a story that derived them as of NIGHT, and
    take its observations of that night away."""
    yield db
    db.execute(
        "DELETE FROM sta_observations WHERE phenomenon_time >= %s AND phenomenon_time < %s",
        (local(0) - timedelta(days=1), local(0) + timedelta(days=2)),
    )
    derived.refresh(db)


def test_almaty_sunset_and_sunrise_match_the_hand_computed_times():
    # the March equinox 2025: the sun on the equator, so by hand the solar noon is 12:00 UTC+5
    # less 4 min per degree east of 75°E (76.89°: -7.6 min) plus the equation of time (+7.5
    # min), and sunset is 6 h plus the 0.833° dip (4·1.14° = 4.6 min) later: 18:04-18:05
    sunrise, sunset = model.sun_times(date(2025, 3, 20))
    assert abs(sunset - datetime(2025, 3, 20, 18, 4, 30, tzinfo=LOCAL)) < timedelta(minutes=3)
    assert abs(sunrise - datetime(2025, 3, 20, 5, 55, tzinfo=LOCAL)) < timedelta(minutes=3)
    # the winter solstice: a day of about 9 hours in Almaty (43.24°N: 8 h 58 min)
    rise, set_ = model.sun_times(date(2025, 12, 21))
    assert timedelta(hours=8, minutes=50) < set_ - rise < timedelta(hours=9, minutes=5)
    assert model.is_night(local(22)) and not model.is_night(local(12))


def test_the_demo_links_its_sensors_to_the_twins_features(demo_city, db):
    things = db.execute(  # the demo's providers (other stories add providers of their own)
        """SELECT p.name, t.layer, count(*) FROM sta_things t
           JOIN sta_providers p ON p.id = t.provider_id
           WHERE p.name = ANY(%s) GROUP BY 1, 2""",
        ([name for name, _ in demo.PROVIDERS.values()],),
    ).fetchall()
    facilities = dict(
        db.execute(
            """SELECT network, count(*) FROM utility_facilities
               WHERE network IN ('water', 'heating', 'power') GROUP BY 1"""
        ).fetchall()
    )
    assert set(things) == {
        ("AirKZ", "districts", 45),
        ("ATVS", "utility_facilities", facilities["heating"]),
        ("Almaty Su", "utility_facilities", facilities["water"]),
        ("Almaty lighting", "utility_lines", 4400),
        ("AlmatyEnergoSnab", "utility_facilities", facilities["power"]),
    }
    # every lamp stands on a lighting line, within a few metres of it, and names a real street
    # segment near it in the district of its line
    unlinked = db.execute(
        """SELECT count(*) FROM sta_things t
           JOIN sta_thing_locations tl ON tl.thing_id = t.id
           JOIN sta_locations l ON l.id = tl.location_id
           LEFT JOIN utility_lines u ON u.id = t.feature_id::bigint AND u.network = 'lighting'
           LEFT JOIN streets s ON s.id = (t.properties ->> 'street_id')::bigint
           WHERE t.layer = 'utility_lines'
             AND (u.id IS NULL OR ST_Distance(u.geom::geography, l.location::geography) > 1
                  OR s.id IS NULL OR t.district IS DISTINCT FROM u.district
                  OR ST_Distance(s.geom::geography, l.location::geography) > 500)"""
    ).fetchone()[0]
    assert unlinked == 0
    # each air sensor lies in its district; each meter is at its facility, of its network
    misplaced = db.execute(
        """SELECT count(*) FROM sta_things t
           JOIN sta_thing_locations tl ON tl.thing_id = t.id
           JOIN sta_locations l ON l.id = tl.location_id
           LEFT JOIN districts d ON t.layer = 'districts' AND d.id = t.feature_id::bigint
           LEFT JOIN utility_facilities f
                  ON t.layer = 'utility_facilities' AND f.id = t.feature_id::bigint
           WHERE t.layer IN ('districts', 'utility_facilities')
             AND NOT coalesce(ST_Intersects(d.geom, l.location) AND d.name_en = t.district,
                              ST_DWithin(f.geom, l.location, 1e-9), false)"""
    ).fetchone()[0]
    assert misplaced == 0
    units = dict(
        db.execute(
            """SELECT d.properties -> 'simulation' ->> 'kind',
                      string_agg(DISTINCT d.result_kind || ' ' ||
                                 (d.unit_of_measurement ->> 'symbol'), ',')
               FROM sta_datastreams d WHERE d.properties ? 'simulation' GROUP BY 1"""
        ).fetchall()
    )
    assert units == {
        "lamp": "boolean ",
        "air": "number µg/m³",
        "water": "number m³/h",
        "heating": "number m³/h",
        "power": "number kW",
    }
    # the last 24 hours are there for the time slider: an air sensor every 10 minutes
    per_sensor = db.execute(
        """SELECT min(n), max(n) FROM (
               SELECT d.id, count(o.*) AS n FROM sta_datastreams d
               JOIN sta_observations o ON o.datastream_id = d.id
                AND o.phenomenon_time > d.latest_time - interval '24 hours'
                AND o.phenomenon_time <= d.latest_time
               WHERE d.properties -> 'simulation' ->> 'kind' = 'air' GROUP BY d.id) per"""
    ).fetchone()
    assert per_sensor[0] >= 144
    # the sensors layer holds every Thing, each with its latest value
    demo_sensors = db.execute(
        "SELECT count(*), count(value) FROM sensors WHERE provider = ANY(%s)",
        ([name for name, _ in demo.PROVIDERS.values()],),
    ).fetchone()
    assert demo_sensors == (4675, 4675)


def test_a_lamp_reported_off_at_night_unlights_its_street(demo_city, restored):
    db = restored
    lamps = db.execute(
        """SELECT DISTINCT ON (t.properties ->> 'street_id') d.id,
                  (t.properties ->> 'street_id')::bigint, t.properties ->> 'street'
           FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
           WHERE t.layer = 'utility_lines'
           ORDER BY t.properties ->> 'street_id', d.id LIMIT 2"""
    ).fetchall()
    (broken, broken_street, street_name), (working, working_street, _) = lamps
    sunset = model.sun_times(NIGHT)[1]
    assert local(16, 30) < sunset < local(17)  # 16:42 in mid-January
    post(
        db,
        [
            (broken, sunset + timedelta(minutes=4), True),  # on at dusk...
            (broken, local(22), False),  # ...then off at 22:00
            (working, sunset + timedelta(minutes=6), True),  # on all night
        ],
    )
    derived.refresh(db, now=local(23))
    faults = db.execute(
        "SELECT street_id, street, lamps_off, lamps, since FROM lamp_faults"
    ).fetchall()
    lamps_on_street = db.execute(
        "SELECT count(*) FROM sta_things WHERE (properties ->> 'street_id')::bigint = %s",
        (broken_street,),
    ).fetchone()[0]
    assert faults == [(broken_street, street_name, 1, lamps_on_street, local(22))]
    # the next day the night is still judged: the street stays listed until the lamp is on
    derived.refresh(db, now=local(12, day=NIGHT + timedelta(days=1)))
    assert [r[0] for r in db.execute("SELECT street_id FROM lamp_faults")] == [broken_street]
    assert working_street != broken_street


def test_a_district_with_high_pm25_exceeds_the_baseline(demo_city, restored):
    db = restored
    sensors = db.execute(
        """SELECT d.id, t.district FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
           WHERE t.layer = 'districts' AND t.district IN ('Turksib', 'Medeu') ORDER BY d.id"""
    ).fetchall()
    start = local(0)
    rows = []
    for ds, district in sensors:
        value = 120.0 if district == "Turksib" else 20.0
        rows += [(ds, start + timedelta(minutes=10 * k), value) for k in range(144)]
    post(db, rows)
    derived.refresh(db, now=local(23, 59))
    air = {
        r[0]: r[1:]
        for r in db.execute(
            """SELECT district, pm25_24h, pm25_max_24h, over_baseline, exceeds_baseline,
                      exceeds_daily_norm FROM district_air_quality"""
        )
    }
    assert len(air) == 8
    assert air["Turksib"] == (120.0, 120.0, round(120 / 36 - 1, 3), True, True)
    assert air["Medeu"] == (20.0, 20.0, round(20 / 36 - 1, 3), False, False)
    assert air["Almaly"][0] is None  # no observations that day: no figure, no verdict


def test_the_leaking_facility_is_flagged_and_the_others_are_not(demo_city, db):
    derived.refresh(db)
    streams = [s for s in model.demo_streams(db) if s.kind in ("water", "heating", "power")]
    leaking = [s for s in streams if s.params.get("leak")]
    assert len(leaking) == 1 and len(streams) > 200
    facility = db.execute(
        "SELECT feature_id::bigint FROM sta_things WHERE id = (SELECT thing_id "
        "FROM sta_datastreams WHERE id = %s)",
        (leaking[0].id,),
    ).fetchone()[0]
    flagged = db.execute(
        "SELECT facility_id, network, provider, night_ratio, threshold FROM meter_deviations"
    ).fetchall()
    assert [(f, n, p) for f, n, p, _, _ in flagged] == [(facility, "water", "Almaty Su")]
    assert flagged[0][3] > flagged[0][4] == derived.NIGHT_FLOW_THRESHOLD


def test_live_figures_follow_the_sensors_with_their_time(demo_city, db):
    derived.refresh(db)
    live = derived.live_figures(db)
    air = [s for s in model.demo_streams(db) if s.kind == "air"]
    latest = dict(db.execute("SELECT id, latest_time FROM sta_datastreams").fetchall())
    # the value model at each sensor's latest time, by hand: the city mean of PM2.5 now
    expected = np.mean(
        [model.pm25([s], np.array([latest[s.id].timestamp()]), 1)[0, 0] for s in air]
    )
    assert live["pm25_now"]["value"] == pytest.approx(expected, abs=0.06)
    assert live["pm25_now"]["sensors"] == 45
    assert live["pm25_now"]["time"] == max(latest[s.id] for s in air).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    lit = live["lit_share_now"]
    assert 0 < lit["value"] <= lit["lit_by_network"] <= 1
    faults = db.execute("SELECT count(*) FROM lamp_faults").fetchone()[0]
    assert lit["streets_unlit_by_faults"] == faults
    assert (lit["value"] < lit["lit_by_network"]) == (faults > 0)
    assert live["meters_deviating"]["value"] == 1


def test_the_sensors_tile_at_an_instant_shows_each_sensors_value_then(demo_city, db):
    layer = get_layer("sensors")
    assert layer.tile_at == "sensors_city/tile_at"
    sensor = db.execute(
        """SELECT s.datastream, ST_X(s.geom), ST_Y(s.geom) FROM sensors s
           WHERE s.kind = 'air' ORDER BY s.datastream LIMIT 1"""
    ).fetchone()
    ds, lon, lat = sensor
    then = db.execute(
        "SELECT latest_time - interval '6 hours' FROM sta_datastreams WHERE id = %s", (ds,)
    ).fetchone()[0]
    z = 14
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * 2**z)
    tile = db.execute(
        query("sensors_city/tile_at"),
        {"layer_name": "sensors", "z": z, "x": x, "y": y, "at": then},
    ).fetchone()[0]
    features = mapbox_vector_tile.decode(bytes(tile))["sensors"]["features"]
    mine = [f["properties"] for f in features if f["properties"]["datastream"] == ds]
    value_then = db.execute(
        """SELECT result_number FROM sta_observations WHERE datastream_id = %s
           AND phenomenon_time <= %s ORDER BY phenomenon_time DESC LIMIT 1""",
        (ds, then),
    ).fetchone()[0]
    assert mine and mine[0]["value"] == pytest.approx(value_then)

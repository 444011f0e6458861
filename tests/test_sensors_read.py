"""SensorThings reads at /sta/v1.1 (issue #20): a client walks the links, filters, expands and
pages through a small hand-made set of sensors whose answers are known by hand.

The set is written with SQL (as the ingest stores it: latest_* on the Datastream, the day's
partition made first): three Things of the twin (two lamps and an air sensor in Turksib and
Almaly), their Locations, two Sensors, two ObservedProperties, three Datastreams and a day of
PM2.5 at one-minute resolution (1,440 Observations) yesterday. Names start with "Story " so
other modules' sensors in the session's database do not change the answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.sensors import odata
from twin.settings import get_settings
from twin.sqlfiles import query

DAY = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
)
MINUTES = 1440


def pm25(minute: int) -> float:
    """The air sensor's reading at a minute of the day: a saw tooth from 10 to 59 µg/m³."""
    return 10.0 + minute % 50


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def story(database_url: str) -> Iterator[dict[str, Any]]:
    """The hand-made sensors; their ids by name."""
    ids: dict[str, Any] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        forget_the_story(conn)  # a run before this one on the same database

        def one(statement: str, *params: Any) -> int:
            return conn.execute(statement, params).fetchone()[0]

        provider = one(
            "INSERT INTO sta_providers (name) VALUES ('Story provider') "
            "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id"
        )
        things = [
            ("Story lamp 1", "lighting", "101", "Turksib", '{"model": "LED-90", "watts": 90}'),
            ("Story lamp 2", "lighting", "102", "Almaly", '{"model": "LED-60", "watts": 60}'),
            ("Story air Turksib", "districts", "7", "Turksib", '{"model": "PMS5003"}'),
        ]
        places = [(76.95, 43.30), (76.92, 43.25), (76.97, 43.31)]
        for (name, layer, feature, district, props), (x, y) in zip(things, places, strict=True):
            thing = one(
                "INSERT INTO sta_things (name, description, properties, provider_id, layer, "
                "feature_id, district) VALUES (%s, 'a story Thing', %s, %s, %s, %s, %s) "
                "RETURNING id",
                name,
                props,
                provider,
                layer,
                feature,
                district,
            )
            location = one(
                "INSERT INTO sta_locations (name, location) VALUES "
                "(%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
                f"Story place of {name}",
                x,
                y,
            )
            conn.execute("INSERT INTO sta_thing_locations VALUES (%s, %s)", (thing, location))
            ids[name] = thing
            ids["Location " + name] = location
        historical = one(
            "INSERT INTO sta_historical_locations (thing_id, time) VALUES (%s, %s) RETURNING id",
            ids["Story lamp 1"],
            DAY,
        )
        conn.execute(
            "INSERT INTO sta_location_history VALUES (%s, %s)",
            (historical, ids["Location Story lamp 1"]),
        )
        ids["historical"] = historical
        driver = one("INSERT INTO sta_sensors (name) VALUES ('Story LED driver') RETURNING id")
        counter = one("INSERT INTO sta_sensors (name) VALUES ('Story PM counter') RETURNING id")
        power = one(
            "INSERT INTO sta_observed_properties (name, definition) VALUES "
            "('Story lamp on', 'https://example.org/lamp-on') RETURNING id"
        )
        pm = one(
            "INSERT INTO sta_observed_properties (name, definition) VALUES "
            "('Story PM2.5', 'https://example.org/pm25') RETURNING id"
        )
        streams = [
            ("Story lamp 1 on", "boolean", "Story lamp 1", driver, power, "{}"),
            ("Story lamp 2 on", "boolean", "Story lamp 2", driver, power, "{}"),
            (
                "Story PM2.5 Turksib",
                "number",
                "Story air Turksib",
                counter,
                pm,
                '{"name": "microgram per cubic metre", "symbol": "µg/m³"}',
            ),
        ]
        for name, kind, thing, sensor, prop, unit in streams:
            ids[name] = one(
                "INSERT INTO sta_datastreams (name, observation_type, result_kind, "
                "unit_of_measurement, thing_id, sensor_id, observed_property_id, observed_area) "
                "VALUES (%s, 'http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                "OM_Measurement', %s, %s, %s, %s, %s, ST_Buffer(ST_SetSRID(ST_MakePoint("
                "76.97, 43.31), 4326), 0.01)) RETURNING id",
                name,
                kind,
                unit,
                ids[thing],
                sensor,
                prop,
            )
        feature = one(
            "INSERT INTO sta_features_of_interest (name, feature) VALUES "
            "('Story Turksib air', ST_SetSRID(ST_MakePoint(76.97, 43.31), 4326)) RETURNING id"
        )
        ids["feature"] = feature
        conn.execute("SELECT sta_observation_partition(%s::date)", (DAY.date(),))
        air = ids["Story PM2.5 Turksib"]
        with conn.cursor().copy(
            "COPY sta_observations (datastream_id, phenomenon_time, result_number, "
            "feature_of_interest_id) FROM STDIN"
        ) as copy:
            for minute in range(MINUTES):
                copy.write_row((air, DAY + dt.timedelta(minutes=minute), pm25(minute), feature))
        lamp_1, lamp_2 = ids["Story lamp 1 on"], ids["Story lamp 2 on"]
        lamp_rows = [  # lamp 1 goes off at 02:00 and on again at 18:00; lamp 2 failed at 01:00
            (lamp_1, DAY, "true", None),
            (lamp_1, DAY + dt.timedelta(hours=2), "false", None),
            (lamp_1, DAY + dt.timedelta(hours=18), "true", DAY + dt.timedelta(hours=19)),
            (lamp_2, DAY, "true", None),
            (lamp_2, DAY + dt.timedelta(hours=1), "false", None),
        ]
        for stream, time, result, end in lamp_rows:
            conn.execute(
                "INSERT INTO sta_observations (datastream_id, phenomenon_time, "
                "phenomenon_time_end, result_json) VALUES (%s, %s, %s, %s)",
                (stream, time, end, result),
            )
        for stream in (air, lamp_1, lamp_2):  # latest_* and the span, as an edit keeps them
            conn.execute(query("sensors/refresh_latest"), {"id": stream})
        ids["last air"] = conn.execute(
            "SELECT id FROM sta_observations WHERE datastream_id = %s ORDER BY phenomenon_time "
            "DESC LIMIT 1",
            (air,),
        ).fetchone()[0]
        yield ids
        forget_the_story(conn)


def forget_the_story(conn: psycopg.Connection) -> None:
    """Remove the story's entities (Observations have no foreign key: they go first)."""
    conn.execute(
        "DELETE FROM sta_observations WHERE datastream_id IN "
        "(SELECT id FROM sta_datastreams WHERE name LIKE 'Story %')"
    )
    for table in ("sta_things", "sta_locations", "sta_features_of_interest"):
        conn.execute(f"DELETE FROM {table} WHERE name LIKE 'Story %'")  # datastreams cascade
    conn.execute("DELETE FROM sta_sensors WHERE name LIKE 'Story %'")
    conn.execute("DELETE FROM sta_observed_properties WHERE name LIKE 'Story %'")


@pytest.fixture(scope="module")
def sta(server: Any, story: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/sta/v1.1", timeout=30) as client:
        yield client


def get(sta: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    response = sta.get(path, params=params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


def base(sta: httpx.Client) -> str:
    return str(sta.base_url).rstrip("/")


def names(body: dict[str, Any]) -> list[str]:
    return [entity["name"] for entity in body["value"]]


# ---- the service root and a client's walk ------------------------------------------------------


def test_the_root_lists_the_entity_sets_and_only_the_classes_served(server: Any) -> None:
    response = httpx.get(server.url + "/sta/v1.1", timeout=30)
    assert response.status_code == 200, response.text
    root = response.json()
    sets = {item["name"]: item["url"] for item in root["value"]}
    assert set(sets) == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    }
    assert sets["Things"].endswith("/sta/v1.1/Things")
    conformance = root["serverSettings"]["conformance"]
    assert "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data" in conformance
    assert all(
        c.startswith("http://www.opengis.net/spec/iot_sensing/1.1/req/") for c in conformance
    )


def test_a_client_walks_from_things_to_observations_by_the_links(
    sta: httpx.Client, story: dict[str, Any]
) -> None:
    things = get(sta, "Things", **{"$filter": "startswith(name, 'Story ')", "$orderby": "name"})
    assert names(things) == ["Story air Turksib", "Story lamp 1", "Story lamp 2"]
    air = things["value"][0]
    assert air["@iot.id"] == story["Story air Turksib"]
    assert air["properties"] == {
        "model": "PMS5003",
        "layer": "districts",
        "featureId": "7",
        "district": "Turksib",
    }

    def follow(link: str, **params: str) -> dict[str, Any]:
        response = httpx.get(link, params=params, timeout=30)
        assert response.status_code == 200, (link, response.text)
        return response.json()

    me = follow(air["@iot.selfLink"])
    assert me == air
    places = follow(air["Locations@iot.navigationLink"])["value"]
    assert places[0]["location"] == {"type": "Point", "coordinates": [76.97, 43.31]}
    assert places[0]["encodingType"] == "application/geo+json"
    streams = follow(air["Datastreams@iot.navigationLink"])["value"]
    assert [s["name"] for s in streams] == ["Story PM2.5 Turksib"]
    stream = streams[0]
    assert stream["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert stream["observedArea"]["type"] == "Polygon"
    day_end = DAY + dt.timedelta(minutes=MINUTES - 1)
    assert stream["phenomenonTime"] == f"{iso(DAY)}/{iso(day_end)}"
    page = follow(stream["Observations@iot.navigationLink"], **{"$top": "3"})
    assert [o["result"] for o in page["value"]] == [10.0, 11.0, 12.0]
    assert page["value"][0]["phenomenonTime"] == iso(DAY)
    first = page["value"][0]
    back = follow(first["Datastream@iot.navigationLink"])
    assert back["@iot.id"] == stream["@iot.id"]
    assert follow(first["FeatureOfInterest@iot.navigationLink"])["name"] == "Story Turksib air"
    owner = follow(first["@iot.selfLink"] + "/Datastream/Thing")
    assert owner["name"] == "Story air Turksib"
    assert "@iot.nextLink" in page


def test_properties_values_references_and_missing_entities(
    sta: httpx.Client, story: dict[str, Any]
) -> None:
    lamp = story["Story lamp 1"]
    assert get(sta, f"Things({lamp})/name") == {"name": "Story lamp 1"}
    value = sta.get(f"Things({lamp})/name/$value")
    assert value.status_code == 200 and value.text == "Story lamp 1"
    refs = get(sta, f"Things({lamp})/Datastreams/$ref")
    assert refs["value"] == [
        {"@iot.selfLink": f"{base(sta)}/Datastreams({story['Story lamp 1 on']})"}
    ]
    history = get(sta, f"Locations({story['Location Story lamp 1']})/HistoricalLocations")
    assert [h["time"] for h in history["value"]] == [iso(DAY)]
    assert get(sta, f"HistoricalLocations({story['historical']})/Thing/name") == {
        "name": "Story lamp 1"
    }
    interval = get(
        sta,
        f"Datastreams({story['Story lamp 1 on']})/Observations",
        **{"$filter": "result eq true", "$orderby": "phenomenonTime desc", "$top": "1"},
    )["value"][0]
    assert interval["phenomenonTime"] == (
        f"{iso(DAY + dt.timedelta(hours=18))}/{iso(DAY + dt.timedelta(hours=19))}"
    )
    for path in (
        "Things(999999999)",
        "Things(999999999)/Datastreams",
        "Things(1)/Nothing",
        "Things(abc)",
        f"Things({lamp})/name/$value/more",
        "Observations(0)/Datastream",
    ):
        response = sta.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "NotFound"


# ---- $filter: each kind with an answer known by hand ------------------------------------------


def expected_minutes(test) -> int:
    return sum(1 for minute in range(MINUTES) if test(minute))


FILTERS = [
    # (query on the air Datastream's Observations, how many of the 1,440 pass)
    ("result gt 36", expected_minutes(lambda m: pm25(m) > 36)),
    ("result ge 36 and result le 40", expected_minutes(lambda m: 36 <= pm25(m) <= 40)),
    ("not (result lt 59)", expected_minutes(lambda m: pm25(m) >= 59)),
    ("result eq 10 or result eq 11", expected_minutes(lambda m: pm25(m) in (10, 11))),
    ("result sub 10 mod 50 eq 0", expected_minutes(lambda m: (pm25(m) - 10) % 50 == 0)),
    ("(result add 2) mul 2 div 4 gt 30", expected_minutes(lambda m: (pm25(m) + 2) / 2 > 30)),
    ("result div 0 eq 1", 0),
    ("-result lt -58", expected_minutes(lambda m: pm25(m) > 58)),
    ("hour(phenomenonTime) eq 13", 60),
    ("minute(phenomenonTime) eq 0 and hour(phenomenonTime) lt 6", 6),
    ("second(phenomenonTime) eq 0 and year(phenomenonTime) eq " + str(DAY.year), MINUTES),
    (f"month(phenomenonTime) eq {DAY.month} and day(phenomenonTime) eq {DAY.day}", MINUTES),
    (f"phenomenonTime ge {iso(DAY + dt.timedelta(hours=23))}", 60),
    (f"phenomenonTime lt '{iso(DAY + dt.timedelta(minutes=90))}'", 90),
    ("phenomenonTime lt now()", MINUTES),
    (f"date(phenomenonTime) eq {DAY.date().isoformat()}", MINUTES),
    ("Datastream/ObservedProperty/name eq 'Story PM2.5'", MINUTES),
    ("Datastream/Thing/properties/district eq 'Turksib'", MINUTES),
    ("Datastream/Thing/properties/watts gt 0", 0),
    ("FeatureOfInterest/name eq 'Story Turksib air'", MINUTES),
    (
        "geo.intersects(FeatureOfInterest/feature, geography'POLYGON((76.9 43.2, 77 43.2, "
        "77 43.4, 76.9 43.4, 76.9 43.2))')",
        MINUTES,
    ),
    ("geo.distance(FeatureOfInterest/feature, geography'POINT(76.97 43.32)') lt 1200", MINUTES),
    ("geo.distance(FeatureOfInterest/feature, geography'POINT(76.97 43.32)') lt 1000", 0),
    ("resultTime eq null and phenomenonTime ne null", MINUTES),
]


@pytest.mark.parametrize(("condition", "count"), FILTERS)
def test_each_filter_kind_counts_what_it_should(
    sta: httpx.Client, story: dict[str, Any], condition: str, count: int
) -> None:
    body = get(
        sta,
        f"Datastreams({story['Story PM2.5 Turksib']})/Observations",
        **{"$filter": condition, "$count": "true", "$top": "0"},
    )
    assert body["@iot.count"] == count, condition


THING_FILTERS = [
    ("properties/district eq 'Turksib'", ["Story air Turksib", "Story lamp 1"]),
    ("properties/watts ge 60 and properties/layer eq 'lighting'", ["Story lamp 1", "Story lamp 2"]),
    ("substringof('lamp', name)", ["Story lamp 1", "Story lamp 2"]),
    ("contains(name, 'air')", ["Story air Turksib"]),
    ("endswith(name, ' 2')", ["Story lamp 2"]),
    ("length(name) eq 12", ["Story lamp 1", "Story lamp 2"]),
    ("tolower(name) eq 'story air turksib'", ["Story air Turksib"]),
    ("toupper(properties/model) eq 'LED-90'", ["Story lamp 1"]),
    ("indexof(name, 'air') eq 6", ["Story air Turksib"]),
    ("substring(name, 6, 4) eq 'lamp'", ["Story lamp 1", "Story lamp 2"]),
    ("st_within(Locations/location, geography'POINT(0 0)')", None),  # a collection: 400
    ("name eq 'x''; DROP TABLE sta_things; --'", []),
]


@pytest.mark.parametrize(("condition", "expected"), THING_FILTERS)
def test_things_by_their_properties_and_the_string_functions(
    sta: httpx.Client, condition: str, expected: list[str] | None
) -> None:
    response = sta.get(
        "Things",
        params={"$filter": f"startswith(name, 'Story') and ({condition})", "$orderby": "name"},
    )
    if expected is None:
        assert response.status_code == 400 and "collection" in response.json()["description"]
        return
    assert response.status_code == 200, response.text
    assert names(response.json()) == expected


def test_locations_near_a_point_and_the_boolean_results(
    sta: httpx.Client, story: dict[str, Any]
) -> None:
    near = get(
        sta,
        "Locations",
        **{
            "$filter": "geo.distance(location, geography'POINT(76.95 43.30)') lt 100 and "
            "startswith(name, 'Story')"
        },
    )
    assert names(near) == ["Story place of Story lamp 1"]
    off = get(
        sta,
        "Observations",
        **{
            "$filter": "result eq false and startswith(Datastream/name, 'Story lamp')",
            "$orderby": "Datastream/name,phenomenonTime",
            "$select": "result,phenomenonTime",
        },
    )
    assert off["value"] == [
        {"result": False, "phenomenonTime": iso(DAY + dt.timedelta(hours=2))},
        {"result": False, "phenomenonTime": iso(DAY + dt.timedelta(hours=1))},
    ]


# ---- $expand, $select, $orderby --------------------------------------------------------------


def test_nested_expand_with_options(sta: httpx.Client, story: dict[str, Any]) -> None:
    body = get(
        sta,
        f"Things({story['Story lamp 1']})",
        **{
            "$select": "name",
            "$expand": "Datastreams($select=name;$expand=ObservedProperty($select=name),"
            "Observations($orderby=phenomenonTime desc;$top=2;$count=true;"
            "$filter=result eq true or result eq false)),Locations($select=id)",
        },
    )
    assert body == {
        "name": "Story lamp 1",
        "Datastreams": [
            {
                "name": "Story lamp 1 on",
                "ObservedProperty": {"name": "Story lamp on"},
                "Observations@iot.count": 3,
                "Observations": [
                    {
                        "@iot.selfLink": body["Datastreams"][0]["Observations"][0]["@iot.selfLink"],
                        "@iot.id": body["Datastreams"][0]["Observations"][0]["@iot.id"],
                        "phenomenonTime": f"{iso(DAY + dt.timedelta(hours=18))}/"
                        f"{iso(DAY + dt.timedelta(hours=19))}",
                        "resultTime": None,
                        "result": True,
                        "resultQuality": None,
                        "validTime": None,
                        "parameters": None,
                        "Datastream@iot.navigationLink": body["Datastreams"][0]["Observations"][0][
                            "@iot.selfLink"
                        ]
                        + "/Datastream",
                        "FeatureOfInterest@iot.navigationLink": body["Datastreams"][0][
                            "Observations"
                        ][0]["@iot.selfLink"]
                        + "/FeatureOfInterest",
                    },
                    body["Datastreams"][0]["Observations"][1],
                ],
            }
        ],
        "Locations": [{"@iot.id": story["Location Story lamp 1"]}],
    }
    assert body["Datastreams"][0]["Observations"][1]["result"] is False


def test_the_latest_reading_fast_path_answers_like_the_general_one(
    sta: httpx.Client, story: dict[str, Any]
) -> None:
    filters = {"$filter": "startswith(name, 'Story')", "$orderby": "name"}
    fast = get(
        sta,
        "Datastreams",
        **filters,
        **{"$expand": "Observations($top=1;$orderby=phenomenonTime desc)"},
    )
    general = get(
        sta,
        "Datastreams",
        **filters,
        **{"$expand": "Observations($top=1;$orderby=phenomenonTime desc,id)"},
    )
    assert fast == general
    latest = {d["name"]: d["Observations"][0] for d in fast["value"]}
    assert latest["Story PM2.5 Turksib"]["@iot.id"] == story["last air"]
    assert latest["Story PM2.5 Turksib"]["result"] == pm25(MINUTES - 1)
    assert latest["Story lamp 2 on"]["result"] is False
    nested = get(
        sta,
        "Things",
        **{
            "$filter": "startswith(name, 'Story')",
            "$orderby": "name",
            "$select": "name",
            "$expand": "Datastreams($select=name;$expand=Observations($top=1;"
            "$orderby=phenomenonTime desc;$select=result))",
        },
    )
    assert nested["value"][0] == {
        "name": "Story air Turksib",
        "Datastreams": [
            {"name": "Story PM2.5 Turksib", "Observations": [{"result": pm25(MINUTES - 1)}]}
        ],
    }


def test_a_datastreams_day_is_one_primary_key_range_in_its_day_partition(
    db: psycopg.Connection, story: dict[str, Any]
) -> None:
    from twin.sensors.read import explain

    start, end = DAY + dt.timedelta(hours=6), DAY + dt.timedelta(hours=7)
    plan = explain(
        db,
        f"Datastreams({story['Story PM2.5 Turksib']})/Observations",
        [
            ("$filter", f"phenomenonTime ge {iso(start)} and phenomenonTime lt {iso(end)}"),
            ("$orderby", "phenomenonTime"),
            ("$top", "1440"),
        ],
    )
    partition = f"sta_observations_{DAY:%Y%m%d}"
    assert partition in plan, plan
    assert "sta_observations_default" not in plan, plan
    # the page is cut from the index range in its order: no sort of the day under the Limit
    # (the page's own JSON is ordered again above it: at most $top rows)
    assert re.search(r"Limit .*\n\s+->  Index (Only )?Scan using \S+ on " + partition, plan), plan


# ---- paging --------------------------------------------------------------------------------------


def test_paging_by_next_links_reaches_the_end_without_duplicates(
    sta: httpx.Client, story: dict[str, Any]
) -> None:
    first = get(
        sta,
        f"Datastreams({story['Story PM2.5 Turksib']})/Observations",
        **{"$filter": "result ge 50", "$count": "true", "$top": "100", "$select": "id,result"},
    )
    seen, pages, body = [], 0, first
    while True:
        pages += 1
        seen += [o["@iot.id"] for o in body["value"]]
        assert all(o["result"] >= 50 for o in body["value"])
        if "@iot.nextLink" not in body:
            break
        link = body["@iot.nextLink"]
        assert link.startswith(base(sta) + "/Datastreams(")
        body = httpx.get(link, timeout=30).json()
    assert (
        len(seen)
        == len(set(seen))
        == first["@iot.count"]
        == expected_minutes(lambda m: pm25(m) >= 50)
    )
    assert pages == -(-len(seen) // 100)
    capped = get(sta, "Observations", **{"$top": "20000", "$select": "id"})
    assert len(capped["value"]) <= get_settings().sensors.max_top


# ---- hostile and wrong queries ------------------------------------------------------------

HOSTILE = [
    ({"$filter": "(" * 40 + "result gt 1" + ")" * 40}, "nested too deeply"),
    ({"$filter": "not " * 40 + "result gt 1"}, "nested too deeply"),
    ({"$filter": "- " * 40 + "result gt 1"}, "nested too deeply"),
    ({"$filter": " or ".join(["result eq 1"] * 400)}, "too large"),
    ({"$filter": "name eq '" + "x" * 9000 + "'"}, "too long"),
    ({"$filter": "result gt 99999999999999999999999"}, "beyond"),
    ({"$filter": "result gt 1e400"}, "finite"),
    ({"$filter": "result mul 1e300 mul 1e300 gt 1"}, "could not be evaluated"),
    ({"$filter": "drop(name) eq 1"}, "unknown function 'drop'"),
    ({"$filter": "secret eq 1"}, "no property 'secret'"),
    ({"$filter": "phenomenonTime eq 1"}, "compares a datetime with a number"),
    ({"$filter": "result gt 1 gt 2"}, "do not chain"),
    ({"$filter": "result gt"}, "ends too early"),
    ({"$filter": "result gt 1;"}, "unexpected"),
    ({"$filter": "substringof(name)"}, "takes 2"),
    (
        {"$filter": "geo.intersects(FeatureOfInterest/feature, geography'POINT(500 500)')"},
        "longitude/latitude",
    ),
    ({"$filter": "geo.intersects(FeatureOfInterest/feature, geography'POINT(1')"}, "not valid WKT"),
    ({"$filter": "phenomenonTime gt 2026-13-45T25:00:00Z"}, "not a date-time"),
    ({"$filter": "phenomenonTime gt 'yesterday'"}, "not a date-time"),
    ({"$orderby": "Datastream"}, "name one of its properties"),
    ({"$select": "id,password"}, "no 'password'"),
    ({"$expand": "Secrets"}, "no 'Secrets'"),
    ({"$expand": "Datastream($expand=" * 40 + "Thing" + ")" * 40}, "nested too deeply"),
    ({"$expand": "Datastream($top=-1)"}, "non-negative"),
    ({"$top": "ten"}, "non-negative"),
    ({"$count": "yes"}, "true or false"),
    ({"$format": "csv"}, "unknown option"),
    ({"$filter": "'\\' or 1=1 --"}, "unexpected"),
]


@pytest.mark.parametrize(("params", "words"), HOSTILE)
def test_hostile_and_wrong_queries_are_a_400_naming_the_problem(
    sta: httpx.Client, params: dict[str, str], words: str
) -> None:
    response = sta.get("Observations", params=params)
    assert response.status_code == 400, (params, response.text[:300])
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert words in body["description"], body["description"]


# ---- the bounds, at and beyond, by property ----------------------------------------------------


LIMITS = get_settings().sensors


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    depth=st.integers(min_value=1, max_value=LIMITS.query_max_depth + 8),
    kind=st.sampled_from(["(", "not (", "- (", "tolower("]),
)
def test_the_depth_bound_holds_exactly(depth: int, kind: str) -> None:
    leaf = "name" if kind == "tolower(" else "result gt 1"
    text = kind * depth + leaf + ")" * depth
    if kind == "tolower(":
        text += " eq 'x'"
    levels = depth * (2 if kind in ("not (", "- (") else 1)
    if levels <= LIMITS.query_max_depth:
        assert odata.parse_filter(text) is not None
    else:
        with pytest.raises(odata.QueryOptionError, match="nested too deeply"):
            odata.parse_filter(text)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"()' -,/ab1.:TZ;=$", "eq", " and ", "not ", "$top=", "$expand="]),
        max_size=300,
    ).map("".join)
)
def test_any_text_is_a_tree_or_a_400_never_a_crash(text: str) -> None:
    try:
        odata.parse_filter(text)
        odata.parse_expand(text or "x")
    except odata.QueryOptionError:
        pass


def test_the_node_and_length_bounds_are_exact() -> None:
    terms = LIMITS.query_max_nodes
    at_bound = " or ".join(["a eq 1"] * ((terms + 1) // 4))  # 4 terms a clause, minus one "or"
    assert len(odata.tokens(at_bound, "$filter")) <= terms
    odata.parse_filter(at_bound)
    with pytest.raises(odata.QueryOptionError, match="too large"):
        odata.parse_filter(at_bound + " or a eq 1")
    longest = "name eq '" + "x" * (LIMITS.query_max_length - 10) + "'"
    assert len(longest) == LIMITS.query_max_length
    odata.parse_filter(longest)
    with pytest.raises(odata.QueryOptionError, match="too long"):
        odata.parse_filter(longest + " ")


def test_a_read_that_runs_too_long_is_cut_and_named(
    story: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, over the session's database: a read beyond its time is a 400 naming the
    setting, and the pooled connection answers the next read."""
    from twin.sensors.read import _answer

    path = f"Datastreams({story['Story PM2.5 Turksib']})/Observations"
    heavy = [
        ("$filter", "geo.distance(FeatureOfInterest/feature, geography'POINT(76.9 43.2)') gt 0"),
        ("$count", "true"),
        ("$orderby", "Datastream/Thing/name,result desc"),
    ]
    monkeypatch.setenv("TWIN_STA_STATEMENT_TIMEOUT_MS", "1")
    with pytest.raises(odata.QueryOptionError, match="TWIN_STA_STATEMENT_TIMEOUT_MS"):
        _answer(path, heavy, "http://twin/sta/v1.1")
    monkeypatch.delenv("TWIN_STA_STATEMENT_TIMEOUT_MS")
    answer = _answer(path, [("$top", "1"), ("$select", "result")], "http://twin/sta/v1.1")
    assert answer.status_code == 200 and b'"result"' in answer.body

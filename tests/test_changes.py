"""A resident follows what is built and lit in their district: an editor adds a lighting line
along an unlit street, and the public change feeds (JSON Feed, Atom), the monthly summary and
the change_events collection say how many streets it lit there, in English, Russian and
Kazakh."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from test_editing import add_user, write
from test_history import instant
from twin.changes.phrases import counted, russian_form, title

ATOM = "{http://www.w3.org/2005/Atom}"

# The streets a new lighting line newly lights, by the rule of twin.mobility.lighting written
# again in PostGIS (75% of a segment's length within 15 m of a lighting line): before with the
# other lighting lines around, after with the new line too.
NEWLY_LIT = """
WITH line AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(%(line)s), 4326), 32643) AS g),
near AS (
    SELECT s.id, s.name, ST_Transform(s.geom, 32643) AS g
    FROM streets s, line
    WHERE ST_DWithin(ST_Transform(s.geom, 32643), line.g, 15)),
others AS (
    SELECT coalesce(ST_Union(ST_Buffer(ST_Transform(u.geom, 32643), 15)), 'POLYGON EMPTY') AS g
    FROM utility_lines u, line
    WHERE u.network = 'lighting' AND u.id <> %(id)s
      AND ST_DWithin(ST_Transform(u.geom, 32643), line.g, 2000))
SELECT count(DISTINCT n.name)
FROM near n, others o, line
WHERE ST_Length(ST_Intersection(n.g, ST_Union(o.g, ST_Buffer(line.g, 15))))
          >= 0.75 * ST_Length(n.g) - 1e-6
  AND ST_Length(ST_Intersection(n.g, o.g)) < 0.75 * ST_Length(n.g) - 1e-6
"""


def test_russian_counts_take_the_numeral_form():
    forms = {n: russian_form(n) for n in (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 112)}
    assert forms == {
        1: 0,
        2: 1,
        4: 1,
        5: 2,
        11: 2,
        12: 2,
        14: 2,
        21: 0,
        22: 1,
        25: 2,
        101: 0,
        111: 2,
        112: 2,
    }
    turksib = {"en": "Turksib", "ru": "Турксибский район", "kk": "Түрксіб ауданы"}
    assert title("lit", "street", 12, turksib, "en") == "12 streets lit in Turksib"
    assert title("lit", "street", 12, turksib, "ru") == "Турксибский район: освещены 12 улиц"
    assert title("lit", "street", 1, turksib, "ru") == "Турксибский район: освещена 1 улица"
    assert title("lit", "street", 3, turksib, "kk") == "Түрксіб ауданы: 3 көше жарықтандырылды"
    assert title("opened", "park", 1, None, "ru") == "Открыт 1 парк"
    assert title("built", "building", 21, None, "ru") == "Построено 21 здание"
    assert counted("building", 5, "ru") == "5 зданий"
    assert counted("school", 1, "en") == "1 school"


@pytest.fixture(scope="module")
def lighting_editor(demo_city) -> str:
    return add_user("editor", "utility_lines")


@pytest.fixture(scope="module")
def lines_made(database_url) -> list[int]:
    """The lighting lines the stories add, taken away after them (later stories count the
    demo's own network)."""
    made: list[int] = []
    yield made
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM utility_lines WHERE id = ANY(%s)", (made,))


def find_unlit_street(db) -> dict:
    """A named street segment in a district, 150 m or longer, with no lighting line within
    60 m: nothing lights it today."""
    row = db.execute(
        """
        SELECT s.id, s.name, ST_AsGeoJSON(s.geom), d.name_en, d.name_ru, d.name_kk
        FROM streets s
        JOIN districts d ON ST_Intersects(d.geom, ST_LineInterpolatePoint(s.geom, 0.5))
        WHERE s.name IS NOT NULL AND s.length_m > 150
          AND NOT EXISTS (SELECT 1 FROM utility_lines u WHERE u.network = 'lighting'
                          AND ST_DWithin(u.geom::geography, s.geom::geography, 60))
        ORDER BY s.id LIMIT 1
        """
    ).fetchone()
    assert row is not None, "the demo has no unlit named street"
    sid, name, geom, en, ru, kk = row
    return {"id": sid, "name": name, "geom": json.loads(geom), "en": en, "ru": ru, "kk": kk}


def test_a_lighting_line_added_lights_its_streets_in_the_district_feeds(
    server, db, lighting_editor, lines_made
):
    unlit_street = find_unlit_street(db)
    before = instant()
    coords = unlit_street["geom"]["coordinates"]
    line = {"type": "MultiLineString", "coordinates": [coords]}
    feature = {
        "type": "Feature",
        "geometry": line,
        "properties": {"network": "lighting", "district": unlit_street["en"]},
    }
    created = write(server, "POST", "/collections/utility_lines/items", lighting_editor, feature)
    assert created.status_code == 201, created.text
    fid = int(created.headers["Location"].rsplit("/", 1)[1])
    lines_made.append(fid)
    expected = db.execute(NEWLY_LIT, {"line": json.dumps(line), "id": fid}).fetchone()[0]
    assert expected >= 1  # the street under the line, at least

    district = unlit_street["en"]
    feed = server.get("/changes/feed.json", params={"district": district, "layer": "utility_lines"})
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("application/feed+json")
    body = feed.json()
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    mine = [i for i in body["items"] if i["_twin"]["feature_id"] == fid]
    assert len(mine) == 1, body["items"][:3]
    item = mine[0]
    assert item["_twin"]["kind"] == "lit" and item["_twin"]["district"] == district
    assert item["_twin"]["count"] == expected
    assert item["_twin"]["synthetic"] is False
    assert item["title"] == title("lit", "street", expected, None, "en") + f" in {district}"
    assert datetime.fromisoformat(item["date_published"]) >= datetime.fromisoformat(before)

    # the same event in Russian and Kazakh, the district asked for by its Russian name
    ru = server.get(
        "/changes/feed.json", params={"district": unlit_street["ru"], "lang": "ru"}
    ).json()
    ru_item = next(i for i in ru["items"] if i["id"] == item["id"])
    assert ru_item["title"].startswith(unlit_street["ru"] + ": ")
    assert ru_item["title"].endswith(counted("street", expected, "ru"))
    assert ru["language"] == "ru"

    atom = server.get("/changes/atom.xml", params={"district": district, "lang": "kk"})
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(atom.content)
    assert root.tag == f"{ATOM}feed"
    entries = {e.findtext(f"{ATOM}id"): e for e in root.iter(f"{ATOM}entry")}
    entry = entries[item["id"]]
    assert entry.findtext(f"{ATOM}title") == (
        f"{unlit_street['kk']}: {expected} көше жарықтандырылды"
    )
    assert {c.get("term") for c in entry.iter(f"{ATOM}category")} >= {"lit", district}

    # this month's summary counts it, and the collection finds it by its time
    month = datetime.now(UTC).strftime("%Y-%m")
    summary = server.get("/changes/summary", params={"district": district, "month": month})
    assert summary.status_code == 200, summary.text
    (row,) = summary.json()["districts"]
    lit = next(c for c in row["changes"] if c["kind"] == "lit" and not c["synthetic"])
    assert lit["count"] >= expected and lit["titles"]["ru"].startswith(unlit_street["ru"])
    items = server.get(
        "/collections/change_events/items",
        params={"datetime": f"{before}/..", "district": district, "f": "json", "limit": 100},
    )
    assert items.status_code == 200, items.text
    found = [f for f in items.json()["features"] if f["properties"]["change_id"] is not None]
    assert any(f["properties"]["feature_id"] == fid for f in found)
    old = server.get(
        "/collections/change_events/items",
        params={"datetime": f"../{before}", "district": district, "f": "json", "limit": 1000},
    ).json()
    assert not any(f["properties"]["feature_id"] == fid for f in old["features"])


def test_the_demo_year_of_changes_is_by_month_and_marked_synthetic(server, db):
    months = db.execute(
        "SELECT count(DISTINCT date_trunc('month', happened_at)), bool_and(synthetic) "
        "FROM change_events WHERE change_id IS NULL"
    ).fetchone()
    assert months == (12, True)
    listed = server.get("/indicators/trend").json()["kpis"]
    assert {"lit_share", "floor_area_built_m2"} <= {k["kpi"] for k in listed}
    assert all(k["href"] == f"/indicators/trend?kpi={k['kpi']}" for k in listed)
    trend = server.get("/indicators/trend", params={"kpi": "lit_share"}).json()
    values = [p["value"] for p in trend["trend"]]
    assert len(values) >= 12 and values == sorted(values)  # lighting only grows
    assert trend["baseline"]["year"] == 2022 and trend["target"]["value"] == 1.0
    built = server.get("/indicators/trend", params={"kpi": "floor_area_built_m2"}).json()
    assert sum(p["value"] for p in built["trend"]) > 1_506_300  # a year at 2022's pace or more
    # the collection links its feeds
    links = server.get("/collections/change_events", params={"f": "json"}).json()["links"]
    types = {link["type"] for link in links if link["rel"] == "alternate"}
    assert {"application/feed+json", "application/atom+xml"} <= types


@pytest.mark.parametrize(
    "path, params, names",
    [
        ("/changes/feed.json", {"lang": "fr"}, "lang must be one of en, ru, kk"),
        ("/changes/atom.xml", {"district": "Gotham"}, "unknown district 'Gotham'"),
        ("/changes/feed.json", {"layer": "streets"}, "layer must be one of"),
        ("/changes/summary", {"month": "2026-13"}, "month must be YYYY-MM"),
        ("/indicators/trend", {"kpi": "happiness"}, "kpi must be one of"),
        ("/changes/feed.json", {"colour": "red"}, "colour"),
    ],
)
def test_bad_feed_parameters_are_a_400_naming_them(server, path, params, names):
    response = server.get(path, params=params)
    assert response.status_code == 400, response.text
    assert names in response.json()["description"]

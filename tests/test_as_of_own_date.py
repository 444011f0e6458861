"""A GIS analyst's QGIS reads the parks of a past date through the SQL function
twin_layer_as_of(): the same parks the API's `datetime` gives, the layer's own date (`temporal:
opened_on`) applied as well as its history (issue #20)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest

from test_editing import square
from twin.catalog import get_layer
from twin.editing import VERSIONED_LAYERS

MAY, JULY = "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z"
TAG = "ASOD-"


@pytest.fixture(scope="module", autouse=True)
def parks_left_as_found(database_url):
    """Other modules count the demo's parks: the parks made here go at the end, as bulk loads
    go (no history rows, so no past map keeps them either)."""
    yield
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('twin.history', 'off', true)")
        conn.execute("DELETE FROM parks WHERE name LIKE %s", (f"{TAG}%",))


def load_parks(db: psycopg.Connection, *parks: tuple[str, dt.date | None, float]) -> list[int]:
    """Parks bulk-loaded as the demo and the imports load them: no history rows."""
    with db.transaction():
        db.execute("SELECT set_config('twin.history', 'off', true)")
        return [
            db.execute(
                "INSERT INTO parks (name, kind, status, opened_on, geom) VALUES "
                "(%s, %s, 'existing', %s, ST_Multi(ST_GeomFromGeoJSON(%s))) RETURNING id",
                (f"{TAG}{uuid.uuid4().hex[:8]}", kind, opened, json.dumps(square(lon, 43.2611))),
            ).fetchone()[0]
            for kind, opened, lon in parks
        ]


def from_sql(db: psycopg.Connection, when: str) -> list[int]:
    rows = db.execute("SELECT id FROM twin_layer_as_of('parks', %s)", (when,)).fetchall()
    return [fid for (fid,) in rows]


def from_api(server, when: str) -> tuple[set[int], int]:
    page = server.get(
        "/collections/parks/items", params={"datetime": when, "limit": 10000, "f": "json"}
    ).json()
    assert page["numberMatchedKind"] == "exact" and len(page["features"]) == page["numberMatched"]
    return {f["id"] for f in page["features"]}, page["numberMatched"]


def test_migrate_tells_the_database_each_versioned_layers_own_date(db):
    """layers/*.yml stays the one source: `twin migrate` wrote what the catalog says."""
    wanted = {
        (name, get_layer(name).temporal, get_layer(name).properties[get_layer(name).temporal].type)
        for name in VERSIONED_LAYERS
        if get_layer(name).temporal
    }
    assert ("parks", "opened_on", "date") in wanted
    assert set(db.execute("SELECT layer, field, kind FROM twin_own_time").fetchall()) == wanted


def test_a_square_opened_in_june_2024_is_on_july_s_map_in_sql_as_in_the_api(server, db, demo_city):
    square_id, garden_id = load_parks(
        db, ("square", dt.date(2024, 6, 15), 76.9611), ("green_zone", None, 76.9631)
    )
    may, july = from_sql(db, MAY), from_sql(db, JULY)
    assert square_id not in may and square_id in july  # not open yet in May
    assert garden_id in may and garden_id in july  # no opening date: the history decides
    # the API's `datetime` (items, downloads, tiles) gives the same parks, counted the same
    for when, listed in ((MAY, may), (JULY, july)):
        ids, matched = from_api(server, when)
        assert len(listed) == len(set(listed)) == matched
        assert set(listed) == ids


def test_a_park_edited_since_is_judged_by_its_own_date_then(server, db, demo_city):
    """A park loaded with its opening date and edited today: the past is its loaded version
    (from its history), whose own date decides whether it was open."""
    (park_id,) = load_parks(db, ("park", dt.date(2024, 6, 15), 76.9651))
    db.execute(
        "UPDATE parks SET opened_on = '2019-09-01', kind = 'boulevard' WHERE id = %s", (park_id,)
    )
    rows = dict(
        db.execute(
            "SELECT id, properties ->> 'opened_on' FROM twin_layer_as_of('parks', %s) "
            "WHERE id = %s",
            (JULY, park_id),
        ).fetchall()
    )
    assert rows == {park_id: "2024-06-15"}  # as loaded: the edit came later
    assert park_id not in from_sql(db, MAY)  # in May 2024 it had not opened as then recorded
    assert park_id not in from_api(server, MAY)[0]
    today = dt.datetime.now(dt.UTC).isoformat()
    assert park_id in from_sql(db, today) and park_id in from_api(server, today)[0]

"""An editor changes the city through the API and the published analysis follows by itself.

A school opens where plots lacked one, a plot is redrawn onto a fault, a park closes for
reconstruction: within seconds plot_metrics, fifteen_cells and the indicators say so, exactly as
a full `twin analyse` of the same data does, and undoing the edit brings the figures back.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import Server, run_twin
from twin.analysis.refresh import REFRESHER_NICENESS

GEOJSON = {"Content-Type": "application/geo+json"}
REFRESH_WAIT_S = 300  # a bound, not a timing assertion: the machine is shared
PLOT_COLUMNS = (
    "plot_id, min_education, min_healthcare, min_commerce, min_culture_sport, "
    "min_parks, min_transit, categories_15, all_six, missing, walkability, "
    "park_walk_m, park_300, park_500, seismic_intensity, nearest_fault, "
    "fault_distance_m, in_fault_setback, water_m, sewer_m, heating_m, gas_m, "
    "power_m, lighting_m, district, residents"
)


@pytest.fixture(scope="module")
def refreshing_server(analysed_city):
    """A server whose refresher is on (the session's shared server leaves it off), over a
    freshly analysed demo; the analysis is recomputed in full when the module ends."""
    srv = Server({"TWIN_ANALYSIS_REFRESH": "on"})
    try:
        wait_until_current(srv)
        # the refresher says when its start-up analysis is built (the first edit is then
        # incremental)
        deadline = time.monotonic() + REFRESH_WAIT_S
        while (state := freshness(srv)["refresher_state"]) != "ready":
            assert state == "building", state
            assert time.monotonic() < deadline, "the refresher never finished its start-up"
            time.sleep(0.3)
        yield srv
    finally:
        srv.stop()
        run_twin("analyse")


@pytest.fixture(scope="module")
def editor(refreshing_server) -> str:
    name = f"planner-{uuid.uuid4().hex[:6]}"
    out = run_twin(
        "users", "add", name, "--role", "editor", "--layers", "amenities,plots,parks"
    ).stdout
    return out.strip().splitlines()[-1]


def write(server: Server, method: str, path: str, key: str, body=None) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.url}{path}",
        headers=GEOJSON | {"X-API-Key": key},
        content=None if body is None else json.dumps(body),
        timeout=60,
    )


def freshness(server: Server) -> dict:
    response = server.get("/indicators")
    assert response.status_code == 200, response.text
    assert response.headers["X-Twin-Analysis"] == response.json()["freshness"]["status"]
    return response.json()["freshness"]


def wait_until_current(server: Server) -> dict:
    deadline = time.monotonic() + REFRESH_WAIT_S
    while time.monotonic() < deadline:
        state = freshness(server)
        if state["current"] and state["refresher_running"]:
            return state
        assert state["status"] in ("refreshing", "current"), state
        time.sleep(0.3)
    raise AssertionError(f"the analysis did not catch up with the edit: {freshness(server)}")


def plot_rows(db, ids) -> dict[int, tuple]:
    rows = db.execute(
        "SELECT " + PLOT_COLUMNS + " FROM plot_metrics WHERE plot_id = ANY(%s)", (list(ids),)
    ).fetchall()
    return {r[0]: r for r in rows}


def published(db, sample: list[int]) -> dict:
    """What a user reads: a sample of plots, every cell of the touched area, every district's
    and polycentre's row, and the city figures."""
    return {
        "plots": plot_rows(db, sample),
        "cells": db.execute(
            "SELECT h3, min_education, min_parks, categories_15, "
            "walkability, park_walk_m, missing FROM fifteen_cells "
            "ORDER BY h3"
        ).fetchall(),
        "districts": db.execute("SELECT * FROM district_indicators ORDER BY district").fetchall(),
        "polycentres": db.execute(
            "SELECT * FROM polycentre_indicators ORDER BY polycentre"
        ).fetchall(),
        "city": db.execute(
            "SELECT details -> 'city' FROM twin_layers WHERE name = 'district_indicators'"
        ).fetchone()[0],
    }


def strip_ids(state: dict) -> dict:
    """Row ids of the indicator tables are serial: compare everything else."""
    return {
        **state,
        "districts": [r[1:] for r in state["districts"]],
        "polycentres": [r[1:] for r in state["polycentres"]],
    }


def assert_matches_full_analysis(db, sample: list[int]) -> None:
    refreshed = strip_ids(published(db, sample))
    run_twin("analyse")
    assert strip_ids(published(db, sample)) == refreshed


def district_row(server: Server, name: str) -> dict:
    return next(d for d in server.get("/indicators").json()["districts"] if d["district"] == name)


def underserved_plots(db) -> tuple[list[int], float, float, str]:
    """Residential plots of one district more than 20 minutes from any school, and a point on
    the network among them."""
    row = db.execute(
        "SELECT m.district, ST_X(ST_PointOnSurface(m.geom)), ST_Y(ST_PointOnSurface(m.geom)) "
        "FROM plot_metrics m WHERE (m.min_education > 20 OR m.min_education IS NULL) "
        "AND m.residents > 0 AND m.district IS NOT NULL ORDER BY m.residents DESC, m.plot_id "
        "LIMIT 1"
    ).fetchone()
    district, lon, lat = row
    ids = [
        r[0]
        for r in db.execute(
            "SELECT plot_id FROM plot_metrics WHERE (min_education > 20 OR min_education IS NULL) "
            "AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, "
            "600) ORDER BY plot_id",
            (lon, lat),
        ).fetchall()
    ]
    return ids, lon, lat, district


def school(lon: float, lat: float) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": "School No. 217 (new)", "kind": "school", "category": "education"},
    }


def sample_of(db, near: list[int]) -> list[int]:
    others = [
        r[0]
        for r in db.execute(
            "SELECT plot_id FROM plot_metrics ORDER BY plot_id LIMIT 200"
        ).fetchall()
    ]
    return sorted(set(near) | set(others))


def test_a_new_school_reaches_the_plots_that_lacked_one_and_its_removal_undoes_it(
    refreshing_server, editor, db
):
    server = refreshing_server
    ids, lon, lat, district = underserved_plots(db)
    assert ids, "the demo should have plots far from any school"
    before = plot_rows(db, ids)
    share_before = district_row(server, district)["share_education"]

    created = write(server, "POST", "/collections/amenities/items", editor, school(lon, lat))
    assert created.status_code == 201, created.text
    assert created.headers["X-Twin-Analysis"] == "refreshing"
    school_id = created.json()["id"]
    state = wait_until_current(server)
    assert state["refresh"] == "incremental" and "amenities" in state["analysed_versions"]

    after = plot_rows(db, ids)
    for plot_id in ids:  # every one of them is nearer a school now, some within 15 minutes
        old, new = before[plot_id][1], after[plot_id][1]
        assert new is not None and (old is None or new < old), (plot_id, old, new)
    assert any(after[i][1] <= 15 and after[i][7] > before[i][7] for i in ids)
    assert district_row(server, district)["share_education"] > share_before
    via_api = server.get(
        "/collections/plot_metrics/items", params={"plot_id": ids[0], "f": "json"}
    ).json()["features"]
    assert via_api[0]["properties"]["min_education"] == after[ids[0]][1]

    assert_matches_full_analysis(db, sample_of(db, ids))

    gone = write(server, "DELETE", f"/collections/amenities/items/{school_id}", editor)
    assert gone.status_code == 204 and gone.headers["X-Twin-Analysis"] == "refreshing"
    wait_until_current(server)
    assert plot_rows(db, ids) == before
    assert district_row(server, district)["share_education"] == share_before


def test_two_editors_at_once_leave_the_analysis_a_full_run_would_publish(
    refreshing_server, editor, db
):
    server = refreshing_server
    ids, lon, lat, _ = underserved_plots(db)
    points = [(lon, lat), (lon + 0.004, lat - 0.003)]
    made: list[httpx.Response] = []
    threads = [
        threading.Thread(
            target=lambda p=p: made.append(
                write(server, "POST", "/collections/amenities/items", editor, school(*p))
            )
        )
        for p in points
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in made] == [201, 201]
    wait_until_current(server)
    assert_matches_full_analysis(db, sample_of(db, ids))
    for response in made:
        assert (
            write(
                server, "DELETE", f"/collections/amenities/items/{response.json()['id']}", editor
            ).status_code
            == 204
        )
    wait_until_current(server)


def test_a_plot_redrawn_onto_a_fault_is_flagged_in_its_setback(refreshing_server, editor, db):
    server = refreshing_server
    plot_id, district = db.execute(
        "SELECT plot_id, district FROM plot_metrics WHERE NOT in_fault_setback "
        "AND district IS NOT NULL ORDER BY plot_id LIMIT 1"
    ).fetchone()
    lon, lat = db.execute(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint("
        "ST_GeometryN(geom, 1), 0.5) AS p FROM seismic_faults "
        "ORDER BY id LIMIT 1) f"
    ).fetchone()
    original = server.get(f"/collections/plots/items/{plot_id}", params={"f": "json"}).json()
    in_setback = district_row(server, district)["plots_in_setback"]
    d = 0.0003
    on_fault = {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [
                    [lon - d, lat - d],
                    [lon + d, lat - d],
                    [lon + d, lat + d],
                    [lon - d, lat + d],
                    [lon - d, lat - d],
                ]
            ]
        ],
    }
    moved = write(
        server,
        "PATCH",
        f"/collections/plots/items/{plot_id}",
        editor,
        {"type": "Feature", "geometry": on_fault, "properties": {}},
    )
    assert moved.status_code == 200, moved.text
    wait_until_current(server)
    row = plot_rows(db, [plot_id])[plot_id]
    assert row[17] is True and row[16] == 0.0  # in_fault_setback, fault_distance_m
    assert (
        district_row(server, district)["plots_in_setback"] == in_setback + 1
        or plot_rows(db, [plot_id])[plot_id][-2] != district
    )

    back = write(
        server,
        "PATCH",
        f"/collections/plots/items/{plot_id}",
        editor,
        {"type": "Feature", "geometry": original["geometry"], "properties": {}},
    )
    assert back.status_code == 200, back.text
    wait_until_current(server)
    assert plot_rows(db, [plot_id])[plot_id][17] is False
    assert district_row(server, district)["plots_in_setback"] == in_setback


def only_park_within_reach(db) -> tuple[int, str, list[int]]:
    """A park that is the only one within reach of some plots: plots under 300 m from a park
    whose every other park lies farther (as the crow flies, so on foot too) than their walk.
    Closing it must lengthen their walk; the largest park may well have a neighbour nearer."""
    row = db.execute(
        "SELECT p.id, p.district, array_agg(m.plot_id ORDER BY m.plot_id) FROM parks p "
        "JOIN plot_metrics m ON m.park_walk_m < 300 AND ST_DWithin(m.geom, p.geom, 0.002) "
        "WHERE p.status = 'existing' AND p.district IS NOT NULL AND NOT EXISTS ("
        "  SELECT 1 FROM parks q WHERE q.status = 'existing' AND q.id <> p.id"
        "  AND ST_DWithin(q.geom, m.geom, 0.006)"
        "  AND ST_DWithin(q.geom::geography, m.geom::geography, m.park_walk_m + 25)) "
        "GROUP BY p.id, p.district ORDER BY count(*) DESC, p.id LIMIT 1"
    ).fetchone()
    assert row is not None, "no park is the only one within reach of any plot"
    park_id, district, plots = row
    return park_id, district, plots[:50]


def test_a_park_closed_for_reconstruction_changes_park_access(refreshing_server, editor, db):
    server = refreshing_server
    park_id, district, near = only_park_within_reach(db)
    assert near
    before = plot_rows(db, near)
    green = district_row(server, district)["public_green_m2"]

    closed = write(
        server,
        "PATCH",
        f"/collections/parks/items/{park_id}",
        editor,
        {"type": "Feature", "properties": {"status": "under_construction"}},
    )
    assert closed.status_code == 200, closed.text
    wait_until_current(server)
    after = plot_rows(db, near)
    # no other park within their walk: every one of them now walks farther, or finds none
    assert all(after[i][11] is None or after[i][11] > before[i][11] for i in near)
    assert district_row(server, district)["public_green_m2"] < green

    reopened = write(
        server,
        "PATCH",
        f"/collections/parks/items/{park_id}",
        editor,
        {"type": "Feature", "properties": {"status": "existing"}},
    )
    assert reopened.status_code == 200, reopened.text
    wait_until_current(server)
    assert plot_rows(db, near) == before
    assert district_row(server, district)["public_green_m2"] == green


def test_a_lighting_line_lights_its_street_and_the_mobility_layers_follow(refreshing_server, db):
    """No `twin analyse`: the refresher derives the street's lit flag from the new lighting
    line, walks the night-time network again and republishes the mobility and safety layers."""
    server = refreshing_server
    key = (
        run_twin(
            "users",
            "add",
            f"lighting-{uuid.uuid4().hex[:6]}",
            "--role",
            "editor",
            "--layers",
            "utility_lines",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    street_id, length = db.execute(
        "SELECT id, length_m FROM streets WHERE NOT lit AND length_m > 200 ORDER BY id LIMIT 1"
    ).fetchone()
    line = db.execute(
        "SELECT ST_AsGeoJSON(ST_Multi(ST_Transform(ST_OffsetCurve("
        "ST_Transform(geom, 32643), 5), 4326))) FROM streets WHERE id = %s",
        (street_id,),
    ).fetchone()[0]

    def lit_km() -> float:
        document = server.get("/indicators/mobility-safety").json()
        assert document["computed"]["published"] is True  # published for the current data
        lit = [
            f["properties"]["lit_km"]
            for f in server.get(
                "/collections/district_mobility_safety/items", params={"f": "json"}
            ).json()["features"]
        ]
        assert sum(lit) == pytest.approx(document["city"]["lit_km"], abs=0.05)
        return document["city"]["lit_km"]

    before = lit_km()
    created = write(
        server,
        "POST",
        "/collections/utility_lines/items",
        key,
        {
            "type": "Feature",
            "geometry": json.loads(line),
            "properties": {"network": "lighting", "installed_year": 2026, "length_m": length},
        },
    )
    assert created.status_code == 201, created.text
    try:
        wait_until_current(server)
        assert db.execute("SELECT lit FROM streets WHERE id = %s", (street_id,)).fetchone()[0]
        assert lit_km() == pytest.approx(before + length / 1000, abs=0.011)
    finally:
        gone = write(server, "DELETE", created.headers["Location"].split(server.url)[-1], key)
        assert gone.status_code == 204, gone.text
    wait_until_current(server)
    assert db.execute("SELECT lit FROM streets WHERE id = %s", (street_id,)).fetchone()[0] is False
    assert lit_km() == pytest.approx(before, abs=0.011)


def _children(parent: int) -> dict[int, tuple[str, int]]:
    """Live worker processes started by `parent` (not multiprocessing's resource tracker):
    pid -> (state, nice), from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"resource_tracker" not in command:
            found[int(stat.parent.name)] = (fields[0], int(fields[16]))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_refresher_works_beside_the_workers_and_leaves_with_a_killed_server():
    """The analysis is recomputed in a process of its own at a lower CPU priority, so no
    serving worker waits behind it; killing the server leaves no refresher behind."""
    srv = Server({"TWIN_ANALYSIS_REFRESH": "on"}, args=("--workers", "2"))
    children: dict[int, tuple[str, int]] = {}
    refresher = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = _children(srv.process.pid)
            if len(children) == 3:
                break
            time.sleep(0.2)
        niceness = sorted(nice for _, nice in children.values())
        assert niceness == [0, 0, REFRESHER_NICENESS], children
        assert srv.get("/collections").status_code == 200
        refresher = next(pid for pid, (_, nice) in children.items() if nice)
        srv.process.kill()
        srv.process.wait()
        deadline = time.monotonic() + 15
        while _alive(refresher) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(refresher), "the refresher outlived its server"
    finally:
        srv.process.kill()
        srv.process.wait()
        for pid in children:  # uvicorn's workers: a killed supervisor cannot stop them
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

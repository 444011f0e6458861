"""Mudflow, protection and avalanche stories: a hand-made valley where the channel, the zone and
the protected cells are known by hand, a valley opening onto a fan, a DEM with a hole, and the
demo city's figures, by district and by building."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import psycopg
from affine import Affine

from twin.hazards.hydrology import MudflowRules, derive
from twin.hazards.protection import Dam, protect

CELL = 30.0
TOP = 2400.0  # y of the grid's north edge
RULES = MudflowRules(mountain_from_m=700, channel_km2=0.045, hand_m=15, reach_m=300)


def valley() -> tuple[np.ndarray, Affine]:
    """80 x 41 cells: a valley along column 20 rising 2 m a cell southward, walls rising 10 m
    a cell each side. Water on a wall runs straight across (10 m beats 2 m), so a cell k
    columns from the floor stands 10 k m above its channel cell."""
    rows, cols = np.indices((80, 41))
    dem = 600 + 2.0 * rows + 10.0 * np.abs(cols - 20)
    return dem.astype(np.float32), Affine(CELL, 0, 0, 0, -CELL, TOP)


def centre(row: int, col: int) -> tuple[float, float]:
    return (col + 0.5) * CELL, TOP - (row + 0.5) * CELL


def test_a_valley_has_its_channel_on_the_floor_and_the_zone_within_15_m_of_it() -> None:
    dem, transform = valley()
    flow = derive(dem, transform, RULES, gorges=[("Test river", centre(0, 20)[0])])
    assert flow.basins == ["Test river"]
    rows, cols = np.nonzero(flow.channel)
    assert set(cols.tolist()) == {20} and rows.max() >= 70
    assert np.allclose(flow.hand[40, 15:26], [50, 40, 30, 20, 10, 0, 10, 20, 30, 40, 50])
    zone_rows, zone_cols = np.nonzero(flow.zone)
    assert set(zone_cols.tolist()) == {19, 20, 21}  # HAND 0 and 10 m; 20 m is out
    assert zone_rows.max() >= 70 and not flow.unreliable and not flow.warnings


def test_a_dam_protects_exactly_the_zone_below_it_and_a_dam_off_the_channel_is_named() -> None:
    dem, transform = valley()
    flow = derive(dem, transform, RULES)
    dam_row = 40
    guard = protect(flow, [Dam("Valley dam", *centre(dam_row, 20)), Dam("Hill dam", 100, 100)])
    zone = flow.zone > 0
    rows = np.indices(zone.shape)[0]
    # north (downstream, smaller row) of the dam and in the zone: protected; nothing else
    assert np.array_equal(guard.protected, zone & (rows <= dam_row))
    assert guard.on_channel == [True, False]
    assert guard.warnings == [
        "protection works: dam 'Hill dam' is not on any mudflow channel (none within 45 m); "
        "it protects nothing"
    ]
    planned = protect(flow, [Dam("Valley dam", *centre(dam_row, 20), status="planned")])
    assert not planned.protected.any()  # only a working dam protects


FAN_RULES = MudflowRules(
    mountain_from_m=700, channel_km2=0.045, hand_m=5, gradient_window_m=90, mouth_probe_m=60
)


def fan_valley() -> tuple[np.ndarray, Affine]:
    """100 x 81 cells: the valley of `valley()` (10% bed, walls 10 m a cell) in the mountains
    south of row 60 opens at (60, 40) onto a cone: the ground falls 5% a metre away from the
    apex out to 900 m, then 1% (under 2 degrees: the fan ends). The fan's active channel is
    0.5 m deep along column 40. Water on a cone runs away from the apex, so no cell beside the
    channel drains to it: HAND alone gives a zone one cell wide on the fan."""
    rows, cols = np.indices((100, 81))
    d = np.hypot(np.maximum(60 - rows, 0), cols - 40) * CELL
    cone = np.where(d <= 900, 700 - 0.05 * d, 655 - 0.01 * (d - 900)) - 0.5 * (cols == 40)
    mountains = 700 + 3.0 * (rows - 60) + 10.0 * np.abs(cols - 40)
    return np.where(rows >= 60, mountains, cone).astype(np.float32), Affine(
        CELL, 0, 0, 0, -CELL, TOP
    )


def test_below_the_gorge_mouth_the_zone_spreads_over_the_fan_to_where_it_flattens() -> None:
    """The mouth is the first channel cell under the mountains with open ground around it:
    (59, 40). From there the zone is the sector of 30 degrees either side of the fan's axis
    (due north), out to the channel's end where the bed falls under 2 degrees (row 30: 870 m
    from the mouth), on ground 0.5-2 m above the bed at the same distance from the mouth."""
    dem, transform = fan_valley()
    flow = derive(dem, transform, FAN_RULES)
    rows, cols = np.indices(dem.shape)
    assert set(np.nonzero(flow.channel)[1].tolist()) == {40}
    assert np.nonzero(flow.channel)[0].min() == 30  # the 1% plain is no channel
    ahead, side = (59 - rows) * CELL, (cols - 40) * CELL
    distance = np.hypot(ahead, side)
    sector = (distance <= 29 * CELL) & (ahead >= np.cos(np.radians(30)) * distance)
    fan = flow.fan_bed >= 0
    hand_zone = (flow.zone > 0) & ~fan
    assert np.array_equal(fan, sector & ~hand_zone)
    assert set(np.nonzero(hand_zone[:59])[1].tolist()) == {40}  # HAND alone: the channel only
    assert fan.sum() > 350 and (flow.zone[fan] == 1).all()
    assert flow.hand[fan].min() >= 0.5 - 1e-3 and flow.hand[fan].max() <= 2.0 + 1e-3
    # the bed each fan cell is read against lies on the channel at its distance from the mouth
    bed_rows, bed_cols = np.divmod(flow.fan_bed[fan], dem.shape[1])
    assert (bed_cols == 40).all()
    assert np.abs((59 - bed_rows) * CELL - distance[fan]).max() <= CELL
    # without the sector (half-angle 0) the fan adds nothing: the HAND zone stays one cell wide
    narrow = derive(dem, transform, replace(FAN_RULES, fan_half_angle_deg=0))
    assert (narrow.fan_bed >= 0).sum() == 0 and (narrow.zone[:59] > 0).sum() == 29


def test_a_dam_protects_the_fan_below_it_and_not_the_fan_above_it() -> None:
    """A dam in the gorge protects the whole fan; a dam on the fan's channel at row 45 (420 m
    below the mouth) protects the fan cells read against the bed below it, not those above."""
    dem, transform = fan_valley()
    flow = derive(dem, transform, FAN_RULES)
    fan = flow.fan_bed >= 0
    rows, cols = np.indices(dem.shape)
    distance = np.hypot((59 - rows) * CELL, (cols - 40) * CELL)
    gorge = protect(flow, [Dam("Gorge dam", *centre(70, 40))])
    assert gorge.protected[fan].all() and (gorge.protected_by[fan] == 1).all()
    on_fan = protect(flow, [Dam("Fan dam", *centre(45, 40))])
    assert on_fan.on_channel == [True] and not on_fan.warnings
    assert on_fan.protected[fan & (distance >= 14 * CELL + CELL)].all()
    assert not on_fan.protected[fan & (distance < 14 * CELL - CELL)].any()
    assert not protect(flow, []).protected.any()


def test_a_hole_in_the_gorge_marks_its_basin_unreliable_with_a_warning() -> None:
    dem, transform = valley()
    dem[60:64, 18:23] = np.nan  # no data across the valley floor upstream
    flow = derive(dem, transform, RULES, gorges=[("Test river", centre(0, 20)[0])])
    assert flow.unreliable == {1}
    assert flow.warnings and "'Test river'" in flow.warnings[0]
    assert "reliable=false" in flow.warnings[0]
    assert (flow.channel[:, 20] > 0).sum() >= 70  # routed through the filled hole


def test_the_demo_city_dams_protect_tens_of_thousands_on_their_fans(
    demo_city: str, db: psycopg.Connection
) -> None:
    """Small demo, seed 1 (the small scale keeps the city's 2.04 million residents on fewer
    plots): with the fan rule the Aksay and Ayusay dams protect ~39.5 thousand of ~77 thousand
    residents in mudflow zones - the programme's "> 40 thousand people protected" order of
    magnitude (S2 l.5095; assumptions in docs/hazards.md) - and the share stays below the 2025
    target of 60 %."""
    from twin.hazards.publish import hazards_current, publish_hazards

    result = publish_hazards(db, force=True)
    city = result["city"]
    assert result["computed"]["warnings"] == []  # both dams stand on their channels
    assert {"Aksay river", "Small Almaty river", "Big Almaty river"} <= set(
        result["computed"]["basins"]
    )
    assert 20_000 <= city["mudflow_protected"] < city["mudflow_residents"]
    assert city["share_protected"] < city["target_protected_2025"] == 0.6
    assert city["avalanche_residents"] >= 0
    assert hazards_current(db)
    zones = db.execute(
        "SELECT protected_by, bool_or(on_fan), bool_or(NOT on_fan) FROM mudflow_zones"
        " WHERE protected GROUP BY 1 ORDER BY 1"
    ).fetchall()
    # each dam protects its valley's zone and the fan below its gorge mouth
    assert zones == [("Aksay mudflow dam", True, True), ("Ayusay mudflow dam", True, True)]
    on_fans = db.execute(
        "SELECT sum(p.residents) FROM plots p WHERE EXISTS (SELECT 1 FROM mudflow_zones z"
        " WHERE z.protected AND z.on_fan AND ST_Intersects(z.geom, ST_PointOnSurface(p.geom)))"
    ).fetchone()[0]
    assert on_fans >= 10_000  # the fans carry a good part of the protected residents
    districts = db.execute(
        "SELECT sum(mudflow_protected), sum(mudflow_residents) FROM district_hazards"
    ).fetchone()
    assert districts == (city["mudflow_protected"], city["mudflow_residents"])
    avalanche = db.execute("SELECT array_agg(DISTINCT basin) FROM avalanche_zones").fetchone()[0]
    assert set(avalanche) <= {"Big Almaty river", "Small Almaty river"}


def test_every_building_in_a_zone_has_its_mudflow_and_avalanche_exposure(
    demo_city: str, db: psycopg.Connection
) -> None:
    """A planner lists the buildings of the hazard zones (`building_hazards`): each one whose
    point on surface lies in a mudflow zone carries that zone's basin, band, fan and dam; the
    avalanche buildings match the district count; a building moved out of every zone drops out
    of the layer at the next publish."""
    from twin.hazards.publish import publish_hazards

    publish_hazards(db)
    count, mudflow, avalanche = db.execute(
        "SELECT count(*), count(mudflow_basin), count(avalanche_basin) FROM building_hazards"
    ).fetchone()
    assert (
        count
        == db.execute(
            "SELECT count(*) FROM buildings b WHERE EXISTS (SELECT 1 FROM"
            " (SELECT geom FROM mudflow_zones UNION ALL SELECT geom FROM avalanche_zones) z"
            " WHERE ST_Intersects(z.geom, ST_PointOnSurface(b.geom)))"
        ).fetchone()[0]
    )
    assert (
        mudflow > 500
        and avalanche
        == db.execute("SELECT sum(avalanche_buildings) FROM district_hazards").fetchone()[0]
    )
    # one building checked against its zone by hand: the lowest band under its point
    building, basin, band, fan, protected, dam = db.execute(
        "SELECT building_id, mudflow_basin, above_channel_m, on_fan, protected, protected_by"
        " FROM building_hazards WHERE protected_by = 'Aksay mudflow dam' AND on_fan"
        " ORDER BY building_id LIMIT 1"
    ).fetchone()
    zone = db.execute(
        "SELECT z.basin, z.above_channel_m, z.on_fan, z.protected, z.protected_by"
        " FROM mudflow_zones z JOIN buildings b ON ST_Intersects(z.geom, ST_PointOnSurface(b.geom))"
        " WHERE b.id = %s ORDER BY z.above_channel_m LIMIT 1",
        (building,),
    ).fetchone()
    assert (basin, band, fan, protected, dam) == zone and zone[0] == "Aksay river"
    assert band in (1.0, 3.0, 5.0)
    geometry = db.execute("SELECT geom FROM buildings WHERE id = %s", (building,)).fetchone()[0]
    db.execute(
        "UPDATE buildings SET geom = ST_Translate(geom, 0, 0.5) WHERE id = %s", (building,)
    )  # half a degree north, out on the plain beyond every zone
    try:
        assert publish_hazards(db)["published"]
        assert not db.execute(
            "SELECT 1 FROM building_hazards WHERE building_id = %s", (building,)
        ).fetchone()
    finally:
        db.execute("UPDATE buildings SET geom = %s WHERE id = %s", (geometry, building))
        publish_hazards(db)


# -- fire-station reach -------------------------------------------------------------------------

X0, Y0 = 650_000.0, 4_790_000.0  # a corner of the grid in the city (UTM 43N metres)


def grid_streets(n: int = 6, km: float = 1.0, highway: str = "residential"):
    """An n x n grid of 1 km residential streets: at 25 km/h a block side takes 2.4 minutes."""
    from twin.analysis.network import to_lonlat
    from twin.hazards.fire import drive_network

    ids = np.arange(n * n).reshape(n, n)
    pairs = [(ids[i, j], ids[i, j + 1]) for i in range(n) for j in range(n - 1)]
    pairs += [(ids[i, j], ids[i + 1, j]) for i in range(n - 1) for j in range(n)]
    s, t = np.array(pairs).T
    x = X0 + (ids % n).ravel() * km * 1000
    y = Y0 + (ids // n).ravel() * km * 1000
    lon, lat = to_lonlat(x, y)
    return drive_network(
        s,
        t,
        np.full(len(s), km * 1000),
        np.array([highway] * len(s)),
        lon[s],
        lat[s],
        lon[t],
        lat[t],
    )


def test_fire_reach_on_a_grid_is_2_4_minutes_a_block_and_a_depot_closes_the_far_corner() -> None:
    from twin.hazards.fire import REACH_MINUTES

    drive = grid_streets()
    nodes = np.array([(X0 + i * 1000, Y0 + j * 1000) for j in range(6) for i in range(6)])
    minutes = drive.minutes_from(np.array([[X0, Y0]]), nodes)
    blocks = np.array([i + j for j in range(6) for i in range(6)])
    assert np.allclose(minutes, 2.4 * blocks, atol=1e-6)
    beyond = minutes > REACH_MINUTES  # 4 blocks: 9.6 min, in; 5 blocks: 12 min, out
    assert np.array_equal(beyond, blocks >= 5) and beyond.sum() == 36 - 15  # 15: i + j <= 4
    # a home 150 m off its nearest node: + 150 m at 15 km/h = 0.6 min
    home = drive.minutes_from(np.array([[X0, Y0]]), np.array([[X0 + 2000, Y0 + 150]]))
    assert np.isclose(home[0], 4.8 + 0.6)
    # a depot at the far corner: the farthest home is 5 blocks from one of the two stations
    both = drive.minutes_from(np.array([[X0, Y0], [X0 + 5000, Y0 + 5000]]), nodes)
    assert np.allclose(both, 2.4 * np.minimum(blocks, 10 - blocks))
    assert (both > REACH_MINUTES).sum() == 6  # the anti-diagonal i + j = 5, 12 min from both
    # arterials at 50 km/h: a block in 1.2 min; no station: nobody is reached
    assert np.isclose(grid_streets(highway="arterial").minutes_from(nodes[:1], nodes)[-1], 12.0)
    assert np.isinf(drive.minutes_from(np.zeros((0, 2)), nodes)).all()


def test_a_plot_edit_recounts_the_exposure_without_the_terrain_and_reports_it(
    demo_city: str, db: psycopg.Connection
) -> None:
    """After a publish, 1,000 more residents on a protected plot in the Aksay zone: the next
    publish keeps the terrain layers (no hydrology) and counts them, by district, in the plot
    report and in the indicators' hazards member; the fire reach is figured with and without
    the four planned polycentre depots."""
    from twin.hazards.document import hazards_member, plot_exposure
    from twin.hazards.publish import publish_hazards

    first = publish_hazards(db)
    first = first if first["published"] else publish_hazards(db, force=True)
    plot_id, district = db.execute(
        "SELECT p.id, p.district FROM plots p JOIN mudflow_zones z"
        " ON ST_Intersects(z.geom, ST_PointOnSurface(p.geom))"
        " WHERE z.protected_by = 'Aksay mudflow dam' ORDER BY p.id LIMIT 1"
    ).fetchone()
    report = plot_exposure(db, plot_id)
    assert report["mudflow"]["basin"] == "Aksay river" and report["mudflow"]["protected"]
    assert report["mudflow"]["above_channel_m"] in (1.0, 3.0, 5.0)
    assert plot_exposure(db, -1) == {"mudflow": None, "avalanche": None}
    mudflow_tables = db.execute(
        "SELECT name, version FROM twin_layers WHERE name LIKE 'mudflow%' ORDER BY 1"
    ).fetchall()
    db.execute("UPDATE plots SET residents = residents + 1000 WHERE id = %s", (plot_id,))
    try:
        again = publish_hazards(db)
        assert again["published"] and not again["computed"]["terrain_derived"]
        assert again["city"]["seconds"] < 5  # a recount; the lead's small demo: ~0.3-1 s
        before, after = first["city"], again["city"]
        assert after["mudflow_residents"] == before["mudflow_residents"] + 1000
        assert after["mudflow_protected"] == before["mudflow_protected"] + 1000
        assert (
            mudflow_tables
            == db.execute(
                "SELECT name, version FROM twin_layers WHERE name LIKE 'mudflow%' ORDER BY 1"
            ).fetchall()
        )  # the terrain layers were not written again
        member = hazards_member(db)
        assert member["city"]["mudflow_residents"] == after["mudflow_residents"]
        row = next(d for d in member["districts"] if d["district"] == district)
        assert row["mudflow_protected"] >= 1000
        # 19 working stations, 4 planned depots in the polycentres: the depots help
        assert (after["fire_stations_working"], after["fire_depots_planned"]) == (19, 4)
        assert 0 < after["fire_beyond_10_with_depots"] < after["fire_beyond_10_residents"]
        assert (
            sum(d["fire_beyond_10_residents"] for d in member["districts"])
            == (after["fire_beyond_10_residents"])
        )
    finally:
        db.execute("UPDATE plots SET residents = residents - 1000 WHERE id = %s", (plot_id,))
        publish_hazards(db)


# -- the viewer ---------------------------------------------------------------------------------


def test_the_viewer_shows_the_hazards_group_and_the_exposure_on_the_dashboard(
    page, city_server
) -> None:
    """A planner opens the Hazards group: the mudflow zones with their protected / unprotected
    legend, the dams and the fire stations; the dashboard's hazard cards say the API's figures
    (residents in mudflow zones, the share protected against 60 % and 80 %, fire reach)."""
    import re

    from chromium import ARTIFACTS

    hazards = city_server.get("/indicators").json()["hazards"]
    assert hazards and hazards["city"]["mudflow_residents"] > 0
    page.call("goto", url=page.page_url)
    page.wait("document.body.dataset.ready === '1'", timeout=240)
    listed = page.eval(
        "return [...document.querySelectorAll('details.group[data-group=\"Hazards\"] .layer')]"
        ".map((d) => d.dataset.layer)"
    )
    assert {"mudflow_zones", "mudflow_channels", "protection_works", "fire_stations"} <= set(listed)
    page.call("click", selector="input[data-layer-toggle='mudflow_zones']")
    legend = page.eval("return document.querySelector('[data-legend=\"mudflow_zones\"]').innerText")
    assert "protected by a dam" in legend and "unprotected" in legend
    page.call("click", selector="button[data-mode='indicators']")
    page.wait("document.querySelector('#hazard-kpis')", timeout=60)
    card = page.eval(
        "return document.querySelector('[data-kpi=\"mudflow_residents\"] .value').innerText"
    )
    assert re.sub(r"\D", "", card).startswith(str(hazards["city"]["mudflow_residents"]))
    share = page.eval("return document.querySelector('[data-kpi=\"share_protected\"]').innerText")
    assert "60% (2025)" in share and "80% (2030)" in share
    fire = page.eval("return document.querySelector('[data-kpi=\"fire_beyond_10\"]').innerText")
    assert "4" in fire and "19" in fire  # the planned depots and the working stations
    page.eval("document.getElementById('hazards').scrollIntoView(); return true")
    page.call("screenshot", path=str(ARTIFACTS / "hazards-dashboard.png"))

"""The plan engine on the small demo: a planner's edits give the same figures as the city
rebuilt with them from scratch, move the indicators the way a planner expects, and every edit
the engine cannot apply is refused with a 400 that names it.

Equality: twin.plans.evaluate works incrementally (only touched categories, the edited network
from arrays in memory, the street fabric stamped); twin.plans.reference rebuilds the network,
re-snaps every place and reruns the full pipeline. Every ROW key of the city, each district
and each polycentre is compared.
"""

from __future__ import annotations

import json
import math

import numpy as np
import psycopg
import pytest
import shapely

from twin.analysis.city import load_city
from twin.analysis.indicators import fifteen_tables
from twin.analysis.network import to_lonlat, to_utm
from twin.analysis.reports import baseline
from twin.errors import InvalidParameter
from twin.plans.edits import LINK_REACH_M, EditError, parse_edits
from twin.plans.evaluate import evaluate_plan, plan_context
from twin.plans.reference import apply_edits, reference_indicators

# rounding of the published figures: shares to 4 decimals, walkability to 2, means to 3
TOLERANCE = {"walkability": 0.011, "mean_categories": 0.0011, "public_green_m2": 0.2}


@pytest.fixture(scope="module")
def conn(demo_city: str):
    with psycopg.connect(demo_city, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def city(conn):
    return load_city(conn)


@pytest.fixture(scope="module")
def ctx(conn, city):
    return plan_context(conn, city)


@pytest.fixture(scope="module")
def single_edits(city):
    return one_edit_plans(city)


# -- edits drawn on the demo city ---------------------------------------------------------


def feature(edit: str, geometry: dict | None, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"edit": edit, **properties}}


def lonlat(points) -> list[list[float]]:
    points = np.asarray(points, float)
    lon, lat = to_lonlat(points[:, 0], points[:, 1])
    return [[float(a), float(b)] for a, b in zip(lon, lat)]


def point_at(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": lonlat([(x, y)])[0]}


def square(x: float, y: float, half: float) -> dict:
    ring = [(x - half, y - half), (x + half, y - half), (x + half, y + half), (x - half, y + half)]
    return {"type": "Polygon", "coordinates": [lonlat(ring + ring[:1])]}


def segment(city, e: int) -> dict:
    n = city.network
    u, v = n.edge_u[e], n.edge_v[e]
    return {"type": "LineString", "coordinates": lonlat([(n.x[u], n.y[u]), (n.x[v], n.y[v])])}


def centre(city, name: str) -> tuple[float, float]:
    i = list(city.polycentres.name).index(name)
    p = city.polycentre_shapes[i].representative_point()
    x, y = to_utm(np.array([p.x]), np.array([p.y]))
    return float(x[0]), float(y[0])


def populated(city, polycentre: str) -> tuple[float, float]:
    """UTM point of the plot with the most residents in the polycentre (the West fault strip
    is where demolition is planned)."""
    here = (city.plots.polycentre == polycentre).to_numpy()
    i = int(np.argmax(np.where(here, city.plots.residents.to_numpy(), -1)))
    return float(city.plot_places.x[i]), float(city.plot_places.y[i])


def shortcuts(city, count: int) -> list[dict]:
    """Straight links between nodes 150-900 m apart that the network walks the long way round
    (over 1.5 times the straight distance)."""
    n = city.network
    main = n.snap_nodes
    out, used = [], set()
    for a in np.random.default_rng(3).permutation(main)[:400]:
        if len(out) == count:
            break
        d = np.hypot(n.x[main] - n.x[a], n.y[main] - n.y[a])
        near = main[(d > 150) & (d < 900)]
        if int(a) in used or not len(near):
            continue
        walk = n.from_node(a, mode="length", limit=5000)
        ratio = walk[near] / np.hypot(n.x[near] - n.x[a], n.y[near] - n.y[a])
        b = int(near[np.argmax(ratio)])
        if ratio.max() > 1.5 and b not in used:
            out.append((int(a), b))
            used |= {int(a), b}
    assert len(out) == count
    return [
        {"type": "LineString", "coordinates": lonlat([(n.x[a], n.y[a]), (n.x[b], n.y[b])])}
        for a, b in out
    ]


def school_gap(city) -> tuple[float, float]:
    """UTM point of the plot with the most residents and no school within 15 minutes."""
    plots, _ = fifteen_tables(city, baseline(city, "slope"), describe=False)
    far = ~(plots["min_education"].to_numpy(float) <= 15)
    i = int(np.argmax(np.where(far, city.plots.residents.to_numpy(), -1)))
    return float(city.plot_places.x[i]), float(city.plot_places.y[i])


def long_edges(city, lit: bool | None = None) -> np.ndarray:
    n = city.network
    ok = (n.edge_length > 60) & np.isin(n.edge_u, n.snap_nodes)
    if lit is not None:
        ok &= n.edge_lit == lit
    return np.flatnonzero(ok)


def far_from_streets(city, distance: float) -> tuple[float, float]:
    """A UTM point inside the city farther than `distance` from every node."""
    inside = shapely.union_all(city.district_shapes)
    minx, miny, maxx, maxy = inside.bounds
    lon, lat = np.meshgrid(np.linspace(minx, maxx, 80), np.linspace(miny, maxy, 80))
    keep = shapely.contains_xy(inside.buffer(-0.01), lon.ravel(), lat.ravel())
    x, y = to_utm(lon.ravel()[keep], lat.ravel()[keep])
    all_nodes = np.column_stack([city.network.x, city.network.y])
    gap = np.array([np.hypot(*(all_nodes - (a, b)).T).min() for a, b in zip(x, y)])
    i = int(np.argmax(gap))
    assert gap[i] > distance
    return float(x[i]), float(y[i])


def one_edit_plans(city) -> dict[str, list[dict]]:
    stored = city.amenities[city.amenities.layer == "amenities"]
    school = stored[stored.kind == "school"].iloc[0]
    nx, ny = centre(city, "North")
    sx, sy = school_gap(city)
    edge = int(long_edges(city)[10])
    unlit = int(long_edges(city, lit=False)[0])
    return {
        "amenity.add": [feature("amenity.add", point_at(sx, sy), category="education")],
        "amenity.remove": [feature("amenity.remove", None, amenity=int(school.id))],
        "amenity.move": [
            feature(
                "amenity.move",
                {"type": "Point", "coordinates": [school.lon + 0.01, school.lat]},
                amenity=int(school.id),
            )
        ],
        "park.add": [feature("park.add", square(nx + 600, ny, 150), kind="green_zone")],
        "park.remove": [feature("park.remove", None, park=int(city.parks.id.iloc[0]))],
        "housing.add": [feature("housing.add", square(nx, ny, 250), residents=12000)],
        "housing.remove": [feature("housing.remove", square(*populated(city, "West"), 150))],
        "street.link": [feature("street.link", shortcuts(city, 1)[0])],
        "street.close": [feature("street.close", segment(city, edge))],
        "street.light": [feature("street.light", segment(city, unlit))],
        "building.add": [feature("building.add", square(nx, ny, 20), levels=16, use="residential")],
    }


def mixed_plan(city) -> list[dict]:
    """20 edits: 5 street links, 3 housing areas, schools and a kindergarten, a clinic, a park
    added and one removed, an amenity removed and one moved, a closure, a light, a building
    and a demolition."""
    edits = [
        feature("street.link", g, name=f"corridor {i}") for i, g in enumerate(shortcuts(city, 5))
    ]
    nx, ny = centre(city, "North")
    ex, ey = centre(city, "East Gate")
    wx, wy = centre(city, "West")
    sx, sy = school_gap(city)
    stored = city.amenities[city.amenities.layer == "amenities"]
    moved = stored.iloc[5]
    closed = int(long_edges(city)[10])
    lit = next(int(e) for e in long_edges(city, lit=False) if e != closed)
    bx, by = centre(city, "Historic Centre")
    edits += [
        feature("housing.add", square(nx, ny, 250), residents=20000, name="North 2030"),
        feature("housing.add", square(ex, ey, 200), dwellings=5000),
        feature("housing.add", square(wx, wy, 150), density_pph=200),
        feature("amenity.add", point_at(sx, sy), category="education"),
        feature("amenity.add", point_at(nx, ny), category="education", capacity=1200),
        feature("amenity.add", point_at(ex + 50, ey), category="education", kind="kindergarten"),
        feature("amenity.add", point_at(nx + 80, ny), category="healthcare"),
        feature("park.add", square(nx + 600, ny, 120), kind="boulevard"),
        feature("amenity.remove", None, amenity=int(stored.id.iloc[0])),
        feature(
            "amenity.move",
            {"type": "Point", "coordinates": [moved.lon + 0.004, moved.lat]},
            amenity=int(moved.id),
        ),
        feature("park.remove", None, park=int(city.parks.id.iloc[0])),
        feature("street.close", segment(city, closed)),
        feature("street.light", segment(city, lit)),
        feature("building.add", square(bx, by, 15), levels=12, use="residential"),
        feature("housing.remove", square(bx + 400, by + 400, 100)),
    ]
    return edits


def differences(evaluation: dict, reference: dict) -> list[tuple]:
    """(area, key, engine, reference) of every ROW figure that differs beyond rounding."""
    found = []
    areas = [("city", evaluation["city"], reference["city"])]
    for scope in ("districts", "polycentres"):
        assert set(evaluation[scope]) == set(reference[scope])
        areas += [
            (name, evaluation[scope][name], reference[scope][name]) for name in reference[scope]
        ]
    for name, got, want in areas:
        assert set(got) == set(want), name
        for key, value in want.items():
            other = got[key]
            if value is None or other is None or isinstance(value, bool):
                same = value == other
            else:
                limit = TOLERANCE.get(key, 1.01e-4 if isinstance(value, float) else 0)
                same = math.isclose(other, value, abs_tol=limit)
            if not same:
                found.append((name, key, other, value))
    return found


# -- the engine equals the full recomputation --------------------------------------------


KINDS = [
    "amenity.add",
    "amenity.remove",
    "amenity.move",
    "park.add",
    "park.remove",
    "housing.add",
    "housing.remove",
    "street.link",
    "street.close",
    "street.light",
    "building.add",
]


@pytest.mark.parametrize("kind", KINDS)
def test_one_edit_equals_the_city_rebuilt_with_it(city, ctx, single_edits, kind):
    edits = single_edits[kind]
    result = evaluate_plan(city, edits, context=ctx)
    reference = reference_indicators(apply_edits(city, edits), context=ctx)
    assert differences(result["indicators"], reference) == []
    # the plan moved something (a test that cannot fail is no test)
    assert result["indicators"] != result["base"] or kind == "street.light"
    assert result["indicators"]["city"]["school_deficit"] is not None


def test_twenty_mixed_edits_equal_the_city_rebuilt_with_them(city, ctx):
    edits = mixed_plan(city)
    parsed = parse_edits(edits, city)
    assert len(parsed.edits) == 20
    assert len(parsed.of("street.link")) == 5 and len(parsed.of("housing.add")) == 3
    result = evaluate_plan(city, parsed, context=ctx)
    reference = reference_indicators(apply_edits(city, parsed), context=ctx)
    assert differences(result["indicators"], reference) == []
    assert result["edits"]["network_edited"] and "fabric" in result["timing_ms"]
    assert result["changed_cells"] and all(
        c["residents_base"] != c["residents_plan"]
        or c["categories_15_base"] != c["categories_15_plan"]
        or c["walkability_base"] != c["walkability_plan"]
        or c["park_walk_m_base"] != c["park_walk_m_plan"]
        or c["all_six_base"] != c["all_six_plan"]
        for c in result["changed_cells"]
    )
    assert [h["edit"] for h in result["housing"]] == [
        e.id for e in parsed.edits if e.kind in ("housing.add", "building.add")
    ]


def test_a_bridge_to_a_cut_off_part_of_the_network_rejoins_its_residents(city, ctx):
    """A link to a node outside the main part grows the part places snap to: the engine
    re-snaps as the rebuilt city does."""
    n = city.network
    main = np.zeros(n.n, bool)
    main[n.snap_nodes] = True
    cut_off = np.flatnonzero(~main)
    assert len(cut_off), "the demo's network has parts apart from the main one"
    d = np.hypot(
        n.x[cut_off][:, None] - n.x[n.snap_nodes], n.y[cut_off][:, None] - n.y[n.snap_nodes]
    )
    i, j = np.unravel_index(np.argmin(d), d.shape)
    a, b = cut_off[i], n.snap_nodes[j]
    line = {"type": "LineString", "coordinates": lonlat([(n.x[a], n.y[a]), (n.x[b], n.y[b])])}
    edits = [feature("street.link", line, name="bridge")]
    result = evaluate_plan(city, edits, context=ctx)
    assert result["edits"]["places_resnapped"]
    reference = reference_indicators(apply_edits(city, edits), context=ctx)
    assert differences(result["indicators"], reference) == []


# -- what a planner expects ------------------------------------------------------------


def test_a_school_where_people_have_none_raises_education_and_gains(city, ctx):
    sx, sy = school_gap(city)
    result = evaluate_plan(
        city, [feature("amenity.add", point_at(sx, sy), category="education")], context=ctx
    )
    plan, base = result["indicators"]["city"], result["base"]["city"]
    assert plan["share_education"] > base["share_education"]
    gains = result["gains"]["city"]["education"]
    assert gains["gain"] > 0 and gains["lose"] == 0
    assert (
        sum(d["education"]["gain"] for d in result["gains"]["districts"].values())
        == (gains["gain"])
    )
    assert result["edits"]["categories_recomputed"] == ["education"]
    assert result["schools"]["plan"]["places"] > result["schools"]["base"]["places"]


def test_forty_thousand_new_residents_are_forty_thousand_more(city, ctx):
    nx, ny = centre(city, "North")
    ex, ey = centre(city, "East Gate")
    edits = [
        feature("housing.add", square(nx, ny, 250), residents=25000, name="North 2030"),
        feature("housing.add", square(nx + 700, ny, 200), residents=10000),
        feature("housing.add", square(ex, ey, 200), residents=5000),
    ]
    result = evaluate_plan(city, edits, context=ctx)
    plan, base = result["indicators"], result["base"]
    assert plan["city"]["residents"] - base["city"]["residents"] == 40000
    assert sum(h["residents"] for h in result["housing"]) == 40000
    assert sum(c["residents_plan"] - c["residents_base"] for c in result["changed_cells"]) == 40000
    north = plan["polycentres"]["North"]["residents"] - base["polycentres"]["North"]["residents"]
    assert north == sum(h["residents"] for h in result["housing"] if h["polycentre"] == "North")
    assert north >= 25000
    # nobody who lives there today gains or loses anything from housing alone
    assert result["gains"]["city"]["categories_15"] == {"gain": 0, "lose": 0}


def test_demolition_takes_the_residents_away(city, ctx):
    edits = [feature("housing.remove", square(*populated(city, "West"), 150))]
    parsed = parse_edits(edits, city)
    inside = shapely.contains_xy(
        parsed.edits[0].geometry, city.plots.lon.to_numpy(float), city.plots.lat.to_numpy(float)
    )
    gone = int(city.plots.residents.to_numpy()[inside].sum())
    assert gone > 0
    result = evaluate_plan(city, parsed, context=ctx)
    assert result["base"]["city"]["residents"] - result["indicators"]["city"]["residents"] == gone


def test_the_normalised_edits_say_what_the_engine_understood(city):
    nx, ny = centre(city, "North")
    parsed = parse_edits(
        {
            "type": "FeatureCollection",
            "features": [
                feature("amenity.add", point_at(nx, ny), category="education"),
                {**feature("housing.add", square(nx + 900, ny, 100), dwellings=1000), "id": 7},
                feature("amenity.add", point_at(nx + 50, ny), category="healthcare"),
            ],
        },
        city,
    )
    first, housing, clinic = parsed.collection["features"]
    assert [first["id"], housing["id"], clinic["id"]] == ["e1", 7, "e2"]
    assert first["properties"]["kind"] == "school" and first["properties"]["name"] == "new school"
    capacities = city.amenities.loc[city.amenities.kind == "school", "capacity"].dropna()
    assert first["properties"]["capacity"] == int(round(capacities.median()))
    assert clinic["properties"]["kind"] == "clinic"
    assert housing["properties"]["residents_derived"] == 2200
    assert any("persons per dwelling" in a for a in parsed.assumptions)


def test_evaluation_is_json_and_timed(city, ctx, single_edits):
    result = evaluate_plan(city, single_edits["amenity.add"], context=ctx)
    json.dumps(result, allow_nan=False)
    assert result["timing_ms"]["total"] > 0
    assert result["base_version"] == "-".join(map(str, city.version))


# -- bad input: 400 naming the edit ---------------------------------------------------------


def bad_plans(city) -> dict[str, tuple[list, str, str]]:
    """name -> (edits, the edit named, words of the problem)."""
    nx, ny = centre(city, "North")
    fx, fy = far_from_streets(city, LINK_REACH_M + 10)
    edge = int(long_edges(city)[3])
    stored = city.amenities[city.amenities.layer == "amenities"]
    aid = int(stored.id.iloc[0])
    school = feature("amenity.add", point_at(nx, ny), category="education")
    outside = {"type": "Point", "coordinates": [76.0, 43.0]}
    link_far = {"type": "LineString", "coordinates": lonlat([(fx, fy), (nx, ny)])}
    nothing = {"type": "LineString", "coordinates": lonlat([(fx, fy), (fx + 30, fy)])}
    return {
        "outside the city": (
            [school, feature("amenity.add", outside, category="education")],
            "e2",
            "outside the city",
        ),
        "unknown category": (
            [feature("amenity.add", point_at(nx, ny), category="bakery")],
            "e1",
            "unknown category",
        ),
        "unknown kind": (
            [feature("amenity.add", point_at(nx, ny), category="education", kind="rocket")],
            "e1",
            "unknown kind",
        ),
        "unknown edit": ([feature("plaza.add", point_at(nx, ny))], "e1", "unknown edit kind"),
        "negative residents": (
            [feature("housing.add", square(nx, ny, 100), residents=-500)],
            "e1",
            "at least 1",
        ),
        "two sizes": (
            [feature("housing.add", square(nx, ny, 100), residents=5, dwellings=3)],
            "e1",
            "exactly one",
        ),
        "no size": ([feature("housing.add", square(nx, ny, 100))], "e1", "exactly one"),
        "bad density": (
            [feature("housing.add", square(nx, ny, 100), density_pph=0)],
            "e1",
            "greater than 0",
        ),
        "link far from the network": (
            [feature("street.link", link_far)],
            "e1",
            "from the walking network",
        ),
        "closure covering nothing": (
            [feature("street.close", nothing)],
            "e1",
            "closes no street segment",
        ),
        "light covering nothing": (
            [feature("street.light", nothing)],
            "e1",
            "lights no street segment",
        ),
        "unknown amenity": (
            [feature("amenity.remove", None, amenity=987654)],
            "e1",
            "no amenity 987654",
        ),
        "unknown park": ([feature("park.remove", None, park=987654)], "e1", "no park 987654"),
        "removed twice": (
            [
                feature("amenity.remove", None, amenity=aid),
                feature("amenity.remove", None, amenity=aid),
            ],
            "e2",
            "already changed by edit e1",
        ),
        "removed and moved": (
            [
                feature("amenity.remove", None, amenity=aid),
                feature("amenity.move", point_at(nx, ny), amenity=aid),
            ],
            "e2",
            "already changed by edit e1",
        ),
        "housing on demolition": (
            [
                feature("housing.remove", square(nx, ny, 200)),
                feature("housing.add", square(nx + 100, ny, 200), residents=100),
            ],
            "e2",
            "demolishes",
        ),
        "park on new housing": (
            [
                feature("housing.add", square(nx, ny, 200), residents=100),
                feature("park.add", square(nx + 100, ny, 200)),
            ],
            "e2",
            "housing of edit e1",
        ),
        "buildings on each other": (
            [
                feature("building.add", square(nx, ny, 20), levels=5, use="residential"),
                feature("building.add", square(nx + 10, ny, 20), levels=5, use="commercial"),
            ],
            "e2",
            "overlapping the building of edit e1",
        ),
        "light on a closed street": (
            [
                feature("street.close", segment(city, edge)),
                feature("street.light", segment(city, edge)),
            ],
            "e2",
            "closes",
        ),
        "levels out of range": (
            [feature("building.add", square(nx, ny, 20), levels=0, use="residential")],
            "e1",
            "levels must be at least 1",
        ),
        "unknown use": (
            [feature("building.add", square(nx, ny, 20), levels=3, use="castle")],
            "e1",
            "unknown use",
        ),
        "wrong geometry": ([feature("park.add", point_at(nx, ny))], "e1", "is not its geometry"),
        "invalid geometry": (
            [feature("housing.add", {"type": "Polygon", "coordinates": [[[1, 2]]]}, residents=5)],
            "e1",
            "invalid",
        ),
        "duplicate id": (
            [{**school, "id": "a"}, {**school, "id": "a"}],
            "a",
            "used by another edit",
        ),
        "not a feature": ([school, {"type": "Point"}], "#1", "not a GeoJSON Feature"),
    }


BAD = [
    "outside the city",
    "unknown category",
    "unknown kind",
    "unknown edit",
    "negative residents",
    "two sizes",
    "no size",
    "bad density",
    "link far from the network",
    "closure covering nothing",
    "light covering nothing",
    "unknown amenity",
    "unknown park",
    "removed twice",
    "removed and moved",
    "housing on demolition",
    "park on new housing",
    "buildings on each other",
    "light on a closed street",
    "levels out of range",
    "unknown use",
    "wrong geometry",
    "invalid geometry",
    "duplicate id",
    "not a feature",
]


@pytest.mark.parametrize("name", BAD)
def test_a_bad_edit_is_refused_naming_it(city, name):
    edits, edit_id, problem = bad_plans(city)[name]
    with pytest.raises(EditError) as caught:
        parse_edits({"type": "FeatureCollection", "features": edits}, city)
    error = caught.value
    assert error.status == 400
    assert str(error).startswith(f"edit {edit_id}"), str(error)
    assert problem in str(error), str(error)
    details = error.details()
    assert details["edit"] == edit_id and details["problem"] and problem in details["problem"]
    assert isinstance(details["index"], int)


def test_a_plan_that_is_not_a_collection_or_too_long_is_refused(city):
    with pytest.raises(EditError, match="FeatureCollection"):
        parse_edits({"type": "Feature"}, city)
    nx, ny = centre(city, "North")
    many = [feature("amenity.add", point_at(nx, ny), category="education")] * 501
    with pytest.raises(EditError, match="at most 500"):
        parse_edits(many, city)
    with pytest.raises(Exception, match="unknown walking mode"):
        evaluate_plan(city, [], mode="jog")


# -- a new fire station (the hazards' drive reach, today and with the plan) -----------------


@pytest.fixture()
def walking_only(monkeypatch):
    """Walk + PT only for plans with transit edits, as the test servers run (conftest)."""
    monkeypatch.setenv("TWIN_PLANS_WALK_PT_EVERY_PLAN", "off")


def farthest_home_from_fire(conn) -> tuple[float, float]:
    """The inhabited plot farthest (straight line) from every fire station and depot."""
    return conn.execute(
        """SELECT ST_X(c), ST_Y(c) FROM (
             SELECT ST_PointOnSurface(p.geom) AS c FROM plots p WHERE p.residents > 0
             ORDER BY (SELECT min(ST_Distance(p.geom::geography, f.geom::geography))
                       FROM fire_stations f) DESC LIMIT 1) q"""
    ).fetchone()


def test_a_fire_station_where_none_reaches_brings_residents_within_ten_minutes(
    conn, city, ctx, walking_only
):
    lon, lat = farthest_home_from_fire(conn)
    station = {"type": "Point", "coordinates": [lon, lat]}
    result = evaluate_plan(
        city, [feature("fire_station.add", station, name="Depot 2030")], context=ctx, conn=conn
    )
    fire = result["fire"]
    before = fire["base"]["city"]["fire_beyond_10_residents"]
    after = fire["plan"]["city"]["fire_beyond_10_residents"]
    assert fire["stations_added"] == 1 and fire["plan"]["city"]["fire_stations_working"] == (
        fire["base"]["city"]["fire_stations_working"] + 1
    )
    assert 0 < fire["beyond_10_closed"] == before - after
    # no district is worse off, the districts add up, and the walking figures did not move
    for name, row in fire["plan"]["districts"].items():
        assert (
            row["fire_beyond_10_residents"]
            <= (fire["base"]["districts"][name]["fire_beyond_10_residents"])
        )
    assert sum(r["fire_beyond_10_residents"] for r in fire["plan"]["districts"].values()) == after
    assert result["indicators"]["city"] == result["base"]["city"]
    # a station on top of an existing one closes nothing
    x, y = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM fire_stations LIMIT 1").fetchone()
    same = evaluate_plan(
        city,
        [feature("fire_station.add", {"type": "Point", "coordinates": [x, y]})],
        context=ctx,
        conn=conn,
    )
    assert same["fire"]["beyond_10_closed"] == 0


def test_new_homes_beyond_every_station_count_as_beyond_ten_minutes(conn, city, ctx, walking_only):
    lon, lat = farthest_home_from_fire(conn)
    x, y = to_utm(np.array([lon]), np.array([lat]))
    homes = feature("housing.add", square(x[0], y[0], 60), residents=3000)
    fire = evaluate_plan(city, [homes], context=ctx, conn=conn)["fire"]
    before = fire["base"]["city"]["fire_beyond_10_residents"]
    assert fire["stations_added"] == 0
    assert fire["plan"]["city"]["fire_beyond_10_residents"] == before + 3000


def test_a_fire_station_outside_the_city_or_without_the_database_is_refused(
    conn, city, ctx, walking_only
):
    outside = feature("fire_station.add", {"type": "Point", "coordinates": [10.0, 10.0]})
    with pytest.raises(EditError, match=r"fire_station\.add.*outside the city"):
        evaluate_plan(city, [outside], context=ctx, conn=conn)
    inside = feature("fire_station.add", point_at(*centre(city, "North")))
    with pytest.raises(InvalidParameter, match="fire station is evaluated against the database"):
        evaluate_plan(city, [inside], context=ctx)

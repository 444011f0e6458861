"""A planner's measures of a plan on the small demo city, each checked against PostGIS doing
the same sum its own way: the polycentre standards (residents per hectare, street density,
block size, lit share), plots and residents in fault setbacks, school places against the
children, and the facts of new housing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

from twin.analysis.city import CityModel, load_city, snap_rows
from twin.analysis.network import WalkingNetwork, to_lonlat
from twin.plans import measures
from twin.plans.evaluate import places_frame
from twin.plans.measures import PlanContext


@dataclass
class Demo:
    conn: psycopg.Connection
    city: CityModel
    ctx: PlanContext
    places: pd.DataFrame


@pytest.fixture(scope="module")
def demo(demo_city: str) -> Iterator[Demo]:
    with psycopg.connect(demo_city, autocommit=True) as conn:
        city = load_city(conn)
        yield Demo(conn, city, measures.plan_context(conn, city), places_frame(city))


def edited(
    network: WalkingNetwork, add: list[tuple[int, int]], remove: list[int]
) -> WalkingNetwork:
    """The network with segments added (straight, lit) and removed, its nodes kept."""
    keep = np.ones(len(network.edge_u), dtype=bool)
    keep[remove] = False
    u = np.array([a for a, _ in add], dtype=np.int64)
    v = np.array([b for _, b in add], dtype=np.int64)
    length = np.hypot(network.x[u] - network.x[v], network.y[u] - network.y[v])
    return WalkingNetwork(
        node_ids=network.node_ids,
        x=network.x,
        y=network.y,
        z=network.z,
        edge_u=np.concatenate([network.edge_u[keep], u]),
        edge_v=np.concatenate([network.edge_v[keep], v]),
        edge_length=np.concatenate([network.edge_length[keep], length]),
        edge_lit=np.concatenate([network.edge_lit[keep], np.ones(len(u), bool)]),
        version=network.version,
        slope_aware=network.slope_aware,
    )


def full_block_ha(ctx: PlanContext, network: WalkingNetwork, group: str) -> list[float]:
    """Mean face area per area, polygonized from scratch (no cached faces)."""
    areas = ctx.district_utm if group == "districts" else ctx.polycentre_utm
    result = []
    for i, area in enumerate(areas):
        codes = np.full(network.n, -1)
        codes[shapely.contains_xy(area, network.x, network.y)] = i
        faces = measures.face_shapes(network, area, codes, i)
        result.append(round(float(shapely.area(faces).mean() / 10_000), 3))
    return result


def test_polycentre_standards_match_postgis(demo: Demo) -> None:
    """Residents per hectare, street km per km² and the lit share of every polycentre are the
    figures PostGIS gives by ST_Intersection / ST_Length / ST_Area over the same tables."""
    got = measures.area_measures(demo.ctx, demo.city, demo.city.network, demo.places)
    rows = demo.conn.execute(
        """
        WITH p AS (SELECT name, geom, ST_Transform(geom, 32643) AS g FROM polycentres)
        SELECT p.name, ST_Area(p.g) / 10000 AS ha,
          (SELECT coalesce(sum(pl.residents), 0) FROM plots pl
           WHERE ST_Intersects(p.geom, ST_PointOnSurface(pl.geom))) AS residents,
          (SELECT sum(ST_Length(ST_Intersection(ST_Transform(s.geom, 32643), p.g)))
           FROM streets s WHERE s.walkable AND s.source_node <> s.target_node
             AND ST_Intersects(s.geom, p.geom)) AS street_m,
          (SELECT sum(ST_Length(ST_Intersection(ST_Transform(s.geom, 32643), p.g)))
           FROM streets s WHERE s.walkable AND s.source_node <> s.target_node AND s.lit
             AND ST_Intersects(s.geom, p.geom)) AS lit_m
        FROM p ORDER BY p.name
        """
    ).fetchall()
    assert [r[0] for r in rows] == list(got["polycentres"])
    for name, ha, residents, street_m, lit_m in rows:
        row = got["polycentres"][name]
        assert row["density_pph"] == pytest.approx(float(residents) / ha, abs=0.06), name
        # a segment crossing a polycentre without an end inside it is not counted: < 1%
        km_km2 = street_m / 1000 / (ha / 100)
        assert row["street_density_km_km2"] == pytest.approx(km_km2, rel=0.01), name
        assert row["lit_share"] == pytest.approx(lit_m / street_m, abs=0.01), name
        assert row["mean_block_ha"] and row["mean_block_ha"] > 0.05, name
    city = got["city"]
    total = demo.conn.execute(
        "SELECT sum(residents) FROM plots WHERE ST_Intersects(geom, "
        "(SELECT ST_Union(geom) FROM districts))"
    ).fetchone()[0]
    assert city["density_pph"] == pytest.approx(
        float(demo.places["residents"].sum()) / demo.ctx.district_ha.sum(), abs=0.06
    )
    assert int(demo.places["residents"].sum()) >= int(total)
    # the programme's standards: the demo's Historic Centre has the densest streets
    densest = max(got["polycentres"].items(), key=lambda kv: kv[1]["street_density_km_km2"])
    assert densest[0] == "Historic Centre"


def test_fault_residents_match_postgis(demo: Demo) -> None:
    """Plots (with residents) whose footprint meets an active fault's setback buffer, and
    their residents, per district and for the city, as ST_Intersects counts them."""
    got = measures.area_measures(demo.ctx, demo.city, demo.city.network, demo.places)
    rows = demo.conn.execute(
        """
        WITH hit AS (
          SELECT DISTINCT p.id, p.district, p.residents
          FROM plots p JOIN seismic_faults f ON coalesce(f.active, true)
          WHERE p.residents > 0 AND ST_Intersects(
            ST_Buffer(ST_Transform(f.geom, 32643), coalesce(f.setback_m, 100), 'quad_segs=64'),
            ST_Transform(p.geom, 32643))
        )
        SELECT district, count(*), sum(residents) FROM hit GROUP BY district
        """
    ).fetchall()
    by_district = {d: (int(n), int(r)) for d, n, r in rows}
    assert sum(n for n, _ in by_district.values()) > 0, "the demo has homes in setbacks"
    for name, row in got["districts"].items():
        plots, residents = by_district.get(name, (0, 0))
        assert row["fault_plots"] == plots, name
        assert row["fault_residents"] == residents, name
    assert got["city"]["fault_plots"] == sum(n for n, _ in by_district.values())
    assert got["city"]["fault_residents"] == sum(r for _, r in by_district.values())

    # new housing on a fault counts too; demolishing the homes in setbacks empties it
    trace = demo.ctx.hazards.faults_utm[0]
    point = shapely.line_interpolate_point(trace, 0.5, normalized=True)
    district = demo.city.plots["district"].iloc[0]
    extra = pd.DataFrame(
        {"x": [point.x], "y": [point.y], "residents": [1200], "district": [district]}
    )
    lon, lat = to_lonlat(extra.x.to_numpy(), extra.y.to_numpy())
    snapped = snap_rows(demo.city.network, extra.x.to_numpy(), extra.y.to_numpy())
    extra = extra.assign(lon=lon, lat=lat, **snapped, polycentre=None)
    plan = pd.concat([demo.places, extra[demo.places.columns]], ignore_index=True)
    more = measures.area_measures(demo.ctx, demo.city, demo.city.network, plan)["city"]
    assert more["fault_plots"] == got["city"]["fault_plots"] + 1
    assert more["fault_residents"] == got["city"]["fault_residents"] + 1200
    flags = measures.setback_flags(demo.ctx, plan)
    demolished = plan.assign(residents=np.where(flags, 0, plan["residents"].to_numpy()))
    cleared = measures.area_measures(demo.ctx, demo.city, demo.city.network, demolished)
    assert cleared["city"]["fault_plots"] == cleared["city"]["fault_residents"] == 0


def test_a_link_across_a_block_splits_it_and_a_closure_merges(demo: Demo) -> None:
    """A pedestrian link across the largest block of a polycentre lowers its mean block size;
    closing a street between two blocks raises it; both equal a polygonization from scratch."""
    network = demo.city.network
    base = measures.area_measures(demo.ctx, demo.city, network, demo.places)
    assert [r["mean_block_ha"] for r in base["polycentres"].values()] == full_block_ha(
        demo.ctx, network, "polycentres"
    )
    name = "Historic Centre"
    i = demo.ctx.polycentre_names.index(name)
    area = demo.ctx.polycentre_utm[i]
    codes = np.full(network.n, -1)
    codes[shapely.contains_xy(area, network.x, network.y)] = i
    faces = measures.face_shapes(network, area, codes, i)
    faces = faces[np.argsort(-shapely.area(faces))]
    link = None
    for face in faces[:20]:  # the largest block whose corners are nodes, crossed corner to corner
        ring = np.asarray(face.exterior.coords)[:-1]
        nodes, gap = network.snap_xy(ring[:, 0], ring[:, 1])
        corners = nodes[gap < 0.01]
        if len(corners) >= 4:
            a, b = corners[0], corners[len(corners) // 2]
            line = shapely.LineString([(network.x[a], network.y[a]), (network.x[b], network.y[b])])
            if shapely.within(shapely.buffer(line.interpolate(0.5, normalized=True), 1), face):
                link = (int(a), int(b))
                break
    assert link is not None, "a block to cross"
    linked = edited(network, [link], [])
    split = measures.area_measures(demo.ctx, demo.city, linked, demo.places)
    assert split["polycentres"][name]["mean_block_ha"] < base["polycentres"][name]["mean_block_ha"]
    assert split["districts"] != base["districts"]
    assert [r["mean_block_ha"] for r in split["polycentres"].values()] == full_block_ha(
        demo.ctx, linked, "polycentres"
    )
    assert [r["mean_block_ha"] for r in split["districts"].values()] == full_block_ha(
        demo.ctx, linked, "districts"
    )
    # the street density rises by the link's length; the lit share with it (the link is lit)
    km = shapely.length(line) / 1000
    ha = demo.ctx.polycentre_ha[i]
    assert split["polycentres"][name]["street_density_km_km2"] == pytest.approx(
        base["polycentres"][name]["street_density_km_km2"] + km / (ha / 100), abs=0.011
    )

    # close one street inside the polycentre between two blocks
    inside = np.flatnonzero((codes[network.edge_u] == i) & (codes[network.edge_v] == i))
    closed = edited(network, [], [int(inside[len(inside) // 2])])
    merged = measures.area_measures(demo.ctx, demo.city, closed, demo.places)
    assert [r["mean_block_ha"] for r in merged["polycentres"].values()] == full_block_ha(
        demo.ctx, closed, "polycentres"
    )
    assert (
        merged["polycentres"][name]["mean_block_ha"] >= base["polycentres"][name]["mean_block_ha"]
    )


def test_a_school_beside_an_overloaded_one_lowers_the_deficit(demo: Demo) -> None:
    """Children walk to their nearest school; a new school beside the most overloaded one
    takes some of them and the deficit falls; the incremental pass (from the new school
    alone) gives the figures of a full pass."""
    city, ctx = demo.city, demo.ctx
    before = measures.places_against_children(ctx, city, city.network, city.amenities, demo.places)
    schools = before["schools"]
    assert schools["facilities"] == int((city.amenities["kind"] == "school").sum())
    # a school stored without a capacity (another story added one) counts the kind's median
    stored, unknown = demo.conn.execute(
        "SELECT sum(capacity), count(*) FILTER (WHERE capacity IS NULL) "
        "FROM amenities WHERE kind = 'school'"
    ).fetchone()
    assert schools["places"] == stored + unknown * ctx.default_capacity("school")
    assert schools["overloaded"] > 0
    assert schools["deficit"] > 0 and schools["unserved_children"] >= 0
    districts = schools["districts"].values()
    # per district by the children's district: a plot another story stored with no district
    # counts in the city's figures only (its children at the city's ratio)
    _, city_ratio, _ = ctx.children_share("schools")
    nowhere = demo.places["district"].isna().to_numpy()
    outside = float(demo.places["residents"].to_numpy()[nowhere].sum()) * city_ratio
    assert sum(d["children"] for d in districts) + outside == pytest.approx(
        schools["children"], abs=8
    )
    assert sum(d["deficit"] for d in districts) <= schools["deficit"] + 8
    assert sum(d["unserved_children"] for d in districts) <= schools["unserved_children"] + 8
    if not nowhere.any():
        assert sum(d["deficit"] for d in districts) == pytest.approx(schools["deficit"], abs=8)
    assert sum(d["places"] for d in districts) == schools["places"]
    assert sum(d["overloaded"] for d in districts) == schools["overloaded"]

    loads = measures.facility_loads(ctx, city.network, city.amenities, demo.places)
    worst = loads.iloc[int(np.argmax(loads["load"] - loads["capacity"]))]
    assert worst["load"] > worst["capacity"]
    stored = city.amenities[city.amenities["layer"] == "amenities"]
    new = stored[stored["id"] == worst["id"]].copy()
    new["id"] = "e1"
    # big enough for the children nearest to it: a school that overflows itself can add to the
    # deficit (it also draws children from schools with places to spare)
    new["capacity"] = 4000
    # children go to their nearest school, so a school at the very same corner takes no one:
    # the new one stands a few hundred metres off, among the homes the overloaded one serves
    # (a quarter of the way out to its farthest), and takes that side of its catchment
    schools_only = measures.allocate(ctx, city.network, city.amenities, demo.places, "schools")
    position = int(np.flatnonzero(loads["id"].to_numpy() == worst["id"])[0])
    served = np.flatnonzero((schools_only.facility == position) & schools_only.reach)
    distance = np.hypot(
        demo.places["lon"].to_numpy()[served] - worst["lon"],
        demo.places["lat"].to_numpy()[served] - worst["lat"],
    )
    far = served[np.argsort(distance)[(len(served) - 1) // 4]]
    lon, lat = demo.places["lon"].iloc[far], demo.places["lat"].iloc[far]
    new = new.assign(lon=lon, lat=lat, **snap_rows(city.network, *_utm_point(lon, lat)))
    amenities = pd.concat([city.amenities, new], ignore_index=True)
    after = measures.places_against_children(ctx, city, city.network, amenities, demo.places)
    assert after["schools"]["places"] == schools["places"] + 4000
    assert after["schools"]["deficit"] < schools["deficit"]
    relieved = measures.facility_loads(ctx, city.network, amenities, demo.places)
    assert relieved["load"].iloc[position] < worst["load"]
    assert after["kindergartens"] == before["kindergartens"]

    # a copy of the network is not the city's: every pass is walked from all the schools
    copy = edited(city.network, [], [])
    full = measures.places_against_children(ctx, city, copy, amenities, demo.places)
    assert full == after


def _utm_point(lon: float, lat: float) -> tuple[np.ndarray, np.ndarray]:
    from twin.analysis.network import to_utm

    return to_utm(np.array([lon]), np.array([lat]))


def test_children_come_from_the_districts_or_the_programme_ratio(demo: Demo) -> None:
    """With children counts on the districts, each district's children are its own; without
    them the programme's city ratios stand in and the figure says it is assumed."""
    got = measures.places_against_children(
        demo.ctx, demo.city, demo.city.network, demo.city.amenities, demo.places
    )
    columns = {
        r[0]
        for r in demo.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'districts'"
        )
    }
    residents = float(demo.places["residents"].sum())
    for which, column, ratio in (
        ("schools", "children_school_age", measures.PUPILS_PER_RESIDENT),
        ("kindergartens", "children_preschool_age", measures.PRESCHOOL_PER_RESIDENT),
    ):
        if column in columns:
            counts = dict(demo.conn.execute(f"SELECT name_en, {column} FROM districts"))
            assert not got[which]["assumed"]
            for name, figures in got[which]["districts"].items():
                assert figures["children"] == pytest.approx(counts[name], rel=0.02), name
        else:
            assert got[which]["assumed"] and got[which]["assumption"]
            assert got[which]["children"] == pytest.approx(residents * ratio, rel=0.001)


def test_new_housing_facts_match_postgis(demo: Demo) -> None:
    """A housing footprint across a fault lies in its setback, one far from every fault does
    not; its metres to each utility network are PostGIS's ST_Distance to the nearest line."""
    fault = demo.ctx.hazards.faults_utm[0]
    centre = shapely.line_interpolate_point(fault, 0.5, normalized=True)
    on_fault = shapely.buffer(centre, 60, cap_style="square")
    plot = demo.city.plots.iloc[int(np.argmax(demo.city.plots["residents"].to_numpy()))]
    px, py = _utm_point(plot["lon"], plot["lat"])
    elsewhere = shapely.box(px[0] - 40, py[0] - 40, px[0] + 40, py[0] + 40)

    def lonlat(shape: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(shape, lambda xy: np.column_stack(to_lonlat(xy[:, 0], xy[:, 1])))

    shapes = [lonlat(on_fault), shapely.geometry.mapping(lonlat(elsewhere))]
    facts = measures.housing_facts(demo.ctx, shapes)
    assert facts[0]["in_fault_setback"] is True
    wkt = shapely.to_wkt(lonlat(elsewhere))
    in_setback, *_ = demo.conn.execute(
        """
        SELECT coalesce(bool_or(ST_DWithin(ST_Transform(f.geom, 32643),
               ST_Transform(ST_GeomFromText(%(wkt)s, 4326), 32643), coalesce(f.setback_m, 100))),
               false)
        FROM seismic_faults f WHERE coalesce(f.active, true)
        """,
        {"wkt": wkt},
    ).fetchone()
    assert facts[1]["in_fault_setback"] is in_setback
    rows = demo.conn.execute(
        """
        SELECT network, min(ST_Distance(ST_Transform(geom, 32643),
                                        ST_Transform(ST_GeomFromText(%(wkt)s, 4326), 32643)))
        FROM utility_lines WHERE network <> 'lighting' GROUP BY network
        """,
        {"wkt": wkt},
    ).fetchall()
    assert set(facts[1]["utility_m"]) == {r[0] for r in rows}
    for network, metres in rows:
        assert facts[1]["utility_m"][network] == pytest.approx(metres, abs=0.1), network
    assert measures.housing_facts(demo.ctx, []) == []

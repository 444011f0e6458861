"""One bbox reader (twin.bbox.parse_bbox) for items, the terrain coverage, scenes and the
import and seeding commands. Pure: the routes' answers are in test_item_ids_and_crs.py,
test_tiles.py, test_scene3d.py and test_osm.py."""

from __future__ import annotations

import pytest

from twin.bbox import BboxError, parse_bbox
from twin.errors import InvalidParameter


def test_four_numbers_or_six_with_heights():
    assert parse_bbox("76.9,43.2,77,43.3") == (76.9, 43.2, 77.0, 43.3)
    assert parse_bbox(" 76.9, 43.2 ,77 ,43.3") == (76.9, 43.2, 77.0, 43.3)
    assert parse_bbox("76.9,43.2,500,77,43.3,900") == (76.9, 43.2, 77.0, 43.3)
    assert parse_bbox("-1.5e3,+2,.5,3.") == (-1500.0, 2.0, 0.5, 3.0)
    box = parse_bbox("-0,-0,0,0")
    assert box == (0.0, 0.0, 0.0, 0.0) and str(box[0]) == "0.0"  # -0 is 0


@pytest.mark.parametrize(
    "text, words",
    [
        ("76.9,43.2,77", "must be 4 numbers"),
        ("1,2,3,4,5", "got 5 value(s)"),
        ("a,b,c,d", "decimal numbers"),
        ("1_0,0,20,20", "decimal numbers"),
        ("١,0,2,2", "decimal numbers"),
        ("0x1,0,2,2", "decimal numbers"),
        ("0,0,inf,1", "decimal numbers"),
        ("NaN,0,1,1", "decimal numbers"),
        ("1,,2,2", "decimal numbers"),
        ("0,0,1e309,1", "finite"),
        ("76.9,43.3,77,43.2", "miny"),
        ("77,43.2,76.9,43.3", "antimeridian"),
    ],
)
def test_what_is_not_a_box_is_named(text, words):
    with pytest.raises(BboxError) as refused:
        parse_bbox(text)
    assert words in str(refused.value) and str(refused.value).startswith("bbox ")
    assert isinstance(refused.value, InvalidParameter)
    assert refused.value.status == 400 and refused.value.code == "InvalidParameterValue"


def test_callers_ask_for_degrees_an_area_and_no_heights():
    assert parse_bbox("200,0,201,1") == (200.0, 0.0, 201.0, 1.0)  # a projected box
    with pytest.raises(BboxError, match="degrees"):
        parse_bbox("200,43.2,201,43.3", degrees=True)
    with pytest.raises(BboxError, match="degrees"):
        parse_bbox("76,-91,77,43", degrees=True)
    assert parse_bbox("-180,-90,180,90", degrees=True) == (-180.0, -90.0, 180.0, 90.0)
    assert parse_bbox("76.9,43.2,76.9,43.3") == (76.9, 43.2, 76.9, 43.3)
    with pytest.raises(BboxError, match="no area"):
        parse_bbox("76.9,43.2,76.9,43.3", area=True)
    with pytest.raises(BboxError, match=r"must be 4 numbers \(minx,miny,maxx,maxy\), got 6"):
        parse_bbox("76.9,43.2,0,77,43.3,0", heights=False)


def test_the_error_names_the_parameter_and_keeps_the_problem_apart():
    with pytest.raises(BboxError) as refused:
        parse_bbox("77,43,76", name="--bbox")
    assert str(refused.value).startswith("--bbox must be 4 numbers")
    assert refused.value.problem.startswith("must be 4 numbers")

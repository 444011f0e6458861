"""One If-None-Match matcher (twin.http.conditional) for items, tiles, scenes and the viewer:
weak comparison per RFC 9110, `*`, lists, W/ prefixes. Pure: no server needed; the routes'
own stories are in test_etag.py, test_tiles.py, test_scene3d.py and test_viewer.py."""

from __future__ import annotations

import pytest

from twin.http.conditional import etag_matches, etag_matches_bytes

CASES = [
    # header, etag, matches
    ('"v3"', '"v3"', True),
    ('W/"v3"', '"v3"', True),  # weak comparison: a proxy may weaken the tag
    ('"v3"', 'W/"v3"', True),
    ('"v2", "v3"', '"v3"', True),  # a list
    ('"v2",W/"v3" ', '"v3"', True),
    ("*", '"v3"', True),
    ('"v2", *', '"v3"', True),
    ("v3", '"v3"', True),  # unquoted: lenient on input
    ('"v2"', '"v3"', False),
    ('"v33"', '"v3"', False),
    ('"v"', '"v3"', False),
    ("", '"v3"', False),
    (" , ", '"v3"', False),
    ('"*"', '"v3"', False),  # a tag spelled *, not the wildcard
    ('W/"abc123def456"', '"abc123def456"', True),
]


@pytest.mark.parametrize("header, etag, expected", CASES)
def test_a_header_names_an_entity_tag_by_weak_comparison(header, etag, expected):
    assert etag_matches(header, etag) is expected
    assert etag_matches_bytes(header.encode(), etag.encode()) is expected


def test_no_header_names_nothing():
    assert etag_matches(None, '"v1"') is False
    assert etag_matches_bytes(None, b'"v1"') is False

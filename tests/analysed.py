"""The demo city with its analysis published, shared by the analysis tests."""

from __future__ import annotations

import pytest

from conftest import run_twin


@pytest.fixture(scope="module")
def analysed_city(demo_city: str) -> str:
    """`twin analyse` over the small demo, refreshed for each module: earlier modules edit
    plots, buildings and amenities (a cheap no-op when nothing changed since the last run)."""
    run_twin("analyse", "--if-stale")
    return demo_city

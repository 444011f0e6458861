"""The demo city with its analysis published, shared by the analysis tests."""

from __future__ import annotations

import pytest

from conftest import run_twin


@pytest.fixture(scope="module")
def analysed_city(demo_city: str) -> str:
    """`twin analyse` over the small demo, refreshed for each module: earlier modules edit
    plots, buildings and amenities, so each module starts from results that match the data."""
    run_twin("analyse")
    return demo_city

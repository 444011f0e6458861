"""The demo city with its analysis published, shared by the analysis tests."""

from __future__ import annotations

import pytest

from conftest import run_twin


@pytest.fixture(scope="module")
def analysed_city(demo_city: str) -> str:
    """`twin analyse` over the small demo, brought up to date for each module: earlier modules
    edit plots, buildings and amenities, so each module starts from results that match the
    data. `--if-stale` analyses only when an input's data version moved since the published
    run (what `twin up` does), so a module after a read-only one starts at once."""
    run_twin("analyse", "--if-stale")
    return demo_city

"""The demo city with its analysis published, shared by the analysis tests."""

from __future__ import annotations

import pytest

from conftest import run_twin


@pytest.fixture(scope="session")
def analysed_city(demo_city: str) -> str:
    """`twin analyse` over the small demo (skipped when nothing changed since the last run)."""
    run_twin("analyse", "--if-stale")
    return demo_city

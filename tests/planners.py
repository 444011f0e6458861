"""Planners with keys, shared by the plan stories (each module gets its own users)."""

from __future__ import annotations

import pytest

from conftest import new_user


@pytest.fixture(scope="module")
def planner(analysed_city: str) -> tuple[str, str]:
    """An editor's name and key: the author of the module's plans."""
    return new_user("editor", "plots")


@pytest.fixture(scope="module")
def colleague(analysed_city: str) -> tuple[str, str]:
    """Another editor, who may read the plans but not change them."""
    return new_user("editor", "plots")

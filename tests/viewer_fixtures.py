"""The viewer stories' one server and their fresh page, registered in conftest.py.

Every tests/test_viewer*.py module used to start its own `twin serve` over the same database;
one server for the session serves them all (and keeps its warm caches: the walking network,
hot tiles). A module whose stories need a server set up otherwise keeps its own and says why
(test_viewer_plans: plans re-evaluated 0.2 s after a change). The browser is tests/chromium.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from conftest import Server, run_twin
from twin.viewer import HeadlessChromium


@pytest.fixture(scope="session")
def city_server(demo_city: str) -> Iterator[Server]:
    """The twin serving the small demo city with its analysis published."""
    srv = Server()
    try:
        if srv.get("/indicators").status_code == 404:
            run_twin("analyse")
        yield srv
    finally:
        srv.stop()


def console_errors(browser: HeadlessChromium) -> list[dict]:
    """Errors, refusals by the page's Content-Security-Policy and dialogs the page opened.

    Tiles MapLibre no longer needs after the camera moved are aborted on purpose."""
    return [
        m
        for m in browser.call("console")["messages"]
        if m["type"] in ("error", "csp", "dialog")
        or (m["type"] == "requestfailed" and "ERR_ABORTED" not in m["text"])
    ]


@pytest.fixture()
def page(browser: HeadlessChromium, city_server: Server) -> Iterator[HeadlessChromium]:
    """The viewer, opened fresh; after the story, the page must have logged no error."""
    browser.page_url = f"{city_server.url}/viewer/"
    yield browser
    errors = console_errors(browser)
    assert not errors, f"console errors in the viewer: {json.dumps(errors, indent=1)[:3000]}"

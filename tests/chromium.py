"""One headless Chromium per browser-test module (Debian's Chromium through playwright-core,
twin.viewer.HeadlessChromium): the `browser` fixture, registered in conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import ROOT
from twin.viewer import HeadlessChromium

# screenshots and exports land here so a person can see what the browser saw
ARTIFACTS = ROOT / "test-artifacts" / "viewer"


@pytest.fixture(scope="module")
def browser() -> Iterator[HeadlessChromium]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chromium = HeadlessChromium()
    yield chromium
    chromium.close()

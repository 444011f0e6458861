"""One headless Chromium for the whole test session (Debian's Chromium through playwright-core,
twin.viewer.HeadlessChromium), registered in conftest.py: the `browser` fixture.

Starting Chromium costs seconds on CI's 2 cores, so every browser-test module shares one; each
module still meets it as if it had just started: a fresh browser context (no cookies, storage,
cache or routes of another module's stories), on a blank page, with no console messages or
network responses recorded yet.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import ROOT
from twin.viewer import HeadlessChromium

# screenshots and exports land here so a person can see what the browser saw
ARTIFACTS = ROOT / "test-artifacts" / "viewer"


class SharedChromium:
    """The session's one Chromium, and the attributes it had when it started."""

    def __init__(self) -> None:
        self.chromium: HeadlessChromium | None = None
        self.attributes: set[str] = set()


@pytest.fixture(scope="session")
def shared_chromium() -> Iterator[SharedChromium]:
    """Started by the first module that asks for a browser and closed at the end of the
    session; a story that killed it gets a new one in the next module (`browser`)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shared = SharedChromium()
    yield shared
    if shared.chromium is not None:
        shared.chromium.close()


@pytest.fixture(scope="module")
def browser(shared_chromium: SharedChromium) -> HeadlessChromium:
    """The session's Chromium in a fresh context for this module's stories."""
    chromium = shared_chromium.chromium
    if chromium is None or chromium.process.poll() is not None:
        chromium = shared_chromium.chromium = HeadlessChromium()
        shared_chromium.attributes = set(vars(chromium))
    else:
        # what an earlier module left on the object (e.g. `page_url`) goes with its context
        for name in set(vars(chromium)) - shared_chromium.attributes:
            delattr(chromium, name)
        chromium.call("reset")
    chromium.call("goto", url="about:blank")  # the driver forgets earlier console messages
    return chromium

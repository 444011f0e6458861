"""`twin bench viewer` starts each cold visit on a settled machine: a page of the visit before
that is still working (under SwiftShader a closed page's frames keep the GPU process busy for
a second or two) is waited for, measured by the CPU the browser's processes use, so the cold
visit does not share the cores with it; a quiet browser is not waited for.
"""

from __future__ import annotations

import importlib.util
import time
from types import ModuleType

from conftest import ROOT
from twin.viewer import HeadlessChromium

# A page that keeps the browser busy for BUSY_MS after it loads, in short slices (as frames do).
BUSY_MS = 2500
BUSY = f"""<!doctype html><html><body><script>
const end = performance.now() + {BUSY_MS};
function spin() {{
  const slice = performance.now() + 40;
  while (performance.now() < slice) {{}}
  if (performance.now() < end) setTimeout(spin, 0); else document.title = 'done';
}}
spin();
</script></body></html>"""


def bench_viewer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_viewer", ROOT / "bench" / "viewer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_cold_visit_waits_until_the_browser_is_done_with_the_page_before(
    browser: HeadlessChromium,
) -> None:
    bench = bench_viewer()
    settle = bench.Settle(browser, [])
    browser.call("page", url="http://127.0.0.1:9/busy.html", html=BUSY)
    started = time.monotonic()
    settle(settle.mark())
    busy = settle.records[-1]
    assert busy["settled"], busy
    assert busy["waited_ms"] >= 1000, f"the busy page was not waited for: {busy}"
    assert browser.eval("return document.title") == "done"
    assert time.monotonic() - started < bench.SETTLE_TIMEOUT_S

    # the browser is quiet now: the next visit starts within a few samples
    settle(settle.mark())
    quiet = settle.records[-1]
    assert quiet["settled"] and quiet["waited_ms"] < 1500, quiet
    summary = settle.summary()
    assert summary["enabled"] and summary["timed_out"] == 0 and summary["waited_ms"]["n"] == 2

    # --no-settle: the old way, measured but not waited for
    hasty = bench.Settle(browser, [], enabled=False)
    browser.call("page", url="http://127.0.0.1:9/busy.html", html=BUSY)
    hasty(hasty.mark())
    assert hasty.records[-1]["waited_ms"] == 0
    assert browser.eval("return document.title") != "done"

"""`twin bench viewer`: time to the first idle 3D map and what the page downloads.

Debian's Chromium (headless, SwiftShader WebGL, driven by playwright-core) opens /viewer/ on
the running database (the `small` demo: `twin load demo --scale small`), N times with a cold
cache (a fresh browser context each run: a first-time visitor) and N times warm (the same
context: a returning planner). "Idle" is MapLibre's first `idle` event after the style, the
terrain and every visible tile are loaded and drawn, read from performance.now() so it counts
from navigation start. Bytes are what the browser received: JavaScript decoded and on the wire
(MapLibre is served gzip-compressed), and everything else. The comparison is the issue's
targets, side by side: idle within 3 s on localhost, under 2 MB of JavaScript.
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from twin.viewer import HeadlessChromium

TWIN = str(Path(sys.executable).parent / "twin")
IDLE_TARGET_MS = 3000
JS_TARGET_BYTES = 2 * 1024 * 1024
READY = "document.body.dataset.ready === '1'"


def _serve() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([TWIN, "serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "serving at" not in line:
        process.kill()
        raise SystemExit(f"twin serve did not start: {line}{process.stderr.read()[-2000:]}")
    url = line.split("serving at", 1)[1].split()[0].rstrip("/")
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return process, url


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.median(values)), 1),
            "p95": round(float(np.percentile(values, 95)), 1), "n": len(values)}


def _visit(browser: HeadlessChromium, url: str) -> dict[str, Any]:
    browser.call("goto", url=url)
    browser.wait(READY, timeout=120)
    idle_ms = browser.eval("return window.twin.firstIdle")
    features = browser.eval("return window.twin.map.queryRenderedFeatures().length")
    responses = browser.call("network")["responses"]
    scripts = [r for r in responses if r["type"] == "script" or r["url"].split("?")[0].endswith(
        (".js", ".mjs"))]
    return {
        "idle_ms": idle_ms,
        "rendered_features": features,
        "js_bytes": sum(r["bytes"] for r in scripts),
        "js_transfer_bytes": sum(r["encoded"] for r in scripts),
        "all_bytes": sum(r["bytes"] for r in responses),
        "all_transfer_bytes": sum(r["encoded"] for r in responses),
        "requests": len(responses),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench viewer", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="cold and warm visits each")
    parser.add_argument("--url", help="a running twin (default: start `twin serve` here)")
    args = parser.parse_args(argv)

    server = None
    url = args.url
    if not url:
        server, url = _serve()
    browser = None
    try:
        probe = httpx.get(f"{url}/collections/buildings/items", params={"f": "json", "limit": 1},
                          timeout=30)
        if probe.status_code != 200 or not probe.json().get("features"):
            raise SystemExit("no buildings in the database: load the small demo first "
                             "(twin load demo --scale small)")
        browser = HeadlessChromium()
        viewer = f"{url.rstrip('/')}/viewer/"
        cold, warm = [], []
        for _ in range(args.runs):
            browser.call("reset")
            cold.append(_visit(browser, viewer))
            warm.append(_visit(browser, viewer))
    finally:
        if browser is not None:
            browser.close()
        if server is not None:
            server.terminate()
            server.wait(10)

    cold_idle = [r["idle_ms"] for r in cold]
    warm_idle = [r["idle_ms"] for r in warm]
    js = statistics.median(r["js_bytes"] for r in cold)
    js_wire = statistics.median(r["js_transfer_bytes"] for r in cold)
    result = {
        "benchmark": "viewer",
        "browser": f"chromium {browser.version} headless, SwiftShader WebGL",
        "runs": args.runs,
        "cold_idle_ms": _stats(cold_idle),
        "warm_idle_ms": _stats(warm_idle),
        "js_bytes": int(js),
        "js_transfer_bytes": int(js_wire),
        "page_bytes": int(statistics.median(r["all_bytes"] for r in cold)),
        "page_transfer_bytes": int(statistics.median(r["all_transfer_bytes"] for r in cold)),
        "requests": int(statistics.median(r["requests"] for r in cold)),
        "rendered_features": int(statistics.median(r["rendered_features"] for r in cold)),
        "target_idle_ms": IDLE_TARGET_MS,
        "target_js_bytes": JS_TARGET_BYTES,
        "ratio_cold_idle_to_target": round(float(np.median(cold_idle)) / IDLE_TARGET_MS, 3),
        "ratio_warm_idle_to_target": round(float(np.median(warm_idle)) / IDLE_TARGET_MS, 3),
        "ratio_js_to_target": round(js / JS_TARGET_BYTES, 3),
        "ratio_js_transfer_to_target": round(js_wire / JS_TARGET_BYTES, 3),
    }
    print(json.dumps(result))

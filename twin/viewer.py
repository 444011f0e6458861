"""The viewer's server side: the layer panel built from the catalog, and MapLibre served locally.

The viewer itself is plain ES modules in web/, served at /viewer by the handlers below (their
rows in the route table, twin/http/routes.py) from an allow-list (index.html, viewer.css,
src/*.js, layers.json, MapLibre's dist files); nothing else in web/ (node_modules, tests,
package files, dotfiles) is reachable. Two things need the
server: the layer panel must come from layers/*.yml (one source of truth, so a new layer file
shows up in the panel with its legend), and MapLibre GL JS must come from the pinned npm
package in web/node_modules, never from a CDN, so the viewer works offline.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from rasterio.errors import RasterioError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from twin.catalog import (
    LANGUAGES,
    groups,
    load_catalog,
    programme,
)
from twin.errors import NotFound, ServiceUnavailable, TwinError
from twin.extent import current_extent
from twin.http.conditional import etag_matches
from twin.http.errors import render
from twin.layer_entries import layer_entry
from twin.settings import get_settings
from twin.styles import with_style

# What the page may fetch from the pinned maplibre-gl package (dist/ only).
MAPLIBRE_FILES: dict[str, str] = {
    "maplibre-gl.mjs": "text/javascript; charset=utf-8",
    "maplibre-gl-worker.mjs": "text/javascript; charset=utf-8",
    "maplibre-gl-shared.mjs": "text/javascript; charset=utf-8",
    "maplibre-gl.css": "text/css; charset=utf-8",
    "maplibre-gl.mjs.map": "application/json",
    "maplibre-gl-worker.mjs.map": "application/json",
}
# Degrees of latitude between the city's middle and the point the first view looks at (V6).
FIRST_VIEW_NORTH = 0.045
# A worker's content security policy is the one its script arrives with: MapLibre's tile
# worker must fetch tiles and terrain from this server and decode them into blobs.
WORKER_CSP = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
    "script-src 'self' blob:; worker-src 'self' blob:; frame-ancestors 'none'"
)


def center_elevation(lon: float, lat: float) -> float | None:
    """The terrain's height at the first view's centre, so the camera starts on the ground.

    Without it MapLibre puts the centre at sea level until the terrain tiles arrive, then lifts
    the camera ~800 m and asks for a second set of tiles for the new view.
    """
    from twin.terrain import elevation_at

    try:
        value = float(elevation_at(np.array([lon]), np.array([lat]))[0])
    except (TwinError, psycopg.Error, OSError, RasterioError):
        return None  # no terrain or no database: the viewer starts at sea level, as before
    return None if math.isnan(value) else round(value, 1)


def data_summary() -> dict[str, Any] | None:
    """Where the catalog layers' data come from, for the viewer's banner and dashboard: whether
    any is synthetic (the demo city: figures are illustrative), the sources, licences and the
    latest load. None without a database (the viewer then says nothing it does not know)."""
    from twin.provenance import _fetch

    try:
        records = _fetch()
    except (TwinError, psycopg.Error, OSError):
        return None
    catalog = load_catalog()
    names = {name for name, layer in catalog.items() if not layer.analysis}  # the inputs
    loaded = [r for name, r in records.items() if name in names and r.get("loaded_at")]
    if not loaded:
        return None
    return {
        "synthetic": any(r["synthetic"] for r in loaded),
        "synthetic_layers": sorted(n for n, r in records.items() if n in names and r["synthetic"]),
        "sources": sorted({r["source"] for r in loaded if r.get("source")}),
        "licences": sorted({r["licence"] for r in loaded if r.get("licence")}),
        "loaded_at": max(r["loaded_at"] for r in loaded),
    }


def viewer_catalog() -> dict[str, Any]:
    """The catalog as the viewer's layer panel: grouped in the catalog's order, titles in
    every language, legends and style hints, and the programme's figures (layers/_targets.yml)
    the dashboard draws beside the twin's, so the viewer names no layer and no target itself."""
    panel = groups()  # every layer's group is one of them (twin.catalog checks)
    grouped: dict[str, list[dict[str, Any]]] = {group.name: [] for group in panel}
    for layer in load_catalog().values():
        grouped[layer.group].append(with_style(layer_entry(layer)))
    extent = current_extent()  # the loaded districts' (twin.extent): blocking, in a thread
    minx, miny, maxx, maxy = extent
    # V6: the first view looks south at a point north of the city's middle, so the city fills
    # the foreground and the Trans-Ili Alatau rises behind it.
    center = [round((minx + maxx) / 2, 5), round((miny + maxy) / 2 + FIRST_VIEW_NORTH, 5)]
    return {
        "title": "Almaty Twin",
        "bbox": list(extent),
        "center": center,
        "center_elevation": center_elevation(*center),
        "languages": list(LANGUAGES),
        "groups": [
            {
                "name": group.name,
                "title": group.titles["en"],
                "titles": {lang: group.titles.get(lang, group.titles["en"]) for lang in LANGUAGES},
                "collapsed": group.collapsed,
                "layers": grouped[group.name],
            }
            for group in panel
        ],
        "targets": programme().document(),
        "data": data_summary(),
        "endpoints": {
            "tiles": "/tiles/WebMercatorQuad/tilejson.json",
            "terrain": "/terrain/tilejson.json",
            "indicators": "/indicators",
            "processes": "/processes",
            "collections": "/collections",
        },
    }


async def layers_json(request: Request) -> Response:
    body = JSONResponse(await run_in_threadpool(viewer_catalog)).body
    return _compressible(request, body, "application/json", {"Cache-Control": "no-cache"})


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str


_ASSETS: dict[tuple[str, float], _Asset] = {}


def maplibre_dir() -> Path:
    return get_settings().web_dir / "node_modules" / "maplibre-gl" / "dist"


def _asset(path: Path) -> _Asset:
    """File bytes and their gzip, computed once per file version (MapLibre is 1.6 MB raw)."""
    key = (str(path), path.stat().st_mtime)
    if key not in _ASSETS:
        body = path.read_bytes()
        _ASSETS[key] = _Asset(
            body=body,
            gzipped=gzip.compress(body, 6),
            etag='"' + hashlib.sha1(body).hexdigest()[:20] + '"',
        )
    return _ASSETS[key]


def _compressible(
    request: Request,
    body: bytes,
    media_type: str,
    headers: dict[str, str],
    gzipped: bytes | None = None,
) -> Response:
    """`body`, gzip-compressed when the client accepts it (text compresses 3-5x)."""
    headers = {**headers, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 512:
        headers["Content-Encoding"] = "gzip"
        return Response(
            gzipped if gzipped is not None else gzip.compress(body, 6),
            media_type=media_type,
            headers=headers,
        )
    return Response(body, media_type=media_type, headers=headers)


def _send_asset(request: Request, path: Path, media_type: str, headers: dict[str, str]) -> Response:
    asset = _asset(path)
    headers = {"ETag": asset.etag, **headers}
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers={**headers, "Vary": "Accept-Encoding"})
    return _compressible(request, asset.body, media_type, headers, asset.gzipped)


# The viewer's own files (the page, its stylesheet and modules); revalidated on every visit
# (no-cache: a changed file shows at once, an unchanged one costs a 304).
VIEWER_FILES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "viewer.css": "text/css; charset=utf-8",
}
# The page shows what editors and imports wrote (names, addresses, reports) to every visitor:
# only the viewer's own files may run as script (no inline script, no eval, no other host), so a
# name that slipped past the escaping into the DOM still cannot run. Styles may be inline (the
# charts and legends colour by style attributes); MapLibre starts its tile workers from its own
# file (blob: as its fallback) and decodes images into blob: URLs.
VIEWER_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
MODULE_NAME = re.compile(r"^[a-z][a-z0-9_-]*\.js$")


class ViewerNotInstalled(ServiceUnavailable):
    """MapLibre's files are missing on the server (`npm ci` in web/ was not run)."""


async def viewer_file(request: Request) -> Response:
    name = request.path_params.get("name", "index.html")
    if name not in VIEWER_FILES:
        return render(
            NotFound(
                f"no viewer file {name!r}; the viewer is /viewer/ "
                "(index.html), viewer.css, src/*.js and layers.json"
            )
        )
    headers = {"Cache-Control": "no-cache"}
    if name == "index.html":
        # Set here, not by the guard: the page is static, so it needs no nonce, only its files.
        headers["Content-Security-Policy"] = VIEWER_PAGE_CSP
    return _send_asset(request, get_settings().web_dir / name, VIEWER_FILES[name], headers)


async def viewer_module(request: Request) -> Response:
    name = request.path_params["name"]
    path = get_settings().web_dir / "src" / name
    if not MODULE_NAME.match(name) or not path.is_file():
        return render(NotFound(f"no viewer module {name!r}"))
    return _send_asset(
        request, path, "text/javascript; charset=utf-8", {"Cache-Control": "no-cache"}
    )


async def maplibre_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in MAPLIBRE_FILES:
        return render(
            NotFound(f"no MapLibre file {name!r}; served: {', '.join(sorted(MAPLIBRE_FILES))}")
        )
    path = maplibre_dir() / name
    if not path.is_file():
        return render(
            ViewerNotInstalled(
                f"{path} is missing: run `npm ci` in web/ (scripts/bootstrap.sh does it) to "
                "install the pinned MapLibre GL JS"
            )
        )
    return _send_asset(
        request,
        path,
        MAPLIBRE_FILES[name],
        {"Cache-Control": "public, max-age=86400", "Content-Security-Policy": WORKER_CSP},
    )


async def viewer_home(request: Request) -> Response:
    """/viewer without its slash: the page's relative links need the slash."""
    return RedirectResponse("/viewer/", status_code=308)


async def not_served(request: Request) -> Response:
    """Anything else under /viewer/: the viewer serves an allow-list, never web/ itself (its
    node_modules, tests, package files and dotfiles stay on the server)."""
    return render(
        NotFound(
            "not part of the viewer; it serves /viewer/ (index.html), "
            "viewer.css, src/*.js, layers.json and vendor/maplibre-gl/*"
        )
    )


class HeadlessChromium:
    """Debian's Chromium driven by playwright-core (web/tests/driver.mjs), one JSON line per call.

    Shared by the browser tests and `twin bench viewer`: the browser starts once and stays up.
    """

    def __init__(self, timeout: float = 120) -> None:
        import json
        import shutil
        import subprocess

        self._json = json
        node = shutil.which("node")
        driver = get_settings().web_dir / "tests" / "driver.mjs"
        if node is None:
            raise TwinError("node is not installed: run scripts/bootstrap.sh")
        if not (get_settings().web_dir / "node_modules" / "playwright-core").is_dir():
            raise TwinError("playwright-core is missing: run `npm ci` in web/")
        self.timeout = timeout
        self.process = subprocess.Popen(
            [node, str(driver)],
            cwd=driver.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        self.version = hello.get("version")

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            raise TwinError(f"the browser driver stopped: {self.process.stderr.read()[-2000:]}")
        return self._json.loads(line)

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one driver command; a failed command raises with the driver's message."""
        self.process.stdin.write(self._json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        reply = self._read()
        if not reply.get("ok"):
            raise TwinError(f"browser {op} failed: {reply.get('error')}")
        return reply

    def eval(self, js: str) -> Any:
        return self.call("eval", js=js)["value"]

    def wait(self, js: str, timeout: float = 30) -> float:
        return self.call("wait", js=js, timeout=int(timeout * 1000))["waited_ms"]

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(TwinError, BrokenPipeError, OSError):
                self.call("close")
            try:
                self.process.wait(10)
            except Exception:
                self.process.kill()

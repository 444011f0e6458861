"""Glyphs for the viewer's labels, served by the twin itself (no CDN, works offline).

MapLibre draws text from signed-distance-field glyphs, fetched 256 code points at a time from
the style's `glyphs` URL, /viewer/fonts/{fontstack}/{range}.pbf. The twin builds each range
from a font file of a Debian package (fonts-dejavu-core: Latin, Cyrillic and the Kazakh
letters Ә Ғ Қ Ң Ө Ұ Ү Һ І) with fontnik, Mapbox's glyph converter (a pinned dev dependency of
web/, run by web/tools/glyphs.mjs), the first time the range is asked for, and keeps it under
TWIN_HOME/cache/glyphs/, so later requests read a file. A stack of several fonts
("DejaVu Sans Bold,DejaVu Sans Book") is drawn with its first font the twin has.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.errors import NotFound, ServiceUnavailable
from twin.http.errors import render
from twin.settings import get_settings

log = logging.getLogger(__name__)

# The fontstacks the viewer's label layers name (web/src/labels.js), and their files.
FONTSTACKS: dict[str, str] = {
    "DejaVu Sans Book": "DejaVuSans.ttf",
    "DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
    "DejaVu Sans Oblique": "DejaVuSans-Oblique.ttf",
}
# Where Debian's fonts-dejavu-core puts them (scripts/bootstrap.sh installs it).
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
)
RANGE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
RANGE_SIZE = 256
LAST_CODE_POINT = 0xFFFF
BUILD_TIMEOUT_S = 60
MEDIA_TYPE = "application/x-protobuf"
# A range's glyphs change only with the font package or the converter: a day in the browser.
CACHE_CONTROL = "public, max-age=86400"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class GlyphsUnavailable(ServiceUnavailable):
    """The font package, node or fontnik is missing on the server: the bootstrap installs them."""


def font_file(fontstack: str) -> Path:
    """The font file drawing a fontstack: its first font the twin serves.

    Raises NotFound for a stack naming none of them, GlyphsUnavailable when the font package is
    not installed.
    """
    names = [name.strip() for name in fontstack.split(",")]
    known = [name for name in names if name in FONTSTACKS]
    if not known:
        raise NotFound(
            f"no font {fontstack!r}; the viewer's fonts are {', '.join(sorted(FONTSTACKS))}"
        )
    file_name = FONTSTACKS[known[0]]
    for folder in FONT_DIRS:
        if (folder / file_name).is_file():
            return folder / file_name
    raise GlyphsUnavailable(
        f"{file_name} is not installed: install Debian's fonts-dejavu-core "
        "(scripts/bootstrap.sh does it)"
    )


def parse_range(text: str) -> int:
    """The first code point of a glyph range named START-END (START a multiple of 256)."""
    match = RANGE.match(text)
    if match:
        start, end = int(match.group(1)), int(match.group(2))
        if start % RANGE_SIZE == 0 and end == start + RANGE_SIZE - 1 and end <= LAST_CODE_POINT:
            return start
    raise NotFound(
        f"no glyph range {text!r}: ranges are 256 code points, 0-255, 256-511, … 65280-65535"
    )


def cache_dir(font: Path) -> Path:
    return get_settings().home / "cache" / "glyphs" / font.stem


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _converter() -> tuple[str, Path]:
    """node and the build script, or why they cannot run."""
    node = shutil.which("node")
    web = get_settings().web_dir
    if node is None:
        raise GlyphsUnavailable("node is not installed: run scripts/bootstrap.sh")
    if not (web / "node_modules" / "fontnik").is_dir():
        raise GlyphsUnavailable("fontnik is missing: run `npm ci` in web/ (the bootstrap does)")
    return node, web / "tools" / "glyphs.mjs"


def glyph_range(font: Path, start: int) -> Path:
    """The file of one glyph range of a font, built on first use (~0.1-0.2 s) and then kept."""
    folder = cache_dir(font)
    path = folder / f"{start}-{start + RANGE_SIZE - 1}.pbf"
    if path.is_file():
        return path
    with _lock_for(path):  # two requests for one range build it once
        if path.is_file():
            return path
        node, script = _converter()
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [node, str(script), str(font), str(folder), str(start)],
            cwd=script.parent,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0 or not path.is_file():
            log.error("glyph build failed for %s %s: %s", font.name, start, done.stderr[-2000:])
            raise GlyphsUnavailable(
                f"could not build glyphs {start}-{start + RANGE_SIZE - 1} of {font.name}: "
                f"{done.stderr.strip()[-300:] or 'no output'}"
            )
        log.info("built glyphs %s-%s of %s", start, start + RANGE_SIZE - 1, font.name)
        return path


async def glyphs(request: Request) -> Response:
    """GET /viewer/fonts/{fontstack}/{range}.pbf: one range of SDF glyphs for MapLibre."""
    from twin.viewer import _send_asset

    try:
        font = font_file(request.path_params["fontstack"])
        start = parse_range(request.path_params["range"])
        path = await run_in_threadpool(glyph_range, font, start)
    except (NotFound, ServiceUnavailable) as error:
        return render(error)
    return _send_asset(request, path, MEDIA_TYPE, {"Cache-Control": CACHE_CONTROL})

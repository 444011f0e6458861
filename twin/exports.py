"""Print layouts a planner takes to a meeting: the viewer's map, dashboard, tables and plot
report as PDF (A4 or A3), rendered here by WeasyPrint (already used for the plan report).

The viewer sends what is on screen as JSON: the map as a PNG (MapLibre's canvas, read by the
browser: what the planner sees, with their layers, pitch, 3D and markers; the server's own
renderer, twin.maps, draws only the published style) with its legend, scale bar and north
arrow described, or a piece of the page's HTML (the dashboard with its SVG charts, a table,
the plot report). Every word arrives already in the viewer's language, so this module holds
no strings of its own.

The HTML comes from the client, so it is bounded in size and WeasyPrint fetches nothing but
`data:` URLs: a `file:` or `http:` reference in it (an image, a stylesheet, an attachment)
cannot read the server's files or reach its network. The answer goes only to the sender.
PNG exports need no server: the browser composes them (web/src/export.js).
"""

from __future__ import annotations

import base64
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from twin.errors import InvalidParameter
from twin.http.body import json_body

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "exports"
# A view's PNG at 2x on a large screen is ~4-6 MB as base64; a dashboard's HTML ~0.3 MB.
MAX_BODY_BYTES = 9 * 1024 * 1024
MAX_HTML_CHARS = 2_000_000
MAX_TEXT = 300
MAX_LEGEND_LAYERS = 40
MAX_LEGEND_ITEMS = 60
PAPERS = ("A4", "A3")
ORIENTATIONS = ("landscape", "portrait")
LANGUAGES = ("en", "ru", "kk")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# colours the legend may draw: #rgb/#rrggbb(aa), rgb()/rgba()/hsl()/hsla() with plain numbers
COLOUR = re.compile(
    r"^(#[0-9a-fA-F]{3,8}|(rgb|rgba|hsl|hsla)\(\s*[0-9.%\s,/+-]{1,60}\)|[a-zA-Z]{3,20})$"
)
# what the client's HTML may not carry into the PDF: scripts, styles, frames and controls
# (the export buttons themselves), whole; then any such tag left open
STRIPPED = re.compile(
    r"<(script|style|iframe|object|button|select|textarea|noscript)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
STRIPPED_TAGS = re.compile(
    r"</?(script|style|iframe|object|embed|button|input|select|textarea|noscript|link|meta)"
    r"\b[^>]*>",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LegendLayer:
    """One layer of the map's legend: its title and [(label, colour, kind)]."""

    title: str
    items: list[tuple[str, str]]
    kind: str = "fill"


@dataclass(frozen=True)
class MapPicture:
    """The map as the browser drew it, with what a reader needs to read it."""

    png: bytes
    legend: list[LegendLayer] = field(default_factory=list)
    legend_title: str = ""
    scale_label: str = ""
    scale_fraction: float = 0.0  # the scale bar's length as a share of the picture's width
    bearing: float = 0.0
    north: str = "N"


@dataclass(frozen=True)
class PrintRequest:
    """A validated print: title, paper, language and either a map picture or an HTML piece."""

    title: str
    paper: str
    orientation: str
    lang: str
    subtitle: str = ""
    date: str = ""
    source: str = ""
    note: str = ""
    picture: MapPicture | None = None
    html: str = ""


def _text(body: dict[str, Any], name: str, limit: int = MAX_TEXT, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"`{name}` is required: the print's {name}")
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"`{name}` must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidParameter(f"`{name}` may be at most {limit} characters, not {len(value)}")
    return value.strip()


def _choice(body: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = body.get(name, choices[0])
    if value not in choices:
        shown = str(value)[:40]
        raise InvalidParameter(f"`{name}` must be one of {', '.join(choices)}, not {shown!r}")
    return str(value)


def _number(value: Any, name: str, lowest: float, highest: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"`{name}` must be a number")
    if not lowest <= float(value) <= highest:
        raise InvalidParameter(f"`{name}` must be between {lowest} and {highest}, not {value}")
    return float(value)


def _png(data_url: Any) -> bytes:
    """The map picture: a `data:image/png;base64,` URL holding a PNG."""
    prefix = "data:image/png;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix):
        raise InvalidParameter("`map.image` must be a PNG as a data URL (data:image/png;base64,…)")
    try:
        png = base64.b64decode(data_url[len(prefix) :], validate=True)
    except ValueError:
        raise InvalidParameter("`map.image` is not valid base64") from None
    if not png.startswith(PNG_MAGIC) or len(png) < 64:
        raise InvalidParameter("`map.image` is not a PNG picture")
    return png


def _legend(raw: Any) -> list[LegendLayer]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_LEGEND_LAYERS:
        raise InvalidParameter(f"`map.legend` must be a list of at most {MAX_LEGEND_LAYERS} layers")
    layers = []
    for number, layer in enumerate(raw):
        if not isinstance(layer, dict):
            raise InvalidParameter(f"`map.legend[{number}]` must be an object")
        entries = layer.get("items") or []
        if not isinstance(entries, list) or len(entries) > MAX_LEGEND_ITEMS:
            raise InvalidParameter(
                f"`map.legend[{number}].items` must be a list of at most {MAX_LEGEND_ITEMS}"
            )
        items = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise InvalidParameter(f"`map.legend[{number}].items` must hold objects")
            colour = _text(entry, "color", 80) or "#888888"
            if not COLOUR.match(colour):
                raise InvalidParameter(f"`{colour[:40]}` is not a colour the legend can draw")
            items.append((_text(entry, "label"), colour))
        kind = layer.get("kind") if layer.get("kind") in ("fill", "line", "circle") else "fill"
        title = _text(layer, "title", required=True)
        layers.append(LegendLayer(title=title, items=items, kind=kind))
    return layers


def parse_print(body: Any) -> PrintRequest:
    """The print a client asked for, checked member by member (a 400 names the member)."""
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object (title, paper, map or html)")
    picture = None
    raw_map = body.get("map")
    if raw_map is not None:
        if not isinstance(raw_map, dict):
            raise InvalidParameter("`map` must be an object (image, legend, scale, bearing)")
        scale = raw_map.get("scale") or {}
        if not isinstance(scale, dict):
            raise InvalidParameter("`map.scale` must be an object (label, fraction)")
        picture = MapPicture(
            png=_png(raw_map.get("image")),
            legend=_legend(raw_map.get("legend")),
            legend_title=_text(raw_map, "legend_title"),
            scale_label=_text(scale, "label", 40),
            scale_fraction=_number(scale.get("fraction", 0), "map.scale.fraction", 0, 1),
            bearing=_number(raw_map.get("bearing", 0), "map.bearing", -360, 360),
            north=_text(raw_map, "north", 4) or "N",
        )
    html = body.get("html") or ""
    if not isinstance(html, str):
        raise InvalidParameter("`html` must be text (a piece of the viewer's page)")
    if len(html) > MAX_HTML_CHARS:
        raise InvalidParameter(f"`html` may be at most {MAX_HTML_CHARS} characters")
    if picture is None and not html.strip():
        raise InvalidParameter("a print needs `map` (the view) or `html` (a panel or table)")
    return PrintRequest(
        title=_text(body, "title", required=True),
        paper=_choice(body, "paper", PAPERS),
        orientation=_choice(body, "orientation", ORIENTATIONS),
        lang=_choice(body, "lang", LANGUAGES),
        subtitle=_text(body, "subtitle"),
        date=_text(body, "date", 80),
        source=_text(body, "source", 600),
        note=_text(body, "note", 600),
        picture=picture,
        html=STRIPPED_TAGS.sub("", STRIPPED.sub("", html)),
    )


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# The page's inner size in mm (margins 10 mm) by paper and orientation, and the room the map
# leaves for the header, the footer and the legend's column.
PAGE_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
MARGIN_MM = 10.0
HEADER_FOOTER_MM = 34.0
LEGEND_MM = 62.0


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels from the PNG's header (IHDR)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def map_box(doc: PrintRequest) -> tuple[float, float]:
    """The map's printed width and height in mm: as large as the page allows, its own shape."""
    long, short = PAGE_MM[doc.paper]
    width, height = (long, short) if doc.orientation == "landscape" else (short, long)
    room_w = width - 2 * MARGIN_MM - (LEGEND_MM if doc.picture and doc.picture.legend else 0)
    room_h = height - 2 * MARGIN_MM - HEADER_FOOTER_MM
    pixels_w, pixels_h = png_size(doc.picture.png) if doc.picture else (1, 1)
    scale = min(room_w / max(pixels_w, 1), room_h / max(pixels_h, 1))
    return round(pixels_w * scale, 2), round(pixels_h * scale, 2)


def render_html(doc: PrintRequest) -> str:
    """The print layout as one HTML page (the PDF's source)."""
    picture = doc.picture
    box = map_box(doc)
    image = (
        "data:image/png;base64," + base64.b64encode(picture.png).decode("ascii") if picture else ""
    )
    return (
        _templates()
        .get_template("print.html")
        .render(
            doc=doc,
            picture=picture,
            image=image,
            box=box,
            scale_mm=round(box[0] * picture.scale_fraction, 2) if picture else 0,
            # the client's own page, printed for it alone by WeasyPrint, which fetches data: only
            piece=Markup(doc.html),
            css=(TEMPLATE_DIR / "print.css").read_text(encoding="utf-8"),
        )
    )


def render_pdf(doc: PrintRequest) -> bytes:
    """The layout printed by WeasyPrint; it may fetch `data:` URLs and nothing else."""
    import weasyprint  # a second or so to import: only when a PDF is asked for
    from weasyprint.urls import URLFetcher

    started = time.perf_counter()
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    pdf = weasyprint.HTML(string=render_html(doc), url_fetcher=fetcher).write_pdf()
    log.info(
        "print rendered",
        extra={
            "paper": doc.paper,
            "map": doc.picture is not None,
            "bytes": len(pdf),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return pdf


def filename(title: str, stamp: datetime | None = None) -> str:
    """`almaty-<title>-<YYYY-MM-DD>.pdf` with the title's letters kept (Cyrillic too)."""
    day = (stamp or datetime.now(UTC)).strftime("%Y-%m-%d")
    slug = re.sub(r"[^\w]+", "-", title.lower(), flags=re.UNICODE).strip("-")[:60] or "view"
    return f"{slug}-{day}.pdf"


async def _body(request: Request) -> Any:
    return await json_body(request, limit=MAX_BODY_BYTES, what="a print")


async def print_pdf(request: Request) -> Response:
    """POST /exports/print: the view, a panel or a table as a PDF page (A4/A3)."""
    doc = parse_print(await _body(request))
    pdf = await run_in_threadpool(render_pdf, doc)
    name = filename(doc.title)
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{plain}"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )

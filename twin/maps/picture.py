"""A map picture of a place: the published style drawn by MapLibre Native, an overlay on top.

The plan report (twin/plans/report.py) prints its maps with this: the city as the viewer and
the map tiles show it (twin.maps.style, the first-view layers), and the plan's edits or its
changed cells drawn over it from a GeoJSON overlay whose features carry their own symbology
(`colour`, and `opacity`, `width`, `radius`, `dashed` where they differ from the defaults),
so the picture needs no style of its own per report. The picture knows where every longitude
and latitude falls on it (Web Mercator, north up), so labels, a scale bar and a north arrow
can be drawn over it in SVG by whoever prints it.

Offline: the vector tiles are read in-process (twin.maps.render's `twin://` scheme), there
are no glyphs or sprites, nothing is fetched from a network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from twin.extent import current_extent
from twin.maps.render import OVERLAYS, renderer
from twin.maps.style import BASE, at_version, map_style

WEB_MERCATOR_RADIUS = 6378137.0
OVERLAY_SOURCE = "twin-overlay"
PIXEL_RATIO = 2.0  # image pixels per CSS pixel: sharp at print's 192 dpi


def _overlay_layers() -> list[dict[str, Any]]:
    """The overlay's MapLibre layers: its features' properties are their symbology."""
    colour = ["get", "colour"]

    def number(name: str, default: float) -> list[Any]:
        return ["coalesce", ["get", name], default]

    polygon, line, point = (
        ["in", ["geometry-type"], ["literal", [kind, f"Multi{kind}"]]]
        for kind in ("Polygon", "LineString", "Point")
    )
    dashed = ["==", ["get", "dashed"], True]
    solid = ["!=", ["get", "dashed"], True]
    common = {"source": OVERLAY_SOURCE}
    return [
        {**common, "id": "overlay-fill", "type": "fill", "filter": polygon,
         "paint": {"fill-color": colour, "fill-opacity": number("opacity", 0.45)}},
        {**common, "id": "overlay-outline", "type": "line", "filter": ["all", polygon, solid],
         "paint": {"line-color": colour, "line-width": number("width", 1.4)}},
        {**common, "id": "overlay-outline-dashed", "type": "line",
         "filter": ["all", polygon, dashed],
         "paint": {"line-color": colour, "line-width": number("width", 1.4),
                   "line-dasharray": [3, 2]}},
        {**common, "id": "overlay-line", "type": "line", "filter": ["all", line, solid],
         "layout": {"line-cap": "round"},
         "paint": {"line-color": colour, "line-width": number("width", 2.6)}},
        {**common, "id": "overlay-line-dashed", "type": "line", "filter": ["all", line, dashed],
         "paint": {"line-color": colour, "line-width": number("width", 2.6),
                   "line-dasharray": [3, 2]}},
        {**common, "id": "overlay-point", "type": "circle", "filter": point,
         "paint": {"circle-color": colour, "circle-radius": number("radius", 5),
                   "circle-stroke-color": "#ffffff", "circle-stroke-width": 1}},
    ]  # fmt: skip


@dataclass(frozen=True)
class MapPicture:
    """A drawn map: the PNG, and where on it (CSS pixels, top-left origin) a place falls."""

    png: bytes
    centre: tuple[float, float]  # lon, lat of the picture's centre
    resolution: float  # Web Mercator metres per CSS pixel (equatorial, as zooms count them)
    width: int  # CSS pixels
    height: int
    pixel_ratio: float

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Where (lon, lat) falls on the picture, in CSS pixels from its top-left corner."""
        mx, my = mercator(lon, lat)
        cx, cy = mercator(*self.centre)
        return (
            self.width / 2 + (mx - cx) / self.resolution,
            self.height / 2 - (my - cy) / self.resolution,
        )

    def ground_metres_per_pixel(self) -> float:
        """Metres on the ground one CSS pixel spans at the picture's centre (for a scale)."""
        return self.resolution * math.cos(math.radians(self.centre[1]))

    def bounds(self) -> tuple[float, float, float, float]:
        """The picture's extent as (west, south, east, north) in degrees."""
        cx, cy = mercator(*self.centre)
        half_w, half_h = self.width / 2 * self.resolution, self.height / 2 * self.resolution
        west, south = lonlat(cx - half_w, cy - half_h)
        east, north = lonlat(cx + half_w, cy + half_h)
        return west, south, east, north

    def data_url(self) -> str:
        """The PNG as a `data:` URL (a self-contained HTML page, WeasyPrint fetching nothing)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """EPSG:3857 metres of a longitude and latitude (the sphere's formulas)."""
    return (
        WEB_MERCATOR_RADIUS * math.radians(lon),
        WEB_MERCATOR_RADIUS * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)),
    )


def lonlat(x: float, y: float) -> tuple[float, float]:
    """The longitude and latitude of EPSG:3857 metres."""
    return (
        math.degrees(x / WEB_MERCATOR_RADIUS),
        math.degrees(2 * math.atan(math.exp(y / WEB_MERCATOR_RADIUS)) - math.pi / 2),
    )


def picture_style(overlay: dict[str, Any]) -> tuple[str, str, str, bytes]:
    """(style id, style JSON, overlay digest, overlay GeoJSON bytes): the first-view style at
    the current data version with the overlay's source and layers on top."""
    from twin.catalog import load_catalog
    from twin.tiles.service import SHOWN_LAYERS, service

    base_id, base_json = map_style(None, False, current_extent())
    svc = service()
    shown = [layer for layer in load_catalog().values() if layer.visible]
    version_key = svc.key(SHOWN_LAYERS, shown, svc.versions.get())
    base_id, base_json = at_version(base_id, base_json, version_key)
    data = json.dumps(overlay, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(data).hexdigest()[:24]
    style = json.loads(base_json)
    style["sources"][OVERLAY_SOURCE] = {
        "type": "geojson",
        "data": f"{BASE}/overlay/{digest}.geojson",
    }
    style["layers"].extend(_overlay_layers())
    style_id = f"picture-{hashlib.sha256(f'{base_id}|{digest}'.encode()).hexdigest()[:20]}"
    return style_id, json.dumps(style, sort_keys=True), digest, data


def draw_picture(
    bounds: tuple[float, float, float, float],
    width: int,
    height: int,
    overlay: dict[str, Any],
    pixel_ratio: float = PIXEL_RATIO,
) -> MapPicture:
    """A `width` x `height` (CSS pixels) picture holding `bounds` (west, south, east, north,
    degrees) whole, centred, north up, the overlay (a GeoJSON FeatureCollection) on top.
    Raises twin.errors.ServiceUnavailable when the renderer is off or fails."""
    west, south = mercator(bounds[0], bounds[1])
    east, north = mercator(bounds[2], bounds[3])
    resolution = max((east - west) / width, (north - south) / height, 0.05)
    centre = lonlat((west + east) / 2, (south + north) / 2)
    style_id, style_json, digest, data = picture_style(overlay)
    OVERLAYS.hold(digest, data)
    try:
        png = renderer().image(style_id, style_json, centre, resolution, width, height, pixel_ratio)
    finally:
        OVERLAYS.release(digest)
    return MapPicture(png, centre, resolution, width, height, pixel_ratio)

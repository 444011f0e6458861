"""Which piece of the city a 3D scene shows: a district, a polycentre or a lon/lat box.

The CLI and the HTTP endpoint resolve the same three ways of naming an area here, so a name
that is not found, or a box that is not a box, is the same clear error in both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import psycopg
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from twin.bbox import BboxError, parse_bbox
from twin.errors import InvalidParameter
from twin.settings import get_settings
from twin.sqlfiles import query

SCENE_CRS = "EPSG:32643"  # UTM 43N: metres, the terrain model's CRS
TO_UTM = Transformer.from_crs("EPSG:4326", SCENE_CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(SCENE_CRS, "EPSG:4326", always_xy=True)


class SceneRequestError(InvalidParameter):
    """A scene asked for in a way the twin cannot serve; the message says how to fix it.
    `details` (e.g. the limit and the count) are members of the error body."""

    def __init__(
        self,
        description: str,
        code: str = "InvalidParameterValue",
        status: int = 400,
        **details: object,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.status = status
        self.extra = details

    def details(self) -> dict[str, object]:
        return dict(self.extra)


@dataclass(frozen=True)
class SceneArea:
    """An area of the city in lon/lat (EPSG:4326) with the name a user gave it."""

    kind: str  # district | polycentre | bbox
    name: str
    geometry: BaseGeometry

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    @property
    def slug(self) -> str:
        """A file-name friendly name: district-medeu, bbox-76.9-43.2-76.95-43.25."""
        return re.sub(r"[^a-z0-9.]+", "-", self.label.lower()).strip("-")

    def utm(self) -> BaseGeometry:
        return shapely.transform(self.geometry, lambda xy: _project(TO_UTM, xy))

    def utm_bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.utm().bounds)  # type: ignore[return-value]

    def area_km2(self) -> float:
        return self.utm().area / 1e6


def _project(transformer: Transformer, xy):
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    xy = xy.copy()
    xy[:, 0], xy[:, 1] = x, y
    return xy


def _named(conn: psycopg.Connection, kind: str, name: str) -> SceneArea:
    if not name.isprintable():  # NUL cannot even be sent to PostgreSQL; no name has controls
        raise SceneRequestError(f"{kind} {name!r} is not a name: it holds control characters")
    row = conn.execute(query(f"scene3d/{kind}"), {"name": name.strip()}).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute(query(f"scene3d/{kind}_names")).fetchall()]
        hint = f"known: {', '.join(known)}" if known else f"no {kind}s are loaded"
        raise SceneRequestError(f"no {kind} named {name!r}; {hint}", code="NotFound", status=404)
    return SceneArea(kind=kind, name=row[0], geometry=shapely.from_wkb(bytes(row[1])))


def _box(text: str) -> SceneArea:
    try:
        west, south, east, north = parse_bbox(text, degrees=True, area=True)
    except BboxError as exc:
        raise SceneRequestError(str(exc)) from None
    name = ",".join(f"{v:g}" for v in (west, south, east, north))
    return SceneArea(kind="bbox", name=name, geometry=shapely.box(west, south, east, north))


def resolve_area(
    conn: psycopg.Connection,
    *,
    district: str | None = None,
    polycentre: str | None = None,
    bbox: str | None = None,
) -> SceneArea:
    """Exactly one of district, polycentre or bbox (W,S,E,N in degrees) becomes a SceneArea."""
    given = {
        k: v
        for k, v in (("district", district), ("polycentre", polycentre), ("bbox", bbox))
        if v is not None
    }
    if len(given) != 1:
        raise SceneRequestError(
            "name exactly one area: district=NAME, polycentre=NAME or "
            f"bbox=W,S,E,N (got {', '.join(given) or 'none'})"
        )
    ((kind, value),) = given.items()
    if not value.strip():
        raise SceneRequestError(f"{kind} is empty")
    if kind == "bbox":
        return _box(value)
    return _named(conn, kind, value)


@dataclass(frozen=True)
class SceneLimits:
    """How big a scene the server builds on request (the CLI has no limit)."""

    max_buildings: int
    max_area_km2: float

    @classmethod
    def from_environment(cls) -> SceneLimits:
        scenes = get_settings().scenes
        return cls(max_buildings=scenes.max_buildings, max_area_km2=scenes.max_area_km2)

    def check(self, area: SceneArea, buildings: int) -> None:
        km2 = area.area_km2()
        if km2 > self.max_area_km2:
            raise SceneRequestError(
                f"the {area.label} covers {km2:.0f} km2, over the limit of "
                f"{self.max_area_km2:g} km2 for a scene built on request: ask for a smaller "
                "bbox, a district or a polycentre, or run `twin export3d` (no limit)",
                code="AreaTooLarge",
                area_km2=round(km2, 1),
                limit_km2=self.max_area_km2,
            )
        if buildings > self.max_buildings:
            raise SceneRequestError(
                f"the {area.label} holds {buildings} buildings, over the limit of "
                f"{self.max_buildings} for a scene built on request: ask for a smaller bbox, "
                "or run `twin export3d` (no limit) or use the 3D Tiles at "
                "/3dtiles/buildings/tileset.json",
                code="AreaTooLarge",
                buildings=buildings,
                limit_buildings=self.max_buildings,
            )


def count_buildings(conn: psycopg.Connection, area: SceneArea) -> int:
    return int(
        conn.execute(
            query("scene3d/count_buildings"), {"area": shapely.to_wkb(area.geometry)}
        ).fetchone()[0]
    )


def finite(value: object, default: float) -> float:
    """A number from the database, or the default when it is NULL or not finite."""
    if value is None:
        return default
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else default

"""A plan's edits: GeoJSON features, checked against the city and the catalog, normalised.

A planner draws edits on the map; the engine reads them as the city would change. Everything a
wrong edit would silently distort (a point outside the city, a link that joins nothing, two
edits that contradict each other) is refused here with a 400 that names the edit and the
problem, so nothing wrong is stored or evaluated. The normalised collection (ids assigned,
defaults filled in, derived residents stated) is what the API stores: what the engine understood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from twin.analysis.city import CATEGORIES, DEFAULT_KIND, CityModel
from twin.analysis.network import to_utm
from twin.catalog import get_layer
from twin.errors import InvalidParameter
from twin.transit import plan_trips

MAX_EDITS = 500
LINK_REACH_M = 50.0  # a street link's ends join the network within this distance of a node
COVER_M = 15.0  # a closed or lit segment has both ends within this distance of the drawn line
HOUSING_GRID_M = 50.0  # new residents live on points of this grid inside the housing polygon
MAX_HOUSING_PLACES = 5000  # per edit: a wider grid for huge polygons keeps evaluation fast
OVERLAP_M2 = 1.0  # two areas overlapping by more than this contradict each other
# Floor area per resident: the programme's own ratio, "55 thousand people a year need about
# 1,650 thousand m2 of housing" = 30 m2 per person (S2 l.632).
FLOOR_M2_PER_RESIDENT = 30.0
# Share of a building's floor area that is dwellings, as the twin spreads residents over
# buildings (twin/sql/analysis/residents_from_buildings.sql: residential 1, mixed 0.5).
RESIDENTIAL_SHARE = {"residential": 1.0, "mixed": 0.5}
# Persons per dwelling: derived, not given by the programme. Renovation built 27,451 flats with
# 1.8 million m2 (S2 l.644-650): 65.6 m2 a flat; at 30 m2 a person (S2 l.632) that is 2.2.
PERSONS_PER_DWELLING = 2.2
KINDS = (
    "amenity.add",
    "amenity.remove",
    "amenity.move",
    "park.add",
    "park.remove",
    "housing.add",
    "housing.remove",
    "street.link",
    "street.close",
    "street.light",
    "building.add",
    "transit.route.add",
    "transit.stop.add",
    "fire_station.add",
)
AREA_TYPES = ("Polygon", "MultiPolygon")
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "amenity.add": ("Point",),
    "amenity.remove": ("Point", "none"),
    "amenity.move": ("Point",),
    "park.add": AREA_TYPES,
    "park.remove": ("none",),
    "housing.add": AREA_TYPES,
    "housing.remove": AREA_TYPES,
    "street.link": ("LineString",),
    "street.close": ("LineString", "Point"),
    "street.light": ("LineString",),
    "building.add": ("Polygon",),
    "transit.route.add": ("LineString", "MultiPoint"),
    "transit.stop.add": ("Point",),
    "fire_station.add": ("Point",),
}


class EditError(InvalidParameter):
    """An edit the engine cannot apply as given (400): names the edit, its kind and the problem."""

    def __init__(
        self, problem: str, edit: str | None = None, index: int | None = None, kind: str = ""
    ) -> None:
        where = (
            f"edit {edit} ({kind})"
            if edit is not None and kind
            else (f"edit {edit}" if edit is not None else "edits")
        )
        super().__init__(f"{where}: {problem}")
        self.edit, self.index, self.problem = edit, index, problem

    def details(self) -> dict[str, object]:
        return {"edit": self.edit, "index": self.index, "problem": self.problem}


@dataclass
class Edit:
    """One normalised edit, with what the engine derived from it (UTM shape, network ids)."""

    id: str
    index: int
    kind: str
    geometry: BaseGeometry | None  # lon/lat
    properties: dict[str, Any]
    utm: BaseGeometry | None = None
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # close, light
    nodes: tuple[int, int] = (-1, -1)  # street.link: the joined nodes
    length_m: float = 0.0  # street.link: drawn length plus both joins
    residents: int = 0  # housing.add, building.add

    def fail(self, problem: str) -> EditError:
        return EditError(problem, self.id, self.index, self.kind)


@dataclass
class PlanEdits:
    """The parsed plan: edits in order and the normalised FeatureCollection to store."""

    edits: list[Edit]
    collection: dict[str, Any]
    assumptions: list[str] = field(default_factory=list)

    def of(self, *kinds: str) -> list[Edit]:
        return [e for e in self.edits if e.kind in kinds]

    @property
    def street_edits(self) -> bool:
        return bool(self.of("street.link", "street.close", "street.light"))

    @property
    def transit_edits(self) -> bool:
        return bool(self.of("transit.route.add", "transit.stop.add"))


def _utm(geometry: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))


def _city_shape(city: CityModel) -> BaseGeometry | None:
    if "plan_city_shape" not in city._cache:
        shapes = city.district_shapes
        union = shapely.union_all(shapes).buffer(0) if len(shapes) else None
        if union is not None:
            shapely.prepare(union)
        city._cache["plan_city_shape"] = union
    return city._cache["plan_city_shape"]


def _integer(edit: Edit, name: str, low: int | None = None, high: int | None = None) -> int:
    value = edit.properties.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise edit.fail(f"{name} must be an integer, not {value!r}")
    if low is not None and value < low:
        raise edit.fail(f"{name} must be at least {low}, not {value}")
    if high is not None and value > high:
        raise edit.fail(f"{name} must be at most {high}, not {value}")
    return value


def _enum(edit: Edit, name: str, allowed: list[str] | tuple[str, ...], default: str) -> str:
    value = edit.properties.get(name)
    if value is None:
        value = default
    if value not in allowed:
        raise edit.fail(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
    return value


def _geometry(edit: Edit, raw: Any, city: CityModel) -> None:
    allowed = GEOMETRY_TYPES[edit.kind]
    if raw is None:
        if "none" not in allowed:
            raise edit.fail(f"needs a {' or '.join(allowed)} geometry")
        return
    if not isinstance(raw, dict):
        raise edit.fail("geometry must be a GeoJSON geometry object or null")
    try:
        geometry = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise edit.fail(f"invalid GeoJSON geometry: {exc}") from None
    if geometry.geom_type not in allowed:
        raise edit.fail(f"a {geometry.geom_type} is not its geometry; use {' or '.join(allowed)}")
    coords = shapely.get_coordinates(geometry)
    if geometry.is_empty or not np.isfinite(coords).all() or not geometry.is_valid:
        raise edit.fail(f"empty or invalid {geometry.geom_type}")
    inside = _city_shape(city)
    if inside is not None and not shapely.covered_by(geometry, inside):
        raise edit.fail("lies outside the city (the union of its districts)")
    edit.geometry = geometry
    edit.utm = _utm(geometry)


def _covered_edges(edit: Edit, city: CityModel) -> np.ndarray:
    """Network segments a closure or lighting covers: both ends within COVER_M of the line
    (for a point: the segments passing within COVER_M of it)."""
    net = city.network
    minx, miny, maxx, maxy = edit.utm.bounds
    near = np.flatnonzero(
        (net.x >= minx - COVER_M)
        & (net.x <= maxx + COVER_M)
        & (net.y >= miny - COVER_M)
        & (net.y <= maxy + COVER_M)
    )
    if edit.utm.geom_type == "Point":
        px, py = edit.utm.x, edit.utm.y
        ux, uy = net.x[net.edge_u], net.y[net.edge_u]
        vx, vy = net.x[net.edge_v], net.y[net.edge_v]
        dx, dy = vx - ux, vy - uy
        t = np.clip(((px - ux) * dx + (py - uy) * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0, 1)
        distance = np.hypot(ux + t * dx - px, uy + t * dy - py)
        return np.flatnonzero(distance <= COVER_M)
    close = np.zeros(net.n, bool)
    if len(near):
        close[near] = shapely.dwithin(edit.utm, shapely.points(net.x[near], net.y[near]), COVER_M)
    return np.flatnonzero(close[net.edge_u] & close[net.edge_v])


def housing_residents(edit: Edit) -> int:
    """Residents of a housing.add edit from whichever of residents, dwellings or density_pph it
    gives (the one the planner chose); building.add from its floors."""
    p = edit.properties
    if edit.kind == "building.add":
        share = RESIDENTIAL_SHARE.get(p["use"], 0.0)
        return int(round(edit.utm.area * p["levels"] * share / FLOOR_M2_PER_RESIDENT))
    given = [k for k in ("residents", "dwellings", "density_pph") if p.get(k) is not None]
    if len(given) != 1:
        raise edit.fail(
            "give exactly one of residents, dwellings or density_pph"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if given[0] == "density_pph":
        density = p["density_pph"]
        if isinstance(density, bool) or not isinstance(density, (int, float)):
            raise edit.fail(f"density_pph must be a number, not {density!r}")
        if not math.isfinite(density) or density <= 0:
            raise edit.fail(f"density_pph must be greater than 0, not {density}")
        people = int(round(density * edit.utm.area / 1e4))
        if people < 1:
            raise edit.fail("density_pph over this polygon houses nobody: draw a larger area")
        return people
    count = _integer(edit, given[0], low=1)
    if given[0] == "dwellings":
        return int(round(count * PERSONS_PER_DWELLING))
    return count


def housing_places(edit: Edit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a housing edit's residents live: (x, y) UTM points on a 50 m grid inside the area
    (its representative point when the grid misses it) and whole residents per point, split
    evenly. The grid widens for areas that would need more than MAX_HOUSING_PLACES points."""
    area = edit.utm
    spacing = max(HOUSING_GRID_M, math.sqrt(area.area / MAX_HOUSING_PLACES))
    minx, miny, maxx, maxy = area.bounds
    gx = np.arange(math.floor(minx / spacing) * spacing + spacing / 2, maxx, spacing)
    gy = np.arange(math.floor(miny / spacing) * spacing + spacing / 2, maxy, spacing)
    xx, yy = (a.ravel() for a in np.meshgrid(gx, gy))
    inside = shapely.contains_xy(area, xx, yy) if len(xx) else np.zeros(0, bool)
    x, y = xx[inside], yy[inside]
    if len(x) == 0:
        point = area.representative_point()
        x, y = np.array([point.x]), np.array([point.y])
    n = len(x)
    residents = np.full(n, edit.residents // n, dtype=np.int64)
    residents[: edit.residents % n] += 1
    return x, y, residents


def _check(edit: Edit, city: CityModel, stored: pd.DataFrame) -> None:
    """Every check of one edit's properties, filling in its defaults."""
    p = edit.properties
    kind = edit.kind
    if kind == "amenity.add":
        category = p.get("category")
        if category not in CATEGORIES:
            raise edit.fail(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
        kinds = list(get_layer("amenities").properties["kind"].enum or ())
        p["kind"] = _enum(edit, "kind", kinds, DEFAULT_KIND[category])
        p["name"] = p.get("name") or f"new {p['kind']}"
        if p.get("capacity") is not None:
            p["capacity"] = _integer(edit, "capacity", low=0)
        else:
            same = pd.to_numeric(
                stored.loc[stored.kind == p["kind"], "capacity"], errors="coerce"
            ).dropna()
            p["capacity"] = int(round(float(same.median()))) if len(same) else None
    elif kind in ("amenity.remove", "amenity.move"):
        amenity = p.get("amenity")
        if isinstance(amenity, float) and amenity.is_integer():
            amenity = int(amenity)
        if isinstance(amenity, bool) or not isinstance(amenity, int):
            raise edit.fail(f"amenity must be the id of an amenity, not {amenity!r}")
        if amenity not in set(stored.id.tolist()):
            raise edit.fail(f"no amenity {amenity} in the amenities collection")
        p["amenity"] = amenity
    elif kind == "park.add":
        kinds = list(get_layer("parks").properties["kind"].enum or ())
        p["kind"] = _enum(edit, "kind", kinds, "park")
        p["name"] = p.get("name") or f"new {p['kind']}"
    elif kind == "park.remove":
        park = p.get("park")
        if isinstance(park, float) and park.is_integer():
            park = int(park)
        if isinstance(park, bool) or not isinstance(park, int):
            raise edit.fail(f"park must be the id of a park, not {park!r}")
        if park not in set(city.parks.id.tolist()):
            raise edit.fail(f"no park {park} in the parks collection")
        p["park"] = park
    elif kind == "housing.add":
        edit.residents = housing_residents(edit)
        p["name"] = p.get("name") or "new housing"
        p["residents_derived"] = edit.residents
    elif kind == "street.link":
        _link(edit, city)
    elif kind in ("street.close", "street.light"):
        edit.edges = _covered_edges(edit, city)
        if len(edit.edges) == 0:
            verb = "closes" if kind == "street.close" else "lights"
            raise edit.fail(
                f"{verb} no street segment: draw it along a street (both ends of a segment "
                f"within {COVER_M:.0f} m of the line)"
            )
        p["segments"] = int(len(edit.edges))
    elif kind == "building.add":
        p["levels"] = _integer(edit, "levels", low=1, high=60)
        uses = list(get_layer("buildings").properties["use"].enum or ())
        if p.get("use") is None:
            raise edit.fail(f"use is required; use one of {', '.join(uses)}")
        p["use"] = _enum(edit, "use", uses, "residential")
        if p.get("plot") is not None:
            plot = _integer(edit, "plot")
            if plot not in set(city.plots.id.tolist()):
                raise edit.fail(f"no plot {plot} in the plots collection")
        edit.residents = housing_residents(edit)
        p["residents_derived"] = edit.residents
    elif kind == "transit.route.add":
        plan_trips.check_feed(edit, city)
        plan_trips.check_route(edit)
    elif kind == "fire_station.add":
        p["name"] = p.get("name") or "new fire station"


def _all_nodes(city: CityModel) -> cKDTree:
    """Every node, not only the main part's: a link (a bridge) may join a cut-off part."""
    if "plan_all_nodes" not in city._cache:
        network = city.network
        city._cache["plan_all_nodes"] = cKDTree(np.column_stack([network.x, network.y]))
    return city._cache["plan_all_nodes"]


def _link(edit: Edit, city: CityModel) -> None:
    lit = edit.properties.get("lit", True)
    if not isinstance(lit, bool):
        raise edit.fail(f"lit must be true or false, not {lit!r}")
    edit.properties["lit"] = lit
    coords = shapely.get_coordinates(edit.utm)
    ends = coords[[0, -1]]
    snap_m, node = _all_nodes(city).query(ends)
    for name, distance in zip(("start", "end"), snap_m):
        if distance > LINK_REACH_M:
            raise edit.fail(
                f"its {name} is {distance:.0f} m from the walking network; a link must "
                f"end within {LINK_REACH_M:.0f} m of it"
            )
    if node[0] == node[1]:
        raise edit.fail("both ends join the network at the same place: it links nothing")
    edit.nodes = (int(node[0]), int(node[1]))
    edit.length_m = float(edit.utm.length + snap_m.sum())
    edit.properties["length_m"] = round(edit.length_m, 1)


def _overlap(a: Edit, b: Edit) -> bool:
    return bool(shapely.intersection(a.utm, b.utm).area > OVERLAP_M2)


def _contradictions(edits: list[Edit]) -> None:
    """Edits that cannot all hold: the same amenity or park removed twice, removed and moved,
    new housing on a demolished area, a park on new housing, buildings on each other, a light
    on a closed segment."""
    touched: dict[tuple[str, int], Edit] = {}
    for edit in edits:
        key = None
        if edit.kind in ("amenity.remove", "amenity.move"):
            key = ("amenity", edit.properties["amenity"])
        elif edit.kind == "park.remove":
            key = ("park", edit.properties["park"])
        if key is None:
            continue
        if key in touched:
            other = touched[key]
            raise edit.fail(
                f"{key[0]} {key[1]} is already changed by edit {other.id} ({other.kind})"
            )
        touched[key] = edit
    pairs = (
        ("housing.add", "housing.remove", "new housing on an area edit {o} demolishes"),
        ("park.add", "housing.add", "a park over the new housing of edit {o}"),
        ("housing.add", "park.add", "new housing over the park of edit {o}"),
        ("building.add", "building.add", "a building overlapping the building of edit {o}"),
    )
    for edit in edits:
        for kind, other_kind, problem in pairs:
            if edit.kind != kind:
                continue
            for other in edits:
                if other is edit or other.kind != other_kind or other.index > edit.index:
                    continue
                if _overlap(edit, other):
                    raise edit.fail(problem.format(o=other.id))
        if edit.kind == "housing.remove":
            for other in edits:
                if (
                    other.kind == "housing.add"
                    and other.index < edit.index
                    and _overlap(edit, other)
                ):
                    raise edit.fail(f"demolishes the new housing of edit {other.id}")
    closed: dict[int, Edit] = {}
    for edit in edits:
        if edit.kind == "street.close":
            for e in edit.edges.tolist():
                closed.setdefault(e, edit)
    for edit in edits:
        if edit.kind == "street.light":
            hit = [closed[e] for e in edit.edges.tolist() if e in closed]
            if hit:
                raise edit.fail(f"lights a segment that edit {hit[0].id} closes")


def _features(edits: Any) -> list[Any]:
    if isinstance(edits, list):
        features = edits
    elif isinstance(edits, dict) and edits.get("type") == "FeatureCollection":
        features = edits.get("features")
        if not isinstance(features, list):
            raise EditError("the FeatureCollection's features must be a list")
    elif edits is None:
        features = []
    else:
        raise EditError(
            'edits must be a GeoJSON FeatureCollection ({"type": "FeatureCollection", '
            '"features": [...]}) or a list of features'
        )
    if len(features) > MAX_EDITS:
        raise EditError(f"a plan holds at most {MAX_EDITS} edits, not {len(features)}")
    return features


def parse_edits(edits: Any, city: CityModel) -> PlanEdits:
    """The plan's edits checked and normalised (ids "e<n>" where absent, defaults filled in).

    Raises EditError (400) naming the first edit that is wrong and why."""
    features = _features(edits)
    given: set[str] = set()
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise EditError("is not a GeoJSON Feature", f"#{i}", i)
        fid = feature.get("id")
        if fid is None:
            continue
        if isinstance(fid, bool) or not isinstance(fid, (str, int)) or fid == "":
            raise EditError(f"id must be a string or an integer, not {fid!r}", f"#{i}", i)
        if str(fid) in given:
            raise EditError(f"id {fid!r} is used by another edit of the plan", str(fid), i)
        given.add(str(fid))
    stored = city.amenities[city.amenities.layer == "amenities"]
    parsed: list[Edit] = []
    out: list[dict[str, Any]] = []
    plan_routes: dict[str, Edit] = {}  # a new stop may name a route the plan adds before it
    counter = 0
    for i, feature in enumerate(features):
        fid = feature.get("id")
        if fid is None:
            counter += 1
            while f"e{counter}" in given:
                counter += 1
            fid = f"e{counter}"
            given.add(fid)
        properties = feature.get("properties")
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            raise EditError("properties must be an object", str(fid), i)
        kind = properties.get("edit")
        if kind not in KINDS:
            raise EditError(
                f"unknown edit kind {kind!r}; use one of {', '.join(KINDS)}", str(fid), i
            )
        edit = Edit(str(fid), i, kind, None, dict(properties))
        _geometry(edit, feature.get("geometry"), city)
        _check(edit, city, stored)
        if kind == "transit.route.add":
            plan_routes[edit.properties["route_id"]] = edit
        elif kind == "transit.stop.add":
            plan_trips.check_stop(edit, city, plan_routes)
        parsed.append(edit)
        out.append(
            {
                "type": "Feature",
                "id": fid,
                "geometry": mapping(edit.geometry) if edit.geometry is not None else None,
                "properties": edit.properties,
            }
        )
    _contradictions(parsed)
    assumptions = []
    if any(e.kind == "housing.add" and e.properties.get("dwellings") for e in parsed):
        assumptions.append(
            f"{PERSONS_PER_DWELLING} persons per dwelling (assumed: 65.6 m2 a flat, S2 "
            f"l.644-650, at {FLOOR_M2_PER_RESIDENT:.0f} m2 a person, S2 l.632)"
        )
    if parsed and any(e.kind == "building.add" for e in parsed):
        assumptions.append(
            f"{FLOOR_M2_PER_RESIDENT:.0f} m2 of dwelling floor a resident (S2 l.632); mixed "
            "use counts half its floors as dwellings"
        )
    if any(e.kind == "transit.route.add" for e in parsed):
        assumptions.append(
            "new routes: trips both ways over the service hours at the peak (07-10, 17-20) and "
            "off-peak headways; stop to stop at the mode's commercial speed (stops included)"
        )
    return PlanEdits(parsed, {"type": "FeatureCollection", "features": out}, assumptions)


__all__ = [
    "COVER_M",
    "LINK_REACH_M",
    "Edit",
    "EditError",
    "PlanEdits",
    "housing_places",
    "parse_edits",
]

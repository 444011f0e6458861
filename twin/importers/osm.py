"""`twin import-osm`: an OpenStreetMap extract (.osm.pbf) into the twin's layers, via pyrosm.

- streets: every street and path as a routable network. pyrosm gives one segment per pair of
  consecutive OSM nodes; segments of a way are merged into edges that run between the nodes
  where ways meet or end, so `source_node`/`target_node` are OSM node ids shared by the edges
  that meet there, and `length_m` is the geodesic length. `walkable` follows pyrosm's walking
  filter (OSMnx 'walk': no motorways, cycleways, private or foot=no ways, no roads whose
  sidewalks are mapped separately); `lit` reads the lit tag; highway values map to our classes;
  `steps` is highway=steps and `kerb` the way's kerb tag (kerbs mapped on crossing nodes are
  not read: unknown, which the wheelchair profile counts; docs/profiles.md); `max_speed_kmh`
  the maxspeed tag in km/h (zones such as KZ:urban by their limit; none or signals: empty).
- buildings: footprints with levels (building:levels) and height (height tag, else 3 m a
  level, noted), use from the building tag.
- amenities: schools, clinics, shops, theatres, ... classified into the 15-minute categories
  (kinds of layers/amenities.yml); areas become a point on their surface.
- parks: leisure=park/garden/nature_reserve, landuse=recreation_ground/village_green,
  place=square, with their area.
- transit_stops: bus and trolleybus stops, tram stops, metro stations and entrances.

All layers are written in one transaction: a failure anywhere leaves the database as it was.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
import shapely

from twin.catalog import Layer
from twin.errors import ImportFailed
from twin.importers import batches, error_line
from twin.importers.batches import combined_provenance
from twin.importers.conform import ImportReport, conform, measures
from twin.importers.ogr import _previous_provenance, importable_layer
from twin.importers.safety import check_extent, rejected_path, write_rejected
from twin.progress import progress
from twin.store import Provenance

OSM_LAYERS = ("streets", "buildings", "amenities", "parks", "transit_stops")
OSM_SOURCE = "OpenStreetMap extract {name}"
# what a replacing OSM import replaces: rows any earlier OpenStreetMap import brought
OSM_SCOPE = "OpenStreetMap"
OSM_LICENCE = "ODbL 1.0, © OpenStreetMap contributors"
METRES_PER_LEVEL = 3.0

# OSM highway -> the streets layer's class (layers/streets.yml).
HIGHWAY_CLASS = {
    "motorway": "motorway",
    "motorway_link": "motorway",
    "trunk": "arterial",
    "trunk_link": "arterial",
    "primary": "primary",
    "primary_link": "primary",
    "secondary": "secondary",
    "secondary_link": "secondary",
    "tertiary": "tertiary",
    "tertiary_link": "tertiary",
    "residential": "residential",
    "living_street": "residential",
    "unclassified": "residential",
    "road": "residential",
    "service": "service",
    "track": "path",
    "busway": "service",
    "bus_guideway": "service",
    "pedestrian": "pedestrian",
    "footway": "footway",
    "steps": "footway",
    "corridor": "footway",
    "elevator": "footway",
    "escalator": "footway",
    "crossing": "footway",
    "sidewalk": "footway",
    "path": "path",
    "cycleway": "path",
    "bridleway": "path",
    "trail": "path",
    "ladder": "path",
}
LIT_YES = {"yes", "24/7", "automatic", "limited", "interval", "sunset-sunrise", "dusk-dawn"}
LIT_NO = {"no", "disused"}

# (key, value) -> (category, kind); first match wins in AMENITY_KEYS order.
AMENITY_KINDS: dict[tuple[str, str], tuple[str, str]] = {
    ("amenity", "school"): ("education", "school"),
    ("amenity", "kindergarten"): ("education", "kindergarten"),
    ("amenity", "childcare"): ("education", "kindergarten"),
    ("amenity", "university"): ("education", "university"),
    ("amenity", "college"): ("education", "university"),
    ("amenity", "hospital"): ("healthcare", "hospital"),
    ("amenity", "clinic"): ("healthcare", "clinic"),
    ("amenity", "doctors"): ("healthcare", "clinic"),
    ("amenity", "dentist"): ("healthcare", "clinic"),
    ("healthcare", "centre"): ("healthcare", "clinic"),
    ("amenity", "pharmacy"): ("healthcare", "pharmacy"),
    ("amenity", "marketplace"): ("commerce", "market"),
    ("amenity", "cafe"): ("commerce", "cafe"),
    ("amenity", "restaurant"): ("commerce", "cafe"),
    ("amenity", "fast_food"): ("commerce", "cafe"),
    ("shop", "supermarket"): ("commerce", "supermarket"),
    ("shop", "convenience"): ("commerce", "shop"),
    ("amenity", "theatre"): ("culture_sport", "theatre"),
    ("amenity", "cinema"): ("culture_sport", "cinema"),
    ("amenity", "library"): ("culture_sport", "library"),
    ("tourism", "museum"): ("culture_sport", "museum"),
    ("tourism", "gallery"): ("culture_sport", "museum"),
    ("amenity", "arts_centre"): ("culture_sport", "other"),
    ("amenity", "community_centre"): ("culture_sport", "other"),
    ("leisure", "sports_centre"): ("culture_sport", "sport"),
    ("leisure", "stadium"): ("culture_sport", "sport"),
    ("leisure", "fitness_centre"): ("culture_sport", "sport"),
    ("leisure", "swimming_pool"): ("culture_sport", "sport"),
    ("leisure", "ice_rink"): ("culture_sport", "sport"),
    ("leisure", "sports_hall"): ("culture_sport", "sport"),
}
AMENITY_KEYS = ("amenity", "healthcare", "tourism", "leisure", "shop")
AMENITY_FILTER = {
    "amenity": sorted({v for k, v in AMENITY_KINDS if k == "amenity"}),
    "healthcare": ["centre"],
    "tourism": ["museum", "gallery"],
    "leisure": sorted({v for k, v in AMENITY_KINDS if k == "leisure"}),
    "shop": True,
}
PARK_KINDS = {
    ("leisure", "park"): "park",
    ("leisure", "garden"): "green_zone",
    ("leisure", "nature_reserve"): "green_zone",
    ("landuse", "recreation_ground"): "green_zone",
    ("landuse", "village_green"): "green_zone",
    ("place", "square"): "square",
}
STOP_FILTER = {
    "highway": ["bus_stop"],
    "public_transport": ["platform", "station"],
    "railway": ["tram_stop", "station", "halt", "subway_entrance"],
    "amenity": ["bus_station"],
}
BUILDING_USE = {
    "residential": {
        "house",
        "apartments",
        "residential",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "cabin",
        "farm",
        "hut",
        "static_caravan",
        "houseboat",
    },
    "commercial": {
        "commercial",
        "retail",
        "office",
        "supermarket",
        "hotel",
        "kiosk",
        "shop",
        "mall",
        "store",
    },
    "public": {
        "school",
        "hospital",
        "university",
        "college",
        "kindergarten",
        "public",
        "civic",
        "government",
        "church",
        "mosque",
        "cathedral",
        "chapel",
        "temple",
        "synagogue",
        "religious",
        "train_station",
        "transportation",
        "stadium",
        "sports_hall",
        "sports_centre",
        "museum",
        "library",
        "fire_station",
        "townhall",
        "theatre",
        "clinic",
        "pavilion",
    },
    "industrial": {
        "industrial",
        "warehouse",
        "factory",
        "manufacture",
        "garage",
        "garages",
        "hangar",
        "storage_tank",
        "service",
        "shed",
        "barn",
        "greenhouse",
        "farm_auxiliary",
        "silo",
        "digester",
        "construction",
    },
    "mixed": {"mixed", "mixed_use"},
}
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def _tag(frame: pd.DataFrame, key: str) -> pd.Series:
    """A tag's values: pyrosm makes common tags columns and keeps the rest as JSON in 'tags'."""
    column = (
        frame[key]
        if key in frame.columns
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    )
    column = column.astype(object).where(column.notna(), None)
    if "tags" not in frame.columns or column.notna().all():
        return column
    missing = column.isna()
    extra = frame.loc[missing, "tags"].map(lambda raw: _json_tags(raw).get(key))
    column.loc[missing] = extra
    return column


def _json_tags(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw or not isinstance(raw, (str, bytes)):
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _first_number(value: Any) -> float | None:
    """The largest number in an OSM value ('5', '4;5', '2-3', '12.5 m'); None if there is none."""
    if value is None:
        return None
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(str(value))]
    return max(numbers) if numbers else None


def _height_m(value: Any) -> float | None:
    number = _first_number(value)
    if number is None or number <= 0:
        return None
    text = str(value).lower()
    if "ft" in text or "'" in text:
        number *= 0.3048
    return round(number, 2)


def _levels(value: Any) -> int | None:
    number = _first_number(value)
    return int(round(number)) if number is not None and 0 < number < 300 else None


def _kerb(value: Any) -> str:
    """OSM kerb=* as the streets layer's kerb (raised, lowered, flush; anything else unknown)."""
    word = str(value).strip().lower() if value is not None else ""
    return word if word in ("raised", "lowered", "flush") else "unknown"


# OSM maxspeed zones (wiki Key:maxspeed, Kazakhstan and Russia): the limit they stand for
MAXSPEED_ZONES = {"urban": 60, "rural": 90, "living_street": 20, "motorway": 110, "walk": 5}


def _maxspeed(value: Any) -> int | None:
    """OSM maxspeed=* in km/h ("60", "40 mph", "KZ:urban"); none, signals or unknown: None."""
    text = str(value).strip().lower() if value is not None else ""
    if ":" in text:
        return MAXSPEED_ZONES.get(text.split(":", 1)[1])
    if text == "walk":
        return MAXSPEED_ZONES["walk"]
    number = _first_number(text)
    if number is None or not 0 < number <= 200:
        return None
    return int(round(number * 1.609344)) if "mph" in text else int(round(number))


def _lit(value: Any) -> bool | None:
    if value is None:
        return None
    word = str(value).strip().lower()
    return True if word in LIT_YES else False if word in LIT_NO else None


# An extracted layer: features (lon/lat), raw property values, a rejection reason per feature.
Extracted = tuple[gpd.GeoDataFrame, dict[str, list], "list[str | None] | None"]


class OsmExtract:
    """One parsed .osm.pbf (optionally clipped to a bbox); each layer extracted on demand."""

    def __init__(self, path: Path, bbox: tuple[float, float, float, float] | None) -> None:
        import pyrosm

        self.path = path
        try:
            self.osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox else None)
        except Exception as exc:  # pyrosm raises plain exceptions for unreadable input
            raise ImportFailed(f"cannot read {path.name}: {error_line(exc)}") from None

    def _call(self, what: str, function: Callable[[], Any]) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return function()
        except ImportFailed:
            raise
        except Exception as exc:
            raise ImportFailed(
                f"cannot read {what} from {self.path.name}: {error_line(exc)}"
            ) from None

    def streets(self, report: ImportReport) -> Extracted:
        edges = self._call(
            "streets", lambda: self.osm.get_network(network_type="all", nodes=True)[1]
        )
        walking = self._call(
            "walkable streets", lambda: self.osm.get_network(network_type="walking")
        )
        if edges is None or len(edges) == 0:
            return _empty(), {}, None
        walkable_ways = set(walking["id"].tolist()) if walking is not None else set()
        edges = edges.reset_index(drop=True)
        merged = merge_segments(edges)
        report.notes.append(
            f"{len(edges)} OSM segments merged into {len(merged['row'])} edges between junctions"
        )
        ways = edges.loc[merged["row"]]
        highway = ways["highway"].map(lambda h: HIGHWAY_CLASS.get(str(h)) if h else None)
        frame = gpd.GeoDataFrame(geometry=merged["geometry"], crs=4326)
        reasons = [
            None if h else f"highway={raw}: no street class"
            for h, raw in zip(highway, ways["highway"])
        ]
        values = {
            "name": _tag(ways, "name").tolist(),
            "highway": highway.tolist(),
            "walkable": ways["id"].isin(walkable_ways).tolist(),
            "lit": [_lit(v) for v in _tag(ways, "lit")],
            "steps": [str(h) == "steps" for h in ways["highway"]],  # a stairway: no wheelchair
            "kerb": [_kerb(v) for v in _tag(ways, "kerb")],
            "max_speed_kmh": [_maxspeed(v) for v in _tag(ways, "maxspeed")],
            "length_m": [round(v, 2) for v in merged["length_m"]],
            "source_node": merged["source_node"],
            "target_node": merged["target_node"],
        }
        return frame, values, reasons

    def buildings(self, report: ImportReport) -> Extracted:
        buildings = self._call("buildings", self.osm.get_buildings)
        if buildings is None or len(buildings) == 0:
            return _empty(), {}, None
        buildings = buildings.reset_index(drop=True)
        levels = [_levels(v) for v in _tag(buildings, "building:levels")]
        heights = [_height_m(v) for v in _tag(buildings, "height")]
        estimated = 0
        for i, (level, height) in enumerate(zip(levels, heights)):
            if height is None and level is not None:
                heights[i] = round(level * METRES_PER_LEVEL, 2)
                estimated += 1
        if estimated:
            report.notes.append(
                f"height estimated from building:levels at "
                f"{METRES_PER_LEVEL:g} m a level for {estimated} buildings"
            )
        shops = _tag(buildings, "shop")
        uses = [_building_use(b, s) for b, s in zip(_tag(buildings, "building"), shops)]
        frame = gpd.GeoDataFrame(geometry=buildings.geometry.values, crs=4326)
        area = measures(frame)["area_m2"]
        floor_area = [round(a * lv, 1) if lv else None for a, lv in zip(area, levels)]
        return (
            frame,
            {"levels": levels, "height_m": heights, "use": uses, "floor_area_m2": floor_area},
            None,
        )

    def amenities(self, report: ImportReport) -> Extracted:
        pois = self._call("amenities", lambda: self.osm.get_pois(custom_filter=AMENITY_FILTER))
        if pois is None or len(pois) == 0:
            frame, values, reasons = (
                _empty(),
                {"name": [], "category": [], "kind": [], "address": []},
                [],
            )
        else:
            pois = pois.reset_index(drop=True)
            tags = {key: _tag(pois, key).tolist() for key in AMENITY_KEYS}
            classes = [
                _amenity_class({k: tags[k][i] for k in AMENITY_KEYS}) for i in range(len(pois))
            ]
            frame = gpd.GeoDataFrame(geometry=pois.geometry.values, crs=4326)
            street = _tag(pois, "addr:street").tolist()
            number = _tag(pois, "addr:housenumber").tolist()
            reasons = [None if c else "no 15-minute category" for c in classes]
            values = {
                "name": _tag(pois, "name").tolist(),
                "category": [c[0] if c else None for c in classes],
                "kind": [c[1] if c else None for c in classes],
                "address": [
                    ", ".join(str(p) for p in (s, n) if p) or None for s, n in zip(street, number)
                ],
            }
        # the parks category: an entrance point on each park, as the demo city has them
        parks, park_values, _ = self.parks(ImportReport(layer="parks"))
        if len(parks):
            frame = gpd.GeoDataFrame(
                geometry=np.concatenate([frame.geometry.values, parks.geometry.values]), crs=4326
            )
            values["name"] += park_values["name"]
            values["category"] += ["parks"] * len(parks)
            values["kind"] += ["park_entrance"] * len(parks)
            values["address"] += [None] * len(parks)
            reasons += [None] * len(parks)
            report.notes.append(
                f"{len(parks)} park entrances: a point on each park, category parks"
            )
        return frame, values, reasons

    def parks(self, report: ImportReport) -> Extracted:
        custom = {}
        for key, value in PARK_KINDS:
            custom.setdefault(key, []).append(value)
        parks = self._call(
            "parks",
            lambda: self.osm.get_data_by_custom_criteria(
                custom_filter=custom, filter_type="keep", keep_nodes=False
            ),
        )
        if parks is None or len(parks) == 0:
            return _empty(), {}, None
        parks = parks.reset_index(drop=True)
        kinds = [None] * len(parks)
        for key in ("leisure", "landuse", "place"):
            for i, value in enumerate(_tag(parks, key)):
                if kinds[i] is None and value is not None:
                    kinds[i] = PARK_KINDS.get((key, str(value)))
        frame = gpd.GeoDataFrame(geometry=parks.geometry.values, crs=4326)
        area = measures(frame)["area_ha"]
        return (
            frame,
            {
                "name": _tag(parks, "name").tolist(),
                "kind": kinds,
                "status": ["existing"] * len(parks),
                "area_ha": [round(a, 4) for a in area],
            },
            None,
        )

    def transit_stops(self, report: ImportReport) -> Extracted:
        stops = self._call(
            "transit stops",
            lambda: self.osm.get_data_by_custom_criteria(
                custom_filter=STOP_FILTER, filter_type="keep", keep_ways=False, keep_relations=False
            ),
        )
        if stops is None or len(stops) == 0:
            return _empty(), {}, None
        stops = stops.reset_index(drop=True)
        keys = (
            "highway",
            "public_transport",
            "railway",
            "amenity",
            "station",
            "subway",
            "tram",
            "trolleybus",
            "bus",
            "network",
            "route_ref",
        )
        tags = {key: _tag(stops, key).tolist() for key in keys}
        modes = [_stop_mode({k: tags[k][i] for k in keys}) for i in range(len(stops))]
        frame = gpd.GeoDataFrame(geometry=stops.geometry.values, crs=4326)
        reasons = [
            None
            if mode
            else f"railway={tags['railway'][i]}: not a city transit mode"
            if tags["railway"][i] in ("station", "halt")
            else "no transit mode"
            for i, mode in enumerate(modes)
        ]
        return (
            frame,
            {"name": _tag(stops, "name").tolist(), "mode": modes, "routes": tags["route_ref"]},
            reasons,
        )


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _building_use(building: Any, shop: Any) -> str | None:
    value = str(building or "").strip().lower()
    for use, values in BUILDING_USE.items():
        if value in values:
            return use
    return "commercial" if shop else None


def _amenity_class(tags: dict[str, Any]) -> tuple[str, str] | None:
    for key in AMENITY_KEYS:
        value = tags.get(key)
        if value is None:
            continue
        found = AMENITY_KINDS.get((key, str(value)))
        if found:
            return found
        if key == "shop":
            return ("commerce", "shop")
    return None


def _stop_mode(tags: dict[str, Any]) -> str | None:
    def yes(key: str) -> bool:
        return str(tags.get(key) or "").lower() in {"yes", "designated"}

    network = str(tags.get("network") or "").lower()
    routes = str(tags.get("route_ref") or "").lower()
    if tags.get("railway") == "subway_entrance" or tags.get("station") == "subway" or yes("subway"):
        return "metro"
    if tags.get("railway") == "tram_stop" or yes("tram"):
        return "tram"
    if "brt" in network or "brt" in routes:
        return "brt"
    if yes("trolleybus"):
        return "trolleybus"
    if tags.get("highway") == "bus_stop" or yes("bus") or tags.get("amenity") == "bus_station":
        return "bus"
    if tags.get("public_transport") == "platform" and not tags.get("railway"):
        return "bus"
    return None


def merge_segments(edges: pd.DataFrame) -> dict[str, Any]:
    """Merge pyrosm's node-to-node segments into edges between junctions.

    A node ends an edge where a way starts or ends, where it is shared by another way or
    visited twice, or where the chain of a way's segments breaks. Returns per edge: the row
    of its first segment (for the way's tags), its geometry, length and end node ids.
    """
    u = edges["u"].to_numpy(dtype=np.int64)
    v = edges["v"].to_numpy(dtype=np.int64)
    way = edges["id"].to_numpy(dtype=np.int64)
    n = len(edges)
    order = np.lexsort((np.arange(n), way))  # a way's segments together, in file order
    u, v, way = u[order], v[order], way[order]
    # incidences per node, and how many different ways touch it
    nodes = np.concatenate([u, v])
    ways_of_nodes = np.concatenate([way, way])
    unique_nodes, inverse = np.unique(nodes, return_inverse=True)
    incidence = np.bincount(inverse, minlength=len(unique_nodes))
    pairs = np.unique(np.stack([inverse, ways_of_nodes]), axis=1)
    ways_per_node = np.bincount(pairs[0], minlength=len(unique_nodes))
    junction = (incidence != 2) | (ways_per_node > 1)
    v_junction = junction[inverse[n:]]
    last_of_way = np.ones(n, dtype=bool)
    last_of_way[:-1] = (way[1:] != way[:-1]) | (v[:-1] != u[1:])
    ends = v_junction | last_of_way
    lengths = edges["length"].to_numpy(dtype=float)[order] if "length" in edges.columns else None
    geometries = edges.geometry.to_numpy()[order]
    coords = [shapely.get_coordinates(g) for g in geometries]
    rows, geoms, length_m, sources, targets = [], [], [], [], []
    start = 0
    for i in range(n):
        if not ends[i]:
            continue
        parts = [coords[start]] + [c[1:] for c in coords[start + 1 : i + 1]]
        line = shapely.linestrings(np.concatenate(parts))
        rows.append(int(edges.index[order[start]]))
        geoms.append(line)
        length_m.append(float(lengths[start : i + 1].sum()) if lengths is not None else np.nan)
        sources.append(int(u[start]))
        targets.append(int(v[i]))
        start = i + 1
    if lengths is None or np.isnan(length_m).any():
        frame = gpd.GeoDataFrame(geometry=geoms, crs=4326)
        length_m = list(measures(frame)["length_m"])
    return {
        "row": rows,
        "geometry": geoms,
        "length_m": length_m,
        "source_node": sources,
        "target_node": targets,
    }


def import_osm(
    conn: psycopg.Connection,
    path: Path | str,
    bbox: tuple[float, float, float, float] | None = None,
    layers: list[str] | tuple[str, ...] = OSM_LAYERS,
    mode: str = "replace",
    force: bool = False,
    dry_run: bool = False,
    keep_demo: bool = False,
) -> list[ImportReport]:
    """Import an OSM extract into the chosen layers in one transaction; a report per layer.

    An extract mostly outside the city is refused (unless `force`); a layer it has nothing for
    is left as it was; a replace replaces the rows earlier OpenStreetMap imports brought, and
    the demo's synthetic rows of what the extract brings unless `keep_demo`."""
    path = Path(path)
    unknown = [name for name in layers if name not in OSM_LAYERS]
    if unknown or not layers:
        raise ImportFailed(
            f"import-osm fills {', '.join(OSM_LAYERS)}; not {', '.join(unknown) or 'nothing'}"
        )
    batches.check_mode(mode, keep_demo)
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    extract = OsmExtract(path, bbox)
    prepared: list[tuple[Layer, gpd.GeoDataFrame, ImportReport]] = []
    raw: list[np.ndarray] = []
    with progress("read OSM layers", total=len(layers), unit="layers") as bar:
        for name in layers:
            layer = importable_layer(name)
            report = ImportReport(layer=name, mode=mode)
            frame, values, reasons = getattr(extract, name)(report)
            report.read = len(frame)
            raw.append(np.asarray(frame.geometry.values, dtype=object))
            if len(frame):
                report.source_frame = _with_values(frame, values)
            conformed = (
                conform(layer, frame, values, report, reasons, points_from_areas=True)
                if len(frame)
                else frame
            )
            report.loaded = len(conformed)
            prepared.append((layer, conformed, report))
            bar.update(1)
    if not any(len(frame) for _, frame, _ in prepared):
        raise ImportFailed(
            f"nothing to import: {path.name} has none of "
            f"{', '.join(layers)}{' inside the bbox' if bbox else ''}"
        )
    notes: list[str] = []
    check_extent(
        np.concatenate(raw),
        None,
        f"the extract {path.name}",
        "cut the extract to the city with --bbox W,S,E,N, or pass --force to import anyway",
        force,
        notes,
    )
    for _, _, report in prepared:
        report.notes += notes
        if report.rejected_rows and report.source_frame is not None:
            write_rejected(report, report.source_frame, rejected_path(path, report.layer))
    details_base = {
        "file": path.name,
        "bbox": list(bbox) if bbox else None,
        "pyrosm_network": "all (walkable per the walking filter)",
    }
    source = OSM_SOURCE.format(name=path.name)
    if dry_run:
        for layer, frame, report in prepared:
            report.written = False
            if not len(frame):
                report.notes.append("nothing of this kind in the extract: layer left as it was")
                continue
            batches.plan(conn, layer, frame, report, OSM_SCOPE, keep_demo)
            report.loaded = len(frame) - report.skipped
            report.notes.append("dry run: checked only, nothing was written")
        return [report for _, _, report in prepared]
    with conn.transaction():
        batch = batches.begin(conn, "import-osm", path.name, OSM_SCOPE)
        for layer, frame, report in prepared:
            if not len(frame):
                report.written = False
                report.notes.append("nothing of this kind in the extract: layer left as it was")
                continue
            previous = _previous_provenance(conn, layer)

            def provenance(
                kept: int,
                demo_left: int,
                previous: dict | None = previous,
                report: ImportReport = report,
            ) -> Provenance:
                return combined_provenance(
                    previous,
                    source,
                    OSM_LICENCE,
                    {**details_base, **report.details()},
                    kept,
                    "appended_to" if mode == "append" else "kept_rows",
                    demo_left,
                )

            batches.write(conn, batch, layer, frame, report, provenance, keep_demo)
        written = [report.layer for _, _, report in prepared if report.written]
        prepared[-1][2].notes.append(
            f"import {batch.id}: `twin import undo` brings {', '.join(written)} back as they were"
        )
    return [report for _, _, report in prepared]


def _with_values(frame: gpd.GeoDataFrame, values: dict[str, list]) -> gpd.GeoDataFrame:
    """The extracted features with their raw values: what a rejected feature is shown with."""
    columns = {name: column for name, column in values.items() if len(column) == len(frame)}
    return gpd.GeoDataFrame(columns, geometry=frame.geometry.values, crs=frame.crs)

"""OGC API process `scenario`: what if we build a school here, or a park there?"""

from __future__ import annotations

from typing import Any

from twin.analysis.city import current_city
from twin.analysis.scenario import run_scenario
from twin.db.pool import connection
from twin.processes.base import (
    MODE,
    MODES,
    ProcessInputError,
    TwinProcessor,
    choice,
    id_list,
    literal,
    metadata,
    shown,
)

PROCESS_METADATA = metadata(
    "scenario",
    "What-if scenario",
    "Add amenities (GeoJSON points with properties.category and optional kind, name) or parks "
    "(polygons with properties.kind), remove stored amenities or parks by id, and get the "
    "15-minute and park indicators before, after and their difference for the city, each "
    "district and polycentre, with the H3 cells whose access changed. Stored data is not "
    "changed.",
    {
        "add": literal(
            "Features to add",
            "GeoJSON FeatureCollection of amenities (Point) and parks (Polygon/MultiPolygon).",
            {"type": "object"},
        ),
        "remove_amenities": literal(
            "Amenities to remove",
            "ids in the amenities collection.",
            {"type": "array", "items": {"type": "integer"}},
        ),
        "remove_parks": literal(
            "Parks to remove",
            "ids in the parks collection.",
            {"type": "array", "items": {"type": "integer"}},
        ),
        "mode": MODE,
    },
    "Indicators before, after and delta, and the changed cells as GeoJSON",
    {
        "add": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [76.85, 43.22]},
                    "properties": {"category": "education", "kind": "school", "name": "New school"},
                }
            ],
        }
    },
)


class ScenarioProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = ("add", "remove_amenities", "remove_parks", "mode")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        mode = choice(inputs, "mode", MODES, "slope")
        remove_amenities = id_list(inputs, "remove_amenities")
        remove_parks = id_list(inputs, "remove_parks")
        check_added_features(inputs.get("add"))
        with connection() as conn:
            city = current_city(conn)
        return run_scenario(city, inputs.get("add"), remove_amenities, remove_parks, mode)


# The properties of an added feature the scenario reads; each is text when given.
ADDED_TEXT_PROPERTIES = ("category", "kind", "name")


def check_added_features(add: Any) -> None:
    """Each added feature: a geometry object, and properties an object (or null) whose category,
    kind and name are text; the scenario's own parser checks the rest (the geometry itself,
    known categories and kinds)."""
    if not isinstance(add, dict) or not isinstance(add.get("features"), list):
        return  # the scenario names a malformed collection itself
    for i, feature in enumerate(add["features"]):
        if not isinstance(feature, dict):
            continue
        if not isinstance(feature.get("geometry"), dict):
            raise ProcessInputError(
                f"add.features[{i}].geometry must be a GeoJSON geometry "
                f"object, got {shown(feature.get('geometry'))}"
            )
        properties = feature.get("properties")
        if properties is None:
            continue
        if not isinstance(properties, dict):
            raise ProcessInputError(
                f"add.features[{i}].properties must be an object, got {shown(properties)}"
            )
        for name in ADDED_TEXT_PROPERTIES:
            value = properties.get(name)
            if value is not None and not isinstance(value, str):
                raise ProcessInputError(
                    f"add.features[{i}].properties.{name} must be text, got {shown(value)}"
                )

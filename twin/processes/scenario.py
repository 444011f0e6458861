"""OGC API process `scenario`: what if we build a school here, or a park there?"""

from __future__ import annotations

from typing import Any

from twin.analysis.city import current_city
from twin.analysis.scenario import run_scenario
from twin.db.pool import connection
from twin.processes.base import MODE, MODES, TwinProcessor, choice, literal, metadata

PROCESS_METADATA = metadata(
    "scenario", "What-if scenario",
    "Add amenities (GeoJSON points with properties.category and optional kind, name) or parks "
    "(polygons with properties.kind), remove stored amenities or parks by id, and get the "
    "15-minute and park indicators before, after and their difference for the city, each "
    "district and polycentre, with the H3 cells whose access changed. Stored data is not "
    "changed.",
    {"add": literal("Features to add", "GeoJSON FeatureCollection of amenities (Point) and "
                    "parks (Polygon/MultiPolygon).", {"type": "object"}),
     "remove_amenities": literal("Amenities to remove", "ids in the amenities collection.",
                                 {"type": "array", "items": {"type": "integer"}}),
     "remove_parks": literal("Parks to remove", "ids in the parks collection.",
                             {"type": "array", "items": {"type": "integer"}}),
     "mode": MODE},
    "Indicators before, after and delta, and the changed cells as GeoJSON",
    {"add": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.85, 43.22]},
         "properties": {"category": "education", "kind": "school", "name": "New school"}}]}})


class ScenarioProcessor(TwinProcessor):
    metadata_source = PROCESS_METADATA
    known_inputs = ("add", "remove_amenities", "remove_parks", "mode")

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        mode = choice(inputs, "mode", MODES, "slope")
        with connection() as conn:
            city = current_city(conn)
        return run_scenario(city, inputs.get("add"), inputs.get("remove_amenities"),
                            inputs.get("remove_parks"), mode)

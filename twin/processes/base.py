"""What the twin's processes share: input checks that name the problem, and running against
the in-memory city of this worker (reloaded when the data versions move on)."""

from __future__ import annotations

from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from twin.analysis import AnalysisInputError

MODES = ("slope", "flat")


class ProcessInputError(ProcessorExecuteError):
    """Bad input: pygeoapi and our execution route both answer 400 with this message."""

    http_status_code = 400
    ogc_exception_code = "InvalidParameterValue"

    def __init__(self, message: str) -> None:
        super().__init__(message, user_msg=message)


def number(inputs: dict[str, Any], name: str, low: float, high: float,
           required: bool = True) -> float | None:
    value = inputs.get(name)
    if value is None:
        if required:
            raise ProcessInputError(f"missing input {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProcessInputError(f"input {name!r} must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise ProcessInputError(f"input {name!r} = {value} is out of range {low}..{high}")
    return float(value)


def integer(inputs: dict[str, Any], name: str) -> int:
    value = inputs.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProcessInputError(f"input {name!r} must be an integer id, got {value!r}")
    return value


def choice(inputs: dict[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = inputs.get(name, default)
    if value not in options:
        raise ProcessInputError(f"input {name!r} must be one of {', '.join(options)}, "
                                f"got {value!r}")
    return value


def flag(inputs: dict[str, Any], name: str) -> bool:
    value = inputs.get(name, False)
    if not isinstance(value, bool):
        raise ProcessInputError(f"input {name!r} must be true or false, got {value!r}")
    return value


class TwinProcessor(BaseProcessor):
    """A synchronous JSON-in, JSON-out process over the in-memory city."""

    metadata_source: dict[str, Any] = {}
    known_inputs: tuple[str, ...] = ()

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, self.metadata_source)

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, data: dict[str, Any], outputs: dict | None = None) -> tuple[str, Any]:
        if not isinstance(data, dict):
            raise ProcessInputError("inputs must be a JSON object")
        unknown = sorted(set(data) - set(self.known_inputs))
        if unknown:
            raise ProcessInputError(f"unknown input(s) {', '.join(unknown)}; this process "
                                    f"takes {', '.join(self.known_inputs)}")
        try:
            return "application/json", self.run(data)
        except AnalysisInputError as exc:
            raise ProcessInputError(str(exc)) from None


def literal(title: str, description: str, schema: dict[str, Any],
            min_occurs: int = 0) -> dict[str, Any]:
    return {"title": title, "description": description, "schema": schema,
            "minOccurs": min_occurs, "maxOccurs": 1}


def metadata(process_id: str, title: str, description: str, inputs: dict[str, Any],
             output_title: str, example: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1.0.0", "id": process_id, "title": {"en": title},
            "description": {"en": description}, "jobControlOptions": ["sync-execute"],
            "keywords": ["15-minute city", "walkability", "Almaty"],
            "links": [{"type": "application/json", "rel": "related",
                       "title": "City indicators", "href": "../../indicators"}],
            "inputs": inputs,
            "outputs": {"result": {"title": output_title,
                                   "schema": {"type": "object",
                                              "contentMediaType": "application/json"}}},
            "example": {"inputs": example}}


LON = literal("Longitude", "WGS84 longitude of the place (inside the city).",
              {"type": "number", "minimum": -180, "maximum": 180})
LAT = literal("Latitude", "WGS84 latitude of the place (inside the city).",
              {"type": "number", "minimum": -90, "maximum": 90})
MODE = literal("Walking mode", "slope: Tobler's hiking function on the terrain (default); "
               "flat: 4.8 km/h everywhere.", {"type": "string", "enum": list(MODES),
                                               "default": "slope"})
PLOT_ID = literal("Plot id", "The id of a feature in the plots collection.", {"type": "integer"})

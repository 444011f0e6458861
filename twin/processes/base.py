"""What the twin's processes share: input checks that name the problem, and running against
the in-memory city of this worker (reloaded when the data versions move on)."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from twin.analysis import AnalysisInputError
from twin.analysis.profiles import NAMES as PROFILES
from twin.analysis.profiles import engine_mode
from twin.errors import InvalidParameter

MODES = ("slope", "flat")
# An id as text: ASCII digits, no sign, no leading zeros, at most 18 digits, so it always fits
# PostgreSQL's bigint ("²" and "١" are digits to str.isdigit, and int() of 5,000 digits fails).
ID_TEXT = re.compile(r"0|[1-9][0-9]{0,17}")
MAX_ID = 2**63 - 1  # bigint
SHOWN = 40  # characters of a bad value quoted back in a message


class ProcessInputError(ProcessorExecuteError, InvalidParameter):
    """Bad input: pygeoapi (a ProcessorExecuteError to it) and the twin's execution route (a
    twin.errors.InvalidParameter, rendered by twin.http.errors) both answer 400 with this
    message."""

    http_status_code = 400
    ogc_exception_code = "InvalidParameterValue"

    def __init__(self, message: str) -> None:
        super().__init__(message, user_msg=message)


def shown(value: Any) -> str:
    """A bad value as quoted back to the user: its repr, cut short (an id may be 5,000 digits)."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text)} characters)"


def number(
    inputs: dict[str, Any], name: str, low: float, high: float, required: bool = True
) -> float | None:
    """A finite JSON number within low..high (NaN, Infinity and booleans are refused)."""
    value = inputs.get(name)
    if value is None:
        if required:
            raise ProcessInputError(f"missing input {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProcessInputError(f"input {name!r} must be a number, got {shown(value)}")
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise ProcessInputError(f"input {name!r} must be a finite number, got {shown(value)}")
    if not low <= as_float <= high:
        raise ProcessInputError(f"input {name!r} = {value} is out of range {low}..{high}")
    return as_float


def feature_id(value: Any, name: str) -> int:
    """A feature id: a JSON integer or its canonical ASCII text, 0..2^63-1 (bigint)."""
    if isinstance(value, str):
        if not ID_TEXT.fullmatch(value):
            raise ProcessInputError(
                f"input {name!r} must be an integer id (ASCII digits "
                f"without sign or leading zeros), got {shown(value)}"
            )
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProcessInputError(f"input {name!r} must be an integer id, got {shown(value)}")
    if not 0 <= value <= MAX_ID:
        raise ProcessInputError(
            f"input {name!r} = {shown(value)} is not an id: ids are 0..{MAX_ID}"
        )
    return value


def integer(inputs: dict[str, Any], name: str) -> int:
    """The id input `name` (see feature_id); missing is an error naming it."""
    if inputs.get(name) is None:
        raise ProcessInputError(f"missing input {name!r}")
    return feature_id(inputs[name], name)


def id_list(inputs: dict[str, Any], name: str) -> list[int] | None:
    """A list of ids (e.g. remove_amenities), each checked as feature_id; absent is None."""
    value = inputs.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ProcessInputError(f"input {name!r} must be a list of integer ids, got {shown(value)}")
    return [feature_id(each, f"{name}[{i}]") for i, each in enumerate(value)]


def choice(inputs: dict[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = inputs.get(name, default)
    if not isinstance(value, str) or value not in options:
        raise ProcessInputError(
            f"input {name!r} must be one of {', '.join(options)}, got {shown(value)}"
        )
    return value


def walking_mode(inputs: dict[str, Any]) -> tuple[str, str]:
    """The inputs' profile and the engine mode that answers for it (twin.analysis.profiles):
    `mode` chooses the standard walker's model; the other profiles have their own."""
    profile = choice(inputs, "profile", PROFILES, "standard")
    mode = choice(inputs, "mode", MODES, "slope")
    try:
        return profile, engine_mode(profile, mode)
    except ValueError as exc:
        raise ProcessInputError(str(exc)) from None


def flag(inputs: dict[str, Any], name: str) -> bool:
    value = inputs.get(name, False)
    if not isinstance(value, bool):
        raise ProcessInputError(f"input {name!r} must be true or false, got {shown(value)}")
    return value


class TwinProcessor(BaseProcessor):
    """A synchronous JSON-in, JSON-out process over the in-memory city."""

    metadata_source: ClassVar[dict[str, Any]] = {}
    known_inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, processor_def: dict[str, Any]) -> None:
        super().__init__(processor_def, self.metadata_source)

    def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, data: dict[str, Any], outputs: dict | None = None) -> tuple[str, Any]:
        if not isinstance(data, dict):
            raise ProcessInputError("inputs must be a JSON object")
        unknown = sorted(set(data) - set(self.known_inputs))
        if unknown:
            raise ProcessInputError(
                f"unknown input(s) {', '.join(map(shown, unknown[:5]))}; "
                f"this process "
                f"takes {', '.join(self.known_inputs)}"
            )
        try:
            return "application/json", self.run(data)
        except AnalysisInputError as exc:
            raise ProcessInputError(str(exc)) from None


def literal(
    title: str, description: str, schema: dict[str, Any], min_occurs: int = 0
) -> dict[str, Any]:
    return {
        "title": title,
        "description": description,
        "schema": schema,
        "minOccurs": min_occurs,
        "maxOccurs": 1,
    }


def metadata(
    process_id: str,
    title: str,
    description: str,
    inputs: dict[str, Any],
    output_title: str,
    example: dict[str, Any],
) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "id": process_id,
        "title": {"en": title},
        "description": {"en": description},
        "jobControlOptions": ["sync-execute"],
        "keywords": ["15-minute city", "walkability", "Almaty"],
        "links": [
            {
                "type": "application/json",
                "rel": "related",
                "title": "City indicators",
                "href": "../../indicators",
            }
        ],
        "inputs": inputs,
        "outputs": {
            "result": {
                "title": output_title,
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        "example": {"inputs": example},
    }


LON = literal(
    "Longitude",
    "WGS84 longitude of the place (inside the city).",
    {"type": "number", "minimum": -180, "maximum": 180},
)
LAT = literal(
    "Latitude",
    "WGS84 latitude of the place (inside the city).",
    {"type": "number", "minimum": -90, "maximum": 90},
)
MODE = literal(
    "Walking mode",
    "slope: Tobler's hiking function on the terrain (default); flat: 4.8 km/h everywhere.",
    {"type": "string", "enum": list(MODES), "default": "slope"},
)
PROFILE = literal(
    "Walking profile",
    "standard: an average adult (4.8 km/h, Tobler on slopes; default); slow: an elderly or slow "
    "walker (3 km/h, Tobler); wheelchair: 3.6 km/h, no steps, raised kerbs or slopes over 5% "
    "(8% on ramps up to 10 m); night: lit streets only. See docs/profiles.md.",
    {"type": "string", "enum": list(PROFILES), "default": "standard"},
)
PLOT_ID = literal("Plot id", "The id of a feature in the plots collection.", {"type": "integer"})

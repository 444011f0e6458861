"""Provenance of the real layers `twin load demo --base DIR` takes from DIR: the districts and
blocks are real geometry (derived from OpenStreetMap, ODbL), not synthetic CC0 data; the
source and licence are those of the twin's own mappings for the same files, so an import and
the demo say the same thing about the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.importers.mapping import load_mapping
from twin.store import Provenance

MAPPINGS_DIR = Path(__file__).parent / "mappings"
# layer -> (mapping with its source and licence, file in DIR, what the demo did to it)
BASE_LAYERS: dict[str, tuple[str, str, str]] = {
    "districts": (
        "almaty_districts",
        "districts.geojson",
        (
            "real boundaries; English names and populations from the city's "
            "development programme (twin/demo/almaty.yml)"
        ),
    ),
    "blocks": (
        "almaty_blocks",
        "blocks.geojson",
        (
            "real blocks (the largest part of each; blocks under 500 m2 left out); "
            "block codes and districts assigned by the demo generator"
        ),
    ),
}


def base_provenance(base: Path | str, layer: str, details: dict[str, Any]) -> Provenance | None:
    """The provenance of a layer taken from the real data in DIR; None for generated layers."""
    if layer not in BASE_LAYERS:
        return None
    mapping_name, file_name, treatment = BASE_LAYERS[layer]
    mapping = load_mapping(MAPPINGS_DIR / f"{mapping_name}.yml")
    return Provenance(
        source=f"{mapping.source}, from {Path(base) / file_name}",
        licence=str(mapping.licence),
        synthetic=False,
        details=dict(details, layer=layer, file=file_name, treatment=treatment),
    )

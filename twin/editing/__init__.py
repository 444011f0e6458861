"""Editing the twin safely: OGC API Features Part 4 transactions with API keys, a full change
history kept by database triggers, and the guards (size limits, back-pressure, security
headers) that keep the server standing under load, faults and hostile input.

Which layers editors may change is a fact of the catalog (`editable: true` and `edit_role` in
layers/*.yml, twin.catalog.editable_layers()); every change to them is kept in twin_history.
Derived layers (analysis results) and reference layers (districts, faults, streets) are
rebuilt by imports and analysis, not edited by hand.
"""

from __future__ import annotations

from typing import Any

from twin.catalog import editable_layers


def __getattr__(name: str) -> Any:
    """`VERSIONED_LAYERS`: the editable layers, read from the catalog when first asked for
    (so importing twin.editing does not read layers/ before the settings are known)."""
    if name == "VERSIONED_LAYERS":
        return editable_layers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

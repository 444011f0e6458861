"""Editing the twin safely: OGC API Features Part 4 transactions with API keys, a full change
history kept by database triggers, and the guards (size limits, back-pressure, security
headers) that keep the server standing under load, faults and hostile input."""

# Layers editors may change through the API; every change to them is kept in twin_history.
# Derived layers (analysis results) and reference layers (districts, faults, streets) are
# rebuilt by imports and analysis, not edited by hand.
VERSIONED_LAYERS: tuple[str, ...] = ("plots", "buildings", "parks", "amenities", "utility_lines")

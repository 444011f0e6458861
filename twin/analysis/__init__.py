"""Walkability and the 15-minute city: the analysis engine (network, access, hazards)."""

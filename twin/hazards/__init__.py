"""Hazards beyond earthquakes: mudflow, avalanche, protection works and fire-station reach
(docs/hazards.md)."""

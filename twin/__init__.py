"""Almaty Twin: a PostGIS-backed OGC API digital twin of Almaty."""

__version__ = "0.1.0"

"""OGC API Features for the twin: query parameters, CQL2 and the SQL that answers them.

One small validator per query parameter (params.py), CQL2 to SQL (filters.py), output CRS
(crs.py), the statements that build GeoJSON in PostgreSQL (pages.py) and the hot-path routes
that serve them ahead of pygeoapi (routes.py). The pygeoapi provider
(twin.providers.features) reuses all of it, so both paths answer the same.
"""

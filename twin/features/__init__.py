"""OGC API Features for the twin: query parameters, CQL2 and the SQL that answers them.

One small validator per query parameter (params.py, instants in times.py), CQL2 to SQL
(filters.py), output CRS (crs.py), canonical ids and ETags (ids.py), the statements that build
GeoJSON in PostgreSQL (pages.py) and the items endpoints, which answer every format and
dispatch POST to search or create (routes.py). The pygeoapi provider (twin.providers.features)
reuses all of it for what pygeoapi still serves (one item's HTML and JSON-LD pages).
"""

-- A GeoJSON geometry (EPSG:4326) in metres (UTM 43N), as WKB.
SELECT ST_AsBinary(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s), 4326), 32643))

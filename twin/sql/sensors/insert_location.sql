INSERT INTO sta_locations (name, description, encoding_type, location, properties)
VALUES (%(name)s, %(description)s, %(encoding_type)s,
        ST_SetSRID(ST_GeomFromGeoJSON(%(geometry)s), 4326), %(properties)s)
RETURNING id

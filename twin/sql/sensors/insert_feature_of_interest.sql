INSERT INTO sta_features_of_interest (name, description, encoding_type, feature, properties)
VALUES (%(name)s, %(description)s, %(encoding_type)s,
        ST_SetSRID(ST_GeomFromGeoJSON(%(geometry)s), 4326), %(properties)s)
RETURNING id

INSERT INTO sta_things (name, description, properties, provider_id, layer, feature_id, district)
VALUES (%(name)s, %(description)s, %(properties)s, %(provider_id)s, %(layer)s, %(feature_id)s,
        %(district)s)
RETURNING id

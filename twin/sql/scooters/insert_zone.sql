INSERT INTO scooter_operator_zones (operator, position, name, rules, geom)
VALUES (%(operator)s, %(position)s, %(name)s, %(rules)s,
        ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(%(geometry)s), 4326)))

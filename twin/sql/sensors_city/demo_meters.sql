-- The metered facilities: water (Almaty Su), heating (ATVS), power (AlmatyEnergoSnab).
SELECT id, coalesce(name, kind || ' ' || id), network, kind, coalesce(capacity, 0), district,
       ST_X(geom), ST_Y(geom)
FROM utility_facilities
WHERE network IN ('water', 'heating', 'power')
ORDER BY network, id;

-- Early-warning stations in metres (UTM 43N) with their status (existing or planned).
SELECT status, ST_X(ST_Transform(geom, 32643)) AS x, ST_Y(ST_Transform(geom, 32643)) AS y
FROM early_warning_stations

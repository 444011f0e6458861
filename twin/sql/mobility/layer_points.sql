-- Points of a mobility/safety layer in metres (UTM 43N).
SELECT id, ST_X(ST_Transform(geom, 32643)) AS x, ST_Y(ST_Transform(geom, 32643)) AS y
FROM {table}

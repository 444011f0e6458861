-- The mudflow dams of protection_works, in metres (UTM 43N).
SELECT name, status, ST_X(ST_Transform(geom, 32643)), ST_Y(ST_Transform(geom, 32643))
FROM protection_works WHERE kind = 'dam' ORDER BY id

-- What a replace would do to the rows in scope: incoming rows identical to one in scope (same
-- geometry within 1e-7 degrees, same name: unchanged), rows matched by name only (changed), the rest added/removed.
WITH scope AS (SELECT t.id, t.geom, {name_column} AS name FROM {table} AS t WHERE {where}),
exact AS (SELECT k.i, s.id FROM twin_import_keys k JOIN scope s
          ON s.geom && ST_Expand(k.g, 1e-7) AND ST_NPoints(s.geom) = ST_NPoints(k.g)
             AND ST_HausdorffDistance(s.geom, k.g) <= 1e-7
             AND s.name IS NOT DISTINCT FROM k.name),
named AS (SELECT k.i FROM twin_import_keys k
          WHERE k.name IS NOT NULL AND k.i NOT IN (SELECT i FROM exact)
            AND EXISTS (SELECT 1 FROM scope s WHERE s.name = k.name
                        AND s.id NOT IN (SELECT id FROM exact)))
SELECT (SELECT count(*) FROM scope), (SELECT count(DISTINCT i) FROM exact),
       (SELECT count(*) FROM named)

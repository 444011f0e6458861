-- Row count and an order-independent digest of every row (geometry as WKB, properties as
-- JSON): equal before and after a refused import means nothing changed.
SELECT count(*), coalesce(md5(string_agg(md5(ST_AsEWKB(t.geom)::text || (to_jsonb(t) - 'geom')::text),
                                         ',' ORDER BY t.id)), '')
FROM {table} AS t

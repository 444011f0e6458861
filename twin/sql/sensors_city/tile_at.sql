-- The sensors layer as it was at %(at)s (tiles' `datetime=`, twin/tiles/vector.py): every
-- sensor in the tile with its Datastream's last Observation at or before that instant, found
-- by one backward step on the observations' primary key (datastream_id, phenomenon_time) per
-- sensor, in the day before it (so each lookup reads at most two day partitions). A sensor
-- with nothing observed in that day is drawn with no value.
SELECT COALESCE((
    SELECT ST_AsMVT(tile.*, %(layer_name)s, 4096, 'geom', 'id')
    FROM (
        SELECT s.id, s.name, s.kind, s.provider, s.district, s.thing, s.datastream, s.unit,
               CASE WHEN o.result_number IS NOT NULL THEN o.result_number
                    WHEN o.result_json = 'true'::jsonb THEN 1.0
                    WHEN o.result_json = 'false'::jsonb THEN 0.0 END AS value,
               o.phenomenon_time::text AS observed_at,
               ST_AsMVTGeom(ST_Transform(s.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                            4096, 64, true) AS geom
        FROM sensors s
        LEFT JOIN LATERAL (
            SELECT ob.result_number, ob.result_json, ob.phenomenon_time
            FROM sta_observations ob
            WHERE ob.datastream_id = s.datastream AND ob.phenomenon_time <= %(at)s
              AND ob.phenomenon_time > %(at)s::timestamptz - interval '1 day'
            ORDER BY ob.phenomenon_time DESC
            LIMIT 1
        ) o ON true
        WHERE s.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s,
                                                     margin => 0.015625), 4326)
    ) AS tile
    WHERE tile.geom IS NOT NULL
), ''::bytea)

-- The layer's id sequence past its highest id (rows restored by an undo or written with
-- explicit ids can be above it), so the rows an import adds are exactly those above max(id).
SELECT setval(s.seq, s.top)
FROM (SELECT pg_get_serial_sequence(%(table)s, 'id')::regclass AS seq,
             (SELECT max(id) FROM {table}) AS top) AS s
WHERE s.top > coalesce(pg_sequence_last_value(s.seq), 0)

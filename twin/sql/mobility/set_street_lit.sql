-- Lighting status derived from the lighting network, only for the segments that changed.
UPDATE streets SET lit = derived.lit
FROM unnest(%(ids)s::bigint[], %(lit)s::boolean[]) AS derived(id, lit)
WHERE streets.id = derived.id AND streets.lit IS DISTINCT FROM derived.lit

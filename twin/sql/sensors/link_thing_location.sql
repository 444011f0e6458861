-- A Thing's current Location(s) (replacing the earlier ones) and the HistoricalLocation that
-- records the move, as the standard asks.
WITH gone AS (
    DELETE FROM sta_thing_locations WHERE thing_id = %(thing_id)s
), linked AS (
    INSERT INTO sta_thing_locations (thing_id, location_id)
    SELECT %(thing_id)s, unnest(%(location_ids)s::bigint[])
), moved AS (
    INSERT INTO sta_historical_locations (thing_id, time) VALUES (%(thing_id)s, now())
    RETURNING id
)
INSERT INTO sta_location_history (historical_location_id, location_id)
SELECT moved.id, unnest(%(location_ids)s::bigint[]) FROM moved

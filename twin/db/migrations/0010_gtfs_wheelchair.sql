-- A stop's wheelchair_boarding as the feed gives it (GTFS: 0 or empty unknown, 1 possible,
-- 2 not possible): the wheelchair profile boards and alights only where it is not 2
-- (twin.transit.journey.step_free_closed).
ALTER TABLE gtfs_stops ADD COLUMN IF NOT EXISTS wheelchair_boarding smallint
    CHECK (wheelchair_boarding BETWEEN 0 AND 2);

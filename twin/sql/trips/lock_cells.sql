-- One batch at a time adds to trip_cells (until its transaction ends): two batches adding to
-- the same (cell, hour) would both write it new.
SELECT pg_advisory_xact_lock(hashtext('twin.trip_cells'))

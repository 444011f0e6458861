-- One derivation of change events at a time (a refresh and the demo load both write them).
SELECT pg_advisory_xact_lock(hashtext('twin.change_events'))

-- One builder per layer at a time (workers and CLI alike); released when the transaction ends.
SELECT pg_advisory_xact_lock(hashtext('twin_tile_overview'), hashtext(%(name)s))

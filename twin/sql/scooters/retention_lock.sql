-- One retention run at a time (the poller's and `twin scooters retain`): the second waits.
SELECT pg_advisory_xact_lock(%(space)s, %(key)s)

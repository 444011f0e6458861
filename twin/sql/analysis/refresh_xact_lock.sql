SELECT pg_advisory_xact_lock(%(space)s, %(key)s)

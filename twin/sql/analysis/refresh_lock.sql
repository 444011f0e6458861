SELECT pg_advisory_lock(%(space)s, %(key)s)

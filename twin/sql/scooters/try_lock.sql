SELECT pg_try_advisory_lock(%(space)s, %(key)s)

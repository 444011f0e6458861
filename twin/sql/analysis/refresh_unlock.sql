SELECT pg_advisory_unlock(%(space)s, %(key)s)

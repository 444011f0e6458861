INSERT INTO twin_migrations (id, checksum) VALUES (%(id)s, %(checksum)s)
ON CONFLICT (id) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()

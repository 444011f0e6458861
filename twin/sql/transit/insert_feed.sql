INSERT INTO gtfs_feed (name, file, sha256, source, licence, synthetic, service_start,
                       service_end, details)
VALUES (%(name)s, %(file)s, %(sha256)s, %(source)s, %(licence)s, %(synthetic)s,
        %(service_start)s, %(service_end)s, %(details)s::jsonb)

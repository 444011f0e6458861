CREATE INDEX IF NOT EXISTS {gist_index} ON {table} USING gist (geom)

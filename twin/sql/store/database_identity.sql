-- Which database the tiles come from: cache keys include it, so two twins (a test cluster, a
-- dev cluster) sharing one cache directory never serve each other's tiles.
SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()

-- `twin bench mobility_ops`: drop the bench's day partitions (from 2099) and their cells.
DO $$
DECLARE
    part text;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'scooter_trips'::regclass AND c.relname >= 'scooter_trips_2099'
          AND c.relname <> 'scooter_trips_default'
    LOOP
        EXECUTE format('DROP TABLE %I', part);
    END LOOP;
END $$;
DELETE FROM trip_cells WHERE hour >= '2099-01-01';
DELETE FROM scooter_injuries WHERE occurred_at >= '2099-01-01';

-- The benchmark's rows: its operators (bench-*), in the year 2099.
DELETE FROM scooter_latest WHERE operator LIKE 'bench-%';
DELETE FROM scooter_vehicle_types WHERE operator LIKE 'bench-%';
DELETE FROM scooter_polls WHERE operator LIKE 'bench-%';
DELETE FROM scooter_hourly WHERE operator LIKE 'bench-%';
DELETE FROM scooter_hourly_polls WHERE operator LIKE 'bench-%';
DELETE FROM scooter_cells_hourly WHERE operator LIKE 'bench-%';
DELETE FROM parking_disorder WHERE hour >= '2099-01-01';
DELETE FROM key_section_occupancy WHERE hour >= '2099-01-01';
DROP TABLE IF EXISTS scooter_positions_20990101;

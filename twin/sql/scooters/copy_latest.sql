-- The operator's latest poll becomes its "now" (after forget_latest, in the poll's transaction).
COPY scooter_latest (operator, vehicle_id, polled_at, geom, vehicle_type, is_reserved,
                     is_disabled, station_id, parking_id, zone_id, district, h3_cell) FROM STDIN

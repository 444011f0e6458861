COPY scooter_positions (operator, vehicle_id, polled_at, geom, vehicle_type, is_reserved,
                        is_disabled, station_id, parking_id, zone_id, district, h3_cell) FROM STDIN

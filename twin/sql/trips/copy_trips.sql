COPY scooter_trips (trip_id, provider_id, provider_name, device_id, start_time, end_time,
                    start_location, end_location, route, distance_m, duration_s,
                    start_h3, end_h3, route_h3, synthetic) FROM STDIN

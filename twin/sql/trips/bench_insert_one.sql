-- `twin bench mobility_ops`'s peer: one trip per statement, as a naive ingest writes it.
INSERT INTO scooter_trips (trip_id, provider_id, provider_name, device_id, start_time, end_time,
                           start_location, end_location, distance_m, duration_s, start_h3,
                           end_h3, route_h3)
VALUES (%(trip_id)s, %(provider_id)s, %(provider_name)s, %(device_id)s, %(start)s, %(end)s,
        ST_SetSRID(ST_MakePoint(%(x0)s, %(y0)s), 4326),
        ST_SetSRID(ST_MakePoint(%(x1)s, %(y1)s), 4326),
        %(distance)s, %(duration)s, %(h0)s, %(h1)s, %(cells)s)

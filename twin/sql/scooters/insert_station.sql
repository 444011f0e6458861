INSERT INTO scooter_station_status (operator, station_id, polled_at, num_vehicles_available,
                                    num_vehicles_disabled, is_renting, is_returning)
VALUES (%(operator)s, %(station_id)s, %(polled_at)s, %(available)s, %(disabled)s,
        %(renting)s, %(returning)s)

INSERT INTO scooter_vehicle_types (operator, vehicle_type_id, form_factor, propulsion_type,
                                   max_range_m, document)
VALUES (%(operator)s, %(id)s, %(form_factor)s, %(propulsion)s, %(range)s, %(document)s)

DELETE FROM scooter_vehicle_types WHERE operator = %(operator)s

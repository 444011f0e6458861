DELETE FROM scooter_operator_zones WHERE operator = %(operator)s

DELETE FROM scooter_latest WHERE operator = %(operator)s

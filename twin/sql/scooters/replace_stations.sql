DELETE FROM scooter_station_status WHERE operator = %(operator)s

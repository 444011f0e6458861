-- One timetable table's rows, as CSV (twin.transit.store._copy_in).
COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)

-- One timetable table's rows read back as CSV with a header, in a stable order.
COPY (SELECT {columns} FROM {table} ORDER BY {order}) TO STDOUT WITH (FORMAT csv, HEADER true)

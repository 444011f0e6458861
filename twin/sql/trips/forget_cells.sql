DELETE FROM trip_cells WHERE hour >= %(from)s AND hour < %(to)s

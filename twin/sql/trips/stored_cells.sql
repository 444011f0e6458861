-- The trip_cells rows stored for the hours [from, to): a batch adds to these.
SELECT id, h3, hour FROM trip_cells WHERE hour >= %(from)s AND hour < %(to)s

COPY trip_cells (h3, hour, origins, destinations, routes, synthetic, geom) FROM STDIN

-- `twin bench mobility_ops`: the busiest cells of the bench day's hours, where tiles are drawn.
SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), hour
FROM trip_cells
WHERE hour >= %(from)s AND hour < %(to)s
ORDER BY routes DESC
LIMIT %(limit)s

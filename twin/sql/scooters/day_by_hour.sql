-- A day's parking disorder and key-section occupancy by hour, from the derived layers.
SELECT d.hour, sum(d.vehicles), sum(d.outside_parking),
       (SELECT sum(k.vehicles) FROM key_section_occupancy k WHERE k.hour = d.hour)
FROM parking_disorder d
WHERE d.hour >= %(start)s AND d.hour < %(end)s
GROUP BY d.hour ORDER BY d.hour

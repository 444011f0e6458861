-- The key sections' trips by hour of a day [from, to): started in the section, ended in it, and
-- passed through it (its route, or the straight line of a trip without one, crosses it).
SELECT z.id, z.name, z.district, date_trunc('hour', t.start_time) AS hour,
       count(*) FILTER (WHERE ST_Intersects(z.geom, t.start_location))::int AS starts,
       count(*) FILTER (WHERE ST_Intersects(z.geom, t.end_location))::int AS ends,
       count(*)::int AS through
FROM scooter_zones z
JOIN scooter_trips t
  ON t.start_time >= %(from)s AND t.start_time < %(to)s
 AND ST_Intersects(
        z.geom, coalesce(t.route, ST_MakeLine(t.start_location, t.end_location)))
WHERE z.kind = 'key_section'
GROUP BY z.id, z.name, z.district, hour
ORDER BY z.name, hour

-- The hours in [start, end) of the positions, summed per hour, operator and H3 cell (again:
-- a second run over the same hours writes the same sums).
INSERT INTO scooter_cells_hourly AS c (hour, operator, h3_cell, standing, outside, disabled)
SELECT date_trunc('hour', polled_at), operator, h3_cell,
       count(*) FILTER (WHERE NOT is_reserved),
       count(*) FILTER (WHERE NOT is_reserved AND parking_id IS NULL),
       count(*) FILTER (WHERE is_disabled)
FROM scooter_positions
WHERE polled_at >= %(start)s AND polled_at < %(end)s AND h3_cell IS NOT NULL
GROUP BY 1, 2, 3
ON CONFLICT (hour, operator, h3_cell) DO UPDATE
    SET standing = excluded.standing, outside = excluded.outside, disabled = excluded.disabled

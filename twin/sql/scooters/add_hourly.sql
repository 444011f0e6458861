-- A stored poll adds its counts to its hour (per district and zone) and counts itself.
WITH counts AS (
    INSERT INTO scooter_hourly AS h (hour, operator, district, zone_id, standing, outside)
    SELECT date_trunc('hour', %(polled_at)s::timestamptz), operator, coalesce(district, ''),
           coalesce(zone_id, 0),
           count(*) FILTER (WHERE NOT is_reserved),
           count(*) FILTER (WHERE NOT is_reserved AND parking_id IS NULL)
    FROM scooter_positions
    WHERE operator = %(operator)s AND polled_at = %(polled_at)s
    GROUP BY 2, 3, 4
    ON CONFLICT (hour, operator, district, zone_id) DO UPDATE
        SET standing = h.standing + excluded.standing, outside = h.outside + excluded.outside
    RETURNING 1
)
INSERT INTO scooter_hourly_polls AS p (hour, operator, polls)
VALUES (date_trunc('hour', %(polled_at)s::timestamptz), %(operator)s, 1)
ON CONFLICT (hour, operator) DO UPDATE SET polls = p.polls + 1

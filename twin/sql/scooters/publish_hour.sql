-- The hour's rows of the derived layers, again from the hourly sums: per operator the mean
-- over its polls of the hour, summed over the operators.
WITH hour AS (SELECT date_trunc('hour', %(polled_at)s::timestamptz) AS h),
per AS (
    SELECT s.operator, s.district, s.zone_id,
           s.standing::float8 / p.polls AS standing, s.outside::float8 / p.polls AS outside,
           p.polls
    FROM scooter_hourly s
    JOIN scooter_hourly_polls p USING (hour, operator)
    WHERE s.hour = (SELECT h FROM hour)
),
gone_d AS (DELETE FROM parking_disorder WHERE hour = (SELECT h FROM hour)),
gone_k AS (DELETE FROM key_section_occupancy WHERE hour = (SELECT h FROM hour)),
districts_now AS (
    INSERT INTO parking_disorder (geom, district, hour, polls, vehicles, outside_parking,
                                  share_outside)
    SELECT d.geom, d.name_en, (SELECT h FROM hour), max(per.polls), sum(per.standing),
           sum(per.outside),
           CASE WHEN sum(per.standing) > 0 THEN sum(per.outside) / sum(per.standing) END
    FROM per JOIN districts d ON d.name_en = per.district
    GROUP BY d.geom, d.name_en
    RETURNING 1
)
INSERT INTO key_section_occupancy (geom, section, zone_id, district, hour, polls, vehicles,
                                   outside_parking)
SELECT z.geom, z.name, z.id, z.district, (SELECT h FROM hour),
       (SELECT max(p.polls) FROM scooter_hourly_polls p WHERE p.hour = (SELECT h FROM hour)),
       coalesce(sum(per.standing), 0), coalesce(sum(per.outside), 0)
FROM scooter_zones z
LEFT JOIN per ON per.zone_id = z.id
WHERE z.kind = 'key_section'
GROUP BY z.geom, z.name, z.id, z.district

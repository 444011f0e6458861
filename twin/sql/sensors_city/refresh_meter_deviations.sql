-- Facilities whose meter deviates, by the minimum night flow rule: for each of the nights
-- ending at %(ends)s (05:00 UTC+5, i.e. midnight UTC), the lowest flow of the 4 hours before
-- (01:00-05:00 local) over the mean flow of the 24 hours before; a facility deviates when
-- every night with data (at least %(min_night)s readings at night and %(min_day)s over 20
-- hours or more of the day) is above %(threshold)s.
WITH meters AS (
    SELECT d.id, t.feature_id::bigint AS facility, p.name AS provider,
           nullif(d.unit_of_measurement ->> 'symbol', '') AS unit
    FROM sta_datastreams d
    JOIN sta_things t ON t.id = d.thing_id
    LEFT JOIN sta_providers p ON p.id = t.provider_id
    WHERE t.layer = 'utility_facilities' AND d.result_kind = 'number'
      AND t.feature_id ~ '^[0-9]+$'
), nights AS (
    SELECT m.id, m.facility, m.provider, m.unit, e.night_end,
           min(o.result_number) FILTER (
               WHERE o.phenomenon_time >= e.night_end - interval '4 hours') AS night_min,
           count(*) FILTER (
               WHERE o.phenomenon_time >= e.night_end - interval '4 hours') AS night_n,
           avg(o.result_number) AS day_mean,
           count(*) AS day_n,
           max(o.phenomenon_time) - min(o.phenomenon_time) AS day_span
    FROM meters m
    CROSS JOIN unnest(%(ends)s::timestamptz[]) AS e(night_end)
    JOIN sta_observations o ON o.datastream_id = m.id
         AND o.phenomenon_time >= e.night_end - interval '24 hours'
         AND o.phenomenon_time < e.night_end
    GROUP BY m.id, m.facility, m.provider, m.unit, e.night_end
), judged AS (
    SELECT *, night_min / nullif(day_mean, 0) AS ratio
    FROM nights
    WHERE night_n >= %(min_night)s AND day_n >= %(min_day)s AND day_span >= interval '20 hours'
), flagged AS (
    SELECT facility, provider, unit,
           count(*) AS nights,
           min(night_end) - interval '4 hours' AS since,
           (array_agg(night_min ORDER BY night_end DESC))[1] AS night_min,
           (array_agg(day_mean ORDER BY night_end DESC))[1] AS day_mean,
           (array_agg(ratio ORDER BY night_end DESC))[1] AS ratio
    FROM judged
    GROUP BY facility, provider, unit
    HAVING bool_and(ratio > %(threshold)s)
)
INSERT INTO meter_deviations (geom, facility_id, name, network, provider, district, night_min,
                              day_mean, night_ratio, threshold, nights, unit, since)
SELECT f.geom, f.id, f.name, f.network, fl.provider, f.district, round(fl.night_min::numeric, 2),
       round(fl.day_mean::numeric, 2), round(fl.ratio::numeric, 3), %(threshold)s, fl.nights,
       fl.unit, fl.since
FROM flagged fl
JOIN utility_facilities f ON f.id = fl.facility;

-- Air quality by district from the PM2.5 Datastreams (ObservedProperty %(pm25)s): now is the
-- mean of the sensors' latest values of the last hour before %(now)s, then the 24-hour mean and
-- maximum of their Observations, against the %(baseline)s µg/m³ baseline and %(norm)s norm.
WITH air AS (
    SELECT d.id, t.district, d.latest_number, d.latest_time
    FROM sta_datastreams d
    JOIN sta_things t ON t.id = d.thing_id
    JOIN sta_observed_properties op ON op.id = d.observed_property_id
    WHERE op.definition = %(pm25)s AND d.result_kind = 'number'
), day AS (
    SELECT a.district, avg(o.result_number) AS mean, max(o.result_number) AS peak
    FROM air a
    JOIN sta_observations o ON o.datastream_id = a.id
    WHERE o.phenomenon_time > %(now)s::timestamptz - interval '24 hours'
      AND o.phenomenon_time <= %(now)s
    GROUP BY a.district
), now AS (
    SELECT district,
           count(*) FILTER (WHERE latest_time > %(now)s::timestamptz - interval '1 hour')
               AS sensors,
           avg(latest_number) FILTER (WHERE latest_time > %(now)s::timestamptz - interval '1 hour')
               AS pm25,
           max(latest_time) AS observed_at
    FROM air GROUP BY district
)
INSERT INTO district_air_quality (geom, district, sensors, pm25_now, pm25_24h, pm25_max_24h,
                                  baseline, daily_norm, over_baseline, exceeds_baseline,
                                  exceeds_daily_norm, observed_at)
SELECT ST_Multi(d.geom), d.name_en, coalesce(n.sensors, 0), round(n.pm25::numeric, 1),
       round(day.mean::numeric, 1), day.peak, %(baseline)s, %(norm)s,
       round((day.mean / %(baseline)s - 1)::numeric, 3), day.mean > %(baseline)s,
       day.mean > %(norm)s, n.observed_at
FROM districts d
LEFT JOIN now n ON n.district = d.name_en
LEFT JOIN day ON day.district = d.name_en;

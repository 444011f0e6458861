-- The "now" figures of /indicators: lit share of street length (lit by the network and no
-- lamp reported off at night), the city's PM2.5 now (sensors of the last hour), meters
-- deviating, each with its time.
WITH streets_now AS (
    SELECT sum(s.length_m) AS total,
           sum(s.length_m) FILTER (WHERE s.lit) AS lit,
           sum(s.length_m) FILTER (WHERE s.lit AND f.street_id IS NOT NULL) AS faulty
    FROM streets s LEFT JOIN lamp_faults f ON f.street_id = s.id
), lamps AS (
    SELECT max(d.latest_time) AS at
    FROM sta_datastreams d JOIN sta_things t ON t.id = d.thing_id
    WHERE t.layer = 'utility_lines' AND d.result_kind = 'boolean'
), air AS (
    SELECT avg(d.latest_number) FILTER (WHERE d.latest_time > %(now)s::timestamptz
                                        - interval '1 hour') AS pm25,
           count(*) FILTER (WHERE d.latest_time > %(now)s::timestamptz - interval '1 hour') AS n,
           max(d.latest_time) AS at
    FROM sta_datastreams d
    JOIN sta_observed_properties op ON op.id = d.observed_property_id
    WHERE op.definition = %(pm25)s
), meters AS (
    SELECT count(*) AS n, max(since) AS since FROM meter_deviations
)
SELECT s.total, s.lit, coalesce(s.faulty, 0), (SELECT count(*) FROM lamp_faults), lamps.at,
       air.pm25, air.n, air.at, meters.n
FROM streets_now s, lamps, air, meters;

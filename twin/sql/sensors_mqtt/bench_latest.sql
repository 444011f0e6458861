-- The raw SQL peer of the latest values of the demo's lamps (`twin bench sensors`).
SELECT id, latest_time, latest_json
  FROM sta_datastreams
 WHERE properties -> 'simulation' ->> 'kind' = 'lamp'

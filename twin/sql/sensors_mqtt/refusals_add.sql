-- Add the bridge's refused messages of the last second, by reason, with the latest example.
INSERT INTO sta_mqtt_refusals (reason, n, last_at, last_topic, last_detail)
VALUES (%(reason)s, %(n)s, now(), %(topic)s, %(detail)s)
ON CONFLICT (reason) DO UPDATE
   SET n = sta_mqtt_refusals.n + EXCLUDED.n,
       last_at = EXCLUDED.last_at,
       last_topic = EXCLUDED.last_topic,
       last_detail = EXCLUDED.last_detail

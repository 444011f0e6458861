-- The bridge's state and its refusals by reason (GET /sta/v1.1/mqtt-status, `twin sensors stats`).
-- A bridge that has not written its state for 5 s (its server stopped) is not connected.
SELECT (SELECT row_to_json(b)
          FROM (SELECT broker, connected AND updated_at > now() - interval '5 seconds'
                       AS connected,
                       since, received, ingested, refused, published, reconnects, updated_at
                  FROM sta_mqtt_bridge WHERE id = 1) b) AS bridge,
       coalesce((SELECT json_agg(r ORDER BY r.n DESC, r.reason) FROM sta_mqtt_refusals r),
                '[]'::json) AS refusals

-- The leading bridge's state, about every second (counts add the deltas since the last write).
INSERT INTO sta_mqtt_bridge AS b
       (id, broker, connected, since, received, ingested, refused, published, reconnects,
        updated_at)
VALUES (1, %(broker)s, %(connected)s, %(since)s, %(received)s, %(ingested)s, %(refused)s,
        %(published)s, %(reconnects)s, now())
ON CONFLICT (id) DO UPDATE
   SET broker = EXCLUDED.broker,
       connected = EXCLUDED.connected,
       since = EXCLUDED.since,
       received = b.received + EXCLUDED.received,
       ingested = b.ingested + EXCLUDED.ingested,
       refused = b.refused + EXCLUDED.refused,
       published = b.published + EXCLUDED.published,
       reconnects = b.reconnects + EXCLUDED.reconnects,
       updated_at = now()

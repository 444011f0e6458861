-- A twin's broker started in this directory: its accounts follow the keys from now on.
INSERT INTO sta_mqtt_brokers (directory) VALUES (%(directory)s)
ON CONFLICT (directory) DO UPDATE SET started_at = now()

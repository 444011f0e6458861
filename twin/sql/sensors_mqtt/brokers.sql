-- The directories of the twin's brokers serving this database.
SELECT directory FROM sta_mqtt_brokers ORDER BY directory

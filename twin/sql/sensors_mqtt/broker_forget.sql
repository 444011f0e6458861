-- A broker directory that is gone (a bench's or a test's temporary broker).
DELETE FROM sta_mqtt_brokers WHERE directory = %(directory)s

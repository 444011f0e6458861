-- The twin's own MQTT broker requires a password (twin/sensors/broker.py, docs/sensors.md):
-- a sensor key is also an MQTT account (user name: its key id; password: the whole key).
-- mqtt_hash is mosquitto's PBKDF2-SHA512 hash of the key, made when the key is (the key is
-- shown once and kept hashed), so the broker's password file can be written again from the
-- database whenever the broker starts or a key is added or revoked.
ALTER TABLE sta_keys ADD COLUMN IF NOT EXISTS mqtt_hash text;

-- The twin's brokers that serve this database (their directories on this host): a key added
-- or revoked, or a Datastream made, rewrites their password file and ACL and reloads them.
CREATE TABLE IF NOT EXISTS sta_mqtt_brokers (
    directory  text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now()
);

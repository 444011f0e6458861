"""Live sensors: the OGC SensorThings API 1.1 entities of the twin (docs/sensors.md).

store.py creates, changes and deletes entities; ingest.py takes Observations in (every path:
HTTP, MQTT, the simulator); keys.py says who may write; retention.py down-samples and drops
old raw data; routes.py is the HTTP write side, cli.py `twin sensors`.
"""

API_ROOT = "/sta/v1.1"

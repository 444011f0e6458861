"""OGC API Processes plugins. Each entry: process id -> dotted path of its pygeoapi processor."""

PROCESSES: dict[str, str] = {}

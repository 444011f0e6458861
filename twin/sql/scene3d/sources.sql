-- Data version and provenance of the layers a scene is made of (for caching and attribution).
SELECT name, version, source, licence, synthetic
FROM twin_layers
WHERE name = ANY(%(names)s)
ORDER BY name

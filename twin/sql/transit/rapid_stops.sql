-- Where riders board rapid transit (metro stations, BRT stops): the catchment gap's sources.
SELECT ST_X(geom), ST_Y(geom) FROM transit_stops WHERE mode = ANY(%(modes)s)

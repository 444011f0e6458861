-- Street segments as WKB lines in metres (UTM 43N), for the roads crossing avalanche zones.
SELECT ST_AsBinary(ST_Transform(geom, 32643)) FROM streets

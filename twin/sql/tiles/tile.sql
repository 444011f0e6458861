-- One vector tile: the layers' MVT parts concatenated (each part is tiles/layer_mvt), one statement.
SELECT {layers} AS mvt

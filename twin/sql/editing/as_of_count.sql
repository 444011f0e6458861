SELECT count(*) FROM twin_layer_as_of(%(layer)s, %(instant)s) a WHERE {bbox_filter}

SELECT count(*) FROM twin_layers

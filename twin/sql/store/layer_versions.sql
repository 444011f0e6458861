SELECT name, version FROM twin_layers

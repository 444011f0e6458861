-- The data version an import (or an undo) left the layer at.
INSERT INTO twin_import_layer_versions (layer, version)
SELECT name, version FROM twin_layers WHERE name = %(layer)s
ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version

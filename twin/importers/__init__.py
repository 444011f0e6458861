"""Importers: real data into the twin's layers (vector files through OGR, OpenStreetMap
extracts, elevation models), each validated against the catalog and loaded in one transaction
through `twin.store.write_layer`."""

"""Tiles of the twin: OGC API Tiles (MVT) for every catalog layer and for all of them at once,
generalised by zoom and cached on disk by data version; Terrarium raster-dem tiles and the
terrain coverage. Routes: twin/tiles/routes.py; seeding: `twin tiles seed`."""

"""Map (raster) tiles and OGC API Maps: the viewer's style drawn server-side by MapLibre Native."""

-- Where each feature was before a change: a GiST index on the geometry of the history's
-- `previous` images (GeoJSON as twin_row_image keeps it; parsed with SRID 4326, the numbers
-- of the layer's own storage SRID). A dated tile of a versioned layer (`?datetime=` on
-- plots, buildings...) then finds the changed features of its tile through the index
-- (features/as_of_changed) instead of parsing every image changed since the instant, so its
-- cost follows the edits in the tile, not the edits in the city.
CREATE INDEX IF NOT EXISTS twin_history_previous_geom ON twin_history
    USING gist ((ST_GeomFromGeoJSON(previous -> 'geom')))
    WHERE previous IS NOT NULL;

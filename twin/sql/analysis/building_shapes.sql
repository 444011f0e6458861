SELECT id, plot_cadastral_number, use, seismic_status, year_built, district, stock,
       ST_AsBinary(geom) AS wkb
FROM buildings
ORDER BY id

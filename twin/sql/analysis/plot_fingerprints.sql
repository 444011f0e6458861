-- One digest per plot of everything the analysis reads from it (the refresher compares them
-- with those of the analysis in memory to find the plots an edit changed).
SELECT id, md5(ST_AsEWKB(geom) || convert_to(concat_ws('|', cadastral_number, land_use, zoning,
                                                      district, residents, area_m2), 'UTF8'))
FROM plots

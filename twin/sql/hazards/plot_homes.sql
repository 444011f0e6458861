-- The plots with residents, at their box centre in lon/lat (the fire reach snaps it to the
-- nearest street node: the centre is as good as a point on surface there, and cheaper).
SELECT residents, district,
       (ST_XMin(geom) + ST_XMax(geom)) / 2, (ST_YMin(geom) + ST_YMax(geom)) / 2
FROM plots WHERE residents > 0

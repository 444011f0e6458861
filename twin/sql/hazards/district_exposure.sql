-- Exposure by district (after zone_parts): residents of plots whose point on surface is in a
-- mudflow zone, of them in a protected zone, in an avalanche zone; schools, hospitals and
-- clinics, gathering points in a mudflow zone and buildings in an avalanche zone, counted in
-- the district they stand in. One row per district with its outline (WKB, lon/lat).
-- Joined from the zones' side through the layers' spatial indexes: only the few places near a
-- zone are tested, so the cost follows the zones, not the city's 227 thousand plots.
WITH plot_hit AS (
    SELECT
        p.id,
        bool_or(z.hazard = 'mudflow') AS mudflow,
        bool_or(z.hazard = 'mudflow' AND z.protected) AS protected,
        bool_or(z.hazard = 'avalanche') AS avalanche
    FROM hazard_parts z
    JOIN plots p ON ST_Intersects(z.geom, p.geom)
        AND ST_Intersects(z.geom, ST_PointOnSurface(p.geom))
    GROUP BY p.id
), by_plot AS (
    SELECT
        p.district,
        sum(coalesce(p.residents, 0)) AS residents,
        sum(coalesce(p.residents, 0)) FILTER (WHERE h.mudflow) AS mudflow_residents,
        sum(coalesce(p.residents, 0)) FILTER (WHERE h.protected) AS mudflow_protected,
        sum(coalesce(p.residents, 0)) FILTER (WHERE h.avalanche) AS avalanche_residents
    FROM plots p LEFT JOIN plot_hit h ON h.id = p.id
    GROUP BY p.district
), site_hit AS (
    SELECT CASE WHEN a.kind = 'school' THEN 'school' ELSE 'hospital' END AS what, a.id,
           a.geom, z.hazard
    FROM hazard_parts z
    JOIN amenities a ON ST_Intersects(z.geom, a.geom)
    WHERE a.kind IN ('school', 'hospital', 'clinic')
    UNION  -- a place once per hazard, however many zone parts it touches
    SELECT 'gathering_point', g.id, g.geom, z.hazard
    FROM hazard_parts z JOIN gathering_points g ON ST_Intersects(z.geom, g.geom)
    UNION
    SELECT 'building', b.id, ST_PointOnSurface(b.geom), z.hazard
    FROM hazard_parts z
    JOIN buildings b ON ST_Intersects(z.geom, b.geom)
        AND ST_Intersects(z.geom, ST_PointOnSurface(b.geom))
    WHERE z.hazard = 'avalanche'
), by_site AS (
    SELECT
        d.name_en AS district,
        count(*) FILTER (WHERE h.hazard = 'mudflow' AND h.what = 'school') AS mudflow_schools,
        count(*) FILTER (WHERE h.hazard = 'mudflow' AND h.what = 'hospital')
            AS mudflow_hospitals,
        count(*) FILTER (WHERE h.hazard = 'mudflow' AND h.what = 'gathering_point')
            AS mudflow_gathering_points,
        count(*) FILTER (WHERE h.hazard = 'avalanche' AND h.what = 'building')
            AS avalanche_buildings
    FROM site_hit h JOIN districts d ON ST_Within(h.geom, d.geom)
    GROUP BY d.name_en
)
SELECT
    d.name_en AS district,
    coalesce(p.residents, 0),
    coalesce(p.mudflow_residents, 0),
    coalesce(p.mudflow_protected, 0),
    coalesce(s.mudflow_schools, 0),
    coalesce(s.mudflow_hospitals, 0),
    coalesce(s.mudflow_gathering_points, 0),
    coalesce(p.avalanche_residents, 0),
    coalesce(s.avalanche_buildings, 0),
    ST_AsBinary(d.geom)
FROM districts d
LEFT JOIN by_plot p ON p.district = d.name_en
LEFT JOIN by_site s ON s.district = d.name_en
ORDER BY d.name_en

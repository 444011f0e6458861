-- Residents per plot when the plots carry none: each district's population spread over its
-- residential floor area (mixed use counts half), plot by plot.
WITH floor AS (
    SELECT p.id, p.district,
           sum(b.floor_area_m2 * CASE b.use WHEN 'residential' THEN 1.0 ELSE 0.5 END) AS area
    FROM plots p
    JOIN buildings b ON b.plot_cadastral_number = p.cadastral_number
    WHERE b.use IN ('residential', 'mixed') AND b.floor_area_m2 > 0
    GROUP BY p.id, p.district
), share AS (
    SELECT f.id, f.area / sum(f.area) OVER (PARTITION BY f.district) AS fraction, f.district
    FROM floor f
)
SELECT s.id, round(s.fraction * d.population)::bigint AS residents
FROM share s
JOIN districts d ON d.name_en = s.district

-- A plan's changed H3 cells published in the layer plan_cells (rows as a JSON array; the
-- hexagon outline as WKT, worked out by h3 in twin.plans.store).
INSERT INTO plan_cells (plan, h3, district, residents_base, residents_plan, categories_15_base,
                        categories_15_plan, delta, all_six_base, all_six_plan, walkability_base,
                        walkability_plan, park_walk_m_base, park_walk_m_plan, geom)
SELECT %(plan)s, c.h3, c.district, c.residents_base, c.residents_plan, c.categories_15_base,
       c.categories_15_plan, c.categories_15_plan - c.categories_15_base, c.all_six_base,
       c.all_six_plan, c.walkability_base, c.walkability_plan, c.park_walk_m_base,
       c.park_walk_m_plan, ST_GeomFromText(c.wkt, 4326)
FROM jsonb_to_recordset(%(cells)s::jsonb) AS c(
    h3 text, district text, residents_base bigint, residents_plan bigint,
    categories_15_base bigint, categories_15_plan bigint, all_six_base boolean,
    all_six_plan boolean, walkability_base double precision, walkability_plan double precision,
    park_walk_m_base double precision, park_walk_m_plan double precision, wkt text)

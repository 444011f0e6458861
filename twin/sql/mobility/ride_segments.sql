-- The walkable street segments as a rider sees them (twin/mobility/micromobility.py): class,
-- and the earliest bike-lane plan that covers the segment. A lane covers a segment when at
-- least %(cover)s of the segment's length lies within %(reach_m)s metres of lanes of that plan
-- or an earlier one (lanes drawn on the street's own line or beside it on a separate track).
-- Plans are ranked by their order in %(statuses)s: 0 the first (built), 1 the next, ...;
-- rank NULL: no lane.
WITH lanes AS MATERIALIZED (  -- each lane's reach, once
    SELECT array_position(%(statuses)s::text[], status) - 1 AS rank,
           ST_Expand(geom, %(reach_deg)s) AS box,
           ST_Buffer(ST_Transform(geom, 32643), %(reach_m)s) AS zone
    FROM bike_lanes
    WHERE status = ANY(%(statuses)s::text[])
),
covered AS (
    SELECT s.id, l.rank,
           ST_Length(ST_Intersection(ST_Transform(s.geom, 32643), l.zone)) AS metres
    FROM lanes l
    JOIN streets s
      ON s.geom && l.box
     AND s.walkable AND s.source_node <> s.target_node
),
by_rank AS (  -- metres covered by the lanes of each plan and every earlier one
    SELECT id, rank, sum(sum(metres)) OVER (PARTITION BY id ORDER BY rank) AS metres
    FROM covered
    GROUP BY id, rank
),
ranked AS (
    SELECT b.id, min(b.rank) AS rank
    FROM by_rank b JOIN streets s ON s.id = b.id
    WHERE b.metres >= %(cover)s * s.length_m
    GROUP BY b.id
)
SELECT s.source_node, s.target_node, s.highway, r.rank
FROM streets s LEFT JOIN ranked r ON r.id = s.id
WHERE s.walkable AND s.source_node <> s.target_node

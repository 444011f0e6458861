-- A plan's published cells removed (before new ones, on delete, or when it turns private).
DELETE FROM plan_cells WHERE plan = %(id)s

-- A plan deleted: its row goes (plan_history keeps every version), its cells too.
DELETE FROM plans WHERE id = %(id)s

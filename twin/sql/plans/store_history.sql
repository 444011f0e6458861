-- Every change of a plan, newest first (kept after the plan is deleted).
SELECT version, action, author, at, snapshot
FROM plan_history WHERE plan = %(id)s
ORDER BY change_id DESC
LIMIT %(limit)s

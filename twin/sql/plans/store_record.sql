-- One change of a plan in its history, with the plan as it is after the change.
INSERT INTO plan_history (plan, version, action, author, snapshot)
VALUES (%(plan)s, %(version)s, %(action)s, %(author)s, %(snapshot)s)

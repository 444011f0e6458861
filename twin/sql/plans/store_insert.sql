-- A new plan (twin.plans.store.create_plan); the caller records it in plan_history.
INSERT INTO plans (title, description, author, private, mode, edits, base_version, status)
VALUES (%(title)s, %(description)s, %(author)s, %(private)s, %(mode)s, %(edits)s,
        %(base_version)s, %(status)s)
RETURNING id, title, description, author, private, mode, edits, version, created, updated,
       base_version, status, failure, evaluation, evaluated_at, evaluated_version

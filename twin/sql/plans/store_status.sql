-- A plan's evaluation status set (pending: an evaluation is on its way).
UPDATE plans SET status = %(status)s WHERE id = %(id)s AND version = %(version)s

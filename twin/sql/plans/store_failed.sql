-- An evaluation that failed, with the reason, if the plan is still at that version.
UPDATE plans SET status = 'failed', failure = %(failure)s
WHERE id = %(id)s AND version = %(version)s

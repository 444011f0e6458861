-- Whether some session holds the advisory lock (space, key): the two-integer form is stored
-- as classid, objid with objsubid 2.
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND objsubid = 2
                 AND classid::bigint = %(space)s AND objid::bigint = %(key)s)

-- Rows of a synthetic layer no import added, in the demo scope of an import (its key among the
-- demo values, or all when there are none): the demo's own, and those editors added or changed.
SELECT count(*) FILTER (WHERE NOT s.edited), count(*) FILTER (WHERE s.edited)
FROM (SELECT {edited} AS edited
      FROM {table} AS t
      WHERE (%(demo_values)s::text[] IS NULL OR {key} = ANY(%(demo_values)s::text[]))
        AND NOT EXISTS (SELECT 1 FROM twin_import_rows r
                        WHERE r.layer = %(layer)s AND r.feature_id = t.id)) AS s

-- The demo's rows an import supersedes: in a layer still marked synthetic (the demo parameter),
-- the rows `twin load demo` wrote and nobody changed since (demo_row.sql) of what the file
-- brings (the key is e.g. the category/kind of an amenity; no demo values: the whole layer).
%(demo)s
AND (%(demo_values)s::text[] IS NULL OR {key} = ANY(%(demo_values)s::text[]))
AND {demo_row}

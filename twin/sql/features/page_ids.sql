-- The ids of one page in order, and (when `matched` is the window count) how many the query
-- matches in all: the count rides on the same scan that picks them (a bbox or filter page
-- reads every match anyway to order them), so an exact numberMatched costs no second scan.
    SELECT t.id, {matched} AS matched
    FROM {table} AS t
    WHERE {where}
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s

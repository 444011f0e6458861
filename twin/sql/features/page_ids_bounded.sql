-- The ids of one page of a selection, with its exact number of matches, when there are at
-- most %(bound)s - 1 matches: the matches are read once, without order and at most %(bound)s
-- of them (so a large selection stops early), counted by a window and ordered for the page.
-- When `matched` reaches the bound the selection is larger and the page is not used
-- (twin.features.pages asks the planner and reads the page in order).
    SELECT t.id, count(*) OVER () AS matched
    FROM (SELECT {columns} FROM {table} AS t WHERE {where} LIMIT %(bound)s) AS t
    ORDER BY {order}
    LIMIT %(limit)s OFFSET %(offset)s

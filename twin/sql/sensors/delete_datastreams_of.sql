DELETE FROM sta_datastreams WHERE {column} = %(id)s

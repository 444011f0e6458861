SELECT count(*) FROM {table} AS t WHERE ({bbox_filter})

{key} || coalesce(to_json(t.{column})::text, 'null')

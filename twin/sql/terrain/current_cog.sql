SELECT cog FROM terrain_models WHERE id = %(id)s

DELETE FROM scooter_operators WHERE name = %(name)s RETURNING name

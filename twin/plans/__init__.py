"""Plans: named, stored sets of edits to the city (amenities, parks, housing, streets,
buildings), evaluated by the same engine that computes today's city and compared with it."""

-- The key sections' scooters standing by hour of a day [from, to) (layer key_section_occupancy,
-- from the GBFS polls: docs/scooters.md), to show beside their trips.
SELECT zone_id, hour, vehicles, outside_parking
FROM key_section_occupancy
WHERE hour >= %(from)s AND hour < %(to)s

-- Places (schools, kindergartens) and daily visits (clinics) of the stored amenities.
SELECT id, kind, capacity
FROM amenities
WHERE capacity IS NOT NULL

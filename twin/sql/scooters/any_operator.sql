SELECT 1 FROM scooter_operators LIMIT 1

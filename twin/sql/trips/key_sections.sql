SELECT id, name, district FROM scooter_zones WHERE kind = 'key_section' ORDER BY name

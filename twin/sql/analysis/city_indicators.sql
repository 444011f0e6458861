SELECT details -> 'city', details -> 'computed', changed_at
FROM twin_layers WHERE name = 'district_indicators'

-- What the last hazard publish was computed from (provenance of district_hazards).
SELECT details FROM twin_layers WHERE name = 'district_hazards'

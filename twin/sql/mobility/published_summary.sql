-- The city's figures, the targets and the input versions of the last `twin analyse`.
SELECT details, changed_at FROM twin_layers WHERE name = 'district_mobility_safety'

"""The demo city: a deterministic, synthetic Almaty calibrated to the city's own figures.

`twin load demo --scale small|city|metro [--seed N] [--base DIR]` builds every catalog layer and the
terrain from the figures in almaty.yml (each with its source) and writes them through
twin.store.write_layer, marked synthetic. Modules follow the city: layout (outline, districts,
polycentres), relief (terrain), fabric (streets, blocks), land (plots, buildings, residents),
green (parks), hazards (faults, seismic microzones), services (amenities, transit),
networks (utility lines and facilities); generator.py puts them together.
"""

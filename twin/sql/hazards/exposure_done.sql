DROP TABLE IF EXISTS hazard_parts

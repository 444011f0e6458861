SELECT to_regclass('twin_history') IS NOT NULL

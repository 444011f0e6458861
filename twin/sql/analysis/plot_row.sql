SELECT id, cadastral_number, land_use, zoning, max_height_m, owner_type, district, block_code,
       area_m2, residents
FROM plots WHERE id = %(plot_id)s

-- The schools, clinics and transit hubs without a camera within 50 m, as published.
SELECT site_layer, site_id, kind, name, district, nearest_camera_m FROM camera_gaps
ORDER BY site_layer, site_id

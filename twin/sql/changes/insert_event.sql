-- One change event; its key makes writing it again a no-op (refreshes are idempotent).
INSERT INTO change_events (happened_at, layer, feature_id, district, kind, subject, count, quantity, unit,
                           title_en, title_ru, title_kk, synthetic, change_id, event_key, geom)
VALUES (%(happened_at)s, %(layer)s, %(feature_id)s, %(district)s, %(kind)s, %(subject)s, %(count)s,
        %(quantity)s, %(unit)s, %(title_en)s, %(title_ru)s, %(title_kk)s, %(synthetic)s,
        %(change_id)s, %(event_key)s,
        ST_PointOnSurface(ST_SetSRID(ST_GeomFromGeoJSON(%(geom)s), 4326)))
ON CONFLICT (event_key) DO NOTHING

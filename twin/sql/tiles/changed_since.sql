-- Has a versioned layer changed after an instant? If not, the layer as of any time from then on
-- is the layer as it is: a dated tile is the undated one (the same bytes, its cache too) -
-- unless some feature's own time (the layer's `temporal:`) begins after the window's end:
-- {not_begun} (FALSE for a layer without one).
SELECT EXISTS (SELECT 1 FROM twin_history
               WHERE layer = %(layer)s AND changed_at > %(since)s::timestamptz)
    OR {not_begun}

-- What an import's (or an undo's) changes are called in the feature history: not an editor's
-- change, so the demo rows an undo puts back are still the demo's.
SELECT set_config('twin.operation', %(operation)s, true)

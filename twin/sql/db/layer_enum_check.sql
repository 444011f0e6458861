-- A property's catalog values as its column's CHECK, replaced whenever the catalog's values
-- change (ADD COLUMN IF NOT EXISTS keeps an existing column's old check): a database made
-- before a value was added takes the new value after `twin migrate`.
ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint};
ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({column} IN ({values}))

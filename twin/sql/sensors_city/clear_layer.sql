-- Empty a derived sensor layer before it is written again (in the same transaction).
DELETE FROM {table}

DROP TRIGGER IF EXISTS twin_history_insert ON {table};
CREATE TRIGGER twin_history_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION twin_record_history();
DROP TRIGGER IF EXISTS twin_history_update ON {table};
CREATE TRIGGER twin_history_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION twin_record_history();
DROP TRIGGER IF EXISTS twin_history_delete ON {table};
CREATE TRIGGER twin_history_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION twin_record_history();
DROP TRIGGER IF EXISTS twin_history_truncate ON {table};
CREATE TRIGGER twin_history_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION twin_record_truncate();

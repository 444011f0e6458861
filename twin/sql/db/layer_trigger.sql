DROP TRIGGER IF EXISTS twin_version ON {table};
CREATE TRIGGER twin_version AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION twin_bump_version();
DROP TRIGGER IF EXISTS twin_version_truncate ON {table};
CREATE TRIGGER twin_version_truncate AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION twin_bump_version();

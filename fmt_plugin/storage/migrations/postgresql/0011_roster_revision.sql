-- 0011 A counter that moves with every change of the patients table, kept by triggers so
-- that every writer (sync, import, another instance) moves it.
-- PostgreSQL translation of ../0011_roster_revision.sql: the three triggers keep their
-- SQLite names and, like SQLite's, fire once per row. The function is pinned to the schema
-- it is created in (SET search_path FROM CURRENT): a session whose search_path names
-- another practice, or none, still moves this practice's counter and no other.

CREATE TABLE table_revisions (
    name text PRIMARY KEY,
    revision bigint NOT NULL
);
INSERT INTO table_revisions (name, revision) VALUES ('patients', 0);

CREATE FUNCTION patients_revision_bump() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE table_revisions SET revision = revision + 1 WHERE name = 'patients';
    RETURN NULL;
END;
$$;

CREATE TRIGGER patients_revision_insert AFTER INSERT ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_revision_bump();
CREATE TRIGGER patients_revision_update AFTER UPDATE ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_revision_bump();
CREATE TRIGGER patients_revision_delete AFTER DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION patients_revision_bump();

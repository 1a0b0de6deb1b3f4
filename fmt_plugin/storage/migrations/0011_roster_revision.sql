-- 0011 A counter that moves with every change of the patients table, kept by triggers so that
-- every writer (sync, import, another process) moves it. The dashboard reads one row to know
-- whether its copy of the roster is current, instead of scanning 20,000 patients per page.

CREATE TABLE table_revisions (
    name TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
);
INSERT INTO table_revisions (name, revision) VALUES ('patients', 0);

CREATE TRIGGER patients_revision_insert AFTER INSERT ON patients BEGIN
    UPDATE table_revisions SET revision = revision + 1 WHERE name = 'patients';
END;
CREATE TRIGGER patients_revision_update AFTER UPDATE ON patients BEGIN
    UPDATE table_revisions SET revision = revision + 1 WHERE name = 'patients';
END;
CREATE TRIGGER patients_revision_delete AFTER DELETE ON patients BEGIN
    UPDATE table_revisions SET revision = revision + 1 WHERE name = 'patients';
END;

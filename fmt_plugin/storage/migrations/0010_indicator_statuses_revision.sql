-- 0010 Every replacement of a patient's statuses gets a number never used before, so that the
-- dashboard, which keeps the statuses of the whole practice in memory, re-reads only the rows
-- written since it last looked. A plain rowid can be reused when the newest row is replaced;
-- AUTOINCREMENT never reuses one.

CREATE TABLE indicator_statuses_new (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id TEXT NOT NULL UNIQUE,
    evaluated_on TEXT NOT NULL,
    payload BLOB NOT NULL
);
INSERT INTO indicator_statuses_new (patient_id, evaluated_on, payload)
    SELECT patient_id, evaluated_on, payload FROM indicator_statuses ORDER BY rowid;
DROP TABLE indicator_statuses;
ALTER TABLE indicator_statuses_new RENAME TO indicator_statuses;

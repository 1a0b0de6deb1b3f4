-- 0002 practice overrides: the practice's decisions for one patient and one indicator.
-- Which indicator a patient refused or is excluded from is health data, so everything but
-- the internal patient id lives in `payload`, AES-256-GCM ciphertext of a JSON object
-- (indicator, kind, author, recorded_on, reason, date, expires) bound to this table, the
-- override id, the patient id and the column. Rows are never deleted: revoking one sets
-- `revoked_at` and `revoked_by`, so the history of decisions stays auditable.

CREATE TABLE overrides (
    override_id INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (patient_id),
    payload BLOB NOT NULL,
    created_at TEXT,
    revoked_at TEXT,
    revoked_by TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE INDEX overrides_patient_id ON overrides (patient_id);

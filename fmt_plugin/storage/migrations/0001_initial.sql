-- 0001 initial schema: store metadata, the patient roster and the audit chain.
-- Patient content lives only in `identity`, AES-256-GCM ciphertext of Patient.to_dict()
-- as JSON; `ins_index` is an HMAC blind index, so an INS can be looked up, not read.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

CREATE TABLE patients (
    patient_id TEXT PRIMARY KEY,
    ins_index BLOB,
    identity BLOB NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT,
    updated_at TEXT
);

CREATE INDEX patients_ins_index ON patients (ins_index);

-- Append-only: mac = HMAC(audit_key, prev_mac || canonical JSON of the entry).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    prev_mac BLOB NOT NULL,
    mac BLOB NOT NULL
);

-- The authenticated last entry: deleting the tail of audit_log cannot go unnoticed.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER,
    mac BLOB,
    head_mac BLOB
);

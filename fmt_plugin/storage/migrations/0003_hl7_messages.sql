-- 0003 HL7 v2 messages and the clinical events extracted from them.
-- A message is stored once, raw, as AES-256-GCM ciphertext (`raw`) in the transaction that
-- stores its events, before it is acknowledged. `sender` (MSH-3^MSH-4: an application and a
-- facility, not a person) and `control_id` (MSH-10) stay in clear: they are what logs and
-- ACKs carry. `digest` is an HMAC blind index of the content, so a resent copy is recognised
-- without the content ever being readable. A message that could not be integrated is kept
-- with state 'quarantined' and its reason (no health data) until it is replayed.

CREATE TABLE hl7_messages (
    message_id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    control_id TEXT NOT NULL,
    digest BLOB NOT NULL,
    message_type TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('mllp', 'import')),
    received_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('accepted', 'quarantined')),
    ack_code TEXT NOT NULL CHECK (ack_code IN ('AA', 'AE', 'AR')),
    error_code INTEGER,
    error_location TEXT,
    application_error TEXT,
    reason TEXT,
    patient_id TEXT,
    replayed_at TEXT,
    duplicates INTEGER NOT NULL DEFAULT 0,
    origin BLOB,
    raw BLOB NOT NULL
);

CREATE UNIQUE INDEX hl7_messages_identity ON hl7_messages (digest, sender, control_id);
CREATE INDEX hl7_messages_state ON hl7_messages (state);

-- One lab result (OBX) or vaccination (RXA). `event_key` is an HMAC blind index of what
-- identifies the observation across messages (patient, order, code, sub-id), so that a
-- corrected result supersedes the earlier one and a withdrawal retracts it. Which code a
-- patient was tested for is health data: it lives in `payload` only.
CREATE TABLE clinical_events (
    event_id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES hl7_messages (message_id),
    patient_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lab_result', 'vaccination')),
    event_key BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('current', 'superseded', 'withdrawn')),
    replaced_by INTEGER REFERENCES clinical_events (event_id),
    payload BLOB NOT NULL
);

CREATE INDEX clinical_events_patient ON clinical_events (patient_id, state);
CREATE INDEX clinical_events_key ON clinical_events (event_key, state);

-- 0004 the recall outbox: one row per recall message, and the identities of its items.
-- A message is what one channel delivers to one patient; its content (audience and items:
-- indicators, labels, cycles, steps, statuses, due dates) is AES-256-GCM ciphertext bound to
-- this table, the recall id, the patient id and the column. Which indicator a patient is
-- recalled for is health data (`suivi_hba1c` says "diabetic"), so no indicator is in clear:
-- the delivery state (ids, state, channel names, counters, dates, an error reason without
-- patient data) is all that is readable, and it is what logs and the audit carry.
-- Rows are never deleted, so MAX(recall_id) + 1 under the write lock is a safe new id.

CREATE TABLE recall_messages (
    recall_id INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients (patient_id),
    state TEXT NOT NULL CHECK (
        state IN ('planned', 'sending', 'sent', 'failed', 'dead', 'uncertain')
    ),
    -- The channel of the latest attempt, and the JSON list of the channels that rejected
    -- this message for good: never tried again for it until a person asks for a retry.
    channel TEXT,
    rejected_channels TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- ISO 8601 UTC with microseconds everywhere, so text order is time order.
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    last_error TEXT,
    -- RFC 5322 Message-ID, the same on every attempt.
    message_id TEXT NOT NULL UNIQUE,
    content BLOB NOT NULL,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);

-- The delivery query (planned, or failed and due) and the per-patient history.
CREATE INDEX recall_messages_due ON recall_messages (state, next_attempt_at);
CREATE INDEX recall_messages_patient ON recall_messages (patient_id);

-- One row per recall item: its identity (patient, indicator, cycle, step) is created once.
-- The required UNIQUE (patient_id, indicator, cycle, step) is kept as UNIQUE (item_key), an
-- HMAC blind index of those four values: equal identities collide as they should, while the
-- indicator stays unreadable. The indicator, cycle and step themselves are read back from
-- the message's encrypted content, which holds exactly the items recorded here.
CREATE TABLE recall_items (
    item_id INTEGER PRIMARY KEY,
    recall_id INTEGER NOT NULL REFERENCES recall_messages (recall_id),
    patient_id TEXT NOT NULL,
    item_key BLOB NOT NULL UNIQUE
);

CREATE INDEX recall_items_recall ON recall_items (recall_id);

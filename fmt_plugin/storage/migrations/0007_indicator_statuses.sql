-- 0007 The last known status of every indicator of each patient, so that a change can be told
-- to adapters (`fmt_status_changed`). Which indicators a patient is due or late for is health
-- data: one AES-GCM encrypted payload per patient (indicator → status and due date).

CREATE TABLE indicator_statuses (
    patient_id TEXT PRIMARY KEY,
    evaluated_on TEXT NOT NULL,
    payload BLOB NOT NULL
);

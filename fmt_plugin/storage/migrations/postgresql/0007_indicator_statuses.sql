-- 0007 The last known status of every indicator of each patient (one encrypted payload per
-- patient). PostgreSQL translation of ../0007_indicator_statuses.sql; 0010 replaces it.

CREATE TABLE indicator_statuses (
    patient_id text PRIMARY KEY,
    evaluated_on text NOT NULL,
    payload bytea NOT NULL
);

-- 0013 A message holds its events: one ciphertext per message (a JSON list of its events).
-- PostgreSQL translation of ../0013_message_events.sql. On SQLite, rows that earlier versions
-- left in clinical_events are packed into their message when the store is next opened; a
-- PostgreSQL store is always created new by this code, so there is nothing to pack and the
-- columns and partial indexes are all there is to this step.

ALTER TABLE hl7_messages ADD COLUMN first_event_id bigint;
ALTER TABLE hl7_messages ADD COLUMN event_count bigint NOT NULL DEFAULT 0;
ALTER TABLE hl7_messages ADD COLUMN events bytea;
CREATE INDEX hl7_messages_patient_events ON hl7_messages (patient_id, first_event_id)
    WHERE first_event_id IS NOT NULL;
CREATE INDEX hl7_messages_first_event ON hl7_messages (first_event_id)
    WHERE first_event_id IS NOT NULL;

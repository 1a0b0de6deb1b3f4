-- 0013 A message holds its events: one ciphertext per message (a JSON list of its events),
-- instead of one row per event with its own ciphertext, blind index and two indexes, and an
-- UPDATE of the earlier versions on the acknowledgement's path. Event ids stay: a message's
-- events are numbered first_event_id, first_event_id + 1, ... in the order of its segments.
-- Which version of an observation is current (superseded, withdrawn) is worked out where the
-- events are read, from that order. Rows of clinical_events left by earlier versions are
-- moved into their message when the store is next opened (it needs the key), then the table
-- stays empty.
ALTER TABLE hl7_messages ADD COLUMN first_event_id INTEGER;
ALTER TABLE hl7_messages ADD COLUMN event_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hl7_messages ADD COLUMN events BLOB;
CREATE INDEX hl7_messages_patient_events ON hl7_messages (patient_id, first_event_id)
    WHERE first_event_id IS NOT NULL;
CREATE INDEX hl7_messages_first_event ON hl7_messages (first_event_id)
    WHERE first_event_id IS NOT NULL;

-- 0008 Quarantined messages the practice discarded as junk (a test message, a result sent to
-- the wrong practice): `state` stays 'quarantined' and the message is kept whole and
-- encrypted, as every message is, but it no longer waits for a replay and is not counted
-- among the quarantined. `discarded_by` is who discarded it (the practice's staff or the
-- account that ran the command, never patient data). Both stay NULL for any other message.

ALTER TABLE hl7_messages ADD COLUMN discarded_at TEXT;
ALTER TABLE hl7_messages ADD COLUMN discarded_by TEXT;

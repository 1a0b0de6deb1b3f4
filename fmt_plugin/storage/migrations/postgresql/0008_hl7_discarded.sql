-- 0008 Quarantined messages the practice discarded as junk: when and by whom (staff, never
-- patient data). PostgreSQL translation of ../0008_hl7_discarded.sql.

ALTER TABLE hl7_messages ADD COLUMN discarded_at text;
ALTER TABLE hl7_messages ADD COLUMN discarded_by text;

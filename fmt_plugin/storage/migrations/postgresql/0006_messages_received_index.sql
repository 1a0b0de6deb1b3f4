-- 0006 An index on the reception time, for the status endpoint's count of today's messages.
-- PostgreSQL translation of ../0006_messages_received_index.sql.

CREATE INDEX hl7_messages_received ON hl7_messages (received_at);

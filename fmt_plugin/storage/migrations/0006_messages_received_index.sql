-- 0006 The status endpoint counts today's messages: an index on the reception time keeps that
-- query from scanning every message ever received (it runs on the store's own thread, between
-- commits that senders are waiting for).

CREATE INDEX hl7_messages_received ON hl7_messages (received_at);

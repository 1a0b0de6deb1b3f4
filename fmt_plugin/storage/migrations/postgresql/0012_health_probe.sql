-- 0012 One row the running service rewrites to prove that the store still commits (/health).
-- PostgreSQL translation of ../0012_health_probe.sql. A single row, always id 1: no identity.

CREATE TABLE health_probe (
    id bigint PRIMARY KEY CHECK (id = 1),
    written_at text NOT NULL
);

-- 0012 One row the running service rewrites, at most every few seconds, to prove that the
-- store still commits: /health answers 503 when it cannot (disk full, read-only file system).
-- It holds a time only, never patient data.

CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    written_at TEXT NOT NULL
);

-- 0009 The practice's local accounts, for the dashboard (issue 15): who may log in, with which
-- role, and the lock-out state after failed logins. `password_hash` is an argon2id encoded
-- hash (salt and parameters inside), never the password. No patient data here: names are the
-- staff's logins. Every change is in the audit log.

CREATE TABLE user_accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('medecin', 'assistant', 'admin')),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);

-- 0009 The practice's local accounts for the dashboard; `password_hash` is an argon2id
-- encoded hash, never the password. PostgreSQL translation of ../0009_user_accounts.sql.

CREATE TABLE user_accounts (
    name text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('medecin', 'assistant', 'admin')),
    password_hash text NOT NULL,
    created_at text NOT NULL,
    disabled_at text,
    failed_logins bigint NOT NULL DEFAULT 0,
    locked_until text
);

"""The practice's local accounts: roles, password hashing, log-in with lock-out."""

"""Dashboard sessions: random tokens, kept hashed in memory, ended by idleness or log-out.

The browser holds the token in an HttpOnly, SameSite=Strict cookie; the server keeps only its
SHA-256, so a memory dump or a debug print of the table gives nobody a usable cookie. A
session lives in the service's memory: a restart logs everyone out, which is what a practice
expects of health software. Each session carries its own CSRF token for the forms it shows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fmt_plugin.accounts.roles import Role

COOKIE_NAME = "fmt_session"
#: Session tokens and CSRF tokens: 256 bits from the OS's generator.
TOKEN_BYTES = 32


@dataclass
class Session:
    """Who is logged in, since when, and the CSRF token their forms carry."""

    account: str
    role: Role
    started_at: datetime
    last_seen: datetime
    #: A digest of the account's password hash at log-in: a new password ends the session.
    credential: str = ""
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(TOKEN_BYTES))
    #: What the user typed in a list's search box, kept here rather than in the URL.
    list_search: dict[str, str] = field(default_factory=dict)

    def csrf_matches(self, token: str | None) -> bool:
        """True when `token` is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token, self.csrf_token)


class SessionStore:
    """The open sessions of the dashboard, keyed by the hash of their token."""

    def __init__(self, idle_timeout: timedelta) -> None:
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, Session] = {}

    def open(
        self, account: str, role: Role, *, now: datetime, password_hash: str = ""
    ) -> str:
        """A new session for `account`; returns the token for the cookie."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._sessions[_digest(token)] = Session(
            account, role, now, now, credential=credential_of(password_hash)
        )
        return token

    def get(self, token: str | None, *, now: datetime) -> Session | None:
        """The live session of `token` (its idle clock restarted), None when unknown or idle."""
        if not token:
            return None
        key = _digest(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        if now - session.last_seen > self.idle_timeout:
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    def close(self, token: str | None) -> None:
        """End the session of `token`, if any."""
        if token:
            self._sessions.pop(_digest(token), None)

    def close_account(self, account: str) -> None:
        """End every session of `account` (it was disabled or its password changed)."""
        for key, session in list(self._sessions.items()):
            if session.account.lower() == account.lower():
                del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)


def credential_of(password_hash: str) -> str:
    """What a session remembers of the password hash (a digest, not the hash itself)."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()

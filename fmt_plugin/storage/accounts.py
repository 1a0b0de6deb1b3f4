"""The `user_accounts` table: the practice's logins, their roles and lock-out state.

Every change is audited in the same transaction (who did it, which account), never the
password nor its hash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from fmt_plugin.accounts.roles import Role
from fmt_plugin.errors import UsageError
from fmt_plugin.storage.audit import AuditLog


class AccountError(UsageError):
    """An account command names an account that does not exist, or one that already does."""


@dataclass(frozen=True)
class Account:
    """One login of the practice (never the password: only its argon2 hash)."""

    name: str
    role: Role
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None
    failed_logins: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """True while a lock-out after failed log-ins runs."""
        return self.locked_until is not None and now < self.locked_until


_COLUMNS = (
    "name, role, password_hash, created_at, disabled_at, failed_logins, locked_until"
)


class UserAccounts:
    """Add, read and change accounts; each change audited as `actor`."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        audit: AuditLog,
        write: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._conn = conn
        self._audit = audit
        self._write = write

    def add(
        self, name: str, role: Role, password_hash: str, *, actor: str, now: datetime
    ) -> Account:
        """A new account; AccountError when the name is taken (names compare case-blind)."""
        if self.find(name) is not None:
            raise AccountError(f"le compte « {name} » existe déjà")
        with self._write():
            self._conn.execute(
                f"INSERT INTO user_accounts ({_COLUMNS})"  # noqa: S608 -- constant columns
                " VALUES (?, ?, ?, ?, NULL, 0, NULL)",
                (name, str(role), password_hash, now.isoformat()),
            )
            self._audit.append(
                actor=actor,
                action="user.add",
                target=name,
                detail=f"role={role}",
                at=now,
            )
        return self.get(name)

    def find(self, name: str) -> Account | None:
        """The account of this login (case-blind), or None."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM user_accounts"  # noqa: S608 -- constant columns
            " WHERE lower(name) = lower(?)",
            (name,),
        ).fetchone()
        return _account(row) if row else None

    def get(self, name: str) -> Account:
        """The account of this login; AccountError naming the accounts otherwise."""
        account = self.find(name)
        if account is None:
            known = ", ".join(a.name for a in self.all()) or "aucun"
            raise AccountError(f"compte « {name} » inconnu (comptes : {known})")
        return account

    def all(self) -> list[Account]:
        """Every account, by name."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM user_accounts"  # noqa: S608 -- constant columns
            " ORDER BY lower(name)"
        ).fetchall()
        return [_account(row) for row in rows]

    def set_password(
        self, name: str, password_hash: str, *, actor: str, now: datetime
    ) -> None:
        """A new password (and the lock-out lifted: whoever sets it knows the person)."""
        account = self.get(name)
        self._update(
            account.name,
            "password_hash = ?, failed_logins = 0, locked_until = NULL",
            (password_hash,),
            audit=("user.password", actor, now),
        )

    def disable(self, name: str, *, actor: str, now: datetime) -> None:
        """The account can no longer log in; it stays, so the audit log keeps its meaning."""
        account = self.get(name)
        self._update(
            account.name,
            "disabled_at = ?",
            (now.isoformat(),),
            audit=("user.disable", actor, now),
        )

    def enable(self, name: str, *, actor: str, now: datetime) -> None:
        """A disabled account may log in again."""
        account = self.get(name)
        self._update(
            account.name, "disabled_at = NULL", (), audit=("user.enable", actor, now)
        )

    def unlock(self, name: str, *, actor: str, now: datetime) -> None:
        """Lift a lock-out before it ends."""
        account = self.get(name)
        self._update(
            account.name,
            "failed_logins = 0, locked_until = NULL",
            (),
            audit=("user.unlock", actor, now),
        )

    def record_failure(
        self,
        name: str,
        failed_logins: int,
        locked_until: datetime | None,
        *,
        now: datetime,
    ) -> None:
        """A failed log-in: the new count, and the lock-out it triggered (audited then)."""
        audit = ("user.locked", f"login:{name}", now) if locked_until else None
        self._update(
            name,
            "failed_logins = ?, locked_until = ?",
            (failed_logins, locked_until.isoformat() if locked_until else None),
            audit=audit,
        )

    def record_success(
        self, name: str, *, now: datetime, password_hash: str | None = None
    ) -> None:
        """A log-in: the failures forgotten; a hash made with old parameters replaced."""
        sets = "failed_logins = 0, locked_until = NULL"
        values: tuple[object, ...] = ()
        if password_hash is not None:
            sets, values = sets + ", password_hash = ?", (password_hash,)
        self._update(name, sets, values, audit=("user.login", f"login:{name}", now))

    def _update(
        self,
        name: str,
        sets: str,
        values: tuple[object, ...],
        *,
        audit: tuple[str, str, datetime] | None,
    ) -> None:
        with self._write():
            self._conn.execute(
                # `sets` is one of this module's constant clauses; values are bound.
                f"UPDATE user_accounts SET {sets} WHERE name = ?",  # noqa: S608
                (*values, name),
            )
            if audit is not None:
                action, actor, at = audit
                self._audit.append(actor=actor, action=action, target=name, at=at)


def _account(row: tuple[object, ...]) -> Account:
    name, role, password_hash, created, disabled, failed, locked = row
    return Account(
        name=str(name),
        role=Role(str(role)),
        password_hash=str(password_hash),
        created_at=datetime.fromisoformat(str(created)),
        disabled_at=datetime.fromisoformat(str(disabled)) if disabled else None,
        failed_logins=int(str(failed)),
        locked_until=datetime.fromisoformat(str(locked)) if locked else None,
    )

"""Log-in with throttling: a password checked, failures counted, the account locked a while.

Pure policy (`LoginPolicy.after_failure`) and one function that applies it to the store, so
the dashboard's log-in page and the tests share the same rules. The refusal says as little as
possible: a wrong password and an unknown name read the same, and take the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fmt_plugin.accounts.passwords import password_matches, upgraded_hash
from fmt_plugin.errors import FmtError
from fmt_plugin.storage.accounts import Account, UserAccounts


class LoginRefused(FmtError):
    """A log-in was refused; `reason` is for the audit and tests, the message for the user."""

    def __init__(self, message: str, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


WRONG_CREDENTIALS = "identifiant ou mot de passe incorrect"


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed log-ins in a row lock an account, and for how long."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)

    def after_failure(
        self, failed_logins: int, now: datetime
    ) -> tuple[int, datetime | None]:
        """The failure count after one more, and the end of the lock-out it triggers."""
        failed = failed_logins + 1
        if failed >= self.max_failures:
            return failed, now + self.lockout
        return failed, None


def log_in(
    accounts: UserAccounts,
    name: str,
    password: str,
    *,
    now: datetime,
    policy: LoginPolicy = LoginPolicy(),
) -> Account:
    """The account, when `password` is its own and it may log in; LoginRefused otherwise."""
    account = accounts.find(name)
    if account is not None and account.locked(now):
        raise LoginRefused(
            "compte verrouillé après plusieurs essais : réessayez plus tard "
            "ou demandez à l'administrateur de le déverrouiller",
            "locked",
        )
    matches = password_matches(account.password_hash if account else None, password)
    if account is None:
        raise LoginRefused(WRONG_CREDENTIALS, "unknown")
    if not matches:
        failed, locked_until = policy.after_failure(account.failed_logins, now)
        accounts.record_failure(account.name, failed, locked_until, now=now)
        raise LoginRefused(WRONG_CREDENTIALS, "wrong_password")
    if account.disabled_at is not None:
        raise LoginRefused("compte désactivé : voyez l'administrateur", "disabled")
    accounts.record_success(
        account.name,
        now=now,
        password_hash=upgraded_hash(account.password_hash, password),
    )
    return accounts.get(account.name)

"""Passwords hashed with argon2id (argon2-cffi), never stored nor logged in clear.

argon2-cffi's defaults follow RFC 9106's second recommended profile; `needs_rehash` lets a
log-in upgrade a hash made under older parameters.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fmt_plugin.errors import UsageError

#: ANSSI's recommendation for a password protecting health data, without other factor.
MIN_LENGTH = 12

_HASHER = PasswordHasher()
#: Verified against when the account does not exist, so that an unknown name takes as long
#: as a wrong password and the log-in page does not tell which names exist.
_DECOY_HASH = _HASHER.hash("fmt-plugin: no such account")


class WeakPasswordError(UsageError):
    """A new password does not meet the minimum length."""


def check_new_password(password: str) -> None:
    """Refuse a password shorter than MIN_LENGTH characters (the message never repeats it)."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(
            f"mot de passe trop court : au moins {MIN_LENGTH} caractères"
        )


def hash_password(password: str) -> str:
    """The argon2id encoded hash of a password that passed `check_new_password`."""
    check_new_password(password)
    return _HASHER.hash(password)


def password_matches(encoded: str | None, password: str) -> bool:
    """True when `password` is the one `encoded` was made from; None: an unknown account."""
    try:
        return _HASHER.verify(encoded or _DECOY_HASH, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def upgraded_hash(encoded: str, password: str) -> str | None:
    """A new hash of the (just verified) password when `encoded` used weaker parameters."""
    if _HASHER.check_needs_rehash(encoded):
        return _HASHER.hash(password)
    return None

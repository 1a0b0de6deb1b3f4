"""Local accounts: roles, argon2 password hashes, log-in with lock-out, on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import raw

from fmt_plugin.accounts.login import LoginPolicy, LoginRefused, log_in
from fmt_plugin.accounts.passwords import (
    WeakPasswordError,
    hash_password,
    password_matches,
)
from fmt_plugin.accounts.roles import Role
from fmt_plugin.rules.model import OverrideKind
from fmt_plugin.storage.accounts import AccountError
from fmt_plugin.storage.keys import KeyRing
from fmt_plugin.storage.store import Store
from fmt_plugin.timezone import PARIS

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=PARIS)
PASSWORD = "correct-horse-battery"


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    with Store.create(store_path, keyring, actor="test") as opened:
        yield opened


@pytest.fixture
def doctor(store: Store) -> str:
    store.accounts.add(
        "drmartin", Role.MEDECIN, hash_password(PASSWORD), actor="test", now=NOW
    )
    return "drmartin"


# --- roles ------------------------------------------------------------------------------------


def test_only_the_doctor_records_a_medical_exclusion():
    """The assistant cannot record an exclusion; the IT provider records no decision."""
    assert Role.MEDECIN.may_record(OverrideKind.EXCLUSION)
    assert not Role.ASSISTANT.may_record(OverrideKind.EXCLUSION)
    assert not Role.ADMIN.may_record(OverrideKind.EXCLUSION)


def test_the_assistant_records_refusals_postponements_and_done_elsewhere():
    """What is said at the desk or on the phone, the assistant may record."""
    for kind in (OverrideKind.REFUS, OverrideKind.REPORT, OverrideKind.FAIT_AILLEURS):
        assert Role.ASSISTANT.may_record(kind)


def test_only_the_admin_manages_accounts():
    """Neither the doctor nor the assistant adds or unlocks accounts."""
    assert [r for r in Role if r.may_manage_accounts] == [Role.ADMIN]


# --- passwords --------------------------------------------------------------------------------


def test_a_password_is_stored_as_an_argon2id_hash_only(store, doctor, store_path):
    """The store holds `$argon2id$…`, never the password."""
    with raw(store_path) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM user_accounts").fetchone()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert password_matches(stored, PASSWORD)


def test_a_short_password_is_refused_without_being_repeated():
    """Twelve characters at least; the message does not echo the password."""
    with pytest.raises(WeakPasswordError) as caught:
        hash_password("tropcourt")
    assert "12" in str(caught.value)
    assert "tropcourt" not in str(caught.value)


def test_two_hashes_of_one_password_differ():
    """A salt per hash: equal passwords do not show in the table."""
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


# --- accounts ---------------------------------------------------------------------------------


def test_an_account_name_is_unique_whatever_its_case(store, doctor):
    """`DrMartin` is `drmartin`: a second account of that name is refused."""
    with pytest.raises(AccountError, match="existe déjà"):
        store.accounts.add(
            "DrMartin", Role.ASSISTANT, hash_password(PASSWORD), actor="t", now=NOW
        )


def test_every_account_change_is_audited_without_the_password(
    store, doctor, store_path
):
    """add, disable, enable, unlock: audit entries naming the account, never the secret."""
    store.accounts.disable(doctor, actor="cli:it", now=NOW)
    store.accounts.enable(doctor, actor="cli:it", now=NOW)
    store.accounts.unlock(doctor, actor="cli:it", now=NOW)
    with raw(store_path) as conn:
        rows = conn.execute(
            "SELECT action, target, coalesce(detail, '') FROM audit_log"
            " WHERE action LIKE 'user.%' ORDER BY seq"
        ).fetchall()
    assert [r[0] for r in rows] == [
        "user.add",
        "user.disable",
        "user.enable",
        "user.unlock",
    ]
    assert {r[1] for r in rows} == {"drmartin"}
    assert all(PASSWORD not in r[2] and "argon2" not in r[2] for r in rows)
    assert store.verify_audit().ok


# --- log-in -----------------------------------------------------------------------------------


def test_the_right_password_logs_in_and_is_audited(store, doctor, store_path):
    """A log-in returns the account and leaves a `user.login` entry."""
    account = log_in(store.accounts, "DRMARTIN", PASSWORD, now=NOW)
    assert account.name == "drmartin"
    with raw(store_path) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_log")]
    assert actions[-1] == "user.login"


def test_a_wrong_password_and_an_unknown_name_read_the_same(store, doctor):
    """The page must not tell which names exist."""
    with pytest.raises(LoginRefused) as wrong:
        log_in(store.accounts, doctor, "not-the-password", now=NOW)
    with pytest.raises(LoginRefused) as unknown:
        log_in(store.accounts, "nobody", PASSWORD, now=NOW)
    assert str(wrong.value) == str(unknown.value)
    assert (wrong.value.reason, unknown.value.reason) == ("wrong_password", "unknown")


def test_five_failures_in_a_row_lock_the_account_even_for_the_right_password(
    store, doctor
):
    """After the 5th wrong password, the right one is refused for 15 minutes."""
    for _ in range(5):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW)
    with pytest.raises(LoginRefused) as caught:
        log_in(store.accounts, doctor, PASSWORD, now=NOW + timedelta(minutes=14))
    assert caught.value.reason == "locked"
    assert "verrouillé" in str(caught.value)


def test_the_lock_out_ends_after_its_time(store, doctor):
    """15 minutes later the right password logs in and the failures are forgotten."""
    for _ in range(5):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW)
    account = log_in(store.accounts, doctor, PASSWORD, now=NOW + timedelta(minutes=15))
    assert account.failed_logins == 0
    assert account.locked_until is None


def test_a_successful_log_in_resets_the_count_of_failures(store, doctor):
    """Four failures, a success, four failures: not locked."""
    for _ in range(4):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW)
    log_in(store.accounts, doctor, PASSWORD, now=NOW)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW)
    assert not store.accounts.get(doctor).locked(NOW)


def test_unlock_lifts_a_lock_out_at_once(store, doctor):
    """The administrator's unlock lets the right password in before the 15 minutes."""
    policy = LoginPolicy(max_failures=2)
    for _ in range(2):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW, policy=policy)
    store.accounts.unlock(doctor, actor="cli:it", now=NOW)
    assert (
        log_in(store.accounts, doctor, PASSWORD, now=NOW, policy=policy).name == doctor
    )


def test_a_disabled_account_cannot_log_in(store, doctor):
    """Disabled: refused, even with its password, and said so."""
    store.accounts.disable(doctor, actor="cli:it", now=NOW)
    with pytest.raises(LoginRefused) as caught:
        log_in(store.accounts, doctor, PASSWORD, now=NOW)
    assert caught.value.reason == "disabled"


def test_a_new_password_replaces_the_old_and_lifts_the_lock_out(store, doctor):
    """`passwd`: the old password no longer works, the new one does."""
    for _ in range(5):
        with pytest.raises(LoginRefused):
            log_in(store.accounts, doctor, "guess", now=NOW)
    store.accounts.set_password(
        doctor, hash_password("another-long-secret"), actor="cli:it", now=NOW
    )
    with pytest.raises(LoginRefused):
        log_in(store.accounts, doctor, PASSWORD, now=NOW)
    assert log_in(store.accounts, doctor, "another-long-secret", now=NOW).name == doctor

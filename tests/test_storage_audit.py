"""Tests of the HMAC hash-chain audit log, written through the store and tampered with raw SQL."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fmt_plugin.errors import AuditChainError
from fmt_plugin.model import Patient
from fmt_plugin.storage import KeyRing, Store, db
from fmt_plugin.storage.audit import AuditLog

ACTOR = "dr.test"
ROSTER = [
    Patient("P001", "csv", ins="185067512345642", nom="QUASIMODO", prenom="Ernestine"),
    Patient("P002", "csv", ins="290017512345611", nom="BARTLEBY", prenom="Hippolyte"),
]


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    """A store holding six audit entries: create, two adds, an update, a deactivate, admin."""
    with Store.create(store_path, keyring, actor=ACTOR) as opened:
        opened.sync_roster(ROSTER, actor=ACTOR)
        changed = Patient("P001", "csv", ins="185067512345642", nom="QUASIMODO")
        opened.sync_roster([changed], actor=ACTOR)
        opened.record_admin_action(actor=ACTOR, action="keys.rotate", detail="batch=1")
        yield opened


@pytest.fixture
def audit_conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A migrated connection for driving AuditLog directly."""
    conn = db.connect(tmp_path / "audit.sqlite", create=True)
    db.migrate(conn, tmp_path / "audit.sqlite")
    try:
        yield conn
    finally:
        conn.close()


def tamper(path: Path, sql: str) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(sql)


def entries(path: Path) -> list[tuple[int, str, str, str | None, str | None]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT seq, actor, action, target, detail FROM audit_log ORDER BY seq"
        ).fetchall()


def test_every_write_appends_an_entry(store, store_path):
    """Create, each add, update and deactivate, and the admin action are all audited."""
    assert entries(store_path) == [
        (1, ACTOR, "store.create", "fmt.sqlite", None),
        (2, ACTOR, "patient.add", "P001", None),
        (3, ACTOR, "patient.add", "P002", None),
        (4, ACTOR, "patient.update", "P001", "fields=prenom"),
        (5, ACTOR, "patient.deactivate", "P002", None),
        (6, ACTOR, "keys.rotate", None, "batch=1"),
    ]


def test_unchanged_patients_are_not_audited(store, store_path):
    """A sync that changes nothing appends no entry."""
    before = len(entries(store_path))
    store.sync_roster([store.get_patient("P001")], actor=ACTOR)
    assert len(entries(store_path)) == before


def test_audit_log_holds_no_patient_data(store, store_path):
    """The audit table carries ids and field names, never names or INS."""
    text = repr(entries(store_path))
    for person in ROSTER:
        assert person.ins is not None
        for secret in (person.nom, person.prenom, person.ins):
            assert secret not in text


def test_verify_ok_on_fresh_chain(store):
    """An untouched chain verifies, counting every entry."""
    report = store.verify_audit()
    assert (report.ok, report.entries, report.first_broken, report.reason) == (
        True,
        6,
        None,
        None,
    )


def test_verify_ok_on_empty_log(audit_conn):
    """A log with no entries and no head verifies."""
    report = AuditLog(audit_conn, os.urandom(32)).verify()
    assert (report.ok, report.entries) == (True, 0)


def test_edited_entry_3_reports_first_broken_3(store, store_path):
    """Changing the action of entry 3 with raw SQL breaks the chain exactly at 3."""
    tamper(store_path, "UPDATE audit_log SET action = 'patient.view' WHERE seq = 3")
    report = store.verify_audit()
    assert not report.ok
    assert report.first_broken == 3


def test_edited_timestamp_is_detected(store, store_path):
    """Back-dating entry 2 breaks the chain at 2."""
    tamper(
        store_path,
        "UPDATE audit_log SET at = '2000-01-01T00:00:00+00:00' WHERE seq = 2",
    )
    assert store.verify_audit().first_broken == 2


def test_deleted_last_entry_is_detected(store, store_path):
    """Removing the newest entry is reported, since the head still names it."""
    tamper(store_path, "DELETE FROM audit_log WHERE seq = 6")
    report = store.verify_audit()
    assert not report.ok
    assert report.first_broken == 6


def test_deleted_tail_and_head_is_detected(store, store_path):
    """Removing the newest entry and the head row is still reported."""
    tamper(store_path, "DELETE FROM audit_log WHERE seq = 6")
    tamper(store_path, "DELETE FROM audit_head")
    report = store.verify_audit()
    assert not report.ok


def test_deleted_middle_entry_is_detected(store, store_path):
    """Removing entry 4 from the middle reports 4 as the first broken entry."""
    tamper(store_path, "DELETE FROM audit_log WHERE seq = 4")
    report = store.verify_audit()
    assert not report.ok
    assert report.first_broken == 4


def test_forged_head_is_detected(store, store_path):
    """Rolling the head back to an earlier entry is reported."""
    tamper(
        store_path,
        "UPDATE audit_head SET seq = 5,"
        " mac = (SELECT mac FROM audit_log WHERE seq = 5)",
    )
    assert not store.verify_audit().ok


def test_append_refuses_to_extend_a_forged_head(store, store_path):
    """Writing after the head was tampered with raises AuditChainError."""
    tamper(store_path, "UPDATE audit_head SET seq = 5")
    with pytest.raises(AuditChainError):
        store.record_admin_action(actor=ACTOR, action="noop")


def test_verify_with_another_audit_key_fails_at_first_entry(audit_conn):
    """A chain written under one key does not verify under another."""
    with db.transaction(audit_conn):
        AuditLog(audit_conn, os.urandom(32)).append(actor=ACTOR, action="a")
    report = AuditLog(audit_conn, os.urandom(32)).verify()
    assert (report.ok, report.first_broken) == (False, 1)


def test_append_returns_consecutive_seqs(audit_conn):
    """Each append returns the next seq, starting at 1."""
    log = AuditLog(audit_conn, os.urandom(32))
    with db.transaction(audit_conn):
        seqs = [log.append(actor=ACTOR, action=f"a{i}") for i in range(3)]
    assert seqs == [1, 2, 3]


def test_append_stores_explicit_time_in_utc(audit_conn):
    """An aware timestamp in another zone is stored as its UTC ISO form."""
    log = AuditLog(audit_conn, os.urandom(32))
    paris_summer = timezone(timedelta(hours=2))
    at = datetime(2026, 3, 1, 14, 0, tzinfo=paris_summer)
    with db.transaction(audit_conn):
        log.append(actor=ACTOR, action="a", at=at)
    stored = audit_conn.execute("SELECT at FROM audit_log").fetchone()[0]
    assert stored == "2026-03-01T12:00:00.000000+00:00"


def test_append_refuses_naive_datetime(audit_conn):
    """A naive timestamp is refused: audit times are always UTC-aware."""
    log = AuditLog(audit_conn, os.urandom(32))
    with pytest.raises(ValueError, match="timezone-aware"):
        log.append(actor=ACTOR, action="a", at=datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001


def test_rolled_back_write_leaves_no_entry(audit_conn):
    """An entry appended in a transaction that rolls back is not kept."""
    log = AuditLog(audit_conn, os.urandom(32))

    def failing_write() -> None:
        with db.transaction(audit_conn):
            log.append(actor=ACTOR, action="a")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_write()
    assert audit_conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 0
    assert log.verify().ok

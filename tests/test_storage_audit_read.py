"""Reading the audit log back, newest first, a page at a time: what the dashboard's journal shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import raw

from fmt_plugin.model import Patient
from fmt_plugin.storage import KeyRing, Store
from fmt_plugin.storage.audit import MAX_ENTRIES

ACTOR = "dr.test"


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    """A store with 1 create, 2 patient adds and 10 `web.login` entries (seq 4 to 13)."""
    with Store.create(store_path, keyring, actor=ACTOR) as opened:
        opened.sync_roster(
            [
                Patient("P001", "csv", nom="QUASIMODO", prenom="Ernestine"),
                Patient("P002", "csv", nom="BARTLEBY", prenom="Hippolyte"),
            ],
            actor=ACTOR,
        )
        for n in range(10):
            opened.record_admin_action(
                actor=f"user{n}", action="web.login", detail=f"n={n}"
            )
        yield opened


def test_entries_come_newest_first_with_every_column(store):
    """The first page starts at the last entry and carries actor, action, target, detail."""
    first = store.audit_entries(limit=3)
    assert [e.seq for e in first] == [13, 12, 11]
    assert (first[0].actor, first[0].action, first[0].target, first[0].detail) == (
        "user9",
        "web.login",
        None,
        "n=9",
    )
    assert first[0].at is not None
    assert first[0].at.tzinfo is not None


def test_paging_before_a_seq_reaches_the_first_entry(store):
    """Asking before the last seq of each page walks the whole log exactly once."""
    seen: list[int] = []
    before = None
    while page := store.audit_entries(before_seq=before, limit=5):
        seen += [entry.seq for entry in page]
        before = page[-1].seq
    assert seen == list(range(13, 0, -1))


def test_entries_of_one_action_only(store):
    """`action` keeps that action's entries, still newest first and paged."""
    adds = store.audit_entries(action="patient.add")
    assert [(e.seq, e.target) for e in adds] == [(3, "P002"), (2, "P001")]
    logins = store.audit_entries(action="web.login", before_seq=6, limit=10)
    assert [e.seq for e in logins] == [5, 4]


def test_the_actions_present_are_listed_once_alphabetically(store):
    """The filter's choices: each action in the log, once."""
    assert store.audit_actions() == ["patient.add", "store.create", "web.login"]


def test_the_time_reads_back_as_the_stored_utc_instant(store, store_path):
    """`at` is the instant written in the row, timezone-aware."""
    with raw(store_path) as conn:
        (stored,) = conn.execute("SELECT at FROM audit_log WHERE seq = 13").fetchone()
    (entry,) = store.audit_entries(limit=1)
    assert entry.at == datetime.fromisoformat(stored)
    assert entry.at.utcoffset() == timedelta(0)


def test_a_hand_edited_time_is_read_as_unknown_not_an_error(store, store_path):
    """A row whose time is not a time is still listed (verify reports it), with no time."""
    with raw(store_path) as conn:
        conn.execute("UPDATE audit_log SET at = 'hier' WHERE seq = 13")
    (entry,) = store.audit_entries(limit=1)
    assert (entry.seq, entry.at) == (13, None)
    assert store.verify_audit().first_broken == 13


def test_reading_writes_nothing(store, store_path):
    """Reading pages and actions leaves the chain as it was, verified."""
    store.audit_entries(limit=5)
    store.audit_actions()
    report = store.verify_audit()
    assert (report.ok, report.entries) == (True, 13)


def test_limit_is_checked_and_capped(store):
    """A limit below 1 is a programming error; a huge one is capped at MAX_ENTRIES."""
    with pytest.raises(ValueError, match="limit"):
        store.audit_entries(limit=0)
    assert len(store.audit_entries(limit=MAX_ENTRIES * 10)) == 13

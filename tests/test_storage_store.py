"""Tests of the encrypted patient store on real SQLite files."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from conftest import raw

from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.model import Patient
from fmt_plugin.storage import KeyRing, Store, db, generate_key_file
from fmt_plugin.storage.store import SyncSummary

ACTOR = "test"


def patient(patient_id: str, **changes: object) -> Patient:
    base = Patient(
        patient_id=patient_id,
        source="csv",
        ins=f"2850675123{patient_id[-3:]}42",
        nom=f"ZYGOMATIQUE{patient_id}",
        prenom=f"Philomène{patient_id}",
        birth_date=date(1985, 6, 7),
        sex="F",
        ald=frozenset({8}),
        conditions=frozenset({"diabete"}),
        flags=frozenset({"ehpad"}),
        mssante=f"{patient_id.lower()}@patient.mssante.fr",
        telephone="0612345678",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


ROSTER = [patient("P001"), patient("P002"), patient("P003")]


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    with Store.create(store_path, keyring, actor=ACTOR) as opened:
        yield opened


def test_create_then_open(store_path, keyring):
    """A created store opens again with the same key ring and keeps its patients."""
    with Store.create(store_path, keyring, actor=ACTOR) as created:
        created.sync_roster(ROSTER, actor=ACTOR)
    with Store.open(store_path, keyring) as reopened:
        assert reopened.patient_ids() == ["P001", "P002", "P003"]


def test_create_refuses_existing_file(store, store_path, keyring):
    """Creating a store over an existing file raises StoreError naming it."""
    with pytest.raises(StoreError, match="existe déjà"):
        Store.create(store_path, keyring, actor=ACTOR)


def test_store_and_wal_files_are_private_even_with_umask_000(tmp_path, keyring):
    """The store file and the WAL SQLite makes beside it are mode 0600, whatever the umask."""
    path = tmp_path / "fmt.sqlite"
    old_umask = os.umask(0)
    try:
        with Store.create(path, keyring, actor=ACTOR) as created:
            created.sync_roster(ROSTER, actor=ACTOR)
            modes = {
                stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("fmt.sqlite*")
            }
    finally:
        os.umask(old_umask)
    assert modes == {0o600}


def test_open_with_another_key_file_raises(store, store_path, tmp_path):
    """Opening a store with a key ring it was not created with raises StoreError."""
    other = generate_key_file(tmp_path / "other-keys.json")
    with pytest.raises(StoreError, match="n'appartient pas"):
        Store.open(store_path, other)


def test_open_missing_file_raises_and_creates_nothing(store_path, keyring):
    """Opening a missing store raises StoreError pointing to init and leaves no file."""
    with pytest.raises(StoreError, match="fmt-plugin init"):
        Store.open(store_path, keyring)
    assert not store_path.exists()


def test_open_non_sqlite_file_raises(tmp_path, keyring):
    """Opening a file that is not SQLite raises StoreError, not a sqlite3 error."""
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a database " * 100)
    with pytest.raises(StoreError):
        Store.open(path, keyring)


def test_connection_is_wal_synchronous_full_with_foreign_keys(store, store_path):
    """The store's connection settings: WAL journal, synchronous FULL (2), foreign keys."""
    with closing(db.connect(store_path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_migrations_recorded_and_not_reapplied(store_path, keyring):
    """schema_migrations lists each migration once, with the same timestamp after a re-open."""
    Store.create(store_path, keyring, actor=ACTOR).close()
    with raw(store_path) as conn:
        before = conn.execute("SELECT * FROM schema_migrations").fetchall()
    Store.open(store_path, keyring).close()
    with raw(store_path) as conn:
        after = conn.execute("SELECT * FROM schema_migrations").fetchall()
    assert [row[:2] for row in before] == [
        (1, "initial"),
        (2, "overrides"),
        (3, "hl7_messages"),
        (4, "recall_outbox"),
        (5, "rate_snapshots"),
        (6, "messages_received_index"),
        (7, "indicator_statuses"),
        (8, "hl7_discarded"),
        (9, "user_accounts"),
        (10, "indicator_statuses_revision"),
        (11, "roster_revision"),
        (12, "health_probe"),
        (13, "message_events"),
    ]
    assert after == before


def test_database_newer_than_code_is_refused(store_path, keyring):
    """A store migrated by a newer fmt-plugin raises StoreError instead of being used."""
    Store.create(store_path, keyring, actor=ACTOR).close()
    with raw(store_path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00Z')"
        )
    with pytest.raises(StoreError, match="plus récent"):
        Store.open(store_path, keyring)


def test_split_statements_keeps_semicolons_inside_literals():
    """The migration splitter does not cut a statement at a quoted semicolon."""
    script = (
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n-- done;\nINSERT INTO t VALUES (1);"
    )
    assert db.split_statements(script) == [
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "-- done;\nINSERT INTO t VALUES (1);",
    ]


def test_first_sync_adds_every_patient(store):
    """Syncing into an empty store adds every patient of the batch."""
    summary = store.sync_roster(ROSTER, actor=ACTOR)
    assert summary == SyncSummary(added=3, updated=0, unchanged=0, deactivated=0)


def test_sync_counts_added_updated_unchanged_deactivated(store):
    """A second sync counts the new, changed, identical and missing patients."""
    store.sync_roster(ROSTER, actor=ACTOR)
    batch = [patient("P001"), patient("P002", telephone="0699999999"), patient("P004")]
    summary = store.sync_roster(batch, actor=ACTOR)
    assert summary == SyncSummary(
        added=1, updated=1, unchanged=1, deactivated=1, deactivated_ids=("P003",)
    )


def test_the_roster_revision_moves_with_each_change_and_only_then(store):
    """Added, changed, deactivated patients move it; an identical sync does not."""
    revisions = [store.roster_revision()]
    store.sync_roster(ROSTER, actor=ACTOR)
    revisions.append(store.roster_revision())
    store.sync_roster(ROSTER, actor=ACTOR)
    revisions.append(store.roster_revision())
    store.sync_roster([ROSTER[0], patient("P002", telephone="0699999999")], actor=ACTOR)
    revisions.append(store.roster_revision())
    first, added, identical, changed = revisions
    assert first < added == identical < changed


def test_deactivated_patient_is_kept_not_deleted(store):
    """A patient missing from the roster is inactive, still readable, never deleted."""
    store.sync_roster(ROSTER, actor=ACTOR)
    store.sync_roster(ROSTER[:2], actor=ACTOR)
    assert store.patient_ids() == ["P001", "P002"]
    assert store.patient_ids(active_only=False) == ["P001", "P002", "P003"]
    assert store.get_patient("P003") == ROSTER[2]


def test_returning_patient_is_reactivated(store):
    """A deactivated patient who reappears in the roster counts as updated and is active."""
    store.sync_roster(ROSTER, actor=ACTOR)
    store.sync_roster(ROSTER[:2], actor=ACTOR)
    summary = store.sync_roster(ROSTER, actor=ACTOR)
    assert summary == SyncSummary(added=0, updated=1, unchanged=2, deactivated=0)
    assert store.patient_ids() == ["P001", "P002", "P003"]


def test_duplicate_id_in_batch_is_refused_and_nothing_written(store):
    """A batch naming one patient id twice raises StoreError and writes nothing."""
    with pytest.raises(StoreError, match="P001"):
        store.sync_roster([patient("P001"), patient("P001", nom="X")], actor=ACTOR)
    assert store.patient_ids(active_only=False) == []


def test_get_patient_round_trip_equals_original(store):
    """A stored patient reads back equal to the Patient that was written."""
    store.sync_roster(ROSTER, actor=ACTOR)
    assert store.get_patient("P002") == ROSTER[1]


def test_get_patient_reads_the_update(store):
    """After an update, get_patient returns the new content."""
    store.sync_roster(ROSTER, actor=ACTOR)
    changed = patient("P001", nom="NOUVEAUNOM", ald=frozenset({8, 13}))
    store.sync_roster([changed, *ROSTER[1:]], actor=ACTOR)
    assert store.get_patient("P001") == changed


def test_get_unknown_patient_returns_none(store):
    """Asking for an id the store does not hold returns None."""
    assert store.get_patient("NOPE") is None


def test_iter_patients_yields_active_patients_in_id_order(store):
    """iter_patients decrypts the active patients, sorted by id."""
    store.sync_roster(list(reversed(ROSTER)), actor=ACTOR)
    store.sync_roster(ROSTER[1:], actor=ACTOR)
    assert list(store.iter_patients()) == ROSTER[1:]
    assert list(store.iter_patients(active_only=False)) == ROSTER


def test_find_patient_by_ins(store):
    """The blind index finds a patient by INS, whatever the spacing of the query."""
    store.sync_roster(ROSTER, actor=ACTOR)
    ins = ROSTER[1].ins
    assert ins is not None
    assert store.find_patient_ids_by_ins(ins) == ["P002"]
    spaced = f"{ins[:1]} {ins[1:3]} {ins[3:]}"
    assert store.find_patient_ids_by_ins(spaced) == ["P002"]
    assert store.find_patient_ids_by_ins("999999999999999") == []


def test_find_by_ins_returns_every_patient_sharing_it(store):
    """Two patients with one INS are both returned, so the caller sees the ambiguity."""
    twins = [
        patient("P001", ins="185067512345642"),
        patient("P002", ins="185067512345642"),
    ]
    store.sync_roster(twins, actor=ACTOR)
    assert store.find_patient_ids_by_ins("185067512345642") == ["P001", "P002"]


def test_patient_without_ins_is_stored_with_null_index(store, store_path):
    """A patient with no qualified INS is stored and has no blind index."""
    store.sync_roster([patient("P001", ins=None)], actor=ACTOR)
    with raw(store_path) as conn:
        assert conn.execute("SELECT ins_index FROM patients").fetchone() == (None,)
    assert store.get_patient("P001") == patient("P001", ins=None)


def test_no_patient_data_in_clear_in_db_or_wal(store, store_path):
    """After a sync, the DB file and its WAL contain no name, INS or contact in clear."""
    store.sync_roster(ROSTER, actor=ACTOR)
    wal = Path(f"{store_path}-wal")
    assert wal.exists()
    content = store_path.read_bytes() + wal.read_bytes()
    for person in ROSTER:
        assert person.ins is not None
        assert person.mssante is not None
        for secret in (person.nom, person.prenom, person.ins, person.mssante):
            assert secret.encode("utf-8") not in content
            assert secret.encode("utf-16-le") not in content
        assert b"0612345678" not in content
        assert b"1985-06-07" not in content


def test_ciphertext_copied_to_another_patient_fails(store, store_path):
    """Copying P001's encrypted identity into P002's row makes get_patient raise."""
    store.sync_roster(ROSTER, actor=ACTOR)
    with raw(store_path) as conn:
        conn.execute(
            "UPDATE patients SET identity ="
            " (SELECT identity FROM patients WHERE patient_id = 'P001')"
            " WHERE patient_id = 'P002'"
        )
    with pytest.raises(DecryptionError):
        store.get_patient("P002")


def test_undecryptable_row_makes_sync_fail_without_writing(store, store_path):
    """A sync that meets a tampered row raises DecryptionError and rolls everything back."""
    store.sync_roster(ROSTER, actor=ACTOR)
    with raw(store_path) as conn:
        conn.execute("UPDATE patients SET identity = x'00' WHERE patient_id = 'P003'")
    with pytest.raises(DecryptionError):
        store.sync_roster([*ROSTER, patient("P004")], actor=ACTOR)
    assert store.patient_ids() == ["P001", "P002", "P003"]


def test_store_repr_shows_only_the_path(store, store_path):
    """repr(Store) names the file and nothing else."""
    assert repr(store) == f"<Store {store_path}>"


def test_c2s_round_trips_through_the_encrypted_store(store):
    """A patient with the C2S reads back with `c2s` True."""
    store.sync_roster([patient("P001", c2s=True)], actor=ACTOR)
    assert store.get_patient("P001").c2s is True


class _PatientWrittenBeforeC2s(Patient):
    """A patient as fmt-plugin stored them before `c2s` existed (no such key)."""

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in super().to_dict().items() if k != "c2s"}


def test_record_written_before_c2s_existed_is_unchanged_by_the_next_sync(store):
    """A stored record without `c2s` equals the same patient synced with c2s False."""
    old = [_PatientWrittenBeforeC2s(**dataclasses.asdict(p)) for p in ROSTER]
    store.sync_roster(old, actor=ACTOR)
    summary = store.sync_roster(ROSTER, actor=ACTOR)
    assert (summary.updated, summary.unchanged) == (0, 3)

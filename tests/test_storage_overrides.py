"""Tests of the practice's per-patient overrides in the encrypted store, on real SQLite files."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import raw

from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.model import Patient
from fmt_plugin.rules.model import Override, OverrideKind
from fmt_plugin.storage import KeyRing, Store, db

ACTOR = "test"
REASON = "Coloscopie programmée au CHU, souhaite attendre le compte rendu"
AUTHOR = "Dr ÉPIPHANE-QUARTZ"


def patient(patient_id: str) -> Patient:
    return Patient(
        patient_id=patient_id,
        source="csv",
        ins=None,
        nom=f"NOM{patient_id}",
        prenom=f"Prénom{patient_id}",
        birth_date=date(1960, 1, 1),
        sex="F",
    )


def override(patient_id: str = "P001", **changes: object) -> Override:
    base = Override(
        patient_id=patient_id,
        indicator="dep_colorectal",
        kind=OverrideKind.EXCLUSION,
        author=AUTHOR,
        recorded_on=date(2021, 2, 17),
        reason=REASON,
        date=date(2020, 11, 23),
        expires=date(2023, 8, 9),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


ROSTER = [patient("P001"), patient("P002"), patient("P003")]


@pytest.fixture
def store(store_path: Path, keyring: KeyRing) -> Iterator[Store]:
    with Store.create(store_path, keyring, actor=ACTOR) as opened:
        opened.sync_roster(ROSTER, actor=ACTOR)
        yield opened


def audit_entries(path: Path) -> list[tuple[str, str, str | None]]:
    with raw(path) as conn:
        return conn.execute(
            "SELECT action, target, detail FROM audit_log ORDER BY seq"
        ).fetchall()


def test_new_store_has_the_overrides_migration(store):
    """A freshly created store has the overrides migration (2) and the later ones applied."""
    assert store.schema_version >= 2
    with raw(store.path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "overrides" in tables


def test_add_override_round_trips_every_field(store_path, keyring):
    """Every field of an override reads back equal after the store is closed and reopened."""
    with Store.create(store_path, keyring, actor=ACTOR) as created:
        created.sync_roster(ROSTER, actor=ACTOR)
        stored = created.add_override(override(), actor=ACTOR)
    with Store.open(store_path, keyring) as reopened:
        assert reopened.overrides() == [stored]
    assert stored == dataclasses.replace(override(), override_id=stored.override_id)


def test_add_override_round_trips_empty_optional_fields(store):
    """An override without reason, date or expiry reads back with them still empty."""
    bare = Override(
        patient_id="P002",
        indicator="vacc_grippe",
        kind=OverrideKind.REFUS,
        author=AUTHOR,
        recorded_on=date(2021, 2, 17),
    )
    stored = store.add_override(bare, actor=ACTOR)
    assert store.overrides() == [dataclasses.replace(bare, override_id=1)]
    assert stored.reason == ""
    assert stored.date is None
    assert stored.expires is None


def test_add_override_assigns_increasing_ids(store):
    """Each added override gets the next id, returned on the record it gives back."""
    first = store.add_override(override(), actor=ACTOR)
    second = store.add_override(override("P002"), actor=ACTOR)
    assert (first.override_id, second.override_id) == (1, 2)


def test_add_override_is_audited_by_id_only_and_chain_verifies(store, store_path):
    """Adding appends override.add naming the patient and id only; the chain verifies."""
    store.add_override(override(), actor="dr.a")
    assert audit_entries(store_path)[-1] == ("override.add", "P001", "override_id=1")
    report = store.verify_audit()
    assert report.ok
    assert report.entries == len(audit_entries(store_path))


def test_override_for_unknown_patient_is_refused_and_nothing_written(store, store_path):
    """An override for an id not in the roster raises StoreError naming it; nothing is kept."""
    before = audit_entries(store_path)
    with pytest.raises(StoreError, match="P999"):
        store.add_override(override("P999"), actor=ACTOR)
    assert store.overrides(include_revoked=True) == []
    assert audit_entries(store_path) == before


def test_override_for_inactive_patient_is_refused(store):
    """A patient who left the roster cannot get a new override."""
    store.sync_roster(ROSTER[:2], actor=ACTOR)
    with pytest.raises(StoreError, match="P003"):
        store.add_override(override("P003"), actor=ACTOR)


def test_override_that_already_has_an_id_is_refused(store):
    """Adding a record that already carries an override id raises StoreError."""
    stored = store.add_override(override(), actor=ACTOR)
    with pytest.raises(StoreError, match="déjà enregistrée"):
        store.add_override(stored, actor=ACTOR)
    assert len(store.overrides()) == 1


def test_overrides_filters_by_patient_in_id_order(store):
    """overrides(patient_id) returns only that patient's decisions, oldest id first."""
    a = store.add_override(override("P001", indicator="dep_sein"), actor=ACTOR)
    store.add_override(override("P002"), actor=ACTOR)
    c = store.add_override(override("P001", kind=OverrideKind.REPORT), actor=ACTOR)
    assert store.overrides("P001") == [a, c]
    assert [o.override_id for o in store.overrides()] == [1, 2, 3]


def test_overrides_by_patient_groups_decisions_in_force(store):
    """overrides_by_patient maps each patient with a decision to its list, in id order."""
    a = store.add_override(override("P002"), actor=ACTOR)
    b = store.add_override(override("P001"), actor=ACTOR)
    c = store.add_override(override("P002", indicator="dep_sein"), actor=ACTOR)
    assert store.overrides_by_patient() == {"P001": [b], "P002": [a, c]}


def test_revoked_override_is_hidden_unless_include_revoked(store):
    """After revoke, overrides() and overrides_by_patient() omit it; include_revoked shows it."""
    revoked = store.add_override(override(), actor=ACTOR)
    kept = store.add_override(override(kind=OverrideKind.REFUS), actor=ACTOR)
    store.revoke_override(revoked.override_id, actor=ACTOR)
    assert store.overrides() == [kept]
    assert store.overrides("P001") == [kept]
    assert store.overrides_by_patient() == {"P001": [kept]}
    assert store.overrides(include_revoked=True) == [revoked, kept]


def test_revoke_records_who_and_when_and_is_audited(store, store_path):
    """Revoking sets revoked_at and revoked_by and appends override.revoke by id only."""
    stored = store.add_override(override(), actor=ACTOR)
    store.revoke_override(stored.override_id, actor="dr.b")
    with raw(store_path) as conn:
        revoked_at, revoked_by = conn.execute(
            "SELECT revoked_at, revoked_by FROM overrides WHERE override_id = 1"
        ).fetchone()
    assert revoked_at is not None
    assert revoked_by == "dr.b"
    assert audit_entries(store_path)[-1] == ("override.revoke", "P001", "override_id=1")
    assert store.verify_audit().ok


def test_revoke_twice_is_refused(store, store_path):
    """Revoking an already revoked override raises StoreError and audits nothing more."""
    stored = store.add_override(override(), actor=ACTOR)
    store.revoke_override(stored.override_id, actor=ACTOR)
    before = audit_entries(store_path)
    with pytest.raises(StoreError, match="déjà révoquée"):
        store.revoke_override(stored.override_id, actor=ACTOR)
    assert audit_entries(store_path) == before


def test_revoke_unknown_id_is_refused(store):
    """Revoking an override id the store never gave raises StoreError naming it."""
    with pytest.raises(StoreError, match="42"):
        store.revoke_override(42, actor=ACTOR)


def test_store_at_schema_1_is_migrated_on_open(store_path, keyring, monkeypatch):
    """A store made before overrides existed gets migration 0002 when opened."""
    every = db.available_migrations()
    monkeypatch.setattr(db, "available_migrations", lambda: every[:1])
    with Store.create(store_path, keyring, actor=ACTOR) as old:
        old.sync_roster(ROSTER, actor=ACTOR)
        assert old.schema_version == 1
    monkeypatch.undo()
    with Store.open(store_path, keyring) as upgraded:
        assert upgraded.schema_version == len(every)
        stored = upgraded.add_override(override(), actor=ACTOR)
        assert upgraded.overrides() == [stored]
    with raw(store_path) as conn:
        names = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert names[:2] == [(1, "initial"), (2, "overrides")]


def test_override_content_never_in_clear_in_db_or_wal(store, store_path):
    """Reasons, indicators, kinds, authors and dates never appear in the file or its WAL."""
    indicators = ["dep_colorectal", "vacc_pneumo", "dep_col_uterus", "suivi_hba1c"]
    for kind, indicator in zip(OverrideKind, indicators, strict=True):
        store.add_override(override(kind=kind, indicator=indicator), actor=ACTOR)
    wal = Path(f"{store_path}-wal")
    assert wal.exists()
    content = store_path.read_bytes() + wal.read_bytes()
    store.close()
    after_close = store_path.read_bytes()
    secrets = [REASON, AUTHOR, "2021-02-17", "2020-11-23", "2023-08-09", *indicators]
    secrets += [kind.value for kind in OverrideKind]
    for secret in secrets:
        for encoded in (secret.encode("utf-8"), secret.encode("utf-16-le")):
            assert encoded not in content, secret
            assert encoded not in after_close, secret


def test_tampered_payload_raises_decryption_error(store, store_path):
    """Flipping one bit of a stored payload makes reading overrides raise DecryptionError."""
    store.add_override(override(), actor=ACTOR)
    with raw(store_path) as conn:
        (payload,) = conn.execute("SELECT payload FROM overrides").fetchone()
        tampered = payload[:-1] + bytes([payload[-1] ^ 0x01])
        conn.execute("UPDATE overrides SET payload = ?", (tampered,))
    with pytest.raises(DecryptionError):
        store.overrides()


def test_payload_copied_to_another_override_fails(store, store_path):
    """A payload copied from override 1 onto override 2 no longer decrypts."""
    store.add_override(override(), actor=ACTOR)
    store.add_override(override(kind=OverrideKind.REFUS), actor=ACTOR)
    with raw(store_path) as conn:
        conn.execute(
            "UPDATE overrides SET payload ="
            " (SELECT payload FROM overrides WHERE override_id = 1)"
            " WHERE override_id = 2"
        )
    with pytest.raises(DecryptionError):
        store.overrides_by_patient()


def test_override_moved_to_another_patient_fails(store, store_path):
    """Rewriting an override's clear patient id makes it fail to decrypt, not move."""
    store.add_override(override("P001"), actor=ACTOR)
    with raw(store_path) as conn:
        conn.execute("UPDATE overrides SET patient_id = 'P002'")
    with pytest.raises(DecryptionError):
        store.overrides("P002")

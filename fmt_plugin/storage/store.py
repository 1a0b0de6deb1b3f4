"""The encrypted patient store: typed reads and writes, the only code that touches ciphertext.

Every value that names or describes a patient is encrypted with `FieldCipher`, bound to its
table, row and column; the INS is findable only through its HMAC blind index. Every change
appends an audit entry in the same transaction. The practice's own patient id stays in clear:
it is our internal id and appears in logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fmt_plugin.errors import DecryptionError, StoreError
from fmt_plugin.model import Patient
from fmt_plugin.rules.model import Override, OverrideKind
from fmt_plugin.storage import db, rekey
from fmt_plugin.storage.accounts import UserAccounts
from fmt_plugin.storage.audit import AuditEntry, AuditLog, AuditReport
from fmt_plugin.storage.audit_anchor import (
    AnchoredHead,
    AuditAnchor,
    AuditAnchorError,
    head_now,
)
from fmt_plugin.storage.crypto import FieldCipher
from fmt_plugin.storage.inbox import Hl7Inbox
from fmt_plugin.storage.keys import KeyRing
from fmt_plugin.storage.outbox import RecallOutbox
from fmt_plugin.storage.rekey import KeyUsage
from fmt_plugin.storage.snapshots import RateSnapshots
from fmt_plugin.storage.statuses import IndicatorStatuses

PATIENTS = "patients"
IDENTITY = "identity"
OVERRIDES = "overrides"
PAYLOAD = "payload"
# The keys of the encrypted override JSON; the ids live in clear columns.
OVERRIDE_FIELDS = (
    "indicator",
    "kind",
    "author",
    "recorded_on",
    "reason",
    "date",
    "expires",
)
INS_KIND = "ins"
FINGERPRINT_META = "keyring_fingerprint"
CREATED_META = "created_at"
#: Set once the chain's head is anchored outside the store: from then on a missing anchor
#: file is a fault, not an installation that predates anchoring.
ANCHORED_META = "audit_anchored"
GENESIS_ACTION = "store.create"
RESTORE_ACTION = "store.restore"
REANCHOR_ACTION = "audit.reanchor"
ANCHOR_START_ACTION = "audit.anchor"
REENCRYPT_ACTION = "keys.reencrypt"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncSummary:
    """What `Store.sync_roster` did, in patient counts, and who was retired."""

    added: int
    updated: int
    unchanged: int
    deactivated: int
    #: The patients marked inactive, in id order (internal ids: fine to show and log).
    deactivated_ids: tuple[str, ...] = ()


#: Called by `Store.sync_roster` before any write with (the active patients the batch would
#: retire, the number of active patients); raising stops the sync with nothing written.
DepartureCheck = Callable[[Sequence[str], int], None]


@dataclass(frozen=True)
class Revocation:
    """When a decision was revoked (an aware UTC instant) and by whom."""

    at: datetime
    by: str


@dataclass(frozen=True)
class _Row:
    patient_id: str
    identity: bytes
    active: bool


@dataclass(frozen=True)
class _OverrideRow:
    override_id: int
    patient_id: str
    payload: bytes


class Store:
    """One store file opened with its key ring; use as a context manager or call `close()`."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        keyring: KeyRing,
        anchor: AuditAnchor | None = None,
        *,
        cross_thread: bool = False,
    ) -> None:
        """Wrap an open, migrated connection; use `create` or `open` instead."""
        self.path = path
        self._conn = conn
        #: Whether threads other than the opening one may use the store (`open`).
        self.cross_thread = cross_thread
        self._cipher = FieldCipher(keyring)
        self._audit = AuditLog(conn, keyring.audit_key)
        self._audit_key = keyring.audit_key
        self._fingerprint = keyring.fingerprint()
        self._anchor = anchor
        self.inbox = Hl7Inbox(conn, self._cipher)
        self.outbox = RecallOutbox(conn, self._cipher, self._audit, self._write)
        self.snapshots = RateSnapshots(conn, self._write)
        self.statuses = IndicatorStatuses(conn, self._cipher, self._write)
        self.accounts = UserAccounts(conn, self._audit, self._write)

    def __repr__(self) -> str:
        return f"<Store {self.path}>"

    @property
    def schema_version(self) -> int:
        """The number of the last schema migration applied to this store."""
        return db.current_version(self._conn)

    @classmethod
    def create(
        cls,
        path: Path,
        keyring: KeyRing,
        *,
        actor: str,
        anchor: AuditAnchor | None = None,
    ) -> Store:
        """Create a new empty store at `path` (mode 0600) for `keyring`, audited as `actor`.

        The chain starts with its `store.create` entry; with `anchor`, that head is anchored
        at once (see `audit_anchor`). Refuses an existing file. On failure the half-made
        file is removed.
        """
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create_private_file(path)
        try:
            conn = db.connect(path)
        except BaseException:
            _remove_store_files(path)
            raise
        try:
            db.migrate(conn, path)
            with db.transaction(conn):
                _set_meta(conn, FINGERPRINT_META, keyring.fingerprint())
                _set_meta(conn, CREATED_META, db.utc_now())
                if anchor is not None:
                    _set_meta(conn, ANCHORED_META, "1")
                AuditLog(conn, keyring.audit_key).append(
                    actor=actor, action=GENESIS_ACTION, target=path.name
                )
        except sqlite3.Error as exc:
            conn.close()
            _remove_store_files(path)
            raise StoreError(f"{path}: création impossible ({exc})") from exc
        except BaseException:
            conn.close()
            _remove_store_files(path)
            raise
        store = cls(path, conn, keyring, anchor)
        if anchor is not None:
            store._reset_anchor(event="create")
        return store

    @classmethod
    def open(
        cls,
        path: Path,
        keyring: KeyRing,
        *,
        anchor: AuditAnchor | None = None,
        cross_thread: bool = False,
    ) -> Store:
        """Open the existing store at `path`, check it belongs to `keyring`, apply migrations.

        With `anchor`, a store never anchored before (made by an older version) gets its
        head anchored now, audited; an anchored store is never re-anchored here, even when
        its anchor file is missing: that is for `audit verify` to report. `cross_thread`
        is `db.connect`'s: the caller serializes the threads that use the store.
        """
        if not path.exists():
            raise StoreError(
                f"{path}: base introuvable ; créez-la avec « fmt-plugin init »"
            )
        conn = db.connect(path, cross_thread=cross_thread)
        try:
            db.check_not_newer(conn, path)
            _check_fingerprint(conn, path, keyring)
            db.migrate(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: base illisible ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        store = cls(path, conn, keyring, anchor, cross_thread=cross_thread)
        try:
            store._pack_legacy_events()
            if anchor is not None:
                store._start_anchoring()
        except BaseException:
            conn.close()
            raise
        return store

    def _pack_legacy_events(self) -> None:
        """Move events stored one row each (before schema 13) into their messages, once.

        One transaction, no audit entry: the data moves, nothing about a patient changes.
        """
        if (
            self._conn.execute("SELECT 1 FROM clinical_events LIMIT 1").fetchone()
            is None
        ):
            return
        with self._write():
            moved = self.inbox.pack_legacy_events()
        log.info("store migrated: %d event(s) moved into their messages", moved)

    def ping(self) -> bool:
        """True when the database answers a query that reads its schema (for health checks)."""
        try:
            self._conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Close the connection; SQLite checkpoints the WAL into the main file."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- roster ------------------------------------------------------------------------

    def sync_roster(
        self,
        patients: Iterable[Patient],
        *,
        actor: str,
        check_departures: DepartureCheck | None = None,
    ) -> SyncSummary:
        """Make the stored roster equal to `patients`, in one transaction.

        New patients are added, changed ones updated (or reactivated), and active patients
        missing from the batch are marked inactive, never deleted. Each change is audited
        with the patient id only. `check_departures`, when given, sees who would be retired
        before anything is written, inside the transaction, and may raise to stop the sync.
        On any error nothing is written. Raises StoreError if the batch holds the same
        patient id twice.
        """
        batch = _unique_by_id(patients)
        now = db.utc_now()
        added = updated = unchanged = 0
        with self._write():
            existing = {row.patient_id: row for row in self._rows(active_only=False)}
            leaving = [
                row.patient_id
                for row in existing.values()
                if row.active and row.patient_id not in batch
            ]
            if check_departures is not None:
                active = sum(1 for row in existing.values() if row.active)
                check_departures(leaving, active)
            for patient_id, patient in batch.items():
                row = existing.get(patient_id)
                if row is None:
                    self._insert(patient, now, actor)
                    added += 1
                elif self._update_if_changed(row, patient, now, actor):
                    updated += 1
                else:
                    unchanged += 1
            for patient_id in leaving:
                self._deactivate(patient_id, now, actor)
        return SyncSummary(added, updated, unchanged, len(leaving), tuple(leaving))

    def _insert(self, patient: Patient, now: str, actor: str) -> None:
        self._conn.execute(
            "INSERT INTO patients"
            " (patient_id, ins_index, identity, active, created_at, updated_at)"
            " VALUES (?, ?, ?, 1, ?, ?)",
            (
                patient.patient_id,
                self._ins_index(patient.ins),
                self._encrypt_identity(patient),
                now,
                now,
            ),
        )
        self._audit.append(actor=actor, action="patient.add", target=patient.patient_id)

    def _update_if_changed(
        self, row: _Row, patient: Patient, now: str, actor: str
    ) -> bool:
        """Rewrite the row if its content or active flag differs; True when it did."""
        # Through from_dict, a record written before a field existed reads with its default,
        # so adding a field to Patient does not make every patient "changed" at the next sync.
        stored = Patient.from_dict(self._decrypt_identity(row)).to_dict()
        changed = _changed_fields(stored, patient.to_dict())
        if not row.active:
            changed.append("active")
        if not changed:
            return False
        self._conn.execute(
            "UPDATE patients SET ins_index = ?, identity = ?, active = 1, updated_at = ?"
            " WHERE patient_id = ?",
            (
                self._ins_index(patient.ins),
                self._encrypt_identity(patient),
                now,
                patient.patient_id,
            ),
        )
        # Field names only: which columns changed is useful and says nothing of their values.
        self._audit.append(
            actor=actor,
            action="patient.update",
            target=patient.patient_id,
            detail="fields=" + ",".join(sorted(changed)),
        )
        return True

    def _deactivate(self, patient_id: str, now: str, actor: str) -> None:
        self._conn.execute(
            "UPDATE patients SET active = 0, updated_at = ? WHERE patient_id = ?",
            (now, patient_id),
        )
        self._audit.append(actor=actor, action="patient.deactivate", target=patient_id)

    # --- reads -------------------------------------------------------------------------

    def get_patient(self, patient_id: str) -> Patient | None:
        """The stored patient with this id, active or not; None if unknown.

        Raises DecryptionError if the row does not decrypt under this key ring.
        """
        row = self._conn.execute(
            "SELECT patient_id, identity, active FROM patients WHERE patient_id = ?",
            (patient_id,),
        ).fetchone()
        if row is None:
            return None
        return Patient.from_dict(self._decrypt_identity(_to_row(row)))

    def patient_ids(self, *, active_only: bool = True) -> list[str]:
        """The stored patient ids in sorted order (only active patients by default)."""
        sql = "SELECT patient_id FROM patients"
        if active_only:
            sql += " WHERE active = 1"
        return [r[0] for r in self._conn.execute(sql + " ORDER BY patient_id")]

    def roster_revision(self) -> int:
        """A number that moves whenever a patient is added, updated or removed (triggers)."""
        row = self._conn.execute(
            "SELECT revision FROM table_revisions WHERE name = 'patients'"
        ).fetchone()
        return int(row[0]) if row else 0

    def iter_patients(self, *, active_only: bool = True) -> Iterator[Patient]:
        """Yield stored patients in patient-id order, decrypting one at a time."""
        # Rows are fetched first so no cursor stays open while the caller works.
        for row in self._rows(active_only=active_only):
            yield Patient.from_dict(self._decrypt_identity(row))

    def roster_keys(self) -> list[tuple[str, bytes | None, bool]]:
        """(patient id, INS blind index, active) of every stored patient, in id order.

        What an in-memory patient matcher needs: no identity is decrypted.
        """
        rows = self._conn.execute(
            "SELECT patient_id, ins_index, active FROM patients ORDER BY patient_id"
        ).fetchall()
        return [(str(pid), index, bool(active)) for pid, index, active in rows]

    def ins_index(self, ins: str) -> bytes | None:
        """The blind index `roster_keys` holds for this INS (None for an empty one)."""
        return self._ins_index(ins)

    def find_patient_ids_by_ins(
        self, ins: str, *, active_only: bool = True
    ) -> list[str]:
        """Ids of the patients whose INS equals `ins` (blind-index lookup), sorted.

        A list, not an id: two rows sharing an INS is a data problem the caller must see.
        """
        index = self._ins_index(ins)
        if index is None:
            return []
        sql = "SELECT patient_id FROM patients WHERE ins_index = ?"
        if active_only:
            sql += " AND active = 1"
        return [
            r[0] for r in self._conn.execute(sql + " ORDER BY patient_id", (index,))
        ]

    # --- overrides ---------------------------------------------------------------------

    def add_override(self, override: Override, *, actor: str) -> Override:
        """Store one practice decision for an active patient; return it with its id set.

        The audit entry, in the same transaction, names the patient and the override id
        only: the indicator, kind and reason are health data and the log is not encrypted.
        Raises StoreError, writing nothing, if the patient is unknown or inactive or if
        `override` already carries an id.
        """
        if override.override_id is not None:
            raise StoreError(
                f"décision n° {override.override_id} déjà enregistrée"
                f" (patient {override.patient_id})"
            )
        with self._write():
            row = self._conn.execute(
                "SELECT active FROM patients WHERE patient_id = ?",
                (override.patient_id,),
            ).fetchone()
            if row is None or not row[0]:
                raise StoreError(
                    f"patient inconnu ou inactif : {override.patient_id} ;"
                    " décision non enregistrée"
                )
            # The id is part of the AAD, so it must be known before encrypting. BEGIN
            # IMMEDIATE holds the write lock, so no other writer can take it meanwhile, and
            # rows are never deleted, so MAX + 1 is the id SQLite itself would choose.
            override_id = int(
                self._conn.execute(
                    "SELECT COALESCE(MAX(override_id), 0) + 1 FROM overrides"
                ).fetchone()[0]
            )
            stored = dataclasses.replace(override, override_id=override_id)
            self._conn.execute(
                "INSERT INTO overrides (override_id, patient_id, payload, created_at)"
                " VALUES (?, ?, ?, ?)",
                (
                    override_id,
                    override.patient_id,
                    self._encrypt_override(stored, override_id),
                    db.utc_now(),
                ),
            )
            self._audit.append(
                actor=actor,
                action="override.add",
                target=override.patient_id,
                detail=f"override_id={override_id}",
            )
        return stored

    def revoke_override(
        self, override_id: int, *, actor: str, by: str | None = None
    ) -> None:
        """Mark a decision revoked (kept, never deleted), audited as `actor` by id only.

        `by` is the person who revoked it, as the practice reads it back (default: `actor`).
        Raises StoreError, writing nothing, if the id is unknown or already revoked.
        """
        with self._write():
            row = self._conn.execute(
                "SELECT patient_id, revoked_at FROM overrides WHERE override_id = ?",
                (override_id,),
            ).fetchone()
            if row is None:
                raise StoreError(f"décision n° {override_id} introuvable")
            patient_id, revoked_at = row
            if revoked_at is not None:
                raise StoreError(
                    f"décision n° {override_id} (patient {patient_id}) déjà révoquée"
                    f" le {revoked_at}"
                )
            self._conn.execute(
                "UPDATE overrides SET revoked_at = ?, revoked_by = ?"
                " WHERE override_id = ?",
                (db.utc_now(), by or actor, override_id),
            )
            self._audit.append(
                actor=actor,
                action="override.revoke",
                target=str(patient_id),
                detail=f"override_id={override_id}",
            )

    def overrides(
        self, patient_id: str | None = None, *, include_revoked: bool = False
    ) -> list[Override]:
        """The decisions of one patient (or of all), decrypted and in override-id order.

        Revoked decisions are left out unless `include_revoked`; the returned records do
        not say which ones are revoked. Raises DecryptionError if a row does not decrypt.
        """
        conditions: list[str] = []
        params: list[str] = []
        if patient_id is not None:
            conditions.append("patient_id = ?")
            params.append(patient_id)
        if not include_revoked:
            conditions.append("revoked_at IS NULL")
        sql = "SELECT override_id, patient_id, payload FROM overrides"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        rows = self._conn.execute(sql + " ORDER BY override_id", params).fetchall()
        return [self._decrypt_override(_to_override_row(row)) for row in rows]

    def override(self, override_id: int) -> Override | None:
        """The decision with this id, revoked or not; None if the store never gave it.

        Raises DecryptionError if the row does not decrypt.
        """
        row = self._conn.execute(
            "SELECT override_id, patient_id, payload FROM overrides WHERE override_id = ?",
            (override_id,),
        ).fetchone()
        return None if row is None else self._decrypt_override(_to_override_row(row))

    def override_revocations(
        self, patient_id: str | None = None
    ) -> dict[int, Revocation]:
        """When and by whom the revoked decisions (of one patient, or all) were revoked, by id.

        Clear columns only: nothing is decrypted.
        """
        sql = (
            "SELECT override_id, revoked_at, revoked_by FROM overrides"
            " WHERE revoked_at IS NOT NULL"
        )
        params: tuple[str, ...] = ()
        if patient_id is not None:
            sql += " AND patient_id = ?"
            params = (patient_id,)
        return {
            int(override_id): Revocation(datetime.fromisoformat(at), str(by))
            for override_id, at, by in self._conn.execute(sql, params)
        }

    def overrides_by_patient(self) -> dict[str, list[Override]]:
        """Every decision in force, grouped by patient id (sorted), in override-id order.

        One query for a whole practice. Inactive patients keep their decisions here; the
        caller evaluates the roster it has. Raises DecryptionError if a row does not
        decrypt.
        """
        rows = self._conn.execute(
            "SELECT override_id, patient_id, payload FROM overrides"
            " WHERE revoked_at IS NULL ORDER BY patient_id, override_id"
        ).fetchall()
        grouped: dict[str, list[Override]] = {}
        for row in rows:
            override = self._decrypt_override(_to_override_row(row))
            grouped.setdefault(override.patient_id, []).append(override)
        return grouped

    # --- audit -------------------------------------------------------------------------

    def record_admin_action(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one audit entry for an administrative action (its own transaction)."""
        with self._write():
            self._audit.append(actor=actor, action=action, target=target, detail=detail)

    def audit_in_transaction(
        self,
        *,
        actor: str,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one audit entry inside the caller's open `transaction()`."""
        if not self._conn.in_transaction:
            raise StoreError("audit_in_transaction needs an open transaction")
        self._audit.append(actor=actor, action=action, target=target, detail=detail)

    def disable_autocheckpoint(self) -> None:
        """Leave WAL checkpoints to a `WalCheckpointer`: commits then only append to the WAL."""
        self._conn.execute("PRAGMA wal_autocheckpoint=0")

    def enable_autocheckpoint(self) -> None:
        """Let commits checkpoint the WAL again (SQLite's default, every 1,000 pages)."""
        self._conn.execute("PRAGMA wal_autocheckpoint=1000")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction for several inbox writes: all commit, or none does.

        SQLite errors become StoreError after the rollback; any other exception rolls back
        and propagates unchanged.
        """
        with self._write():
            try:
                yield
                self.inbox.flush()
            finally:
                # Committed or rolled back, nothing stays pending and ids are counted anew.
                self.inbox.reset()

    def verify_audit(
        self,
        *,
        against_anchor: bool = True,
        journal_head: AnchoredHead | None = None,
    ) -> AuditReport:
        """Check the whole audit chain, its head and its external anchor; writes nothing.

        The chain must start with the store's creation entry, and reach and contain the
        entry the anchor vouches for: an emptied, truncated or rolled-back log is refused.
        `journal_head`, the last head the system journal recorded, is checked the same way
        (it catches a rollback of the store and the anchor file together).
        `against_anchor=False` checks the chain alone (before re-anchoring it).
        """
        try:
            report = self._audit.verify(genesis_action=GENESIS_ACTION)
            if report.ok and journal_head is not None:
                report = self._check_anchored(
                    report, journal_head, "le journal système"
                )
            if not report.ok or self._anchor is None or not against_anchor:
                return report
            return self._verify_anchor(report)
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: lecture du journal impossible ({exc})"
            ) from exc

    @property
    def fingerprint(self) -> str:
        """The key ring's fingerprint: names this store in anchors and the journal."""
        return self._fingerprint

    @property
    def audit_anchor(self) -> AuditAnchor | None:
        """Where this store's audit head is anchored, None when it is not."""
        return self._anchor

    def record_restore(self, *, actor: str, detail: str) -> None:
        """Audit that this store was just restored from a backup, and anchor it there.

        A restore is a deliberate rollback: the anchor is moved back to the restored chain's
        new head (and the journal told), with the restore itself in the chain.
        """
        self._append_and_reset_anchor(
            actor=actor, action=RESTORE_ACTION, detail=detail, event="restore"
        )

    def reanchor(self, *, actor: str, detail: str | None = None) -> None:
        """Anchor the chain's current head anew (a lost or moved anchor file), audited.

        The entry stays in the chain: a rollback hidden this way is visible to whoever
        reads the log or compares it with the system journal.
        """
        self._append_and_reset_anchor(
            actor=actor, action=REANCHOR_ACTION, detail=detail, event="reanchor"
        )

    def audit_entries(
        self,
        *,
        before_seq: int | None = None,
        limit: int = 50,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """The latest audit entries, newest first (see `AuditLog.entries`); writes nothing."""
        try:
            return self._audit.entries(
                before_seq=before_seq, limit=limit, action=action
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: lecture du journal impossible ({exc})"
            ) from exc

    def audit_actions(self) -> list[str]:
        """Every action the audit log holds, alphabetically."""
        try:
            return self._audit.actions()
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: lecture du journal impossible ({exc})"
            ) from exc

    # --- keys ----------------------------------------------------------------------------

    @property
    def primary_key_id(self) -> str:
        """The id of the data key this store encrypts new values with."""
        return self._cipher.primary_id

    def key_usage(self) -> KeyUsage:
        """How many stored values each data key protects (read from the ciphertexts)."""
        try:
            return rekey.key_usage(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: lecture impossible ({exc})") from exc

    def reencrypt_slice(self, *, limit: int, actor: str) -> int:
        """Re-encrypt up to `limit` values under the primary key, audited; return how many.

        One transaction: a crash loses at most this slice's work, never a value. 0 means
        every value is under the primary key.
        """
        with self._write():
            done = rekey.reencrypt_slice(self._conn, self._cipher, limit=limit)
            if done:
                self._audit.append(
                    actor=actor,
                    action=REENCRYPT_ACTION,
                    detail=f"key={self._cipher.primary_id} values={done}",
                )
        return done

    def write_health_probe(self, at: datetime) -> None:
        """Commit the time `at` into the one-row `health_probe` table (for `/health`).

        Raises StoreError (nothing written) when the store cannot commit: disk full,
        read-only file system. A real commit, synced like any other, but of one tiny row.
        """
        with self._write():
            self._conn.execute(
                "INSERT INTO health_probe (id, written_at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                (at.isoformat(timespec="seconds"),),
            )

    # --- helpers -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, *, advance_anchor: bool = True) -> Iterator[None]:
        """A write transaction whose SQLite errors become StoreError (after rollback).

        After the commit, a moved audit head is anchored outside the store, unless the
        caller resets the anchor itself (`advance_anchor=False`: a restore, a re-anchor).
        """
        try:
            with db.transaction(self._conn):
                yield
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: écriture impossible ({exc})") from exc
        finally:
            # Committed or rolled back, the head this transaction moved is taken once.
            appended = self._audit.take_appended()
        if advance_anchor and appended is not None and self._anchor is not None:
            self._advance_anchor(head_now(*appended))

    # --- audit anchor ------------------------------------------------------------------

    def _advance_anchor(self, head: AnchoredHead) -> None:
        if self._anchor is None:
            return
        try:
            self._anchor.advance(
                self._audit_key,
                self._fingerprint,
                head,
                chain_holds=self._chain_holds,
            )
        except OSError as exc:
            # The change is committed and its entry chained; only the outside copy lags,
            # which verify tolerates. Failing the caller here would lose nothing but
            # would report a committed change as failed.
            log.warning(
                "audit head %d not anchored in %s (%s)",
                head.seq,
                self._anchor.path,
                exc.strerror or type(exc).__name__,
            )

    def _chain_holds(self, anchored: AnchoredHead) -> bool:
        mac = self._audit.mac_of(anchored.seq)
        return mac is not None and hmac.compare_digest(mac, anchored.mac)

    def _reset_anchor(self, *, event: str) -> None:
        if self._anchor is None:
            return
        last = self._audit.last()
        if last is None:
            raise StoreError(f"{self.path}: journal d'audit vide, rien à ancrer")
        try:
            self._anchor.reset(
                self._audit_key, self._fingerprint, head_now(*last), event=event
            )
        except OSError as exc:
            raise StoreError(
                f"{self._anchor.path}: ancre du journal impossible à écrire"
                f" ({exc.strerror or type(exc).__name__})"
            ) from exc

    def _start_anchoring(self) -> None:
        """Anchor a store that never was (made before anchoring existed), once, audited.

        An anchor folder the process may not write (an upgraded unit without its
        ReadWritePaths) only delays it to the next opening: the store still opens.
        """
        if self._anchor is None or _get_meta(self._conn, ANCHORED_META) is not None:
            return
        if self._anchor.path.exists():
            # An anchor exists but the store says it never was anchored: an older copy of
            # the database. Leave both as they are for `audit verify` to report.
            return
        last = self._audit.last()
        if last is None:
            return
        try:
            self._anchor.reset(
                self._audit_key, self._fingerprint, head_now(*last), event="anchor"
            )
        except OSError as exc:
            log.warning(
                "audit chain not anchored yet: %s not writable (%s)",
                self._anchor.path,
                exc.strerror or type(exc).__name__,
            )
            return
        # Through `_write`: the anchor then moves on to this very entry.
        with self._write():
            _set_meta(self._conn, ANCHORED_META, "1")
            self._audit.append(actor="fmt-plugin", action=ANCHOR_START_ACTION)

    def _append_and_reset_anchor(
        self, *, actor: str, action: str, detail: str | None, event: str
    ) -> None:
        with self._write(advance_anchor=False):
            if self._anchor is not None:
                _set_meta(self._conn, ANCHORED_META, "1")
            self._audit.append(actor=actor, action=action, detail=detail)
        self._reset_anchor(event=event)

    def _verify_anchor(self, report: AuditReport) -> AuditReport:
        """`report` (a sound chain of `report.entries` entries) checked against the anchor."""
        anchor = self._anchor
        if anchor is None:
            return report
        try:
            anchored = anchor.read(self._audit_key, self._fingerprint)
        except AuditAnchorError as exc:
            return AuditReport(False, report.entries, report.entries, exc.reason)
        if anchored is None:
            if _get_meta(self._conn, ANCHORED_META) is None:
                return report
            return AuditReport(
                False,
                report.entries,
                report.entries,
                f"ancre externe absente ({anchor.path}) : supprimée, ou base et ancre"
                " séparées ; « fmt-plugin audit reanchor » la recrée, audité",
            )
        return self._check_anchored(report, anchored, "l'ancre externe")

    def _check_anchored(
        self, report: AuditReport, anchored: AnchoredHead, witness: str
    ) -> AuditReport:
        """`report` refused when the chain does not reach or hold what `witness` attests."""
        if anchored.seq > report.entries:
            return AuditReport(
                False,
                report.entries,
                report.entries + 1,
                f"journal tronqué ou base remise à un état antérieur : {witness}"
                f" atteste l'entrée n° {anchored.seq}, la base s'arrête à la n°"
                f" {report.entries}",
            )
        if not self._chain_holds(anchored):
            return AuditReport(
                False,
                report.entries,
                anchored.seq,
                f"journal réécrit : l'entrée n° {anchored.seq} n'est plus celle que"
                f" {witness} atteste",
            )
        return report

    def _rows(self, *, active_only: bool) -> list[_Row]:
        sql = "SELECT patient_id, identity, active FROM patients"
        if active_only:
            sql += " WHERE active = 1"
        cursor = self._conn.execute(sql + " ORDER BY patient_id")
        return [_to_row(r) for r in cursor.fetchall()]

    def _ins_index(self, ins: str | None) -> bytes | None:
        normalized = _normalize_ins(ins)
        if normalized is None:
            return None
        return self._cipher.blind_index(INS_KIND, normalized)

    def _encrypt_identity(self, patient: Patient) -> bytes:
        plain = json.dumps(patient.to_dict(), sort_keys=True, ensure_ascii=False)
        return self._cipher.encrypt(
            plain.encode("utf-8"),
            table=PATIENTS,
            record_id=patient.patient_id,
            field=IDENTITY,
        )

    def _encrypt_override(self, override: Override, override_id: int) -> bytes:
        plain = json.dumps(
            _override_payload(override), sort_keys=True, ensure_ascii=False
        )
        return self._cipher.encrypt(
            plain.encode("utf-8"),
            table=OVERRIDES,
            record_id=_override_record_id(override_id, override.patient_id),
            field=PAYLOAD,
        )

    def _decrypt_override(self, row: _OverrideRow) -> Override:
        plain = self._cipher.decrypt(
            row.payload,
            table=OVERRIDES,
            record_id=_override_record_id(row.override_id, row.patient_id),
            field=PAYLOAD,
        )
        try:
            data = json.loads(plain.decode("utf-8"))
            return _override_from_payload(data, row.override_id, row.patient_id)
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            # Authenticated yet unreadable (json.JSONDecodeError is a ValueError): written
            # by a bug, reported like any bad value.
            raise DecryptionError() from None

    def _decrypt_identity(self, row: _Row) -> dict[str, Any]:
        plain = self._cipher.decrypt(
            row.identity, table=PATIENTS, record_id=row.patient_id, field=IDENTITY
        )
        try:
            data = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            # Authenticated yet unreadable: written by a bug, reported like any bad value.
            raise DecryptionError() from None
        if not isinstance(data, dict):
            raise DecryptionError()
        return data


def _create_private_file(path: Path) -> None:
    """Create an empty file, atomically refusing an existing one; SQLite fills it later.

    The 0600 mode carries over to the -wal and -shm files, which SQLite creates with the
    main file's permissions.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise StoreError(
            f"{path}: le fichier existe déjà ; il n'est jamais écrasé"
        ) from None
    except OSError as exc:
        raise StoreError(f"{path}: création impossible ({exc.strerror})") from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _remove_store_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


def stored_fingerprint(conn: sqlite3.Connection, path: Path) -> str:
    """The key ring fingerprint a store file records; StoreError when it is not a store."""
    try:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = ?", (FINGERPRINT_META,)
        ).fetchone()
    except sqlite3.OperationalError:
        # No meta table: some other SQLite file, or a create that never finished.
        row = None
    if row is None or not isinstance(row[0], str):
        raise StoreError(
            f"{path}: ce n'est pas une base fmt-plugin (empreinte absente)"
        )
    return row[0]


def _check_fingerprint(conn: sqlite3.Connection, path: Path, keyring: KeyRing) -> None:
    if not hmac.compare_digest(stored_fingerprint(conn, path), keyring.fingerprint()):
        raise StoreError(
            f"{path}: ce fichier de clés n'appartient pas à cette base"
            " (this key file does not belong to this store)"
        )


def _get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row is not None else None


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _to_row(row: tuple[Any, ...]) -> _Row:
    patient_id, identity, active = row
    if not isinstance(identity, bytes):
        # Not a ciphertext at all (e.g. hand-edited to text): as opaque as a bad tag.
        raise DecryptionError()
    return _Row(str(patient_id), identity, bool(active))


def _to_override_row(row: tuple[Any, ...]) -> _OverrideRow:
    override_id, patient_id, payload = row
    if not isinstance(payload, bytes) or not isinstance(override_id, int):
        # Hand-edited to another type: as opaque as a bad tag.
        raise DecryptionError()
    return _OverrideRow(override_id, str(patient_id), payload)


def _override_record_id(override_id: int, patient_id: str) -> str:
    """The AAD record id: the row and its patient, so moving a decision breaks it.

    The override id is all digits, so the first "/" ends it whatever the patient id holds.
    """
    return f"{override_id:d}/{patient_id}"


def _override_payload(override: Override) -> dict[str, str | None]:
    """Everything but the ids, which live in clear columns and are bound through the AAD."""
    return {
        "indicator": override.indicator,
        "kind": override.kind.value,
        "author": override.author,
        "recorded_on": override.recorded_on.isoformat(),
        "reason": override.reason,
        "date": _iso_or_none(override.date),
        "expires": _iso_or_none(override.expires),
    }


def _override_from_payload(data: object, override_id: int, patient_id: str) -> Override:
    """Rebuild an Override; ValueError, TypeError or KeyError if `data` is malformed."""
    if not isinstance(data, dict) or set(data) != set(OVERRIDE_FIELDS):
        raise ValueError("unexpected override payload")
    for name in ("indicator", "kind", "author", "recorded_on", "reason"):
        if not isinstance(data[name], str):
            raise TypeError(name)
    return Override(
        patient_id=patient_id,
        indicator=data["indicator"],
        kind=OverrideKind(data["kind"]),
        author=data["author"],
        recorded_on=date.fromisoformat(data["recorded_on"]),
        reason=data["reason"],
        date=_date_or_none(data["date"]),
        expires=_date_or_none(data["expires"]),
        override_id=override_id,
    )


def _iso_or_none(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_or_none(value: object) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("date")
    return date.fromisoformat(value)


def _normalize_ins(ins: str | None) -> str | None:
    """One spelling per INS, so that the same INS always gives the same blind index."""
    if ins is None:
        return None
    normalized = "".join(ins.split()).upper()
    return normalized or None


def _unique_by_id(patients: Iterable[Patient]) -> dict[str, Patient]:
    batch: dict[str, Patient] = {}
    for patient in patients:
        if patient.patient_id in batch:
            raise StoreError(
                f"identifiant patient en double dans le lot : {patient.patient_id}"
            )
        batch[patient.patient_id] = patient
    return batch


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [
        name for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)
    ]

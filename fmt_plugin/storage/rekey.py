"""Which data key protects which stored value, and re-encrypting values under the primary key.

Every ciphertext names its key in its header (`crypto`: byte 0 the format, bytes 1-4 the key
id), so the state of a key rotation is the data itself: the values whose header names a key
other than the primary are what is left to do. Re-encryption is done in slices, each its own
transaction, so that it can stop anywhere (a crash, a stop of the service) and resume where it
was, and so that no slice holds the store long enough to delay an HL7 acknowledgement.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from fmt_plugin.errors import DecryptionError, KeyRotationError
from fmt_plugin.storage.crypto import HEADER_BYTES, FieldCipher


@dataclass(frozen=True)
class EncryptedColumn:
    """One column of ciphertexts: where it is, and how its values' AAD names their row.

    `table` and `column` are both the SQL names and the AAD's table and field; `record_id`
    is the SQL expression that rebuilds the AAD's record id from the row's clear columns.
    """

    table: str
    column: str
    record_id: str

    @property
    def label(self) -> str:
        """`table.column`, for counts."""
        return f"{self.table}.{self.column}"


#: Every encrypted column of the store. A new one must be added here, or a rotation would
#: leave its values under a key that is then retired (tests/test_key_rotation.py checks the
#: schema's BLOB columns against this list).
ENCRYPTED_COLUMNS = (
    EncryptedColumn("patients", "identity", "patient_id"),
    EncryptedColumn("overrides", "payload", "override_id || '/' || patient_id"),
    EncryptedColumn("indicator_statuses", "payload", "patient_id"),
    EncryptedColumn("hl7_messages", "origin", "CAST(message_id AS TEXT)"),
    EncryptedColumn("hl7_messages", "raw", "CAST(message_id AS TEXT)"),
    EncryptedColumn(
        "hl7_messages",
        "events",
        "message_id || '/' || patient_id || '/' || first_event_id",
    ),
    # Rows of stores before schema 13, moved into their message when the store is opened.
    EncryptedColumn("clinical_events", "payload", "event_id || '/' || patient_id"),
    EncryptedColumn("recall_messages", "content", "recall_id || '/' || patient_id"),
)

#: BLOB columns that hold no ciphertext: blind indexes and MACs (keyed, never rotated here).
NOT_ENCRYPTED_BLOBS = frozenset(
    {
        "patients.ins_index",
        "audit_log.prev_mac",
        "audit_log.mac",
        "audit_head.mac",
        "audit_head.head_mac",
        "hl7_messages.digest",
        "clinical_events.event_key",
        "recall_items.item_key",
    }
)

_KEY_ID_SQL = f"lower(hex(substr({{column}}, 2, {HEADER_BYTES - 1})))"


@dataclass(frozen=True)
class KeyUsage:
    """How many stored values each data key protects, in total and by column."""

    #: key id -> column label -> number of values.
    by_key: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def total(self, key_id: str) -> int:
        """The number of values under `key_id` (0 for a key nothing uses)."""
        return sum(self.by_key.get(key_id, {}).values())

    def under_other_keys(self, primary_id: str) -> int:
        """The number of values still to re-encrypt under `primary_id`."""
        return sum(self.total(key_id) for key_id in self.by_key if key_id != primary_id)

    @property
    def key_ids(self) -> list[str]:
        """The keys at least one value uses, in id order."""
        return sorted(self.by_key)


def key_usage(conn: sqlite3.Connection) -> KeyUsage:
    """Count the stored values by the key their header names (one read of each column)."""
    by_key: dict[str, dict[str, int]] = {}
    with _read_snapshot(conn):
        for col in ENCRYPTED_COLUMNS:
            key_id = _KEY_ID_SQL.format(column=col.column)
            rows = conn.execute(
                f"SELECT {key_id}, count(*) FROM {col.table}"  # noqa: S608 - our constants
                f" WHERE {col.column} IS NOT NULL GROUP BY 1"
            ).fetchall()
            for found, count in rows:
                by_key.setdefault(str(found), {})[col.label] = int(count)
    return KeyUsage(by_key)


def reencrypt_slice(
    conn: sqlite3.Connection, cipher: FieldCipher, *, limit: int
) -> int:
    """Re-encrypt up to `limit` values under the cipher's older keys; return how many.

    Runs inside the caller's write transaction; 0 means nothing is left. Values under a key
    the cipher does not have are left alone (`key_usage` counts them: they are unreadable
    anyway). A value that does not decrypt raises KeyRotationError naming its row, and the
    caller's transaction rolls back: a rotation never rewrites what it cannot read.
    """
    older = [key_id for key_id in cipher.key_ids if key_id != cipher.primary_id]
    done = 0
    for col in ENCRYPTED_COLUMNS:
        if not older or done >= limit:
            break
        done += _reencrypt_column(conn, cipher, col, older, limit - done)
    return done


def _reencrypt_column(
    conn: sqlite3.Connection,
    cipher: FieldCipher,
    col: EncryptedColumn,
    older: list[str],
    limit: int,
) -> int:
    key_id = _KEY_ID_SQL.format(column=col.column)
    marks = ", ".join("?" * len(older))
    rows = conn.execute(
        f"SELECT rowid, {col.record_id}, {col.column} FROM {col.table}"  # noqa: S608
        f" WHERE {col.column} IS NOT NULL AND {key_id} IN ({marks})"
        " ORDER BY rowid LIMIT ?",
        (*older, limit),
    ).fetchall()
    updates = []
    for rowid, record_id, value in rows:
        context = {"table": col.table, "record_id": str(record_id), "field": col.column}
        try:
            plain = cipher.decrypt(value, **context)
        except DecryptionError:
            # The row number only: it names no patient.
            raise KeyRotationError(
                f"{col.label}, ligne {rowid} : valeur illisible (altérée ?) ;"
                " ré-chiffrement arrêté, rien n'a été réécrit dans cette tranche"
            ) from None
        updates.append((cipher.encrypt(plain, **context), rowid))
    conn.executemany(
        f"UPDATE {col.table} SET {col.column} = ? WHERE rowid = ?",  # noqa: S608
        updates,
    )
    return len(updates)


@contextlib.contextmanager
def _read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Every column counted from one snapshot (unless the caller's transaction is open)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")

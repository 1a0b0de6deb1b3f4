"""Backups of the live store through SQLite's backup API, checked after writing, and their restore.

A backup is one self-contained SQLite file (rollback journal, no -wal beside it), mode 0600,
holding what the store holds: ciphertext, blind indexes, the audit chain and the key ring's
fingerprint. Never a key: the key file is backed up apart, offline, and a backup is useless
without it. `inspect_backup` is the check shared by both directions: an SQLite file whose
integrity holds, made for this key file, whose schema this code knows and whose audit chain
verifies from its creation entry.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fmt_plugin.errors import StoreError
from fmt_plugin.private_files import sync_file, sync_folder
from fmt_plugin.storage import db
from fmt_plugin.storage.audit import AuditLog
from fmt_plugin.storage.keys import KeyRing
from fmt_plugin.storage.rekey import key_usage
from fmt_plugin.storage.store import stored_fingerprint

#: What a backup's summary counts, in the order it is shown.
COUNTED_TABLES = (
    "patients",
    "overrides",
    "hl7_messages",
    "clinical_events",
    "recall_items",
    "indicator_statuses",
    "user_accounts",
    "audit_log",
)
GENESIS_ACTION = "store.create"
BACKUP_SUFFIX = ".sqlite3"


@dataclass(frozen=True)
class BackupSummary:
    """What one backup file holds: its size, its row counts and its last audit entry."""

    path: Path
    size: int
    schema_version: int
    counts: Mapping[str, int]
    audit_seq: int
    #: When the store the backup was taken from was created (meta), None if unknown.
    created_at: str | None


def dated_name(now: datetime | None = None) -> str:
    """`fmt-AAAA-MM-JJ-HHMMSS.sqlite3`, the name a backup gets in a folder."""
    moment = (now or datetime.now(UTC)).astimezone()
    return f"fmt-{moment:%Y-%m-%d-%H%M%S}{BACKUP_SUFFIX}"


def backup_store(
    store_path: Path, keyring: KeyRing, destination: Path
) -> BackupSummary:
    """Copy the live store at `store_path` to `destination`, then check the copy.

    `destination` may be a folder (the copy gets a dated name inside it) or a file that does
    not exist yet: an existing file is never replaced. The copy is one consistent snapshot,
    even while a service writes; it is written privately (0600, a temporary file renamed,
    synced) and checked before its name appears. Raises StoreError with the file at fault.
    """
    target = destination / dated_name() if destination.is_dir() else destination
    if target.exists():
        raise StoreError(f"{target}: existe déjà ; une sauvegarde n'écrase jamais rien")
    if not target.parent.is_dir():
        raise StoreError(f"{target.parent}: dossier de sauvegarde introuvable")
    source = db.connect(store_path)
    try:
        temporary, counts = _snapshot(source, store_path, target)
    finally:
        source.close()
    try:
        summary = inspect_backup(temporary, keyring)
        if dict(summary.counts) != counts:
            raise StoreError(
                f"{target}: la copie ne contient pas ce que la base contenait"
                " (comptes différents) ; sauvegarde abandonnée"
            )
        _publish(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return BackupSummary(
        target,
        target.stat().st_size,
        summary.schema_version,
        summary.counts,
        summary.audit_seq,
        summary.created_at,
    )


def inspect_backup(path: Path, keyring: KeyRing) -> BackupSummary:
    """Check that `path` is a sound backup of a store of `keyring`, and summarise it.

    Refuses (StoreError naming the file) anything else: not SQLite, not an fmt-plugin
    store, damaged pages, another installation's key, a schema newer than this code, an
    audit chain that does not verify. Reads only.
    """
    if not path.is_file():
        raise StoreError(f"{path}: sauvegarde introuvable")
    if Path(f"{path}-wal").exists():
        raise StoreError(
            f"{path}: un fichier {path.name}-wal est à côté : c'est une base en service,"
            " pas une sauvegarde ; faites-en une copie avec « fmt-plugin backup »"
        )
    with _read_only(path, immutable=True) as conn:
        _check_integrity(conn, path)
        _check_belongs(conn, path, keyring)
        version = _check_schema(conn, path)
        report = AuditLog(conn, keyring.audit_key).verify(genesis_action=GENESIS_ACTION)
        if not report.ok:
            raise StoreError(
                f"{path}: journal d'audit de la sauvegarde rompu à l'entrée n°"
                f" {report.first_broken} ({report.reason})"
            )
        _check_keys_known(conn, path, keyring)
        counts = _counts(conn)
        created = conn.execute(
            "SELECT value FROM meta WHERE key = 'created_at'"
        ).fetchone()
    return BackupSummary(
        path,
        path.stat().st_size,
        version,
        counts,
        report.entries,
        str(created[0]) if created else None,
    )


def _check_keys_known(conn: sqlite3.Connection, path: Path, keyring: KeyRing) -> None:
    """Refuse a backup whose values are under a data key the key file no longer has."""
    usage = key_usage(conn)
    missing = [key_id for key_id in usage.key_ids if key_id not in keyring.data_keys]
    if missing:
        raise StoreError(
            f"{path}: sauvegarde chiffrée sous une clé de données retirée depuis"
            f" ({', '.join(missing)}) : elle se restaure avec le fichier de clés d'avant"
            " la rotation, gardé avec elle"
        )


def audit_seq_of(store_path: Path) -> int | None:
    """The last audit seq of the store at `store_path`, None when unreadable or absent."""
    if not store_path.exists():
        return None
    try:
        with _read_only(store_path) as conn:
            row = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()
    except (sqlite3.Error, StoreError):
        return None
    return int(row[0]) if row and row[0] is not None else 0


def put_in_place(
    backup: Path, store_path: Path, keyring: KeyRing, *, aside_suffix: str
) -> Path | None:
    """Replace the store at `store_path` by a copy of `backup`; return where the old one went.

    The copy is made beside the store and checked again (`inspect_backup`: the bytes put
    in place are the bytes checked), then renamed over the store, synced. The old store is
    kept, linked under `aside_suffix` first, with its -wal and -shm moved beside it, never
    deleted: whenever the process stops, `store_path` holds one whole store. The caller
    holds the installation lock.
    """
    folder = store_path.parent
    fd, name = tempfile.mkstemp(dir=folder, prefix=".restauration-", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, backup.open("rb") as source:
            while chunk := source.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        inspect_backup(temporary, keyring)
        aside = _keep_aside(store_path, aside_suffix)
        os.replace(temporary, store_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    sync_folder(folder)
    return aside


# --- helpers -------------------------------------------------------------------------------


def _snapshot(
    source: sqlite3.Connection, store_path: Path, target: Path
) -> tuple[Path, dict[str, int]]:
    """Copy `source` in one read transaction to a private temporary file beside `target`."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    os.close(fd)
    temporary = Path(name)
    try:
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            # The counts and the pages copied come from the same snapshot: one read
            # transaction around both, whatever a service commits meanwhile.
            source.execute("BEGIN")
            try:
                counts = _counts(source)
                source.backup(copy)
            finally:
                source.execute("COMMIT")
            # Self-contained: a backup file must not need a -wal beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
        sync_file(temporary)
    except sqlite3.Error as exc:
        temporary.unlink(missing_ok=True)
        raise StoreError(f"{store_path}: sauvegarde impossible ({exc})") from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, counts


def _publish(temporary: Path, target: Path) -> None:
    """Give the checked copy its name, refusing (atomically) to replace an existing file.

    A hard link refuses an existing name atomically; file systems without links (a FAT USB
    key, some network shares) get a check then a rename, under the same refusal.
    """
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise StoreError(
            f"{target}: existe déjà ; une sauvegarde n'écrase jamais rien"
        ) from None
    except OSError:
        if target.exists():
            raise StoreError(
                f"{target}: existe déjà ; une sauvegarde n'écrase jamais rien"
            ) from None
        try:
            os.replace(temporary, target)
        except OSError as exc:
            raise StoreError(
                f"{target}: écriture impossible ({exc.strerror or type(exc).__name__})"
            ) from exc
    with contextlib.suppress(OSError):
        sync_folder(target.parent)


@contextlib.contextmanager
def _read_only(path: Path, *, immutable: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection; `immutable` for a backup file: no lock, no -wal/-shm made."""
    options = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?{options}", uri=True, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: ouverture impossible ({exc})") from exc
    try:
        yield conn
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: ce n'est pas une base fmt-plugin lisible ({exc})"
        ) from exc
    finally:
        conn.close()


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: ce n'est pas une base SQLite lisible ({exc})"
        ) from exc
    if [tuple(row) for row in rows] != [("ok",)]:
        raise StoreError(
            f"{path}: fichier endommagé (PRAGMA integrity_check : {len(rows)} problème(s))"
        )


def _check_belongs(conn: sqlite3.Connection, path: Path, keyring: KeyRing) -> None:
    if not hmac.compare_digest(stored_fingerprint(conn, path), keyring.fingerprint()):
        raise StoreError(
            f"{path}: cette sauvegarde n'appartient pas à ce fichier de clés"
            " (elle vient d'une autre installation)"
        )


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    return db.check_not_newer(conn, path)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    present = {
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    counts = {
        table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 -- constant names
        for table in COUNTED_TABLES
        if table in present
    }
    if "clinical_events" in counts and _has_column(conn, "hl7_messages", "event_count"):
        # Since schema 13 a message holds its events; legacy rows are counted with them.
        packed = conn.execute("SELECT coalesce(sum(event_count), 0) FROM hl7_messages")
        counts["clinical_events"] += int(packed.fetchone()[0])
    return counts


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def _keep_aside(store_path: Path, suffix: str) -> Path | None:
    """Link the store under its aside name and move its -wal/-shm there; None if no store."""
    if not store_path.exists():
        return None
    aside = store_path.with_name(store_path.name + suffix)
    try:
        os.link(store_path, aside)
    except FileExistsError:
        raise StoreError(
            f"{aside}: existe déjà ; l'ancienne base ne serait pas gardée"
        ) from None
    # A -wal left beside the restored file would be replayed into it: it goes with its store.
    for extra in ("-wal", "-shm"):
        companion = Path(f"{store_path}{extra}")
        if companion.exists():
            os.replace(companion, Path(f"{aside}{extra}"))
    return aside

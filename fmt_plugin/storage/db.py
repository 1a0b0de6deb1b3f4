"""SQLite connections with durable settings, explicit transactions and numbered schema migrations.

Migrations are package data, `fmt_plugin/storage/migrations/NNNN_name.sql`, applied in order,
each in its own transaction together with its row in `schema_migrations`. A database whose
schema is newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from fmt_plugin.errors import StoreError

BUSY_TIMEOUT_MS = 5000
MIGRATION_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, its name and its SQL script."""

    version: int
    name: str
    sql: str


def connect(
    path: Path, *, create: bool = False, cross_thread: bool = False
) -> sqlite3.Connection:
    """Open the SQLite file at `path` in WAL mode with `synchronous=FULL` and foreign keys on.

    Without `create`, a missing file is an error instead of a new empty database. The
    connection is in autocommit mode: callers group writes with `transaction()`. With
    `cross_thread`, threads other than the opening one may use it: the caller then
    guarantees that only one thread at a time does (the listener's store lock).
    """
    mode = "rwc" if create else "rw"
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    try:
        # isolation_level=None: the sqlite3 module must not open transactions behind our
        # back; `transaction()` decides where they start and end.
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=not cross_thread,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: ouverture impossible ({exc})") from exc
    try:
        _configure(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    try:
        journal = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        # FULL also syncs the WAL on every commit: a committed message survives a power cut.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: ce n'est pas une base fmt-plugin ({exc})") from exc
    if str(journal).lower() != "wal":
        raise StoreError(f"{path}: le mode WAL n'a pas pu être activé ({journal})")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction: commit on success, roll back on any exception.

    BEGIN IMMEDIATE takes the write lock up front, so a concurrent writer waits for the busy
    timeout instead of failing half-way through the block.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def available_migrations() -> list[Migration]:
    """The migrations shipped with the package, in version order; numbering must be 1, 2, …."""
    return migrations_in(resources.files("fmt_plugin.storage").joinpath("migrations"))


def migrations_in(folder: Traversable) -> list[Migration]:
    """The `NNNN_name.sql` files of `folder` (other entries ignored), in version order.

    Shared with the PostgreSQL backend, whose translations live in a sub-folder with the
    same numbers and names. StoreError unless the numbering is 1, 2, … without a gap.
    """
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = MIGRATION_NAME_RE.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda migration: migration.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(
            "migrations du paquet mal numérotées (installation corrompue ?)"
        )
    return found


def current_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to the database, 0 for a database never migrated."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row[0] is not None else 0


def check_not_newer(conn: sqlite3.Connection, path: Path) -> int:
    """Return the database's schema version; StoreError if this code does not know it."""
    return refuse_newer(current_version(conn), len(available_migrations()), str(path))


def refuse_newer(version: int, latest: int, where: str) -> int:
    """`version` if this code knows it (at most `latest`); else StoreError naming both.

    Shared by both backends, so the message a practice reads is the same.
    """
    if version > latest:
        raise StoreError(
            f"{where}: la base est au schéma {version}, plus récent que ce logiciel"
            f" (schéma {latest}) ; mettez fmt-plugin à jour"
        )
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the versions applied.

    A migration that fails is rolled back entirely and the database stays at the previous
    version.
    """
    version = check_not_newer(conn, path)
    applied: list[int] = []
    for migration in available_migrations()[version:]:
        try:
            with transaction(conn):
                _ensure_migrations_table(conn)
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES (?, ?, ?)",
                    (migration.version, migration.name, utc_now()),
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"{path}: la migration {migration.version:04d}_{migration.name} a échoué"
                f" ({exc})"
            ) from exc
        applied.append(migration.version)
    return applied


def _ensure_migrations_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )


def split_statements(script: str) -> list[str]:
    """Split an SQL script into statements, leaving semicolons inside literals or triggers.

    `executescript` cannot be used: it commits any open transaction first, which would
    break the one-transaction-per-migration rule.
    """
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_code(pending):
                statements.append(pending.strip())
            pending = ""
    if _has_code(pending.removesuffix(";")):
        raise StoreError("script de migration incomplet (instruction non terminée)")
    return statements


def _has_code(sql: str) -> bool:
    """True when `sql` holds more than whitespace, `--` comments and semicolons."""
    lines = (line.split("--", 1)[0] for line in sql.splitlines())
    return any(line.strip(" \t;") for line in lines)


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")

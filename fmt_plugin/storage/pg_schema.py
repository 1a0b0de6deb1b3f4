"""The PostgreSQL schema of one practice (tenant) and its numbered migrations.

Each practice has its own PostgreSQL schema in a shared database; a connection reaches it
through `search_path` alone, so the migrations and queries use unqualified names. The
migrations are `fmt_plugin/storage/migrations/postgresql/NNNN_name.sql`, the translations
of the SQLite ones with the same numbers and names. Several instances may start at once on
one database: an advisory lock per schema makes sure each migration is applied once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from fmt_plugin.errors import StoreError
from fmt_plugin.storage.db import Migration, migrations_in, refuse_newer, utc_now

SCHEMA_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
SCHEMA_NAME_RULE = (
    "une lettre minuscule puis au plus 62 lettres minuscules, chiffres ou « _ »,"
    " sans commencer par « pg_ »"
)
#: First key of the two-key advisory lock taken while migrating ("FMT" and 1): other
#: advisory locks of fmt-plugin (daily planning, ...) use other first keys, so they never
#: wait on a migration of the same practice.
MIGRATION_LOCK_CLASS = 0x464D5401

#: Seconds to wait for the server when the DSN says nothing (libpq's default is forever).
DEFAULT_CONNECT_TIMEOUT_S = 10

PgConnection = psycopg.Connection[TupleRow]


@dataclass(frozen=True)
class TenantSchema:
    """A practice's PostgreSQL schema name, valid by construction.

    The rule keeps names that need no quoting anywhere (psql, `options=-c search_path=`,
    logs) and stays clear of PostgreSQL's reserved `pg_` prefix. A name is not health data:
    it may appear in messages.
    """

    name: str

    def __post_init__(self) -> None:
        if SCHEMA_NAME_RE.fullmatch(self.name) is None or self.name.startswith("pg_"):
            raise StoreError(
                f"nom de schéma PostgreSQL « {self.name} » refusé : il faut {SCHEMA_NAME_RULE}"
            )

    @classmethod
    def of(cls, value: TenantSchema | str) -> TenantSchema:
        """`value` itself if already a TenantSchema, else validated into one."""
        return value if isinstance(value, TenantSchema) else cls(value)

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.name)

    @property
    def where(self) -> str:
        """How messages name this practice's store."""
        return f"PostgreSQL, cabinet « {self.name} »"


def connect(dsn: str, schema: TenantSchema | str) -> PgConnection:
    """Open a connection to `dsn` whose `search_path` is the practice's schema and nothing else.

    The schema is validated before any connection is attempted, and need not exist yet
    (`migrate` creates it). The connection is in autocommit mode, as db.py's SQLite ones
    are: callers group writes with `conn.transaction()`, which issues BEGIN and COMMIT
    itself. A failure is a StoreError whose text never holds the DSN's password.
    """
    tenant = TenantSchema.of(schema)
    try:
        conn = psycopg.connect(dsn, autocommit=True, **connection_options(dsn))
    except psycopg.Error as exc:
        raise StoreError(
            f"{tenant.where}: connexion impossible ({_without_secrets(exc, dsn)})"
        ) from None
    try:
        conn.execute(sql.SQL("SET search_path TO {}").format(tenant.identifier))
    except BaseException:
        conn.close()
        raise
    return conn


def connection_options(dsn: str) -> dict[str, Any]:
    """`connect_timeout` when the DSN sets none: an unreachable host must not hang `serve`."""
    try:
        given = "connect_timeout" in conninfo_to_dict(dsn)
    except psycopg.Error:
        given = False  # psycopg.connect reports the bad DSN itself
    return {} if given else {"connect_timeout": DEFAULT_CONNECT_TIMEOUT_S}


def _without_secrets(exc: psycopg.Error, dsn: str) -> str:
    """psycopg's reason for a failed connection, with the DSN and its password cut out.

    libpq quotes the whole DSN in some syntax errors (an IPv6 URI missing its "]"), so the
    text is scrubbed of the DSN, of the password it names, and of anything shaped like one.
    `raise ... from None` at the call site keeps the original text out of tracebacks too.
    """
    text = str(exc).strip()
    secrets = [dsn, *_passwords_in(dsn)]
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text)
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return " ".join(text.split())


def _passwords_in(dsn: str) -> list[str]:
    found = re.findall(r"://[^:/@\s]*:([^@\s]*)@", dsn)
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        password = None  # an unparsable DSN: the patterns above still apply
    if isinstance(password, str):
        found.append(password)
    return found


def available_migrations() -> list[Migration]:
    """The PostgreSQL migrations shipped with the package, in version order (1, 2, …)."""
    folder = resources.files("fmt_plugin.storage").joinpath("migrations", "postgresql")
    return migrations_in(folder)


def current_version(conn: PgConnection) -> int:
    """The highest migration applied to the connection's schema, 0 if it was never migrated."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def check_not_newer(conn: PgConnection, where: str) -> int:
    """Return the schema's version; StoreError if this code does not know it."""
    return refuse_newer(current_version(conn), len(available_migrations()), where)


def migrate(conn: PgConnection, schema: TenantSchema | str) -> list[int]:
    """Create the practice's schema if absent and apply every pending migration; return them.

    Each migration runs in its own transaction with its `schema_migrations` row, under an
    advisory lock on the schema; the version is read again once the lock is held, so when
    two instances start together the second finds the work done instead of redoing it. A
    migration that fails is rolled back entirely: the schema stays at the previous version.
    `conn` must be in autocommit mode with `search_path` set to `schema` (see `connect`).
    """
    tenant = TenantSchema.of(schema)
    migrations = available_migrations()
    applied: list[int] = []
    while True:
        with conn.transaction():
            _lock(conn, tenant)
            version = check_not_newer(conn, tenant.where)
            if version == len(migrations):
                return applied
            if version == 0:
                # Only then: a vendor may create the schemas itself and give each
                # practice's role no right to create any.
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(tenant.identifier)
                )
            _apply(conn, tenant, migrations[version])
        applied.append(migrations[version].version)


def _lock(conn: PgConnection, tenant: TenantSchema) -> None:
    """Wait for the schema's migration lock; it is released with the transaction."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
        (MIGRATION_LOCK_CLASS, tenant.name),
    )


def _apply(
    conn: PgConnection,
    tenant: TenantSchema,
    migration: Migration,
) -> None:
    label = f"{migration.version:04d}_{migration.name}"
    try:
        _ensure_migrations_table(conn)
        # No parameters: psycopg sends the script as one simple query, so a migration is
        # any number of statements, dollar-quoted function bodies included.
        conn.execute(migration.sql.encode("utf-8"))
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at)"
            " VALUES (%s, %s, %s)",
            (migration.version, migration.name, utc_now()),
        )
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        raise StoreError(
            f"{tenant.where}: la migration {label} a échoué ({detail})"
        ) from exc


def _ensure_migrations_table(conn: PgConnection) -> None:
    # The same columns as SQLite's schema_migrations; a version is never auto-assigned.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version bigint PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at text NOT NULL)"
    )

"""What a store component may ask of its database, on SQLite or on PostgreSQL.

A component (`RateSnapshots`, `IndicatorStatuses`, …) gets a `StoreConnection` and runs the
same SQL text on both backends, with `?` placeholders. A `sqlite3.Connection` is one as it
is, unwrapped: SQLite is the hot path of the HL7 listener and pays for no extra layer. On
PostgreSQL, `PostgresConnection` wraps a psycopg connection from `pg_schema.connect` and
rewrites `?` to psycopg's `%s` (once per statement text).

The SQL is written once, in the subset both engines run:

- `INSERT … ON CONFLICT (cols) DO UPDATE SET col = excluded.col` rather than
  `INSERT OR REPLACE`, and `ON CONFLICT DO NOTHING` rather than `INSERT OR IGNORE`;
- `RETURNING` rather than `cursor.lastrowid`;
- no `sqlite_master`, no PRAGMA, no `json_each` or other engine-only function in a
  component; where the SQL really must differ, `dialect_of(conn)` says which one it is,
  and a comment at the branch says why one statement could not do;
- only bare `?` placeholders (no `?NNN`, no `:name`); rows are tuples on both backends and
  bytea/BLOB values come back as `bytes`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fmt_plugin.storage import db

if TYPE_CHECKING:
    # Types only: a store on SQLite never loads psycopg (nor libpq).
    from fmt_plugin.storage.pg_schema import PgConnection

Dialect = Literal["sqlite", "postgresql"]

#: Distinct statement texts whose translation is kept; the components have a few dozen.
TRANSLATION_CACHE_SIZE = 512


class Rows(Protocol):
    """The result of `execute`: a cursor over tuples (sqlite3's or psycopg's)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    @property
    def rowcount(self) -> int: ...


class StoreConnection(Protocol):
    """The part of a connection a store component uses; `sqlite3.Connection` conforms.

    The parameters are positional-only because sqlite3's are: a component that named them
    would work on PostgreSQL and fail on SQLite.
    """

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> Rows: ...

    def executemany(
        self, sql: str, seq_of_parameters: Iterable[Sequence[object]], /
    ) -> object: ...


class PostgresConnection:
    """A psycopg connection (from `pg_schema.connect`) that speaks the components' SQL.

    The connection stays in autocommit mode, as `pg_schema.connect` opens it: writes are
    grouped by `transaction(conn)`. Closing this closes the psycopg connection.
    """

    def __init__(self, raw: PgConnection) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        # Not the psycopg repr: it names the host, port, user and database.
        return "<PostgresConnection>"

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> Rows:
        # Parameters are always passed, even none: psycopg then reads `%%` as `%`, which
        # the translation relies on.
        return self.raw.execute(to_psycopg(sql), tuple(parameters))

    def executemany(
        self, sql: str, seq_of_parameters: Iterable[Sequence[object]], /
    ) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(
                to_psycopg(sql), [tuple(row) for row in seq_of_parameters]
            )

    def close(self) -> None:
        self.raw.close()


def dialect_of(conn: StoreConnection) -> Dialect:
    """Which engine `conn` talks to, for the rare statement that cannot be written once."""
    if isinstance(conn, PostgresConnection):
        return "postgresql"
    if isinstance(conn, sqlite3.Connection):
        return "sqlite"
    raise TypeError(f"not a store connection: {type(conn).__name__}")


@contextmanager
def transaction(conn: StoreConnection) -> Iterator[None]:
    """One write transaction on `conn`: committed when the block ends, rolled back on any
    exception, which propagates; nothing of the block is left behind then.

    SQLite: `db.transaction` (BEGIN IMMEDIATE, so a concurrent writer waits for the busy
    timeout instead of failing half-way). PostgreSQL: psycopg's `transaction()`, which
    becomes a savepoint inside an outer one. `partial(transaction, conn)` is a
    component's `write` callable.
    """
    if isinstance(conn, PostgresConnection):
        with conn.raw.transaction():
            yield
    elif isinstance(conn, sqlite3.Connection):
        with db.transaction(conn):
            yield
    else:
        raise TypeError(f"not a store connection: {type(conn).__name__}")


@lru_cache(maxsize=TRANSLATION_CACHE_SIZE)
def to_psycopg(sql: str) -> str:
    """`sql` with each `?` placeholder as `%s` and each `%` as `%%`.

    A `?` inside a string literal ('…'), a quoted identifier ("…") or a comment is text,
    not a placeholder, as SQLite reads it; a `%` anywhere is escaped, because psycopg
    scans the whole text for its own placeholders, literals included.
    """
    out: list[str] = []
    quote: str | None = None  # the quote character of the literal we are in
    i = 0
    while i < len(sql):
        char = sql[i]
        if quote is not None:
            # An escaped quote ('') closes and reopens the literal: the same result.
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = len(sql) if end == -1 else end + 2
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        elif char == "?":
            out.append("%s")
            i += 1
            continue
        out.append("%%" if char == "%" else char)
        i += 1
    return "".join(out)
